package analysis_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"hesscope/analysis"
	"hesscope/autodiff"
	"hesscope/data"
	"hesscope/nn"
)

// Example computes what PyHessian computes — the top eigenvalues, the trace
// and the spectral density of the Hessian of the loss — in one call. The
// model is any hessian.Model: a network of the zoo (models.New("lenet5",
// …), or one read by experiment.LoadModel) or, here, a small one of your
// own, so that the example runs in a blink. Real data comes from
// experiment.LoadData or data.Load; here 32 random 8×8 images stand in.
func Example() {
	net := newTiny(1)
	d := synthetic(32, 8)

	res, err := analysis.Spectrum[float64](context.Background(), net, d, analysis.SpectrumOptions{
		TopK:  3,                      // Lanczos, the default method
		Trace: true, TraceMatVecs: 60, // Hutch++, the default estimator
		Density: true, DensityProbes: 2, DensitySteps: 40, // stochastic Lanczos quadrature
		Seed: 1,
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("parameters: %d\n", res.Params)
	fmt.Printf("top eigenvalues: %.4f (converged %v)\n", res.TopEigen, res.Converged)
	fmt.Printf("trace (Hutch++): %.3f ± %.3f\n", res.Trace.HutchPP.Estimate, res.Trace.HutchPP.StdErr)
	grid := res.Density.Grid
	fmt.Printf("density: %d points on [%.2f, %.2f]\n", len(grid), grid[0], grid[len(grid)-1])
	// Output:
	// parameters: 1210
	// top eigenvalues: [0.9150 0.5899 0.5696] (converged [true true true])
	// trace (Hutch++): 3.686 ± 0.454
	// density: 1000 points on [-0.45, 0.92]
}

// tiny is a model of one's own: 8×8 images → 16 ReLU units → 10 logits.
// Anything with Params and Forward is a hessian.Model.
type tiny struct{ fc1, fc2 *nn.Linear[float64] }

func newTiny(seed uint64) *tiny { return newTinyOf(seed, 64) }

// newTinyOf returns a tiny model of images of pixels values.
func newTinyOf(seed uint64, pixels int) *tiny {
	in := nn.NewInit(seed)
	return &tiny{fc1: nn.NewLinear[float64](in, "fc1", pixels, 16), fc2: nn.NewLinear[float64](in, "fc2", 16, 10)}
}

func (m *tiny) Params() []*nn.Param[float64] { return append(m.fc1.Params(), m.fc2.Params()...) }

func (m *tiny) Forward(g *nn.Graph[float64], x autodiff.Var) autodiff.Var {
	return m.fc2.Forward(g, g.ReLU(m.fc1.Forward(g, g.Flatten(x))))
}

// synthetic returns n random side×side images labelled i mod 10.
func synthetic(n, side int) *data.Dataset {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &data.Dataset{Name: "synthetic", X: make([]float32, n*side*side), Y: make([]int, n), N: n, C: 1, H: side, W: side, Classes: 10}
	for i := range d.X {
		d.X[i] = rng.Float32()
	}
	for i := range d.Y {
		d.Y[i] = i % 10
	}
	return d
}
