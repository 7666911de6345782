package autodiff

import "hesscope/tensor"

// ReLU is y = max(x, 0) elementwise, with PyTorch's convention relu′(0) = 0.
// It is piecewise linear: ẏ = 1[x>0]·ẋ, x̄ += 1[x>0]·ȳ, and no curvature term.
type ReLU[T tensor.Float] struct{}

func (ReLU[T]) Shape(x []*tensor.Dense[T]) []int { return x[0].Shape }

func (ReLU[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	for i, v := range x[0].Data {
		if v > 0 {
			y.Data[i] = v
		} else {
			y.Data[i] = 0
		}
	}
}

func (ReLU[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	xd := xDot[0].Data
	for i, v := range x[0].Data {
		if v > 0 {
			yDot.Data[i] = xd[i]
		} else {
			yDot.Data[i] = 0
		}
	}
}

func (ReLU[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] == nil {
		return
	}
	dst := xBar[0].Data
	for i, v := range x[0].Data {
		if v > 0 {
			dst[i] += yBar.Data[i]
		}
	}
}
