// Package tensor holds Dense, the contiguous row-major n-dimensional array that
// every other hesscope package computes on, in float32 or float64.
//
// Images are NCHW: a batch of N images with C channels of H×W pixels has shape
// [N, C, H, W] and element (n, c, h, w) at offset ((n·C+c)·H+h)·W+w.
package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Float is the element type of a tensor: float32 for speed, float64 for
// verification and precise small eigenvalues.
type Float interface {
	~float32 | ~float64
}

// Dense is a contiguous row-major array. Data has exactly Numel(Shape)
// elements. A Dense is a value with no hidden state: two Dense may share Data
// (see Reshape), and functions that write document which argument they write.
type Dense[T Float] struct {
	Shape []int
	Data  []T
}

// New returns a zeroed tensor of the given shape.
func New[T Float](shape ...int) *Dense[T] {
	return &Dense[T]{Shape: append([]int(nil), shape...), Data: make([]T, Numel(shape))}
}

// FromSlice wraps data (not copied) as a tensor of the given shape.
// It panics if len(data) does not match the shape.
func FromSlice[T Float](data []T, shape ...int) *Dense[T] {
	if len(data) != Numel(shape) {
		panic(fmt.Sprintf("tensor: %d elements do not fit shape %v", len(data), shape))
	}
	return &Dense[T]{Shape: append([]int(nil), shape...), Data: data}
}

// Numel is the number of elements of a tensor of the given shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of elements of t.
func (t *Dense[T]) Len() int { return len(t.Data) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Dense[T]) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Clone returns a deep copy of t.
func (t *Dense[T]) Clone() *Dense[T] {
	return &Dense[T]{Shape: append([]int(nil), t.Shape...), Data: append([]T(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with a new shape of the same size.
func (t *Dense[T]) Reshape(shape ...int) *Dense[T] {
	if Numel(shape) != len(t.Data) {
		panic(fmt.Sprintf("tensor: cannot reshape %v to %v", t.Shape, shape))
	}
	return &Dense[T]{Shape: append([]int(nil), shape...), Data: t.Data}
}

// Zero sets every element of t to 0.
func (t *Dense[T]) Zero() { clear(t.Data) }

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeString formats a shape as [a, b, c], as PyTorch prints it.
func ShapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Convert returns a copy of src with elements converted to type D.
func Convert[D, S Float](src *Dense[S]) *Dense[D] {
	dst := New[D](src.Shape...)
	for i, v := range src.Data {
		dst.Data[i] = D(v)
	}
	return dst
}

// Finite reports the index of the first NaN or Inf in data, or -1 if all are finite.
func Finite[T Float](data []T) int {
	for i, v := range data {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return i
		}
	}
	return -1
}
