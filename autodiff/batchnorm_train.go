package autodiff

import (
	"fmt"
	"math"

	"hesscope/kernels"
	"hesscope/tensor"
)

// BatchNorm2dTrain is PyTorch's nn.BatchNorm2d in training mode: every
// channel is normalised with the statistics of the batch itself. Inputs are
// (x, γ, β) with x of shape [N, C, H, W] (any [N, C, …] works) and γ, β of
// shape [C]; y has the shape of x. Per channel, over its M = N·H·W values:
//
//	μ = mean(x)    σ² = mean((x − μ)²)  (biased, as PyTorch normalises)
//	s = (σ² + ε)^(−1/2)    x̂ = (x − μ)·s    y = γ x̂ + β
//
// μ and σ² depend on x, which couples all values of a channel. With means
// over the channel's M values:
//
//	ẋ̂ = s(ẋ − mean ẋ − x̂·mean(x̂ ẋ))            ṡ = −s²·mean(x̂ ẋ)
//	ẏ  = γ ẋ̂ + γ̇ x̂ + β̇
//	x̄ += γ s (ȳ − a − x̂ b)    with a = mean ȳ, b = mean(ȳ x̂)
//	γ̄ += M b                  β̄ += M a
//
// The curvature term differentiates that VJP along (ẋ, γ̇) with ȳ fixed
// (a is constant, ḃ = mean(ȳ ẋ̂)):
//
//	x̄̇ += (γ̇ s + γ ṡ)(ȳ − a − x̂ b) − γ s (b ẋ̂ + ḃ x̂)
//	γ̄̇ += M ḃ                  β̄̇ += 0
//
// Forward keeps the batch statistics: BatchMean and UnbiasedBatchVar give
// what PyTorch folds into the running statistics (see UpdateRunningStats).
// M must exceed 1, as PyTorch requires in training. Arithmetic is in
// float64, by the kernels of BatchNorm2dEval (in assembly for float32): the
// statistics are sums over eight lanes (kernels.Lanes), and every
// derivative is one sweep writing a linear combination of ȳ, ẋ, x − μ and
// a constant (kernels.LinearTo, LinearAdd, LinearAdd2). Channels are
// processed in parallel.
type BatchNorm2dTrain[T tensor.Float] struct {
	Eps float64 // ε, added to σ² (PyTorch's default is 1e-5)

	mean, variance, invStd []float64 // per channel, from Forward (variance biased)
	m                      int       // values per channel
	fresh                  uint64    // freshWriter's bits: x̄ (1) holds garbage
}

// freshInputs: the input x's cotangent can be taken uncleared.
func (b *BatchNorm2dTrain[T]) freshInputs() uint64 { return 1 }

func (b *BatchNorm2dTrain[T]) withFresh(fresh uint64) Primitive[T] {
	c := *b
	c.fresh = fresh
	return &c
}

var _ Curved[float64] = (*BatchNorm2dTrain[float64])(nil)

func (b *BatchNorm2dTrain[T]) check(x []*tensor.Dense[T]) bnGeom {
	g := checkBatchNorm("BatchNorm2dTrain", x)
	if g.n*g.s < 2 {
		panic(fmt.Sprintf("autodiff: BatchNorm2dTrain of x %v needs more than one value per channel", x[0].Shape))
	}
	return g
}

// Shape returns the shape of x.
func (b *BatchNorm2dTrain[T]) Shape(x []*tensor.Dense[T]) []int {
	b.check(x)
	return x[0].Shape
}

// Forward computes the batch statistics and y = γ (x − μ) s + β.
func (b *BatchNorm2dTrain[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	b.forward(y, x, actNone, nil)
}

// bnIn returns segment (n, c) of x, the BatchNorm's input, or with a
// non-nil h (reluBefore) relu of it, formed in h.
func bnIn[T tensor.Float](g bnGeom, x []T, n, c int, h []T) []T {
	xs := bnSeg(g, x, n, c)
	if h == nil {
		return xs
	}
	kernels.MaskTo(h, xs, xs)
	return h
}

// bnAct is an activation fused with a BatchNorm2dTrain: applied to its
// output (actAfter: ReLU, or ReLU after adding a shortcut) or to its input
// (reluBefore).
type bnAct int

const (
	actNone bnAct = iota
	actAfter
	reluBefore
)

// forward is Forward; with actAfter, that of the BatchNorm followed by a
// ReLU (kernels.AffineReLUTo), or with a non-nil s of relu(BN(x) + s)
// (kernels.AffineAddReLUTo); with reluBefore, BN(relu(x)), relu(x) formed
// segment by segment in cache for the statistics (kernels.MaskTo) and in
// registers for y (kernels.ReLUAffineTo). The bits of the primitives one
// after the other, in the BatchNorm's sweeps.
//
// The channels are cut into one run per worker (forEachChannelPart), and
// each sweep (Σ x, by kernels.Sum; Σ (x − μ)²; y) goes through the images
// in order, reading an image's planes of the run's channels as one run of
// memory, as the eval-mode sweeps do (forEachChannelRun): each channel's
// sums are still added in image order, so the bits are those of a loop
// over one channel at a time, which read one plane every C planes (on
// the Xeon, 2 threads: ResNet-20's 16×16 and 8×8 layers' forward 0.68 and
// 0.74 of the time, its 32×32 one's 0.99; vjp, below, 0.65, 0.71 and
// 1.02; train-mode gradients, alternated BenchmarkModels binaries, four
// rounds: resnet20 0.95, c2 0.96, c1 0.97).
func (b *BatchNorm2dTrain[T]) forward(y *tensor.Dense[T], x []*tensor.Dense[T], act bnAct, short *tensor.Dense[T]) {
	g := b.check(x)
	b.m = g.n * g.s
	b.mean = make([]float64, g.c)
	b.variance = make([]float64, g.c)
	b.invStd = make([]float64, g.c)
	m := float64(b.m)
	forEachChannelPart(g, func(lo, hi int) {
		var h []T // relu(x)'s segment, with reluBefore
		if act == reluBefore {
			buf := getScratch[T](g.s)
			defer putScratch(buf)
			h = *buf
		}
		in := func(n, c int) []T { return bnIn(g, x[0].Data, n, c, h) }
		sums := make([]kernels.Lanes, 2*(hi-lo)) // Σ x, then Σ (x − μ)²
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				kernels.Sum(&sums[c-lo], in(n, c))
			}
		}
		for c := lo; c < hi; c++ {
			b.mean[c] = sums[c-lo].Sum() / m
		}
		ss := sums[hi-lo:]
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				kernels.CenteredSquares(&ss[c-lo], in(n, c), b.mean[c])
			}
		}
		for c := lo; c < hi; c++ {
			v := ss[c-lo].Sum() / m
			b.variance[c], b.invStd[c] = v, 1/math.Sqrt(v+b.Eps)
		}
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				mu, s := b.mean[c], b.invStd[c]
				gamma, beta := float64(x[1].Data[c]), float64(x[2].Data[c])
				dst, xs := bnSeg(g, y.Data, n, c), bnSeg(g, x[0].Data, n, c)
				switch {
				case short != nil:
					kernels.AffineAddReLUTo(dst, xs, bnSeg(g, short.Data, n, c), gamma*s, mu, beta)
				case act == actAfter:
					kernels.AffineReLUTo(dst, xs, gamma*s, mu, beta)
				case act == reluBefore:
					kernels.ReLUAffineTo(dst, xs, gamma*s, mu, beta)
				default:
					kernels.AffineTo(dst, xs, gamma*s, mu, beta)
				}
			}
		}
	})
}

// BatchMean returns the per-channel mean μ of the batch seen by Forward.
func (b *BatchNorm2dTrain[T]) BatchMean() []T { return toT[T](b.mean, 1) }

// UnbiasedBatchVar returns the per-channel variance of the batch seen by
// Forward with Bessel's correction, σ²·M/(M − 1): the variance PyTorch folds
// into running_var (it normalises with the biased σ²).
func (b *BatchNorm2dTrain[T]) UnbiasedBatchVar() []T {
	return toT[T](b.variance, float64(b.m)/float64(b.m-1))
}

// UpdateRunningStats folds the batch statistics of Forward into running
// statistics as PyTorch does: r ← (1 − momentum)·r + momentum·batch, with the
// batch mean for runningMean and the unbiased batch variance for runningVar
// (PyTorch's default momentum is 0.1).
func (b *BatchNorm2dTrain[T]) UpdateRunningStats(runningMean, runningVar []T, momentum float64) {
	if len(runningMean) != len(b.mean) || len(runningVar) != len(b.mean) {
		panic(fmt.Sprintf("autodiff: BatchNorm2dTrain running statistics of %d and %d channels, want %d",
			len(runningMean), len(runningVar), len(b.mean)))
	}
	corr := float64(b.m) / float64(b.m-1)
	for c := range b.mean {
		runningMean[c] = T((1-momentum)*float64(runningMean[c]) + momentum*b.mean[c])
		runningVar[c] = T((1-momentum)*float64(runningVar[c]) + momentum*b.variance[c]*corr)
	}
}

func toT[T tensor.Float](v []float64, scale float64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x * scale)
	}
	return out
}

// JVP computes ẏ = γ s (ẋ − mean ẋ − x̂·mean(x̂ ẋ)) + γ̇ x̂ + β̇, as
// γs·ẋ + (γ̇s − γs²·mean(x̂ ẋ))(x − μ) + (β̇ − γs·mean ẋ).
func (b *BatchNorm2dTrain[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := b.check(x)
	m := float64(b.m)
	forEachChannelPart(g, func(lo, hi int) {
		// Per channel, ẏ = k₀·ẋ + k₁·(x − μ) + k₂ (k₀ = 0 without ẋ).
		coef := make([][3]float64, hi-lo)
		if xDot[0] != nil {
			sums := make([][2]kernels.Lanes, hi-lo) // Σ ẋ, Σ ẋ (x − μ)
			for n := 0; n < g.n; n++ {
				for c := lo; c < hi; c++ {
					kernels.CenteredSums(&sums[c-lo], bnSeg(g, xDot[0].Data, n, c), bnSeg(g, x[0].Data, n, c), b.mean[c])
				}
			}
			for c := lo; c < hi; c++ {
				s, gamma := b.invStd[c], float64(x[1].Data[c])
				gd, bd := tangentCoefs(xDot, c)
				meanD, meanHD := sums[c-lo][0].Sum()/m, s*sums[c-lo][1].Sum()/m
				gs := gamma * s
				coef[c-lo] = [3]float64{gs, gd*s - gs*s*meanHD, bd - gs*meanD}
			}
		} else {
			for c := lo; c < hi; c++ {
				gd, bd := tangentCoefs(xDot, c)
				coef[c-lo] = [3]float64{0, gd * b.invStd[c], bd}
			}
		}
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				k, mu := coef[c-lo], b.mean[c]
				dst, xs := bnSeg(g, yDot.Data, n, c), bnSeg(g, x[0].Data, n, c)
				if xDot[0] == nil {
					kernels.AffineTo(dst, xs, k[1], mu, k[2])
					continue
				}
				kernels.LinearTo(dst, bnSeg(g, xDot[0].Data, n, c), xs, k[0], k[1], mu, k[2])
			}
		}
	})
}

// VJP adds γ s (ȳ − mean ȳ − x̂·mean(ȳ x̂)) to x̄, Σ ȳ x̂ to γ̄ and Σ ȳ to β̄.
// A fresh x̄ (freshWriter) is written, kernels.LinearTo instead of clearing
// and kernels.LinearAdd: the bits of adding to a cleared one but for the
// sign of an exact zero (−0 stays −0, as in the ReLU's fresh writes).
func (b *BatchNorm2dTrain[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	b.vjp(xBar, yBar, x, actNone, nil, nil)
}

// vjp is VJP of the BatchNorm fused with act, as forward. With actAfter,
// y is the ReLU's output and ȳ its cotangent: the BatchNorm's cotangent
// u = 1[y>0]·ȳ is formed segment by segment (the S values of one image and
// channel), where the ReLU's VJP would have written it whole and the
// BatchNorm's read it twice, in the sweep that sums it
// (kernels.AffineReLUVJPTo, as u = 0 + ȳ where y > 0), which also adds it
// to sBar if that is not nil (a shortcut added before the ReLU, as Add's
// VJP does; written where sBar is fresh, kernels.AffineAddReLUVJPTo); a
// fresh x̄ holds u between the two sweeps (the first writes it, the second
// overwrites it with x̄), otherwise u is formed in each sweep into a
// buffer that stays in cache. With reluBefore, the BatchNorm's input
// h = relu(x) and its cotangent h̄ (kernels.LinearTo, as BatchNorm2dTrain
// writes an uncleared one) are formed segment by segment in cache, and h̄
// passed back through the ReLU: x̄ += 1[x>0]·h̄ (written where x̄ is fresh,
// kernels.MaskTo, as the ReLU's VJP writes one). The values, and so the
// bits (but for the sign of a zero, see VJP), are those of the primitives
// one after the other. Both sweeps read runs of channels image by image,
// as forward's do.
func (b *BatchNorm2dTrain[T]) vjp(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], act bnAct, y, sBar *tensor.Dense[T]) {
	g := b.check(x)
	m := float64(b.m)
	fresh := xBar[0] != nil && b.fresh&1 != 0
	freshS := sBar != nil && b.fresh&(1<<3) != 0 // BatchNorm2dTrainAddReLU's s̄, uncleared
	inX := fresh && act == actAfter              // u kept in x̄
	write, mask := kernels.LinearAdd[T], kernels.MaskAdd[T]
	if fresh {
		write, mask = kernels.LinearTo[T], kernels.MaskTo[T]
	}
	forEachChannelPart(g, func(lo, hi int) {
		// h: relu(x) (reluBefore); tmp: u (actAfter) or h̄ (reluBefore).
		var h, tmp []T
		if act == reluBefore || act == actAfter && !inX {
			p, seg := segScratch[T](g, 2)
			defer putScratch(p)
			tmp = seg[1]
			if act == reluBefore {
				h = seg[0]
			}
		}
		// sum adds image n's share of channel c's sums Σ u and
		// Σ u·(x − μ) (with reluBefore Σ ȳ·(h − μ)) to s; with actAfter it
		// forms u in x̄ (inX) or tmp, and adds it to sBar.
		sum := func(s *[2]kernels.Lanes, n, c int, mu float64) {
			if act != actAfter {
				kernels.CenteredSums(s, bnSeg(g, yBar.Data, n, c), bnIn(g, x[0].Data, n, c, h), mu)
				return
			}
			u := tmp
			if inX {
				u = bnSeg(g, xBar[0].Data, n, c)
			}
			xs, ys, yb := bnSeg(g, x[0].Data, n, c), bnSeg(g, y.Data, n, c), bnSeg(g, yBar.Data, n, c)
			if freshS {
				kernels.AffineAddReLUVJPTo(s, u, bnSeg(g, sBar.Data, n, c), xs, ys, yb, 1, mu)
				return
			}
			kernels.AffineReLUVJPTo(s, u, xs, ys, yb, 1, mu)
			if sBar != nil {
				kernels.Add(bnSeg(g, sBar.Data, n, c), u)
			}
		}
		// cot returns the BatchNorm's cotangent of image n, channel c, for
		// the second sweep.
		cot := func(n, c int) []T {
			yb := bnSeg(g, yBar.Data, n, c)
			switch {
			case act != actAfter:
				return yb
			case inX:
				return bnSeg(g, xBar[0].Data, n, c)
			}
			kernels.MaskTo(tmp, bnSeg(g, y.Data, n, c), yb)
			return tmp
		}
		sums := make([][2]kernels.Lanes, hi-lo) // Σ ȳ, Σ ȳ (x − μ)
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				sum(&sums[c-lo], n, c, b.mean[c])
			}
		}
		if xBar[0] != nil {
			// Per channel, x̄ = k₀·u + k₁·(x − μ) + k₂ with u the
			// BatchNorm's cotangent (cot).
			coef := make([][3]float64, hi-lo)
			for c := lo; c < hi; c++ {
				s, gamma := b.invStd[c], float64(x[1].Data[c])
				a, bb, gs := sums[c-lo][0].Sum()/m, s*sums[c-lo][1].Sum()/m, gamma*s
				coef[c-lo] = [3]float64{gs, -gs * s * bb, -gs * a}
			}
			for n := 0; n < g.n; n++ {
				for c := lo; c < hi; c++ {
					k, mu := coef[c-lo], b.mean[c]
					dst := bnSeg(g, xBar[0].Data, n, c)
					if act == reluBefore {
						kernels.LinearTo(tmp, cot(n, c), bnIn(g, x[0].Data, n, c, h), k[0], k[1], mu, k[2])
						mask(dst, bnSeg(g, x[0].Data, n, c), tmp)
						continue
					}
					write(dst, cot(n, c), bnSeg(g, x[0].Data, n, c), k[0], k[1], mu, k[2])
				}
			}
		}
		for c := lo; c < hi; c++ {
			bnParamGrads(xBar, &sums[c-lo], c, b.invStd[c])
		}
	})
}

// CurvatureVJP adds (γ̇ s + γ ṡ)(ȳ − a − x̂ b) − γ s (b ẋ̂ + ḃ x̂) to x̄̇ and
// M ḃ to γ̄̇, where a = mean ȳ, b = mean(ȳ x̂), ṡ = −s²·mean(x̂ ẋ),
// ẋ̂ = s(ẋ − mean ẋ − x̂·mean(x̂ ẋ)) and ḃ = mean(ȳ ẋ̂). With x̂ = s(x − μ)
// and k = γ̇ s + γ ṡ, x̄̇ gets one linear combination
//
//	k·ȳ − γs²b·ẋ + (−k b s − γs²ḃ + γs³b·mean(x̂ ẋ))(x − μ) + (−k a + γs²b·mean ẋ).
func (b *BatchNorm2dTrain[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	g := b.check(x)
	doX := xBarDot[0] != nil && (xDot[0] != nil || xDot[1] != nil)
	doG := xBarDot[1] != nil && xDot[0] != nil
	if !doX && !doG {
		return
	}
	m := float64(b.m)
	forEachChannelPart(g, func(lo, hi int) {
		// Per channel: Σ ȳ, Σ ȳ (x − μ) and, with a tangent ẋ, Σ ẋ,
		// Σ ẋ (x − μ), Σ ȳ ẋ.
		ys, ds := make([][2]kernels.Lanes, hi-lo), make([][2]kernels.Lanes, hi-lo)
		yd := make([]kernels.Lanes, hi-lo)
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				yb, xs := bnSeg(g, yBar.Data, n, c), bnSeg(g, x[0].Data, n, c)
				kernels.CenteredSums(&ys[c-lo], yb, xs, b.mean[c])
				if xDot[0] != nil {
					xd := bnSeg(g, xDot[0].Data, n, c)
					kernels.CenteredSums(&ds[c-lo], xd, xs, b.mean[c])
					kernels.Dot(&yd[c-lo], yb, xd)
				}
			}
		}
		// Per channel, x̄̇ += k₀·ȳ + k₁·ẋ + k₂·(x − μ) + k₃.
		coef := make([][4]float64, hi-lo)
		for c := lo; c < hi; c++ {
			s, gamma := b.invStd[c], float64(x[1].Data[c])
			gd, _ := tangentCoefs(xDot, c)
			a, bb := ys[c-lo][0].Sum()/m, s*ys[c-lo][1].Sum()/m
			meanD, meanHD := ds[c-lo][0].Sum()/m, s*ds[c-lo][1].Sum()/m
			sDot := -s * s * meanHD
			// ḃ = mean(ȳ ẋ̂) = s(mean(ȳ ẋ) − a·mean ẋ − b·mean(x̂ ẋ)).
			bDot := s * (yd[c-lo].Sum()/m - a*meanD - bb*meanHD)
			if doG {
				xBarDot[1].Data[c] += T(m * bDot)
			}
			k, gs2 := gd*s+gamma*sDot, gamma*s*s
			q, r := -k*bb*s-gs2*bDot, -k*a
			coef[c-lo] = [4]float64{k, -gs2 * bb, q + gs2*s*bb*meanHD, r + gs2*bb*meanD}
			if xDot[0] == nil {
				coef[c-lo] = [4]float64{k, 0, q, r}
			}
		}
		if !doX {
			return
		}
		for n := 0; n < g.n; n++ {
			for c := lo; c < hi; c++ {
				k, mu := coef[c-lo], b.mean[c]
				dst, yb, xs := bnSeg(g, xBarDot[0].Data, n, c), bnSeg(g, yBar.Data, n, c), bnSeg(g, x[0].Data, n, c)
				if xDot[0] == nil {
					kernels.LinearAdd(dst, yb, xs, k[0], k[2], mu, k[3])
					continue
				}
				kernels.LinearAdd2(dst, yb, bnSeg(g, xDot[0].Data, n, c), xs, k[0], k[1], k[2], mu, k[3])
			}
		}
	})
}
