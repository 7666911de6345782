package autodiff_test

import (
	"math"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/tensor"
)

// TestNetworkHessian builds the full Hessian of two tiny CNN losses over all
// their inputs (image and parameters) from the tape's Hessian-vector
// products, and compares it with central differences of the gradient and
// with its own transpose. Together the nets use every primitive.
func TestNetworkHessian(t *testing.T) {
	randn := gradcheck.Randn
	ce := func(tp *autodiff.Tape[T], z autodiff.Var) autodiff.Var {
		return tp.Apply(&autodiff.SoftmaxCrossEntropy[T]{Labels: []int{1, 2}}, z)
	}
	for _, c := range []struct {
		name string
		f    gradcheck.Func
		x    []*tensor.Dense[T]
	}{
		{
			// conv → bn(train) → tanh → maxpool → flatten → linear → CE.
			name: "conv-bntrain-tanh-pool",
			f: func(tp *autodiff.Tape[T], l []autodiff.Var) autodiff.Var {
				h := tp.Apply(autodiff.Conv2d[T]{Stride: 1, Padding: 1}, l[0], l[1], l[2])
				h = tp.Apply(&autodiff.BatchNorm2dTrain[T]{Eps: 1e-5}, h, l[3], l[4])
				h = tp.Apply(autodiff.Tanh[T]{}, h)
				h = tp.Apply(&autodiff.MaxPool2d[T]{Kernel: 2, Stride: 2}, h)
				h = tp.Apply(autodiff.Reshape[T]{Dims: []int{2, -1}}, h)
				return ce(tp, tp.Apply(autodiff.Linear[T]{}, h, l[5], l[6]))
			},
			x: []*tensor.Dense[T]{randn(1, 2, 1, 5, 5), randn(2, 2, 1, 3, 3), randn(3, 2),
				affine(randn(4, 2), 0.2, 1), randn(5, 2), randn(6, 3, 8), randn(7, 3)},
		},
		{
			// A residual block: conv → bn(eval) → softplus, + x, 1×1 conv
			// with stride 2, global average pool → linear → CE.
			name: "conv-bneval-softplus-add-gap",
			f: func(tp *autodiff.Tape[T], l []autodiff.Var) autodiff.Var {
				h := tp.Apply(autodiff.Conv2d[T]{Padding: 1}, l[0], l[1])
				h = tp.Apply(autodiff.BatchNorm2dEval[T]{RunningMean: []T{0.1, -0.2}, RunningVar: []T{0.8, 1.3}, Eps: 1e-5}, h, l[2], l[3])
				h = tp.Apply(autodiff.Softplus[T]{}, h)
				h = tp.Apply(autodiff.Add[T]{}, h, l[0])
				h = tp.Apply(autodiff.Conv2d[T]{Stride: 2}, h, l[4])
				h = tp.Apply(autodiff.GlobalAvgPool[T]{}, h)
				return ce(tp, tp.Apply(autodiff.Linear[T]{}, h, l[5], l[6]))
			},
			x: []*tensor.Dense[T]{randn(11, 2, 2, 4, 3), randn(12, 2, 2, 3, 3), affine(randn(13, 2), 0.2, 1),
				randn(14, 2), randn(15, 3, 2, 1, 1), randn(16, 3, 3), randn(17, 3)},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := gradcheck.DenseHessian(c.f, c.x)
			fd := gradcheck.FDHessian(c.f, c.x)
			var diff, asym, scale float64
			for i := range h {
				for j := range h[i] {
					diff = max(diff, math.Abs(h[i][j]-fd[i][j]))
					asym = max(asym, math.Abs(h[i][j]-h[j][i]))
					scale = max(scale, math.Abs(h[i][j]))
				}
			}
			t.Logf("%d×%d Hessian: max |H| %.3g, relative error vs FD %.2g, asymmetry %.2g", len(h), len(h), scale, diff/scale, asym/scale)
			if diff/scale > 1e-6 {
				t.Errorf("Hessian differs from finite differences by %g relative", diff/scale)
			}
			if asym/scale > 1e-12 {
				t.Errorf("Hessian is asymmetric by %g relative", asym/scale)
			}
		})
	}
}
