package stats

import (
	"math"
	"slices"
	"testing"
)

func TestSpearman(t *testing.T) {
	for _, c := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// Monotone but not linear: still 1.
		{[]float64{1, 2, 3, 4}, []float64{1, 8, 27, 1000}, 1},
		// Ranks (1,2,3,4) against (2,1,4,3): 1 − 6·4/(4·15) = 0.6.
		{[]float64{1, 2, 3, 4}, []float64{2, 1, 4, 3}, 0.6},
		// Ties: x ranks (1.5,1.5,3.5,3.5), y ranks (1,2,3,4):
		// cov 2, var_x 1·4, var_y 5 → 4/√(4·5) = 0.894427…
		{[]float64{5, 5, 7, 7}, []float64{1, 2, 3, 4}, 4 / math.Sqrt(20)},
	} {
		if got := Spearman(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	if v := Spearman([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(v) {
		t.Errorf("constant set: %v, want NaN", v)
	}
}

func TestRanks(t *testing.T) {
	if got := Ranks([]float64{3, 1, 3, 2}); !slices.Equal(got, []float64{3.5, 1, 3.5, 2}) {
		t.Errorf("ranks %v", got)
	}
}

func TestQuantile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.5, 3}, {1, 5}, {0.1, 1.4}, {0.975, 4.9}} {
		if got := Quantile(s, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestBootstrapInterval(t *testing.T) {
	b := Bootstrap{Resamples: 4000, Level: 0.95, Seed: 1}
	// The mean of 200 draws of 0…9: the interval should be about
	// mean ± 1.96·s/√n = 4.5 ± 1.96·2.87/14.1 = 4.5 ± 0.40.
	var x []float64
	var all []int
	for i := range 200 {
		x = append(x, float64(i%10))
		all = append(all, i)
	}
	mean := func(idx []int) float64 {
		s := 0.0
		for _, i := range idx {
			s += x[i]
		}
		return s / float64(len(idx))
	}
	lo, hi, valid := b.Interval([][]int{all}, mean)
	if valid != 4000 || math.Abs(lo-4.1) > 0.1 || math.Abs(hi-4.9) > 0.1 {
		t.Errorf("interval [%v, %v] from %d resamples, want about [4.1, 4.9] from 4000", lo, hi, valid)
	}
	// Deterministic.
	lo2, hi2, _ := b.Interval([][]int{all}, mean)
	if lo2 != lo || hi2 != hi {
		t.Errorf("second call [%v, %v], first [%v, %v]", lo2, hi2, lo, hi)
	}
	// Strata are resampled within themselves: a stratum of 0s and one of
	// 1s always give a mean of 1/2.
	x = []float64{0, 0, 0, 1, 1, 1}
	lo, hi, _ = b.Interval([][]int{{0, 1, 2}, {3, 4, 5}}, mean)
	if lo != 0.5 || hi != 0.5 {
		t.Errorf("stratified interval [%v, %v], want [0.5, 0.5]", lo, hi)
	}
	// One run per stratum: no spread at all.
	lo, hi, _ = b.Interval([][]int{{0}, {3}}, mean)
	if lo != hi {
		t.Errorf("one run per stratum: [%v, %v]", lo, hi)
	}
	// NaN statistics are left out.
	_, _, valid = b.Interval([][]int{{0, 1}}, func([]int) float64 { return math.NaN() })
	if valid != 0 {
		t.Errorf("%d valid resamples of a NaN statistic", valid)
	}
}

func TestBinomialUpper(t *testing.T) {
	for _, c := range []struct {
		k, n int
		want float64
	}{
		{0, 10, 1 - math.Pow(0.05, 0.1)}, // (1−p)^n = 0.05
		{0, 1000, 1 - math.Pow(0.05, 0.001)},
		{10, 10, 1},
		// P(X ≤ 3; n = 20, p) = 0.05 solved by bisection of the binomial sum.
		{3, 20, 0.3436638043},
	} {
		if got := BinomialUpper(c.k, c.n, 0.95); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("BinomialUpper(%d, %d) = %v, want %v", c.k, c.n, got, c.want)
		}
	}
	if !math.IsNaN(BinomialUpper(0, 0, 0.95)) {
		t.Error("no trials: want NaN")
	}
}
