package checkpoint

import (
	"fmt"
	"slices"

	"hesscope/tensor"
)

// DType is the element type of a stored tensor, spelled as in the
// safetensors header.
type DType string

// The element types this package reads and writes.
const (
	F32 DType = "F32" // float32
	F64 DType = "F64" // float64
	I64 DType = "I64" // int64, as in BatchNorm's num_batches_tracked
)

// Size returns the size in bytes of one element of type d, or 0 if this
// package does not handle d.
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case F64, I64:
		return 8
	}
	return 0
}

// rank orders dtypes as the reference writer does: by decreasing alignment,
// so the data of every tensor is aligned to its element size.
func (d DType) rank() int {
	switch d {
	case I64:
		return 0
	case F64:
		return 1
	}
	return 2
}

// otherDTypes are the element types of the safetensors specification that
// this package does not handle: a file using one is valid but unsupported.
var otherDTypes = map[DType]bool{
	"BOOL": true, "U8": true, "I8": true, "U16": true, "I16": true,
	"U32": true, "I32": true, "U64": true, "F16": true, "BF16": true,
	"F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true,
	"F4": true, "F6_E2M3": true, "F6_E3M2": true, "C64": true,
}

// Tensor is one stored tensor: its element type, its shape and its elements
// in row-major order. Only the slice named by DType is used (F32 for F32,
// and so on); it holds exactly tensor.Numel(Shape) elements. A scalar has an
// empty Shape and one element.
type Tensor struct {
	DType DType
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
}

// Len returns the number of elements in the slice named by t.DType, or -1 if
// this package does not handle t.DType.
func (t *Tensor) Len() int {
	switch t.DType {
	case F32:
		return len(t.F32)
	case F64:
		return len(t.F64)
	case I64:
		return len(t.I64)
	}
	return -1
}

// FromDense returns a Tensor of type dtype (F32 or F64) holding a copy of d,
// converted. It panics for any other dtype.
func FromDense[T tensor.Float](dtype DType, d *tensor.Dense[T]) *Tensor {
	t := &Tensor{DType: dtype, Shape: slices.Clone(d.Shape)}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	switch dtype {
	case F32:
		t.F32 = make([]float32, len(d.Data))
		for i, v := range d.Data {
			t.F32[i] = float32(v)
		}
	case F64:
		t.F64 = make([]float64, len(d.Data))
		for i, v := range d.Data {
			t.F64[i] = float64(v)
		}
	default:
		panic(fmt.Sprintf("checkpoint.FromDense: dtype %q is not F32 or F64", dtype))
	}
	return t
}

// ToDense returns a new tensor.Dense holding t's elements converted to T.
// It fails unless t is F32 or F64 and holds as many elements as its shape
// needs. Converting F64 to float32 rounds, and may overflow to ±Inf.
func ToDense[T tensor.Float](t *Tensor) (*tensor.Dense[T], error) {
	if t.DType != F32 && t.DType != F64 {
		return nil, errorf("", "dtype %s is not F32 or F64", t.DType)
	}
	n, ok := numel(t.Shape)
	if !ok || n != t.Len() {
		return nil, errorf("", "%d %s elements do not fit shape %s", t.Len(), t.DType, tensor.ShapeString(t.Shape))
	}
	d := tensor.New[T](t.Shape...)
	if t.DType == F32 {
		for i, v := range t.F32 {
			d.Data[i] = T(v)
		}
	} else {
		for i, v := range t.F64 {
			d.Data[i] = T(v)
		}
	}
	return d, nil
}

// numel returns the number of elements of shape, or false if a dimension is
// negative or the product overflows an int.
func numel(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > maxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

const maxInt = int(^uint(0) >> 1)

// nbytes returns the byte length of the data of a tensor of the given shape
// and dtype, or false if it is invalid or overflows an int.
func nbytes(dtype DType, shape []int) (int, bool) {
	n, ok := numel(shape)
	size := dtype.Size()
	if !ok || size == 0 || n > maxInt/size {
		return 0, false
	}
	return n * size, true
}
