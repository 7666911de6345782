package autodiff

import (
	"fmt"

	"hesscope/kernels"
	"hesscope/tensor"
)

// BatchNorm2dEvalAddReLU is a ResNet block's ending, y = relu(BN(x, γ, β) +
// s), as one primitive of inputs (x, γ, β, s), s of the shape of x: the
// BatchNorm2dEval, Add and ReLU primitives one after the other, done
// segment by segment (the S values of one image and channel) while the
// segment is in cache, so that neither BN(x) nor the sum nor their
// tangents and cotangents are stored. Every result has the bits of the
// three primitives on a tape (checked by TestBatchNormAddReLUFused).
type BatchNorm2dEvalAddReLU[T tensor.Float] struct {
	BatchNorm2dEval[T]
}

var (
	_ PairJVP[float64] = BatchNorm2dEvalAddReLU[float64]{}
	_ PairVJP[float64] = BatchNorm2dEvalAddReLU[float64]{}
	_ Curved[float64]  = BatchNorm2dEvalAddReLU[float64]{}
)

// Shape returns the shape of x and panics unless s has it too.
func (b BatchNorm2dEvalAddReLU[T]) Shape(x []*tensor.Dense[T]) []int {
	if len(x) != 4 || !tensor.SameShape(x[0].Shape, x[3].Shape) {
		panic(fmt.Sprintf("autodiff: BatchNorm2dEvalAddReLU of %d inputs, want (x, γ, β, s) with s the shape of x", len(x)))
	}
	return b.BatchNorm2dEval.Shape(x[:3])
}

// Forward computes y = relu(γ s (x − μ) + β + s).
func (b BatchNorm2dEvalAddReLU[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	forEachChannelRun(b.forwardRun(y, x))
}

// imageForward computes Forward's images one by one (imageWise).
func (b BatchNorm2dEvalAddReLU[T]) imageForward(y *tensor.Dense[T], x []*tensor.Dense[T]) func(n0, cnt int) {
	return imagesOf(b.forwardRun(y, x))
}

// forwardRun returns x's layout and the function that computes Forward's
// channels [lo, hi) of image n.
func (b BatchNorm2dEvalAddReLU[T]) forwardRun(y *tensor.Dense[T], x []*tensor.Dense[T]) (bnGeom, func(n, lo, hi int)) {
	g := checkBatchNorm("BatchNorm2dEvalAddReLU", x[:3], b.RunningMean, b.RunningVar)
	cs := b.channels(x, nil)
	return g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			kernels.AffineAddReLUTo(bnSeg(g, y.Data, n, c), bnSeg(g, x[0].Data, n, c), bnSeg(g, x[3].Data, n, c), k.a, k.mu, k.beta)
		}
	}
}

// JVP computes ẏ = 1[y>0]·(ż + ṡ), ż BatchNorm2dEval's tangent (the sum of
// the non-nil ones, as Add forms it).
func (b BatchNorm2dEvalAddReLU[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	b.jvp(nil, yDot, x, xDot, y)
}

// ForwardJVP computes y and ẏ segment by segment.
func (b BatchNorm2dEvalAddReLU[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	b.jvp(y, yDot, x, xDot, y)
}

// jvp writes y too if yOut is not nil (then y is computed, not read).
func (b BatchNorm2dEvalAddReLU[T]) jvp(yOut, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEvalAddReLU", x[:3], b.RunningMean, b.RunningVar)
	bnDot := xDot[0] != nil || xDot[1] != nil || xDot[2] != nil // ż is not nil
	cs := b.channels(x, xDot)
	forEachChannelRun(g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			s, mu, beta, a, gd, bd := k.s, k.mu, k.beta, k.a, k.gd, k.bd
			xs := bnSeg(g, x[0].Data, n, c)
			dst, dstDot := bnSeg(g, y.Data, n, c), bnSeg(g, yDot.Data, n, c)
			if yOut != nil && xDot[0] != nil && xDot[3] != nil {
				// Every tangent (an HVP's forward pass): one sweep.
				kernels.AffineJVPAddReLUTo(dst, dstDot, xs, bnSeg(g, xDot[0].Data, n, c),
					bnSeg(g, x[3].Data, n, c), bnSeg(g, xDot[3].Data, n, c), a, gd*s, mu, beta, bd)
				continue
			}
			switch {
			case yOut != nil && xDot[0] != nil:
				kernels.AffineJVPTo(dst, dstDot, xs, bnSeg(g, xDot[0].Data, n, c), a, gd*s, mu, beta, bd)
			case yOut != nil:
				kernels.AffineTo(dst, xs, a, mu, beta)
				kernels.AffineTo(dstDot, xs, gd*s, mu, bd)
			default:
				kernels.AffineTo(dstDot, xs, gd*s, mu, bd)
				if xDot[0] != nil {
					for i, v := range bnSeg(g, xDot[0].Data, n, c)[:len(dstDot)] {
						dstDot[i] = T(float64(dstDot[i]) + float64(a*float64(v)))
					}
				}
			}
			if yOut != nil {
				kernels.Add(dst, bnSeg(g, x[3].Data, n, c))
			}
			switch {
			case !bnDot && xDot[3] != nil:
				copy(dstDot, bnSeg(g, xDot[3].Data, n, c))
			case !bnDot:
				clear(dstDot)
			case xDot[3] != nil:
				kernels.Add(dstDot, bnSeg(g, xDot[3].Data, n, c))
			}
			if yOut != nil {
				kernels.MaskTo2(dst, dst, dstDot, dstDot, dst)
			} else {
				kernels.MaskTo(dstDot, dst, dstDot)
			}
		}
	})
}

// freshInputs: the cotangents of x (input 0) and of the shortcut s (input
// 3) can be taken uncleared.
func (b BatchNorm2dEvalAddReLU[T]) freshInputs() uint64 { return 1 | 1<<3 }

func (b BatchNorm2dEvalAddReLU[T]) withFresh(fresh uint64) Primitive[T] {
	b.fresh = fresh
	return b
}

// addReLUCotangent returns the cotangent 0 + 1[y>0]·ȳ that the ReLU gives
// the sum, in a scratch tensor (returned by putScratchDense), after adding
// it to sBar if that is not nil, as Add's VJP does.
func addReLUCotangent[T tensor.Float](sBar, yBar, y *tensor.Dense[T]) *tensor.Dense[T] {
	u := reluCotangent(yBar, y)
	if sBar != nil {
		forEachSpan(len(u.Data), func(lo, hi int) { kernels.Add(sBar.Data[lo:hi], u.Data[lo:hi]) })
	}
	return u
}

// VJP adds the VJPs of the ReLU's cotangent ū = 1[y>0]·ȳ: ū to s̄ and
// BatchNorm2dEval's of ū to x̄, γ̄, β̄.
func (b BatchNorm2dEvalAddReLU[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T]) {
	if xBar[0] == nil && xBar[1] == nil && xBar[2] == nil {
		if xBar[3] != nil {
			clearFresh(xBar[3], b.isFresh(3))
			putScratchDense(addReLUCotangent(xBar[3], yBar, y))
		}
		return
	}
	b.BatchNorm2dEval.vjp(xBar[:3], yBar, x[:3], y, xBar[3])
}

// CurvatureVJP adds BatchNorm2dEval's curvature term for ū = 1[y>0]·ȳ (Add
// and ReLU have none).
func (b BatchNorm2dEvalAddReLU[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	if !(xBarDot[0] != nil && xDot[1] != nil) && !(xBarDot[1] != nil && xDot[0] != nil) {
		return
	}
	u := reluCotangent(yBar, y)
	defer putScratchDense(u)
	b.BatchNorm2dEval.CurvatureVJP(xBarDot[:3], u, x[:3], xDot[:3], nil, nil)
}

// VJPPair adds ū, ū̇ to s̄, s̄̇ and BatchNorm2dEval's VJPPair of them, in
// one sweep per segment when every product is wanted
// (kernels.AffineAddReLUVJPPair).
func (b BatchNorm2dEvalAddReLU[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	var bnDot []*tensor.Dense[T]
	if xDot != nil {
		bnDot = xDot[:3]
	}
	b.BatchNorm2dEval.vjpPair(xBar[:3], xBarDot[:3], yBar, yBarDot, x[:3], bnDot, y, xBar[3], xBarDot[3])
}
