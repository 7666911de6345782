package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"hesscope/analysis"
	"hesscope/chart"
	"hesscope/checkpoint"
	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

func init() {
	commands = append(commands, &command{
		name:        "spectrum",
		usage:       "-model NAME [-weights FILE] [-dataset NAME|FILE] [flags]",
		short:       "exact Hessian eigenvalues, trace, density, per-layer and input-space spectra",
		distributed: true,
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
  -input              extreme eigenvalues of the Hessian of the batch-mean loss
                      w.r.t. the whole input batch (about the largest
                      per-image eigenvalue divided by the batch size)
  -input-samples N    per-sample top and bottom eigenvalues of the Hessian of
                      each image's loss w.r.t. that image, for the first N
                      images: their mean, spread and histogram (Yao et al.
                      report these next to the parameter spectrum)

Input Hessians are with respect to the pixels in [0, 1], also for a model
trained with -normalize (through its normalisation), as saddle-check and
sweep report them.

Every eigenvalue comes with its residual ‖Hv − λv‖ and a converged flag,
set when the residual is at most -tol·max(|λ|, 1e-3·‖H‖) — the same rule
and the same number in the table, the JSON and any warning (warnings go to
standard error); every result with its number of Hessian-vector products,
seed and time. BatchNorm is in eval mode. Weights written by 'hesscope
train' carry their dataset, input normalisation and activation, which are
used unless -dataset or -activation say otherwise.

Sizes are bounded before any work (see each flag), and a run whose solvers
would keep more vectors than the memory available holds (Lanczos keeps its
whole Krylov basis: parameters × Krylov dimension × 8 bytes) is refused
with the estimate. Ctrl-C stops it within a second or two (status 130).

-device cuda runs the parameter-Hessian products and the loss on the first
NVIDIA GPU (a binary built with -tags cuda; ReLU models); the input
Hessians (-input, -input-samples) stay on the CPU, and -operator ggn is not
available there.

-out DIR writes spectrum.json, density.csv and the plots (density, input
eigenvalue histogram) there; -plot FILE names the density plot.`,
		flags: spectrumFlags,
	})
}

// spectrumFiles are the files spectrum may write in -out.
var spectrumFiles = []string{"spectrum.json", "density.csv", "density.png", "density.svg", "input_eigenvalues.png", "input_eigenvalues.svg"}

type spectrumOptions struct {
	analysisFlags
	method, operator, layer, traceMethod, plot      string
	device                                          string
	topK, bottomK, maxIter, inputSamples            int
	traceMatvecs, densityProbes, densitySteps, bins int
	min, input, perLayer, trace, density            bool
	tol, sigma2                                     float64
}

func spectrumFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &spectrumOptions{}
	o.register(fs, "256")
	fs.IntVar(&o.topK, "top-k", 1, "number of largest eigenvalues (0: none), at most the number of parameters (and what memory allows: Lanczos keeps max(100, 3k) vectors of that size)")
	fs.BoolVar(&o.min, "min", false, "also compute the smallest (most negative) eigenvalue (the same as -bottom-k 1; not with -bottom-k)")
	fs.IntVar(&o.bottomK, "bottom-k", 0, "number of smallest eigenvalues, at most the number of parameters (-min is -bottom-k 1)")
	fs.StringVar(&o.operator, "operator", "hessian", "curvature matrix: hessian or ggn (generalised Gauss-Newton, PSD)")
	fs.StringVar(&o.layer, "layer", "", "restrict to a diagonal block: a layer `name` prefix (conv1, layer2.0) or comma list of tensor names")
	fs.BoolVar(&o.perLayer, "per-layer", false, "also analyse every layer's diagonal block")
	fs.BoolVar(&o.trace, "trace", false, "estimate the trace")
	fs.StringVar(&o.traceMethod, "trace-method", "hutch++", "trace estimator: hutchinson, hutch++ or both")
	fs.IntVar(&o.traceMatvecs, "trace-matvecs", 100, fmt.Sprintf("Hessian-vector products per trace estimate, 3 to %d (Hutch++ keeps 2/3 of them as vectors)", maxProducts))
	fs.BoolVar(&o.density, "density", false, "estimate the spectral density by stochastic Lanczos quadrature")
	fs.IntVar(&o.densityProbes, "density-probes", 3, "SLQ probe vectors (probes × steps at most 1000000)")
	fs.IntVar(&o.densitySteps, "density-steps", 80, "Lanczos steps (Hessian-vector products) per SLQ probe, each kept as a vector")
	fs.IntVar(&o.bins, "density-bins", 1000, fmt.Sprintf("grid points of the density, 2 to %d", maxBins))
	fs.Float64Var(&o.sigma2, "density-sigma2", 1e-5, "Gaussian broadening: variance σ² as a fraction of max(1, spectrum width) (PyHessian's)")
	fs.StringVar(&o.plot, "plot", "", "density plot `file` (.png or .svg; default: density.<format> in -out)")
	fs.BoolVar(&o.input, "input", false, "also compute the extreme eigenvalues of the Hessian w.r.t. the whole input batch")
	fs.IntVar(&o.inputSamples, "input-samples", 0, "per-sample input-Hessian eigenvalues for the first `N` images, at most -samples")
	fs.StringVar(&o.method, "method", "lanczos", "eigensolver: lanczos or power (PyHessian's iteration; smallest eigenvalues by a shift, slow for a Hessian)")
	fs.IntVar(&o.maxIter, "max-iter", 0, "largest Krylov dimension (lanczos; capped at the number of parameters) or iterations per eigenvalue (power); 0: 100, or 3·k for k > 33 eigenvalues with lanczos")
	deviceFlag(fs, &o.device)
	fs.Float64Var(&o.tol, "tol", 0, "relative tolerance, above 0 and below 1 (default: 1e-4 lanczos with float32, 1e-6 with float64; 1e-3 power; recorded in the result): residual ‖Hv−λv‖ ≤ tol·max(|λ|, 1e-3·‖H‖)")
	return func(ctx context.Context, e *env) error {
		n, err := o.validate()
		if err != nil {
			return err
		}
		if err := o.check(n); err != nil {
			return err
		}
		if o.tol == 0 && givenFlags(fs)["tol"] {
			return usagef("-tol 0: want 0 < -tol < 1 (leave -tol out for the default: 1e-4 lanczos with float32, 1e-6 with float64, 1e-3 power)")
		}
		if err := checkUnused(fs,
			notUsed{!o.density, "without -density", []string{"density-bins", "density-sigma2", "density-steps", "density-probes"}},
			notUsed{!o.trace, "without -trace", []string{"trace-matvecs", "trace-method"}},
			notUsed{o.out == "", "without -out (it is the format of the plots in -out)", []string{"format"}},
			notUsed{o.plot != "" && o.inputSamples == 0, "with -plot (its extension gives the plot's format)", []string{"format"}},
		); err != nil {
			return err
		}
		if err := o.checkOut(spectrumFiles...); err != nil {
			return err
		}
		if err := checkOutputs(o.inputs(), output{"-plot", o.plot}); err != nil {
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
	if o.min && o.bottomK > 0 {
		return usagef("-min and -bottom-k %d: -min is -bottom-k 1; give one", o.bottomK)
	}
	if o.min {
		o.bottomK = 1
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
	case o.traceMatvecs < 3 || o.traceMatvecs > maxProducts:
		return usagef("-trace-matvecs %d: want 3 to %d", o.traceMatvecs, maxProducts)
	case o.densityProbes < 1 || o.densitySteps < 2 || o.bins < 2:
		return usagef("-density-probes, -density-steps and -density-bins: want at least 1, 2 and 2")
	case o.densityProbes*o.densitySteps > maxProducts || o.densityProbes > maxProducts || o.densitySteps > maxProducts:
		return usagef("-density-probes %d × -density-steps %d: want at most %d Hessian-vector products", o.densityProbes, o.densitySteps, maxProducts)
	case o.bins > maxBins:
		return usagef("-density-bins %d: want at most %d (far finer than any plot)", o.bins, maxBins)
	case !(o.sigma2 > 0):
		return usagef("-density-sigma2 %v: want a positive variance", o.sigma2)
	case o.inputSamples < 0:
		return usagef("-input-samples %d: want 0 or more", o.inputSamples)
	case samples > 0 && o.inputSamples > samples:
		return usagef("-input-samples %d: more than -samples %d", o.inputSamples, samples)
	case o.plot != "" && !o.density:
		return usagef("-plot is the density plot: it needs -density")
	case o.device != "cpu" && o.device != "cuda":
		return usagef("-device %q: want cpu or cuda", o.device)
	case o.device == "cuda" && o.operator == "ggn":
		return usagef("-operator ggn runs on the CPU only: drop -device cuda")
	}
	return checkPlotPath("-plot", o.plot)
}

func runSpectrum[T tensor.Float](ctx context.Context, e *env, o *spectrumOptions, s *analysisSetup) error {
	a, err := loadAnalysis[T](e, &o.analysisFlags, s)
	if err != nil {
		return err
	}
	params := nn.Trainable(a.net.Params())
	if o.layer != "" {
		if params, err = hessian.Select(a.net.Params(), o.layer); err != nil {
			return usagef("-layer: %v", err)
		}
	}
	if o.input && e.comm != nil && e.comm.Size() > 1 {
		return usagef("-input: the Hessian with respect to the whole input batch is not split across ranks; run it as one process")
	}
	if err := o.firstImages(e, s, "-input-samples", o.inputSamples); err != nil {
		return err
	}
	backend, d := o.distribute(e, s)
	if backend != nil && o.device != "cpu" {
		return usagef("-device %s: a job of several MPI ranks runs on the CPU engine", o.device)
	}
	if backend == nil {
		b, err := backendFor(o.device, a.net)
		if err != nil {
			return err
		}
		backend = b
	}
	opts := analysis.SpectrumOptions{
		TopK: o.topK, BottomK: o.bottomK, Method: o.method, Operator: o.operator, Layer: o.layer, PerLayer: o.perLayer,
		Trace: o.trace, TraceMethod: o.traceMethod, TraceMatVecs: o.traceMatvecs,
		Density: o.density, DensityProbes: o.densityProbes, DensitySteps: o.densitySteps, DensityBins: o.bins, DensitySigma2: o.sigma2,
		Input: o.input, InputSamples: o.inputSamples, MaxIter: o.maxIter, Tol: o.tol, Seed: o.seed,
		BatchSize: o.chunk, Workers: o.workers, Progress: bars(a.prog), Backend: backend}
	// Bounds that need the model: k eigenvalues of a dim×dim matrix, and
	// the memory the solvers keep.
	dim := nn.Size(params)
	if err := atMost("-top-k", o.topK, dim, "the operator's dimension, the number of parameters"); err != nil {
		return err
	}
	if err := atMost("-bottom-k", o.bottomK, dim, "the operator's dimension, the number of parameters"); err != nil {
		return err
	}
	vecs := opts.Memory(dim, d.N, d.SampleLen())
	if err := checkMemory("spectrum", vecs, "-top-k, -bottom-k, -max-iter, -trace-matvecs or -density-steps, or -samples with -input"); err != nil {
		return err
	}
	// And the passes beside them, on the CPU: -workers evaluators of a
	// chunk each, then with -input one over every image.
	if o.device == "cpu" {
		chunk := min(o.chunk, d.N)
		if err := checkPasses(a.net, hessian.HVPPass, chunk, o.chunkWorkers(d.N), vecs, "-batch-size or -workers"); err != nil {
			return err
		}
		// Every chunk's pass kept between products where one per chunk
		// fits too: the same results, each product after the first
		// without the values and cotangents.
		opts.KeepPasses = keepChunks(a.net, chunk, d.N, o.chunkWorkers(d.N), vecs)
		if o.input {
			if err := checkPasses(a.net, hessian.InputHVPPass, d.N, 1, vecs, "-samples"); err != nil {
				return err
			}
		}
	}
	opts.InputScale = inputScale(a.norm)
	res, err := analysis.Spectrum[T](ctx, a.net, d, opts)
	if err != nil {
		return err
	}
	res.Header = o.header(a.analysisSetup)
	if _, err := jsonResult(res); err != nil {
		return err // before any file is written
	}
	if !root(e) {
		return nil
	}
	if err := writeSpectrumFiles(o, res); err != nil {
		return abandon(res.Files, err)
	}
	return o.finish(e, "spectrum.json", res, &res.Files, &res.Warnings, func(w io.Writer) { printSpectrum(w, res) })
}

// writeSpectrumFiles writes the density plot and CSV and the histogram of
// the per-sample input eigenvalues, as asked.
func writeSpectrumFiles(o *spectrumOptions, res *analysis.SpectrumResult) error {
	if dr := res.Density; dr != nil {
		path := o.plot
		if path == "" {
			var err error
			if path, err = o.outPath("density." + o.format); err != nil {
				return err
			}
		}
		if path != "" {
			title := fmt.Sprintf("%s %s spectral density (%s, %d images)", res.Model, res.Operator, res.Data, res.Samples)
			c := chart.Line{Title: title, XLabel: "eigenvalue", YLabel: "density", LogY: true, LogFloor: 1e-8,
				Series: []chart.Series{{X: dr.Grid, Y: dr.Density}}}
			if err := c.Save(path); err != nil {
				return err
			}
			dr.Plot = path
			res.Files = append(res.Files, path)
		}
		if csv, err := o.outPath("density.csv"); err != nil {
			return err
		} else if csv != "" {
			err := checkpoint.WriteFileAtomic(csv, func(w io.Writer) error {
				fmt.Fprintln(w, "eigenvalue,density")
				for i := range dr.Grid {
					fmt.Fprintf(w, "%g,%g\n", dr.Grid[i], dr.Density[i])
				}
				return nil
			})
			if err != nil {
				return err
			}
			res.Files = append(res.Files, csv)
		}
	}
	if s := res.InputSamples; s != nil {
		path, err := o.outPath("input_eigenvalues." + o.format)
		if err != nil {
			return err
		}
		if path != "" {
			h := inputHistogram(res.Model, s.Samples, s.Top.Values, s.Bottom.Values)
			if err := h.Save(path); err != nil {
				return err
			}
			s.Plot = path
			res.Files = append(res.Files, path)
		}
	}
	return nil
}

// withResidual formats eigenvalue i of e with its residual, and says so if
// it did not converge.
func withResidual(e *linop.Eigen, i int) string {
	s := fmt.Sprintf("%.6g (residual %.3g", e.Values[i], e.Residuals[i])
	if !e.Converged[i] {
		s += ", not converged"
	}
	return s + ")"
}

// inputHistogram is the histogram of the per-image extreme input-Hessian
// eigenvalues. They spread over orders of magnitude (an image far from the
// decision boundary has a tiny Hessian), so equal bins on a linear axis
// would pile nearly all of them into one: it bins λmax and −λmin on a
// logarithmic axis, naming how many of each lie on the other side of 0.
func inputHistogram(model string, n int, top, bottom []float64) chart.Histogram {
	name := func(label string, v []float64, sign float64, rest string) chart.Series {
		var mag []float64
		for _, x := range v {
			if x*sign > 0 {
				mag = append(mag, x*sign)
			}
		}
		if out := len(v) - len(mag); out > 0 {
			label += fmt.Sprintf(" (%d of %d %s not shown)", out, len(v), rest)
		}
		return chart.Series{Name: label, X: mag}
	}
	return chart.Histogram{Title: fmt.Sprintf("%s: extreme eigenvalues of each image's input Hessian (%d images)", model, n),
		XLabel: "|eigenvalue| (log scale)", LogX: true, Bins: 40,
		Sets: []chart.Series{name("λmax", top, 1, "≤ 0"), name("−λmin", bottom, -1, "with λmin ≥ 0")}}
}

func printSpectrum(w io.Writer, r *analysis.SpectrumResult) {
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
	fmt.Fprintf(tw, "tolerance\t%g (residual ‖Hv−λv‖ ≤ tol·max(|λ|, 1e-3·‖H‖))\n", r.Tol)
	// Residuals in %.3g everywhere: the number a warning quotes.
	for i, v := range r.TopEigen {
		fmt.Fprintf(tw, "λ%d\t%.8g\tresidual %.3g\tconverged %v\n", i+1, v, r.Residuals[i], r.Converged[i])
	}
	if r.Bottom != nil {
		for i, v := range r.Bottom.Values {
			fmt.Fprintf(tw, "λmin%s\t%.8g\tresidual %.3g\tconverged %v\n", strings.Repeat("'", i), v, r.Bottom.Residuals[i], r.Bottom.Converged[i])
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
			line += "\tλ1 " + withResidual(l.Top, 0)
		}
		if l.Bottom != nil {
			line += "\tλmin " + withResidual(l.Bottom, 0)
		}
		if l.Trace != nil {
			line += fmt.Sprintf("\ttrace %.4g ± %.2g", l.Trace.Estimate, l.Trace.StdErr)
		}
		fmt.Fprintln(tw, line)
	}
	if in := r.InputBatch; in != nil {
		fmt.Fprintf(tw, "λ1 (input batch)\t%.8g\tresidual %.3g\tconverged %v\n", in.Top.Values[0], in.Top.Residuals[0], in.Top.Converged[0])
		fmt.Fprintf(tw, "λmin (input batch)\t%.8g\tresidual %.3g\tconverged %v\n", in.Bottom.Values[0], in.Bottom.Residuals[0], in.Bottom.Converged[0])
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
}
