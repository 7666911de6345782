package attack

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// gaussNewtonInput returns Aᵀ(diag(p) − ppᵀ)A for one sample, with A the
// Jacobian of the logits with respect to the input (one reverse pass per
// class) and p the softmax of the logits.
func gaussNewtonInput(m Model[float64], x *tensor.Dense[float64]) [][]float64 {
	a := NewAttacker[float64](m)
	d := x.Len()
	r := a.eval.Pass(x, []int{0}, hessian.Request[float64]{Mode: nn.Eval})
	z := append([]float64(nil), r.Logits.Data...)
	seed := tensor.New[float64](1, len(z))
	jac := make([][]float64, len(z))
	for k := range z {
		seed.Zero()
		seed.Data[k] = 1
		g := tensor.New[float64](x.Shape...)
		a.logitGradTo(g, x, seed)
		jac[k] = g.Data
	}
	mx := z[0]
	for _, v := range z {
		mx = max(mx, v)
	}
	p := make([]float64, len(z))
	var s float64
	for k, v := range z {
		p[k] = math.Exp(v - mx)
		s += p[k]
	}
	for k := range p {
		p[k] /= s
	}
	h := make([][]float64, d)
	for i := range h {
		h[i] = make([]float64, d)
		for j := range h[i] {
			var v float64
			for k := range p {
				v += jac[k][i] * p[k] * jac[k][j]
			}
			var ai, aj float64
			for k := range p {
				ai += p[k] * jac[k][i]
				aj += p[k] * jac[k][j]
			}
			h[i][j] = v - ai*aj
		}
	}
	return h
}

// denseInputHessian builds the input Hessian of one sample's loss column by
// column from the engine's Hessian-vector products.
func denseInputHessian(m Model[float64], x *tensor.Dense[float64], y int) [][]float64 {
	op := hessian.NewInput[float64](m, x, []int{y}, nn.Eval)
	d := op.Dim()
	h := make([][]float64, d)
	e := make([]float64, d)
	for j := range h {
		e[j] = 1
		h[j] = make([]float64, d)
		op.Apply(h[j], e)
		e[j] = 0
	}
	return h // symmetric: columns are rows
}

func TestInputHessianIsGaussNewtonForReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name  string
		relu  Model[float64]
		other Model[float64]
		shape []int
	}{
		{"mlp", mlpNet[float64](6, 8, 4, "relu", 3), mlpNet[float64](6, 8, 4, "softplus", 3), []int{1, 1, 2, 3}},
		{"conv", convNet[float64](3, "relu", false, 4), convNet[float64](3, "softplus", false, 4), []int{1, 1, 6, 6}},
		{"conv+bn", convNet[float64](3, "relu", true, 5), convNet[float64](3, "tanh", true, 5), []int{1, 1, 6, 6}},
	}
	for _, c := range cases {
		for trial := 0; trial < 3; trial++ {
			x := tensor.New[float64](c.shape...)
			for i := range x.Data {
				x.Data[i] = rng.Float64()
			}
			y := trial
			for _, smooth := range []bool{false, true} {
				m := c.relu
				if smooth {
					m = c.other
				}
				gn := gaussNewtonInput(m, x)
				h := denseInputHessian(m, x, y)
				var diff, scale float64
				for i := range h {
					for j := range h[i] {
						diff = max(diff, math.Abs(h[i][j]-gn[i][j]))
						scale = max(scale, math.Abs(h[i][j]))
					}
				}
				if scale == 0 {
					t.Fatalf("%s trial %d: zero Hessian", c.name, trial)
				}
				if trial == 0 {
					t.Logf("%s smooth=%v: max |H − AᵀH_zA| = %.3g, max |H| = %.3g", c.name, smooth, diff, scale)
				}
				switch {
				case !smooth && diff > 1e-10*max(1, scale):
					t.Errorf("%s trial %d: ReLU input Hessian differs from AᵀH_zA by %.3g (scale %.3g)", c.name, trial, diff, scale)
				case smooth && diff < 1e-6*scale:
					t.Errorf("%s trial %d: smooth net's Hessian equals AᵀH_zA to %.3g: the test cannot tell", c.name, trial, diff)
				}
			}
		}
	}
}

// extremes returns the largest and smallest eigenvalue of one sample's
// input Hessian.
func extremes[T tensor.Float](t *testing.T, m Model[T], x *tensor.Dense[T], y int) (float64, float64) {
	t.Helper()
	op := hessian.NewInput[T](m, x, []int{y}, nn.Eval)
	o := linop.LanczosOptions{MaxIter: 120, Tol: 1e-8, Seed: 1}
	top, err := linop.Lanczos(op, linop.Largest, o)
	if err != nil {
		t.Logf("largest: %v", err)
	}
	bot, err := linop.Lanczos(op, linop.Smallest, o)
	if err != nil {
		t.Logf("smallest: %v", err)
	}
	return top.Values[0], bot.Values[0]
}

func TestLeNet5InputHessianDefiniteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := tensor.New[float64](1, 1, 28, 28)
	for i := range x.Data {
		x.Data[i] = rng.Float64()
	}
	samples := 2
	if testing.Short() {
		samples = 1
	}
	for s := 0; s < samples; s++ {
		for i := range x.Data {
			x.Data[i] = math.Max(0, rng.Float64()-0.5) * 2
		}
		relu, err := models.New[float64]("lenet5", models.Config{Seed: uint64(s + 1)})
		if err != nil {
			t.Fatal(err)
		}
		hi, lo := extremes[float64](t, relu, x, s)
		t.Logf("lenet5 relu: λmax %.6g, λmin %.3g", hi, lo)
		if !(hi > 0) || lo < -1e-10*hi {
			t.Errorf("ReLU LeNet-5 input Hessian not PSD: λmax %g, λmin %g", hi, lo)
		}
		soft, err := models.New[float64]("lenet5", models.Config{Seed: uint64(s + 1), Activation: "softplus"})
		if err != nil {
			t.Fatal(err)
		}
		hi, lo = extremes[float64](t, soft, x, s)
		t.Logf("lenet5 softplus: λmax %.6g, λmin %.6g", hi, lo)
		if lo > -1e-2*hi {
			t.Errorf("softplus LeNet-5: λmin %g not clearly negative (λmax %g)", lo, hi)
		}
	}
}

func TestSaddleCheck(t *testing.T) {
	ctx := context.Background()
	x, y := blobs[float64](12, 64, 4, 0.3, 8)
	c := Config{Method: PGD, Eps: 0.1, Steps: 4, RandomStart: true, Seed: 2}
	var points int
	for _, act := range []string{"relu", "softplus"} {
		m := mlpNet[float64](64, 16, 4, act, 6)
		train[float64](m, x, y, 0.1, 50)
		r, err := SaddleCheck[float64](ctx, m, x, y, c, SaddleOptions{KeepPoints: true, Options: Options{Workers: 2, Progress: func(n int) { points += n }}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d/%d indefinite (%d flat), min λmin/λmax %.3g, max λ %.3g, %d HVPs", act, r.Negative, r.Points, r.Flat, r.MinRatio, r.MaxLambda, r.HVPs)
		if r.Points != 12*5 || len(r.Trajectory) != r.Points {
			t.Fatalf("%s: %d points, %d listed, want 60", act, r.Points, len(r.Trajectory))
		}
		for _, p := range r.Trajectory {
			if p.Step == c.Steps && p.Sample == 0 && p.Loss <= r.Trajectory[0].Loss {
				t.Errorf("%s: PGD did not raise the loss of sample 0: %g → %g", act, r.Trajectory[0].Loss, p.Loss)
			}
		}
		switch act {
		case "relu":
			if r.Negative != 0 || r.MinRatio < -1e-10 {
				t.Errorf("ReLU net: %d indefinite points, min ratio %g", r.Negative, r.MinRatio)
			}
		case "softplus":
			if r.Negative == 0 {
				t.Errorf("softplus net: no indefinite point")
			}
		}
	}
	if points != 2*60 {
		t.Errorf("progress counted %d points, want 120", points)
	}
	if _, err := SaddleCheck[float64](ctx, mlpNet[float64](64, 16, 4, "relu", 6), x, y, Config{Method: FGSM, Eps: 0.1}, SaddleOptions{}); err == nil {
		t.Error("FGSM saddle check: no error")
	}
}
