package autodiff

import (
	"hesscope/tensor"
)

// ReLUBatchNorm2dTrain is ReLU followed by BatchNorm2dTrain, y =
// BN(relu(x), γ, β) with the statistics of relu(x) over the batch, in one
// primitive of inputs (x, γ, β): C1's and C2's layers in training. relu(x)
// is formed segment by segment in cache (or in registers) by every sweep
// that reads it and is never stored, nor is its cotangent. The derivatives
// of a second-order pass (JVP, CurvatureVJP) form relu(x) and its tangent
// whole and call BatchNorm2dTrain's. Every result has the bits of the two
// primitives on a tape, as BatchNorm2dTrainReLU's
// (TestBatchNormReLUFused).
type ReLUBatchNorm2dTrain[T tensor.Float] struct {
	BatchNorm2dTrain[T]
}

var _ Curved[float64] = (*ReLUBatchNorm2dTrain[float64])(nil)

func (b *ReLUBatchNorm2dTrain[T]) withFresh(fresh uint64) Primitive[T] {
	c := *b
	c.fresh = fresh
	return &c
}

// Forward computes the batch statistics of h = relu(x) and y = γ (h − μ) s + β.
func (b *ReLUBatchNorm2dTrain[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	b.forward(y, x, reluBefore, nil)
}

// JVP computes BatchNorm2dTrain's tangent at relu(x) along 1[x>0]·ẋ.
func (b *ReLUBatchNorm2dTrain[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	h, hd, _ := reluParts(x, xDot, 0)
	defer putAll(h, hd)
	b.BatchNorm2dTrain.JVP(yDot, []*tensor.Dense[T]{h, x[1], x[2]}, []*tensor.Dense[T]{hd, xDot[1], xDot[2]}, nil)
}

// VJP adds BatchNorm2dTrain's VJP at h = relu(x) to γ̄ and β̄ and, passed
// back through the ReLU, to x̄ (BatchNorm2dTrain.vjp with reluBefore).
func (b *ReLUBatchNorm2dTrain[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	b.vjp(xBar, yBar, x, reluBefore, nil, nil)
}

// CurvatureVJP adds BatchNorm2dTrain's curvature term at relu(x) along
// 1[x>0]·ẋ, passed back through the ReLU (which has none).
func (b *ReLUBatchNorm2dTrain[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	curvatureAtReLU(xBarDot, yBar, x, xDot, b.BatchNorm2dTrain.CurvatureVJP)
}
