package autodiff

import (
	"hesscope/kernels"
	"hesscope/tensor"
)

// ReLUBatchNorm2dEval is ReLU followed by BatchNorm2dEval, y = BN(relu(x),
// γ, β), in one primitive of inputs (x, γ, β): relu(x) and its tangent are
// formed segment by segment (one image and channel) in cache, or in
// registers, and never stored, nor are their cotangents. Every result has the bits of the two
// primitives on a tape (checked by TestBatchNormReLUFused and the models'
// TestFusedBatchNormSameBits).
type ReLUBatchNorm2dEval[T tensor.Float] struct {
	BatchNorm2dEval[T]
}

var (
	_ PairJVP[float64] = ReLUBatchNorm2dEval[float64]{}
	_ PairVJP[float64] = ReLUBatchNorm2dEval[float64]{}
	_ Curved[float64]  = ReLUBatchNorm2dEval[float64]{}
)

// segScratch returns a per-goroutine buffer of k segments (put it back with
// putScratch).
func segScratch[T tensor.Float](g bnGeom, k int) (*[]T, [][]T) {
	p := getScratch[T](k * g.s)
	segs := make([][]T, k)
	for i := range segs {
		segs[i] = (*p)[i*g.s : (i+1)*g.s]
	}
	return p, segs
}

// Forward computes y = γ s (relu(x) − μ) + β.
func (b ReLUBatchNorm2dEval[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	forEachChannelRun(b.forwardRun(y, x))
}

// imageForward computes Forward's images one by one (imageWise).
func (b ReLUBatchNorm2dEval[T]) imageForward(y *tensor.Dense[T], x []*tensor.Dense[T]) func(n0, cnt int) {
	return imagesOf(b.forwardRun(y, x))
}

// forwardRun returns x's layout and the function that computes Forward's
// channels [lo, hi) of image n.
func (b ReLUBatchNorm2dEval[T]) forwardRun(y *tensor.Dense[T], x []*tensor.Dense[T]) (bnGeom, func(n, lo, hi int)) {
	g := checkBatchNorm("ReLUBatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	cs := b.channels(x, nil)
	return g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			kernels.ReLUAffineTo(bnSeg(g, y.Data, n, c), bnSeg(g, x[0].Data, n, c), k.a, k.mu, k.beta)
		}
	}
}

// JVP computes BatchNorm2dEval's tangent at relu(x) along 1[x>0]·ẋ.
func (b ReLUBatchNorm2dEval[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	b.jvp(nil, yDot, x, xDot)
}

// ForwardJVP computes y and ẏ segment by segment.
func (b ReLUBatchNorm2dEval[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	b.jvp(y, yDot, x, xDot)
}

func (b ReLUBatchNorm2dEval[T]) jvp(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	g := checkBatchNorm("ReLUBatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	cs := b.channels(x, xDot)
	forEachChannelPart(g, func(lo, hi int) {
		// relu(x) and its tangent, one segment at a time: the scratch is
		// taken once per part, not once per image.
		p, seg := segScratch[T](g, 2)
		defer putScratch(p)
		h, hd := seg[0], seg[1]
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				k := cs[c]
				s, mu, beta, a, gd, bd := k.s, k.mu, k.beta, k.a, k.gd, k.bd
				xs, dstDot := bnSeg(g, x[0].Data, n, c), bnSeg(g, yDot.Data, n, c)
				if xDot[0] != nil {
					kernels.MaskTo2(h, xs, hd, bnSeg(g, xDot[0].Data, n, c), xs)
				} else {
					kernels.MaskTo(h, xs, xs)
				}
				switch {
				case y != nil && xDot[0] != nil:
					kernels.AffineJVPTo(bnSeg(g, y.Data, n, c), dstDot, h, hd, a, gd*s, mu, beta, bd)
				case y != nil:
					kernels.AffineTo(bnSeg(g, y.Data, n, c), h, a, mu, beta)
					kernels.AffineTo(dstDot, h, gd*s, mu, bd)
				default:
					kernels.AffineTo(dstDot, h, gd*s, mu, bd)
					if xDot[0] != nil {
						for i, v := range hd[:len(dstDot)] {
							dstDot[i] = T(float64(dstDot[i]) + float64(a*float64(v)))
						}
					}
				}
			}
		}
	})
}

// freshInputs: the input x's cotangents can be taken uncleared.
func (b ReLUBatchNorm2dEval[T]) freshInputs() uint64 { return 1 }

func (b ReLUBatchNorm2dEval[T]) withFresh(fresh uint64) Primitive[T] {
	b.fresh = fresh
	return b
}

// VJP adds BatchNorm2dEval's VJP at relu(x), passed back through the ReLU:
// x̄ += 1[x>0]·h̄ with h̄ = 0 + γ s ȳ, and γ̄, β̄ as BatchNorm2dEval's.
func (b ReLUBatchNorm2dEval[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := checkBatchNorm("ReLUBatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	doSums := xBar[1] != nil || xBar[2] != nil
	fx := b.isFresh(0)
	// The fused sweep writes an uncleared x̄ instead of adding to it.
	write := fx && doSums && xBar[0] != nil
	sweep := kernels.ReLUAffineVJP[T]
	if write {
		sweep = kernels.ReLUAffineVJPTo[T]
	}
	cs := b.channels(x, nil)
	forEachChannelPart(g, func(lo, hi int) {
		p, seg := segScratch[T](g, 2)
		defer putScratch(p)
		h, hb := seg[0], seg[1]
		all := make([][2]kernels.Lanes, hi-lo) // per channel: Σ ȳ, Σ ȳ (h − μ)
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				a, mu, sums := cs[c].a, cs[c].mu, &all[c-lo]
				if !write {
					clearSeg(g, xBar[0], fx, n, c)
				}
				xs, yb := bnSeg(g, x[0].Data, n, c), bnSeg(g, yBar.Data, n, c)
				if doSums && xBar[0] != nil {
					// Everything in one sweep, h = relu(x) in registers.
					sweep(sums, bnSeg(g, xBar[0].Data, n, c), xs, yb, a, mu)
					continue
				}
				if doSums {
					kernels.MaskTo(h, xs, xs)
				}
				switch {
				case doSums:
					kernels.CenteredSums(sums, yb, h, mu)
				case xBar[0] != nil:
					clear(hb)
					kernels.ScaleAdd(hb, yb, a)
				}
				if xBar[0] != nil {
					kernels.MaskAdd(bnSeg(g, xBar[0].Data, n, c), xs, hb)
				}
			}
		}
		for c := lo; c < hi; c++ {
			bnParamGrads(xBar, &all[c-lo], c, cs[c].s)
		}
	})
}

// reluParts returns relu(x) and, if xDot[0] is not nil, 1[x>0]·ẋ as whole
// scratch tensors, and zeros zeroed scratch tensors of x's shape (their
// cotangents, as the caller needs them).
func reluParts[T tensor.Float](x, xDot []*tensor.Dense[T], zeros int) (h, hd *tensor.Dense[T], z []*tensor.Dense[T]) {
	scratch := func() *tensor.Dense[T] {
		return &tensor.Dense[T]{Shape: x[0].Shape, Data: *getScratch[T](len(x[0].Data))}
	}
	h = scratch()
	if xDot != nil && xDot[0] != nil {
		hd = scratch()
	}
	for range zeros {
		z = append(z, scratch())
	}
	forEachSpan(len(x[0].Data), func(lo, hi int) {
		xs := x[0].Data[lo:hi]
		kernels.MaskTo(h.Data[lo:hi], xs, xs)
		if hd != nil {
			kernels.MaskTo(hd.Data[lo:hi], xs, xDot[0].Data[lo:hi])
		}
		for _, t := range z {
			clear(t.Data[lo:hi])
		}
	})
	return h, hd, z
}

func putAll[T tensor.Float](ts ...*tensor.Dense[T]) {
	for _, t := range ts {
		if t != nil {
			putScratchDense(t)
		}
	}
}

// CurvatureVJP adds BatchNorm2dEval's curvature term at relu(x) along
// 1[x>0]·ẋ, passed back through the ReLU (which has none).
func (b ReLUBatchNorm2dEval[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	curvatureAtReLU(xBarDot, yBar, x, xDot, b.BatchNorm2dEval.CurvatureVJP)
}

// curvatureAtReLU adds the curvature term of a BatchNorm of inputs (h, γ,
// β) (curv, its CurvatureVJP) at h = relu(x) along 1[x>0]·ẋ, passed back
// through the ReLU, which has none: x̄̇ += 1[x>0]·h̄̇.
func curvatureAtReLU[T tensor.Float](xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T],
	curv func(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, yDot *tensor.Dense[T])) {
	h, hd, z := reluParts(x, xDot, 1)
	hbd := z[0]
	defer putAll(h, hd, hbd)
	curv([]*tensor.Dense[T]{hbd, xBarDot[1], xBarDot[2]}, yBar, []*tensor.Dense[T]{h, x[1], x[2]}, []*tensor.Dense[T]{hd, xDot[1], xDot[2]}, nil, nil)
	if xBarDot[0] != nil {
		forEachSpan(len(h.Data), func(lo, hi int) {
			kernels.MaskAdd(xBarDot[0].Data[lo:hi], x[0].Data[lo:hi], hbd.Data[lo:hi])
		})
	}
}

// VJPPair does BatchNorm2dEval's single sweep at relu(x) and passes both
// cotangents back through the ReLU in one pass over memory when every
// product is wanted (kernels.ReLUAffineVJPPair: relu(x), its tangent and
// the BatchNorm's cotangents live in registers); otherwise it forms relu(x)
// whole first.
func (b ReLUBatchNorm2dEval[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	fx, fxd := b.isFresh(0), b.isFresh(32)
	if !pairAll(xBar, xBarDot, yBarDot, xDot) {
		// The ReLU's VJPs add into x̄ and x̄̇ whole: uncleared ones are
		// cleared first, and the BatchNorm's cotangents are scratch.
		clearFresh(xBar[0], fx)
		clearFresh(xBarDot[0], fxd)
		b.fresh = 0
		h, hd, z := reluParts(x, xDot, 2)
		hb, hbd := z[0], z[1]
		defer putAll(h, hd, hb, hbd)
		var bnDot []*tensor.Dense[T]
		if xDot != nil {
			bnDot = []*tensor.Dense[T]{hd, xDot[1], xDot[2]}
		}
		hBar, hBarDot := hb, hbd
		if xBar[0] == nil {
			hBar = nil
		}
		if xBarDot[0] == nil {
			hBarDot = nil
		}
		b.BatchNorm2dEval.VJPPair([]*tensor.Dense[T]{hBar, xBar[1], xBar[2]}, []*tensor.Dense[T]{hBarDot, xBarDot[1], xBarDot[2]},
			yBar, yBarDot, []*tensor.Dense[T]{h, x[1], x[2]}, bnDot, nil, nil)
		if xBarDot[0] != nil {
			ReLU[T]{}.VJPPair(xBar[:1], xBarDot[:1], hb, hbd, x[:1], nil, nil, nil)
		}
		return
	}
	g := checkBatchNorm("ReLUBatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	// Both cotangents uncleared: written, not added to.
	write := fx && fxd
	pair := kernels.ReLUAffineVJPPair[T]
	if write {
		pair = kernels.ReLUAffineVJPPairTo[T]
	}
	cs := b.channels(x, xDot)
	forEachChannelPart(g, func(lo, hi int) {
		all := make([][5]kernels.Lanes, hi-lo)
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				if !write {
					clearSeg(g, xBar[0], fx, n, c)
					clearSeg(g, xBarDot[0], fxd, n, c)
				}
				pair(&all[c-lo], bnSeg(g, xBar[0].Data, n, c), bnSeg(g, xBarDot[0].Data, n, c),
					bnSeg(g, x[0].Data, n, c), bnSeg(g, xDot[0].Data, n, c), bnSeg(g, yBar.Data, n, c),
					bnSeg(g, yBarDot.Data, n, c), cs[c].a, cs[c].gd*cs[c].s, cs[c].mu)
			}
		}
		for c := lo; c < hi; c++ {
			s, sums := cs[c].s, &all[c-lo]
			bnParamGrads(xBar, (*[2]kernels.Lanes)(sums[0:2]), c, s)
			bnParamGrads(xBarDot, (*[2]kernels.Lanes)(sums[2:4]), c, s)
			xBarDot[1].Data[c] += T(s * sums[4].Sum())
		}
	})
}
