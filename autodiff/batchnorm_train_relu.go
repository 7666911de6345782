package autodiff

import (
	"hesscope/tensor"
)

// BatchNorm2dTrainReLU is BatchNorm2dTrain followed by ReLU, y =
// relu(BN(x, γ, β)) with the batch's statistics, in one primitive: a
// training step's BatchNorm and ReLU without storing BN(x) or writing its
// cotangent whole (the ReLU's mask 1[BN(x)>0] is 1[y>0]). Forward writes y
// in the sweep that normalises x; VJP forms the BatchNorm's cotangent
// 1[y>0]·ȳ segment by segment in cache (BatchNorm2dTrain.vjp). The
// derivatives of a second-order pass (JVP, CurvatureVJP: the ReLU has no
// curvature) compose BatchNorm2dTrain's with the mask. Every result has the
// bits of the two primitives on a tape (TestBatchNormReLUFused; an exact
// zero written into a fresh x̄ may keep the sign −0, see
// BatchNorm2dTrain.VJP). In a training step on the Xeon (ResNet-20, batch
// 128, 2 threads, 6 paired rounds) with BatchNorm2dTrainAddReLU: 0.86–0.98
// of the separate primitives' time.
type BatchNorm2dTrainReLU[T tensor.Float] struct {
	BatchNorm2dTrain[T]
}

var _ Curved[float64] = (*BatchNorm2dTrainReLU[float64])(nil)

func (b *BatchNorm2dTrainReLU[T]) withFresh(fresh uint64) Primitive[T] {
	c := *b
	c.fresh = fresh
	return &c
}

// Forward computes the batch statistics and y = relu(γ (x − μ) s + β).
func (b *BatchNorm2dTrainReLU[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	b.forward(y, x, actAfter, nil)
}

// JVP computes ẏ = 1[y>0]·ż, ż BatchNorm2dTrain's tangent.
func (b *BatchNorm2dTrainReLU[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	b.BatchNorm2dTrain.JVP(yDot, x, xDot, nil)
	maskTo(yDot, y, yDot)
}

// VJP adds BatchNorm2dTrain's VJP of 1[y>0]·ȳ to x̄, γ̄ and β̄.
func (b *BatchNorm2dTrainReLU[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T]) {
	b.vjp(xBar, yBar, x, actAfter, y, nil)
}

// CurvatureVJP adds BatchNorm2dTrain's curvature term for the cotangent
// 1[y>0]·ȳ.
func (b *BatchNorm2dTrainReLU[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	b.maskedCurvature(xBarDot, yBar, x, xDot, y)
}

// maskedCurvature adds CurvatureVJP's term for the cotangent 1[y>0]·ȳ
// (formed whole, as the ReLU writes it), where it has one: with ẋ or γ̇.
func (b *BatchNorm2dTrain[T]) maskedCurvature(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	if xDot[0] == nil && xDot[1] == nil {
		return
	}
	u := &tensor.Dense[T]{Shape: y.Shape, Data: *getScratch[T](len(y.Data))}
	defer putScratchDense(u)
	maskTo(u, y, yBar)
	b.CurvatureVJP(xBarDot, u, x, xDot, nil, nil)
}
