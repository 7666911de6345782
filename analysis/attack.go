package analysis

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hesscope/attack"
	"hesscope/data"
	"hesscope/tensor"
)

// AttackOptions configures Attack.
type AttackOptions struct {
	// Attack is the attack (FGSM, PGD or DeepFool, as torchattacks defines
	// them) with its parameters; its Eps is ignored.
	Attack attack.Config
	// Eps are the radii of the robust-accuracy curve, in pixel units
	// (optional for DeepFool, which reads its curve off its perturbations).
	Eps []float64
	// Checks runs the extra attacks of the sanity checks against gradient
	// masking: FGSM next to PGD at every radius, and a large radius LargeEps
	// (0: 1 in L∞, √(C·H·W) in L2) where robust accuracy must be about 0.
	Checks   bool
	LargeEps float64
	// BatchSize is the number of images per batch (0: 100); Workers the
	// number of batches attacked at once (0: GOMAXPROCS).
	BatchSize, Workers int
	// SaveExamples, if not empty, is the safetensors file the adversarial
	// examples are written to (one file per radius, with -eps<ε> before the
	// extension, when there are several), with Metadata recorded in it.
	SaveExamples string
	Metadata     map[string]string
	// Progress, if not nil, receives progress reports.
	Progress func(Progress)
}

// AttackResult is the result of Attack, the JSON output of hesscope attack.
// Attack fills Samples, Precision, the attack's fields and the results;
// the caller the description of the model and the data.
type AttackResult struct {
	Version       string                `json:"version"`
	Model         string                `json:"model"`
	Activation    string                `json:"activation"`
	Weights       string                `json:"weights,omitempty"`
	Dataset       string                `json:"dataset"`
	Split         string                `json:"split"`
	Samples       int                   `json:"samples"`
	Normalized    bool                  `json:"normalized"`
	Precision     string                `json:"precision"`
	Method        string                `json:"method"`
	Norm          string                `json:"norm"`
	Steps         int                   `json:"steps,omitempty"`
	StepSize      string                `json:"step_size,omitempty"`
	RandomStart   bool                  `json:"random_start"`
	Restarts      int                   `json:"restarts,omitempty"`
	Overshoot     float64               `json:"overshoot,omitempty"`
	Seed          uint64                `json:"seed"`
	CleanAccuracy float64               `json:"clean_accuracy"`
	Correct       int                   `json:"correct"`
	Results       []attack.Point        `json:"results"`
	FGSM          []attack.Point        `json:"fgsm,omitempty"`
	LargeEps      *attack.Point         `json:"large_eps,omitempty"`
	RhoAdv        *float64              `json:"rho_adv,omitempty"`
	DeepFool      *attack.DeepFoolStats `json:"deepfool,omitempty"`
	Checks        []attack.Check        `json:"checks"`
	Warnings      []string              `json:"warnings"`
	Examples      []string              `json:"examples,omitempty"`
	Plot          string                `json:"plot,omitempty"`
	Seconds       float64               `json:"seconds"`
	// Report is the attack package's report, for attack.WritePlot.
	Report *attack.Report `json:"-"`
}

// Attack measures the adversarial robustness of m on the images of d
// (pixels in [0, 1]; a normalisation belongs inside m, see
// attack.Normalized): the clean accuracy, the robust accuracy at every
// radius, the mean perturbation norms and, for DeepFool, ρ_adv, with the
// sanity checks against gradient masking. Only correctly classified images
// are attacked.
func Attack[T tensor.Float](ctx context.Context, m attack.Model[T], d *data.Dataset, o AttackOptions) (*AttackResult, error) {
	start := time.Now()
	c := o.Attack
	prog := reporter(o.Progress)
	x := images[T](d)
	opt := attack.Options{BatchSize: o.BatchSize, Workers: o.Workers}
	progress, finish := prog.counter("classifying", d.N)
	done := 0
	opt.Progress = func(k int) { done += k; progress(done, d.N) }
	clean, err := attack.Predict(ctx, m, x, opt)
	if err != nil {
		return nil, err
	}
	finish("")
	correct := 0
	for i, p := range clean {
		if p == d.Y[i] {
			correct++
		}
	}
	runs := len(o.Eps)
	s := attack.Study{Config: c, Eps: o.Eps, Clean: clean, FGSMCheck: o.Checks && c.Method == attack.PGD, LargeEpsCheck: o.Checks, LargeEps: o.LargeEps}
	if c.Method == attack.DeepFool {
		runs = 1
	} else if o.Checks {
		if s.FGSMCheck {
			runs *= 2
		}
		runs++
	}
	stage := fmt.Sprintf("%s %s", c.Method, c.Norm)
	progress, finish = prog.counter(stage, runs*correct)
	done = 0
	opt.Progress = func(k int) { done += k; progress(done, runs*correct) }
	var examples []string
	keep := func(out *attack.Outcome[T]) error {
		path := ExamplesPath(o.SaveExamples, out.Config.Eps, severalExamples(c.Method, o.Eps))
		if err := attack.SaveExamples(path, out, x, o.Metadata); err != nil {
			return err
		}
		examples = append(examples, path)
		return nil
	}
	if o.SaveExamples == "" {
		keep = nil
	}
	r, err := attack.Robustness(ctx, m, x, d.Y, s, opt, keep)
	if err != nil {
		// A run that fails (or is interrupted) leaves none of its
		// examples: the files written so far are of a run with no result.
		for _, p := range examples {
			os.Remove(p)
		}
		return nil, err
	}
	finish("")
	rc := r.Config
	res := &AttackResult{Samples: d.N, Precision: precision[T](),
		Method: r.Method, Norm: r.Norm, Seed: c.Seed, CleanAccuracy: r.CleanAccuracy, Correct: r.Correct,
		Results: r.Results, FGSM: r.FGSM, LargeEps: r.LargeEps, DeepFool: r.DeepFool, Checks: r.Checks,
		Warnings: r.Warnings, Examples: examples, Report: r}
	switch c.Method {
	case attack.PGD:
		res.Steps, res.RandomStart, res.Restarts = rc.Steps, rc.RandomStart, rc.Restarts
		res.StepSize = "2.5·ε/steps"
		if c.StepSize > 0 {
			res.StepSize = strconv.FormatFloat(c.StepSize, 'g', -1, 64)
		}
	case attack.DeepFool:
		res.Steps, res.Overshoot = rc.Steps, rc.Overshoot
		res.RhoAdv = &r.DeepFool.RhoAdv
	}
	if res.Results == nil {
		res.Results = []attack.Point{}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// ExamplesPaths lists the files an attack with method m at radii eps
// writes its examples to (AttackOptions.SaveExamples = path).
func ExamplesPaths(path string, m attack.Method, eps []float64) []string {
	if !severalExamples(m, eps) {
		return []string{path}
	}
	var paths []string
	for _, e := range eps {
		paths = append(paths, ExamplesPath(path, e, true))
	}
	return paths
}

// severalExamples says whether an attack with method m at radii eps writes
// a file of examples per radius: DeepFool, which has no radius, and one
// radius write one.
func severalExamples(m attack.Method, eps []float64) bool {
	return m != attack.DeepFool && len(eps) > 1
}

// ExamplesPath is the file of the examples at eps: path itself when there
// is one file, else path with -eps<ε> before its extension.
func ExamplesPath(path string, eps float64, several bool) string {
	if !several {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-eps" + strconv.FormatFloat(eps, 'g', -1, 64) + ext
}

// SaddleOptions configures SaddleCheck; see attack.SaddleOptions for the
// defaults of its fields.
type SaddleOptions struct {
	// Attack is the PGD attack whose trajectories are followed.
	Attack attack.Config
	// Tol, FlatLoss, MaxIter and LanczosTol are those of
	// attack.SaddleOptions.
	Tol, FlatLoss float64
	MaxIter       int
	LanczosTol    float64
	// BatchSize is the number of images per PGD batch (0: 1); Workers the
	// number of batches at once (0: GOMAXPROCS).
	BatchSize, Workers int
	// Points keeps every trajectory point in the result.
	Points bool
	// Progress, if not nil, receives progress reports.
	Progress func(Progress)
}

// SaddleStep aggregates the points of one step of the trajectories.
type SaddleStep struct {
	Step          int     `json:"step"`
	MeanLoss      float64 `json:"mean_loss"`
	Accuracy      float64 `json:"accuracy"`
	MeanLambdaMax float64 `json:"mean_lambda_max"`
	MinRatio      float64 `json:"min_ratio"`
	Negative      int     `json:"negative"`
	Flat          int     `json:"flat"`
}

// SaddleResult is the result of SaddleCheck, the JSON output of hesscope
// saddle-check. SaddleCheck fills Precision, the attack's fields and the
// report; the caller the description of the model and the data.
type SaddleResult struct {
	Version     string  `json:"version"`
	Model       string  `json:"model"`
	Activation  string  `json:"activation"`
	Weights     string  `json:"weights,omitempty"`
	Dataset     string  `json:"dataset"`
	Split       string  `json:"split"`
	Normalized  bool    `json:"normalized"`
	Precision   string  `json:"precision"`
	Norm        string  `json:"norm"`
	Eps         float64 `json:"eps"`
	StepSize    float64 `json:"step_size"`
	RandomStart bool    `json:"random_start"`
	Seed        uint64  `json:"seed"`
	*attack.SaddleReport
	PerStep  []SaddleStep `json:"per_step"`
	Warnings []string     `json:"warnings,omitempty"`
}

// SaddleCheck follows the PGD trajectory of each image of d and computes,
// at every point, the extreme eigenvalues of the Hessian of that image's
// loss with respect to the image (attack.SaddleCheck), with a summary per
// step.
func SaddleCheck[T tensor.Float](ctx context.Context, m attack.Model[T], d *data.Dataset, o SaddleOptions) (*SaddleResult, error) {
	start := time.Now()
	c := o.Attack
	x := images[T](d)
	progress, finish := reporter(o.Progress).counter("input-Hessian eigenvalues (points)", d.N*(c.Steps+1))
	done := 0
	so := attack.SaddleOptions{Tol: o.Tol, FlatLoss: o.FlatLoss, MaxIter: o.MaxIter, LanczosTol: o.LanczosTol, KeepPoints: true,
		Options: attack.Options{BatchSize: o.BatchSize, Workers: o.Workers, Progress: func(k int) { done += k; progress(done, d.N*(c.Steps+1)) }}}
	r, err := attack.SaddleCheck(ctx, m, x, d.Y, c, so)
	if err != nil {
		return nil, err
	}
	finish("")
	cd := c.WithDefaults()
	res := &SaddleResult{Precision: precision[T](), Norm: c.Norm.String(), Eps: c.Eps,
		StepSize: cd.StepSize, RandomStart: c.RandomStart, Seed: c.Seed, SaddleReport: r}
	for s := 0; s <= r.Steps; s++ {
		st := SaddleStep{Step: s}
		n := 0
		for _, p := range r.Trajectory {
			if p.Step != s {
				continue
			}
			n++
			st.MeanLoss += p.Loss
			st.MeanLambdaMax += p.LambdaMax
			if p.Correct {
				st.Accuracy++
			}
			switch {
			case p.Flat:
				st.Flat++
			case p.Negative:
				st.Negative++
			}
			if !p.Flat {
				st.MinRatio = min(st.MinRatio, p.LambdaMin/max(p.LambdaMax, math.Abs(p.LambdaMin)))
			}
		}
		st.MeanLoss /= float64(n)
		st.MeanLambdaMax /= float64(n)
		st.Accuracy /= float64(n)
		res.PerStep = append(res.PerStep, st)
	}
	if !o.Points {
		r.Trajectory = nil
	}
	r.Seconds = time.Since(start).Seconds()
	return res, nil
}
