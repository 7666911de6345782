package data

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A FormatError reports a file that is not a valid dataset file: wrong magic
// number, truncated, corrupt, or inconsistent with itself or its partner file.
type FormatError struct {
	Path string // the file
	Msg  string // what is wrong with it
}

func (e *FormatError) Error() string { return "data: " + e.Path + ": " + e.Msg }

// An UnsupportedError reports a valid file of a kind this package does not
// handle, such as an IDX file of 32-bit integers.
type UnsupportedError struct {
	Path string // the file
	Msg  string // what is not supported
}

func (e *UnsupportedError) Error() string {
	return "data: " + e.Path + ": unsupported: " + e.Msg
}

func formatErr(path, format string, args ...any) error {
	return &FormatError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// readErr classifies an error met while reading what of the file at path:
// running out of bytes and a damaged gzip stream are format errors, anything
// else (an I/O error) is returned wrapped.
func readErr(path, what string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return formatErr(path, "truncated %s", what)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return formatErr(path, "corrupt gzip stream in %s: %v", what, err)
	}
	return fmt.Errorf("data: read %s: %w", path, err)
}

// unknownName is the error for a dataset name Load does not know.
func unknownName(name string) error {
	return fmt.Errorf("data: unknown dataset %q (want %s)", name, strings.Join(Names(), ", "))
}

// dimsString formats dimensions as 10000×28×28.
func dimsString(dims []int) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "×")
}
