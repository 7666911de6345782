package autodiff

import (
	"fmt"

	"hesscope/tensor"
)

// GlobalAvgPool averages every channel of x, [N, C, H, W], over its H×W
// pixels (PyTorch's AdaptiveAvgPool2d(1) followed by flatten):
//
//	y[n,c] = (1/HW) Σ_{i,j} x[n,c,i,j]         y is [N, C]
//
// It is linear: ẏ is the average of ẋ, x̄[n,c,i,j] += ȳ[n,c]/HW, and there
// is no curvature term. Sums are accumulated in float64.
type GlobalAvgPool[T tensor.Float] struct{}

var _ Primitive[float64] = GlobalAvgPool[float64]{}

// Shape returns [N, C].
func (GlobalAvgPool[T]) Shape(x []*tensor.Dense[T]) []int {
	if len(x[0].Shape) != 4 || x[0].Shape[2]*x[0].Shape[3] == 0 {
		panic(fmt.Sprintf("autodiff: GlobalAvgPool of x %v, want [N, C, H, W]", x[0].Shape))
	}
	return []int{x[0].Shape[0], x[0].Shape[1]}
}

// Forward writes the channel means of x into y.
func (GlobalAvgPool[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	avgPoolTo(y.Data, x[0])
}

// JVP writes the channel means of ẋ into ẏ.
func (GlobalAvgPool[T]) JVP(yDot *tensor.Dense[T], _, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	avgPoolTo(yDot.Data, xDot[0])
}

func avgPoolTo[T tensor.Float](dst []T, x *tensor.Dense[T]) {
	hw := x.Shape[2] * x.Shape[3]
	forEachRow(len(dst), hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var s float64
			for _, v := range x.Data[i*hw : (i+1)*hw] {
				s += float64(v)
			}
			dst[i] = T(s / float64(hw))
		}
	})
}

// VJP spreads ȳ[n,c]/HW over the pixels of channel c of image n.
func (GlobalAvgPool[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] == nil {
		return
	}
	hw := x[0].Shape[2] * x[0].Shape[3]
	forEachRow(len(yBar.Data), hw, func(lo, hi int) {
		for i, v := range yBar.Data[lo:hi] {
			g := T(float64(v) / float64(hw))
			dst := xBar[0].Data[(lo+i)*hw : (lo+i+1)*hw]
			for j := range dst {
				dst[j] += g
			}
		}
	})
}
