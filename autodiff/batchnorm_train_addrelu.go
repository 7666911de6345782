package autodiff

import (
	"fmt"

	"hesscope/kernels"
	"hesscope/tensor"
)

// BatchNorm2dTrainAddReLU is a ResNet block's ending in training, y =
// relu(BN(x, γ, β) + s) with the batch's statistics, as one primitive of
// inputs (x, γ, β, s), s of the shape of x: the BatchNorm2dTrain, Add and
// ReLU primitives in the sweeps of the BatchNorm, so that neither BN(x),
// the sum nor their cotangents are stored. Every result has the bits of
// the three primitives on a tape, as BatchNorm2dTrainReLU's
// (TestBatchNormReLUFused).
type BatchNorm2dTrainAddReLU[T tensor.Float] struct {
	BatchNorm2dTrain[T]
}

var _ Curved[float64] = (*BatchNorm2dTrainAddReLU[float64])(nil)

// freshInputs: the cotangents of x (input 0) and of the shortcut s (input
// 3) can be taken uncleared.
func (b *BatchNorm2dTrainAddReLU[T]) freshInputs() uint64 { return 1 | 1<<3 }

func (b *BatchNorm2dTrainAddReLU[T]) withFresh(fresh uint64) Primitive[T] {
	c := *b
	c.fresh = fresh
	return &c
}

// Shape returns the shape of x and panics unless s has it too.
func (b *BatchNorm2dTrainAddReLU[T]) Shape(x []*tensor.Dense[T]) []int {
	if len(x) != 4 || !tensor.SameShape(x[0].Shape, x[3].Shape) {
		panic(fmt.Sprintf("autodiff: BatchNorm2dTrainAddReLU of %d inputs, want (x, γ, β, s) with s the shape of x", len(x)))
	}
	return b.BatchNorm2dTrain.Shape(x[:3])
}

// Forward computes the batch statistics of x and y = relu(γ (x − μ) s + β + s).
func (b *BatchNorm2dTrainAddReLU[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	b.forward(y, x[:3], actAfter, x[3])
}

// JVP computes ẏ = 1[y>0]·(ż + ṡ), ż BatchNorm2dTrain's tangent (the sum of
// the non-nil ones, as Add forms it).
func (b *BatchNorm2dTrainAddReLU[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	switch {
	case xDot[0] == nil && xDot[1] == nil && xDot[2] == nil:
		sumTo(yDot, xDot[3:])
	default:
		b.BatchNorm2dTrain.JVP(yDot, x[:3], xDot[:3], nil)
		if xDot[3] != nil {
			forEachSpan(len(yDot.Data), func(lo, hi int) { kernels.Add(yDot.Data[lo:hi], xDot[3].Data[lo:hi]) })
		}
	}
	maskTo(yDot, y, yDot)
}

// VJP adds u = 1[y>0]·ȳ to s̄ and BatchNorm2dTrain's VJP of u to x̄, γ̄ and β̄.
func (b *BatchNorm2dTrainAddReLU[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T]) {
	b.vjp(xBar[:3], yBar, x[:3], actAfter, y, xBar[3])
}

// CurvatureVJP adds BatchNorm2dTrain's curvature term for the cotangent
// 1[y>0]·ȳ (the shortcut's input enters linearly: no term of its own).
func (b *BatchNorm2dTrainAddReLU[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	b.maskedCurvature(xBarDot[:3], yBar, x[:3], xDot[:3], y)
}
