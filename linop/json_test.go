package linop_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"hesscope/linop"
	"hesscope/linop/linoptest"
)

// TestJSON: results encode (no NaN or Inf) with snake_case keys, and
// eigenvectors stay out of JSON.
func TestJSON(t *testing.T) {
	m := linoptest.New("json", slices.Concat(linoptest.Uniform(20, 0, 1, 1), []float64{3}), 2)
	eig, _ := linop.Lanczos(m.Op(), linop.Largest, linop.LanczosOptions{K: 2, MaxIter: 3})
	pw, _ := linop.Power(m.Op(), linop.LargestMagnitude, linop.PowerOptions{MaxIter: 1})
	tr, _ := linop.HutchPlusPlus(m.Op(), linop.TraceOptions{MatVecs: 1, RelStdErr: 0.1})
	sp, _ := linop.SLQ(m.Op(), linop.SLQOptions{Steps: 3})
	for _, tc := range []struct {
		v    any
		keys []string
	}{
		{eig, []string{`"values"`, `"residuals"`, `"converged"`, `"iterations"`, `"matvecs"`, `"seed"`, `"seconds"`}},
		{pw, []string{`"values"`}},
		{tr, []string{`"estimate"`, `"std_err"`, `"low_rank"`, `"rank"`, `"samples"`, `"converged"`, `"matvecs"`}},
		{sp, []string{`"dim"`, `"nodes"`, `"weights"`, `"matvecs"`}},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Errorf("%T: %v", tc.v, err)
			continue
		}
		for _, k := range tc.keys {
			if !strings.Contains(string(b), k) {
				t.Errorf("%T: key %s missing in %s", tc.v, k, b)
			}
		}
		if strings.Contains(string(b), "ectors") {
			t.Errorf("%T: vectors in JSON", tc.v)
		}
	}
}

func TestProgressStatus(t *testing.T) {
	for _, c := range []struct {
		p    linop.Progress
		want string
	}{
		{linop.Progress{MatVecs: 3}, ""},
		{linop.Progress{Values: []float64{12.345, 3}, Residuals: []float64{1e-6, 4e-4}, Bounds: []float64{1.2e-5, 3e-6}}, "λ 12.35, residual 0.0004 > 3e-06"},
		{linop.Progress{Values: []float64{12.345, 3}, Residuals: []float64{1e-6, 1e-7}, Bounds: []float64{1.2e-5, 3e-6}}, "λ 12.35, residual 1e-06 ≤ 1.2e-05"},
		{linop.Progress{Values: []float64{0}, Residuals: []float64{1e-9}, Bounds: []float64{0}}, "λ 0, residual 1e-09 > 0"},
		{linop.Progress{Values: []float64{250}, Residuals: []float64{4.2}}, "λ 250 ± 4.2"},
	} {
		if got := c.p.Status("λ %.4g"); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
	}
}
