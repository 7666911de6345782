package experiment

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"hesscope/report"
)

// study is a constructed sweep in which every claim holds: batch sizes 64
// to 4096, three seeds, normal and robust training at every batch size; λ₁
// doubles with every quadrupling of the batch, robust training is 20 %
// flatter, robustness falls as 1/λ₁, λ_min is −1 % of λ₁ and no input
// Hessian is indefinite.
func study() []report.Run {
	var runs []report.Run
	for _, kind := range []string{"normal", "robust"} {
		for _, b := range []int{64, 256, 1024, 4096} {
			for s := uint64(1); s <= 3; s++ {
				l := math.Sqrt(float64(b)/64) * (1 + 0.05*float64(s))
				if kind == "robust" {
					l *= 0.8
				}
				runs = append(runs, report.Run{Name: "r", Kind: kind, BatchSize: b, Seed: s,
					TopEigenvalues: []float64{l, l / 2}, MinEigenvalue: -0.01 * l, Residuals: []float64{1e-3 * l, 1e-3 * l, 1e-3 * l},
					InputTopEigenvalue: 0.1 * l, RhoAdv: 1 / l, FGSM: []report.EpsAccuracy{{Eps: 0.1, Accuracy: 0.9}, {Eps: 0.2, Accuracy: 0.5 / l}, {Eps: 0.3, Accuracy: 0.1}},
					SaddlePoints: 100})
			}
		}
	}
	return runs
}

// each applies f to every run that matches keep.
func each(runs []report.Run, keep func(r report.Run) bool, f func(r *report.Run)) []report.Run {
	for i := range runs {
		if keep(runs[i]) {
			f(&runs[i])
		}
	}
	return runs
}

func only(runs []report.Run, keep func(r report.Run) bool) []report.Run {
	return slices.DeleteFunc(runs, func(r report.Run) bool { return !keep(r) })
}

func at(kind string, b int) func(report.Run) bool {
	return func(r report.Run) bool { return r.Kind == kind && r.BatchSize == b }
}

func all(report.Run) bool { return true }

func TestClaimOutcomes(t *testing.T) {
	setLambda := func(r *report.Run, l float64) {
		r.TopEigenvalues = []float64{l, l / 2}
		r.MinEigenvalue = -0.01 * l
		r.Residuals = []float64{1e-3 * l, 1e-3 * l, 1e-3 * l}
	}
	for _, c := range []struct {
		name  string
		claim int
		runs  []report.Run
		want  string
	}{
		{"held", 1, study(), report.Held},
		// Normal λ₁ the same at every batch size: ratio ≈ 1.
		{"flat", 1, each(study(), func(r report.Run) bool { return r.Kind == "normal" }, func(r *report.Run) { setLambda(r, 1+0.05*float64(r.Seed)) }),
			report.NotHeld},
		// λ₁ at 4096 is 0.9, 1.2 or 1.6 times that at 64 by seed: the
		// interval of the ratio, [0.9, 1.6], straddles 1.2.
		{"straddles", 1, each(each(study(), func(r report.Run) bool { return r.Kind == "normal" }, func(r *report.Run) { setLambda(r, 1.1) }),
			at("normal", 4096), func(r *report.Run) { setLambda(r, []float64{0.9, 1.2, 1.6}[r.Seed-1]) }), report.Inconclusive},
		{"one seed", 1, only(study(), func(r report.Run) bool { return r.Seed == 1 }), report.Insufficient},

		{"held", 2, study(), report.Held},
		{"one saddle", 2, each(study(), at("normal", 4096), func(r *report.Run) { r.MinEigenvalue = -0.5 * r.TopEigenvalues[0] }), report.NotHeld},
		// −λ_min/λ₁ = 0.09, but λ_min is only known to ±0.05·λ₁.
		{"unconverged", 2, each(study(), all, func(r *report.Run) {
			r.MinEigenvalue = -0.09 * r.TopEigenvalues[0]
			r.Residuals[2] = 0.05 * r.TopEigenvalues[0]
		}), report.Inconclusive},
		{"three runs", 2, study()[:3], report.Insufficient},
		{"no positive λ₁", 2, each(study(), all, func(r *report.Run) { r.TopEigenvalues[0] = 0 }), report.Insufficient},
		// λ₁ = 0 at the smallest batch: an infinite ratio is no evidence.
		{"zero curvature", 1, each(study(), at("normal", 64), func(r *report.Run) { setLambda(r, 0) }), report.Insufficient},

		{"held", 3, study(), report.Held},
		{"more robust when sharper", 3, each(study(), all, func(r *report.Run) { r.RhoAdv = r.TopEigenvalues[0] }), report.NotHeld},
		// ρ_adv unrelated to λ₁: it cycles with the seed.
		{"unrelated", 3, each(study(), all, func(r *report.Run) { r.RhoAdv = float64(r.Seed) }), report.Inconclusive},
		{"two batch sizes", 3, only(study(), func(r report.Run) bool { return r.BatchSize == 64 || r.BatchSize == 4096 }), report.Insufficient},

		{"held", 4, study(), report.Held},
		{"robust sharper", 4, each(study(), func(r report.Run) bool { return r.Kind == "robust" }, func(r *report.Run) { setLambda(r, 2*r.TopEigenvalues[0]) }),
			report.NotHeld},
		// At batch 256 robust − normal is −1, +0.5 or −0.2 by seed.
		{"mixed pairs", 4, func() []report.Run {
			runs := study()
			normal := map[uint64]float64{}
			for _, r := range runs {
				if r.Kind == "normal" && r.BatchSize == 256 {
					normal[r.Seed] = r.TopEigenvalues[0]
				}
			}
			return each(runs, at("robust", 256), func(r *report.Run) { setLambda(r, normal[r.Seed]+[]float64{-1, 0.5, -0.2}[r.Seed-1]) })
		}(), report.Inconclusive},
		{"one pair", 4, only(study(), func(r report.Run) bool { return r.Kind == "normal" || r.BatchSize != 1024 || r.Seed == 1 }), report.Insufficient},
		{"no robust runs", 4, only(study(), func(r report.Run) bool { return r.Kind == "normal" }), report.Insufficient},

		{"held", 5, study(), report.Held},
		{"indefinite", 5, each(study(), at("robust", 64), func(r *report.Run) { r.SaddleFraction = 0.05 }), report.NotHeld},
		// No indefinite point, but 240 points cannot bound the rate
		// below 1 % (upper bound 1 − 0.05^(1/240) = 1.24 %).
		{"few points", 5, each(study(), all, func(r *report.Run) { r.SaddlePoints = 10 }), report.Inconclusive},
		{"three runs", 5, study()[:3], report.Insufficient},
	} {
		cs := claims(c.runs)
		got := cs[c.claim-1]
		if got.Verdict != c.want {
			t.Errorf("claim %d, %s: %s, want %s\n  %s", c.claim, c.name, got.Verdict, c.want, got.Evidence)
		}
		if _, err := json.Marshal(cs); err != nil {
			t.Errorf("claim %d, %s: results.json could not hold it: %v", c.claim, c.name, err)
		}
		if got.Rule == "" || len(got.Statistics) == 0 {
			t.Errorf("claim %d, %s: no rule or no statistics", c.claim, c.name)
		}
	}
}

// TestClaimsDemo: the demo's one seed per configuration (batch 64 and
// 4096, one robust run) is insufficient evidence for every claim.
func TestClaimsDemo(t *testing.T) {
	runs := only(study(), func(r report.Run) bool {
		return r.Seed == 1 && (at("normal", 64)(r) || at("normal", 4096)(r) || at("robust", 4096)(r))
	})
	for _, c := range claims(runs) {
		if c.Verdict != report.Insufficient {
			t.Errorf("claim %d: %s, want insufficient evidence (%s)", c.ID, c.Verdict, c.Evidence)
		}
		for _, s := range c.Statistics {
			if s.Note == "" {
				t.Errorf("claim %d: statistic %q says not why the evidence is insufficient", c.ID, s.Name)
			}
		}
	}
}

// TestClaimNumbers checks the statistics themselves on the held study.
func TestClaimNumbers(t *testing.T) {
	cs := claims(study())
	get := func(claim int, prefix string) report.Statistic {
		for _, s := range cs[claim-1].Statistics {
			if strings.HasPrefix(s.Name, prefix) {
				return s
			}
		}
		t.Fatalf("claim %d has no statistic %q", claim, prefix)
		return report.Statistic{}
	}
	// λ₁ at 4096 is 8× that at 64 for every seed: ratio 8, and every
	// resample of the seeds gives 8 up to the seeds' spread.
	r := get(1, "λ₁(θ) ratio, batch 4096 / 64")
	if math.Abs(*r.Value-8) > 1e-12 || r.Lo == nil || *r.Lo > 8 || *r.Hi < 8 || *r.Lo < 7.5 || *r.Hi > 8.5 || r.Runs != 6 || r.Interval != "bootstrap" {
		t.Errorf("ratio %+v, lo %v hi %v", r, *r.Lo, *r.Hi)
	}
	// robust − normal at 64 = −0.2·(1 + 0.05 s): mean −0.22, interval
	// within [−0.23, −0.21] (the seeds' range).
	d := get(4, "robust − normal λ₁(θ) at batch 64")
	if math.Abs(*d.Value+0.22) > 1e-12 || *d.Lo < -0.23-1e-12 || *d.Hi > -0.21+1e-12 || d.Runs != 6 {
		t.Errorf("difference %+v, lo %v hi %v", d, *d.Lo, *d.Hi)
	}
	// −λ_min/λ₁ = 0.01 with residuals 1e-3·λ: bounds 0.01/1.001 and 0.011.
	w := get(2, "largest")
	if math.Abs(*w.Value-0.01) > 1e-12 || math.Abs(*w.Lo-0.01/1.001) > 1e-12 || math.Abs(*w.Hi-0.011) > 1e-12 {
		t.Errorf("claim 2 %+v, lo %v hi %v", w, *w.Lo, *w.Hi)
	}
	p := get(5, "rate")
	if *p.Value != 0 || math.Abs(*p.Hi-(1-math.Pow(0.05, 1.0/2400))) > 1e-9 || p.Runs != 24 {
		t.Errorf("claim 5 %+v", p)
	}
	// Every interval contains its estimate.
	for _, c := range cs {
		for _, s := range c.Statistics {
			if s.Value != nil && s.Lo != nil && (*s.Lo > *s.Value || *s.Hi < *s.Value) {
				t.Errorf("claim %d: %s = %v outside [%v, %v]", c.ID, s.Name, *s.Value, *s.Lo, *s.Hi)
			}
		}
	}
	// Deterministic: the same runs give the same bits.
	again := claims(study())
	for i := range cs {
		if cs[i].Evidence != again[i].Evidence {
			t.Errorf("claim %d differs between two summaries:\n%s\n%s", i+1, cs[i].Evidence, again[i].Evidence)
		}
	}
}
