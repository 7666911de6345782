package autodiff

import (
	"math"

	"hesscope/tensor"
)

// Tanh is y = tanh(x) elementwise. It is smooth, with
//
//	ẏ = (1 − y²)·ẋ        x̄ += (1 − y²)·ȳ
//	curvature: x̄̇ += −2y(1 − y²)·ẋ·ȳ
//
// The derivatives are computed from y, which the tape passes back.
type Tanh[T tensor.Float] struct{}

var _ Curved[float64] = Tanh[float64]{}

// Shape returns the shape of x.
func (Tanh[T]) Shape(x []*tensor.Dense[T]) []int { return x[0].Shape }

// Forward computes y = tanh(x).
func (Tanh[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	forEachSpan(len(y.Data), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y.Data[i] = T(math.Tanh(float64(x[0].Data[i])))
		}
	})
}

// JVP computes ẏ = (1 − y²)·ẋ.
func (Tanh[T]) JVP(yDot *tensor.Dense[T], _, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	for i, v := range y.Data {
		yDot.Data[i] = (1 - v*v) * xDot[0].Data[i]
	}
}

// VJP adds (1 − y²)·ȳ to x̄.
func (Tanh[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], _ []*tensor.Dense[T], y *tensor.Dense[T]) {
	if xBar[0] == nil {
		return
	}
	for i, v := range y.Data {
		xBar[0].Data[i] += (1 - v*v) * yBar.Data[i]
	}
}

// CurvatureVJP adds −2y(1 − y²)·ẋ·ȳ to x̄̇.
func (Tanh[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], _, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	if xBarDot[0] == nil || xDot[0] == nil {
		return
	}
	for i, v := range y.Data {
		xBarDot[0].Data[i] += -2 * v * (1 - v*v) * xDot[0].Data[i] * yBar.Data[i]
	}
}
