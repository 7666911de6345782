package autodiff

import (
	"fmt"

	"hesscope/kernels"
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
	b.vjp(xBar, yBar, x, y, nil)
}

// CurvatureVJP adds BatchNorm2dTrain's curvature term for the cotangent
// 1[y>0]·ȳ.
func (b *BatchNorm2dTrainReLU[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	b.maskedCurvature(xBarDot, yBar, x, xDot, y)
}

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
		copy(yDot.Data, xDot[3].Data)
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
	b.vjp(xBar[:3], yBar, x[:3], y, xBar[3])
}

// CurvatureVJP adds BatchNorm2dTrain's curvature term for the cotangent
// 1[y>0]·ȳ (the shortcut's input enters linearly: no term of its own).
func (b *BatchNorm2dTrainAddReLU[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, _ *tensor.Dense[T]) {
	b.maskedCurvature(xBarDot[:3], yBar, x[:3], xDot[:3], y)
}

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
