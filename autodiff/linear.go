package autodiff

import (
	"fmt"

	"hesscope/kernels"
	"hesscope/tensor"
)

// Linear is y = x·Wᵀ + b for x of shape [N, in], W of shape [out, in]
// (PyTorch's layout) and an optional bias b of shape [out]; y is [N, out].
// Inputs are (x, W) or (x, W, b).
//
// It is bilinear in (x, W), so every derivative is the op or its VJP again:
//
//	ẏ   = ẋ·Wᵀ + x·Ẇᵀ + ḃ
//	x̄  += ȳ·W        W̄ += ȳᵀ·x        b̄ += Σₙ ȳ
//	curvature: x̄̇ += ȳ·Ẇ,  W̄̇ += ȳᵀ·ẋ
type Linear[T tensor.Float] struct{}

func (Linear[T]) Shape(x []*tensor.Dense[T]) []int {
	in, w := x[0], x[1]
	if len(in.Shape) != 2 || len(w.Shape) != 2 || in.Shape[1] != w.Shape[1] {
		panic(fmt.Sprintf("autodiff: Linear of x %v and W %v", in.Shape, w.Shape))
	}
	if len(x) == 3 && (len(x[2].Shape) != 1 || x[2].Shape[0] != w.Shape[0]) {
		panic(fmt.Sprintf("autodiff: Linear bias %v for W %v", x[2].Shape, w.Shape))
	}
	return []int{in.Shape[0], w.Shape[0]}
}

func (Linear[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	var b *tensor.Dense[T]
	if len(x) == 3 {
		b = x[2]
	}
	linearTo(y, x[0], x[1], b, 0)
}

// linearTo computes y = x·Wᵀ + b + beta·y; nil x, W or b count as zero.
func linearTo[T tensor.Float](y, x, w, b *tensor.Dense[T], beta T) {
	n, out := y.Shape[0], y.Shape[1]
	if b != nil {
		for i := 0; i < n; i++ {
			row := y.Data[i*out : (i+1)*out]
			if beta == 0 {
				copy(row, b.Data)
				continue
			}
			for j := range row {
				row[j] = beta*row[j] + b.Data[j]
			}
		}
		beta = 1
	}
	if x == nil || w == nil {
		if beta == 0 {
			clear(y.Data)
		}
		return
	}
	in := w.Shape[1]
	kernels.Gemm(false, true, n, out, in, 1, x.Data, in, w.Data, in, beta, y.Data, out)
}

func (Linear[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	var bDot *tensor.Dense[T]
	if len(xDot) == 3 {
		bDot = xDot[2]
	}
	linearTo(yDot, xDot[0], x[1], bDot, 0)
	linearTo(yDot, x[0], xDot[1], nil, 1)
}

func (Linear[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	linearVJP(xBar, yBar, x[0], x[1])
}

// linearVJP adds ȳ·W to x̄, ȳᵀ·x to W̄ and Σȳ to b̄ (where those are non-nil).
func linearVJP[T tensor.Float](xBar []*tensor.Dense[T], yBar, x, w *tensor.Dense[T]) {
	n, out, in := yBar.Shape[0], yBar.Shape[1], w.Shape[1]
	if xBar[0] != nil {
		kernels.Gemm(false, false, n, in, out, 1, yBar.Data, out, w.Data, in, 1, xBar[0].Data, in)
	}
	if xBar[1] != nil {
		kernels.Gemm(true, false, out, in, n, 1, yBar.Data, out, x.Data, in, 1, xBar[1].Data, in)
	}
	if len(xBar) == 3 && xBar[2] != nil {
		for i := 0; i < n; i++ {
			kernels.Add(xBar[2].Data, yBar.Data[i*out:(i+1)*out])
		}
	}
}

func (Linear[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	n, out, in := yBar.Shape[0], yBar.Shape[1], x[1].Shape[1]
	if xBarDot[0] != nil && xDot[1] != nil {
		kernels.Gemm(false, false, n, in, out, 1, yBar.Data, out, xDot[1].Data, in, 1, xBarDot[0].Data, in)
	}
	if xBarDot[1] != nil && xDot[0] != nil {
		kernels.Gemm(true, false, out, in, n, 1, yBar.Data, out, xDot[0].Data, in, 1, xBarDot[1].Data, in)
	}
}
