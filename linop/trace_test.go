package linop_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"hesscope/linop"
	"hesscope/linop/linoptest"
)

// TestTraceEstimators: Hutchinson and Hutch++ land within three standard
// errors of the exact trace for every standard matrix and five seeds. With
// ~40–120 samples a 3σ miss has probability ≈ 0.5% per trial, so up to 2%
// of the trials (at least one) may miss 3σ; none may miss 4.5σ.
func TestTraceEstimators(t *testing.T) {
	estimators := []struct {
		name string
		f    func(linop.Operator, linop.TraceOptions) (linop.Trace, error)
	}{{"Hutchinson", linop.Hutchinson}, {"Hutch++", linop.HutchPlusPlus}}
	worst := map[string]float64{}
	trials, misses := 0, 0
	for _, m := range linoptest.Standard(testing.Short()) {
		want := m.Trace(1)
		exact := 1e-12 * m.Norm() * float64(m.Dim()) // rounding
		for _, est := range estimators {
			for seed := range uint64(5) {
				tr, err := est.f(m.Op(), linop.TraceOptions{MatVecs: 120, Seed: seed})
				if err != nil || !tr.Converged {
					t.Errorf("%s %s seed %d: %v", est.name, m.Name, seed, err)
				}
				if tr.MatVecs != 120 {
					t.Errorf("%s %s: %d matvecs, want the budget 120", est.name, m.Name, tr.MatVecs)
				}
				e := math.Abs(tr.Estimate - want)
				if e <= exact {
					continue
				}
				trials++
				z := e / tr.StdErr
				worst[est.name] = math.Max(worst[est.name], z)
				if z > 3 {
					misses++
					t.Logf("%s %s seed %d: estimate %g ± %g, exact %g (%.2f standard errors)",
						est.name, m.Name, seed, tr.Estimate, tr.StdErr, want, z)
				}
				if z > 4.5 {
					t.Errorf("%s %s seed %d: %.2f standard errors off", est.name, m.Name, seed, z)
				}
			}
		}
	}
	if misses > max(1, trials/50) {
		t.Errorf("%d of %d trials missed 3 standard errors", misses, trials)
	}
	t.Logf("%d of %d random trials beyond 3σ; largest |error|/StdErr: Hutchinson %.2f, Hutch++ %.2f",
		misses, trials, worst["Hutchinson"], worst["Hutch++"])
}

// TestHutchPlusPlusBeatsHutchinson: for a matrix whose trace is carried by
// ten large eigenvalues, Hutch++ is far more accurate at an equal budget.
func TestHutchPlusPlusBeatsHutchinson(t *testing.T) {
	m := linoptest.New("lowrank-dominated", slices.Concat(linoptest.Span(10, 100, 1000), linoptest.Uniform(290, 0, 0.1, 1)), 2)
	want := m.Trace(1)
	var errH, errPP, seH, sePP float64
	const seeds, budget = 20, 60
	for seed := range uint64(seeds) {
		h, _ := linop.Hutchinson(m.Op(), linop.TraceOptions{MatVecs: budget, Seed: seed})
		pp, _ := linop.HutchPlusPlus(m.Op(), linop.TraceOptions{MatVecs: budget, Seed: seed})
		errH += math.Abs(h.Estimate-want) / want / seeds
		errPP += math.Abs(pp.Estimate-want) / want / seeds
		seH += h.StdErr / want / seeds
		sePP += pp.StdErr / want / seeds
		if pp.Rank != budget/3 || pp.MatVecs != budget {
			t.Errorf("seed %d: Hutch++ rank %d, %d matvecs", seed, pp.Rank, pp.MatVecs)
		}
	}
	t.Logf("mean relative error at %d matvecs: Hutchinson %.2g (std err %.2g), Hutch++ %.2g (std err %.2g)", budget, errH, seH, errPP, sePP)
	if errPP > errH/20 {
		t.Errorf("Hutch++ error %.2g not well below Hutchinson's %.2g", errPP, errH)
	}
}

// TestHutchPlusPlusExactLowRank: for rank r < MatVecs/3 the sketch captures
// the matrix; the deflated part is zero up to rounding.
func TestHutchPlusPlusExactLowRank(t *testing.T) {
	m := linoptest.New("rank5", slices.Concat(linoptest.Repeat(45, 0), []float64{-2, 1, 3, 4, 9}), 3)
	tr, err := linop.HutchPlusPlus(m.Op(), linop.TraceOptions{MatVecs: 30, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Rank != 5 || math.Abs(tr.Estimate-15) > 1e-12 || tr.StdErr > 1e-12 || tr.MatVecs != 30 {
		t.Errorf("rank %d, estimate %.15g ± %g, %d matvecs; want rank 5, 15", tr.Rank, tr.Estimate, tr.StdErr, tr.MatVecs)
	}
}

func TestTraceRelStdErr(t *testing.T) {
	m := linoptest.New("outliers", slices.Concat(linoptest.Uniform(95, -0.1, 1, 4), []float64{5, 10, 20, 30, 50}), 5)
	for _, f := range []func(linop.Operator, linop.TraceOptions) (linop.Trace, error){linop.Hutchinson, linop.HutchPlusPlus} {
		tr, err := f(m.Op(), linop.TraceOptions{MatVecs: 10000, RelStdErr: 0.02, Seed: 1})
		if err != nil || !tr.Converged || tr.MatVecs >= 10000 || len(tr.Samples) < 10 || tr.StdErr > 0.02*math.Abs(tr.Estimate) {
			t.Errorf("%d matvecs, %d samples, %g ± %g, err %v", tr.MatVecs, len(tr.Samples), tr.Estimate, tr.StdErr, err)
		}
		// One probe fewer would not have met the rule.
		prev := tr.Samples[:len(tr.Samples)-1]
		if len(prev) >= 10 {
			mean, se := meanStdErrTest(prev)
			if se <= 0.02*math.Abs(mean+tr.LowRank) {
				t.Errorf("stopped late: %d samples already met the rule", len(prev))
			}
		}
		_, err = f(m.Op(), linop.TraceOptions{MatVecs: 20, RelStdErr: 1e-9})
		var nc *linop.NotConvergedError
		if !errors.As(err, &nc) || nc.Tol != 1e-9 || nc.MatVecs != 20 {
			t.Errorf("unmet rule: err %v", err)
		}
	}
}

func meanStdErrTest(xs []float64) (float64, float64) {
	var s float64
	for _, x := range xs {
		s += x
	}
	mean := s / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1) / float64(len(xs)))
}

// TestHutchinsonChangeTol replays PyHessian's trace rule on the samples.
func TestHutchinsonChangeTol(t *testing.T) {
	m := linoptest.New("pos", linoptest.Uniform(100, 0.5, 2, 6), 7)
	tr, err := linop.Hutchinson(m.Op(), linop.TraceOptions{ChangeTol: 1e-3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	var prev, sum float64
	for i, x := range tr.Samples {
		sum += x
		mean := sum / float64(i+1)
		stop := math.Abs(mean-prev)/(math.Abs(prev)+1e-6) < 1e-3
		if stop != (i == len(tr.Samples)-1) {
			t.Errorf("probe %d: rule says stop=%v, %d probes taken", i, stop, len(tr.Samples))
		}
		prev = mean
	}
	t.Logf("stopped after %d probes: %g ± %g (exact %g)", len(tr.Samples), tr.Estimate, tr.StdErr, m.Trace(1))
}

func TestTraceDim1(t *testing.T) {
	m := linoptest.New("n1", []float64{-2.5}, 1)
	for _, f := range []func(linop.Operator, linop.TraceOptions) (linop.Trace, error){linop.Hutchinson, linop.HutchPlusPlus} {
		for _, budget := range []int{1, 2, 3, 7} {
			tr, err := f(m.Op(), linop.TraceOptions{MatVecs: budget})
			if err != nil || math.Abs(tr.Estimate+2.5) > 1e-15 || tr.StdErr > 1e-15 || tr.MatVecs != budget {
				t.Errorf("budget %d: %+v, %v", budget, tr, err)
			}
		}
	}
}
