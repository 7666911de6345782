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
