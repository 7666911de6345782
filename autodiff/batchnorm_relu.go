package autodiff

import (
	"hesscope/kernels"
	"hesscope/tensor"
)

// BatchNorm2dEvalReLU is BatchNorm2dEval followed by ReLU, y = relu(BN(x, γ,
// β)), in one primitive: the normalised value z is never stored, and each
// pass reads x (and ẋ, ȳ, ȳ̇, y) once instead of writing z and its tangent
// and cotangents and reading them again. The ReLU's mask 1[z>0] is 1[y>0].
// Every result has the bits of the two primitives one after the other, the
// ReLU's cotangent added into a zeroed buffer as the tape does (checked by
// TestBatchNormReLUFused), so a model gives the same numbers fused or not.
type BatchNorm2dEvalReLU[T tensor.Float] struct {
	BatchNorm2dEval[T]
}

var (
	_ PairJVP[float64] = BatchNorm2dEvalReLU[float64]{}
	_ PairVJP[float64] = BatchNorm2dEvalReLU[float64]{}
	_ Curved[float64]  = BatchNorm2dEvalReLU[float64]{}
)

// Forward computes y = relu(γ s (x − μ) + β).
func (b BatchNorm2dEvalReLU[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	forEachChannelRun(b.forwardRun(y, x))
}

// imageForward computes Forward's images one by one (imageWise).
func (b BatchNorm2dEvalReLU[T]) imageForward(y *tensor.Dense[T], x []*tensor.Dense[T]) func(n0, cnt int) {
	return imagesOf(b.forwardRun(y, x))
}

// forwardRun returns x's layout and the function that computes Forward's
// channels [lo, hi) of image n.
func (b BatchNorm2dEvalReLU[T]) forwardRun(y *tensor.Dense[T], x []*tensor.Dense[T]) (bnGeom, func(n, lo, hi int)) {
	g := checkBatchNorm("BatchNorm2dEvalReLU", x, b.RunningMean, b.RunningVar)
	cs := b.channels(x, nil)
	return g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			kernels.AffineReLUTo(bnSeg(g, y.Data, n, c), bnSeg(g, x[0].Data, n, c), k.a, k.mu, k.beta)
		}
	}
}

// JVP computes ẏ = 1[y>0]·ż, ż BatchNorm2dEval's tangent.
func (b BatchNorm2dEvalReLU[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	b.BatchNorm2dEval.JVP(yDot, x, xDot, nil)
	maskTo(yDot, y, yDot)
}

// ForwardJVP computes y and ẏ in one sweep over x and ẋ.
func (b BatchNorm2dEvalReLU[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	if xDot[0] == nil {
		b.Forward(y, x)
		b.JVP(yDot, x, xDot, y)
		return
	}
	g := checkBatchNorm("BatchNorm2dEvalReLU", x, b.RunningMean, b.RunningVar)
	cs := b.channels(x, xDot)
	forEachChannelRun(g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			kernels.AffineJVPReLUTo(bnSeg(g, y.Data, n, c), bnSeg(g, yDot.Data, n, c), bnSeg(g, x[0].Data, n, c),
				bnSeg(g, xDot[0].Data, n, c), k.a, k.gd*k.s, k.mu, k.beta, k.bd)
		}
	})
}

// freshInputs: the input x's cotangents can be taken uncleared.
func (b BatchNorm2dEvalReLU[T]) freshInputs() uint64 { return 1 }

func (b BatchNorm2dEvalReLU[T]) withFresh(fresh uint64) Primitive[T] {
	b.fresh = fresh
	return b
}

// reluCotangent returns the ReLU's cotangent 0 + 1[y>0]·ȳ in a scratch
// tensor, to be returned by putScratchDense.
func reluCotangent[T tensor.Float](yBar, y *tensor.Dense[T]) *tensor.Dense[T] {
	z := &tensor.Dense[T]{Shape: y.Shape, Data: *getScratch[T](len(y.Data))}
	forEachSpan(len(y.Data), func(lo, hi int) {
		clear(z.Data[lo:hi])
		kernels.MaskAdd(z.Data[lo:hi], y.Data[lo:hi], yBar.Data[lo:hi])
	})
	return z
}

// putScratchDense returns the buffer of a tensor from reluCotangent.
func putScratchDense[T tensor.Float](t *tensor.Dense[T]) {
	d := t.Data
	putScratch(&d)
}

// VJP adds BatchNorm2dEval's VJP of the ReLU's cotangent 1[y>0]·ȳ.
func (b BatchNorm2dEvalReLU[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T]) {
	if xBar[0] == nil && xBar[1] == nil && xBar[2] == nil {
		return
	}
	b.BatchNorm2dEval.vjp(xBar, yBar, x, y, nil)
}

// CurvatureVJP adds BatchNorm2dEval's curvature term for the ReLU's
// cotangent 1[y>0]·ȳ (the ReLU has none).
func (b BatchNorm2dEvalReLU[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	if !(xBarDot[0] != nil && xDot[1] != nil) && !(xBarDot[1] != nil && xDot[0] != nil) {
		return
	}
	z := reluCotangent(yBar, y)
	defer putScratchDense(z)
	b.BatchNorm2dEval.CurvatureVJP(xBarDot, z, x, xDot, nil, nil)
}

// VJPPair does the three reverse products in one sweep when all are wanted
// (kernels.AffineReLUVJPPair), the ReLU's cotangents computed on the fly.
func (b BatchNorm2dEvalReLU[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	b.vjpPair(xBar, xBarDot, yBar, yBarDot, x, xDot, y, nil, nil)
}
