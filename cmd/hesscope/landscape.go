package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"hesscope/analysis"
	"hesscope/checkpoint"
	"hesscope/hessian"
	"hesscope/landscape"
	"hesscope/nn"
	"hesscope/tensor"
)

func init() {
	commands = append(commands, &command{
		name:        "landscape",
		usage:       "-model NAME [-weights FILE] [-direction eigen|random|input] [-2d] [flags]",
		short:       "loss and accuracy along Hessian eigenvectors or random directions, 1-D or 2-D",
		distributed: true,
		long: `
Landscape evaluates the mean loss and accuracy of a model over a set of
images on a grid around its weights θ (or around one image x):

  -direction eigen    θ + α·v₁ (+ β·v₂): the top eigenvectors of the
                      parameter Hessian (or of the Gauss-Newton matrix with
                      -operator ggn), unit vectors, so α is a distance in
                      parameter space
  -direction random   θ + α·d₁ (+ β·d₂): random directions normalised per
                      filter to the weights' filter norms, biases and
                      BatchNorm parameters not moved (Li et al. 2018;
                      -keep-biasbn moves them by their own value), so α is
                      relative to the weights
  -direction input    x + α·u₁ (+ β·u₂) for image -sample: the top
                      eigenvectors of the Hessian of that image's loss with
                      respect to the image, in pixels (also for a model
                      trained with -normalize, through its normalisation)

The grid is -points points from -range to +range per axis (-2d for a
surface). Points are evaluated in parallel, each worker on its own copy of the
weights; the model is never modified. A 1-D curve is plotted with the
quadratic models L₀ + ½·c·α² (c = dᵀHd, the eigenvalue λ along an
eigenvector: Yao et al.'s ½λε²) and L₀ + (gᵀd)·α + ½·c·α², both also in the
CSV and JSON; a surface as a heat map with contours.

-out DIR writes landscape.json, landscape.csv, landscape.<format> and
landscape_accuracy.<format> there; -plot FILE names the loss plot (the
accuracy plot goes next to it).`,
		flags: landscapeFlags,
	})
}

// landscapeFiles are the files landscape may write in -out.
var landscapeFiles = []string{"landscape.json", "landscape.csv", "landscape.png", "landscape.svg", "landscape_accuracy.png", "landscape_accuracy.svg"}

type landscapeOptions struct {
	analysisFlags
	direction, operator, plot string
	points, sample, maxIter   int
	rng, tol                  float64
	twoD, keepBiasBN          bool
}

func landscapeFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &landscapeOptions{}
	o.register(fs, "1000")
	fs.StringVar(&o.direction, "direction", "eigen", "directions: eigen, random or input")
	fs.Float64Var(&o.rng, "range", 1, "grid from -R to R along each direction")
	fs.IntVar(&o.points, "points", 21, fmt.Sprintf("grid points per axis, 2 to %d (a loss over the images each)", maxPoints))
	fs.BoolVar(&o.twoD, "2d", false, "a 2-D surface along two directions")
	fs.IntVar(&o.sample, "sample", 0, "image `index` for -direction input (among the loaded images)")
	fs.StringVar(&o.operator, "operator", "hessian", "matrix whose eigenvectors -direction eigen follows: hessian or ggn (only with -direction eigen)")
	fs.BoolVar(&o.keepBiasBN, "keep-biasbn", false, "random directions also move biases and BatchNorm parameters (by their own value)")
	fs.IntVar(&o.maxIter, "max-iter", 100, "largest Krylov dimension for the eigenvectors, at least 2 (capped at the dimension; Lanczos keeps that many vectors)")
	fs.Float64Var(&o.tol, "tol", 0, "relative tolerance of the eigenvectors (default 1e-4 float32, 1e-6 float64)")
	fs.StringVar(&o.plot, "plot", "", "plot `file` (.png or .svg; default: landscape.<format> in -out)")
	return func(ctx context.Context, e *env) error {
		n, err := o.validate()
		if err != nil {
			return err
		}
		switch {
		case o.direction != "eigen" && o.direction != "random" && o.direction != "input":
			return usagef("-direction %q: want eigen, random or input", o.direction)
		case o.operator != "hessian" && o.operator != "ggn":
			return usagef("-operator %q: want hessian or ggn", o.operator)
		case o.operator == "ggn" && o.direction != "eigen":
			return usagef("-operator ggn with -direction %s: the operator only chooses the eigenvectors of -direction eigen", o.direction)
		case !(o.rng > 0) || math.IsInf(o.rng, 0):
			return usagef("-range %v: want a positive number", o.rng)
		case o.points < 2 || o.points > maxPoints:
			return usagef("-points %d: want 2 to %d", o.points, maxPoints)
		case o.sample < 0:
			return usagef("-sample %d: want an index ≥ 0", o.sample)
		case o.maxIter < 2 || !(o.tol >= 0) || o.tol >= 1:
			return usagef("-max-iter %d, -tol %v: want -max-iter at least 2 and -tol in [0, 1)", o.maxIter, o.tol)
		}
		if err := checkPlotPath("-plot", o.plot); err != nil {
			return err
		}
		if o.tol == 0 && givenFlags(fs)["tol"] {
			return usagef("-tol 0: want 0 < -tol < 1 (leave -tol out for the default: 1e-4 float32, 1e-6 float64)")
		}
		if err := checkUnused(fs,
			notUsed{o.direction != "random", "with -direction " + o.direction, []string{"keep-biasbn"}},
			notUsed{o.direction != "input", "with -direction " + o.direction, []string{"sample"}},
			notUsed{o.direction == "random", "with -direction random (no eigenvectors)", []string{"tol", "max-iter"}},
			notUsed{o.out == "", "without -out (it is the format of the plots in -out)", []string{"format"}},
			notUsed{o.plot != "", "with -plot (its extension gives the plots' format)", []string{"format"}},
		); err != nil {
			return err
		}
		if err := o.checkOut(landscapeFiles...); err != nil {
			return err
		}
		if err := checkOutputs(o.inputs(), output{"-plot", o.plot}, output{"-plot", accuracyPlot(o.plot)}); err != nil {
			return err
		}
		s, err := o.load(n, e.stderr)
		if err != nil {
			return err
		}
		if o.direction == "input" && o.sample >= s.d.N {
			return usagef("-sample %d: only %d images are loaded", o.sample, s.d.N)
		}
		if o.precision == "float64" {
			return runLandscape[float64](ctx, e, o, s)
		}
		return runLandscape[float32](ctx, e, o, s)
	}
}

func runLandscape[T tensor.Float](ctx context.Context, e *env, o *landscapeOptions, s *analysisSetup) error {
	a, err := loadAnalysis[T](e, &o.analysisFlags, s)
	if err != nil {
		return err
	}
	if o.direction == "input" {
		if err := o.firstImages(e, s, "-sample", o.sample+1); err != nil {
			return err
		}
	}
	// Lanczos keeps -max-iter vectors (capped at the dimension) of the
	// parameter or input space for the eigenvector directions.
	var need uint64 // the eigensolver's vectors
	if o.direction != "random" {
		dim := nn.Size(nn.Trainable(a.net.Params()))
		if o.direction == "input" {
			dim = a.d.SampleLen()
		}
		need = uint64(min(o.maxIter, dim)+4) * uint64(dim) * 8
		if err := checkMemory("landscape", need, "-max-iter"); err != nil {
			return err
		}
	}
	backend, d := o.distribute(e, s)
	// The passes (checkPasses): the operator's products over chunks for
	// Hessian directions, then the grid's losses, several points at once.
	keep := false
	if o.direction == "eigen" {
		chunk := min(o.chunk, d.N)
		if err := checkPasses(a.net, hessian.HVPPass, chunk, o.chunkWorkers(d.N), 0, "-batch-size or -workers"); err != nil {
			return err
		}
		// Every chunk's pass kept where one per chunk fits beside the
		// eigensolver's vectors (as spectrum).
		keep = keepChunks(a.net, chunk, d.N, o.chunkWorkers(d.N), need)
	}
	points := o.points
	if o.twoD {
		points *= o.points
	}
	if err := checkPasses(a.net, hessian.LossPass, min(o.chunk, d.N), o.taskWorkers(points), 0, "-batch-size or -workers"); err != nil {
		return err
	}
	res, err := analysis.Landscape[T](ctx, a.net, d, analysis.LandscapeOptions{
		Direction: o.direction, Operator: o.operator, Sample: o.sample, KeepBiasBN: o.keepBiasBN,
		Range: o.rng, Points: o.points, TwoD: o.twoD, MaxIter: o.maxIter, Tol: o.tol, Seed: o.seed,
		BatchSize: o.chunk, Workers: o.workers, KeepPasses: keep, Backend: backend, Progress: bars(a.prog), InputScale: inputScale(a.norm)})
	if err != nil {
		return err
	}
	res.Header = o.header(a.analysisSetup)
	// A loss that overflows at the grid's edge fails the run before any
	// file is written.
	for j, row := range res.Grid.Loss {
		for i, v := range row {
			if !finite(v) {
				at := fmt.Sprintf("α = %g", res.Grid.X[i])
				if res.Grid.Y != nil {
					at += fmt.Sprintf(", β = %g", res.Grid.Y[j])
				}
				return fmt.Errorf("-range %g: the loss at %s is %v, not a finite number (it overflows in %s): lower -range", o.rng, at, v, o.precision)
			}
		}
	}
	if _, err := jsonResult(res); err != nil {
		return fmt.Errorf("-range %g: %v: lower -range", o.rng, err)
	}
	if !root(e) {
		return nil
	}
	var extra []landscape.Column
	if !o.twoD {
		extra = []landscape.Column{{Name: "quadratic", Values: res.Quadratic}, {Name: "quadratic_grad", Values: res.QuadraticGrad}}
	}
	if err := writeLandscapeFiles(o, res, res.Grid, extra); err != nil {
		return abandon(res.Files, err)
	}
	return o.finish(e, "landscape.json", res, &res.Files, &res.Warnings, func(w io.Writer) { printLandscape(w, res) })
}

// writeLandscapeFiles writes the CSV and the plot.
func writeLandscapeFiles(o *landscapeOptions, res *analysis.LandscapeResult, grid *landscape.Grid, extra []landscape.Column) error {
	csv, err := o.outPath("landscape.csv")
	if err != nil {
		return err
	}
	if csv != "" {
		if err := checkpoint.WriteFileAtomic(csv, func(w io.Writer) error { return grid.WriteCSV(w, extra...) }); err != nil {
			return err
		}
		res.Files = append(res.Files, csv)
	}
	plot := o.plot
	if plot == "" {
		if plot, err = o.outPath("landscape." + o.format); err != nil {
			return err
		}
	}
	if plot == "" {
		return nil
	}
	names := map[string][2]string{
		"eigen":  {"α (along v₁)", "β (along v₂)"},
		"random": {"α (filter-normalised d₁)", "β (filter-normalised d₂)"},
		"input":  {"α (along input eigenvector u₁)", "β (along u₂)"},
	}[o.direction]
	title := fmt.Sprintf("%s loss, %s directions (%s, %d images)", res.Model, o.direction, res.Data, res.Samples)
	if o.direction == "input" {
		title = fmt.Sprintf("%s loss of image %d along its input-Hessian eigenvectors", res.Model, *res.Sample)
	}
	if !o.twoD {
		extra = []landscape.Column{
			{Name: fmt.Sprintf("L₀ + ½·%.4g·α²", res.Curvature[0]), Values: res.Quadratic},
			{Name: "… + gᵀd·α", Values: res.QuadraticGrad},
		}
	}
	if err := grid.Plot(plot, title, names[0], names[1], extra...); err != nil {
		return err
	}
	res.Files = append(res.Files, plot)
	acc := accuracyPlot(plot)
	if err := grid.PlotAccuracy(acc, strings.Replace(title, "loss", "accuracy", 1), names[0], names[1]); err != nil {
		return err
	}
	res.Files = append(res.Files, acc)
	return nil
}

func printLandscape(w io.Writer, r *analysis.LandscapeResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s, %s)\n", r.Model, r.Precision, r.Activation)
	fmt.Fprintf(tw, "data\t%s (%s), %d images\n", r.Data, r.Split, r.Samples)
	what := r.Direction
	if r.Sample != nil {
		what += fmt.Sprintf(", image %d (label %d)", *r.Sample, *r.Label)
	}
	fmt.Fprintf(tw, "directions\t%s\n", what)
	fmt.Fprintf(tw, "loss at the centre\t%.6g (accuracy %.4g)\n", r.Loss, r.Accuracy)
	for k := range r.Curvature {
		fmt.Fprintf(tw, "direction %d\t‖d‖ %.4g\tcurvature dᵀHd %.6g\tslope gᵀd %.4g\n", k+1, r.Norms[k], r.Curvature[k], r.Slope[k])
	}
	g := r.Grid
	if g.Y == nil {
		fmt.Fprintf(tw, "\nα\tloss\taccuracy\t½λα² model\n")
		for i, x := range g.X {
			fmt.Fprintf(tw, "%.4g\t%.6g\t%.4g\t%.6g\n", x, g.Loss[0][i], g.Accuracy[0][i], r.Quadratic[i])
		}
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, row := range g.Loss {
			for _, v := range row {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		fmt.Fprintf(tw, "surface\t%d×%d points, loss in [%.6g, %.6g]\n", len(g.X), len(g.Y), lo, hi)
	}
	fmt.Fprintf(tw, "Hessian-vector products\t%d\n", r.HVPs)
	fmt.Fprintf(tw, "seconds\t%.2f\n", r.Seconds)
	tw.Flush()
	for _, f := range r.Files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
}

// accuracyPlot is the accuracy plot that goes next to the loss plot.
func accuracyPlot(plot string) string {
	if plot == "" {
		return ""
	}
	ext := filepath.Ext(plot)
	return strings.TrimSuffix(plot, ext) + "_accuracy" + ext
}
