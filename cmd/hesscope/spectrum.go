package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"hesscope/data"
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
		usage: "-model NAME [-weights FILE] [-data mnist|FILE] [flags]",
		short: "exact Hessian eigenvalues of a model's loss (parameters and inputs)",
		long: `
Spectrum computes the extreme eigenvalues of the Hessian of the mean
cross-entropy loss of a model on a set of images, exactly: every
Hessian-vector product back-propagates second derivatives through the
network. Eigenvalues come from Lanczos with full reorthogonalisation (or
PyHessian-style power iteration with -method power), each with its residual
‖Hv − λv‖ and a converged flag.

BatchNorm is in eval mode (running statistics). With -input it also computes
the extreme eigenvalues of the Hessian of the batch-mean loss with respect to
the whole input batch x.

-data takes a dataset name (mnist, fashion-mnist, cifar10, cifar100; the
test split, first -samples images) or a safetensors file holding x
[N,C,H,W] float32 in [0,1] and y [N] int64.`,
		flags: spectrumFlags,
	})
}

type spectrumOptions struct {
	model, weights, data, dataDir, precision, method, activation string
	samples, topK, chunk, maxIter, classes                       int
	min, input, json, quiet                                      bool
	tol                                                          float64
	seed                                                         uint64
}

func spectrumFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &spectrumOptions{}
	fs.StringVar(&o.model, "model", "", "model `name`: mlp, lenet5, c1, c2, resnet20, resnet18 (required)")
	fs.StringVar(&o.weights, "weights", "", "safetensors `file` of the model's weights (default: fresh initialisation from -seed)")
	fs.StringVar(&o.data, "data", "mnist", "dataset `name` or safetensors file with x and y")
	fs.StringVar(&o.dataDir, "data-dir", "", "`folder` of the dataset files (default: found or downloaded automatically)")
	fs.IntVar(&o.samples, "samples", 256, "number of images (the first ones of the test split); 0 for all")
	fs.IntVar(&o.chunk, "batch-size", 256, "images per forward pass; the Hessian is the exact average over all chunks")
	fs.IntVar(&o.classes, "classes", 0, "number of classes (default: from the weights or the data)")
	fs.IntVar(&o.topK, "top-k", 1, "number of largest eigenvalues")
	fs.BoolVar(&o.min, "min", false, "also compute the smallest (most negative) eigenvalue")
	fs.BoolVar(&o.input, "input", false, "also compute the extreme eigenvalues of the Hessian w.r.t. the input batch")
	fs.StringVar(&o.precision, "precision", "float32", "arithmetic: float32 or float64")
	fs.StringVar(&o.method, "method", "lanczos", "eigensolver: lanczos or power (PyHessian-compatible)")
	fs.IntVar(&o.maxIter, "max-iter", 0, "largest Krylov dimension (lanczos) or iterations per eigenvalue (power) (default 100)")
	fs.Float64Var(&o.tol, "tol", 0, "relative tolerance (default: 1e-4 lanczos with float32, 1e-6 with float64; 1e-3 power)")
	fs.StringVar(&o.activation, "activation", "relu", "activation of the model: relu, or tanh/softplus for smooth variants")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the initialisation and of the solvers' start vectors")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	return func(ctx context.Context, e *env) error {
		if o.model == "" {
			return usagef("-model is required")
		}
		if o.topK < 1 {
			return usagef("-top-k %d: want at least 1", o.topK)
		}
		if o.samples < 0 {
			return usagef("-samples %d: want 0 (all) or more", o.samples)
		}
		if o.chunk < 1 {
			return usagef("-batch-size %d: want at least 1", o.chunk)
		}
		if o.method != "lanczos" && o.method != "power" {
			return usagef("-method %q: want lanczos or power", o.method)
		}
		if o.tol < 0 || o.maxIter < 0 {
			return usagef("-tol and -max-iter must not be negative")
		}
		switch o.precision {
		case "float32":
			return runSpectrum[float32](ctx, e, o)
		case "float64":
			return runSpectrum[float64](ctx, e, o)
		}
		return usagef("-precision %q: want float32 or float64", o.precision)
	}
}

// SpectrumResult is the JSON output of hesscope spectrum.
type SpectrumResult struct {
	Version    string    `json:"version"`
	Model      string    `json:"model"`
	Weights    string    `json:"weights,omitempty"`
	Data       string    `json:"data"`
	Samples    int       `json:"samples"`
	Precision  string    `json:"precision"`
	Method     string    `json:"method"`
	Seed       uint64    `json:"seed"`
	Params     int       `json:"params"`
	Loss       float64   `json:"loss"`
	GradNorm   float64   `json:"grad_norm"`
	TopEigen   []float64 `json:"top_eigenvalues"`
	Residuals  []float64 `json:"residuals"`
	Converged  []bool    `json:"converged"`
	MinEigen   *float64  `json:"min_eigenvalue,omitempty"`
	MinResid   *float64  `json:"min_residual,omitempty"`
	InputTop   *float64  `json:"input_top_eigenvalue,omitempty"`
	InputMin   *float64  `json:"input_min_eigenvalue,omitempty"`
	InputResid []float64 `json:"input_residuals,omitempty"`
	HVPs       int       `json:"hvps"`
	Seconds    float64   `json:"seconds"`
	Warnings   []string  `json:"warnings,omitempty"`
}

func runSpectrum[T tensor.Float](ctx context.Context, e *env, o *spectrumOptions) error {
	start := time.Now()
	var prog io.Writer = e.stderr
	if o.quiet {
		prog = nil
	}
	d, err := experiment.LoadData(experiment.DataSpec{Name: o.data, Split: "test", Samples: o.samples, Dir: o.dataDir, Progress: prog})
	if err != nil {
		return err
	}
	classes := o.classes
	if classes == 0 && o.weights == "" {
		classes = max(d.Classes, 10)
	}
	net, _, err := experiment.LoadModel[T](experiment.ModelSpec{Name: o.model, Weights: o.weights, Classes: classes, Activation: o.activation, Seed: o.seed})
	if err != nil {
		return err
	}
	if err := experiment.CheckWeights(net); err != nil {
		return err
	}
	if err := experiment.CheckData(d, net); err != nil {
		return err
	}
	res := &SpectrumResult{Version: version, Model: o.model, Weights: o.weights, Data: o.data, Samples: d.N,
		Precision: o.precision, Method: o.method, Seed: o.seed, Params: net.NumParams()}
	chunks := hessian.NewFloat32Data[T](d.X, d.Y, [3]int{d.C, d.H, d.W}, o.chunk)
	op := hessian.NewParams[T](net, chunks, nn.Eval, nil)
	res.Loss, res.GradNorm = lossAndGradNorm(op)
	if err := ctx.Err(); err != nil {
		return err
	}

	tol := o.tol
	if tol == 0 && o.method == "lanczos" {
		tol = 1e-4
		if o.precision == "float64" {
			tol = 1e-6
		}
	}
	solve := func(label string, which linop.Which, k int, op linop.Operator) (linop.Eigen, error) {
		maxIter := o.maxIter
		if maxIter == 0 {
			maxIter = 100
			if o.method == "lanczos" {
				maxIter = min(op.Dim(), max(100, 3*k))
			}
		}
		bar := progress.New(prog, label+" (HVPs)", maxIter)
		done := 0
		stop := func(p linop.Progress) {
			if ctx.Err() != nil {
				panic(errInterrupted)
			}
			if len(p.Values) > 0 {
				bar.Add(p.MatVecs-done, fmt.Sprintf("λ ≈ %.6g", p.Values[0]))
				done = p.MatVecs
			}
			if p.Final {
				bar.Finish("")
			}
		}
		if o.method == "power" {
			if which == linop.Largest {
				return linop.Power(op, linop.PowerOptions{K: k, MaxIter: maxIter, Tol: tol, Seed: o.seed, Progress: stop})
			}
			// Power iteration finds the eigenvalue of largest magnitude: run it
			// on s·I − H, s ≥ λmax, whose largest eigenvalue is s − λmin.
			top, err := linop.Power(op, linop.PowerOptions{MaxIter: maxIter, Tol: tol, Seed: o.seed, Progress: stop})
			if err != nil {
				return top, err
			}
			shift := math.Abs(top.Values[0])
			shifted := linop.NewSum(&linop.Scaled{Alpha: shift, Op: linop.Identity(op.Dim())}, &linop.Scaled{Alpha: -1, Op: op})
			r, err := linop.Power(shifted, linop.PowerOptions{K: k, MaxIter: maxIter, Tol: tol, Seed: o.seed, Progress: stop})
			for i := range r.Values {
				r.Values[i] = shift - r.Values[i]
			}
			r.MatVecs += top.MatVecs
			return r, err
		}
		return linop.Lanczos(op, which, linop.LanczosOptions{K: k, MaxIter: maxIter, Tol: tol, Seed: o.seed, Progress: stop})
	}
	warn := func(what string, err error) error {
		var nc *linop.NotConvergedError
		if errors.As(err, &nc) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %v", what, err))
			return nil
		}
		return err
	}
	err = catchInterrupt(func() error {
		top, err := solve("top eigenvalues", linop.Largest, o.topK, op)
		if err = warn("top eigenvalues", err); err != nil {
			return err
		}
		res.TopEigen, res.Residuals, res.Converged = top.Values, top.Residuals, top.Converged
		if o.min {
			bottom, err := solve("smallest eigenvalue", linop.Smallest, 1, op)
			if err = warn("smallest eigenvalue", err); err != nil {
				return err
			}
			res.MinEigen, res.MinResid = &bottom.Values[0], &bottom.Residuals[0]
		}
		if o.input {
			x := tensor.New[T](d.N, d.C, d.H, d.W)
			for i, v := range d.X {
				x.Data[i] = T(v)
			}
			in := hessian.NewInput[T](net, x, d.Y, nn.Eval)
			top, err := solve("input top eigenvalue", linop.Largest, 1, in)
			if err = warn("input top eigenvalue", err); err != nil {
				return err
			}
			bottom, err := solve("input smallest eigenvalue", linop.Smallest, 1, in)
			if err = warn("input smallest eigenvalue", err); err != nil {
				return err
			}
			res.InputTop, res.InputMin = &top.Values[0], &bottom.Values[0]
			res.InputResid = []float64{top.Residuals[0], bottom.Residuals[0]}
			res.HVPs += in.HVPs
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.HVPs += op.HVPs
	res.Seconds = time.Since(start).Seconds()
	if o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printSpectrum(e.stdout, res, d)
	return nil
}

func lossAndGradNorm[T tensor.Float](op *hessian.Params[T]) (float64, float64) {
	loss, g := op.Gradient()
	var s float64
	for _, v := range g {
		s += v * v
	}
	return loss, math.Sqrt(s)
}

func printSpectrum(w io.Writer, r *SpectrumResult, d *data.Dataset) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%d parameters, %s)\n", r.Model, r.Params, r.Precision)
	fmt.Fprintf(tw, "data\t%s, %d images\n", r.Data, d.N)
	fmt.Fprintf(tw, "loss\t%.6g\n", r.Loss)
	fmt.Fprintf(tw, "gradient norm\t%.6g\n", r.GradNorm)
	for i, v := range r.TopEigen {
		fmt.Fprintf(tw, "λ%d (parameters)\t%.8g\tresidual %.2g\tconverged %v\n", i+1, v, r.Residuals[i], r.Converged[i])
	}
	if r.MinEigen != nil {
		fmt.Fprintf(tw, "λmin (parameters)\t%.8g\tresidual %.2g\n", *r.MinEigen, *r.MinResid)
	}
	if r.InputTop != nil {
		fmt.Fprintf(tw, "λ1 (input)\t%.8g\tresidual %.2g\n", *r.InputTop, r.InputResid[0])
		fmt.Fprintf(tw, "λmin (input)\t%.8g\tresidual %.2g\n", *r.InputMin, r.InputResid[1])
	}
	fmt.Fprintf(tw, "Hessian-vector products\t%d\n", r.HVPs)
	fmt.Fprintf(tw, "seconds\t%.2f\n", r.Seconds)
	tw.Flush()
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

var errInterrupted = errors.New("interrupted")

// catchInterrupt runs f, turning the errInterrupted panic a progress
// callback raises on cancellation into an error.
func catchInterrupt(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == errInterrupted {
				err = errInterrupted
				return
			}
			panic(r)
		}
	}()
	return f()
}
