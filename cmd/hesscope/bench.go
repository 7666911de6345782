package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"hesscope/hessian"
	"hesscope/kernels"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
	"hesscope/train"
)

func init() {
	commands = append(commands, &command{
		name:  "bench",
		usage: "-model NAME [-batch N] [-threads T] [-precision float32|float64] [-device cpu|cuda] [-reps R] [-json]",
		short: "time a forward pass, a gradient, a Hessian-vector product and a training step",
		long: `
Bench times the engine on one model of the zoo and one random batch (pixels
uniform in [0, 1), random labels, fixed seed) and prints the median seconds
over -reps runs, after warm-up runs (at least one, for at least 0.2 s:
the buffers are allocated and an idle machine's cores come up to speed), of:

  forward     the loss of the batch (BatchNorm in eval mode)
  grad        the loss and its gradient with respect to every parameter
  hvp         the loss, the gradient and one Hessian-vector product with
              respect to the parameters (forward-over-reverse), random v:
              the pass PyTorch's double backprop makes
  hv          the loss and the product alone, the gradient not formed
              (no weight cotangents Σ ȳ·xᵀ): a whole pass
  hv_retained the product alone on a kept pass (the values and cotangents
              of the batch computed once, then the tangents and the
              tangents of the cotangents only; the same bits as hv): what
              the spectrum's operators (Lanczos, power iteration,
              Hutchinson) repeat on a batch that is one chunk per worker,
              and what PyHessian repeats on its retained graph; on the GPU
              the same as hv
  train_step  a training step: forward and backward with BatchNorm in train
              mode (batch statistics) and an SGD update with momentum 0.9
              (on the CPU only: with -device cuda it is not timed)

With -device cuda the passes run on the first NVIDIA GPU (a binary built
with -tags cuda); each time includes copying the batch and the direction to
the GPU and the gradient and product back (hv: the product only).

GFLOP/s are nominal: F, the forward FLOPs, counts 2 per multiply-add of the
convolution and linear layers at this batch size (nothing else: ReLU,
pooling, BatchNorm and the loss are not counted). With F₁ the FLOPs of the
first such layer, whose input needs no cotangent, a gradient counts 3F − F₁
(forward, then x̄ and W̄ of every layer), an HVP 9F − 4F₁ (forward F, JVP
2F − F₁, VJP of ȳ 2F − F₁, VJP of ȳ̇ and the curvature term 4F − 2F₁), an
hv 8F − 4F₁ (the HVP without W̄, F), an hv_retained 6F − 3F₁ (the hv
without the forward pass and x̄) and a training step as a gradient. The
machine's load changes the numbers: compare runs made one after the other
(bench/torch_compare.sh alternates hesscope and PyTorch).`,
		flags: benchFlags,
	})
}

type benchOptions struct {
	model, precision, device string
	batch, reps              int
	json                     bool
}

// BenchResult is the JSON output of hesscope bench. Times are medians in
// seconds; GFLOP/s are the nominal FLOP counts (see hesscope help bench)
// divided by those times.
type BenchResult struct {
	Version           string  `json:"version"`
	Model             string  `json:"model"`
	Batch             int     `json:"batch"`
	Threads           int     `json:"threads"`
	Precision         string  `json:"precision"`
	Device            string  `json:"device"`
	Kernels           string  `json:"kernels"` // the CPU kernels' instruction set (kernels.InstructionSet)
	Reps              int     `json:"reps"`
	Params            int     `json:"params"`
	ForwardFLOPs      float64 `json:"forward_flops"`
	ForwardSeconds    float64 `json:"forward_seconds"`
	GradSeconds       float64 `json:"grad_seconds"`
	HVPSeconds        float64 `json:"hvp_seconds"`
	HvSeconds         float64 `json:"hv_seconds"`
	HvRetainedSeconds float64 `json:"hv_retained_seconds"`
	TrainStepSeconds  float64 `json:"train_step_seconds"`
	ForwardGFLOPS     float64 `json:"forward_gflops"`
	GradGFLOPS        float64 `json:"grad_gflops"`
	HVPGFLOPS         float64 `json:"hvp_gflops"`
	HvGFLOPS          float64 `json:"hv_gflops"`
	HvRetainedGFLOPS  float64 `json:"hv_retained_gflops"`
	TrainStepGFLOPS   float64 `json:"train_step_gflops"`
}

func benchFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &benchOptions{}
	fs.StringVar(&o.model, "model", "", "model: "+strings.Join(models.Names(), ", ")+" (required)")
	fs.IntVar(&o.batch, "batch", 128, "images per batch")
	fs.StringVar(&o.precision, "precision", "float32", "arithmetic: float32 or float64")
	fs.IntVar(&o.reps, "reps", 10, fmt.Sprintf("timed runs of each computation (the median is reported; at most %d)", maxReps))
	fs.BoolVar(&o.json, "json", false, "print one JSON object")
	deviceFlag(fs, &o.device)
	return func(ctx context.Context, e *env) error {
		switch {
		case o.model == "":
			return usagef("-model is required (%s)", strings.Join(models.Names(), ", "))
		case !slices.Contains(models.Names(), o.model):
			return usagef("-model %q: want one of %s", o.model, strings.Join(models.Names(), ", "))
		case o.batch < 1:
			return usagef("-batch %d: want at least 1", o.batch)
		case o.reps < 1:
			return usagef("-reps %d: want at least 1", o.reps)
		case o.reps > maxReps:
			return atMost("-reps", o.reps, maxReps, "each run's time is kept for the median")
		case o.device != "cpu" && o.device != "cuda":
			return usagef("-device %q: want cpu or cuda", o.device)
		}
		var (
			r   BenchResult
			err error
		)
		switch o.precision {
		case "float32":
			r, err = runBench[float32](ctx, o)
		case "float64":
			r, err = runBench[float64](ctx, o)
		default:
			return usagef("-precision %q: want float32 or float64", o.precision)
		}
		if err != nil {
			return err
		}
		if o.json {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}
		where := fmt.Sprintf("%d threads, %s kernels", r.Threads, r.Kernels)
		if r.Device != "cpu" {
			where = r.Device
		}
		fmt.Fprintf(e.stdout, "%s, batch %d, %s, %s, %d parameters, median of %d runs (hesscope %s)\n\n",
			r.Model, r.Batch, r.Precision, where, r.Params, r.Reps, r.Version)
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "\tseconds\tGFLOP/s\t\n")
		for _, row := range []struct {
			name    string
			s, gfps float64
		}{
			{"forward", r.ForwardSeconds, r.ForwardGFLOPS},
			{"gradient", r.GradSeconds, r.GradGFLOPS},
			{"HVP", r.HVPSeconds, r.HVPGFLOPS},
			{"Hv", r.HvSeconds, r.HvGFLOPS},
			{"Hv retained", r.HvRetainedSeconds, r.HvRetainedGFLOPS},
			{"train step", r.TrainStepSeconds, r.TrainStepGFLOPS},
		} {
			if row.s == 0 {
				fmt.Fprintf(tw, "%s\t-\t-\t\n", row.name)
				continue
			}
			fmt.Fprintf(tw, "%s\t%.4g\t%.1f\t\n", row.name, row.s, row.gfps)
		}
		return tw.Flush()
	}
}

// runBench builds the model and batch and times the five computations.
func runBench[T tensor.Float](ctx context.Context, o *benchOptions) (BenchResult, error) {
	net, err := models.New[T](o.model, models.Config{Seed: 1})
	if err != nil {
		return BenchResult{}, usagef("%v", err)
	}
	if o.device == "cpu" {
		if err := checkPasses(net, hessian.HVPPass, o.batch, 1, 0, "-batch"); err != nil {
			return BenchResult{}, err
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := tensor.New[T](o.batch, net.Input[0], net.Input[1], net.Input[2])
	for i := range x.Data {
		x.Data[i] = T(rng.Float64())
	}
	y := make([]int, o.batch)
	for i := range y {
		y[i] = rng.IntN(net.Classes)
	}
	params := nn.Trainable(net.Params())
	v := nn.Like(params)
	for _, t := range v {
		for i := range t.Data {
			t.Data[i] = T(rng.NormFloat64())
		}
	}
	cost := net.ForwardCost(x)
	flops, first := cost.FLOPs, cost.First
	r := BenchResult{
		Version: version, Model: o.model, Batch: o.batch, Threads: runtime.GOMAXPROCS(0),
		Precision: o.precision, Device: o.device, Kernels: kernels.InstructionSet(), Reps: o.reps, Params: net.NumParams(), ForwardFLOPs: flops,
	}

	var e hessian.Passer[T] = hessian.NewEvaluator[T](net)
	eng, err := engineFor(o.device, net)
	if err != nil {
		return r, err
	}
	if eng != nil {
		e = eng(net)
	}
	fwd := hessian.Request[T]{Mode: nn.Eval}
	grad := hessian.Request[T]{Mode: nn.Eval, Params: params}
	hvp := hessian.Request[T]{Mode: nn.Eval, Params: params, ParamTangent: v}
	hv := hvp
	hv.HvOnly = true
	kept := hv
	kept.Retain = true
	step := hessian.Request[T]{Mode: nn.Train, Params: params}
	values := make([][]T, len(params))
	for i, p := range params {
		values[i] = p.Value.Data
	}
	opt := &train.SGD[T]{Momentum: 0.9}
	grads := make([][]T, len(params))
	trainStep := func() {
		res := e.Pass(x, y, step)
		for i, g := range res.ParamGrad {
			grads[i] = g.Data
		}
		opt.Step(values, grads, 1e-6)
	}
	runs := []struct {
		dst *float64
		run func()
	}{
		{&r.ForwardSeconds, func() { e.Pass(x, y, fwd) }},
		{&r.GradSeconds, func() { e.Pass(x, y, grad) }},
		{&r.HVPSeconds, func() { e.Pass(x, y, hvp) }},
		{&r.HvSeconds, func() { e.Pass(x, y, hv) }},
		{&r.HvRetainedSeconds, func() { e.Pass(x, y, kept) }},
		{&r.TrainStepSeconds, trainStep},
	}
	if eng != nil {
		runs = runs[:len(runs)-1] // no training on the GPU yet
	}
	for _, c := range runs {
		// Warm the buffers, and the CPUs: a shared machine's idle cores
		// take a moment to come up to speed, and the first quantities of a
		// small model would otherwise be timed on them (mlp's gradient
		// read 2–7 ms where its training step, timed last, read 3).
		for t0 := time.Now(); ; {
			c.run()
			if time.Since(t0) >= benchWarmup {
				break
			}
			if err := ctx.Err(); err != nil {
				return r, err
			}
		}
		times := make([]float64, o.reps)
		for i := range times {
			if err := ctx.Err(); err != nil {
				return r, err
			}
			t0 := time.Now()
			c.run()
			times[i] = time.Since(t0).Seconds()
		}
		*c.dst = benchMedian(times)
	}
	gflops := func(f, s float64) float64 { return f / s / 1e9 }
	r.ForwardGFLOPS = gflops(flops, r.ForwardSeconds)
	r.GradGFLOPS = gflops(3*flops-first, r.GradSeconds)
	r.HVPGFLOPS = gflops(9*flops-4*first, r.HVPSeconds)
	r.HvGFLOPS = gflops(8*flops-4*first, r.HvSeconds)
	r.HvRetainedGFLOPS = gflops(6*flops-3*first, r.HvRetainedSeconds)
	if r.TrainStepSeconds > 0 {
		r.TrainStepGFLOPS = gflops(3*flops-first, r.TrainStepSeconds)
	}
	return r, nil
}

// benchWarmup is how long each quantity runs before it is timed (at least
// once).
const benchWarmup = 200 * time.Millisecond

// benchMedian returns the median of xs, which it sorts.
func benchMedian(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
