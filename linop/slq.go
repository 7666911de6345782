package linop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// SLQOptions configures SLQ. The zero value is PyHessian's default,
// hessian.density(iter=100, n_v=1).
type SLQOptions struct {
	// Probes is the number of probe vectors (n_v); 0 means 1.
	Probes int
	// Steps is the number of Lanczos steps, hence matvecs, per probe (iter);
	// 0 means 100. It is capped at Dim.
	Steps int
	// Gaussian draws Gaussian probes instead of Rademacher ones.
	Gaussian bool
	// Seed seeds the probes.
	Seed uint64
	// Progress, if not nil, is called after every probe and once more with
	// Final set.
	Progress func(Progress)
	// Context, if not nil, is checked before every matvec: once it is done,
	// SLQ returns its error (wrapped) without a result.
	Context context.Context
}

// Spectrum is a stochastic Lanczos quadrature of the spectral density of an
// n×n operator H: for each probe p, nodes θ (Ritz values) and weights w
// (squared first components of the eigenvectors of the Lanczos matrix T),
// such that Σ wᵢ f(θᵢ) ≈ vᵀf(H)v for the unit probe v, exactly for
// polynomials f of degree < 2·len(nodes). Averaged over probes, it
// estimates (1/n)·Σⱼ f(λⱼ) = (1/n)·tr f(H).
type Spectrum struct {
	// Dim is n.
	Dim int `json:"dim"`
	// Nodes[p] are the Ritz values of probe p, ascending.
	Nodes [][]float64 `json:"nodes"`
	// Weights[p] are the matching weights; they sum to 1 (to rounding).
	Weights [][]float64 `json:"weights"`
	// MatVecs is the number of operator applications.
	MatVecs int `json:"matvecs"`
	// Seed is the seed that was used.
	Seed uint64 `json:"seed"`
	// Seconds is the wall time of the call.
	Seconds float64 `json:"seconds"`
}

// SLQ runs stochastic Lanczos quadrature (Ubaru, Chen, Saad, "Fast
// estimation of tr(f(A)) via stochastic Lanczos quadrature", SIMAX 2017), as
// PyHessian's hessian.density does: for each probe, a Rademacher (or
// Gaussian) vector normalised to unit length starts Steps Lanczos steps with
// full reorthogonalisation, and the eigendecomposition T = S·diag(θ)·Sᵀ gives
// nodes θ and weights S[0][i]². Where PyHessian continues a broken-down
// recurrence from a random vector (adding zero-weight nodes), SLQ stops that
// probe early: the Krylov space is invariant and the quadrature already
// exact. Memory: Dim × Steps float64s. The errors are the context's and a
// product that is not finite (NaN or ±Inf), which no quadrature can use.
func SLQ(op Operator, o SLQOptions) (Spectrum, error) {
	start := time.Now()
	n := op.Dim()
	probes, steps := o.Probes, o.Steps
	if probes == 0 {
		probes = 1
	}
	if steps == 0 {
		steps = 100
	}
	if n < 1 || probes < 0 || steps < 0 {
		panic(fmt.Sprintf("linop: SLQ: Dim=%d, Probes=%d, Steps=%d", n, probes, steps))
	}
	steps = min(steps, n)
	rng := newRand(o.Seed)
	sp := Spectrum{Dim: n, Seed: o.Seed}
	var normEst float64
	for p := range probes {
		v := make([]float64, n)
		if o.Gaussian {
			gaussianTo(v, rng)
		} else {
			rademacherTo(v, rng)
		}
		floats.Scale(1/floats.Norm(v, 2), v)
		basis := [][]float64{v}
		var alpha, beta []float64
		for j := range steps {
			if err := cancelled(o.Context, "SLQ"); err != nil {
				return Spectrum{Dim: n, MatVecs: sp.MatVecs, Seed: o.Seed, Seconds: time.Since(start).Seconds()}, err
			}
			w := make([]float64, n)
			op.Apply(w, basis[j])
			sp.MatVecs++
			normEst = math.Max(normEst, floats.Norm(w, 2))
			coef := make([]float64, len(basis))
			orthogonalize(w, basis, coef, 2)
			alpha = append(alpha, coef[j])
			if j == steps-1 {
				break
			}
			b := floats.Norm(w, 2)
			if b <= breakdownTol*normEst {
				break
			}
			floats.Scale(1/b, w)
			beta = append(beta, b)
			basis = append(basis, w)
		}
		nodes, weights, err := gaussQuadrature(alpha, beta)
		if err != nil {
			return Spectrum{Dim: n, MatVecs: sp.MatVecs, Seed: o.Seed, Seconds: time.Since(start).Seconds()}, err
		}
		sp.Nodes = append(sp.Nodes, nodes)
		sp.Weights = append(sp.Weights, weights)
		if o.Progress != nil {
			o.Progress(Progress{Iter: p + 1, MatVecs: sp.MatVecs, MaxMatVecs: probes * steps, Values: slices.Clone(nodes)})
		}
	}
	sp.Seconds = time.Since(start).Seconds()
	if o.Progress != nil {
		o.Progress(Progress{Iter: probes, MatVecs: sp.MatVecs, MaxMatVecs: probes * steps, Final: true})
	}
	return sp, nil
}

// gaussQuadrature returns the eigenvalues of the symmetric tridiagonal matrix
// with diagonal alpha and off-diagonal beta, ascending, and the squared first
// components of its unit eigenvectors. A matrix with a NaN or infinite
// entry (the operator's products were not finite) is an error.
func gaussQuadrature(alpha, beta []float64) (nodes, weights []float64, err error) {
	for _, v := range append(slices.Clone(alpha), beta...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("linop: SLQ: the operator's products are not finite (a Lanczos coefficient is %v): is the loss finite?", v)
		}
	}
	m := len(alpha)
	t := mat.NewSymDense(m, nil)
	for i, a := range alpha {
		t.SetSym(i, i, a)
		if i+1 < m {
			t.SetSym(i, i+1, beta[i])
		}
	}
	var es mat.EigenSym
	if !es.Factorize(t, true) {
		return nil, nil, errors.New("linop: SLQ: eigendecomposition of the Lanczos matrix failed")
	}
	nodes = es.Values(nil)
	vecs := mat.NewDense(m, m, nil)
	es.VectorsTo(vecs)
	weights = make([]float64, m)
	for i := range weights {
		weights[i] = vecs.At(0, i) * vecs.At(0, i)
	}
	return nodes, weights, nil
}

// Moment returns the estimate of tr(Hᵖ)/n, the mean over probes of
// Σᵢ wᵢθᵢᵖ, and its standard error over probes (0 with one probe). It is
// exact per probe for p < 2·len(nodes).
func (s *Spectrum) Moment(p int) (mean, stderr float64) {
	per := make([]float64, len(s.Nodes))
	for k, nodes := range s.Nodes {
		for i, x := range nodes {
			per[k] += s.Weights[k][i] * math.Pow(x, float64(p))
		}
	}
	return meanStdErr(per)
}

// DensityTo writes to dst the Gaussian-broadened density at the points x,
//
//	ρ(x) = (1/P) Σₚ Σᵢ wₚᵢ · exp(−(x−θₚᵢ)²/(2σ²)) / √(2πσ²),  σ² = variance,
//
// which integrates to 1 over ℝ. It panics if len(dst) != len(x) or
// variance ≤ 0.
func (s *Spectrum) DensityTo(dst, x []float64, variance float64) {
	if len(dst) != len(x) || !(variance > 0) {
		panic(fmt.Sprintf("linop: Spectrum.DensityTo: len(dst)=%d, len(x)=%d, variance=%g", len(dst), len(x), variance))
	}
	clear(dst)
	if len(s.Nodes) == 0 {
		return
	}
	c := 1 / math.Sqrt(2*math.Pi*variance) / float64(len(s.Nodes))
	cut := 1500 * variance // exp(−750) is 0 in float64: skipping is exact
	for k, nodes := range s.Nodes {
		for i, th := range nodes {
			w := c * s.Weights[k][i]
			for j, xj := range x {
				if d := xj - th; d*d < cut {
					dst[j] += w * math.Exp(-d*d/(2*variance))
				}
			}
		}
	}
}

// DensityOptions configures Spectrum.Density. Zero fields take PyHessian's
// defaults (density_plot.py, density_generate).
type DensityOptions struct {
	// Bins is the number of grid points; 0 means 10000; fewer than 2 panics.
	Bins int
	// SigmaSquared sets the Gaussian variance σ² = SigmaSquared·max(1, hi−lo)
	// (PyHessian's sigma_squared, scaled by the grid range as there); 0
	// means 1e-5.
	SigmaSquared float64
	// Overhead widens the grid beyond the nodes at both ends; 0 means 0.01,
	// negative means none.
	Overhead float64
}

// Density evaluates the broadened density as PyHessian's density_generate
// does: on the grid of Bins equally spaced points from lo = mean over probes
// of the smallest node − Overhead to hi = mean of the largest node +
// Overhead, with variance SigmaSquared·max(1, hi−lo), scaled so that the
// Riemann sum Σ density·(grid[1]−grid[0]) is 1. It returns the grid and the
// density. Note that a Gaussian narrower than the grid spacing is
// undersampled; set Bins or SigmaSquared accordingly.
func (s *Spectrum) Density(o DensityOptions) (grid, density []float64) {
	bins, sig2, over := o.Bins, o.SigmaSquared, o.Overhead
	if bins == 0 {
		bins = 10000
	}
	if sig2 == 0 {
		sig2 = 1e-5
	}
	switch {
	case over == 0:
		over = 0.01
	case over < 0:
		over = 0
	}
	if bins < 2 || !(sig2 > 0) || len(s.Nodes) == 0 {
		panic(fmt.Sprintf("linop: Spectrum.Density: Bins=%d, SigmaSquared=%g, %d probes", bins, sig2, len(s.Nodes)))
	}
	var lo, hi float64
	for _, nodes := range s.Nodes {
		lo += nodes[0]
		hi += nodes[len(nodes)-1]
	}
	lo = lo/float64(len(s.Nodes)) - over
	hi = hi/float64(len(s.Nodes)) + over
	if hi == lo { // one node, no overhead
		lo, hi = lo-0.5, hi+0.5
	}
	grid = floats.Span(make([]float64, bins), lo, hi)
	density = make([]float64, bins)
	s.DensityTo(density, grid, sig2*math.Max(1, hi-lo))
	if z := floats.Sum(density) * (grid[1] - grid[0]); z > 0 {
		floats.Scale(1/z, density)
	}
	return grid, density
}
