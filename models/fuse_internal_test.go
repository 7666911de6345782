package models

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"hesscope/autodiff"
	"hesscope/nn"
	"hesscope/tensor"
)

// TestFusedBatchNormSameBits checks that the models that record BatchNorm
// and ReLU as fused primitives in Eval mode (ResNet-20: BatchNorm → ReLU,
// BatchNorm → Add → ReLU; C1, C2: ReLU → BatchNorm) give the bits of the
// models as written: loss, its tangent, the gradient and the
// Hessian-vector product of every parameter and of the input, in float32
// (where the vector kernels run), and an Unfused graph records more
// primitives. So does LeNet-5, with its ReLUs after the pooling and each
// convolution and its pooling as one primitive (convActPool), up to
// rounding where the pooled convolutions' reverse products are sparse
// (autodiff.Conv2dMaxPool: sums in another order). ResNet-20, C1 and C2 in Train mode (their
// BatchNorm → ReLU, BatchNorm → Add → ReLU and ReLU → BatchNorm fused with
// the batch's statistics) too, in a second-order pass and in a training
// step's first-order one.
func TestFusedBatchNormSameBits(t *testing.T) {
	for _, name := range []string{"resnet20", "c1", "c2", "lenet5"} {
		tol := 0.0
		if name == "lenet5" {
			tol = 1e-5
		}
		t.Run(name, func(t *testing.T) { testFusedSameBits(t, name, tol, nn.Eval, true) })
	}
	for _, name := range []string{"resnet20", "c1", "c2"} {
		t.Run(name+"/train", func(t *testing.T) { testFusedSameBits(t, name, 0, nn.Train, true) })
		t.Run(name+"/train/first", func(t *testing.T) { testFusedSameBits(t, name, 0, nn.Train, false) })
	}
}

// testFusedSameBits compares the fused model with the unfused one: bit for
// bit, or with tol > 0 each result within tol of its largest magnitude.
func testFusedSameBits(t *testing.T, name string, tol float64, mode nn.Mode, second bool) {
	build := func() *Net[float32] {
		net, err := New[float32](name, Config{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		// Non-trivial BatchNorm parameters and running statistics.
		rng := rand.New(rand.NewPCG(4, 5))
		for _, p := range net.Params() {
			for i := range p.Value.Data {
				switch {
				case len(p.Value.Shape) > 1:
				case p.Name[len(p.Name)-3:] == "var":
					p.Value.Data[i] = float32(0.5 + rng.Float64())
				default:
					p.Value.Data[i] = float32(rng.NormFloat64() * 0.3)
				}
			}
		}
		return net
	}
	// run does the pass twice on one tape and returns the second's results:
	// its buffers are the first's, reused (Reset), so that a fresh
	// cotangent holds old values, not zeros.
	var pass func(tp *autodiff.Tape[float32], net *Net[float32], unfused bool) ([][]float32, int)
	run := func(net *Net[float32], unfused bool) ([][]float32, int) {
		tp := autodiff.NewTape[float32]()
		pass(tp, net, unfused)
		tp.Reset()
		return pass(tp, net, unfused)
	}
	pass = func(tp *autodiff.Tape[float32], net *Net[float32], unfused bool) (out [][]float32, nodes int) {
		rng := rand.New(rand.NewPCG(6, 7))
		randn := func(shape ...int) *tensor.Dense[float32] {
			x := tensor.New[float32](shape...)
			for i := range x.Data {
				x.Data[i] = float32(rng.NormFloat64())
			}
			return x
		}
		g := nn.NewGraph(tp, mode)
		g.ParamGrads = true
		g.Unfused = unfused
		g.UpdateStats = mode == nn.Train
		shape := append([]int{3}, net.Input[:]...)
		var x autodiff.Var
		if second {
			g.Tangents = map[*nn.Param[float32]]*tensor.Dense[float32]{}
			for _, p := range nn.Trainable(net.Params()) {
				g.Tangents[p] = randn(p.Value.Shape...)
			}
			x = tp.Leaf(randn(shape...), randn(shape...), true)
		} else {
			x = tp.Leaf(randn(shape...), nil, true)
		}
		logits := net.Forward(g, x)
		loss := tp.Apply(&autodiff.SoftmaxCrossEntropy[float32]{Labels: []int{1, 7, 4}}, logits)
		tp.Backward(loss)
		out = append(out, tp.Value(loss).Data, tp.Grad(x).Data)
		if second {
			out = append(out, tp.Tangent(loss).Data, tp.GradDot(x).Data)
		}
		for _, p := range nn.Trainable(net.Params()) {
			out = append(out, g.Grad(p).Data)
			if second {
				out = append(out, g.GradDot(p).Data)
			}
		}
		// In Train mode, the running statistics the pass updated.
		for _, p := range net.Params() {
			if mode == nn.Train && p.Buffer {
				out = append(out, slices.Clone(p.Value.Data))
			}
		}
		return out, tp.Len()
	}
	// A model each: in Train mode the passes update its running statistics.
	fused, nf := run(build(), false)
	sep, ns := run(build(), true)
	if nf >= ns {
		t.Fatalf("the fused model records %d values, the unfused one %d", nf, ns)
	}
	if len(fused) != len(sep) {
		t.Fatalf("%d results fused, %d not", len(fused), len(sep))
	}
	for j := range sep {
		scale := 0.0
		for _, v := range sep[j] {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i := range sep[j] {
			if tol > 0 {
				if d := math.Abs(float64(fused[j][i] - sep[j][i])); !(d <= tol*scale) {
					t.Fatalf("result %d, element %d: fused %v, unfused %v (scale %.3g)", j, i, fused[j][i], sep[j][i], scale)
				}
				continue
			}
			if math.Float32bits(fused[j][i]) != math.Float32bits(sep[j][i]) {
				t.Fatalf("result %d, element %d: fused %v, unfused %v", j, i, fused[j][i], sep[j][i])
			}
		}
	}
}
