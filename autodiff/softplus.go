package autodiff

import (
	"math"

	"hesscope/tensor"
)

// softplusThreshold is PyTorch's default threshold: above it softplus is
// taken to be the identity.
const softplusThreshold = 20

// Softplus is PyTorch's nn.Softplus with beta 1 and threshold 20,
// elementwise:
//
//	y = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|)    for x ≤ 20
//	y = x                                          for x > 20
//
// computed without overflow. With σ(x) = 1/(1 + e^−x) the logistic function:
//
//	ẏ = σ(x)·ẋ        x̄ += σ(x)·ȳ
//	curvature: x̄̇ += σ(x)(1 − σ(x))·ẋ·ȳ
//
// Kink convention: as in PyTorch, for x > 20 the function is exactly the
// identity, so σ is taken as 1 and the curvature as 0 there (the jump at 20
// is log1p(e^−20) ≈ 2·10⁻⁹).
type Softplus[T tensor.Float] struct{}

var _ Curved[float64] = Softplus[float64]{}

// softplusGrad returns softplus′(x): σ(x), and 1 above the threshold.
func softplusGrad(x float64) float64 {
	if x > softplusThreshold {
		return 1
	}
	return logistic(x)
}

// softplusCurv returns softplus″(x): σ(x)·σ(−x) (without the cancellation
// of 1 − σ(x)), and 0 above the threshold.
func softplusCurv(x float64) float64 {
	if x > softplusThreshold {
		return 0
	}
	return logistic(x) * logistic(-x)
}

// logistic returns σ(x) = 1/(1 + e^−x) without overflow.
func logistic(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// Shape returns the shape of x.
func (Softplus[T]) Shape(x []*tensor.Dense[T]) []int { return x[0].Shape }

// Forward computes y = softplus(x).
func (Softplus[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	forEachSpan(len(y.Data), func(lo, hi int) {
		for i, v := range x[0].Data[lo:hi] {
			f := float64(v)
			if f > softplusThreshold {
				y.Data[lo+i] = v
				continue
			}
			y.Data[lo+i] = T(max(f, 0) + math.Log1p(math.Exp(-math.Abs(f))))
		}
	})
}

// JVP computes ẏ = σ(x)·ẋ.
func (Softplus[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	forEachSpan(len(yDot.Data), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yDot.Data[i] = T(softplusGrad(float64(x[0].Data[i])) * float64(xDot[0].Data[i]))
		}
	})
}

// VJP adds σ(x)·ȳ to x̄.
func (Softplus[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] == nil {
		return
	}
	forEachSpan(len(yBar.Data), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xBar[0].Data[i] += T(softplusGrad(float64(x[0].Data[i])) * float64(yBar.Data[i]))
		}
	})
}

// CurvatureVJP adds σ(x)(1 − σ(x))·ẋ·ȳ to x̄̇.
func (Softplus[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	if xBarDot[0] == nil || xDot[0] == nil {
		return
	}
	forEachSpan(len(yBar.Data), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xBarDot[0].Data[i] += T(softplusCurv(float64(x[0].Data[i])) * float64(xDot[0].Data[i]) * float64(yBar.Data[i]))
		}
	})
}
