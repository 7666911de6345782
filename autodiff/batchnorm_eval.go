package autodiff

import (
	"fmt"
	"math"

	"hesscope/kernels"
	"hesscope/tensor"
)

// BatchNorm2dEval is PyTorch's nn.BatchNorm2d in evaluation mode: every
// channel is normalised with the constant running statistics and then scaled
// and shifted. Inputs are (x, γ, β) with x of shape [N, C, H, W] (any shape
// [N, C, …] works, so [N, C] is BatchNorm1d) and γ, β of shape [C]; y has
// the shape of x:
//
//	y[n,c,…] = γ[c]·s[c]·(x[n,c,…] − μ[c]) + β[c],   s = (σ² + ε)^(−1/2)
//
// with μ = RunningMean and σ² = RunningVar, which are constants (not
// inputs). y is bilinear in (x, γ) and linear in β; with x̂ = s(x − μ):
//
//	ẏ   = γ s ẋ + γ̇ x̂ + β̇
//	x̄  += γ s ȳ        γ̄ += Σ ȳ x̂        β̄ += Σ ȳ      (Σ over n and pixels)
//	curvature: x̄̇ += γ̇ s ȳ,  γ̄̇ += Σ ȳ s ẋ
//
// Arithmetic is in float64 (kernels.AffineTo and its relatives, in assembly
// for float32); sums over a channel go to eight lanes, as the kernels
// define, so every path (VJP, CurvatureVJP and the fused VJPPair) and every
// backend gives the same bits. Channels are processed in parallel.
type BatchNorm2dEval[T tensor.Float] struct {
	RunningMean []T     // μ, one per channel
	RunningVar  []T     // σ², one per channel
	Eps         float64 // ε, added to σ² (PyTorch's default is 1e-5)

	// fresh marks uncleared cotangents (freshWriter): x̄ bit 0, a fused
	// shortcut's s̄ bit 3, and x̄̇, s̄̇ bits 32 and 35.
	fresh uint64
}

// freshInputs: the input x's cotangents can be taken uncleared.
func (b BatchNorm2dEval[T]) freshInputs() uint64 { return 1 }

func (b BatchNorm2dEval[T]) withFresh(fresh uint64) Primitive[T] {
	b.fresh = fresh
	return b
}

// isFresh reports whether bit i of b.fresh is set.
func (b BatchNorm2dEval[T]) isFresh(i uint) bool { return b.fresh>>i&1 != 0 }

// fusedSweeps: its pairs, and those of the primitives that embed it (the
// ReLU and shortcut fusions), are single sweeps.
func (b BatchNorm2dEval[T]) fusedSweeps() {}

// clearSeg clears the segment of image n in channel c of t if t is
// non-nil and fresh (uncleared): a sweep that adds into a segment clears it
// first, in cache, instead of the tape clearing the whole tensor.
func clearSeg[T tensor.Float](g bnGeom, t *tensor.Dense[T], fresh bool, n, c int) {
	if fresh && t != nil {
		clear(bnSeg(g, t.Data, n, c))
	}
}

// clearFresh clears t on every CPU if it is non-nil and fresh, for the
// paths that add into a whole tensor at once.
func clearFresh[T tensor.Float](t *tensor.Dense[T], fresh bool) {
	if fresh && t != nil {
		clearSpans(t.Data)
	}
}

var (
	_ PairJVP[float64] = BatchNorm2dEval[float64]{}
	_ PairVJP[float64] = BatchNorm2dEval[float64]{}
)

// bnGeom is the layout of x: N images of C channels of S values each.
type bnGeom struct{ n, c, s int }

// bnSeg returns the S values of image n in channel c of data.
func bnSeg[T tensor.Float](g bnGeom, data []T, n, c int) []T {
	off := (n*g.c + c) * g.s
	return data[off : off+g.s]
}

// checkBatchNorm panics unless x is (x, γ, β) with x [N, C, …], γ and β [C],
// and every stats slice has C entries.
func checkBatchNorm[T tensor.Float](name string, x []*tensor.Dense[T], stats ...[]T) bnGeom {
	if len(x) != 3 || len(x[0].Shape) < 2 {
		panic(fmt.Sprintf("autodiff: %s needs inputs (x, γ, β) with x [N, C, …]", name))
	}
	c := x[0].Shape[1]
	for _, p := range x[1:] {
		if len(p.Shape) != 1 || p.Shape[0] != c {
			panic(fmt.Sprintf("autodiff: %s of x %v with γ or β %v, want [%d]", name, x[0].Shape, p.Shape, c))
		}
	}
	for _, s := range stats {
		if len(s) != c {
			panic(fmt.Sprintf("autodiff: %s of x %v with %d running statistics, want %d", name, x[0].Shape, len(s), c))
		}
	}
	return bnGeom{n: x[0].Shape[0], c: c, s: tensor.Numel(x[0].Shape[2:])}
}

// Shape returns the shape of x.
func (b BatchNorm2dEval[T]) Shape(x []*tensor.Dense[T]) []int {
	checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	return x[0].Shape
}

func (b BatchNorm2dEval[T]) invStd(c int) float64 {
	return 1 / math.Sqrt(float64(b.RunningVar[c])+b.Eps)
}

// bnChan holds channel c's coefficients in eval mode: s = 1/√(σ² + ε),
// a = γ s, μ, β and the tangents' γ̇ and β̇ (zero for nil tangents).
type bnChan struct{ s, a, mu, beta, gd, bd float64 }

// channels returns every channel's coefficients, computed as the sweeps
// always computed them (xDot may be nil).
func (b BatchNorm2dEval[T]) channels(x, xDot []*tensor.Dense[T]) []bnChan {
	cs := make([]bnChan, len(b.RunningMean))
	for c := range cs {
		s := b.invStd(c)
		k := bnChan{s: s, a: float64(x[1].Data[c]) * s, mu: float64(b.RunningMean[c]), beta: float64(x[2].Data[c])}
		if xDot != nil {
			k.gd, k.bd = tangentCoefs(xDot, c)
		}
		cs[c] = k
	}
	return cs
}

// Forward computes y = γ s (x − μ) + β.
func (b BatchNorm2dEval[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	cs := b.channels(x, nil)
	forEachChannelRun(g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			kernels.AffineTo(bnSeg(g, y.Data, n, c), bnSeg(g, x[0].Data, n, c), k.a, k.mu, k.beta)
		}
	})
}

// tangentCoefs returns γ̇ and β̇ of channel c (zero for nil tangents).
func tangentCoefs[T tensor.Float](xDot []*tensor.Dense[T], c int) (gd, bd float64) {
	if xDot[1] != nil {
		gd = float64(xDot[1].Data[c])
	}
	if xDot[2] != nil {
		bd = float64(xDot[2].Data[c])
	}
	return gd, bd
}

// JVP computes ẏ = (γ̇ s (x − μ) + β̇) + γ s ẋ, the first sum rounded to T
// as ForwardJVP rounds it.
func (b BatchNorm2dEval[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	cs := b.channels(x, xDot)
	forEachChannelRun(g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			dst := bnSeg(g, yDot.Data, n, c)
			kernels.AffineTo(dst, bnSeg(g, x[0].Data, n, c), k.gd*k.s, k.mu, k.bd)
			if xDot[0] != nil {
				for i, v := range bnSeg(g, xDot[0].Data, n, c)[:len(dst)] {
					dst[i] = T(float64(dst[i]) + float64(k.a*float64(v)))
				}
			}
		}
	})
}

// VJP adds γ s ȳ to x̄, Σ ȳ s (x − μ) to γ̄ and Σ ȳ to β̄.
func (b BatchNorm2dEval[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	b.vjp(xBar, yBar, x, nil, nil)
}

// vjp is VJP, or, if reluY is non-nil, the VJP of a BatchNorm followed by
// a ReLU with output reluY whose cotangent is ȳ: the BatchNorm's cotangent
// is then u = 0 + 1[reluY>0]·ȳ, also added to sBar if that is non-nil (a
// shortcut added before the ReLU, as Add's VJP does). u is formed in
// registers (kernels.AffineReLUVJP, AffineAddReLUVJP) when x̄ and γ̄ or β̄
// are wanted, else segment by segment in cache.
func (b BatchNorm2dEval[T]) vjp(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], reluY, sBar *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	fused := reluY != nil && xBar[0] != nil && (xBar[1] != nil || xBar[2] != nil)
	fx, fs := b.isFresh(0), b.isFresh(3)
	// The fused sweeps write uncleared cotangents instead of adding to
	// them where all of a sweep's are uncleared (the bits of clearing them
	// first).
	write := fused && fx && (sBar == nil || fs)
	reluVJP, shortcutVJP := kernels.AffineReLUVJP[T], kernels.AffineAddReLUVJP[T]
	if write {
		reluVJP, shortcutVJP = kernels.AffineReLUVJPTo[T], kernels.AffineAddReLUVJPTo[T]
	}
	cs := b.channels(x, nil)
	forEachChannelPart(g, func(lo, hi int) {
		var u []T
		if reluY != nil && !fused {
			p := getScratch[T](g.s)
			defer putScratch(p)
			u = *p
		}
		all := make([][2]kernels.Lanes, hi-lo) // per channel: Σ ȳ, Σ ȳ (x − μ)
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				a, mu, sums := cs[c].a, cs[c].mu, &all[c-lo]
				if !write {
					clearSeg(g, xBar[0], fx, n, c)
					clearSeg(g, sBar, fs, n, c)
				}
				yb := bnSeg(g, yBar.Data, n, c)
				switch {
				case fused && sBar != nil:
					shortcutVJP(sums, bnSeg(g, xBar[0].Data, n, c), bnSeg(g, sBar.Data, n, c),
						bnSeg(g, x[0].Data, n, c), bnSeg(g, reluY.Data, n, c), yb, a, mu)
				case fused:
					reluVJP(sums, bnSeg(g, xBar[0].Data, n, c), bnSeg(g, x[0].Data, n, c),
						bnSeg(g, reluY.Data, n, c), yb, a, mu)
				case reluY != nil:
					clear(u)
					kernels.MaskAdd(u, bnSeg(g, reluY.Data, n, c), yb)
					if sBar != nil {
						kernels.Add(bnSeg(g, sBar.Data, n, c), u)
					}
					bnVJPSeg(g, sums, xBar, u, x, n, c, a, mu)
				default:
					bnVJPSeg(g, sums, xBar, yb, x, n, c, a, mu)
				}
			}
		}
		for c := lo; c < hi; c++ {
			bnParamGrads(xBar, &all[c-lo], c, cs[c].s)
		}
	})
}

// bnVJPSeg does the VJP of ȳ on the segment of image n, channel c (yb is
// ȳ's segment): x̄ += a ȳ and the sums Σ ȳ, Σ ȳ (x − μ) if γ̄ or β̄ is wanted.
func bnVJPSeg[T tensor.Float](g bnGeom, sums *[2]kernels.Lanes, xBar []*tensor.Dense[T], yb []T, x []*tensor.Dense[T], n, c int, a, mu float64) {
	xs := bnSeg(g, x[0].Data, n, c)
	switch doSums := xBar[1] != nil || xBar[2] != nil; {
	case doSums && xBar[0] != nil:
		kernels.CenteredSumsScaleAdd(sums, bnSeg(g, xBar[0].Data, n, c), yb, xs, a, mu)
	case doSums:
		kernels.CenteredSums(sums, yb, xs, mu)
	case xBar[0] != nil:
		kernels.ScaleAdd(bnSeg(g, xBar[0].Data, n, c), yb, a)
	}
}

// bnParamGrads adds s Σ ȳ (x − μ) to γ̄ and Σ ȳ to β̄ of channel c.
func bnParamGrads[T tensor.Float](xBar []*tensor.Dense[T], sums *[2]kernels.Lanes, c int, s float64) {
	if xBar[1] != nil {
		xBar[1].Data[c] += T(s * sums[1].Sum())
	}
	if xBar[2] != nil {
		xBar[2].Data[c] += T(sums[0].Sum())
	}
}

// CurvatureVJP adds γ̇ s ȳ to x̄̇ and Σ ȳ s ẋ to γ̄̇.
func (b BatchNorm2dEval[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	doX := xBarDot[0] != nil && xDot[1] != nil
	doG := xBarDot[1] != nil && xDot[0] != nil
	if !doX && !doG {
		return
	}
	cs := b.channels(x, xDot)
	forEachChannelPart(g, func(lo, hi int) {
		sums := make([]kernels.Lanes, hi-lo) // per channel: Σ ȳ ẋ
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				yb := bnSeg(g, yBar.Data, n, c)
				if doX {
					kernels.ScaleAdd(bnSeg(g, xBarDot[0].Data, n, c), yb, cs[c].gd*cs[c].s)
				}
				if doG {
					kernels.Dot(&sums[c-lo], yb, bnSeg(g, xDot[0].Data, n, c))
				}
			}
		}
		if doG {
			for c := lo; c < hi; c++ {
				xBarDot[1].Data[c] += T(cs[c].s * sums[c-lo].Sum())
			}
		}
	})
}

// ForwardJVP computes y and ẏ in one sweep over x, with the arithmetic of
// Forward and JVP (so the same bits).
func (b BatchNorm2dEval[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	cs := b.channels(x, xDot)
	forEachChannelRun(g, func(n, lo, hi int) {
		for c := lo; c < hi; c++ {
			k := cs[c]
			xs := bnSeg(g, x[0].Data, n, c)
			dst, dstDot := bnSeg(g, y.Data, n, c), bnSeg(g, yDot.Data, n, c)
			if xDot[0] == nil {
				kernels.AffineTo(dst, xs, k.a, k.mu, k.beta)
				kernels.AffineTo(dstDot, xs, k.gd*k.s, k.mu, k.bd)
				continue
			}
			kernels.AffineJVPTo(dst, dstDot, xs, bnSeg(g, xDot[0].Data, n, c), k.a, k.gd*k.s, k.mu, k.beta, k.bd)
		}
	})
}

// VJPPair does VJP of ȳ, VJP of ȳ̇ and CurvatureVJP in one sweep over x,
// ẋ, ȳ and ȳ̇ when all of them are wanted (kernels.AffineVJPPair), with
// their arithmetic and in their order of accumulation (so the same bits).
func (b BatchNorm2dEval[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	b.vjpPair(xBar, xBarDot, yBar, yBarDot, x, xDot, nil, nil, nil)
}

// pairAll reports whether VJPPair has every product to do (a parameter
// HVP), and so sweeps once per segment. γ̄ and β̄ need not be wanted (a
// product without the gradient): the sweep forms their sums anyway, at no
// extra pass over memory, and bnParamGrads drops them.
func pairAll[T tensor.Float](xBar, xBarDot []*tensor.Dense[T], yBarDot *tensor.Dense[T], xDot []*tensor.Dense[T]) bool {
	return xBar[0] != nil && yBarDot != nil && xDot != nil &&
		xBarDot[0] != nil && xDot[1] != nil && xBarDot[1] != nil && xDot[0] != nil
}

// vjpPair is VJPPair; with a non-nil reluY, that of the BatchNorm followed
// by a ReLU of output reluY (the cotangents ȳ, ȳ̇ are the ReLU's, whose
// cotangents u = 0 + 1[reluY>0]·ȳ and u̇ are the BatchNorm's), and then
// u and u̇ are also added to sBar and sBarDot if those are non-nil (a
// shortcut added before the ReLU, as Add's VJP does). When pairAll, all of
// it is one sweep per segment (kernels.AffineReLUVJPPair,
// AffineAddReLUVJPPair); otherwise the ReLU's VJPs go first, into scratch
// cotangents.
func (b BatchNorm2dEval[T]) vjpPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], reluY, sBar, sBarDot *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	var xd, gDot *tensor.Dense[T]
	if xDot != nil {
		xd, gDot = xDot[0], xDot[1]
	}
	doYd := yBarDot != nil
	curvX := xBarDot[0] != nil && gDot != nil // x̄̇ += γ̇ s ȳ
	curvG := xBarDot[1] != nil && xd != nil   // γ̄̇ += Σ ȳ s ẋ
	all := pairAll(xBar, xBarDot, yBarDot, xDot)
	fx, fxd, fs, fsd := b.isFresh(0), b.isFresh(32), b.isFresh(3), b.isFresh(35)
	if reluY != nil && (!all || (sBar == nil) != (sBarDot == nil)) {
		clearFresh(sBar, fs)
		clearFresh(sBarDot, fsd)
		// The ReLU's VJPs first (the shortcut's added now), into scratch
		// cotangents; or, with one shortcut cotangent only, that one's.
		if all {
			for _, sb := range []struct{ bar, yb *tensor.Dense[T] }{{sBar, yBar}, {sBarDot, yBarDot}} {
				if sb.bar != nil {
					putScratchDense(addReLUCotangent(sb.bar, sb.yb, reluY))
				}
			}
		} else {
			yBar = addReLUCotangent(sBar, yBar, reluY)
			defer putScratchDense(yBar)
			if yBarDot != nil {
				yBarDot = addReLUCotangent(sBarDot, yBarDot, reluY)
				defer putScratchDense(yBarDot)
			}
			reluY = nil
		}
		sBar, sBarDot = nil, nil
	}
	// The ReLU sweeps write uncleared cotangents instead of adding to them
	// where all of a sweep's are uncleared (the bits of clearing them
	// first).
	write := all && reluY != nil && fx && fxd && (sBar == nil || fs && fsd)
	reluPair, shortcutPair := kernels.AffineReLUVJPPair[T], kernels.AffineAddReLUVJPPair[T]
	if write {
		reluPair, shortcutPair = kernels.AffineReLUVJPPairTo[T], kernels.AffineAddReLUVJPPairTo[T]
	}
	cs := b.channels(x, xDot)
	forEachChannelPart(g, func(lo, hi int) {
		// Per channel: Σ ȳ, Σ ȳ (x − μ), Σ ȳ̇, Σ ȳ̇ (x − μ), Σ ȳ ẋ.
		all5 := make([][5]kernels.Lanes, hi-lo)
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				s, mu, a := cs[c].s, cs[c].mu, cs[c].a
				var ad float64 // γ̇ s
				if curvX {
					ad = cs[c].gd * s
				}
				sums := &all5[c-lo]
				yDotSums := (*[2]kernels.Lanes)(sums[2:4])
				yb := bnSeg(g, yBar.Data, n, c)
				if !write {
					clearSeg(g, xBar[0], fx, n, c)
					clearSeg(g, xBarDot[0], fxd, n, c)
					clearSeg(g, sBar, fs, n, c)
					clearSeg(g, sBarDot, fsd, n, c)
				}
				switch {
				case all && reluY != nil && sBar != nil:
					shortcutPair(sums, bnSeg(g, xBar[0].Data, n, c), bnSeg(g, xBarDot[0].Data, n, c),
						bnSeg(g, sBar.Data, n, c), bnSeg(g, sBarDot.Data, n, c),
						bnSeg(g, x[0].Data, n, c), bnSeg(g, xd.Data, n, c), bnSeg(g, reluY.Data, n, c),
						yb, bnSeg(g, yBarDot.Data, n, c), a, ad, mu)
					continue
				case all && reluY != nil:
					reluPair(sums, bnSeg(g, xBar[0].Data, n, c), bnSeg(g, xBarDot[0].Data, n, c),
						bnSeg(g, x[0].Data, n, c), bnSeg(g, xd.Data, n, c), bnSeg(g, reluY.Data, n, c),
						yb, bnSeg(g, yBarDot.Data, n, c), a, ad, mu)
					continue
				case all:
					// A parameter HVP: everything in one sweep.
					kernels.AffineVJPPair(sums, bnSeg(g, xBar[0].Data, n, c), bnSeg(g, xBarDot[0].Data, n, c),
						bnSeg(g, x[0].Data, n, c), bnSeg(g, xd.Data, n, c), yb, bnSeg(g, yBarDot.Data, n, c), a, ad, mu)
					continue
				}
				bnVJPSeg(g, (*[2]kernels.Lanes)(sums[0:2]), xBar, bnSeg(g, yBar.Data, n, c), x, n, c, a, mu)
				if doYd {
					bnVJPSeg(g, yDotSums, xBarDot, bnSeg(g, yBarDot.Data, n, c), x, n, c, a, mu)
				}
				if curvX {
					kernels.ScaleAdd(bnSeg(g, xBarDot[0].Data, n, c), yb, ad)
				}
				if curvG {
					kernels.Dot(&sums[4], yb, bnSeg(g, xd.Data, n, c))
				}
			}
		}
		for c := lo; c < hi; c++ {
			s, sums := cs[c].s, &all5[c-lo]
			bnParamGrads(xBar, (*[2]kernels.Lanes)(sums[0:2]), c, s)
			if doYd {
				bnParamGrads(xBarDot, (*[2]kernels.Lanes)(sums[2:4]), c, s)
			}
			if curvG {
				xBarDot[1].Data[c] += T(s * sums[4].Sum())
			}
		}
	})
}
