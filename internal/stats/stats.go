// Package stats holds the few statistics behind the study's verdicts: rank
// correlation, a seeded stratified percentile bootstrap, and the exact
// binomial bound of a rate. Everything is deterministic: the same data and
// seed give the same bits.
package stats

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Mean is the arithmetic mean of v (NaN if v is empty).
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Spearman is the rank correlation of x and y: Pearson's correlation of
// their ranks, tied values sharing their average rank. It is NaN when
// either set is constant (or has fewer than two values).
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) {
		panic("stats: Spearman of sets of different sizes")
	}
	rx, ry := Ranks(x), Ranks(y)
	mx, my := Mean(rx), Mean(ry)
	var sxy, sxx, syy float64
	for i := range rx {
		sxy += (rx[i] - mx) * (ry[i] - my)
		sxx += (rx[i] - mx) * (rx[i] - mx)
		syy += (ry[i] - my) * (ry[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Ranks are the ranks 1…n of v, ties sharing their average rank.
func Ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// Quantile is the q-quantile of the sorted values s, interpolating
// linearly between order statistics (R's type 7, NumPy's default).
func Quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Bootstrap configures a percentile bootstrap.
type Bootstrap struct {
	// Resamples is the number of resamples; Level the coverage of the
	// interval (0.95 for a 95 % interval); Seed seeds the resampling.
	Resamples int
	Level     float64
	Seed      uint64
}

// Interval is the percentile bootstrap interval of stat. The data are
// split into strata (lists of indices into the caller's data); every
// resample draws, independently within each stratum, as many indices as the
// stratum has, with replacement, and passes them to stat, stratum after
// stratum, in the order given. Resamples where stat is NaN or infinite are
// left out; valid is the number that remained. A stratum may be reused
// between calls: the same strata, stat and seed give the same interval.
func (b Bootstrap) Interval(strata [][]int, stat func(idx []int) float64) (lo, hi float64, valid int) {
	rng := rand.New(rand.NewPCG(b.Seed, 0x0b007))
	n := 0
	for _, s := range strata {
		n += len(s)
	}
	idx := make([]int, n)
	vals := make([]float64, 0, b.Resamples)
	for range b.Resamples {
		k := 0
		for _, s := range strata {
			for range s {
				idx[k] = s[rng.IntN(len(s))]
				k++
			}
		}
		if v := stat(idx); !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return math.NaN(), math.NaN(), 0
	}
	slices.Sort(vals)
	a := (1 - b.Level) / 2
	return Quantile(vals, a), Quantile(vals, 1-a), len(vals)
}

// BinomialUpper is the exact (Clopper–Pearson) one-sided upper confidence
// bound, at the given level, of a rate observed as k events in n trials: the
// rate p at which k or fewer events have probability 1 − level. It is 1 when
// k = n and NaN when n < 1.
func BinomialUpper(k, n int, level float64) float64 {
	if n < 1 || k < 0 || k > n {
		return math.NaN()
	}
	if k == n {
		return 1
	}
	return distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(level)
}
