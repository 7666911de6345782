package autodiff

import (
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// TestTapeReusesGarbage runs a forward-over-reverse pass through every
// primitive twice on one tape, the second time with every pooled buffer
// filled with NaN first: the tape hands Forward and JVP outputs over without
// zeroing them, so a primitive that left an element unwritten would leak
// the NaN. The two passes must agree bit for bit.
func TestTapeReusesGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	randn := func(shape ...int) *tensor.Dense[float32] {
		d := tensor.New[float32](shape...)
		for i := range d.Data {
			d.Data[i] = float32(rng.NormFloat64())
		}
		return d
	}
	const n = 3
	leaves := []*tensor.Dense[float32]{
		randn(n, 2, 8, 8), randn(4, 2, 3, 3), randn(4), randn(4), randn(4), // x, conv1 W b, bn γ β
		randn(4, 4, 3, 3), randn(4), randn(4), // conv2 W, bn(train) γ β
		randn(5, 4), randn(5), // linear
	}
	tangents := make([]*tensor.Dense[float32], len(leaves))
	for i, l := range leaves {
		tangents[i] = randn(l.Shape...)
	}
	tp := NewTape[float32]()
	pass := func() []float32 {
		tp.Reset()
		v := make([]Var, len(leaves))
		for i, l := range leaves {
			v[i] = tp.Leaf(l, tangents[i], true)
		}
		h := tp.Apply(&Conv2d[float32]{Padding: 1}, v[0], v[1], v[2])
		h = tp.Apply(BatchNorm2dEval[float32]{RunningMean: []float32{0.1, 0, -0.1, 0.2}, RunningVar: []float32{1, 2, 0.5, 1}, Eps: 1e-5}, h, v[3], v[4])
		h = tp.Apply(ReLU[float32]{}, h)
		h = tp.Apply(&MaxPool2d[float32]{Kernel: 2, Stride: 2}, h)
		r := tp.Apply(&Conv2d[float32]{Padding: 1}, h, v[5], v[6])
		r = tp.Apply(&BatchNorm2dTrain[float32]{Eps: 1e-5}, r, v[6], v[7])
		r = tp.Apply(Tanh[float32]{}, r)
		h = tp.Apply(Add[float32]{}, h, r)
		h = tp.Apply(Softplus[float32]{}, h)
		h = tp.Apply(&MaxPool2d[float32]{Kernel: 3, Stride: 2, Padding: 1}, h)
		h = tp.Apply(Reshape[float32]{Dims: []int{n, 4, 2, 2}}, h)
		h = tp.Apply(GlobalAvgPool[float32]{}, h)
		h = tp.Apply(Linear[float32]{}, h, v[8], v[9])
		loss := tp.Apply(&SoftmaxCrossEntropy[float32]{Labels: []int{0, 4, 2}}, h)
		tp.Backward(loss)
		out := append([]float32{}, tp.Value(loss).Data...)
		for _, x := range v {
			out = append(out, tp.Grad(x).Data...)
			out = append(out, tp.GradDot(x).Data...)
		}
		return out
	}
	first := pass()
	tp.Reset()
	for _, free := range tp.pool {
		for _, b := range free {
			for i := range b.Data {
				b.Data[i] = float32(math.NaN())
			}
		}
	}
	second := pass()
	for i := range first {
		if math.Float32bits(first[i]) != math.Float32bits(second[i]) {
			t.Fatalf("value %d: %v on fresh buffers, %v on reused ones", i, first[i], second[i])
		}
	}
}
