package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"hesscope/chart"
	"hesscope/checkpoint"
	"hesscope/experiment"
	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/progress"
	"hesscope/tensor"
)

func init() {
	commands = append(commands, &command{
		name:  "spectrum",
		usage: "-model NAME [-weights FILE] [-dataset NAME|FILE] [flags]",
		short: "exact Hessian eigenvalues, trace, density, per-layer and input-space spectra",
		long: `
Spectrum analyses the Hessian of the mean cross-entropy loss of a model over
a set of images, exactly: every Hessian-vector product back-propagates second
derivatives through the network, and the dataset is streamed in chunks of
-batch-size images (the exact average of the per-chunk products, weighted by
chunk size, in bounded memory), each pass parallel inside; with -workers N,
N chunks are processed at once, each on its own evaluator, and summed in
chunk order, so that results are the same bit for bit for any N.

What it computes:

  -top-k K            the K largest eigenvalues (Lanczos with full
                      reorthogonalisation, or PyHessian's power iteration
                      with -method power)
  -min, -bottom-k K   the smallest eigenvalue(s)
  -trace              the trace by Hutchinson and/or Hutch++ (-trace-method)
                      with its standard error
  -density            the spectral density by stochastic Lanczos quadrature
                      with Gaussian broadening, plotted (PNG or SVG)
  -layer SPEC         restrict everything to a block of the Hessian: a layer
                      (conv1, layer2.0) or a comma list of tensor names
  -per-layer          top eigenvalues (and trace, bottom) of every layer's block
  -operator ggn       the generalised Gauss-Newton matrix instead of the Hessian
  -input              extreme eigenvalues of the Hessian w.r.t. the input batch
  -input-samples N    per-sample top and bottom eigenvalues of the Hessian of
                      each image's loss w.r.t. that image, for the first N
                      images: their mean, spread and histogram (Yao et al.
                      report these next to the parameter spectrum)

Every eigenvalue comes with its residual ‖Hv − λv‖ and a converged flag;
every result with its number of Hessian-vector products, seed and time.
BatchNorm is in eval mode. Weights written by 'hesscope train' carry their
input normalisation, which is applied to the images, and their activation.

-out DIR writes spectrum.json, density.csv and the plots (density, input
eigenvalue histogram) there; -plot FILE names the density plot.`,
		flags: spectrumFlags,
	})
}

type spectrumOptions struct {
	analysisFlags
	method, operator, layer, traceMethod, plot      string
	topK, bottomK, maxIter, inputSamples            int
	traceMatvecs, densityProbes, densitySteps, bins int
	min, input, perLayer, trace, density            bool
	tol, sigma2                                     float64
}

func spectrumFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &spectrumOptions{}
	o.register(fs, "256")
	fs.IntVar(&o.topK, "top-k", 1, "number of largest eigenvalues (0: none)")
	fs.BoolVar(&o.min, "min", false, "also compute the smallest (most negative) eigenvalue")
	fs.IntVar(&o.bottomK, "bottom-k", 0, "number of smallest eigenvalues (-min is -bottom-k 1)")
	fs.StringVar(&o.operator, "operator", "hessian", "curvature matrix: hessian or ggn (generalised Gauss-Newton, PSD)")
	fs.StringVar(&o.layer, "layer", "", "restrict to a diagonal block: a layer `name` prefix (conv1, layer2.0) or comma list of tensor names")
	fs.BoolVar(&o.perLayer, "per-layer", false, "also analyse every layer's diagonal block")
	fs.BoolVar(&o.trace, "trace", false, "estimate the trace")
	fs.StringVar(&o.traceMethod, "trace-method", "hutch++", "trace estimator: hutchinson, hutch++ or both")
	fs.IntVar(&o.traceMatvecs, "trace-matvecs", 100, "Hessian-vector products per trace estimate")
	fs.BoolVar(&o.density, "density", false, "estimate the spectral density by stochastic Lanczos quadrature")
	fs.IntVar(&o.densityProbes, "density-probes", 3, "SLQ probe vectors")
	fs.IntVar(&o.densitySteps, "density-steps", 80, "Lanczos steps (Hessian-vector products) per SLQ probe")
	fs.IntVar(&o.bins, "density-bins", 1000, "grid points of the density")
	fs.Float64Var(&o.sigma2, "density-sigma2", 1e-5, "Gaussian broadening: variance σ² as a fraction of max(1, spectrum width) (PyHessian's)")
	fs.StringVar(&o.plot, "plot", "", "density plot `file` (.png or .svg; default: density.<format> in -out)")
	fs.BoolVar(&o.input, "input", false, "also compute the extreme eigenvalues of the Hessian w.r.t. the whole input batch")
	fs.IntVar(&o.inputSamples, "input-samples", 0, "per-sample input-Hessian eigenvalues for the first `N` images")
	fs.StringVar(&o.method, "method", "lanczos", "eigensolver: lanczos or power (PyHessian-compatible)")
	fs.IntVar(&o.maxIter, "max-iter", 0, "largest Krylov dimension (lanczos) or iterations per eigenvalue (power) (default 100)")
	fs.Float64Var(&o.tol, "tol", 0, "relative tolerance (default: 1e-4 lanczos with float32, 1e-6 with float64; 1e-3 power): residual ‖Hv−λv‖ ≤ tol·max(|λ|, 1e-3·‖H‖); below 1")
	return func(ctx context.Context, e *env) error {
		n, err := o.validate()
		if err != nil {
			return err
		}
		if err := o.check(n); err != nil {
			return err
		}
		s, err := o.load(n, e.stderr)
		if err != nil {
			return err
		}
		if o.inputSamples > s.d.N {
			return usagef("-input-samples %d: only %d images are loaded (-samples)", o.inputSamples, s.d.N)
		}
		if o.precision == "float64" {
			return runSpectrum[float64](ctx, e, o, s)
		}
		return runSpectrum[float32](ctx, e, o, s)
	}
}

func (o *spectrumOptions) check(samples int) error {
	if o.min {
		o.bottomK = max(o.bottomK, 1)
	}
	switch {
	case o.topK < 0 || o.bottomK < 0:
		return usagef("-top-k and -bottom-k must not be negative")
	case o.method != "lanczos" && o.method != "power":
		return usagef("-method %q: want lanczos or power", o.method)
	case o.operator != "hessian" && o.operator != "ggn":
		return usagef("-operator %q: want hessian or ggn", o.operator)
	case o.tol < 0 || o.tol >= 1 || o.maxIter < 0 || math.IsNaN(o.tol):
		return usagef("-tol %g, -max-iter %d: want 0 ≤ -tol < 1 and -max-iter ≥ 0", o.tol, o.maxIter)
	case o.maxIter > 0 && o.maxIter < max(o.topK, o.bottomK):
		return usagef("-max-iter %d: want at least -top-k and -bottom-k", o.maxIter)
	case o.traceMethod != "hutchinson" && o.traceMethod != "hutch++" && o.traceMethod != "both":
		return usagef("-trace-method %q: want hutchinson, hutch++ or both", o.traceMethod)
	case o.traceMatvecs < 3:
		return usagef("-trace-matvecs %d: want at least 3", o.traceMatvecs)
	case o.densityProbes < 1 || o.densitySteps < 2 || o.bins < 2:
		return usagef("-density-probes, -density-steps and -density-bins: want at least 1, 2 and 2")
	case !(o.sigma2 > 0):
		return usagef("-density-sigma2 %v: want a positive variance", o.sigma2)
	case o.inputSamples < 0:
		return usagef("-input-samples %d: want 0 or more", o.inputSamples)
	case samples > 0 && o.inputSamples > samples:
		return usagef("-input-samples %d: more than -samples %d", o.inputSamples, samples)
	case o.plot != "" && !o.density:
		return usagef("-plot is the density plot: it needs -density")
	}
	return checkPlotPath("-plot", o.plot)
}

// SpectrumResult is the JSON output of hesscope spectrum. The flat fields
// (top_eigenvalues, residuals, min_eigenvalue, …) are kept for scripts
// written against the first version; the objects carry the full records.
type SpectrumResult struct {
	analysisHeader
	BatchSize   int      `json:"batch_size"`
	Workers     int      `json:"workers"`
	Threads     int      `json:"threads"`
	Method      string   `json:"method"`
	Operator    string   `json:"operator"`
	Params      int      `json:"params"`
	Layer       string   `json:"layer,omitempty"`
	LayerParams []string `json:"layer_params,omitempty"`
	Dim         int      `json:"dim"`
	Loss        float64  `json:"loss"`
	Accuracy    float64  `json:"accuracy"`
	GradNorm    float64  `json:"grad_norm"`

	TopEigen   []float64 `json:"top_eigenvalues"`
	Residuals  []float64 `json:"residuals"`
	Converged  []bool    `json:"converged"`
	MinEigen   *float64  `json:"min_eigenvalue,omitempty"`
	MinResid   *float64  `json:"min_residual,omitempty"`
	InputTop   *float64  `json:"input_top_eigenvalue,omitempty"`
	InputMin   *float64  `json:"input_min_eigenvalue,omitempty"`
	InputResid []float64 `json:"input_residuals,omitempty"`

	Top          *linop.Eigen       `json:"top,omitempty"`
	Bottom       *linop.Eigen       `json:"bottom,omitempty"`
	Trace        *TraceResult       `json:"trace,omitempty"`
	Density      *DensityResult     `json:"density,omitempty"`
	PerLayer     []LayerSpectrum    `json:"per_layer,omitempty"`
	InputBatch   *InputBatchResult  `json:"input,omitempty"`
	InputSamples *InputSampleResult `json:"input_samples,omitempty"`

	Files    []string `json:"files,omitempty"`
	HVPs     int      `json:"hvps"`
	Seconds  float64  `json:"seconds"`
	Warnings []string `json:"warnings,omitempty"`
}

// TraceResult holds the trace estimates asked for.
type TraceResult struct {
	Hutchinson *linop.Trace `json:"hutchinson,omitempty"`
	HutchPP    *linop.Trace `json:"hutchpp,omitempty"`
}

// DensityResult is a stochastic Lanczos quadrature of the spectral density.
type DensityResult struct {
	Probes       int     `json:"probes"`
	Steps        int     `json:"steps"`
	SigmaSquared float64 `json:"sigma_squared"`
	Variance     float64 `json:"variance"`
	// Moment1 and Moment2 estimate tr(H)/n and tr(H²)/n, with standard
	// errors over probes; TraceEstimate is n·Moment1.
	Moment1       float64        `json:"moment1"`
	Moment1StdErr float64        `json:"moment1_std_err"`
	Moment2       float64        `json:"moment2"`
	Moment2StdErr float64        `json:"moment2_std_err"`
	TraceEstimate float64        `json:"trace_estimate"`
	Grid          []float64      `json:"grid"`
	Density       []float64      `json:"density"`
	Quadrature    linop.Spectrum `json:"quadrature"`
	Plot          string         `json:"plot,omitempty"`
}

// LayerSpectrum is the analysis of one layer's diagonal block.
type LayerSpectrum struct {
	Name   string       `json:"name"`
	Params []string     `json:"params"`
	Dim    int          `json:"dim"`
	Top    *linop.Eigen `json:"top,omitempty"`
	Bottom *linop.Eigen `json:"bottom,omitempty"`
	Trace  *linop.Trace `json:"trace,omitempty"`
	HVPs   int          `json:"hvps"`
}

// InputBatchResult is the spectrum of the Hessian w.r.t. the whole batch.
type InputBatchResult struct {
	Top    linop.Eigen `json:"top"`
	Bottom linop.Eigen `json:"bottom"`
}

// InputSampleResult summarises per-sample input-Hessian eigenvalues.
type InputSampleResult struct {
	Samples int `json:"samples"`
	// Top and Bottom summarise λmax and λmin of ∇²ₓℓ over the samples;
	// Values (in sample order) are the distribution.
	Top    Distribution `json:"top"`
	Bottom Distribution `json:"bottom"`
	// Unconverged counts eigenvalues that missed the tolerance.
	Unconverged int `json:"unconverged"`
	// MaxResidual is the largest residual ‖Hv − λv‖ among them.
	MaxResidual float64 `json:"max_residual"`
	// Histogram counts both sets over common bins.
	Histogram *Histogram `json:"histogram,omitempty"`
	Labels    []int      `json:"labels"`
	Losses    []float64  `json:"losses"`
	HVPs      int        `json:"hvps"`
	Seed      uint64     `json:"seed"`
	Seconds   float64    `json:"seconds"`
	Plot      string     `json:"plot,omitempty"`
}

// Histogram is a histogram of the top and bottom eigenvalues over the same
// bins: Edges has one more entry than the counts.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Top    []int     `json:"top"`
	Bottom []int     `json:"bottom"`
}

// Distribution summarises a set of values.
type Distribution struct {
	Mean   float64   `json:"mean"`
	Std    float64   `json:"std"`
	Min    float64   `json:"min"`
	Median float64   `json:"median"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

func distribution(v []float64) Distribution {
	d := Distribution{Values: v}
	if len(v) == 0 {
		return d
	}
	s := slices.Clone(v)
	slices.Sort(s)
	d.Min, d.Max = s[0], s[len(s)-1]
	d.Median = s[len(s)/2]
	if len(s)%2 == 0 {
		d.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	for _, x := range v {
		d.Mean += x
	}
	d.Mean /= float64(len(v))
	if len(v) > 1 {
		for _, x := range v {
			d.Std += (x - d.Mean) * (x - d.Mean)
		}
		d.Std = math.Sqrt(d.Std / float64(len(v)-1))
	}
	return d
}

// spectrumRun holds what the parts of a spectrum run share.
type spectrumRun struct {
	ctx  context.Context
	o    *spectrumOptions
	prog io.Writer
	res  *SpectrumResult
	tol  float64
}

func runSpectrum[T tensor.Float](ctx context.Context, e *env, o *spectrumOptions, s *analysisSetup) error {
	start := time.Now()
	a, err := loadAnalysis[T](&o.analysisFlags, s)
	if err != nil {
		return err
	}
	net, d := a.net, a.d
	var params []*nn.Param[T]
	res := &SpectrumResult{analysisHeader: o.header(a.analysisSetup),
		BatchSize: o.chunk, Workers: o.workers, Threads: runtime.GOMAXPROCS(0),
		Method: o.method, Operator: o.operator, Params: net.NumParams()}
	if res.Workers == 0 {
		res.Workers = 1
	}
	if o.layer != "" {
		if params, err = hessian.Select(net.Params(), o.layer); err != nil {
			return usagef("-layer: %v", err)
		}
		res.Layer = o.layer
		for _, p := range params {
			res.LayerParams = append(res.LayerParams, p.Name)
		}
	}
	r := &spectrumRun{ctx: ctx, o: o, prog: a.prog, res: res, tol: o.tol}
	if r.tol == 0 && o.method == "lanczos" {
		r.tol = 1e-4
		if o.precision == "float64" {
			r.tol = 1e-6
		}
	}
	newOp := func(ps []*nn.Param[T]) (*linop.Counting, int) {
		if o.operator == "ggn" {
			g := hessian.NewGaussNewton[T](net, a.chunks, nn.Eval, ps)
			g.Workers = o.workers
			return linop.NewCounting(g), g.Dim()
		}
		h := hessian.NewParams[T](net, a.chunks, nn.Eval, ps)
		h.Workers = o.workers
		return linop.NewCounting(h), h.Dim()
	}
	op, dim := newOp(params)
	res.Dim = dim

	obj := hessian.NewObjective[T](net, a.chunks, nn.Eval)
	obj.Workers = o.workers
	grad := make([]float64, obj.Dim())
	res.Loss = obj.Eval(grad, obj.Theta())
	res.Accuracy = obj.Accuracy
	res.GradNorm = math.Sqrt(dot(grad, grad))
	if err := ctx.Err(); err != nil {
		return err
	}
	err = experiment.Interruptible(func() error {
		if o.topK > 0 {
			top, err := r.solve("top eigenvalues", linop.Largest, min(o.topK, dim), op)
			if err != nil {
				return err
			}
			res.Top = &top
			res.TopEigen, res.Residuals, res.Converged = top.Values, top.Residuals, top.Converged
		}
		if o.bottomK > 0 {
			bottom, err := r.solve("smallest eigenvalues", linop.Smallest, min(o.bottomK, dim), op)
			if err != nil {
				return err
			}
			res.Bottom = &bottom
			res.MinEigen, res.MinResid = &bottom.Values[0], &bottom.Residuals[0]
		}
		if o.trace {
			tr, err := r.traces("trace", op)
			if err != nil {
				return err
			}
			res.Trace = tr
		}
		if o.density {
			if err := r.spectralDensity(op); err != nil {
				return err
			}
		}
		if o.perLayer {
			if err := perLayer(r, hessian.Layers(net.Params()), func(l hessian.Layer[T]) (*linop.Counting, int) { return newOp(l.Params) }); err != nil {
				return err
			}
		}
		if o.input {
			in := linop.NewCounting(hessian.NewInput[T](net, tensor.FromSlice(toT[T](d.X), d.N, d.C, d.H, d.W), d.Y, nn.Eval))
			top, err := r.solve("input top eigenvalue", linop.Largest, 1, in)
			if err != nil {
				return err
			}
			bottom, err := r.solve("input smallest eigenvalue", linop.Smallest, 1, in)
			if err != nil {
				return err
			}
			res.InputBatch = &InputBatchResult{Top: top, Bottom: bottom}
			res.InputTop, res.InputMin = &top.Values[0], &bottom.Values[0]
			res.InputResid = []float64{top.Residuals[0], bottom.Residuals[0]}
			res.HVPs += in.Count()
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.HVPs += op.Count()
	if o.inputSamples > 0 {
		if err := inputSamples(r, a); err != nil {
			return err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return o.finish(e.stdout, "spectrum.json", res, &res.Files, func(w io.Writer) { printSpectrum(w, res) })
}

func toT[T tensor.Float](x []float32) []T {
	if v, ok := any(x).([]T); ok {
		return v
	}
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = T(v)
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// warn records a solver's NotConvergedError as a warning and returns any
// other error.
func (r *spectrumRun) warn(what string, err error) error {
	var nc *linop.NotConvergedError
	if errors.As(err, &nc) {
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("%s: %v", what, err))
		return nil
	}
	return err
}

// bar returns a progress callback for a solver over about total matvecs.
func (r *spectrumRun) bar(label string, total int) func(linop.Progress) {
	return solverBar(r.ctx, r.prog, label, total, "%.6g")
}

// solve computes k eigenpairs at one end of op's spectrum with -method.
func (r *spectrumRun) solve(label string, which linop.Which, k int, op linop.Operator) (linop.Eigen, error) {
	o := r.o
	maxIter := o.maxIter
	if maxIter == 0 {
		maxIter = 100
		if o.method == "lanczos" {
			maxIter = min(op.Dim(), max(100, 3*k))
		}
	}
	stop := r.bar(label, maxIter)
	var e linop.Eigen
	var err error
	if o.method == "lanczos" {
		e, err = linop.Lanczos(op, which, linop.LanczosOptions{K: k, MaxIter: maxIter, Tol: r.tol, Seed: o.seed, Progress: stop, Context: r.ctx})
	} else {
		e, err = linop.Power(op, which, linop.PowerOptions{K: k, MaxIter: maxIter, Tol: r.tol, Seed: o.seed, Progress: stop, Context: r.ctx})
	}
	return e, r.warn(label, err)
}

// traces estimates the trace of op with the estimators -trace-method asks.
func (r *spectrumRun) traces(label string, op linop.Operator) (*TraceResult, error) {
	o := r.o
	tr := &TraceResult{}
	run := func(name string, f func(linop.Operator, linop.TraceOptions) (linop.Trace, error)) (*linop.Trace, error) {
		t, err := f(op, linop.TraceOptions{MatVecs: o.traceMatvecs, Seed: o.seed, Progress: r.bar(label+" "+name, o.traceMatvecs)})
		if err := r.warn(label+" "+name, err); err != nil {
			return nil, err
		}
		return &t, nil
	}
	var err error
	if o.traceMethod != "hutch++" {
		if tr.Hutchinson, err = run("Hutchinson", linop.Hutchinson); err != nil {
			return nil, err
		}
	}
	if o.traceMethod != "hutchinson" {
		if tr.HutchPP, err = run("Hutch++", linop.HutchPlusPlus); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// spectralDensity runs SLQ on op, broadens it and plots it.
func (r *spectrumRun) spectralDensity(op linop.Operator) error {
	o := r.o
	steps := min(o.densitySteps, op.Dim())
	bar := progress.New(r.prog, "density (HVPs)", o.densityProbes*steps)
	done := 0
	s, err := linop.SLQ(op, linop.SLQOptions{Probes: o.densityProbes, Steps: steps, Seed: o.seed, Context: r.ctx, Progress: func(p linop.Progress) {
		experiment.StopIfDone(r.ctx)
		bar.Add(p.MatVecs-done, "")
		done = p.MatVecs
		if p.Final {
			bar.Finish("")
		}
	}})
	if err != nil {
		return err
	}
	grid, dens := s.Density(linop.DensityOptions{Bins: o.bins, SigmaSquared: o.sigma2})
	m1, se1 := s.Moment(1)
	m2, se2 := s.Moment(2)
	dr := &DensityResult{Probes: o.densityProbes, Steps: steps, SigmaSquared: o.sigma2,
		Moment1: m1, Moment1StdErr: se1, Moment2: m2, Moment2StdErr: se2, TraceEstimate: float64(s.Dim) * m1,
		Grid: grid, Density: dens, Quadrature: s}
	if len(grid) > 1 {
		dr.Variance = o.sigma2 * max(1, grid[len(grid)-1]-grid[0])
	}
	r.res.Density = dr
	path := o.plot
	if path == "" {
		if path, err = o.outPath("density." + o.format); err != nil {
			return err
		}
	}
	if path != "" {
		title := fmt.Sprintf("%s %s spectral density (%s, %d images)", r.res.Model, r.res.Operator, r.res.Data, r.res.Samples)
		c := chart.Line{Title: title, XLabel: "eigenvalue", YLabel: "density", LogY: true, LogFloor: 1e-8,
			Series: []chart.Series{{X: grid, Y: dens}}}
		if err := c.Save(path); err != nil {
			return err
		}
		dr.Plot = path
		r.res.Files = append(r.res.Files, path)
	}
	if csv, err := o.outPath("density.csv"); err != nil {
		return err
	} else if csv != "" {
		err := checkpoint.WriteFileAtomic(csv, func(w io.Writer) error {
			fmt.Fprintln(w, "eigenvalue,density")
			for i := range grid {
				fmt.Fprintf(w, "%g,%g\n", grid[i], dens[i])
			}
			return nil
		})
		if err != nil {
			return err
		}
		r.res.Files = append(r.res.Files, csv)
	}
	return nil
}

// perLayer analyses every layer's diagonal block: top-k, and bottom-k and
// trace when asked.
func perLayer[T tensor.Float](r *spectrumRun, layers []hessian.Layer[T], newOp func(hessian.Layer[T]) (*linop.Counting, int)) error {
	o := r.o
	quiet := r.prog
	bar := progress.New(r.prog, "per-layer spectra (layers)", len(layers))
	r.prog = nil // one bar for all layers
	defer func() { r.prog = quiet }()
	for _, l := range layers {
		op, dim := newOp(l)
		ls := LayerSpectrum{Name: l.Name, Dim: dim}
		for _, p := range l.Params {
			ls.Params = append(ls.Params, p.Name)
		}
		if o.topK > 0 {
			top, err := r.solve(l.Name+" top", linop.Largest, min(o.topK, dim), op)
			if err != nil {
				return err
			}
			ls.Top = &top
		}
		if o.bottomK > 0 {
			bottom, err := r.solve(l.Name+" bottom", linop.Smallest, min(o.bottomK, dim), op)
			if err != nil {
				return err
			}
			ls.Bottom = &bottom
		}
		if o.trace {
			tr, err := r.traces(l.Name+" trace", op)
			if err != nil {
				return err
			}
			ls.Trace = tr.HutchPP
			if ls.Trace == nil {
				ls.Trace = tr.Hutchinson
			}
		}
		ls.HVPs = op.Count()
		r.res.HVPs += ls.HVPs
		r.res.PerLayer = append(r.res.PerLayer, ls)
		status := ""
		if ls.Top != nil {
			status = fmt.Sprintf("%s λ1 %.4g", l.Name, ls.Top.Values[0])
		}
		bar.Add(1, status)
	}
	bar.Finish("")
	return nil
}

// inputSamples computes the per-sample input-Hessian eigenvalues of the
// first -input-samples images.
func inputSamples[T tensor.Float](r *spectrumRun, a *analysis[T]) error {
	o := r.o
	start := time.Now()
	sub := a.d.Subset(o.inputSamples)
	data := hessian.NewFloat32Data[T](sub.X, sub.Y, [3]int{sub.C, sub.H, sub.W}, o.chunk)
	maxIter := o.maxIter
	if maxIter == 0 {
		maxIter = min(sub.SampleLen(), 100)
	}
	bar := progress.New(r.prog, "input eigenvalues (images)", sub.N)
	cancel := make(chan struct{})
	stop := context.AfterFunc(r.ctx, func() { close(cancel) })
	defer stop()
	tol := r.tol
	if tol == 0 {
		tol = 1e-4
	}
	res, err := hessian.SampleInputEigen[T](a.net, data, hessian.SampleInputOptions{
		Mode:    nn.Eval,
		Lanczos: linop.LanczosOptions{K: 1, MaxIter: maxIter, Tol: tol, Seed: o.seed},
		Bottom:  true, Workers: o.workers, Cancel: cancel,
		Progress: func(done, total int) { bar.Add(1, "") },
	})
	bar.Finish("")
	if err != nil {
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		return err
	}
	out := &InputSampleResult{Samples: len(res), Seed: o.seed}
	var top, bottom []float64
	for _, s := range res {
		top = append(top, s.Top.Values[0])
		bottom = append(bottom, s.Bottom.Values[0])
		out.Labels = append(out.Labels, s.Label)
		out.Losses = append(out.Losses, s.Loss)
		out.HVPs += s.Top.MatVecs + s.Bottom.MatVecs
		for _, e := range []linop.Eigen{s.Top, *s.Bottom} {
			if !e.Converged[0] {
				out.Unconverged++
			}
			out.MaxResidual = max(out.MaxResidual, e.Residuals[0])
		}
	}
	out.Top, out.Bottom = distribution(top), distribution(bottom)
	if lo, hi := min(out.Top.Min, out.Bottom.Min), max(out.Top.Max, out.Bottom.Max); hi > lo {
		h := &Histogram{}
		h.Edges, h.Top = chart.Counts(top, lo, hi, 40)
		_, h.Bottom = chart.Counts(bottom, lo, hi, 40)
		out.Histogram = h
	}
	if out.Unconverged > 0 {
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("input samples: %d of %d eigenvalues did not converge (largest residual %.3g); raise -max-iter or use -precision float64", out.Unconverged, 2*len(res), out.MaxResidual))
	}
	path, err := o.outPath("input_eigenvalues." + o.format)
	if err != nil {
		return err
	}
	if path != "" {
		h := chart.Histogram{Title: fmt.Sprintf("%s: extreme eigenvalues of each image's input Hessian (%d images)", r.res.Model, len(res)),
			XLabel: "eigenvalue", Sets: []chart.Series{{Name: "λmax", X: top}, {Name: "λmin", X: bottom}}, Bins: 40}
		if err := h.Save(path); err != nil {
			return err
		}
		out.Plot = path
		r.res.Files = append(r.res.Files, path)
	}
	out.Seconds = time.Since(start).Seconds()
	r.res.InputSamples = out
	r.res.HVPs += out.HVPs
	return nil
}

func printSpectrum(w io.Writer, r *SpectrumResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%d parameters, %s, %s)\n", r.Model, r.Params, r.Precision, r.Activation)
	fmt.Fprintf(tw, "data\t%s (%s), %d images\n", r.Data, r.Split, r.Samples)
	fmt.Fprintf(tw, "loss\t%.6g (accuracy %.4g)\n", r.Loss, r.Accuracy)
	fmt.Fprintf(tw, "gradient norm\t%.6g\n", r.GradNorm)
	what := r.Operator
	if r.Layer != "" {
		what += fmt.Sprintf(", block %s (%d parameters)", r.Layer, r.Dim)
	}
	fmt.Fprintf(tw, "operator\t%s\n", what)
	for i, v := range r.TopEigen {
		fmt.Fprintf(tw, "λ%d\t%.8g\tresidual %.2g\tconverged %v\n", i+1, v, r.Residuals[i], r.Converged[i])
	}
	if r.Bottom != nil {
		for i, v := range r.Bottom.Values {
			fmt.Fprintf(tw, "λmin%s\t%.8g\tresidual %.2g\tconverged %v\n", strings.Repeat("'", i), v, r.Bottom.Residuals[i], r.Bottom.Converged[i])
		}
	}
	if t := r.Trace; t != nil {
		for _, x := range []struct {
			name string
			t    *linop.Trace
		}{{"Hutchinson", t.Hutchinson}, {"Hutch++", t.HutchPP}} {
			if x.t != nil {
				fmt.Fprintf(tw, "trace (%s)\t%.6g ± %.2g\t%d HVPs\n", x.name, x.t.Estimate, x.t.StdErr, x.t.MatVecs)
			}
		}
	}
	if d := r.Density; d != nil {
		fmt.Fprintf(tw, "density (SLQ)\t%d probes × %d steps\ttr/n %.4g ± %.2g, tr(H²)/n %.4g ± %.2g\n", d.Probes, d.Steps, d.Moment1, d.Moment1StdErr, d.Moment2, d.Moment2StdErr)
		if d.Plot != "" {
			fmt.Fprintf(tw, "density plot\t%s\n", d.Plot)
		}
	}
	for _, l := range r.PerLayer {
		line := fmt.Sprintf("layer %s\t%d parameters", l.Name, l.Dim)
		if l.Top != nil {
			line += fmt.Sprintf("\tλ1 %.6g", l.Top.Values[0])
		}
		if l.Bottom != nil {
			line += fmt.Sprintf("\tλmin %.6g", l.Bottom.Values[0])
		}
		if l.Trace != nil {
			line += fmt.Sprintf("\ttrace %.4g ± %.2g", l.Trace.Estimate, l.Trace.StdErr)
		}
		fmt.Fprintln(tw, line)
	}
	if r.InputTop != nil {
		fmt.Fprintf(tw, "λ1 (input batch)\t%.8g\tresidual %.2g\n", *r.InputTop, r.InputResid[0])
		fmt.Fprintf(tw, "λmin (input batch)\t%.8g\tresidual %.2g\n", *r.InputMin, r.InputResid[1])
	}
	if s := r.InputSamples; s != nil {
		fmt.Fprintf(tw, "input λmax per image\tmean %.6g ± %.3g\tmedian %.6g\t[%.4g, %.4g]\n", s.Top.Mean, s.Top.Std, s.Top.Median, s.Top.Min, s.Top.Max)
		fmt.Fprintf(tw, "input λmin per image\tmean %.6g ± %.3g\tmedian %.6g\t[%.4g, %.4g]\n", s.Bottom.Mean, s.Bottom.Std, s.Bottom.Median, s.Bottom.Min, s.Bottom.Max)
	}
	fmt.Fprintf(tw, "Hessian-vector products\t%d\n", r.HVPs)
	fmt.Fprintf(tw, "seconds\t%.2f\n", r.Seconds)
	tw.Flush()
	for _, f := range r.Files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}
