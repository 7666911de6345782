package autodiff_test

import (
	"math"
	"testing"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// Reference values below were computed in float64 with Python's math module
// from the definitions (PyTorch's formulas: biased variance to normalise,
// unbiased variance and momentum 0.1 for the running statistics).

func TestBatchNorm2dTrainForward(t *testing.T) {
	// Two images of two channels of 1×2 pixels: channel 0 holds 1, 2, 3, 4
	// and channel 1 holds 10, 20, 30, 40.
	x := tensor.FromSlice([]T{1, 2, 10, 20, 3, 4, 30, 40}, 2, 2, 1, 2)
	gamma, beta := tensor.FromSlice([]T{2, 1}, 2), tensor.FromSlice([]T{0.5, 0}, 2)
	p := &autodiff.BatchNorm2dTrain[T]{Eps: 0}
	in := []*tensor.Dense[T]{x, gamma, beta}
	y := tensor.New[T](p.Shape(in)...)
	p.Forward(y, in)
	// Channel 0: μ = 2.5, σ² = 1.25; y = 2(x − 2.5)/√1.25 + 0.5.
	// Channel 1 is channel 0 times 10, so x̂ is the same.
	c0 := []T{-2.1832815729997477, -0.39442719099991586, 1.3944271909999157, 3.1832815729997477}
	xh := []T{-1.3416407864998738, -0.4472135954999579, 0.4472135954999579, 1.3416407864998738}
	want := []T{c0[0], c0[1], xh[0], xh[1], c0[2], c0[3], xh[2], xh[3]}
	if e := relErr(y.Data, want); e > 1e-15 {
		t.Errorf("y = %v, want %v", y.Data, want)
	}
	checkClose(t, "BatchMean", p.BatchMean(), []T{2.5, 25}, 1e-15)
	checkClose(t, "UnbiasedBatchVar", p.UnbiasedBatchVar(), []T{5.0 / 3, 500.0 / 3}, 1e-15)
	rm, rv := []T{0, 1}, []T{1, 2}
	p.UpdateRunningStats(rm, rv, 0.1)
	checkClose(t, "running mean", rm, []T{0.25, 3.4}, 1e-15)
	checkClose(t, "running var", rv, []T{0.9 + 0.1*5.0/3, 1.8 + 0.1*500.0/3}, 1e-15)

	// The normalised output has mean 0 and biased variance σ²/(σ² + ε) per
	// channel, for any batch.
	x = affine(uniform(9, 3, 4, 5, 2), 3, 7)
	p = &autodiff.BatchNorm2dTrain[T]{Eps: 1e-5}
	in = []*tensor.Dense[T]{x, tensor.FromSlice([]T{1, 1, 1, 1}, 4), tensor.New[T](4)}
	y = tensor.New[T](p.Shape(in)...)
	p.Forward(y, in)
	bv := p.UnbiasedBatchVar()
	for c := 0; c < 4; c++ {
		var s, ss float64
		for n := 0; n < 3; n++ {
			for _, v := range y.Data[(n*4+c)*10 : (n*4+c+1)*10] {
				s += v
				ss += v * v
			}
		}
		biased := float64(bv[c]) * 29 / 30
		if math.Abs(s/30) > 1e-14 || math.Abs(ss/30-biased/(biased+1e-5)) > 1e-12 {
			t.Errorf("channel %d: mean %g, variance %g of the normalised output", c, s/30, ss/30)
		}
	}
}

func TestBatchNorm2dEvalForward(t *testing.T) {
	// One image, two channels of 1×2 pixels.
	x := tensor.FromSlice([]T{0.5, 2, -1, 3}, 1, 2, 1, 2)
	p := autodiff.BatchNorm2dEval[T]{RunningMean: []T{1, -1}, RunningVar: []T{3, 0.25}, Eps: 1e-5}
	in := []*tensor.Dense[T]{x, tensor.FromSlice([]T{1.5, -2}, 2), tensor.FromSlice([]T{0.1, 0.2}, 2)}
	y := tensor.New[T](p.Shape(in)...)
	p.Forward(y, in)
	checkClose(t, "y", y.Data, []T{-0.33301198020618705, 0.966023960412374, 0.2, -15.79968000959968}, 1e-15)
}

func TestElementwiseValues(t *testing.T) {
	x := tensor.FromSlice([]T{0, 1, -1, -40, 20, 25, 0.5}, 7)
	sp := tensor.New[T](7)
	autodiff.Softplus[T]{}.Forward(sp, []*tensor.Dense[T]{x})
	// log(1 + eˣ), and x itself above PyTorch's threshold 20.
	checkClose(t, "softplus", sp.Data, []T{0.6931471805599453, 1.3132616875182228, 0.31326168751822286,
		4.248354255291589e-18, 20.000000002061153, 25, 0.9740769841801067}, 1e-15)
	th := tensor.New[T](7)
	autodiff.Tanh[T]{}.Forward(th, []*tensor.Dense[T]{x})
	if th.Data[6] != 0.46211715726000974 || th.Data[3] != -1 {
		t.Errorf("tanh = %v", th.Data)
	}
	// float32 softplus neither overflows nor loses small values.
	x32 := tensor.FromSlice([]float32{-80, 100, 88.8, -30}, 4)
	sp32 := tensor.New[float32](4)
	autodiff.Softplus[float32]{}.Forward(sp32, []*tensor.Dense[float32]{x32})
	checkClose(t, "float32 softplus", sp32.Data, []float32{1.8048513e-35, 100, 88.8, 9.357623e-14}, 1e-5)
}

func checkClose[U tensor.Float](t *testing.T, name string, got, want []U, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s has %d values, want %d", name, len(got), len(want))
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.Abs(g-w) > tol*math.Abs(w) {
			t.Errorf("%s = %v, want %v", name, got, want)
			return
		}
	}
}
