package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSGD checks three steps of SGD on fixed gradients against
// torch.optim.SGD (PyTorch 1.13, float64, lr 0.1, θ₀ = [1, −2, 0.5]).
func TestSGD(t *testing.T) {
	grads := [][]float64{{0.5, 1, -0.25}, {-1, 0.25, 0.75}, {0.3, -0.6, 0.1}}
	cases := []struct {
		name string
		opt  SGD[float64]
		want [][]float64 // θ after each step
	}{
		{"plain", SGD[float64]{},
			[][]float64{{0.95, -2.1, 0.525}, {1.05, -2.125, 0.45}, {1.02, -2.065, 0.44}}},
		{"weight decay", SGD[float64]{WeightDecay: 0.01},
			[][]float64{{0.949, -2.098, 0.5245}, {1.048051, -2.120902, 0.44897549999999997}, {1.017002949, -2.058781098, 0.43852652449999996}}},
		{"momentum", SGD[float64]{Momentum: 0.9},
			[][]float64{{0.95, -2.1, 0.525}, {1.005, -2.2150000000000003, 0.47250000000000003}, {1.0245, -2.2585, 0.41525}}},
		{"momentum, weight decay", SGD[float64]{Momentum: 0.9, WeightDecay: 0.01},
			[][]float64{{0.949, -2.098, 0.5245}, {1.002151, -2.2091019999999997, 0.4710255}, {1.018984749, -2.2468846979999997, 0.4124274245}}},
		{"nesterov", SGD[float64]{Momentum: 0.9, WeightDecay: 0.01, Nesterov: true},
			[][]float64{{0.9031, -2.1862, 0.54655}, {1.05007411, -2.30892622, 0.42285655499999997}, {1.034168458191, -2.280460438182, 0.35972092204549994}}},
		{"dampening", SGD[float64]{Momentum: 0.9, Dampening: 0.5, WeightDecay: 0.1},
			[][]float64{{0.94, -2.08, 0.52}, {0.9312999999999999, -2.1541, 0.4979}, {0.9038134999999999, -2.1800195, 0.4705205}}},
	}
	for _, c := range cases {
		theta := []float64{1, -2, 0.5}
		opt := c.opt
		for s, g := range grads {
			opt.Step([][]float64{theta}, [][]float64{g}, 0.1)
			for i, v := range theta {
				if math.Abs(v-c.want[s][i]) > 1e-15 {
					t.Errorf("%s: step %d: θ[%d] = %.17g, want %.17g (PyTorch)", c.name, s+1, i, v, c.want[s][i])
				}
			}
		}
	}
}

// TestSGDFloat32 checks that float32 arithmetic rounds like float32.
func TestSGDFloat32(t *testing.T) {
	theta := []float32{1, -2, 0.5}
	opt := SGD[float32]{Momentum: 0.9, WeightDecay: 0.01, Nesterov: true}
	opt.Step([][]float32{theta}, [][]float32{{0.5, 1, -0.25}}, 0.1)
	want := []float64{0.9031, -2.1862, 0.54655}
	for i, v := range theta {
		if math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Errorf("θ[%d] = %v, want %v", i, v, want[i])
		}
	}
	if opt.Buffers == nil || len(opt.Buffers[0]) != 3 {
		t.Fatalf("momentum buffers not allocated: %v", opt.Buffers)
	}
}

// TestSGDSpans checks Step, which updates tiles and spans of the tensors
// in parallel, against the update written value by value, bit for bit,
// for every combination of options, on tensors shorter than a span, of a
// span and one value, and of more than two spans, over three steps.
func TestSGDSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{5, sgdSpan + 1, 2*sgdSpan + 3001}
	for _, o := range []SGD[float32]{
		{}, {WeightDecay: 0.01}, {Momentum: 0.9}, {Momentum: 0.9, Nesterov: true},
		{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true}, {Momentum: 0.8, Dampening: 0.3, WeightDecay: 0.1},
	} {
		params, want := make([][]float32, len(sizes)), make([][]float32, len(sizes))
		for i, n := range sizes {
			params[i] = make([]float32, n)
			for j := range params[i] {
				params[i][j] = float32(rng.NormFloat64())
			}
			want[i] = slices.Clone(params[i])
		}
		ref := o
		for step := range 3 {
			grads := make([][]float32, len(sizes))
			for i, n := range sizes {
				grads[i] = make([]float32, n)
				for j := range grads[i] {
					grads[i][j] = float32(rng.NormFloat64())
				}
			}
			o.Step(params, grads, 0.1)
			refStep(&ref, want, grads, 0.1)
			for i := range params {
				for j, v := range params[i] {
					if math.Float32bits(v) != math.Float32bits(want[i][j]) {
						t.Fatalf("%+v: step %d, tensor %d, value %d: %v, want %v", o, step, i, j, v, want[i][j])
					}
				}
			}
		}
	}
}

// refStep is SGD.Step value by value.
func refStep(o *SGD[float32], params, grads [][]float32, lr float64) {
	first := o.Momentum != 0 && o.Buffers == nil
	if first {
		o.Buffers = make([][]float32, len(params))
		for i, p := range params {
			o.Buffers[i] = make([]float32, len(p))
		}
	}
	wd, mu, damp, eta := float32(o.WeightDecay), float32(o.Momentum), float32(1-o.Dampening), float32(lr)
	for i, p := range params {
		for j := range p {
			d := grads[i][j]
			if wd != 0 {
				d += float32(wd * p[j])
			}
			if o.Momentum != 0 {
				b := &o.Buffers[i][j]
				if first {
					*b = d
				} else {
					*b = float32(mu**b) + float32(damp*d)
				}
				if o.Nesterov {
					d += float32(mu * *b)
				} else {
					d = *b
				}
			}
			p[j] -= float32(eta * d)
		}
	}
}
