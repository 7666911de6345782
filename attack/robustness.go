package attack

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"hesscope/tensor"
)

// LargeEpsMaxAccuracy is the largest robust accuracy the large-ε sanity check
// accepts: at ε = 1 in L∞ (or the diameter √d of [0,1]^d in L2) every image
// is within reach of every other, so an attack that leaves more than this
// fraction of the samples classified correctly is not doing its job
// (gradient masking, or a bug).
const LargeEpsMaxAccuracy = 0.01

// Study is a robustness evaluation: one attack at several radii, with the
// extra runs the sanity checks need.
type Study struct {
	// Config is the attack; its Eps is ignored.
	Config Config
	// Eps lists the radii of the curve. DeepFool, which has no radius,
	// reads its curve off the norms of its minimal perturbations: a sample
	// is robust at ε if it is classified correctly and DeepFool found no
	// adversarial within ‖δ‖₂ ≤ ε.
	Eps []float64
	// FGSMCheck runs FGSM at every ε too when Config is PGD, to check that
	// PGD is never weaker.
	FGSMCheck bool
	// LargeEpsCheck runs the attack once more at LargeEps, where robust
	// accuracy must be about 0 (FGSM and PGD only).
	LargeEpsCheck bool
	// LargeEps is that radius (0: 1 in L∞, √d in L2 with d = C·H·W).
	LargeEps float64
	// Clean, if not nil, holds the model's predictions on the clean
	// images, as Predict returns them, saving a pass.
	Clean []int
}

// Check is one sanity check of a robustness result.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
	// Info marks a check that is information only for this attack: its
	// failure is expected of the method and raises no warning.
	Info bool `json:"info,omitempty"`
}

// DeepFoolStats summarises a DeepFool run.
type DeepFoolStats struct {
	// RhoAdv is mean ‖δ‖₂/‖x‖₂ over the correctly classified samples,
	// RhoAdvAll the same over all samples with δ = 0 for misclassified ones.
	RhoAdv    float64 `json:"rho_adv"`
	RhoAdvAll float64 `json:"rho_adv_all"`
	// MeanL2 and MeanLInf are the mean perturbation norms over the
	// correctly classified samples.
	MeanL2   float64 `json:"mean_l2"`
	MeanLInf float64 `json:"mean_linf"`
	// Failures counts the attacked samples still classified correctly after
	// DeepFool's last iteration.
	Failures int `json:"failures"`
	// MeanIterations is the mean number of iterations over attacked samples.
	MeanIterations float64 `json:"mean_iterations"`
}

// Report is the result of a Study.
type Report struct {
	Method        string  `json:"method"`
	Norm          string  `json:"norm"`
	Samples       int     `json:"samples"`
	Dim           int     `json:"dim"` // values per image, C·H·W
	Correct       int     `json:"correct"`
	CleanAccuracy float64 `json:"clean_accuracy"`
	// Config is the attack with its defaults filled in (Eps of the last run).
	Config Config `json:"-"`
	// Results is the curve, one point per ε of the study, in its order.
	Results []Point `json:"results"`
	// FGSM is the FGSM curve of the PGD-versus-FGSM check.
	FGSM []Point `json:"fgsm,omitempty"`
	// LargeEps is the result at the large radius of the large-ε check.
	LargeEps *Point         `json:"large_eps,omitempty"`
	DeepFool *DeepFoolStats `json:"deepfool,omitempty"`
	Checks   []Check        `json:"checks"`
	Warnings []string       `json:"warnings"`
	Seconds  float64        `json:"seconds"`
}

// Robustness runs the study s on the images x ([N,C,H,W], pixels in [0, 1])
// with labels y and checks the result for signs of gradient masking
// (SanityChecks). keep, if not nil, receives the outcome of every run of the
// curve (with its adversarial examples) as soon as it is done; an error from
// keep stops the study.
func Robustness[T tensor.Float](ctx context.Context, m Model[T], x *tensor.Dense[T], y []int, s Study, o Options, keep func(*Outcome[T]) error) (*Report, error) {
	checkBatch(x, y)
	c := s.Config
	c.Eps = 0
	if err := c.Check(); err != nil {
		return nil, err
	}
	for _, e := range s.Eps {
		c.Eps = e
		if err := c.Check(); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	clean := s.Clean
	if clean == nil {
		var err error
		if clean, err = Predict(ctx, m, x, o); err != nil {
			return nil, err
		}
	} else if len(clean) != len(y) {
		return nil, fmt.Errorf("attack: %d clean predictions for %d samples", len(clean), len(y))
	}
	r := &Report{Method: c.Method.String(), Norm: c.Norm.String(), Samples: len(y), Dim: x.Len() / len(y), Config: c.WithDefaults()}
	for i := range y {
		if clean[i] == y[i] {
			r.Correct++
		}
	}
	r.CleanAccuracy = frac(r.Correct, len(y))
	runKeep := o
	runKeep.Keep = keep != nil
	if c.Method == DeepFool {
		out, err := Run(ctx, m, x, y, clean, c, runKeep)
		if err != nil {
			return nil, err
		}
		r.Config = out.Config
		r.DeepFool, r.Results = deepFoolSummary(out, x, s.Eps)
		if keep != nil {
			if err := keep(out); err != nil {
				return nil, err
			}
		}
	}
	for _, e := range s.Eps {
		if c.Method == DeepFool {
			break
		}
		c.Eps = e
		out, err := Run(ctx, m, x, y, clean, c, runKeep)
		if err != nil {
			return nil, err
		}
		r.Config = out.Config
		r.Results = append(r.Results, out.Point())
		if keep != nil {
			if err := keep(out); err != nil {
				return nil, err
			}
		}
		if c.Method == PGD && s.FGSMCheck {
			f := c
			f.Method = FGSM
			fo, err := Run(ctx, m, x, y, clean, f, o)
			if err != nil {
				return nil, err
			}
			r.FGSM = append(r.FGSM, fo.Point())
		}
	}
	if s.LargeEpsCheck && c.Method != DeepFool {
		c.Eps = s.LargeEps
		if c.Eps == 0 {
			c.Eps, _ = c.Norm.MaxRadius(x.Len() / len(y))
		}
		out, err := Run(ctx, m, x, y, clean, c, o)
		if err != nil {
			return nil, err
		}
		p := out.Point()
		r.LargeEps = &p
	}
	r.Checks, r.Warnings = SanityChecks(r)
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// deepFoolSummary computes ρ_adv and the robustness curve of a DeepFool run.
func deepFoolSummary[T tensor.Float](out *Outcome[T], x *tensor.Dense[T], eps []float64) (*DeepFoolStats, []Point) {
	st := &DeepFoolStats{}
	d := x.Len() / len(out.Labels)
	attacked := 0
	for i, y := range out.Labels {
		if !out.Attacked[i] {
			continue
		}
		attacked++
		rho := out.L2[i] / math.Max(norm2(x.Data[i*d:(i+1)*d]), 1e-12)
		st.RhoAdv += rho
		st.MeanL2 += out.L2[i]
		st.MeanLInf += out.LInf[i]
		st.MeanIterations += float64(out.Iterations[i])
		if out.Pred[i] == y {
			st.Failures++
		}
	}
	st.RhoAdvAll = st.RhoAdv / math.Max(1, float64(len(out.Labels)))
	if attacked > 0 {
		st.RhoAdv /= float64(attacked)
		st.MeanL2 /= float64(attacked)
		st.MeanLInf /= float64(attacked)
		st.MeanIterations /= float64(attacked)
	}
	var pts []Point
	for _, e := range eps {
		p := Point{Eps: e, Seconds: out.Seconds}
		correct, fooled := 0, 0
		for i, y := range out.Labels {
			if !out.Attacked[i] {
				continue
			}
			if out.Pred[i] == y || out.L2[i] > e {
				correct++
			} else {
				fooled++
			}
		}
		p.Accuracy = frac(correct, len(out.Labels))
		p.SuccessRate = frac(fooled, attacked)
		pts = append(pts, p)
	}
	return st, pts
}

// SanityChecks checks a robustness report for the signs of gradient masking
// listed by Athalye, Carlini & Wagner (2018) and Carlini et al. (2019), "On
// Evaluating Adversarial Robustness", and returns the checks and a warning
// for every failed one. With N samples, one sample of slack (1/N) is allowed
// where two attacks are compared.
//
//   - within_eps: every perturbation is within its radius (FGSM, PGD), to
//     rounding.
//   - monotone: robust accuracy does not increase with ε (the large-ε point
//     included).
//   - pgd_vs_fgsm: PGD's robust accuracy is at most FGSM's at every ε.
//   - large_eps: robust accuracy at the large radius is at most
//     LargeEpsMaxAccuracy.
//   - deepfool_success: DeepFool flips at least 99% of the samples it
//     attacks.
//
// monotone and large_eps test an attack that maximises the loss within the
// ball; a single gradient step (FGSM, or PGD with one step) does not: it
// overshoots at large ε, where the linear model of the loss no longer
// holds, and is known to be neither monotone in ε nor complete. For such an
// attack the two checks are information (Info set), not warnings.
func SanityChecks(r *Report) ([]Check, []string) {
	checks := []Check{}
	slack := 1 / math.Max(1, float64(r.Samples))
	singleStep := r.Method == FGSM.String() || r.Method == PGD.String() && r.Config.Steps == 1
	add := func(name string, pass bool, format string, args ...any) {
		c := Check{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)}
		if singleStep && (name == "monotone" || name == "large_eps") {
			c.Info = true
			c.Detail += " (a single-step attack need not be monotone in ε nor complete at large ε: information, not a failure)"
		}
		checks = append(checks, c)
	}
	pts := append([]Point(nil), r.Results...)
	if r.LargeEps != nil {
		pts = append(pts, *r.LargeEps)
	}
	if r.Method != DeepFool.String() {
		// Rounding of x + δ in float32 may add an ulp of a pixel per pixel.
		abs := 1e-6
		if r.Norm == L2.String() {
			abs *= math.Sqrt(float64(max(r.Dim, 1)))
		}
		pass, detail := true, "every perturbation is within ε"
		for _, p := range pts {
			// Written so that a NaN norm (NaN pixels) fails.
			if !(p.MaxNorm <= p.Eps*(1+1e-5)+abs) || math.IsNaN(p.MeanL2) || math.IsNaN(p.MeanLInf) {
				pass, detail = false, fmt.Sprintf("a perturbation of %s norm %.6g exceeds ε=%g", r.Norm, p.MaxNorm, p.Eps)
				break
			}
		}
		add("within_eps", pass, "%s", detail)
	}
	if len(pts) > 1 {
		sorted := sortedByEps(pts)
		pass, detail := true, "robust accuracy does not increase with ε"
		for i := 1; i < len(sorted); i++ {
			if !(sorted[i].Accuracy <= sorted[i-1].Accuracy+slack+1e-12) {
				pass = false
				detail = fmt.Sprintf("robust accuracy rises from %.4f at ε=%g to %.4f at ε=%g", sorted[i-1].Accuracy, sorted[i-1].Eps, sorted[i].Accuracy, sorted[i].Eps)
				break
			}
		}
		add("monotone", pass, "%s", detail)
	}
	if len(r.FGSM) > 0 {
		pass, detail := true, "PGD is at least as strong as FGSM at every ε"
		for i, f := range r.FGSM {
			if i < len(r.Results) && !(r.Results[i].Accuracy <= f.Accuracy+slack+1e-12) {
				pass = false
				detail = fmt.Sprintf("at ε=%g PGD leaves %.4f robust accuracy, FGSM %.4f", f.Eps, r.Results[i].Accuracy, f.Accuracy)
				break
			}
		}
		add("pgd_vs_fgsm", pass, "%s", detail)
	}
	if r.LargeEps != nil {
		add("large_eps", r.LargeEps.Accuracy <= LargeEpsMaxAccuracy, "robust accuracy %.4f at ε=%g (%s), want ≤ %g", r.LargeEps.Accuracy, r.LargeEps.Eps, r.Norm, LargeEpsMaxAccuracy)
	}
	if r.DeepFool != nil {
		rate := 1 - frac(r.DeepFool.Failures, r.Correct)
		add("deepfool_success", rate >= 0.99, "DeepFool flips %.4f of the %d correctly classified samples (%d failures), want ≥ 0.99", rate, r.Correct, r.DeepFool.Failures)
	}
	warnings := []string{}
	for _, c := range checks {
		if !c.Pass && !c.Info {
			warnings = append(warnings, fmt.Sprintf("sanity check %s failed: %s: possible gradient masking or a broken attack", c.Name, c.Detail))
		}
	}
	return checks, warnings
}

// sortedByEps returns a copy of pts in increasing ε, equal radii in their
// order.
func sortedByEps(pts []Point) []Point {
	s := slices.Clone(pts)
	slices.SortStableFunc(s, func(a, b Point) int { return cmp.Compare(a.Eps, b.Eps) })
	return s
}
