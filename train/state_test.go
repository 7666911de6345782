package train

import (
	"strings"
	"testing"
)

// TestModelNorm reads the normalisation of a model file's metadata and
// refuses metadata that cannot be applied, among it a file that says it was
// normalised but has lost its statistics (it would be evaluated on raw
// pixels).
func TestModelNorm(t *testing.T) {
	for _, c := range []struct {
		meta map[string]string
		mean []float64 // nil: no normalisation
		err  string
	}{
		{map[string]string{"normalization": "none (pixels in [0, 1])"}, nil, ""},
		{map[string]string{}, nil, ""},
		{map[string]string{"norm_mean": "[0.5]", "norm_std": "[0.25]"}, []float64{0.5}, ""},
		{map[string]string{"normalization": "per channel (x - mean) / std, mean [0.1307], std [0.3081]"}, nil, "without norm_mean and norm_std"},
		{map[string]string{"norm_mean": "[0.5, 0.5]", "norm_std": "[0.25]"}, nil, "2 means and 1 standard deviations"},
		{map[string]string{"norm_mean": "[0.5]", "norm_std": "[0]"}, nil, "want positive values"},
		{map[string]string{"norm_mean": "x", "norm_std": "[1]"}, nil, "norm_mean"},
	} {
		n, err := ModelNorm(c.meta)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: %v, want an error with %q", c.meta, err, c.err)
			}
		case err != nil:
			t.Errorf("%v: %v", c.meta, err)
		case (n == nil) != (c.mean == nil) || n != nil && float64(n.Mean[0]) != c.mean[0]:
			t.Errorf("%v: %+v, want mean %v", c.meta, n, c.mean)
		}
	}
}
