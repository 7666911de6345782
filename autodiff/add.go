package autodiff

import (
	"fmt"

	"hesscope/kernels"
	"hesscope/tensor"
)

// Add is the elementwise sum y = x₁ + x₂ + … of one or more inputs of the
// same shape (the residual connection of a ResNet block is Add of two).
//
// It is linear: ẏ = Σ ẋᵢ (nil tangents count as zero), x̄ᵢ += ȳ for every
// input, and there is no curvature term.
type Add[T tensor.Float] struct{}

var _ Primitive[float64] = Add[float64]{}

// Shape returns the common shape of the inputs.
func (Add[T]) Shape(x []*tensor.Dense[T]) []int {
	if len(x) == 0 {
		panic("autodiff: Add of no inputs")
	}
	for _, xi := range x[1:] {
		if !tensor.SameShape(xi.Shape, x[0].Shape) {
			panic(fmt.Sprintf("autodiff: Add of shapes %v and %v", x[0].Shape, xi.Shape))
		}
	}
	return x[0].Shape
}

// Forward writes the sum of the inputs into y.
func (Add[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) { sumTo(y, x) }

// JVP writes the sum of the non-nil tangents into ẏ.
func (Add[T]) JVP(yDot *tensor.Dense[T], _, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	sumTo(yDot, xDot)
}

// sumTo writes the sum of the non-nil xs into dst (zero if all are nil),
// in the order of xs, span by span over the goroutines.
func sumTo[T tensor.Float](dst *tensor.Dense[T], xs []*tensor.Dense[T]) {
	forEachSpan(len(dst.Data), func(lo, hi int) {
		d, first := dst.Data[lo:hi], true
		for _, x := range xs {
			switch {
			case x == nil:
			case first:
				copy(d, x.Data[lo:hi])
				first = false
			default:
				kernels.Add(d, x.Data[lo:hi])
			}
		}
		if first {
			clear(d)
		}
	})
}

// VJP adds ȳ to every non-nil x̄ᵢ.
func (Add[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], _ []*tensor.Dense[T], _ *tensor.Dense[T]) {
	forEachSpan(len(yBar.Data), func(lo, hi int) {
		for _, b := range xBar {
			if b != nil {
				kernels.Add(b.Data[lo:hi], yBar.Data[lo:hi])
			}
		}
	})
}
