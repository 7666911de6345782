package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"hesscope/analysis"
	"hesscope/attack"
	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/experiment"
	"hesscope/hessian"
	"hesscope/models"
	"hesscope/tensor"
	"hesscope/train"
)

func init() {
	commands = append(commands, &command{
		name:  "attack",
		usage: "-weights FILE -method fgsm|pgd|deepfool -eps LIST [-norm linf|l2] [-dataset NAME] [flags]",
		short: "adversarial robustness: FGSM, PGD and DeepFool, with gradient-masking checks",
		long: `
Attack measures the adversarial robustness of a model on the first -samples
images of a dataset split: the clean accuracy, the robust accuracy at every
radius of -eps (a curve, plotted with -plot), the mean norms of the
perturbations and, for DeepFool, ρ_adv = mean ‖δ‖₂/‖x‖₂ over the correctly
classified images (Yao et al. 2018, after Moosavi-Dezfooli et al. 2016).

Pixels are in [0, 1] and adversarial images are clipped to it; a model
trained with -normalize gets its normalisation (from the weights' metadata)
inside the attacked function, so ε is always in pixel units. BatchNorm is in
eval mode. Only correctly classified images are attacked: robust accuracy
is the fraction of all images classified correctly both clean and after the
attack.

Methods, as torchattacks defines them:
  fgsm      x + ε·sign(∇ℓ) (L∞) or x + ε·∇ℓ/‖∇ℓ‖₂ (L2), one gradient
  pgd       -steps steps of size -step-size (default 2.5·ε/steps), projected
            on the ε-ball; from a uniform random point of the ball unless
            -random-start=false (which is iterative FGSM, BIM); -restarts
            runs keep, per image, the first that fools the model
  deepfool  minimal L2 perturbation (overshoot 0.02, at most -steps = 50
            iterations, the 10 most likely classes as candidates); -eps is
            optional and reads the curve off the perturbation norms

Every result comes with sanity checks against gradient masking (Athalye et
al. 2018): perturbations within ε, robust accuracy not increasing with ε,
PGD at least as strong as FGSM at every ε (FGSM is run too), and robust
accuracy about 0 at ε = 1 in L∞ (√d in L2), which is run as an extra point.
-checks=false skips the extra runs. A failed check is a warning (on
standard error), except that for a single-step attack (fgsm, or pgd with
-steps 1) the monotone and large-ε checks are information: one gradient
step is known to be neither monotone in ε nor complete at large ε.

-save-examples writes the adversarial images, labels and predictions as
safetensors (x, y, pred, clean_pred, x_clean), one file per ε (FILE with
-eps<ε> before the extension when there are several); the files are datasets
for -dataset.`,
		flags: attackFlags,
	})
}

type attackOptions struct {
	sourceFlags
	precision                                      string
	method, norm, eps, samples, saveExamples, plot string
	steps, restarts, chunk, candidates             int
	stepSize, overshoot, largeEps                  float64
	randomStart, checks, json, quiet, samplesSet   bool
	seed                                           uint64
}

func attackFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &attackOptions{}
	o.sourceFlags.register(fs, freshOrFile)
	fs.StringVar(&o.samples, "samples", "1000", "attack the first `N` images, or all (the default 1000 means all of a smaller dataset)")
	fs.StringVar(&o.method, "method", "", "attack: fgsm, pgd or deepfool (required)")
	fs.StringVar(&o.norm, "norm", "", "threat model: linf or l2 (default linf; l2 for deepfool)")
	fs.StringVar(&o.eps, "eps", "", "comma-separated `radii` ε in pixel units (required for fgsm and pgd): at most 1 in L∞, √(C·H·W) in L2, where every image is within reach")
	fs.IntVar(&o.steps, "steps", 0, "PGD steps or DeepFool's largest number of iterations, at most 100000 (0: 10 for PGD, 50 for DeepFool)")
	fs.Float64Var(&o.stepSize, "step-size", 0, fmt.Sprintf("PGD step size α, at most %g (default 2.5·ε/steps)", maxStepSize))
	fs.BoolVar(&o.randomStart, "random-start", true, "PGD starts from a uniform random point of the ε-ball")
	fs.IntVar(&o.restarts, "restarts", 1, "PGD runs from independent random starts, at most 1000")
	fs.Float64Var(&o.overshoot, "overshoot", 0.02, "DeepFool's overshoot")
	fs.IntVar(&o.candidates, "candidates", 10, "DeepFool considers the `K` classes of largest clean logit")
	fs.BoolVar(&o.checks, "checks", true, "run the extra attacks of the sanity checks (FGSM next to PGD, a large ε)")
	fs.Float64Var(&o.largeEps, "large-eps", 0, "radius of the large-ε check (default 1 in L∞, √(C·H·W) in L2)")
	fs.StringVar(&o.saveExamples, "save-examples", "", "write the adversarial examples to this safetensors `file`")
	fs.StringVar(&o.plot, "plot", "", "plot the robust-accuracy curve to this .png or .svg `file`")
	fs.IntVar(&o.chunk, "batch-size", 100, "images per batch")
	fs.StringVar(&o.precision, "precision", "float32", "arithmetic: float32 or float64")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random starts (and of the initialisation without -weights)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	return func(ctx context.Context, e *env) error {
		c, eps, n, err := o.validate()
		if err != nil {
			return err
		}
		if err := checkUnused(fs,
			notUsed{c.Method == attack.FGSM, "with -method fgsm (one step of ε)", []string{"steps", "restarts", "step-size", "random-start", "overshoot", "candidates"}},
			notUsed{c.Method == attack.PGD, "with -method pgd", []string{"overshoot", "candidates"}},
			notUsed{c.Method == attack.DeepFool, "with -method deepfool", []string{"restarts", "step-size", "random-start", "large-eps"}},
			notUsed{!o.checks, "with -checks=false (no large-ε run)", []string{"large-eps"}},
		); err != nil {
			return err
		}
		o.samplesSet = givenFlags(fs)["samples"]
		switch o.precision {
		case "float32":
			return runAttack[float32](ctx, e, o, c, eps, n)
		case "float64":
			return runAttack[float64](ctx, e, o, c, eps, n)
		}
		return usagef("-precision %q: want float32 or float64", o.precision)
	}
}

// validate checks the flags and returns the attack, the radii and the
// number of samples (0: all).
func (o *attackOptions) validate() (attack.Config, []float64, int, error) {
	var c attack.Config
	if o.method == "" {
		return c, nil, 0, usagef("-method is required: fgsm, pgd or deepfool")
	}
	m, err := attack.ParseMethod(o.method)
	if err != nil {
		return c, nil, 0, usagef("-method %q: want fgsm, pgd or deepfool", o.method)
	}
	norm := attack.LInf
	if m == attack.DeepFool {
		norm = attack.L2
	}
	if o.norm != "" {
		if norm, err = attack.ParseNorm(o.norm); err != nil {
			return c, nil, 0, usagef("-norm %q: want linf or l2", o.norm)
		}
		if m == attack.DeepFool && norm != attack.L2 {
			return c, nil, 0, usagef("-norm %s: DeepFool is an L2 attack", o.norm)
		}
	}
	eps, err := parseEps(o.eps)
	if err != nil {
		return c, nil, 0, err
	}
	if len(eps) == 0 && m != attack.DeepFool {
		return c, nil, 0, usagef("-eps is required for %s: comma-separated radii such as 0.1,0.2,0.3", m)
	}
	n, err := parseSamples(o.samples)
	if err != nil {
		return c, nil, 0, err
	}
	for _, e := range eps {
		if r, want := norm.MaxRadius(0); e > r {
			return c, nil, 0, usagef("-eps %g: want %s", e, want)
		}
	}
	switch {
	case o.steps < 0 || o.steps > maxIterations:
		return c, nil, 0, usagef("-steps %d: want 1 to %d (0: the default)", o.steps, maxIterations)
	case o.restarts > 1000:
		return c, nil, 0, usagef("-restarts %d: want at most 1000", o.restarts)
	case o.chunk > maxChunk:
		return c, nil, 0, usagef("-batch-size %d: want at most %d", o.chunk, maxChunk)
	case !(o.stepSize >= 0) || o.stepSize > maxStepSize:
		return c, nil, 0, stepSizeError(o.stepSize)
	case o.restarts < 1:
		return c, nil, 0, usagef("-restarts %d: want at least 1", o.restarts)
	case !(o.overshoot > 0) || math.IsInf(o.overshoot, 0):
		return c, nil, 0, usagef("-overshoot %v: want a finite value > 0", o.overshoot)
	case o.candidates < 2:
		return c, nil, 0, usagef("-candidates %d: want at least 2", o.candidates)
	case !(o.largeEps >= 0) || math.IsInf(o.largeEps, 0):
		return c, nil, 0, usagef("-large-eps %v: want a finite value ≥ 0", o.largeEps)
	case o.chunk < 1:
		return c, nil, 0, usagef("-batch-size %d: want at least 1", o.chunk)
	case o.split != "test" && o.split != "train":
		return c, nil, 0, usagef("-split %q: want test or train", o.split)
	}
	if err := checkActivation(o.activation); err != nil {
		return c, nil, 0, err
	}
	if err := checkOutput("-save-examples", o.saveExamples, ".safetensors"); err != nil {
		return c, nil, 0, err
	}
	if err := checkOutput("-plot", o.plot, ".png", ".svg"); err != nil {
		return c, nil, 0, err
	}
	if err := checkExamples(o, m, eps); err != nil {
		return c, nil, 0, err
	}
	if o.plot != "" && m == attack.DeepFool && len(eps) == 0 {
		return c, nil, 0, usagef("-plot with deepfool needs -eps: the radii of the curve")
	}
	c = attack.Config{Method: m, Norm: norm, Steps: o.steps, StepSize: o.stepSize, RandomStart: o.randomStart,
		Restarts: o.restarts, Overshoot: o.overshoot, Candidates: o.candidates, Seed: o.seed}
	return c, eps, n, nil
}

// parseEps reads a comma-separated list of radii.
func parseEps(s string) ([]float64, error) {
	var eps []float64
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return nil, usagef("-eps %q: %q is not a radius (want comma-separated numbers ≥ 0)", s, part)
		}
		eps = append(eps, v)
	}
	return eps, nil
}

// parseSamples reads -samples: a positive count or "all" (0).
// parseSamples reads -samples: a positive count or "all" (returned as 0).
// "0" is an error rather than a silent "all".
func parseSamples(s string) (int, error) {
	if s == "all" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, usagef("-samples %q: want a positive number or all", s)
	}
	return n, nil
}

func checkActivation(a string) error {
	switch a {
	case "", "relu", "tanh", "softplus":
		return nil
	}
	return usagef("-activation %q: want relu, tanh or softplus", a)
}

// checkOutput checks that an output file has one of the extensions and
// that its folder exists.
func checkOutput(flagName, path string, exts ...string) error {
	if path == "" {
		return nil
	}
	ok := false
	for _, x := range exts {
		ok = ok || strings.EqualFold(filepath.Ext(path), x)
	}
	if !ok {
		return usagef("%s %s: want a %s file", flagName, path, strings.Join(exts, " or "))
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return usagef("%s %s: folder %s does not exist", flagName, path, filepath.Dir(path))
	}
	return nil
}

// attackModel loads the model of -weights/-model/-activation with the
// normalisation its metadata records folded in, and the dataset (src's,
// completed from the metadata; ds gives the rest), checked against each
// other.
func attackModel[T tensor.Float](src *sourceFlags, seed uint64, ds experiment.DataSpec) (attack.Model[T], *models.Net[T], *data.Dataset, *data.Norm, error) {
	norm, err := src.fromWeights()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	weights, model, activation := src.weights, src.model, src.activation
	ds.Name, ds.Split, ds.Dir = src.dataset, src.split, src.dataDir
	d, err := experiment.LoadData(ds)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	classes := 0
	if weights == "" {
		classes = max(d.Classes, 10)
	}
	net, _, err := experiment.LoadModel[T](experiment.ModelSpec{Name: model, Weights: weights, Classes: classes, Activation: activation, Seed: seed})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := experiment.CheckWeights(net); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := experiment.CheckData(d, net); err != nil {
		return nil, nil, nil, nil, err
	}
	for i, v := range d.X {
		if v < 0 || v > 1 {
			return nil, nil, nil, nil, fmt.Errorf("%s: image %d has a pixel %v outside [0, 1] (attacks need raw pixels; normalisation comes from the weights)", d.Name, i/d.SampleLen(), v)
		}
	}
	var m attack.Model[T] = net
	if err := checkNorm(norm, weights, d); err != nil {
		return nil, nil, nil, nil, err
	}
	if norm != nil {
		mean, std := make([]float64, d.C), make([]float64, d.C)
		for c := range mean {
			mean[c], std[c] = float64(norm.Mean[c]), float64(norm.Std[c])
		}
		m = attack.Normalized(m, mean, std)
	}
	return m, net, d, norm, nil
}

func runAttack[T tensor.Float](ctx context.Context, e *env, o *attackOptions, c attack.Config, eps []float64, n int) error {
	start := time.Now()
	var prog io.Writer = e.stderr
	if o.quiet {
		prog = nil
	}
	ds := experiment.DataSpec{Samples: n, Progress: prog}
	if !o.samplesSet {
		ds.Samples = 0 // the default 1000, or all of a smaller dataset
	}
	m, net, d, norm, err := attackModel[T](&o.sourceFlags, o.seed, ds)
	if err != nil {
		return err
	}
	if !o.samplesSet {
		d = d.Subset(n)
	}
	// The L2 bound needs the images' size: checked once they are loaded,
	// before any work.
	for _, e := range append(slices.Clone(eps), o.largeEps) {
		if r, want := c.Norm.MaxRadius(d.SampleLen()); e > r {
			return usagef("-eps or -large-eps %g: want %s", e, want)
		}
	}
	if err := checkFinite(net, normalized(d, norm), o.chunk, runtime.GOMAXPROCS(0), o.weights, o.precision, true); err != nil {
		return err
	}
	// One attacker per CPU, each on a batch of -batch-size images.
	if err := checkPasses(net, hessian.InputGradientPass, min(o.chunk, d.N), min(runtime.GOMAXPROCS(0), (d.N+o.chunk-1)/o.chunk), 0, "-batch-size"); err != nil {
		return err
	}
	meta := map[string]string{"model": net.Name, "dataset": o.dataset, "split": o.split}
	if o.weights != "" {
		meta["weights"] = o.weights
	}
	res, err := analysis.Attack(ctx, m, d, analysis.AttackOptions{Attack: c, Eps: eps, Checks: o.checks, LargeEps: o.largeEps,
		BatchSize: o.chunk, SaveExamples: o.saveExamples, Metadata: meta, Progress: bars(prog)})
	if err != nil {
		return err
	}
	if o.plot != "" {
		title := fmt.Sprintf("%s on %s (%s %s)", strings.ToUpper(res.Method), net.Name, o.dataset, o.split)
		if err := attack.WritePlot(o.plot, res.Report, title); err != nil {
			return abandon(res.Examples, err)
		}
		res.Plot = o.plot
	}
	res.Version, res.Model, res.Activation, res.Weights = version, net.Name, activationName(o.activation, o.weights), o.weights
	res.Dataset, res.Split, res.Normalized, res.Precision = o.dataset, o.split, norm != nil, o.precision
	res.Seed = o.seed
	res.Seconds = time.Since(start).Seconds()
	res.Warnings = append(slices.Clone(o.warnings), res.Warnings...)
	defer printWarnings(e.stderr, res.Warnings)
	if o.json {
		return writeResult(e.stdout, true, "", res)
	}
	printAttack(e.stdout, res)
	return nil
}

// activationName is the activation in use, for the record.
func activationName(flagValue, weights string) string {
	if flagValue != "" {
		return flagValue
	}
	if weights != "" {
		if f, err := checkpoint.ReadFile(weights); err == nil && f.Metadata["activation"] != "" {
			return f.Metadata["activation"]
		}
	}
	return "relu"
}

func printAttack(w io.Writer, r *analysis.AttackResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s%s)\n", r.Model, r.Activation, map[bool]string{true: ", normalised inputs", false: ""}[r.Normalized])
	fmt.Fprintf(tw, "data\t%s %s, %d images\n", r.Dataset, r.Split, r.Samples)
	attackDesc := r.Method + " " + r.Norm
	switch r.Method {
	case "pgd":
		attackDesc += fmt.Sprintf(", %d steps of %s, random start %v, %d restart(s)", r.Steps, r.StepSize, r.RandomStart, r.Restarts)
	case "deepfool":
		attackDesc += fmt.Sprintf(", overshoot %g, at most %d iterations", r.Overshoot, r.Steps)
	}
	fmt.Fprintf(tw, "attack\t%s\n", attackDesc)
	fmt.Fprintf(tw, "clean accuracy\t%.2f%% (%d/%d)\n", 100*r.CleanAccuracy, r.Correct, r.Samples)
	if r.DeepFool != nil {
		df := r.DeepFool
		fmt.Fprintf(tw, "ρ_adv\t%.5f (correctly classified images; %.5f over all)\n", df.RhoAdv, df.RhoAdvAll)
		fmt.Fprintf(tw, "mean ‖δ‖₂, ‖δ‖∞\t%.4f, %.4f\n", df.MeanL2, df.MeanLInf)
		fmt.Fprintf(tw, "failures, mean iterations\t%d, %.2f\n", df.Failures, df.MeanIterations)
	}
	tw.Flush()
	if len(r.Results) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		if r.DeepFool != nil {
			fmt.Fprintf(tw, "ε\trobust acc\tfooled\t\n")
			for _, p := range r.Results {
				fmt.Fprintf(tw, "%g\t%.2f%%\t%.2f%%\t\n", p.Eps, 100*p.Accuracy, 100*p.SuccessRate)
			}
		} else {
			fmt.Fprintf(tw, "ε\trobust acc\tfooled\tmean ‖δ‖₂\tmean ‖δ‖∞\tseconds\t\n")
			row := func(label string, p attack.Point) {
				fmt.Fprintf(tw, "%s\t%.2f%%\t%.2f%%\t%.4f\t%.4f\t%.1f\t\n", label, 100*p.Accuracy, 100*p.SuccessRate, p.MeanL2, p.MeanLInf, p.Seconds)
			}
			for _, p := range r.Results {
				row(strconv.FormatFloat(p.Eps, 'g', -1, 64), p)
			}
			for _, p := range r.FGSM {
				row("FGSM "+strconv.FormatFloat(p.Eps, 'g', -1, 64), p)
			}
			if r.LargeEps != nil {
				row("check "+strconv.FormatFloat(r.LargeEps.Eps, 'g', 4, 64), *r.LargeEps)
			}
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	for _, c := range r.Checks {
		verdict := map[bool]string{true: "pass", false: "FAIL"}[c.Pass]
		if c.Info && !c.Pass {
			verdict = "info"
		}
		fmt.Fprintf(w, "check %-16s %s  %s\n", c.Name, verdict, c.Detail)
	}
	for _, f := range r.Examples {
		fmt.Fprintf(w, "examples: %s\n", f)
	}
	if r.Plot != "" {
		fmt.Fprintf(w, "plot: %s\n", r.Plot)
	}
	fmt.Fprintf(w, "seconds: %.1f\n", r.Seconds)
}

// advFlags are the adversarial-training flags of hesscope train.
type advFlags struct {
	method, norm         string
	eps, ratio, stepSize float64
	steps                int
}

// bindAdvFlags declares the adversarial-training flags of hesscope train.
func bindAdvFlags(fs *flag.FlagSet) *advFlags {
	a := &advFlags{}
	fs.StringVar(&a.method, "adv", "", "adversarial training: replace -adv-ratio of every batch by fgsm or pgd examples of the current weights (BatchNorm in eval mode while generating them)")
	fs.Float64Var(&a.eps, "adv-eps", 0, "radius ε of -adv, in pixel units (required with -adv)")
	fs.Float64Var(&a.ratio, "adv-ratio", 0.5, "fraction of every batch replaced by adversarial examples (stochastically rounded per micro-batch)")
	fs.IntVar(&a.steps, "adv-steps", 0, "PGD steps of -adv pgd (default 10), from a random start")
	fs.Float64Var(&a.stepSize, "adv-step-size", 0, "PGD step size of -adv pgd (default 2.5·ε/steps)")
	fs.StringVar(&a.norm, "adv-norm", "linf", "threat model of -adv: linf or l2")
	return a
}

// apply records the adversarial training of the flags (or, without -adv,
// of a resumed run's saved settings) in cfg.Perturb and returns the
// train.Options.Perturb hook, nil for normal training.
func (a *advFlags) apply(cfg *train.Config, set map[string]bool) (any, error) {
	if a.method == "" {
		for _, f := range []string{"adv-eps", "adv-ratio", "adv-steps", "adv-step-size", "adv-norm"} {
			if set[f] {
				return nil, usagef("-%s needs -adv fgsm or -adv pgd", f)
			}
		}
		// Without -adv, a resumed run's saved settings apply.
		return experiment.Perturbation(*cfg)
	}
	m, err := attack.ParseMethod(a.method)
	if err != nil || m == attack.DeepFool {
		return nil, usagef("-adv %q: want fgsm or pgd", a.method)
	}
	norm, err := attack.ParseNorm(a.norm)
	switch {
	case err != nil:
		return nil, usagef("-adv-norm %q: want linf or l2", a.norm)
	case !(a.eps > 0) || math.IsInf(a.eps, 0):
		return nil, usagef("-adv-eps %v: want a finite radius > 0", a.eps)
	case a.steps > maxIterations:
		return nil, atMost("-adv-steps", a.steps, maxIterations, "each step is a pass over the attacked images")
	case !(a.ratio > 0 && a.ratio <= 1):
		return nil, usagef("-adv-ratio %v: want a fraction in (0, 1]", a.ratio)
	case a.steps < 0 || (m == attack.FGSM && a.steps > 1):
		return nil, usagef("-adv-steps %d: want at least 1 (pgd) or nothing (fgsm)", a.steps)
	case !(a.stepSize >= 0) || math.IsInf(a.stepSize, 0) || (m == attack.FGSM && a.stepSize > 0):
		return nil, usagef("-adv-step-size %v: want a finite value > 0 with -adv pgd", a.stepSize)
	}
	// A dataset file's size is not known here (the L2 bound then waits
	// for attack's own check of its examples).
	info, _ := data.Describe(cfg.Dataset)
	if r, want := norm.MaxRadius(info.SampleLen()); a.eps > r {
		return nil, usagef("-adv-eps %v: want %s", a.eps, want)
	}
	t := attack.Training{Config: attack.Config{Method: m, Norm: norm, Eps: a.eps, Steps: a.steps, StepSize: a.stepSize, RandomStart: true}, Ratio: a.ratio}
	if spec := t.String(); cfg.Perturb != "" && cfg.Perturb != spec {
		return nil, usagef("-resume: the run in %s trains with -adv %q, not %q", cfg.Out, cfg.Perturb, spec)
	}
	cfg.Perturb = t.String()
	if cfg.Normalize {
		if _, err := data.StandardNorm(cfg.Dataset); err != nil {
			return nil, usagef("-adv with -normalize: %v", err)
		}
	}
	return experiment.Perturbation(*cfg)
}

// normalized is d as the model sees it: with norm (if any) applied.
func normalized(d *data.Dataset, norm *data.Norm) *data.Dataset {
	if norm == nil {
		return d
	}
	return d.Normalized(*norm)
}

// checkExamples refuses, before any work, outputs that would replace an
// input (-save-examples or -plot the same file as -weights or -dataset)
// and a -save-examples file that exists but is not a previous run's
// examples: a model, a training run's state, any other safetensors file.
func checkExamples(o *attackOptions, m attack.Method, eps []float64) error {
	var paths []string
	if o.saveExamples != "" {
		paths = analysis.ExamplesPaths(o.saveExamples, m, eps)
	}
	outs := []output{{"-plot", o.plot}}
	for _, p := range paths {
		outs = append(outs, output{"-save-examples", p})
	}
	if err := checkOutputs(o.inputs(), outs...); err != nil {
		return err
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if what := examplesFile(p); what != "" {
			return usagef("-save-examples %s: exists and is %s, not a previous run's adversarial examples: it would be overwritten; choose another file", p, what)
		}
	}
	return nil
}

// examplesFile says what the existing file at path is when it is not a
// file of adversarial examples (tensors x, x_clean, y, pred, clean_pred),
// and "" when it is one: only such a file may be overwritten.
func examplesFile(path string) string {
	names, _, err := checkpoint.ReadNames(path) // the header alone
	switch {
	case err != nil:
		return "not a readable safetensors file"
	case slices.Equal(names, []string{"clean_pred", "pred", "x", "x_clean", "y"}):
		return ""
	case len(names) > 6:
		names = append(names[:6], "…")
	}
	return "a safetensors file of tensors " + strings.Join(names, ", ")
}

// maxStepSize bounds PGD's -step-size: pixels lie in [0, 1] and the ε-ball
// is at most √(C·H·W) wide, so a longer step only lands on the ball's
// boundary, while a huge one (1e300) overflows float32 into NaN pixels.
const maxStepSize = 1000.0

func stepSizeError(v float64) error {
	return usagef("-step-size %v: want a finite value from 0 (2.5·ε/steps) to %g (a longer step only lands on the ε-ball's boundary)", v, float64(maxStepSize))
}
