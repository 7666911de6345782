package checkpoint

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unsafe"

	"hesscope/tensor"
)

// Named is one entry of a state dict: a tensor under its PyTorch key, such
// as "conv1.weight" or "bn1.running_mean".
type Named[T tensor.Float] struct {
	Name  string
	Value *tensor.Dense[T]
}

// FromStateDict returns a File holding copies of the named tensors, as F32
// for float32 and F64 for float64, and a copy of metadata (which may be nil).
// It panics if two entries share a name or a Value is nil.
//
// PyTorch's BatchNorm also saves "<layer>.num_batches_tracked", an I64
// scalar that load_state_dict(strict=True) requires; add it to the result as
// &Tensor{DType: I64, Shape: []int{}, I64: []int64{n}}.
func FromStateDict[T tensor.Float](named []Named[T], metadata map[string]string) *File {
	var z T
	if unsafe.Sizeof(z) == 4 {
		return FromStateDictAs(F32, named, metadata)
	}
	return FromStateDictAs(F64, named, metadata)
}

// FromStateDictAs is FromStateDict storing every tensor as dtype, F32 or
// F64: F32 gives the files PyTorch models usually load. It panics for any
// other dtype.
func FromStateDictAs[T tensor.Float](dtype DType, named []Named[T], metadata map[string]string) *File {
	f := &File{Tensors: make(map[string]*Tensor, len(named)), Metadata: maps.Clone(metadata)}
	for _, nv := range named {
		if nv.Value == nil {
			panic(fmt.Sprintf("checkpoint.FromStateDict: %q has a nil Value", nv.Name))
		}
		if _, dup := f.Tensors[nv.Name]; dup {
			panic(fmt.Sprintf("checkpoint.FromStateDict: duplicate name %q", nv.Name))
		}
		f.Tensors[nv.Name] = FromDense(dtype, nv.Value)
	}
	return f
}

// LoadInto copies the tensors of f into the destinations listed in want,
// converting F32 and F64 to T, like PyTorch's load_state_dict(strict=True).
//
// It first checks everything and copies nothing unless all is well: every
// name of want must be in f, every tensor of f must be in want (except I64
// tensors named "num_batches_tracked" or "<prefix>.num_batches_tracked",
// which are ignored), each tensor must be F32 or F64 with the shape of its
// destination, and every value must be finite in T. Otherwise the error,
// one line, lists the missing, unexpected, misshapen and non-finite tensors
// by name. It panics if two entries of want share a name or a Value is nil.
func LoadInto[T tensor.Float](f *File, want []Named[T]) error {
	wanted := make(map[string]bool, len(want))
	for _, nv := range want {
		if nv.Value == nil {
			panic(fmt.Sprintf("checkpoint.LoadInto: %q has a nil Value", nv.Name))
		}
		if wanted[nv.Name] {
			panic(fmt.Sprintf("checkpoint.LoadInto: duplicate name %q", nv.Name))
		}
		wanted[nv.Name] = true
	}
	var missing, unexpected, problems, values []string
	for _, nv := range want {
		t, ok := f.Tensors[nv.Name]
		if !ok || t == nil {
			missing = append(missing, nv.Name)
			continue
		}
		if msg := check[T](t, nv.Value.Shape); msg != "" {
			problems = append(problems, fmt.Sprintf("tensor %q: %s", nv.Name, msg))
		} else if msg := checkValues[T](t); msg != "" {
			values = append(values, fmt.Sprintf("%s in tensor %q", msg, nv.Name))
			problems = append(problems, fmt.Sprintf("tensor %q: %s", nv.Name, msg))
		}
	}
	for _, name := range f.Names() {
		if !wanted[name] && !isBatchCount(name, f.Tensors[name]) {
			unexpected = append(unexpected, name)
		}
	}
	if len(missing)+len(unexpected) == 0 && len(problems) > 0 && len(problems) == len(values) {
		if len(values) > 10 {
			values = append(values[:10], fmt.Sprintf("and %d more tensors", len(values)-10))
		}
		return &ValueError{Problems: values}
	}
	if len(missing)+len(unexpected)+len(problems) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing tensors "+nameList(missing))
		}
		if len(unexpected) > 0 {
			parts = append(parts, "unexpected tensors "+nameList(unexpected))
		}
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("and %d more", len(problems)-10))
		}
		parts = append(parts, problems...)
		return errorf("", "cannot load state dict: %s", strings.Join(parts, "; "))
	}
	for _, nv := range want {
		t, dst := f.Tensors[nv.Name], nv.Value.Data
		if t.DType == F32 {
			for i, v := range t.F32 {
				dst[i] = T(v)
			}
		} else {
			for i, v := range t.F64 {
				dst[i] = T(v)
			}
		}
	}
	return nil
}

// isBatchCount reports whether t is BatchNorm's num_batches_tracked, which
// hesscope does not use.
func isBatchCount(name string, t *Tensor) bool {
	return t != nil && t.DType == I64 &&
		(name == "num_batches_tracked" || strings.HasSuffix(name, ".num_batches_tracked"))
}

// check returns what keeps t from loading into a T tensor of the given
// shape, or "".
func check[T tensor.Float](t *Tensor, shape []int) string {
	if t.DType != F32 && t.DType != F64 {
		return fmt.Sprintf("dtype %s, want F32 or F64", t.DType)
	}
	if !slices.Equal(t.Shape, shape) {
		return fmt.Sprintf("shape %s in file, %s expected", tensor.ShapeString(t.Shape), tensor.ShapeString(shape))
	}
	if n, ok := numel(t.Shape); !ok || n != t.Len() {
		return fmt.Sprintf("%d values for shape %s", t.Len(), tensor.ShapeString(t.Shape))
	}
	return ""
}

// checkValues returns the first value of t that is not finite in T, or "".
func checkValues[T tensor.Float](t *Tensor) string {
	var bad float64
	i := -1
	if t.DType == F32 {
		for j, v := range t.F32 {
			if c := float64(T(v)); math.IsNaN(c) || math.IsInf(c, 0) {
				i, bad = j, float64(v)
				break
			}
		}
	} else {
		for j, v := range t.F64 {
			if c := float64(T(v)); math.IsNaN(c) || math.IsInf(c, 0) {
				i, bad = j, v
				break
			}
		}
	}
	switch {
	case i < 0:
		return ""
	case math.IsNaN(bad) || math.IsInf(bad, 0):
		return fmt.Sprintf("%v at index %d", bad, i)
	}
	return fmt.Sprintf("value %v at index %d (overflows %T)", bad, i, T(0))
}
