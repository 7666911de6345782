package checkpoint

import (
	"errors"
	"fmt"
	"strings"
)

// FormatError reports that the input is not a valid safetensors file.
type FormatError struct {
	Path string // the file, or "" when read through Read
	Msg  string // what is wrong, naming the tensor where there is one
}

// Error returns "checkpoint: <path>: invalid safetensors file: <msg>", or
// "checkpoint: <path>: not a safetensors file..." for a file of another
// format.
func (e *FormatError) Error() string {
	if strings.HasPrefix(e.Msg, notSafetensors) {
		return "checkpoint: " + pathPrefix(e.Path) + e.Msg
	}
	return "checkpoint: " + pathPrefix(e.Path) + "invalid safetensors file: " + e.Msg
}

// notSafetensors begins the message of a file of another format.
const notSafetensors = "not a safetensors file"

// UnsupportedError reports a valid safetensors file holding a tensor whose
// element type this package does not handle (anything but F32, F64 and I64).
type UnsupportedError struct {
	Path   string // the file, or "" when read through Read
	Tensor string // the first such tensor, in data order
	DType  DType  // its element type, such as "BF16"
}

// Error returns "checkpoint: <path>: unsupported dtype <dtype> of tensor <name> ...".
func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("checkpoint: %sunsupported dtype %s of tensor %q (supported: F32, F64, I64)",
		pathPrefix(e.Path), e.DType, e.Tensor)
}

// ValueError reports a state dict whose names and shapes fit but whose
// values do not: NaN, ±Inf, or beyond the range of the precision loaded
// into (weights of a diverged training run, typically).
type ValueError struct {
	Path     string   // the file, or "" when not known
	Problems []string // `NaN at index 3 in tensor "fc.bias"`, at most one per tensor
}

// Error returns "checkpoint: <path>: holds NaN at index 3 in tensor "fc.bias"; ...".
func (e *ValueError) Error() string {
	return "checkpoint: " + pathPrefix(e.Path) + "holds " + strings.Join(e.Problems, "; ")
}

func pathPrefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// errorf returns an error reading "checkpoint: path: message", without the
// path when it is empty.
func errorf(path, format string, args ...any) error {
	return errors.New("checkpoint: " + pathPrefix(path) + fmt.Sprintf(format, args...))
}

// wrapf is errorf for an underlying error, which it wraps.
func wrapf(path string, err error, format string, args ...any) error {
	return fmt.Errorf("checkpoint: %s%s: %w", pathPrefix(path), fmt.Sprintf(format, args...), err)
}

// nameList formats at most 10 names as "a", "b" (and 3 more).
func nameList(names []string) string {
	const max = 10
	var b strings.Builder
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " (and %d more)", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}
