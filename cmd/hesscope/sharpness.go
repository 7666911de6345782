package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"hesscope/analysis"
	"hesscope/chart"
	"hesscope/hessian"
	"hesscope/sharpness"
	"hesscope/tensor"
)

func init() {
	commands = append(commands, &command{
		name:        "sharpness",
		usage:       "-model NAME [-weights FILE] [-metric epsilon|m|both] [flags]",
		short:       "Keskar ε-sharpness and SAM m-sharpness of a model's loss",
		distributed: true,
		long: `
Sharpness measures how much the loss can rise near the weights θ:

  epsilon   Keskar et al. (ICLR 2017), metric 2.1 in the full space:
            100·(max_{z∈C_ε} L(θ+z) − L(θ)) / (1 + L(θ)) over the box
            C_ε = {|zᵢ| ≤ ε(|θᵢ|+1)}, L the mean loss over all the images.
            The maximum is approximated by projected gradient ascent with
            Barzilai–Borwein steps (-iterations, like the few L-BFGS-B
            iterations of the paper), so the value is a lower bound.
            -epsilon takes a comma list (the paper reports 1e-3 and 5e-4).
  m         Foret et al. (ICLR 2021), m-sharpness: the mean over sub-batches
            B of -m images of max_{‖ε‖₂≤ρ} L_B(θ+ε) − L_B(θ), with SAM's
            ε* = ρ·g/‖g‖ (-steps 1) or more normalised ascent steps
            projected onto the ball. Sub-batches are consecutive images in
            data order; the last may be smaller and is weighted by its size.

Every parameter is recorded in the output. BatchNorm is in eval mode.
-out DIR writes sharpness.json there, and plots in -format: the
distribution of m-sharpness over the sub-batches (m_sharpness.png) and,
for two or more -epsilon values, ε-sharpness against ε
(epsilon_sharpness.png).`,
		flags: sharpnessFlags,
	})
}

// sharpnessFiles are the files sharpness may write in -out.
var sharpnessFiles = []string{"sharpness.json", "m_sharpness.png", "m_sharpness.svg", "epsilon_sharpness.png", "epsilon_sharpness.svg"}

type sharpnessOptions struct {
	analysisFlags
	metric, epsilons string
	iterations, m    int
	steps            int
	rho              float64
	eps              []float64
}

func sharpnessFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &sharpnessOptions{}
	o.register(fs, "1000")
	fs.StringVar(&o.metric, "metric", "both", "epsilon (Keskar), m (SAM) or both")
	fs.StringVar(&o.epsilons, "epsilon", "1e-3", "box size ε, or a comma list")
	fs.IntVar(&o.iterations, "iterations", 10, "ascent iterations for ε-sharpness, 1 to 100000")
	fs.IntVar(&o.m, "m", 128, "sub-batch size for m-sharpness")
	fs.Float64Var(&o.rho, "rho", 0.05, "radius ρ for m-sharpness")
	fs.IntVar(&o.steps, "steps", 1, "ascent steps per sub-batch for m-sharpness, 1 to 100000 (1: SAM's ε*)")
	return func(ctx context.Context, e *env) error {
		n, err := o.validate()
		if err != nil {
			return err
		}
		if err := o.checkOut(sharpnessFiles...); err != nil {
			return err
		}
		switch {
		case o.metric != "epsilon" && o.metric != "m" && o.metric != "both":
			return usagef("-metric %q: want epsilon, m or both", o.metric)
		case o.iterations < 1 || o.iterations > maxIterations:
			return usagef("-iterations %d: want 1 to %d", o.iterations, maxIterations)
		case o.m < 1:
			return usagef("-m %d: want at least 1", o.m)
		case !(o.rho > 0) || math.IsInf(o.rho, 0):
			return usagef("-rho %v: want a positive radius", o.rho)
		case o.steps < 1 || o.steps > maxIterations:
			return usagef("-steps %d: want 1 to %d", o.steps, maxIterations)
		}
		if err := checkUnused(fs,
			notUsed{o.metric == "epsilon", "with -metric epsilon", []string{"m", "rho", "steps"}},
			notUsed{o.metric == "m", "with -metric m", []string{"epsilon", "iterations"}},
			notUsed{o.out == "", "without -out (it is the format of the plots in -out)", []string{"format"}},
		); err != nil {
			return err
		}
		for _, part := range strings.Split(o.epsilons, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return usagef("-epsilon %q: %q is not a positive number", o.epsilons, part)
			}
			o.eps = append(o.eps, v)
		}
		s, err := o.load(n, e.stderr)
		if err != nil {
			return err
		}
		if o.precision == "float64" {
			return runSharpness[float64](ctx, e, o, s)
		}
		return runSharpness[float32](ctx, e, o, s)
	}
}

func runSharpness[T tensor.Float](ctx context.Context, e *env, o *sharpnessOptions, s *analysisSetup) error {
	a, err := loadAnalysis[T](e, &o.analysisFlags, s)
	if err != nil {
		return err
	}
	if o.metric != "epsilon" && e.comm != nil && e.comm.Size() > 1 {
		return usagef("-metric %s: m-sharpness works on sub-batches and is not split across ranks; use -metric epsilon, or run it as one process", o.metric)
	}
	backend, d := o.distribute(e, s)
	// The passes (checkPasses): ε-sharpness's gradients over chunks,
	// m-sharpness's over sub-batches of -m images, several at once.
	if o.metric != "m" {
		if err := checkPasses(a.net, hessian.GradientPass, min(o.chunk, d.N), o.chunkWorkers(d.N), 0, "-batch-size or -workers"); err != nil {
			return err
		}
	}
	if o.metric != "epsilon" {
		if err := checkPasses(a.net, hessian.GradientPass, min(o.m, d.N), o.taskWorkers((d.N+o.m-1)/o.m), 0, "-m or -workers"); err != nil {
			return err
		}
	}
	res, err := analysis.Sharpness[T](ctx, a.net, d, analysis.SharpnessOptions{
		Metric: o.metric, Epsilons: o.eps, Iterations: o.iterations, M: o.m, Rho: o.rho, Steps: o.steps,
		BatchSize: o.chunk, Workers: o.workers, Seed: o.seed, Backend: backend, Progress: bars(a.prog)})
	if nf := (*sharpness.NotFiniteError)(nil); errors.As(err, &nf) {
		return fmt.Errorf("-%s %g: the loss at a point within it of the weights is %v, not a finite number (it overflows in %s): lower -%s", nf.Param, nf.Value, nf.Loss, o.precision, nf.Param)
	}
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
	if err := writeSharpnessPlots(o, res); err != nil {
		return abandon(res.Files, err)
	}
	return o.finish(e, "sharpness.json", res, &res.Files, &res.Warnings, func(w io.Writer) { printSharpness(w, res) })
}

// writeSharpnessPlots writes, in -out, the distribution of m-sharpness
// over the sub-batches and, for two or more radii, ε-sharpness against ε.
func writeSharpnessPlots(o *sharpnessOptions, res *analysis.SharpnessResult) error {
	if m := res.M; m != nil && len(m.PerBatch) > 0 {
		path, err := o.outPath("m_sharpness." + o.format)
		if err != nil || path == "" {
			return err
		}
		v := make([]float64, len(m.PerBatch))
		for i, b := range m.PerBatch {
			v[i] = b.Sharpness
		}
		h := chart.Histogram{Title: fmt.Sprintf("%s: m-sharpness of %d sub-batches of %d images (ρ = %g)", res.Model, m.Batches, m.M, m.Rho),
			XLabel: "max‖ε‖≤ρ L_B(θ+ε) − L_B(θ)", Sets: []chart.Series{{Name: fmt.Sprintf("mean %.4g ± %.2g", m.Sharpness, m.StdErr), X: v}}}
		if err := h.Save(path); err != nil {
			return err
		}
		res.Files = append(res.Files, path)
	}
	if len(res.Epsilon) > 1 {
		path, err := o.outPath("epsilon_sharpness." + o.format)
		if err != nil || path == "" {
			return err
		}
		var x, y []float64
		for _, r := range res.Epsilon {
			x, y = append(x, r.Epsilon), append(y, r.Sharpness)
		}
		c := chart.Line{Title: fmt.Sprintf("%s: ε-sharpness (Keskar et al.), %d images", res.Model, res.Samples),
			XLabel: "box size ε", YLabel: "100·(max L(θ+z) − L(θ)) / (1 + L(θ))", LogX: true,
			Series: []chart.Series{{Name: "ε-sharpness", X: x, Y: y, Points: true}}}
		if err := c.Save(path); err != nil {
			return err
		}
		res.Files = append(res.Files, path)
	}
	return nil
}

func printSharpness(w io.Writer, r *analysis.SharpnessResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%d parameters, %s, %s)\n", r.Model, r.Params, r.Precision, r.Activation)
	fmt.Fprintf(tw, "data\t%s (%s), %d images\n", r.Data, r.Split, r.Samples)
	fmt.Fprintf(tw, "loss\t%.6g (accuracy %.4g)\n", r.Loss, r.Accuracy)
	for _, x := range r.Epsilon {
		fmt.Fprintf(tw, "ε-sharpness (ε=%g)\t%.6g\tmax loss %.6g\t%d iterations, %d evaluations, %.0f%% at the box, converged %v\n",
			x.Epsilon, x.Sharpness, x.MaxLoss, x.Iterations, x.Evals, 100*x.AtBound, x.Converged)
	}
	if m := r.M; m != nil {
		fmt.Fprintf(tw, "m-sharpness (m=%d, ρ=%g, %d steps)\t%.6g ± %.2g\tover %d sub-batches (loss %.6g → %.6g)\n",
			m.M, m.Rho, m.Steps, m.Sharpness, m.StdErr, m.Batches, m.Loss, m.MaxLoss)
	}
	fmt.Fprintf(tw, "seconds\t%.2f\n", r.Seconds)
	tw.Flush()
	for _, f := range r.Files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
}
