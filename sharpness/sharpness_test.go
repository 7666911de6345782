package sharpness

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/tensor"
)

// bowl is f(w) = f0 + s·½Σ aᵢ(wᵢ − cᵢ)², convex for s = 1 and concave for
// s = −1.
type bowl struct {
	a, c   []float64
	f0, s  float64
	evals  int
	theta0 []float64
}

func (b *bowl) f(grad, w []float64) float64 {
	b.evals++
	v := b.f0
	for i := range w {
		d := w[i] - b.c[i]
		v += b.s * 0.5 * b.a[i] * d * d
		if grad != nil {
			grad[i] = b.s * b.a[i] * d
		}
	}
	return v
}

func newBowl(n int, s float64, seed uint64) *bowl {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := &bowl{a: make([]float64, n), c: make([]float64, n), f0: 0.3, s: s, theta0: make([]float64, n)}
	for i := range n {
		b.a[i] = 1 + 9*rng.Float64()
		b.c[i] = rng.NormFloat64() * 0.01
		b.theta0[i] = rng.NormFloat64()
	}
	return b
}

// TestEpsilonConvexBowl: for a convex separable quadratic the maximum over
// the box is at the vertex farther from the centre in every coordinate,
// ½Σ aᵢ(|θᵢ − cᵢ| + ε(|θᵢ|+1))², which the first (sign) step reaches
// exactly; the result is stationary with every coordinate at its bound.
func TestEpsilonConvexBowl(t *testing.T) {
	for _, eps := range []float64{1e-3, 5e-4, 0.1} {
		b := newBowl(50, 1, 1)
		want := b.f0
		for i, th := range b.theta0 {
			d := math.Abs(th-b.c[i]) + eps*(math.Abs(th)+1)
			want += 0.5 * b.a[i] * d * d
		}
		f0 := b.f(nil, b.theta0)
		theta := slices.Clone(b.theta0)
		r, _ := Epsilon(b.f, theta, EpsilonOptions{Epsilon: eps})
		wantSharp := 100 * (want - f0) / (1 + f0)
		t.Logf("ε=%g: max %.15g (closed form %.15g), sharpness %.6g, %d iterations, %d evals", eps, r.MaxLoss, want, r.Sharpness, r.Iterations, r.Evals)
		if math.Abs(r.MaxLoss-want) > 1e-13*want || math.Abs(r.Sharpness-wantSharp) > 1e-9*wantSharp {
			t.Errorf("ε=%g: max %.15g sharpness %.12g, closed form %.15g and %.12g", eps, r.MaxLoss, r.Sharpness, want, wantSharp)
		}
		if !r.Converged || r.AtBound != 1 || r.Loss != f0 || r.Epsilon != eps {
			t.Errorf("ε=%g: converged %v, at bound %v, loss %v", eps, r.Converged, r.AtBound, r.Loss)
		}
		if !slices.Equal(theta, b.theta0) {
			t.Error("Epsilon modified θ")
		}
	}
}

// TestEpsilonConcaveBowl: for a concave quadratic the maximiser is the
// centre clipped to the box, zᵢ = clip(cᵢ − θᵢ, ±ε(|θᵢ|+1)), partly inside:
// the ascent converges to it.
func TestEpsilonConcaveBowl(t *testing.T) {
	b := newBowl(40, -1, 2)
	eps := 0.01
	for i := range b.c { // put half the centres inside the box
		if i%2 == 0 {
			b.c[i] = b.theta0[i] + 0.5*eps*(math.Abs(b.theta0[i])+1)*(2*float64(i%4)/2-1)
		}
	}
	w := make([]float64, len(b.c))
	for i, th := range b.theta0 {
		r := eps * (math.Abs(th) + 1)
		w[i] = th + max(-r, min(r, b.c[i]-th))
	}
	want := b.f(nil, w)
	r, _ := Epsilon(b.f, b.theta0, EpsilonOptions{Epsilon: eps, Iterations: 200})
	t.Logf("max %.15g, closed form %.15g, %d iterations, %d evals, at bound %.2f", r.MaxLoss, want, r.Iterations, r.Evals, r.AtBound)
	if math.Abs(r.MaxLoss-want) > 1e-12*math.Abs(want) {
		t.Errorf("max %.15g, want %.15g", r.MaxLoss, want)
	}
	if math.Abs(r.AtBound-0.5) > 1e-12 {
		t.Errorf("%.2f of the coordinates at the bound, want 0.5", r.AtBound)
	}
}

// TestSAMQuadratic: for f = ½θᵀAθ + bᵀθ the one-step sharpness is exactly
// ρ‖g‖ + ½ρ²·ĝᵀAĝ; more steps never do worse and never exceed the bound
// ρ‖g‖ + ½ρ²λmax(A).
func TestSAMQuadratic(t *testing.T) {
	n := 6
	rng := rand.New(rand.NewPCG(3, 4))
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
		for j := range m[i] {
			m[i][j] = rng.NormFloat64()
		}
	}
	a := make([][]float64, n) // A = MᵀM + I
	for i := range a {
		a[i] = make([]float64, n)
		for j := range a[i] {
			for k := range n {
				a[i][j] += m[k][i] * m[k][j]
			}
			if i == j {
				a[i][j]++
			}
		}
	}
	bvec := gradcheck.Randn(5, n).Data
	f := func(grad, w []float64) float64 {
		var v float64
		for i := range w {
			var aw float64
			for j := range w {
				aw += a[i][j] * w[j]
			}
			v += 0.5*w[i]*aw + bvec[i]*w[i]
			if grad != nil {
				grad[i] = aw + bvec[i]
			}
		}
		return v
	}
	theta := gradcheck.Randn(6, n).Data
	g := make([]float64, n)
	f(g, theta)
	gn := norm(g)
	var gag, fro float64
	for i := range n {
		for j := range n {
			gag += g[i] * a[i][j] * g[j] / (gn * gn)
			fro += a[i][j] * a[i][j]
		}
	}
	rho := 0.05
	one := SAM(f, theta, SAMOptions{Rho: rho})
	want := rho*gn + 0.5*rho*rho*gag
	if math.Abs(one.Sharpness-want) > 1e-12*want || one.Evals != 2 || one.GradNorm != gn {
		t.Errorf("one step: sharpness %.15g (want %.15g), %d evals, ‖g‖ %v", one.Sharpness, want, one.Evals, one.GradNorm)
	}
	bound := rho*gn + 0.5*rho*rho*math.Sqrt(fro) // λmax ≤ ‖A‖_F
	for _, steps := range []int{2, 5, 20} {
		r := SAM(f, theta, SAMOptions{Rho: rho, Steps: steps})
		t.Logf("%d steps: %.10g (one step %.10g, bound %.10g)", steps, r.Sharpness, one.Sharpness, bound)
		if r.Sharpness < one.Sharpness || r.Sharpness > bound || r.Evals != steps+1 {
			t.Errorf("%d steps: %.10g outside [%.10g, %.10g] or %d evals", steps, r.Sharpness, one.Sharpness, bound, r.Evals)
		}
	}
	zero := SAM(func(grad, w []float64) float64 { clear(grad); return 1 }, theta, SAMOptions{})
	if zero.Sharpness != 0 || zero.Rho != 0.05 {
		t.Errorf("flat function: %+v", zero)
	}
}

// small is a two-layer tanh network on 1×3×3 images with 3 classes.
type small struct {
	fc1, fc2 *nn.Linear[float64]
}

func (s small) Params() []*nn.Param[float64] { return append(s.fc1.Params(), s.fc2.Params()...) }
func (s small) Forward(g *nn.Graph[float64], x autodiff.Var) autodiff.Var {
	return s.fc2.Forward(g, g.Tape.Apply(autodiff.Tanh[float64]{}, s.fc1.Forward(g, g.Flatten(x))))
}

// TestMSharpness: each sub-batch's result equals SAM on that sub-batch's
// objective, the mean is weighted by size, workers change nothing, and
// ε-sharpness of the network grows with ε.
func TestMSharpness(t *testing.T) {
	in := nn.NewInit(1)
	net := small{nn.NewLinear[float64](in, "fc1", 9, 5), nn.NewLinear[float64](in, "fc2", 5, 3)}
	n := 10
	x := make([]float32, n*9)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	y := make([]int, n)
	for i := range y {
		y[i] = i % 3
	}
	data := hessian.NewFloat32Data[float64](x, y, [3]int{1, 3, 3}, 4) // 4, 4, 2
	opts := MOptions{SAM: SAMOptions{Rho: 0.1, Steps: 3}, Workers: 1}
	r1, err := MSharpness[float64](net, data, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Workers = 3
	r3, _ := MSharpness[float64](net, data, opts)
	cancel := make(chan struct{})
	close(cancel)
	if _, err := MSharpness[float64](net, data, MOptions{Cancel: cancel}); err != context.Canceled {
		t.Errorf("canceled: %v", err)
	}
	if r1.Sharpness != r3.Sharpness || !slices.Equal(r1.PerBatch, r3.PerBatch) {
		t.Error("the result depends on the number of workers")
	}
	if r1.M != 4 || r1.Batches != 3 || r1.Rho != 0.1 || r1.Steps != 3 || r1.Evals != 12 {
		t.Errorf("m %d, batches %d, ρ %v, steps %d, evals %d", r1.M, r1.Batches, r1.Rho, r1.Steps, r1.Evals)
	}
	var mean float64
	for b := range 3 {
		xb, yb := data.Chunk(b)
		f, theta, _ := Network[float64](net, hessian.Batch[float64]{X: tensor.Convert[float64](xb), Y: slices.Clone(yb)}, nn.Eval, 1)
		want := SAM(f, theta, opts.SAM)
		if want != r1.PerBatch[b] {
			t.Errorf("sub-batch %d: %+v, direct %+v", b, r1.PerBatch[b], want)
		}
		mean += float64(len(yb)) / float64(n) * want.Sharpness
	}
	if math.Abs(r1.Sharpness-mean) > 1e-15 || r1.Sharpness <= 0 {
		t.Errorf("m-sharpness %v, weighted mean %v", r1.Sharpness, mean)
	}

	f, theta, obj := Network[float64](net, data, nn.Eval, 2)
	prev := 0.0
	for _, eps := range []float64{1e-4, 1e-3, 1e-2} {
		r, _ := Epsilon(f, theta, EpsilonOptions{Epsilon: eps})
		t.Logf("ε=%g: sharpness %.6g (loss %.6g → %.6g), %d iterations, %d evals", eps, r.Sharpness, r.Loss, r.MaxLoss, r.Iterations, r.Evals)
		if r.Sharpness <= prev || r.MaxLoss < r.Loss {
			t.Errorf("ε=%g: sharpness %v after %v", eps, r.Sharpness, prev)
		}
		prev = r.Sharpness
	}
	if obj.Grads == 0 {
		t.Error("no gradient evaluations counted")
	}
}

// TestEpsilonCancelled: a done Context stops Epsilon, at once or between
// evaluations, with its error.
func TestEpsilonCancelled(t *testing.T) {
	b := newBowl(20, 1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	evals := 0
	f := func(grad, theta []float64) float64 {
		if evals++; evals == 1 {
			cancel()
		}
		return b.f(grad, theta)
	}
	if _, err := Epsilon(f, b.theta0, EpsilonOptions{Epsilon: 0.1, Context: ctx}); !errors.Is(err, context.Canceled) || evals != 1 {
		t.Errorf("cancelled during the first evaluation: %v after %d evaluations", err, evals)
	}
	if _, err := Epsilon(f, b.theta0, EpsilonOptions{Context: ctx}); !errors.Is(err, context.Canceled) || evals != 1 {
		t.Errorf("cancelled before: %v after %d evaluations", err, evals)
	}
}

// TestNotFinite: a loss that overflows away from θ is an error for
// ε-sharpness and a non-finite result for SAM, not a sharpness of 0; a
// radius whose squared norm overflows (ρ = 1e300) still moves the weights.
func TestNotFinite(t *testing.T) {
	theta := []float64{1, -2, 3}
	f := func(grad, w []float64) float64 {
		for i := range grad {
			grad[i] = 1
		}
		if math.Abs(w[0]) > 10 {
			return math.NaN()
		}
		return w[0] + w[1] + w[2]
	}
	_, err := Epsilon(f, theta, EpsilonOptions{Epsilon: 1e10, Iterations: 2})
	var nf *NotFiniteError
	if !errors.As(err, &nf) || nf.Param != "epsilon" {
		t.Errorf("Epsilon: err %v, want a NotFiniteError for epsilon", err)
	}
	for _, rho := range []float64{1e20, 1e300} {
		if r := SAM(f, theta, SAMOptions{Rho: rho}); !math.IsNaN(r.MaxLoss) || !math.IsNaN(r.Sharpness) {
			t.Errorf("SAM ρ=%g: max loss %v, sharpness %v; want NaN", rho, r.MaxLoss, r.Sharpness)
		}
	}
}
