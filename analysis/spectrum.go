package analysis

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"hesscope/chart"
	"hesscope/data"
	"hesscope/hessian"
	"hesscope/internal/sysmem"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// SpectrumOptions configures Spectrum. Zero fields take the defaults given,
// which are those of hesscope spectrum.
type SpectrumOptions struct {
	// TopK is the number of largest eigenvalues (0: none); BottomK of
	// smallest ones.
	TopK, BottomK int
	// Method is the eigensolver: "lanczos" (default; full
	// reorthogonalisation) or "power" (PyHessian's power iteration).
	Method string
	// Operator is the curvature matrix: "hessian" (default) or "ggn", the
	// generalised Gauss-Newton matrix.
	Operator string
	// Layer restricts everything to a diagonal block: a layer name prefix
	// (conv1, layer2.0) or a comma list of tensor names (hessian.Select).
	Layer string
	// PerLayer also analyses every layer's diagonal block: its TopK,
	// BottomK and, with Trace, its trace.
	PerLayer bool
	// Trace estimates the trace with TraceMethod: "hutch++" (default),
	// "hutchinson" or "both", each with TraceMatVecs products (default 100).
	Trace        bool
	TraceMethod  string
	TraceMatVecs int
	// Density estimates the spectral density by stochastic Lanczos
	// quadrature: DensityProbes probes (default 3) of DensitySteps Lanczos
	// steps (default 80), broadened on DensityBins grid points (default
	// 1000) by a Gaussian of variance DensitySigma2 times max(1, spectrum
	// width) (default 1e-5, PyHessian's).
	Density                                  bool
	DensityProbes, DensitySteps, DensityBins int
	DensitySigma2                            float64
	// Input also computes the extreme eigenvalues of the Hessian with
	// respect to the whole input batch; InputSamples those of each of the
	// first InputSamples images' own input Hessians.
	Input        bool
	InputSamples int
	// InputScale, if not nil, holds one factor per channel of the images:
	// the input Hessians are then taken with respect to x for a model fed
	// z = InputScale·x + c per channel (linop.Congruent), so that with the
	// reciprocal standard deviations of a model's normalisation they are
	// with respect to the pixels while d holds the normalised images.
	InputScale []float64
	// MaxIter is the largest Krylov dimension (lanczos) or the iterations
	// per eigenvalue (power) (default 100, or 3·k for larger k); Tol the
	// relative tolerance (default 1e-4 in float32 and 1e-6 in float64 for
	// lanczos, 1e-3 for power).
	MaxIter int
	Tol     float64
	// Seed seeds every random choice: the start vectors and the probes.
	Seed uint64
	// BatchSize is the number of images per forward pass (default 256);
	// results are exact averages over all chunks. Workers is the number of
	// chunks (or images, for InputSamples) processed at once (0: 1 for
	// chunks, GOMAXPROCS for images); it does not change the results.
	BatchSize, Workers int
	// KeepPasses keeps every chunk's pass between the parameter Hessian's
	// products (hessian.Params.KeepChunks): the same bits, faster, and a
	// kept pass's working set per chunk, which the caller has checked fits.
	// Without it, passes are kept where every worker has one chunk.
	KeepPasses bool
	// Backend is where the Hessian-vector products run (nil: CPU).
	Backend Backend
	// Progress, if not nil, receives progress reports.
	Progress func(Progress)
}

func (o SpectrumOptions) withDefaults() SpectrumOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.TraceMatVecs, 100)
	def(&o.DensityProbes, 3)
	def(&o.DensitySteps, 80)
	def(&o.DensityBins, 1000)
	def(&o.BatchSize, 256)
	if o.Method == "" {
		o.Method = "lanczos"
	}
	if o.Operator == "" {
		o.Operator = "hessian"
	}
	if o.TraceMethod == "" {
		o.TraceMethod = "hutch++"
	}
	if o.DensitySigma2 == 0 {
		o.DensitySigma2 = 1e-5
	}
	return o
}

func (o SpectrumOptions) validate(n int) error {
	switch {
	case o.TopK < 0 || o.BottomK < 0 || o.MaxIter < 0 || o.InputSamples < 0 || o.Workers < 0 || o.BatchSize < 1:
		return fmt.Errorf("analysis: spectrum: negative counts (%+v)", o)
	case o.Method != "lanczos" && o.Method != "power":
		return fmt.Errorf("analysis: spectrum: method %q: want lanczos or power", o.Method)
	case o.Operator != "hessian" && o.Operator != "ggn":
		return fmt.Errorf("analysis: spectrum: operator %q: want hessian or ggn", o.Operator)
	case o.TraceMethod != "hutchinson" && o.TraceMethod != "hutch++" && o.TraceMethod != "both":
		return fmt.Errorf("analysis: spectrum: trace method %q: want hutchinson, hutch++ or both", o.TraceMethod)
	case o.TraceMatVecs < 1 || (o.TraceMethod != "hutchinson" && o.TraceMatVecs < 3):
		return fmt.Errorf("analysis: spectrum: %d trace products: want at least 3 for Hutch++, 1 for Hutchinson", o.TraceMatVecs)
	case o.DensityProbes < 1 || o.DensitySteps < 2 || o.DensityBins < 2:
		return fmt.Errorf("analysis: spectrum: want at least 1 density probe, 2 steps and 2 bins")
	case o.MaxIter > 0 && o.MaxIter < max(o.TopK, o.BottomK):
		return fmt.Errorf("analysis: spectrum: max-iter %d: want at least TopK and BottomK", o.MaxIter)
	case !(o.Tol >= 0 && o.Tol < 1) || !(o.DensitySigma2 > 0):
		return fmt.Errorf("analysis: spectrum: tolerance %v and broadening %v: want a tolerance in [0, 1) and a positive broadening", o.Tol, o.DensitySigma2)
	case o.InputSamples > n:
		return fmt.Errorf("analysis: spectrum: %d input samples of %d images", o.InputSamples, n)
	}
	return nil
}

// Memory estimates the bytes the largest stage of Spectrum keeps in
// vectors of the operator's dimension dim, for n images of sampleLen
// values: the eigensolver's (Lanczos keeps its whole Krylov basis, MaxIter
// vectors, and the K Ritz vectors; power iteration 2K + 4), Hutch++'s
// sketch (2/3 of its products), SLQ's basis (DensitySteps), and the input
// Hessian of the whole batch (dimension n·sampleLen). The model, its
// working state per worker and the data come on top; they are what any
// analysis of the model needs.
func (o SpectrumOptions) Memory(dim, n, sampleLen int) uint64 {
	o = o.withDefaults()
	eigen := func(k, dim int) int {
		if k == 0 {
			return 0
		}
		k = min(k, dim)
		if o.Method == "power" {
			return 2*k + 4
		}
		maxIter := o.MaxIter
		if maxIter == 0 {
			maxIter = max(100, 3*k)
		}
		return min(maxIter, dim) + k + 2
	}
	vecs := max(eigen(o.TopK, dim), eigen(o.BottomK, dim))
	if o.Trace {
		vecs = max(vecs, 2*o.TraceMatVecs/3+2)
	}
	if o.Density {
		vecs = max(vecs, min(o.DensitySteps, dim)+2)
	}
	bytes := uint64(vecs) * uint64(dim) * 8
	if o.Input {
		in := n * sampleLen
		bytes = max(bytes, uint64(eigen(1, in))*uint64(in)*8)
	}
	return bytes
}

// SpectrumResult is the result of Spectrum, the JSON output of hesscope
// spectrum. The flat fields (top_eigenvalues, residuals, min_eigenvalue, …)
// are kept for scripts written against the first version; the objects
// carry the full records.
type SpectrumResult struct {
	Header
	BatchSize int    `json:"batch_size"`
	Workers   int    `json:"workers"`
	Threads   int    `json:"threads"`
	Method    string `json:"method"`
	Operator  string `json:"operator"`
	// Tol is the relative tolerance the eigensolvers used (the default
	// when SpectrumOptions.Tol is 0).
	Tol         float64  `json:"tol"`
	Params      int      `json:"params"`
	Layer       string   `json:"layer,omitempty"`
	LayerParams []string `json:"layer_params,omitempty"`
	Dim         int      `json:"dim"`
	Loss        float64  `json:"loss"`
	Accuracy    float64  `json:"accuracy"`
	GradNorm    float64  `json:"grad_norm"`

	TopEigen  []float64 `json:"top_eigenvalues"`
	Residuals []float64 `json:"residuals"`
	Converged []bool    `json:"converged"`
	MinEigen  *float64  `json:"min_eigenvalue,omitempty"`
	MinResid  *float64  `json:"min_residual,omitempty"`
	// InputTop and InputMin are the extreme eigenvalues of the Hessian of
	// the batch-mean loss with respect to the whole input batch (Input):
	// for images that do not interact (BatchNorm in eval mode) the extreme
	// per-image eigenvalues divided by the batch size, not their mean,
	// which InputSamples gives (and a sweep's input_top_eigenvalue is).
	InputTop   *float64  `json:"input_batch_top_eigenvalue,omitempty"`
	InputMin   *float64  `json:"input_batch_min_eigenvalue,omitempty"`
	InputResid []float64 `json:"input_batch_residuals,omitempty"`

	Top          *linop.Eigen       `json:"top,omitempty"`
	Bottom       *linop.Eigen       `json:"bottom,omitempty"`
	Trace        *TraceResult       `json:"trace,omitempty"`
	Density      *DensityResult     `json:"density,omitempty"`
	PerLayer     []LayerSpectrum    `json:"per_layer,omitempty"`
	InputBatch   *InputBatchResult  `json:"input,omitempty"`
	InputSamples *InputSampleResult `json:"input_samples,omitempty"`

	// Files lists the files the caller wrote (the command: plots, CSV and
	// the result itself).
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
	// Plot is the file the caller plotted the density to, if any.
	Plot string `json:"plot,omitempty"`
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
	// Plot is the file the caller plotted the histogram to, if any.
	Plot string `json:"plot,omitempty"`
}

// Histogram is a histogram of the top and bottom eigenvalues over the same
// bins: Edges has one more entry than the counts.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Top    []int     `json:"top"`
	Bottom []int     `json:"bottom"`
}

// spectrumRun holds what the parts of a spectrum run share.
type spectrumRun struct {
	ctx  context.Context
	o    SpectrumOptions
	prog reporter
	res  *SpectrumResult
	tol  float64
}

// Spectrum analyses the Hessian (or the Gauss-Newton matrix) of the mean
// cross-entropy loss of m over the images of d, exactly, in BatchNorm's
// eval mode: the dataset is streamed in chunks of BatchSize images, each
// product the exact average of the per-chunk products weighted by chunk
// size. Every eigenvalue comes with its residual and a converged flag (a
// solver that misses its tolerance adds a warning), every result with its
// number of Hessian-vector products, seed and time. Pixels are used as
// they are: apply a model's input normalisation to d first.
func Spectrum[T tensor.Float](ctx context.Context, m hessian.Model[T], d *data.Dataset, o SpectrumOptions) (*SpectrumResult, error) {
	start := time.Now()
	o = o.withDefaults()
	if err := o.validate(d.N); err != nil {
		return nil, err
	}
	eng, err := engine[T](o.Backend)
	if err != nil {
		return nil, err
	}
	src := Source[T]{Model: m, Data: chunks[T](d, o.BatchSize), Mode: nn.Eval, Workers: o.Workers, KeepPasses: o.KeepPasses}
	var params []*nn.Param[T]
	res := &SpectrumResult{Header: header(m, d, o.Seed),
		BatchSize: o.BatchSize, Workers: max(o.Workers, 1), Threads: runtime.GOMAXPROCS(0),
		Method: o.Method, Operator: o.Operator, Params: nn.Size(nn.Trainable(m.Params()))}
	if o.Layer != "" {
		if params, err = hessian.Select(m.Params(), o.Layer); err != nil {
			return nil, err
		}
		res.Layer = o.Layer
		for _, p := range params {
			res.LayerParams = append(res.LayerParams, p.Name)
		}
	}
	r := &spectrumRun{ctx: ctx, o: o, prog: o.Progress, res: res, tol: o.Tol}
	if r.tol == 0 && o.Method == "lanczos" {
		r.tol = 1e-4
		if precision[T]() == "float64" {
			r.tol = 1e-6
		}
	}
	if r.tol == 0 {
		r.tol = 1e-3 // power's default
	}
	res.Tol = r.tol
	newOp := func(ps []*nn.Param[T]) *linop.Counting {
		if o.Operator == "ggn" {
			return linop.NewCounting(eng.GaussNewton(src, ps))
		}
		return linop.NewCounting(eng.Params(src, ps))
	}
	op := newOp(params)
	dim := op.Dim()
	res.Dim = dim
	if err := sysmem.Check("analysis: spectrum", o.Memory(dim, d.N, d.SampleLen())); err != nil {
		return nil, err
	}

	obj := eng.Objective(src)
	grad := make([]float64, obj.Dim())
	res.Loss = obj.Eval(grad, obj.Theta())
	res.Accuracy = obj.Accuracy()
	res.GradNorm = math.Sqrt(dot(grad, grad))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.TopK > 0 {
		top, err := r.solve("top eigenvalues", linop.Largest, min(o.TopK, dim), op)
		if err != nil {
			return nil, err
		}
		res.Top = &top
		res.TopEigen, res.Residuals, res.Converged = top.Values, top.Residuals, top.Converged
	}
	if o.BottomK > 0 {
		bottom, err := r.solve("smallest eigenvalues", linop.Smallest, min(o.BottomK, dim), op)
		if err != nil {
			return nil, err
		}
		res.Bottom = &bottom
		res.MinEigen, res.MinResid = &bottom.Values[0], &bottom.Residuals[0]
	}
	if o.Trace {
		if res.Trace, err = r.traces("trace", op); err != nil {
			return nil, err
		}
	}
	if o.Density {
		if err := r.spectralDensity(op); err != nil {
			return nil, err
		}
	}
	// The whole network's operator is done: its passes (kept ones, with
	// KeepPasses, one per chunk) are let go before the next operators take
	// their memory.
	release(op)
	if o.PerLayer {
		if err := perLayer(r, hessian.Layers(m.Params()), func(l hessian.Layer[T]) *linop.Counting { return newOp(l.Params) }); err != nil {
			return nil, err
		}
	}
	if o.Input {
		var h linop.Operator = eng.Input(m, images[T](d), d.Y, nn.Eval)
		if o.InputScale != nil {
			h = &linop.Congruent{Diag: inputDiag(o.InputScale, d.N, d.C, d.H*d.W), Op: h}
		}
		in := linop.NewCounting(h)
		top, err := r.solve("input top eigenvalue", linop.Largest, 1, in)
		if err != nil {
			return nil, err
		}
		bottom, err := r.solve("input smallest eigenvalue", linop.Smallest, 1, in)
		if err != nil {
			return nil, err
		}
		res.InputBatch = &InputBatchResult{Top: top, Bottom: bottom}
		res.InputTop, res.InputMin = &top.Values[0], &bottom.Values[0]
		res.InputResid = []float64{top.Residuals[0], bottom.Residuals[0]}
		res.HVPs += in.Count()
	}
	res.HVPs += op.Count()
	if o.InputSamples > 0 {
		if err := inputSamples(r, m, d); err != nil {
			return nil, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// release lets an operator's passes go before the next operator keeps its
// own (hessian.Params.Release, through a linop.Counting); other operators
// keep theirs until they are collected.
func release(op linop.Operator) {
	if c, ok := op.(*linop.Counting); ok {
		op = c.Op
	}
	if r, ok := op.(interface{ Release() }); ok {
		r.Release()
	}
}

// warn records a solver's NotConvergedError as a warning and returns any
// other error.
func (r *spectrumRun) warn(what string, err error) error {
	if notConverged(err) {
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("%s: %v", what, err))
		return nil
	}
	return err
}

// bar returns a progress callback for a solver, showing its estimate in
// format.
func (r *spectrumRun) bar(label, format string) func(linop.Progress) {
	return r.prog.solver(label, format)
}

// solve computes k eigenpairs at one end of op's spectrum with the Method.
func (r *spectrumRun) solve(label string, which linop.Which, k int, op linop.Operator) (linop.Eigen, error) {
	o := r.o
	maxIter := o.MaxIter
	if maxIter == 0 {
		maxIter = 100
		if o.Method == "lanczos" {
			maxIter = min(op.Dim(), max(100, 3*k))
		}
	}
	stop := r.bar(label, "λ ≈ %.6g")
	var e linop.Eigen
	var err error
	if o.Method == "lanczos" {
		e, err = linop.Lanczos(op, which, linop.LanczosOptions{K: k, MaxIter: maxIter, Tol: r.tol, Seed: o.Seed, Progress: stop, Context: r.ctx})
	} else {
		e, err = linop.Power(op, which, linop.PowerOptions{K: k, MaxIter: maxIter, Tol: r.tol, Seed: o.Seed, Progress: stop, Context: r.ctx})
	}
	return e, r.warn(label, err)
}

// traces estimates the trace of op with the estimators TraceMethod asks.
func (r *spectrumRun) traces(label string, op linop.Operator) (*TraceResult, error) {
	o := r.o
	tr := &TraceResult{}
	run := func(name string, f func(linop.Operator, linop.TraceOptions) (linop.Trace, error)) (*linop.Trace, error) {
		t, err := f(op, linop.TraceOptions{MatVecs: o.TraceMatVecs, Seed: o.Seed, Progress: r.bar(label+" "+name, "tr ≈ %.6g"), Context: r.ctx})
		if err := r.warn(label+" "+name, err); err != nil {
			return nil, err
		}
		return &t, nil
	}
	var err error
	if o.TraceMethod != "hutch++" {
		if tr.Hutchinson, err = run("Hutchinson", linop.Hutchinson); err != nil {
			return nil, err
		}
	}
	if o.TraceMethod != "hutchinson" {
		if tr.HutchPP, err = run("Hutch++", linop.HutchPlusPlus); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// spectralDensity runs SLQ on op and broadens it.
func (r *spectrumRun) spectralDensity(op linop.Operator) error {
	o := r.o
	steps := min(o.DensitySteps, op.Dim())
	s, err := linop.SLQ(op, linop.SLQOptions{Probes: o.DensityProbes, Steps: steps, Seed: o.Seed,
		Progress: r.prog.solver("density", ""), Context: r.ctx})
	if err != nil {
		return err
	}
	grid, dens := s.Density(linop.DensityOptions{Bins: o.DensityBins, SigmaSquared: o.DensitySigma2})
	m1, se1 := s.Moment(1)
	m2, se2 := s.Moment(2)
	dr := &DensityResult{Probes: o.DensityProbes, Steps: steps, SigmaSquared: o.DensitySigma2,
		Moment1: m1, Moment1StdErr: se1, Moment2: m2, Moment2StdErr: se2, TraceEstimate: float64(s.Dim) * m1,
		Grid: grid, Density: dens, Quadrature: s}
	if len(grid) > 1 {
		dr.Variance = o.DensitySigma2 * max(1, grid[len(grid)-1]-grid[0])
	}
	r.res.Density = dr
	return nil
}

// perLayer analyses every layer's diagonal block: top-k, and bottom-k and
// trace when asked.
func perLayer[T tensor.Float](r *spectrumRun, layers []hessian.Layer[T], newOp func(hessian.Layer[T]) *linop.Counting) error {
	o := r.o
	outer := r.prog
	stage := "per-layer spectra (layers)"
	r.prog = nil // one bar for all layers
	defer func() { r.prog = outer }()
	for i, l := range layers {
		op := newOp(l)
		dim := op.Dim()
		ls := LayerSpectrum{Name: l.Name, Dim: dim}
		for _, p := range l.Params {
			ls.Params = append(ls.Params, p.Name)
		}
		if o.TopK > 0 {
			top, err := r.solve(l.Name+" top", linop.Largest, min(o.TopK, dim), op)
			if err != nil {
				return err
			}
			ls.Top = &top
		}
		if o.BottomK > 0 {
			bottom, err := r.solve(l.Name+" bottom", linop.Smallest, min(o.BottomK, dim), op)
			if err != nil {
				return err
			}
			ls.Bottom = &bottom
		}
		if o.Trace {
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
		release(op)
		status := ""
		if ls.Top != nil {
			status = fmt.Sprintf("%s λ1 %.4g", l.Name, ls.Top.Values[0])
		}
		outer.report(Progress{Stage: stage, Done: i + 1, Total: len(layers), Status: status})
	}
	outer.report(Progress{Stage: stage, Done: len(layers), Total: len(layers), Final: true})
	return nil
}

// inputDiag returns the diagonal of n images' input scaling, scale[c] for
// each of the hw values of channel c; nil for a nil scale.
func inputDiag(scale []float64, n, c, hw int) []float64 {
	if scale == nil {
		return nil
	}
	if len(scale) != c {
		panic(fmt.Sprintf("analysis: input scale of %d channels for images of %d", len(scale), c))
	}
	d := make([]float64, 0, n*c*hw)
	for range n {
		for ch := range c {
			for range hw {
				d = append(d, scale[ch])
			}
		}
	}
	return d
}

// inputSamples computes the per-sample input-Hessian eigenvalues of the
// first InputSamples images.
func inputSamples[T tensor.Float](r *spectrumRun, m hessian.Model[T], d *data.Dataset) error {
	o := r.o
	start := time.Now()
	sub := d.Subset(o.InputSamples)
	maxIter := o.MaxIter
	if maxIter == 0 {
		maxIter = min(sub.SampleLen(), 100)
	}
	progress, finish := r.prog.counter("input eigenvalues (images)", sub.N)
	cancel, stop := cancelChan(r.ctx)
	defer stop()
	tol := r.tol
	if tol == 0 {
		tol = 1e-4
	}
	res, err := hessian.SampleInputEigen[T](m, chunks[T](sub, o.BatchSize), hessian.SampleInputOptions{
		Mode:    nn.Eval,
		Lanczos: linop.LanczosOptions{K: 1, MaxIter: maxIter, Tol: tol, Seed: o.Seed},
		Bottom:  true, Workers: o.Workers, Cancel: cancel,
		Progress: progress, Scale: inputDiag(o.InputScale, 1, sub.C, sub.H*sub.W),
	})
	finish("")
	if err != nil {
		return ctxErr(r.ctx, err)
	}
	out := &InputSampleResult{Samples: len(res), Seed: o.Seed}
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
	out.Seconds = time.Since(start).Seconds()
	r.res.InputSamples = out
	r.res.HVPs += out.HVPs
	return nil
}
