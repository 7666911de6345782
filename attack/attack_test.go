package attack

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// Two classes, four pixels: for label 0 the loss gradient is
// p₁·(w₁ − w₀), so its sign is that of u = w₁ − w₀ = (−2, 3, −0.1, −1).
var (
	lin2W = []float64{1, -2, 0.5, 3, -1, 1, 0.4, 2}
	lin2B = []float64{0.1, -0.2}
	lin2X = []float64{0.2, 0.5, 0.9, 0.05}
	lin2U = []float64{-2, 3, -0.1, -1}
)

func TestFGSMLinearClosedForm(t *testing.T) {
	testFGSMLinear[float32](t)
	testFGSMLinear[float64](t)
}

func testFGSMLinear[T tensor.Float](t *testing.T) {
	m := linearNet[T](4, 2, lin2W, lin2B)
	x := tensor.New[T](1, 1, 2, 2)
	for i, v := range lin2X {
		x.Data[i] = T(v)
	}
	a := NewAttacker[T](m)
	dst := tensor.New[T](x.Shape...)
	a.Perturb(dst, x, []int{0}, Config{Method: FGSM, Eps: 0.3}, nil)
	// clip(x + 0.3·sign(u)).
	want := []T{T(0.2) - T(0.3), T(0.5) + T(0.3), T(0.9) - T(0.3), 0}
	want[0] = max(want[0], 0)
	for i := range want {
		if dst.Data[i] != want[i] {
			t.Errorf("%T FGSM L∞ pixel %d = %v, want %v", dst.Data[i], i, dst.Data[i], want[i])
		}
	}
	// L2: x + ε·u/‖u‖ (no pixel reaches the bounds with ε = 0.1).
	a.Perturb(dst, x, []int{0}, Config{Method: FGSM, Norm: L2, Eps: 0.1}, nil)
	nu := 0.0
	for _, v := range lin2U {
		nu += v * v
	}
	nu = math.Sqrt(nu)
	for i := range lin2U {
		w := lin2X[i] + 0.1*lin2U[i]/nu
		if d := math.Abs(float64(dst.Data[i]) - w); d > 1e-6 {
			t.Errorf("%T FGSM L2 pixel %d = %v, want %v", dst.Data[i], i, dst.Data[i], w)
		}
	}
}

func TestFGSMMultiClassSign(t *testing.T) {
	// Three classes on 6 pixels: ∇ₓℓ = Σₖ (pₖ − [k = y])·wₖ by hand.
	w := []float64{0.3, -1.2, 0.7, 0.2, -0.5, 1.1, -0.4, 0.9, 0.1, -0.8, 0.6, 0.3, 1.0, 0.2, -0.6, 0.5, 0.4, -0.9}
	b := []float64{0.2, -0.1, 0.05}
	m := linearNet[float64](6, 3, w, b)
	x := tensor.New[float64](3, 1, 1, 6)
	y := []int{0, 1, 2}
	for i := range x.Data {
		x.Data[i] = float64((i*7)%10) / 10
	}
	dst := tensor.New[float64](x.Shape...)
	NewAttacker[float64](m).Perturb(dst, x, y, Config{Method: FGSM, Eps: 0.05}, nil)
	for i := range y {
		xi := x.Data[i*6 : (i+1)*6]
		z := make([]float64, 3)
		for k := range z {
			z[k] = b[k]
			for j := range xi {
				z[k] += w[k*6+j] * xi[j]
			}
		}
		mx := max(z[0], z[1], z[2])
		var s float64
		for k := range z {
			s += math.Exp(z[k] - mx)
		}
		for j := range xi {
			var g float64
			for k := range z {
				p := math.Exp(z[k]-mx) / s
				if k == y[i] {
					p--
				}
				g += p * w[k*6+j]
			}
			want := min(1, max(0, xi[j]+0.05*math.Copysign(1, g)))
			if math.Abs(dst.Data[i*6+j]-want) > 1e-15 {
				t.Errorf("sample %d pixel %d: %v, want %v (gradient %g)", i, j, dst.Data[i*6+j], want, g)
			}
		}
	}
}

func TestPGDLinear(t *testing.T) {
	m := linearNet[float64](4, 2, lin2W, lin2B)
	x := tensor.New[float64](1, 1, 2, 2)
	copy(x.Data, lin2X)
	a := NewAttacker[float64](m)
	dst := tensor.New[float64](x.Shape...)
	// L∞ without random start (iterative FGSM): steps of ε/4 reach the
	// corner of the ball that FGSM jumps to.
	a.Perturb(dst, x, []int{0}, Config{Method: PGD, Eps: 0.3, Steps: 6, StepSize: 0.075}, nil)
	want := []float64{0, 0.8, 0.6, 0}
	if d := maxAbsDiff(dst.Data, want); d > 1e-12 {
		t.Errorf("PGD L∞ = %v, want %v", dst.Data, want)
	}
	// L2: the gradient direction is u everywhere, so the result is the
	// boundary point x + ε·u/‖u‖.
	a.Perturb(dst, x, []int{0}, Config{Method: PGD, Norm: L2, Eps: 0.1, Steps: 5, StepSize: 0.04}, nil)
	nu := math.Sqrt(4 + 9 + 0.01 + 1)
	for i := range want {
		want[i] = lin2X[i] + 0.1*lin2U[i]/nu
	}
	if d := maxAbsDiff(dst.Data, want); d > 1e-12 {
		t.Errorf("PGD L2 = %v, want %v", dst.Data, want)
	}
}

func TestPGDRandomStartStaysInBall(t *testing.T) {
	m, x, y := trainedMLP[float32](t, "relu")
	for _, norm := range []Norm{LInf, L2} {
		c := Config{Method: PGD, Norm: norm, Eps: 0.2, Steps: 3, RandomStart: true, Restarts: 2, Seed: 9}
		out, err := Run[float32](context.Background(), m, x, y, nil, c, Options{BatchSize: 50, Keep: true})
		if err != nil {
			t.Fatal(err)
		}
		p := out.Point()
		if p.MaxNorm > 0.2*(1+1e-5)+1e-5 {
			t.Errorf("%v: perturbation of norm %g beyond ε = 0.2", norm, p.MaxNorm)
		}
		for i, v := range out.Adv.Data {
			if v < 0 || v > 1 {
				t.Fatalf("%v: pixel %d = %v outside [0, 1]", norm, i, v)
			}
		}
	}
}

func TestDeepFoolLinear(t *testing.T) {
	// For two classes DeepFool is exact in one iteration: r = (|f|/‖w‖ +
	// 1e-4)·w/‖w‖ with f = z₁ − z₀ < 0 and w = w₁ − w₀ = u, scaled by 1.02.
	m := linearNet[float64](4, 2, lin2W, lin2B)
	x := tensor.New[float64](1, 1, 2, 2)
	x.Data = []float64{0.5, 0.5, 0.5, 0.5}
	a := NewAttacker[float64](m)
	dst := tensor.New[float64](x.Shape...)
	iters := []int{0}
	a.deepFool(dst, x, []int{0}, Config{Method: DeepFool, Norm: L2}.WithDefaults(), iters)
	z0 := lin2B[0] + 0.5*(1-2+0.5+3)
	z1 := lin2B[1] + 0.5*(-1+1+0.4+2)
	f := z1 - z0
	if f >= 0 {
		t.Fatalf("test setup: sample not classified as 0 (f = %g)", f)
	}
	nu := math.Sqrt(4 + 9 + 0.01 + 1)
	s := (math.Abs(f)/(nu+1e-8) + 1e-4) / (nu + 1e-8) * 1.02
	for i, u := range lin2U {
		if want := 0.5 + s*u; math.Abs(dst.Data[i]-want) > 1e-12 {
			t.Errorf("pixel %d = %v, want %v", i, dst.Data[i], want)
		}
	}
	if iters[0] != 1 {
		t.Errorf("%d iterations, want 1", iters[0])
	}
	pred := []int{0}
	a.predict(pred, nil, dst, nil)
	if pred[0] != 1 {
		t.Errorf("label not flipped")
	}
}

func TestDeepFoolFlipsAndBeatsFGSM(t *testing.T) {
	m, x, y := trainedMLP[float64](t, "relu")
	ctx := context.Background()
	df, err := Run[float64](ctx, m, x, y, nil, Config{Method: DeepFool, Norm: L2}, Options{Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	attacked := 0
	for i := range y {
		if !df.Attacked[i] {
			continue
		}
		attacked++
		if df.Pred[i] == y[i] {
			t.Errorf("sample %d: DeepFool's example is still classified %d after %d iterations", i, y[i], df.Iterations[i])
		}
	}
	if attacked < len(y)*9/10 {
		t.Fatalf("only %d of %d samples classified correctly", attacked, len(y))
	}
	// FGSM's minimal successful ε per sample, on a grid, and the L2 norm of
	// its perturbation there. DeepFool must beat FGSM (L∞, the sign of the
	// gradient); the fast gradient method in L2 is only logged: a single
	// DeepFool step that overshoots a curved boundary may be longer than the
	// shortest successful step along the loss gradient.
	for _, norm := range []Norm{LInf, L2} {
		first := make([]float64, len(y))
		for i := range first {
			first[i] = -1
		}
		for e := 0.005; e <= 2; e += 0.005 {
			out, err := Run[float64](ctx, m, x, y, df.Clean, Config{Method: FGSM, Norm: norm, Eps: e}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range y {
				if first[i] < 0 && out.Attacked[i] && out.Pred[i] != y[i] {
					first[i] = out.L2[i]
				}
			}
		}
		var sumDF, sumFGSM float64
		n := 0
		for i := range y {
			if first[i] >= 0 && df.Pred[i] != y[i] {
				sumDF += df.L2[i]
				sumFGSM += first[i]
				n++
			}
		}
		if n < attacked/2 {
			t.Fatalf("FGSM %v succeeds on only %d of %d samples", norm, n, attacked)
		}
		t.Logf("FGSM %v: mean L2 of the smallest successful perturbation %.4f, DeepFool %.4f, over %d samples", norm, sumFGSM/float64(n), sumDF/float64(n), n)
		if norm == LInf && sumDF >= sumFGSM {
			t.Errorf("DeepFool's mean L2 perturbation %.4f is not smaller than FGSM %v's %.4f", sumDF/float64(n), norm, sumFGSM/float64(n))
		}
	}
}

func TestRestartsKeepFoolingRun(t *testing.T) {
	m, x, y := trainedMLP[float64](t, "relu")
	ctx := context.Background()
	c := Config{Method: PGD, Eps: 0.08, Steps: 5, RandomStart: true, Seed: 4}
	one, err := Run[float64](ctx, m, x, y, nil, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Restarts = 4
	four, err := Run[float64](ctx, m, x, y, one.Clean, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The first run of both is the same, and restarts only add fooled samples.
	for i := range y {
		if one.Pred[i] != y[i] && four.Pred[i] == y[i] {
			t.Errorf("sample %d fooled by one run but not by four", i)
		}
	}
	if a1, a4 := one.Point().Accuracy, four.Point().Accuracy; a4 > a1 {
		t.Errorf("robust accuracy %g with 4 restarts > %g with 1", a4, a1)
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	m, x, y := trainedMLP[float32](t, "relu")
	ctx := context.Background()
	for _, c := range []Config{
		{Method: PGD, Eps: 0.1, Steps: 4, RandomStart: true, Seed: 3, Restarts: 2},
		{Method: PGD, Norm: L2, Eps: 0.5, Steps: 4, RandomStart: true, Seed: 3},
		{Method: DeepFool, Norm: L2},
	} {
		var ref *Outcome[float32]
		for _, w := range []int{1, 3} {
			out, err := Run[float32](ctx, m, x, y, nil, c, Options{Workers: w, BatchSize: 16, Keep: true})
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = out
				continue
			}
			for i, v := range out.Adv.Data {
				if v != ref.Adv.Data[i] {
					t.Fatalf("%v %v: pixel %d differs between 1 and %d workers", c.Method, c.Norm, i, w)
				}
			}
		}
	}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{
		{Method: FGSM, Eps: -1},
		{Method: PGD, Eps: math.NaN()},
		{Method: DeepFool, Norm: LInf},
		{Method: PGD, Eps: 0.1, Steps: -1},
		{Method: DeepFool, Norm: L2, Candidates: 1},
		{Method: Method(7)},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{Method: PGD, Norm: L2, Eps: 1}).Check(); err != nil {
		t.Error(err)
	}
	c := Config{Method: PGD, Eps: 0.3, Steps: 40}.WithDefaults()
	if c.StepSize != 2.5*0.3/40 || c.Restarts != 1 {
		t.Errorf("defaults: %+v", c)
	}
	for _, s := range []string{"fgsm", "pgd", "deepfool"} {
		if m, err := ParseMethod(s); err != nil || m.String() != s {
			t.Errorf("ParseMethod(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseNorm("l1"); err == nil {
		t.Error("ParseNorm(l1): no error")
	}
}

func TestNormalized(t *testing.T) {
	m := convNet[float64](3, "relu", true, 2)
	mean, std := 0.1307, 0.3081
	nm := Normalized[float64](m, []float64{mean}, []float64{std})
	x := tensor.New[float64](2, 1, 6, 6)
	xn := tensor.New[float64](2, 1, 6, 6)
	for i := range x.Data {
		x.Data[i] = float64(i%11) / 10
		xn.Data[i] = (x.Data[i] - mean) / std
	}
	y := []int{0, 2}
	a, an := NewAttacker[float64](m), NewAttacker[float64](nm)
	g, gn := tensor.New[float64](x.Shape...), tensor.New[float64](x.Shape...)
	a.gradTo(g, nil, xn, y)
	an.gradTo(gn, nil, x, y)
	for i := range g.Data {
		if d := math.Abs(gn.Data[i] - g.Data[i]/std); d > 1e-12*max(1, math.Abs(gn.Data[i])) {
			t.Fatalf("gradient %d: %g through Normalized, want %g", i, gn.Data[i], g.Data[i]/std)
		}
	}
	l, ln := make([]float64, 2), make([]float64, 2)
	a.predict(make([]int, 2), l, xn, y)
	an.predict(make([]int, 2), ln, x, y)
	if maxAbsDiff(l, ln) > 1e-12 {
		t.Errorf("losses %v through Normalized, want %v", ln, l)
	}
}

func TestTrainingPerturbation(t *testing.T) {
	m, x, y := trainedMLP[float64](t, "relu")
	x = x.Reshape(240, 1, 8, 8)
	x16 := tensor.New[float64](10, 1, 8, 8)
	copy(x16.Data, x.Data)
	y16 := y[:10]
	for _, tc := range []struct {
		spec      string
		mean, std []float64
		wantAdv   int
	}{
		{spec: "fgsm linf eps=0.1 ratio=0.5", wantAdv: 5},
		{spec: "pgd linf eps=0.1 ratio=1 steps=3 step_size=0.05 random_start=true", wantAdv: 10},
		{spec: "pgd l2 eps=0.5 ratio=0.3 steps=2 step_size=0.3 random_start=false", mean: []float64{0.4}, std: []float64{0.25}, wantAdv: 3},
		{spec: "fgsm linf eps=0.1 ratio=0", wantAdv: 0},
	} {
		tr, err := ParseTraining(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if tr.String() != tc.spec {
			t.Errorf("String() = %q, want %q", tr.String(), tc.spec)
		}
		tr.Mean, tr.Std = tc.mean, tc.std
		f := TrainingPerturbation[float64](tr)
		xin := x16.Clone()
		if tc.mean != nil {
			for i := range xin.Data {
				xin.Data[i] = (xin.Data[i] - tc.mean[0]) / tc.std[0]
			}
		}
		// The model sees normalised images: wrap the pixel model's inverse.
		var model Model[float64] = m
		if tc.mean != nil {
			model = Normalized[float64](m, []float64{-tc.mean[0] / tc.std[0]}, []float64{1 / tc.std[0]})
		}
		before := xin.Clone()
		out := f(context.Background(), model, xin, y16, rand.New(rand.NewPCG(1, 2)))
		again := f(context.Background(), model, xin, y16, rand.New(rand.NewPCG(1, 2)))
		if maxAbsDiff(before.Data, xin.Data) != 0 {
			t.Fatalf("%s: x modified", tc.spec)
		}
		if maxAbsDiff(out.Data, again.Data) != 0 {
			t.Errorf("%s: not fixed by the random stream", tc.spec)
		}
		changed := 0
		for i := 0; i < 10; i++ {
			var lInf, l2 float64
			for q := 0; q < 64; q++ {
				dv := out.Data[i*64+q] - xin.Data[i*64+q]
				if tc.std != nil {
					dv *= tc.std[0]
				}
				lInf = max(lInf, math.Abs(dv))
				l2 += dv * dv
			}
			if lInf > 0 {
				changed++
			}
			if bound := map[Norm]float64{LInf: lInf, L2: math.Sqrt(l2)}[tr.Config.Norm]; bound > tr.Config.Eps+1e-9 {
				t.Errorf("%s: sample %d moved by %g > ε", tc.spec, i, bound)
			}
		}
		if changed > tc.wantAdv || changed < tc.wantAdv-1 {
			t.Errorf("%s: %d samples perturbed, want %d", tc.spec, changed, tc.wantAdv)
		}
	}
	for _, bad := range []string{"deepfool l2", "fgsm linf eps=0.1 ratio=2", "pgd linf eps=x", "pgd", "fgsm linf foo=1"} {
		if _, err := ParseTraining(bad); err == nil {
			t.Errorf("ParseTraining(%q): no error", bad)
		}
	}
}

// TestPGDHugeStep: a huge finite L∞ step (1e300, +Inf in float32) lands on
// the ball's boundary, as a step of 2ε does, with no NaN pixel.
func TestPGDHugeStep(t *testing.T) {
	m, x, y := trainedMLP[float32](t, "relu")
	c := Config{Method: PGD, Eps: 0.1, Steps: 2, StepSize: 1e300, Seed: 9}
	out, err := Run[float32](context.Background(), m, x, y, nil, c, Options{BatchSize: 50, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out.Adv.Data {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("pixel %d = %v", i, v)
		}
	}
	if p := out.Point(); !(p.MaxNorm <= 0.1*(1+1e-5)+1e-5) || math.IsNaN(p.MeanL2) {
		t.Errorf("max ‖δ‖∞ %v, mean ‖δ‖₂ %v", p.MaxNorm, p.MeanL2)
	}
}
