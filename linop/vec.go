package linop

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// pcgStream is the second PCG word; the first is the user's seed.
const pcgStream = 0x6c696e6f70 // "linop"

// breakdownTol: a new Lanczos direction whose norm after orthogonalisation
// is at most breakdownTol·‖H‖est spans (numerically) nothing new.
const breakdownTol = 1e-12

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, pcgStream))
}

// rademacherTo fills dst with independent ±1, one bit of r.Uint64 each.
func rademacherTo(dst []float64, r *rand.Rand) {
	var bits uint64
	for i := range dst {
		if i%64 == 0 {
			bits = r.Uint64()
		}
		if bits&1 == 1 {
			dst[i] = 1
		} else {
			dst[i] = -1
		}
		bits >>= 1
	}
}

// gaussianTo fills dst with independent standard normal numbers.
func gaussianTo(dst []float64, r *rand.Rand) {
	for i := range dst {
		dst[i] = r.NormFloat64()
	}
}

// orthogonalize removes from w its components along the orthonormal vectors
// of basis by classical Gram–Schmidt with reorthogonalisation: the last
// `local` vectors of basis first get a pass of their own (in Lanczos, the
// three-term recurrence), then passes over the whole basis are repeated,
// at most twice, while a pass shrinks ‖w‖ by more than a factor 1/√2
// (Daniel–Gragg–Kaufman–Stewart; "twice is enough"). After the local pass
// the full pass usually removes rounding errors only, and one suffices. If
// coef is non-nil (length len(basis)) it receives the total coefficients
// ⟨basis[i], w⟩ removed.
func orthogonalize(w []float64, basis [][]float64, coef []float64, local int) {
	if coef != nil {
		clear(coef)
	}
	if len(basis) == 0 {
		return
	}
	c := make([]float64, len(basis))
	pass := func(first int) {
		for i, q := range basis[first:] {
			c[i] = floats.Dot(q, w)
		}
		for i, q := range basis[first:] {
			floats.AddScaled(w, -c[i], q)
			if coef != nil {
				coef[first+i] += c[i]
			}
		}
	}
	if local = min(local, len(basis)); local > 0 {
		pass(len(basis) - local)
	}
	for range 2 {
		before := floats.Dot(w, w)
		pass(0)
		if floats.Dot(w, w) >= before/2 {
			break
		}
	}
}

// randomOrthonormal returns a unit Gaussian vector orthogonal to basis, or
// nil if basis spans ℝⁿ (numerically).
func randomOrthonormal(n int, basis [][]float64, r *rand.Rand) []float64 {
	if len(basis) >= n {
		return nil
	}
	g := make([]float64, n)
	for range 4 {
		gaussianTo(g, r)
		g0 := floats.Norm(g, 2)
		orthogonalize(g, basis, nil, 0)
		if nrm := floats.Norm(g, 2); nrm > 1e-8*g0 {
			floats.Scale(1/nrm, g)
			return g
		}
	}
	return nil
}

// normalizeSign flips v so that its entry of largest magnitude is positive.
func normalizeSign(v []float64) (flipped bool) {
	if len(v) > 0 && v[floats.MaxIdx(absIdx(v))] < 0 {
		floats.Scale(-1, v)
		return true
	}
	return false
}

func absIdx(v []float64) []float64 {
	a := make([]float64, len(v))
	for i, x := range v {
		a[i] = math.Abs(x)
	}
	return a
}

// meanStdErr returns the mean of xs and its standard error (sample standard
// deviation over √len, 0 for fewer than two samples).
func meanStdErr(xs []float64) (mean, stderr float64) {
	m := len(xs)
	if m == 0 {
		return 0, 0
	}
	mean = floats.Sum(xs) / float64(m)
	if m < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(m-1) / float64(m))
}
