package autodiff

import (
	"fmt"
	"math"

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
// Arithmetic is in float64; channels are processed in parallel.
type BatchNorm2dEval[T tensor.Float] struct {
	RunningMean []T     // μ, one per channel
	RunningVar  []T     // σ², one per channel
	Eps         float64 // ε, added to σ² (PyTorch's default is 1e-5)
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

// Forward computes y = γ s (x − μ) + β.
func (b BatchNorm2dEval[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	forEachPart(g.c, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			a, mu, beta := float64(x[1].Data[c])*b.invStd(c), float64(b.RunningMean[c]), float64(x[2].Data[c])
			for n := 0; n < g.n; n++ {
				dst := bnSeg(g, y.Data, n, c)
				for i, v := range bnSeg(g, x[0].Data, n, c) {
					dst[i] = T(a*(float64(v)-mu) + beta)
				}
			}
		}
	})
}

// JVP computes ẏ = γ s ẋ + γ̇ s (x − μ) + β̇.
func (b BatchNorm2dEval[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	forEachPart(g.c, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			s, mu := b.invStd(c), float64(b.RunningMean[c])
			a := float64(x[1].Data[c]) * s
			var gd, bd float64
			if xDot[1] != nil {
				gd = float64(xDot[1].Data[c])
			}
			if xDot[2] != nil {
				bd = float64(xDot[2].Data[c])
			}
			for n := 0; n < g.n; n++ {
				dst := bnSeg(g, yDot.Data, n, c)
				for i, v := range bnSeg(g, x[0].Data, n, c) {
					dst[i] = T(gd*s*(float64(v)-mu) + bd)
				}
				if xDot[0] != nil {
					for i, v := range bnSeg(g, xDot[0].Data, n, c) {
						dst[i] = T(float64(dst[i]) + a*float64(v))
					}
				}
			}
		}
	})
}

// VJP adds γ s ȳ to x̄, Σ ȳ s (x − μ) to γ̄ and Σ ȳ to β̄.
func (b BatchNorm2dEval[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	forEachPart(g.c, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			s, mu := b.invStd(c), float64(b.RunningMean[c])
			a := float64(x[1].Data[c]) * s
			var sumY, sumYX float64
			for n := 0; n < g.n; n++ {
				xs := bnSeg(g, x[0].Data, n, c)
				yb := bnSeg(g, yBar.Data, n, c)[:len(xs)]
				switch {
				case (xBar[1] != nil || xBar[2] != nil) && xBar[0] != nil:
					dst := bnSeg(g, xBar[0].Data, n, c)[:len(xs)]
					for i, v := range xs {
						y := float64(yb[i])
						sumY += y
						sumYX += y * (float64(v) - mu)
						dst[i] += T(a * y)
					}
				case xBar[1] != nil || xBar[2] != nil:
					for i, v := range xs {
						sumY += float64(yb[i])
						sumYX += float64(yb[i]) * (float64(v) - mu)
					}
				case xBar[0] != nil:
					dst := bnSeg(g, xBar[0].Data, n, c)[:len(xs)]
					for i, v := range yb {
						dst[i] += T(a * float64(v))
					}
				}
			}
			if xBar[1] != nil {
				xBar[1].Data[c] += T(s * sumYX)
			}
			if xBar[2] != nil {
				xBar[2].Data[c] += T(sumY)
			}
		}
	})
}

// CurvatureVJP adds γ̇ s ȳ to x̄̇ and Σ ȳ s ẋ to γ̄̇.
func (b BatchNorm2dEval[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	doX := xBarDot[0] != nil && xDot[1] != nil
	doG := xBarDot[1] != nil && xDot[0] != nil
	if !doX && !doG {
		return
	}
	forEachPart(g.c, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			s := b.invStd(c)
			var sumYXd float64
			for n := 0; n < g.n; n++ {
				yb := bnSeg(g, yBar.Data, n, c)
				if doX {
					a := float64(xDot[1].Data[c]) * s
					dst := bnSeg(g, xBarDot[0].Data, n, c)
					for i, v := range yb {
						dst[i] += T(a * float64(v))
					}
				}
				if doG {
					for i, v := range bnSeg(g, xDot[0].Data, n, c) {
						sumYXd += float64(yb[i]) * float64(v)
					}
				}
			}
			if doG {
				xBarDot[1].Data[c] += T(s * sumYXd)
			}
		}
	})
}

// ForwardJVP computes y and ẏ in one sweep over x, with the arithmetic of
// Forward and JVP (so the same bits).
func (b BatchNorm2dEval[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	forEachPart(g.c, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			s, mu, beta := b.invStd(c), float64(b.RunningMean[c]), float64(x[2].Data[c])
			a := float64(x[1].Data[c]) * s
			var gd, bd float64
			if xDot[1] != nil {
				gd = float64(xDot[1].Data[c])
			}
			if xDot[2] != nil {
				bd = float64(xDot[2].Data[c])
			}
			for n := 0; n < g.n; n++ {
				xs := bnSeg(g, x[0].Data, n, c)
				dst, dstDot := bnSeg(g, y.Data, n, c)[:len(xs)], bnSeg(g, yDot.Data, n, c)[:len(xs)]
				if xDot[0] == nil {
					for i, v := range xs {
						dst[i] = T(a*(float64(v)-mu) + beta)
						dstDot[i] = T(gd*s*(float64(v)-mu) + bd)
					}
					continue
				}
				xd := bnSeg(g, xDot[0].Data, n, c)[:len(xs)]
				for i, v := range xs {
					dst[i] = T(a*(float64(v)-mu) + beta)
					dstDot[i] = T(float64(T(gd*s*(float64(v)-mu)+bd)) + a*float64(xd[i]))
				}
			}
		}
	})
}

// VJPPair does VJP of ȳ, VJP of ȳ̇ and CurvatureVJP in one sweep over x,
// ẋ, ȳ and ȳ̇, with their arithmetic and in their order of accumulation
// (so the same bits).
func (b BatchNorm2dEval[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	g := checkBatchNorm("BatchNorm2dEval", x, b.RunningMean, b.RunningVar)
	var xd, gDot *tensor.Dense[T]
	if xDot != nil {
		xd, gDot = xDot[0], xDot[1]
	}
	doX := xBar[0] != nil
	doSums := xBar[1] != nil || xBar[2] != nil
	doYd := yBarDot != nil
	curvX := xBarDot[0] != nil && gDot != nil // x̄̇ += γ̇ s ȳ
	curvG := xBarDot[1] != nil && xd != nil   // γ̄̇ += Σ ȳ s ẋ
	forEachPart(g.c, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			s, mu := b.invStd(c), float64(b.RunningMean[c])
			a := float64(x[1].Data[c]) * s
			var ad float64
			if curvX {
				ad = float64(gDot.Data[c]) * s
			}
			var sumY, sumYX, sumYd, sumYdX, sumYXd float64
			for n := 0; n < g.n; n++ {
				xs := bnSeg(g, x[0].Data, n, c)
				yb := bnSeg(g, yBar.Data, n, c)[:len(xs)]
				if doX && doSums && doYd && curvX && curvG {
					// Everything at once (a parameter HVP): the operations
					// of the cases below on each element, in their order.
					ybd := bnSeg(g, yBarDot.Data, n, c)[:len(xs)]
					xds := bnSeg(g, xd.Data, n, c)[:len(xs)]
					dst := bnSeg(g, xBar[0].Data, n, c)[:len(xs)]
					dstDot := bnSeg(g, xBarDot[0].Data, n, c)[:len(xs)]
					for i, v := range xs {
						y, yd, xc := float64(yb[i]), float64(ybd[i]), float64(v)-mu
						sumY += y
						sumYX += y * xc
						dst[i] += T(a * y)
						sumYd += yd
						sumYdX += yd * xc
						dstDot[i] = dstDot[i] + T(a*yd) + T(ad*y)
						sumYXd += y * float64(xds[i])
					}
					continue
				}
				if doSums {
					for i, v := range xs {
						sumY += float64(yb[i])
						sumYX += float64(yb[i]) * (float64(v) - mu)
					}
				}
				if doX {
					dst := bnSeg(g, xBar[0].Data, n, c)[:len(xs)]
					for i, v := range yb {
						dst[i] += T(a * float64(v))
					}
				}
				if doYd {
					ybd := bnSeg(g, yBarDot.Data, n, c)[:len(xs)]
					if doSums {
						for i, v := range xs {
							sumYd += float64(ybd[i])
							sumYdX += float64(ybd[i]) * (float64(v) - mu)
						}
					}
					if doX {
						dst := bnSeg(g, xBarDot[0].Data, n, c)[:len(xs)]
						for i, v := range ybd {
							dst[i] += T(a * float64(v))
						}
					}
				}
				if curvX {
					dst := bnSeg(g, xBarDot[0].Data, n, c)[:len(xs)]
					for i, v := range yb {
						dst[i] += T(ad * float64(v))
					}
				}
				if curvG {
					for i, v := range bnSeg(g, xd.Data, n, c)[:len(xs)] {
						sumYXd += float64(yb[i]) * float64(v)
					}
				}
			}
			if xBar[1] != nil {
				xBar[1].Data[c] += T(s * sumYX)
				if doYd {
					xBarDot[1].Data[c] += T(s * sumYdX)
				}
				if curvG {
					xBarDot[1].Data[c] += T(s * sumYXd)
				}
			}
			if xBar[2] != nil {
				xBar[2].Data[c] += T(sumY)
				if doYd {
					xBarDot[2].Data[c] += T(sumYd)
				}
			}
		}
	})
}
