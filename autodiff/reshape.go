package autodiff

import (
	"fmt"
	"slices"

	"hesscope/kernels"
	"hesscope/tensor"
)

// Reshape gives x the shape Dims without changing the row-major order of its
// elements; flattening images for a Linear layer is Reshape with Dims
// [N, -1] ([N, C, H, W] → [N, C·H·W]). One entry of Dims may be −1: it is
// inferred from the number of elements.
//
// It is linear (the identity on the data): ẏ = ẋ, x̄ += ȳ, no curvature
// term. The tape gives every value its own buffer, so Forward copies.
type Reshape[T tensor.Float] struct {
	Dims []int // the shape of y; one entry may be −1
}

var _ Primitive[float64] = Reshape[float64]{}

// Shape returns Dims with any −1 resolved.
func (r Reshape[T]) Shape(x []*tensor.Dense[T]) []int {
	dims := slices.Clone(r.Dims)
	known, infer := 1, -1
	for i, d := range dims {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d >= 0:
			known *= d
		default:
			panic(fmt.Sprintf("autodiff: Reshape to %v", r.Dims))
		}
	}
	n := len(x[0].Data)
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("autodiff: Reshape of x %v to %v", x[0].Shape, r.Dims))
		}
		dims[infer] = n / known
		known = n
	}
	if known != n {
		panic(fmt.Sprintf("autodiff: Reshape of x %v to %v", x[0].Shape, r.Dims))
	}
	return dims
}

// Forward copies x into y.
func (Reshape[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) { copy(y.Data, x[0].Data) }

// JVP copies ẋ into ẏ.
func (Reshape[T]) JVP(yDot *tensor.Dense[T], _, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	copy(yDot.Data, xDot[0].Data)
}

// VJP adds ȳ to x̄.
func (Reshape[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], _ []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] != nil {
		kernels.Add(xBar[0].Data, yBar.Data)
	}
}
