package experiment

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"hesscope/internal/stats"
	"hesscope/report"
)

// Thresholds of the claims' verdicts, stated in the report.
const (
	// LargerSpectrum is the least ratio λ₁(largest batch)/λ₁(smallest
	// batch) that counts as a noticeably larger spectrum (claim 1).
	LargerSpectrum = 1.2
	// TinyNegative is the largest max(0, −λ_min)/λ₁ that counts as a tiny
	// negative eigenvalue, no saddle point (claim 2).
	TinyNegative = 0.1
	// SaddleFree is the largest fraction of indefinite input Hessians on
	// PGD trajectories that counts as saddle-free (claim 5).
	SaddleFree = 0.01
)

// The evidence the verdicts need. Below these counts a statistic's outcome
// is insufficient evidence, whatever its value.
const (
	// MinSeeds is the fewest runs of a configuration (or seed pairs) for
	// a bootstrap interval of a ratio of means or of a paired difference.
	MinSeeds = 3
	// MinCorrelationRuns and MinCorrelationBatches are the fewest runs
	// and distinct batch sizes for a rank correlation.
	MinCorrelationRuns    = 4
	MinCorrelationBatches = 3
	// MinWorstCaseRuns is the fewest runs for a worst case over runs to
	// hold: when none of n runs breaks the threshold, the fraction of runs
	// that would is below 1 − 0.05^(1/n) at 95 % confidence, 26 % for 10.
	MinWorstCaseRuns = 10
)

// Uncertainty is the bootstrap of the verdicts: a 95 % percentile interval
// from 10 000 resamples, seeded so that the same result files give the same
// intervals.
var Uncertainty = stats.Bootstrap{Resamples: 10000, Level: 0.95, Seed: 1}

// bootstrapMethod describes Uncertainty in the report.
const bootstrapMethod = "percentile bootstrap over seeds: each resample draws, within every configuration (training kind × batch size), as many runs as it has, with replacement"

var claimTexts = []string{
	"Large batch converges to points with a noticeably larger Hessian spectrum (top eigenvalue w.r.t. parameters and w.r.t. inputs) than small batch.",
	"Saddle points are not the cause of the large-batch gap: at the end of training the most negative eigenvalue is tiny next to the largest, also at the largest batch.",
	"Points with a larger spectrum are less robust: lower FGSM accuracy and lower ρ_adv.",
	"Robust (adversarial) training ends at points with a smaller spectrum than normal training at the same batch size.",
	"The inner loop of robust training is saddle-free: the input Hessian of the ReLU network has no negative eigenvalue along PGD trajectories.",
}

// claims evaluates the paper's five claims on the measured runs.
func claims(runs []report.Run) []report.Claim {
	var ok []report.Run // runs with the parameter Hessian measured
	for _, r := range runs {
		if len(r.TopEigenvalues) > 0 {
			ok = append(ok, r)
		}
	}
	cs := make([]report.Claim, len(claimTexts))
	for i, t := range claimTexts {
		cs[i] = report.Claim{ID: i + 1, Text: t}
	}
	cs[0].Rule, cs[0].Statistics = claim1(ok)
	cs[1].Rule, cs[1].Statistics = claim2(ok)
	cs[2].Rule, cs[2].Statistics = claim3(ok)
	cs[3].Rule, cs[3].Statistics = claim4(ok)
	cs[4].Rule, cs[4].Statistics = claim5(runs)
	for i := range cs {
		cs[i].Verdict = combine(cs[i].Statistics)
		var parts []string
		for _, s := range cs[i].Statistics {
			parts = append(parts, s.String())
		}
		cs[i].Evidence = strings.Join(parts, "; ") + "."
	}
	return cs
}

// combine is a claim's verdict from its statistics' outcomes: not held if
// any is not held, else insufficient evidence if any is (or if there is
// none), else inconclusive if any is, else held.
func combine(ss []report.Statistic) string {
	if len(ss) == 0 {
		return report.Insufficient
	}
	for _, o := range []string{report.NotHeld, report.Insufficient, report.Inconclusive} {
		for _, s := range ss {
			if s.Outcome == o {
				return o
			}
		}
	}
	return report.Held
}

// judge sets s.Outcome from its value and interval: held when the interval
// lies wholly on the claim's side of the threshold, not held when wholly on
// the other side, inconclusive when it straddles it. A missing bound counts
// as the value itself.
func judge(s *report.Statistic) {
	lo, hi := *s.Value, *s.Value
	if s.Lo != nil {
		lo = *s.Lo
	}
	if s.Hi != nil {
		hi = *s.Hi
	}
	good, bad := lo > s.Threshold, hi < s.Threshold
	if s.Direction == "below" {
		good, bad = hi < s.Threshold, lo > s.Threshold
	}
	switch {
	case good:
		s.Outcome = report.Held
	case bad:
		s.Outcome = report.NotHeld
	default:
		s.Outcome = report.Inconclusive
	}
}

func insufficient(name string, runs int, threshold float64, dir, note string) report.Statistic {
	return report.Statistic{Name: name, Threshold: threshold, Direction: dir, Runs: runs, Outcome: report.Insufficient, Note: note}
}

// bootstrap is the statistic f of the runs split into strata, with its
// bootstrap interval, judged against the threshold.
func bootstrap(name string, strata [][]int, f func(idx []int) float64, threshold float64, dir string) report.Statistic {
	var all []int
	for _, s := range strata {
		all = append(all, s...)
	}
	v := f(all)
	s := report.Statistic{Name: name, Value: &v, Threshold: threshold, Direction: dir, Runs: len(all), Interval: "bootstrap"}
	lo, hi, valid := Uncertainty.Interval(strata, f)
	if math.IsNaN(v) || math.IsInf(v, 0) || valid < Uncertainty.Resamples/2 {
		return insufficient(name, len(all), threshold, dir, "undefined on these runs (constant values)")
	}
	// With few runs the resampled statistic can be biased — resampling
	// three seeds with replacement shrinks their spread, which raises a
	// rank correlation — so that the percentile interval misses the
	// estimate; the interval is then widened to include it, which only
	// makes the verdict more cautious.
	lo, hi = min(lo, v), max(hi, v)
	s.Lo, s.Hi = &lo, &hi
	judge(&s)
	return s
}

// byBatch splits the runs of one kind into their batch sizes, ascending:
// the indices into runs of each batch size.
func byBatch(runs []report.Run, kind string) (sizes []int, strata [][]int) {
	at := map[int]int{}
	for i, r := range runs {
		if r.Kind != kind {
			continue
		}
		k, seen := at[r.BatchSize]
		if !seen {
			k = len(sizes)
			at[r.BatchSize] = k
			sizes, strata = append(sizes, r.BatchSize), append(strata, nil)
		}
		strata[k] = append(strata[k], i)
	}
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return sizes[a] - sizes[b] })
	var s2 []int
	var t2 [][]int
	for _, i := range order {
		s2, t2 = append(s2, sizes[i]), append(t2, strata[i])
	}
	return s2, t2
}

// configurations splits all runs into their configurations (kind × batch
// size), the strata of the bootstrap.
func configurations(runs []report.Run) [][]int {
	var strata [][]int
	for _, kind := range []string{"normal", "robust", "absa"} {
		_, s := byBatch(runs, kind)
		strata = append(strata, s...)
	}
	return strata
}

func lambda(r report.Run) float64      { return r.TopEigenvalues[0] }
func inputLambda(r report.Run) float64 { return r.InputTopEigenvalue }

// claim1: the ratio of mean λ₁ at the largest to the smallest batch size
// (parameters and inputs) and the rank correlation of λ₁ with batch size
// over all normal runs.
func claim1(runs []report.Run) (string, []report.Statistic) {
	rule := fmt.Sprintf("Held when the bootstrap intervals of the ratios of mean λ₁(θ) and of mean λ₁(x) at the largest to the smallest batch size lie above ×%g and those of the rank correlations of λ₁(θ) and λ₁(x) with batch size over all normal runs lie above 0 (needs %d seeds at both ends, and %d runs over %d batch sizes for a correlation).",
		LargerSpectrum, MinSeeds, MinCorrelationRuns, MinCorrelationBatches)
	sizes, strata := byBatch(runs, "normal")
	var ss []report.Statistic
	for _, q := range []struct {
		name string
		f    func(report.Run) float64
	}{{"λ₁(θ)", lambda}, {"λ₁(x)", inputLambda}} {
		if len(sizes) < 2 {
			ss = append(ss, insufficient(q.name+" ratio, largest / smallest batch", len(runs), LargerSpectrum, "above", "needs normal runs at two batch sizes"))
		} else {
			lo, hi := strata[0], strata[len(strata)-1]
			name := fmt.Sprintf("%s ratio, batch %d / %d", q.name, sizes[len(sizes)-1], sizes[0])
			if n := min(len(lo), len(hi)); n < MinSeeds {
				ss = append(ss, insufficient(name, len(lo)+len(hi), LargerSpectrum, "above", fmt.Sprintf("%d seed(s) at an end, needs %d", n, MinSeeds)))
			} else {
				nlo := len(lo)
				ss = append(ss, bootstrap(name, [][]int{lo, hi}, func(idx []int) float64 {
					var a, b []float64
					for _, i := range idx[:nlo] {
						a = append(a, q.f(runs[i]))
					}
					for _, i := range idx[nlo:] {
						b = append(b, q.f(runs[i]))
					}
					return stats.Mean(b) / stats.Mean(a)
				}, LargerSpectrum, "above"))
			}
		}
		ss = append(ss, correlation("rank correlation of "+q.name+" with batch size", runs, strata,
			func(r report.Run) float64 { return float64(r.BatchSize) }, q.f, "above"))
	}
	return rule, ss
}

// correlation is the Spearman correlation of x and y over the runs of the
// strata, with its bootstrap interval, judged against 0.
func correlation(name string, runs []report.Run, strata [][]int, x, y func(report.Run) float64, dir string) report.Statistic {
	n := 0
	batches := map[int]bool{}
	for _, s := range strata {
		n += len(s)
		for _, i := range s {
			batches[runs[i].BatchSize] = true
		}
	}
	if n < MinCorrelationRuns || len(batches) < MinCorrelationBatches {
		return insufficient(name, n, 0, dir, fmt.Sprintf("%d runs over %d batch sizes, needs %d over %d", n, len(batches), MinCorrelationRuns, MinCorrelationBatches))
	}
	return bootstrap(name, strata, func(idx []int) float64 {
		xs, ys := make([]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			xs[k], ys[k] = x(runs[i]), y(runs[i])
		}
		return stats.Spearman(xs, ys)
	}, 0, dir)
}

// claim2: the worst max(0, −λ_min)/λ₁ over all runs, bounded by the
// eigenvalues' residuals.
func claim2(runs []report.Run) (string, []report.Statistic) {
	rule := fmt.Sprintf("Held when, in the worst of all runs, max(0, −λ_min)/λ₁ of the parameter Hessian is below %g even at the far end of the eigenvalues' Lanczos residual bounds, over at least %d runs.", TinyNegative, MinWorstCaseRuns)
	name := "largest max(0, −λ_min)/λ₁ over runs"
	if len(runs) == 0 {
		return rule, []report.Statistic{insufficient(name, 0, TinyNegative, "below", "no measured run")}
	}
	s := report.Statistic{Name: name, Threshold: TinyNegative, Direction: "below", Runs: len(runs), Interval: "residual"}
	worst, lo, hi := math.Inf(-1), math.Inf(-1), math.Inf(-1)
	at := ""
	for _, r := range runs {
		// A Ritz value lies inside the spectrum, so the true λ₁ is at
		// least the estimate and the true λ_min at most it; each is within
		// its residual of an eigenvalue.
		l1, lmin := r.TopEigenvalues[0], r.MinEigenvalue
		if !(l1 > 0) {
			continue // no positive curvature to compare with
		}
		r1, rmin := 0.0, 0.0
		if len(r.Residuals) == len(r.TopEigenvalues)+1 {
			r1, rmin = r.Residuals[0], r.Residuals[len(r.Residuals)-1]
		}
		v := math.Max(0, -lmin) / l1
		if v > worst {
			worst, at = v, r.Name
		}
		lo = math.Max(lo, math.Max(0, -lmin)/(l1+r1))
		hi = math.Max(hi, math.Max(0, rmin-lmin)/l1)
	}
	if at == "" {
		return rule, []report.Statistic{insufficient(name, len(runs), TinyNegative, "below", "no run has a positive λ₁")}
	}
	s.Name = fmt.Sprintf("%s (%s)", name, at)
	s.Value, s.Lo, s.Hi = &worst, &lo, &hi
	judge(&s)
	enough(&s)
	return rule, []report.Statistic{s}
}

// enough turns a worst case over too few runs into insufficient evidence
// unless it already fails: one counterexample is evidence, a few
// agreements are not.
func enough(s *report.Statistic) {
	if s.Runs < MinWorstCaseRuns && s.Outcome != report.NotHeld {
		s.Outcome = report.Insufficient
		s.Note = fmt.Sprintf("a worst case over %d runs, needs %d", s.Runs, MinWorstCaseRuns)
	}
}

// fgsmMiddle is the middle FGSM radius of a run, the one of claim 3.
func fgsmMiddle(r report.Run) (eps, acc float64) {
	if len(r.FGSM) == 0 {
		return math.NaN(), math.NaN()
	}
	e := r.FGSM[len(r.FGSM)/2]
	return e.Eps, e.Accuracy
}

// claim3: the rank correlations of λ₁ with ρ_adv and FGSM accuracy over
// all runs.
func claim3(runs []report.Run) (string, []report.Statistic) {
	eps := math.NaN()
	var with []report.Run
	for _, r := range runs {
		if e, _ := fgsmMiddle(r); !math.IsNaN(e) {
			eps = e
			with = append(with, r)
		}
	}
	rule := fmt.Sprintf("Held when the bootstrap intervals of the rank correlations of λ₁(θ) with ρ_adv and with FGSM accuracy at ε = %g over all runs (normal and robust) lie below 0 (needs %d runs over %d batch sizes).", eps, MinCorrelationRuns, MinCorrelationBatches)
	strata := configurations(with)
	return rule, []report.Statistic{
		correlation("rank correlation of λ₁(θ) with ρ_adv", with, strata, lambda, func(r report.Run) float64 { return r.RhoAdv }, "below"),
		correlation(fmt.Sprintf("rank correlation of λ₁(θ) with FGSM accuracy at ε = %g", eps), with, strata, lambda,
			func(r report.Run) float64 { _, a := fgsmMiddle(r); return a }, "below"),
	}
}

// claim4: robust − normal λ₁ paired by seed at every batch size that has
// both.
func claim4(runs []report.Run) (string, []report.Statistic) {
	rule := fmt.Sprintf("Held when, at every batch size with both kinds of training, the bootstrap interval of the mean robust − normal λ₁(θ), paired by seed, lies below 0 (needs %d seed pairs per batch size).", MinSeeds)
	normal := map[[2]uint64]report.Run{}
	for _, r := range runs {
		if r.Kind == "normal" {
			normal[[2]uint64{uint64(r.BatchSize), r.Seed}] = r
		}
	}
	sizes, strata := byBatch(runs, "robust")
	var ss []report.Statistic
	for k, b := range sizes {
		var d []float64
		for _, i := range strata[k] {
			if n, ok := normal[[2]uint64{uint64(b), runs[i].Seed}]; ok {
				d = append(d, lambda(runs[i])-lambda(n))
			}
		}
		if len(d) == 0 {
			continue
		}
		name := fmt.Sprintf("robust − normal λ₁(θ) at batch %d", b)
		if len(d) < MinSeeds {
			ss = append(ss, insufficient(name, 2*len(d), 0, "below", fmt.Sprintf("%d seed pair(s), needs %d", len(d), MinSeeds)))
			continue
		}
		pairs := make([]int, len(d))
		for i := range pairs {
			pairs[i] = i
		}
		s := bootstrap(name, [][]int{pairs}, func(idx []int) float64 {
			m := 0.0
			for _, i := range idx {
				m += d[i]
			}
			return m / float64(len(idx))
		}, 0, "below")
		s.Runs = 2 * len(d)
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		ss = append(ss, insufficient("robust − normal λ₁(θ)", len(runs), 0, "below", "no batch size has both normal and robust runs of the same seed (use -robust)"))
	}
	return rule, ss
}

// claim5: the worst fraction of indefinite input Hessians along PGD
// trajectories over all runs, and the exact upper bound of the pooled rate.
func claim5(runs []report.Run) (string, []report.Statistic) {
	rule := fmt.Sprintf("Held when no run has more than %g %% indefinite input Hessians along its PGD trajectories and the exact 95 %% upper bound of the rate over all points is below %g %%, over at least %d runs.",
		100*SaddleFree, 100*SaddleFree, MinWorstCaseRuns)
	n, k, checked := 0, 0, 0
	worst, at := 0.0, ""
	for _, r := range runs {
		if r.SaddlePoints == 0 {
			continue
		}
		checked++
		n += r.SaddlePoints
		k += int(math.Round(r.SaddleFraction * float64(r.SaddlePoints)))
		if r.SaddleFraction >= worst {
			worst, at = r.SaddleFraction, r.Name
		}
	}
	if checked == 0 {
		return rule, []report.Statistic{insufficient("fraction of indefinite input Hessians", 0, SaddleFree, "below", "no run has a saddle check")}
	}
	w := report.Statistic{Name: fmt.Sprintf("largest fraction of indefinite input Hessians in a run (%s)", at), Value: &worst,
		Threshold: SaddleFree, Direction: "below", Runs: checked}
	if worst > SaddleFree {
		w.Outcome = report.NotHeld
	} else {
		w.Outcome = report.Held
	}
	enough(&w)
	up, rate := stats.BinomialUpper(k, n, 0.95), float64(k)/float64(n)
	p := report.Statistic{Name: fmt.Sprintf("rate of indefinite input Hessians, %d of %d points", k, n), Value: &rate,
		Hi: &up, Interval: "binomial", Threshold: SaddleFree, Direction: "below", Runs: checked}
	if up < SaddleFree {
		p.Outcome = report.Held
	} else {
		p.Outcome = report.Inconclusive
	}
	enough(&p)
	return rule, []report.Statistic{w, p}
}
