package autodiff

import (
	"hesscope/kernels"
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
	h, hd, hb, hbd := reluParts(x, xDot)
	defer putAll(h, hd, hb, hbd)
	b.BatchNorm2dTrain.JVP(yDot, []*tensor.Dense[T]{h, x[1], x[2]}, []*tensor.Dense[T]{hd, xDot[1], xDot[2]}, nil)
}

// VJP adds BatchNorm2dTrain's VJP at h = relu(x) to γ̄ and β̄ and, passed
// back through the ReLU, to x̄: x̄ += 1[x>0]·h̄, h̄ formed segment by
// segment in cache as BatchNorm2dTrain writes an uncleared cotangent
// (kernels.LinearTo); a fresh x̄ is written (kernels.MaskTo, as the ReLU's
// VJP writes one).
func (b *ReLUBatchNorm2dTrain[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := b.check(x)
	m := float64(b.m)
	mask := kernels.MaskAdd[T]
	if b.fresh&1 != 0 {
		mask = kernels.MaskTo[T]
	}
	forEachPart(g.c, func(lo, hi int) {
		p, seg := segScratch[T](g, 2)
		defer putScratch(p)
		h, hb := seg[0], seg[1]
		for c := lo; c < hi; c++ {
			mu, s, gamma := b.mean[c], b.invStd[c], float64(x[1].Data[c])
			var sums [2]kernels.Lanes // Σ ȳ, Σ ȳ (h − μ)
			for n := 0; n < g.n; n++ {
				xs := bnSeg(g, x[0].Data, n, c)
				kernels.MaskTo(h, xs, xs)
				kernels.CenteredSums(&sums, bnSeg(g, yBar.Data, n, c), h, mu)
			}
			sumY, sumYH := sums[0].Sum(), s*sums[1].Sum() // Σ ȳ, Σ ȳ ĥ
			if xBar[0] != nil {
				a, bb, gs := sumY/m, sumYH/m, gamma*s
				for n := 0; n < g.n; n++ {
					xs := bnSeg(g, x[0].Data, n, c)
					kernels.MaskTo(h, xs, xs)
					kernels.LinearTo(hb, bnSeg(g, yBar.Data, n, c), h, gs, -gs*s*bb, mu, -gs*a)
					mask(bnSeg(g, xBar[0].Data, n, c), xs, hb)
				}
			}
			if xBar[1] != nil {
				xBar[1].Data[c] += T(sumYH)
			}
			if xBar[2] != nil {
				xBar[2].Data[c] += T(sumY)
			}
		}
	})
}

// CurvatureVJP adds BatchNorm2dTrain's curvature term at relu(x) along
// 1[x>0]·ẋ, passed back through the ReLU (which has none).
func (b *ReLUBatchNorm2dTrain[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	h, hd, hb, hbd := reluParts(x, xDot)
	defer putAll(h, hd, hb, hbd)
	b.BatchNorm2dTrain.CurvatureVJP([]*tensor.Dense[T]{hbd, xBarDot[1], xBarDot[2]}, yBar,
		[]*tensor.Dense[T]{h, x[1], x[2]}, []*tensor.Dense[T]{hd, xDot[1], xDot[2]}, nil, nil)
	if xBarDot[0] != nil {
		forEachSpan(len(h.Data), func(lo, hi int) {
			kernels.MaskAdd(xBarDot[0].Data[lo:hi], x[0].Data[lo:hi], hbd.Data[lo:hi])
		})
	}
}
