package attack

import (
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/autodiff"
	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/tensor"
)

// tinyNet is a small network assembled in a test.
type tinyNet[T tensor.Float] struct {
	params []*nn.Param[T]
	fwd    func(g *nn.Graph[T], x autodiff.Var) autodiff.Var
}

func (t *tinyNet[T]) Params() []*nn.Param[T] { return t.params }

func (t *tinyNet[T]) Forward(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return t.fwd(g, x) }

func activation[T tensor.Float](act string) func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
	switch act {
	case "relu":
		return func(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return g.ReLU(x) }
	case "softplus":
		return func(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return g.Tape.Apply(autodiff.Softplus[T]{}, x) }
	case "tanh":
		return func(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return g.Tape.Apply(autodiff.Tanh[T]{}, x) }
	}
	panic("unknown activation " + act)
}

// linearNet is flatten → linear(in, classes) with the given weights
// (row-major [classes, in]) and biases.
func linearNet[T tensor.Float](in, classes int, w, b []float64) *tinyNet[T] {
	l := nn.NewLinear[T](nn.NewInit(1), "fc", in, classes)
	for i := range w {
		l.Weight.Value.Data[i] = T(w[i])
	}
	for i := range b {
		l.Bias.Value.Data[i] = T(b[i])
	}
	return &tinyNet[T]{params: l.Params(), fwd: func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		return l.Forward(g, g.Flatten(x))
	}}
}

// mlpNet is flatten → fc(in, h) → act → fc(h, h) → act → fc(h, classes).
func mlpNet[T tensor.Float](in, h, classes int, act string, seed uint64) *tinyNet[T] {
	ini := nn.NewInit(seed)
	f1, f2, f3 := nn.NewLinear[T](ini, "fc1", in, h), nn.NewLinear[T](ini, "fc2", h, h), nn.NewLinear[T](ini, "fc3", h, classes)
	a := activation[T](act)
	var ps []*nn.Param[T]
	for _, l := range []*nn.Linear[T]{f1, f2, f3} {
		ps = append(ps, l.Params()...)
	}
	return &tinyNet[T]{params: ps, fwd: func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		h := a(g, f1.Forward(g, g.Flatten(x)))
		h = a(g, f2.Forward(g, h))
		return f3.Forward(g, h)
	}}
}

// convNet takes 1×6×6 images: conv(1→3, 3×3) → act → maxpool(2) → flatten
// (12) → fc(12, classes). With BatchNorm (eval mode) after the convolution
// when bn is set.
func convNet[T tensor.Float](classes int, act string, bn bool, seed uint64) *tinyNet[T] {
	ini := nn.NewInit(seed)
	conv := nn.NewConv2d[T](ini, "conv", 1, 3, 3, 1, 0, true)
	norm := nn.NewBatchNorm2d[T]("bn", 3)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < 3; i++ {
		norm.Weight.Value.Data[i] = T(0.5 + rng.Float64())
		norm.Bias.Value.Data[i] = T(rng.Float64() - 0.5)
		norm.RunningMean.Value.Data[i] = T(rng.Float64() - 0.5)
		norm.RunningVar.Value.Data[i] = T(0.5 + rng.Float64())
	}
	fc := nn.NewLinear[T](ini, "fc", 12, classes)
	a := activation[T](act)
	ps := conv.Params()
	if bn {
		ps = append(ps, norm.Params()...)
	}
	ps = append(ps, fc.Params()...)
	return &tinyNet[T]{params: ps, fwd: func(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
		h := conv.Forward(g, x)
		if bn {
			h = norm.Forward(g, h)
		}
		h = g.MaxPool(a(g, h), 2, 2, 0)
		return fc.Forward(g, g.Flatten(h))
	}}
}

// blobs returns n images of 1×1×d pixels in [0, 1] from `classes` Gaussian
// blobs around random centres, with their labels.
func blobs[T tensor.Float](n, d, classes int, spread float64, seed uint64) (*tensor.Dense[T], []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, classes)
	for k := range centres {
		centres[k] = make([]float64, d)
		for j := range centres[k] {
			centres[k][j] = 0.2 + 0.6*rng.Float64()
		}
	}
	x := tensor.New[T](n, 1, 1, d)
	y := make([]int, n)
	for i := range y {
		y[i] = i % classes
		for j := 0; j < d; j++ {
			x.Data[i*d+j] = T(min(1, max(0, centres[y[i]][j]+spread*rng.NormFloat64())))
		}
	}
	return x, y
}

// train runs plain full-batch gradient descent on (x, y).
func train[T tensor.Float](m Model[T], x *tensor.Dense[T], y []int, lr float64, steps int) float64 {
	ev := hessian.NewEvaluator(m)
	ps := nn.Trainable(m.Params())
	var loss float64
	for s := 0; s < steps; s++ {
		r := ev.Pass(x, y, hessian.Request[T]{Mode: nn.Eval, Params: ps})
		loss = r.Loss
		for i, p := range ps {
			if r.ParamGrad[i] == nil {
				continue
			}
			for j, g := range r.ParamGrad[i].Data {
				p.Value.Data[j] -= T(lr) * g
			}
		}
	}
	return loss
}

// trainedMLP is a ReLU (or other) MLP trained on 64-pixel blobs, and its
// data.
func trainedMLP[T tensor.Float](t testing.TB, act string) (*tinyNet[T], *tensor.Dense[T], []int) {
	t.Helper()
	x, y := blobs[T](240, 64, 4, 0.3, 3)
	m := mlpNet[T](64, 32, 4, act, 5)
	loss := train[T](m, x, y, 0.1, 150)
	if math.IsNaN(loss) || loss > 0.5 {
		t.Fatalf("training the test MLP: loss %g", loss)
	}
	return m, x, y
}

func maxAbsDiff[T tensor.Float](a, b []T) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}
