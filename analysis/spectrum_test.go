package analysis_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"hesscope/analysis"
	"hesscope/hessian"
	"hesscope/landscape"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// TestSpectrumMatchesDenseHessian: the extreme eigenvalues of Spectrum are
// those of the dense Hessian of a small network, and its trace estimates
// are within four standard errors of the exact trace.
func TestSpectrumMatchesDenseHessian(t *testing.T) {
	net, d := newTinyOf(3, 16), synthetic(20, 4)
	res, err := analysis.Spectrum[float64](context.Background(), net, d, analysis.SpectrumOptions{
		TopK: 2, BottomK: 1, Trace: true, TraceMethod: "both", TraceMatVecs: 90, BatchSize: 7, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	op := hessian.NewParams[float64](net, hessian.NewFloat32Data[float64](d.X, d.Y, [3]int{1, 4, 4}, 20), nn.Eval, nil)
	n := op.Dim()
	h := mat.NewSymDense(n, nil)
	e, col := make([]float64, n), make([]float64, n)
	for j := range n {
		e[j] = 1
		op.Apply(col, e)
		e[j] = 0
		for i := range j + 1 {
			h.SetSym(i, j, col[i])
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(h, false) {
		t.Fatal("no eigendecomposition")
	}
	vals := eig.Values(nil) // ascending
	want := []float64{vals[n-1], vals[n-2]}
	for i, v := range res.TopEigen {
		if math.Abs(v-want[i]) > 1e-6*want[0] {
			t.Errorf("λ%d = %.10g, dense %.10g", i+1, v, want[i])
		}
	}
	if math.Abs(*res.MinEigen-vals[0]) > 1e-6*want[0] {
		t.Errorf("λmin = %.10g, dense %.10g", *res.MinEigen, vals[0])
	}
	var trace float64
	for i := range n {
		trace += h.At(i, i)
	}
	for _, tr := range []*linop.Trace{res.Trace.Hutchinson, res.Trace.HutchPP} {
		if math.Abs(tr.Estimate-trace) > 4*tr.StdErr || tr.StdErr <= 0 {
			t.Errorf("trace %v ± %v, exact %v", tr.Estimate, tr.StdErr, trace)
		}
	}
	if res.Params != n || res.Dim != n || res.Samples != 20 || res.Precision != "float64" || res.HVPs != res.Top.MatVecs+res.Bottom.MatVecs+180 {
		t.Errorf("record: params %d dim %d samples %d precision %s HVPs %d", res.Params, res.Dim, res.Samples, res.Precision, res.HVPs)
	}
}

// counting is a Backend that wraps the CPU engine and counts what the
// analyses ask of it.
type counting struct {
	built map[string]int
	ops   []*linop.Counting
}

func (c *counting) Float32() analysis.Engine[float32] { return nil }
func (c *counting) Float64() analysis.Engine[float64] { return countingEngine{c} }

type countingEngine struct{ c *counting }

var cpu = analysis.CPU{}.Float64()

type countedParams struct {
	*linop.Counting
	p analysis.ParamOperator
}

func (o countedParams) Gradient() (float64, []float64) { return o.p.Gradient() }

func (e countingEngine) Params(s analysis.Source[float64], ps []*nn.Param[float64]) analysis.ParamOperator {
	e.c.built["params"]++
	p := cpu.Params(s, ps)
	op := linop.NewCounting(p)
	e.c.ops = append(e.c.ops, op)
	return countedParams{op, p}
}

func (e countingEngine) GaussNewton(s analysis.Source[float64], ps []*nn.Param[float64]) linop.Operator {
	e.c.built["ggn"]++
	return cpu.GaussNewton(s, ps)
}

func (e countingEngine) Objective(s analysis.Source[float64]) analysis.Objective {
	e.c.built["objective"]++
	return cpu.Objective(s)
}

func (e countingEngine) LossGrid(s analysis.Source[float64], dirs [][]float64, x, y []float64, o landscape.Options) (*landscape.Grid, error) {
	e.c.built["grid"]++
	return cpu.LossGrid(s, dirs, x, y, o)
}

func (e countingEngine) Input(m hessian.Model[float64], x *tensor.Dense[float64], y []int, mode nn.Mode) linop.Operator {
	e.c.built["input"]++
	return cpu.Input(m, x, y, mode)
}

// TestBackendSeam: the analyses take their operators from the Backend of
// their options, and a backend that computes what the CPU engine computes
// gives the same bits; a backend without an engine of the precision is an
// error.
func TestBackendSeam(t *testing.T) {
	net, d := newTiny(5), synthetic(12, 8)
	o := analysis.SpectrumOptions{TopK: 2, Trace: true, TraceMatVecs: 9, PerLayer: true, Input: true, BatchSize: 5, Seed: 2}
	cpuRes, err := analysis.Spectrum[float64](context.Background(), net, d, o)
	if err != nil {
		t.Fatal(err)
	}
	b := &counting{built: map[string]int{}}
	o.Backend = b
	res, err := analysis.Spectrum[float64](context.Background(), net, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.TopEigen, cpuRes.TopEigen) || res.Trace.HutchPP.Estimate != cpuRes.Trace.HutchPP.Estimate || res.Loss != cpuRes.Loss ||
		*res.InputTop != *cpuRes.InputTop || res.PerLayer[1].Top.Values[0] != cpuRes.PerLayer[1].Top.Values[0] {
		t.Errorf("backend: %v %v, CPU: %v %v", res.TopEigen, res.Trace.HutchPP, cpuRes.TopEigen, cpuRes.Trace.HutchPP)
	}
	// One operator for the whole network and one per layer (fc1, fc2).
	if b.built["params"] != 3 || b.built["objective"] != 1 || b.built["input"] != 1 {
		t.Errorf("built %v", b.built)
	}
	applied := 0
	for _, op := range b.ops {
		applied += op.Count()
	}
	if applied != res.HVPs-res.InputBatch.Top.MatVecs-res.InputBatch.Bottom.MatVecs {
		t.Errorf("the backend's operators made %d products, the result counts %d", applied, res.HVPs)
	}

	ls, err := analysis.Landscape[float64](context.Background(), net, d, analysis.LandscapeOptions{Points: 3, Backend: b})
	if err != nil || b.built["params"] != 5 || b.built["grid"] != 1 || ls.Eigen == nil {
		t.Errorf("landscape: %v, built %v", err, b.built)
	}
	if _, err := analysis.Sharpness[float64](context.Background(), net, d, analysis.SharpnessOptions{Metric: "epsilon", Iterations: 2, Backend: b}); err != nil || b.built["objective"] != 2 {
		t.Errorf("sharpness: %v, built %v", err, b.built)
	}

	_, err = analysis.Spectrum[float32](context.Background(), newTiny32(), d, analysis.SpectrumOptions{TopK: 1, Backend: b})
	if err == nil || !strings.Contains(err.Error(), "no float32 engine") {
		t.Errorf("float32 on a float64-only backend: %v", err)
	}
}

func newTiny32() *nn.Linear[float32] { return nn.NewLinear[float32](nn.NewInit(1), "fc", 64, 10) }

// TestCancelled: a cancelled context stops every analysis with its error.
func TestCancelled(t *testing.T) {
	net, d := newTiny(1), synthetic(12, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, run := range map[string]func() error{
		"spectrum": func() error {
			_, err := analysis.Spectrum[float64](ctx, net, d, analysis.SpectrumOptions{TopK: 1})
			return err
		},
		"input samples": func() error {
			_, err := analysis.Spectrum[float64](ctx, net, d, analysis.SpectrumOptions{InputSamples: 3})
			return err
		},
		"landscape": func() error {
			_, err := analysis.Landscape[float64](ctx, net, d, analysis.LandscapeOptions{})
			return err
		},
		"sharpness": func() error {
			_, err := analysis.Sharpness[float64](ctx, net, d, analysis.SharpnessOptions{})
			return err
		},
	} {
		if err := run(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestPasses: a Passes backend runs the parameter Hessian's and the
// objective's passes on its hessian.Engine — here the CPU Evaluator behind
// a counter — and gives the CPU's results bit for bit.
func TestPasses(t *testing.T) {
	net, d := newTinyOf(3, 16), synthetic(20, 4)
	passes := 0
	eng := func(m hessian.Model[float64]) hessian.Passer[float64] {
		return countingPasser{hessian.NewEvaluator(m), &passes}
	}
	o := analysis.SpectrumOptions{TopK: 2, BatchSize: 7, Seed: 4}
	want, err := analysis.Spectrum[float64](context.Background(), net, d, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Backend = analysis.Passes{Float64Engine: eng}
	got, err := analysis.Spectrum[float64](context.Background(), net, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.TopEigen, want.TopEigen) || got.Loss != want.Loss || got.GradNorm != want.GradNorm {
		t.Errorf("through the engine: λ %v, loss %v, ‖g‖ %v; CPU: %v, %v, %v", got.TopEigen, got.Loss, got.GradNorm, want.TopEigen, want.Loss, want.GradNorm)
	}
	if want := 3 * (got.HVPs + 1); passes != want { // 3 chunks per product and per gradient
		t.Errorf("%d passes through the engine, want %d", passes, want)
	}
	if _, err := analysis.Spectrum[float32](context.Background(), newTiny32(), d, o); err == nil {
		t.Error("a Passes backend without a float32 engine ran a float32 spectrum")
	}
}

type countingPasser struct {
	e *hessian.Evaluator[float64]
	n *int
}

func (c countingPasser) Pass(x *tensor.Dense[float64], y []int, req hessian.Request[float64]) hessian.Result[float64] {
	*c.n++
	return c.e.Pass(x, y, req)
}

// TestSpectrumKeepPasses: keeping every chunk's pass changes no bit of a
// spectrum over several chunks: eigenvalues, trace, density and per-layer
// blocks.
func TestSpectrumKeepPasses(t *testing.T) {
	net, d := newTiny(5), synthetic(12, 8)
	o := analysis.SpectrumOptions{TopK: 2, BottomK: 1, Trace: true, TraceMatVecs: 9, Density: true, DensityProbes: 2, DensitySteps: 8,
		PerLayer: true, BatchSize: 5, Seed: 2}
	whole, err := analysis.Spectrum[float64](context.Background(), net, d, o)
	if err != nil {
		t.Fatal(err)
	}
	o.KeepPasses = true
	kept, err := analysis.Spectrum[float64](context.Background(), net, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kept.TopEigen, whole.TopEigen) || *kept.MinEigen != *whole.MinEigen ||
		kept.Trace.HutchPP.Estimate != whole.Trace.HutchPP.Estimate || !slices.Equal(kept.Density.Density, whole.Density.Density) ||
		kept.PerLayer[1].Top.Values[0] != whole.PerLayer[1].Top.Values[0] || kept.HVPs != whole.HVPs {
		t.Errorf("kept passes: %v %v %v, whole passes: %v %v %v", kept.TopEigen, *kept.MinEigen, kept.Trace.HutchPP,
			whole.TopEigen, *whole.MinEigen, whole.Trace.HutchPP)
	}
}
