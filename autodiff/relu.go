package autodiff

import (
	"hesscope/kernels"
	"hesscope/tensor"
)

// ReLU is y = max(x, 0) elementwise, with PyTorch's convention relu′(0) = 0.
// It is piecewise linear: ẏ = 1[x>0]·ẋ, x̄ += 1[x>0]·ȳ, and no curvature term.
// A NaN in x gives y = 0 and a zero derivative (x > 0 is false).
//
// The mask 1[x>0] is applied without branches by kernels.MaskTo and its
// relatives (vector compares and masked loads in assembly), so a masked-out
// element contributes exactly +0. Work is spread over the goroutines by
// contiguous spans, each element written by one of them. Its cotangents
// are written fresh where the tape allows (freshWriter: kernels.MaskTo
// instead of clearing and kernels.MaskAdd).
type ReLU[T tensor.Float] struct {
	fresh uint64 // freshWriter's bits: x̄ (1) and x̄̇ (1<<32) hold garbage
}

var (
	_ PairJVP[float64]     = ReLU[float64]{}
	_ PairVJP[float64]     = ReLU[float64]{}
	_ freshWriter[float64] = ReLU[float64]{}
)

func (ReLU[T]) freshInputs() uint64 { return 1 }

func (ReLU[T]) withFresh(fresh uint64) Primitive[T] { return ReLU[T]{fresh: fresh} }

// reluVJP writes (to) or adds 1[x>0]·v into dst.
func reluVJP[T tensor.Float](dst, x, v []T, to bool) {
	mask := kernels.MaskAdd[T]
	if to {
		mask = kernels.MaskTo[T]
	}
	forEachSpan(len(x), func(lo, hi int) { mask(dst[lo:hi], x[lo:hi], v[lo:hi]) })
}

// Shape returns the shape of x.
func (ReLU[T]) Shape(x []*tensor.Dense[T]) []int { return x[0].Shape }

// Forward computes y = 1[x>0]·x.
func (ReLU[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) { maskTo(y, x[0], x[0]) }

// imageForward computes Forward's images (the slices of x along its first
// dimension) one by one (imageWise).
func (ReLU[T]) imageForward(y *tensor.Dense[T], x []*tensor.Dense[T]) func(n0, cnt int) {
	per := len(y.Data) / max(1, y.Shape[0])
	return func(n0, cnt int) {
		lo, hi := n0*per, (n0+cnt)*per
		kernels.MaskTo(y.Data[lo:hi], x[0].Data[lo:hi], x[0].Data[lo:hi])
	}
}

// JVP computes ẏ = 1[x>0]·ẋ.
func (ReLU[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	maskTo(yDot, x[0], xDot[0])
}

// maskTo writes dst = 1[m>0]·v (kernels.MaskTo) over the CPUs: a ReLU's
// value, tangent or (written whole) cotangent, m its input or output.
func maskTo[T tensor.Float](dst, m, v *tensor.Dense[T]) {
	forEachSpan(len(dst.Data), func(lo, hi int) { kernels.MaskTo(dst.Data[lo:hi], m.Data[lo:hi], v.Data[lo:hi]) })
}

// ForwardJVP computes y = 1[x>0]·x and ẏ = 1[x>0]·ẋ in one sweep.
func (ReLU[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	xs, xd := x[0].Data, xDot[0].Data
	forEachSpan(len(y.Data), func(lo, hi int) {
		kernels.MaskTo2(y.Data[lo:hi], xs[lo:hi], yDot.Data[lo:hi], xd[lo:hi], xs[lo:hi])
	})
}

// VJP adds 1[x>0]·ȳ to x̄.
func (r ReLU[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] != nil {
		reluVJP(xBar[0].Data, x[0].Data, yBar.Data, r.fresh&1 != 0)
	}
}

// VJPPair adds 1[x>0]·ȳ to x̄ and 1[x>0]·ȳ̇ to x̄̇ in one sweep over x.
func (r ReLU[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, _ []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	to, toDot := r.fresh&1 != 0, r.fresh>>32&1 != 0
	xs := x[0].Data
	switch {
	case xBar[0] == nil:
		if yBarDot != nil {
			reluVJP(xBarDot[0].Data, xs, yBarDot.Data, toDot)
		}
		return
	case yBarDot == nil:
		reluVJP(xBar[0].Data, xs, yBar.Data, to)
		return
	case to != toDot:
		reluVJP(xBar[0].Data, xs, yBar.Data, to)
		reluVJP(xBarDot[0].Data, xs, yBarDot.Data, toDot)
		return
	}
	mask2 := kernels.MaskAdd2[T]
	if to {
		mask2 = kernels.MaskTo2[T]
	}
	dst, dstDot := xBar[0].Data, xBarDot[0].Data
	forEachSpan(len(xs), func(lo, hi int) {
		mask2(dst[lo:hi], yBar.Data[lo:hi], dstDot[lo:hi], yBarDot.Data[lo:hi], xs[lo:hi])
	})
}
