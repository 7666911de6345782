package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"text/tabwriter"
	"time"
	"unsafe"

	"hesscope/analysis"
	"hesscope/attack"
	"hesscope/experiment"
	"hesscope/hessian"
	"hesscope/tensor"
)

func init() {
	commands = append(commands, &command{
		name:  "saddle-check",
		usage: "-weights FILE [-activation relu|tanh|softplus] [-samples N] [-eps E] [-steps S] [flags]",
		short: "is the inner maximisation of robust training saddle-free? input-Hessian eigenvalues along PGD",
		long: `
Saddle-check follows the PGD trajectory of each of the first -samples images
(the inner maximisation of adversarial training: -steps steps in the ε-ball
of -eps, from a random start unless -random-start=false) and at every point,
the start included, computes the largest and the smallest eigenvalue of the
Hessian of that image's loss with respect to the image, ∇²ₓℓ(x), by Lanczos
on exact Hessian-vector products (BatchNorm in eval mode).

It reports the fraction of points where λ_min < −tol·max(λ_max, |λ_min|),
i.e. λ_min < −tol·λ_max when λ_max dominates; the scale keeps the test
meaningful when λ_max is about 0. Points whose loss is below -flat-loss are
numerically flat (their Hessian, of the size of the loss, is rounding noise)
and count as not indefinite; they are reported apart.

For the zoo's ReLU nets the input Hessian is AᵀH_zA, A the Jacobian of the
logits and H_z = diag(p) − ppᵀ, positive semi-definite almost everywhere, so
the fraction is 0: the inner problem is saddle-free (Yao et al. 2018).
-activation softplus or tanh loads the same weights into the smooth variant
of the model, whose input Hessian has negative eigenvalues.

The default precision is float64: near a confident prediction the Hessian is
small and float32 rounding blurs its sign.`,
		flags: saddleFlags,
	})
}

type saddleOptions struct {
	sourceFlags
	precision, norm                          string
	samples, steps, maxIter, chunk           int
	eps, stepSize, tol, flatLoss, lanczosTol float64
	randomStart, points, json, quiet         bool
	seed                                     uint64
}

func saddleFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &saddleOptions{}
	o.sourceFlags.register(fs, freshOrFile)
	fs.IntVar(&o.samples, "samples", 20, "follow the first `N` images")
	fs.StringVar(&o.norm, "norm", "linf", "threat model: linf or l2")
	fs.Float64Var(&o.eps, "eps", 0.1, "radius ε of the PGD ball, in pixel units (at most 1 in L∞)")
	fs.IntVar(&o.steps, "steps", 10, "PGD steps, 1 to 1000 (each iterate is kept and analysed)")
	fs.Float64Var(&o.stepSize, "step-size", 0, fmt.Sprintf("PGD step size α, at most %g (default 2.5·ε/steps)", maxStepSize))
	fs.BoolVar(&o.randomStart, "random-start", true, "PGD starts from a uniform random point of the ε-ball")
	fs.Float64Var(&o.tol, "tol", 1e-3, "a point is indefinite if λ_min < −tol·max(λ_max, |λ_min|)")
	fs.Float64Var(&o.flatLoss, "flat-loss", 0, "points with a loss below this are numerically flat (default 1e-10 in float64, 1e-4 in float32)")
	fs.IntVar(&o.maxIter, "max-iter", 0, "largest Krylov dimension per eigenvalue, capped at C·H·W (0: min(C·H·W, 100))")
	fs.Float64Var(&o.lanczosTol, "lanczos-tol", 0, "relative residual of each eigenvalue (default 1e-6 in float64, 1e-4 in float32)")
	fs.IntVar(&o.chunk, "batch-size", 1, "images per PGD batch (the unit of work of a thread)")
	fs.StringVar(&o.precision, "precision", "float64", "arithmetic: float64 or float32")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random starts and Lanczos start vectors (and of the initialisation without -weights)")
	fs.BoolVar(&o.points, "points", false, "with -json, list every trajectory point")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	return func(ctx context.Context, e *env) error {
		norm, err := attack.ParseNorm(o.norm)
		maxEps, wantEps := norm.MaxRadius(0)
		switch {
		case err != nil:
			return usagef("-norm %q: want linf or l2", o.norm)
		case o.samples < 1:
			return usagef("-samples %d: want at least 1", o.samples)
		case !(o.eps > 0) || math.IsInf(o.eps, 0):
			return usagef("-eps %v: want a finite radius > 0", o.eps)
		case o.steps < 1 || o.steps > maxSaddleSteps:
			return usagef("-steps %d: want 1 to %d (every iterate is kept and gets two Lanczos runs)", o.steps, maxSaddleSteps)
		case o.eps > maxEps: // the L2 bound needs the images' size: checked once they are loaded
			return usagef("-eps %g: want %s", o.eps, wantEps)
		case o.chunk > maxChunk:
			return usagef("-batch-size %d: want at most %d", o.chunk, maxChunk)
		case !(o.stepSize >= 0) || o.stepSize > maxStepSize:
			return stepSizeError(o.stepSize)
		case !(o.tol > 0) || o.tol >= 1:
			return usagef("-tol %v: want a value in (0, 1)", o.tol)
		case !(o.flatLoss >= 0) || math.IsInf(o.flatLoss, 0):
			return usagef("-flat-loss %v: want a finite value ≥ 0", o.flatLoss)
		case o.maxIter < 0 || !(o.lanczosTol >= 0) || o.lanczosTol >= 1:
			return usagef("-max-iter %d, -lanczos-tol %v: want max-iter ≥ 0 and lanczos-tol in [0, 1)", o.maxIter, o.lanczosTol)
		case o.chunk < 1:
			return usagef("-batch-size %d: want at least 1", o.chunk)
		case o.split != "test" && o.split != "train":
			return usagef("-split %q: want test or train", o.split)
		}
		if err := checkActivation(o.activation); err != nil {
			return err
		}
		if err := checkUnused(fs, notUsed{!o.json, "without -json (it lists the points in the JSON)", []string{"points"}}); err != nil {
			return err
		}
		c := attack.Config{Method: attack.PGD, Norm: norm, Eps: o.eps, Steps: o.steps, StepSize: o.stepSize, RandomStart: o.randomStart, Seed: o.seed}
		switch o.precision {
		case "float64":
			return runSaddle[float64](ctx, e, o, c)
		case "float32":
			return runSaddle[float32](ctx, e, o, c)
		}
		return usagef("-precision %q: want float64 or float32", o.precision)
	}
}

func runSaddle[T tensor.Float](ctx context.Context, e *env, o *saddleOptions, c attack.Config) error {
	start := time.Now()
	var prog io.Writer = e.stderr
	if o.quiet {
		prog = nil
	}
	m, net, d, norm, err := attackModel[T](&o.sourceFlags, o.seed, experiment.DataSpec{Samples: o.samples, Progress: prog})
	if err != nil {
		return err
	}
	if r, want := c.Norm.MaxRadius(d.SampleLen()); c.Eps > r {
		return usagef("-eps %g: want %s", c.Eps, want)
	}
	if err := checkFinite(net, normalized(d, norm), o.chunk, runtime.GOMAXPROCS(0), o.weights, o.precision, true); err != nil {
		return err
	}
	// Each worker keeps every iterate of its batch for the eigenvalues.
	workers := min(runtime.GOMAXPROCS(0), (d.N+o.chunk-1)/o.chunk)
	need := uint64(workers) * uint64(o.steps+1) * uint64(min(o.chunk, d.N)) * uint64(d.SampleLen()) * uint64(unsafe.Sizeof(T(0)))
	if err := checkMemory("saddle-check", need, "-steps or -batch-size"); err != nil {
		return err
	}
	if err := checkPasses(net, hessian.InputHVPPass, min(o.chunk, d.N), workers, need, "-steps or -batch-size"); err != nil {
		return err
	}
	res, err := analysis.SaddleCheck(ctx, m, d, analysis.SaddleOptions{Attack: c, Tol: o.tol, FlatLoss: o.flatLoss, MaxIter: o.maxIter,
		LanczosTol: o.lanczosTol, BatchSize: o.chunk, Points: o.points, Progress: bars(prog)})
	if err != nil {
		return err
	}
	r, cd := res.SaddleReport, c.WithDefaults()
	res.Version, res.Model, res.Activation, res.Weights = version, net.Name, activationName(o.activation, o.weights), o.weights
	res.Dataset, res.Split, res.Normalized, res.Precision, res.Seed = o.dataset, o.split, norm != nil, o.precision, o.seed
	r.Seconds = time.Since(start).Seconds()
	res.Warnings = o.warnings
	defer printWarnings(e.stderr, res.Warnings)
	if o.json {
		return writeResult(e.stdout, true, "", res)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s%s, %s)\n", res.Model, res.Activation, map[bool]string{true: ", normalised inputs", false: ""}[res.Normalized], o.precision)
	fmt.Fprintf(tw, "data\t%s %s, %d images\n", o.dataset, o.split, r.Samples)
	fmt.Fprintf(tw, "PGD\t%s ε=%g, %d steps of %.4g, random start %v\n", res.Norm, c.Eps, c.Steps, cd.StepSize, c.RandomStart)
	fmt.Fprintf(tw, "indefinite points\t%d of %d = %.4f (λ_min < −%g·max(λ_max, |λ_min|))\n", r.Negative, r.Points, r.Fraction, r.Tol)
	fmt.Fprintf(tw, "flat points\t%d (loss < %g)\n", r.Flat, r.FlatLoss)
	fmt.Fprintf(tw, "min λ_min/λ_max\t%.3g\n", r.MinRatio)
	fmt.Fprintf(tw, "largest λ_max\t%.6g\n", r.MaxLambda)
	fmt.Fprintf(tw, "unconverged\t%d points\n", r.Unconverged)
	fmt.Fprintf(tw, "Hessian-vector products\t%d\n", r.HVPs)
	fmt.Fprintf(tw, "seconds\t%.1f\n", r.Seconds)
	tw.Flush()
	fmt.Fprintln(e.stdout)
	tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step\tmean loss\taccuracy\tmean λ_max\tmin λ_min/λ_max\tindefinite\tflat\t\n")
	for _, st := range res.PerStep {
		fmt.Fprintf(tw, "%d\t%.4g\t%.2f%%\t%.4g\t%.3g\t%d\t%d\t\n", st.Step, st.MeanLoss, 100*st.Accuracy, st.MeanLambdaMax, st.MinRatio, st.Negative, st.Flat)
	}
	return tw.Flush()
}
