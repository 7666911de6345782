package linop

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// PowerOptions configures Power. The zero value asks for one eigenpair with
// at most 100 iterations (PyHessian's hessian.eigenvalues(maxIter=100,
// top_n=1)) and a relative residual of 1e-3.
type PowerOptions struct {
	// K is the number of eigenpairs (PyHessian's top_n); 0 means 1.
	// K > Dim panics.
	K int
	// MaxIter caps the iterations, hence matvecs, per eigenpair (maxIter),
	// the search for the shift included; 0 means 100.
	MaxIter int
	// Tol is the relative residual at which an eigenpair is accepted, as
	// for Lanczos: ‖Hv−λv‖ ≤ ResidualBound(λ, ‖H‖est, Tol), ‖H‖est the
	// largest ‖Hv‖ seen. 0 means 1e-3; it must be below 1.
	Tol float64
	// ChangeTol, if positive, adds PyHessian's stopping rule (tol=1e-3):
	// an iteration also stops once |ρ_prev − ρ| / (|ρ_prev| + 1e-6) <
	// ChangeTol, ρ the Rayleigh quotient. Converged still reports the
	// residual rule, so a pair stopped by this rule alone is returned
	// unconverged.
	ChangeTol float64
	// Seed seeds the Gaussian start vectors.
	Seed uint64
	// Progress, if not nil, is called after every iteration and once more
	// with Final set.
	Progress func(Progress)
	// Context, if not nil, is checked before every matvec: once it is done,
	// Power returns its error (wrapped) without a result.
	Context context.Context
}

// Power computes K eigenpairs at one end of the spectrum of op (which) by
// power iteration with deflation, as PyHessian's hessian.eigenvalues does
// for LargestMagnitude.
//
// For eigenpair j: v is a normalised Gaussian vector; each iteration
// orthogonalises v against the j eigenvectors already found (two
// Gram–Schmidt passes) and normalises it, computes Hv, the Rayleigh
// quotient λ = ⟨v, Hv⟩ and the residual ‖Hv − λv‖, stops once the residual
// (projected off the pairs found) meets its bound (see [Eigen]) and
// otherwise continues from the image of v under σH + sI. The returned pair is (λ, v) of the last iteration, so its
// residual is exact and costs nothing.
//
// LargestMagnitude iterates on H itself (σ = 1, s = 0), finding the
// eigenvalues of largest |λ|. Largest and Smallest first
// find the dominant eigenpair μ that way; if it lies at the wanted end it
// is the first result. The others come from σH + sI with σ = +1 (Largest)
// or −1 (Smallest) and the shift s = |μ| + ‖Hv−μv‖, an upper bound on
// ‖H‖ once μ has converged: all eigenvalues of σH + sI are then ≥ 0 and
// the largest belongs to the wanted end of H. If μ did not converge, the
// shift is not trusted and every pair is reported unconverged. After each
// pair from the second on, the pairs found are replaced by the Ritz pairs
// of their span (Rayleigh–Ritz with the images kept, no extra matvecs), so
// that later pairs do not inherit the error of the vectors deflated; the
// result is in the order of which.
//
// Power iteration converges linearly, the residual with ratio
// (second largest / largest eigenvalue of the operator iterated on): for
// LargestMagnitude |λ₂/λ₁|, for Smallest (s − λ₂)/(s − λmin), which is
// close to 1 when λmin is small next to ‖H‖ — the usual case for a Hessian,
// where the smallest eigenvalues then need thousands of iterations and the
// honest result of a short run is "not converged". Prefer Lanczos
// unless PyHessian's numbers are the point. A pair that does not meet its
// bound is returned unconverged, with a *NotConvergedError quoting the
// residual of the worst pair; another error is returned only if the
// context is done.
func Power(op Operator, which Which, o PowerOptions) (Eigen, error) {
	start := time.Now()
	n := op.Dim()
	k, maxIter, tol := o.K, o.MaxIter, o.Tol
	if k == 0 {
		k = 1
	}
	if n < 1 || k < 0 || k > n {
		panic(fmt.Sprintf("linop: Power: K=%d outside [1, Dim=%d]", k, n))
	}
	if which < Largest || which > LargestMagnitude {
		panic(fmt.Sprintf("linop: Power: unknown %v", which))
	}
	if maxIter == 0 {
		maxIter = 100
	}
	if tol == 0 {
		tol = 1e-3
	}
	if maxIter < 0 || o.ChangeTol < 0 {
		panic(fmt.Sprintf("linop: Power: MaxIter=%d, ChangeTol=%g", maxIter, o.ChangeTol))
	}
	checkTol("Power", tol)
	p := &power{op: op, o: o, n: n, k: k, maxIter: maxIter, tol: tol, rng: newRand(o.Seed),
		res: Eigen{Seed: o.Seed}, sigma: 1, trusted: true, which: which, maxMatVecs: k * maxIter}
	stopped := func(err error) (Eigen, error) {
		return Eigen{Iterations: p.res.Iterations, MatVecs: p.res.MatVecs, Seed: o.Seed, Seconds: time.Since(start).Seconds()}, err
	}
	if which != LargestMagnitude {
		p.maxMatVecs += maxIter
		mu, err := p.pair()
		if err != nil {
			return stopped(err)
		}
		if (which == Largest) == (mu.value >= 0) {
			p.accept(mu)
		}
		p.shift, p.trusted = math.Abs(mu.value)+mu.residual, mu.converged
		if which == Smallest {
			p.sigma = -1
		}
	}
	for len(p.res.Values) < k {
		pr, err := p.pair()
		if err != nil {
			return stopped(err)
		}
		p.accept(pr)
	}
	err := p.res.judge("Power", tol)
	p.res.Seconds = time.Since(start).Seconds()
	if o.Progress != nil {
		o.Progress(Progress{Iter: p.res.Iterations, MatVecs: p.res.MatVecs, MaxMatVecs: p.maxMatVecs, Values: slices.Clone(p.res.Values),
			Residuals: slices.Clone(p.res.Residuals), Bounds: slices.Clone(p.res.Bounds), Tol: tol, Final: true})
	}
	return p.res, err
}

// power is the state of a Power call.
type power struct {
	op         Operator
	o          PowerOptions
	n, k       int
	maxIter    int
	maxMatVecs int
	tol        float64
	rng        *rand.Rand
	res        Eigen
	normEst    float64 // max ‖Hv‖ seen: a lower bound on ‖H‖
	sigma      float64 // iterate on sigma·H + shift·I
	shift      float64
	trusted    bool // the shift comes from a converged dominant pair
	which      Which
	images     [][]float64 // H·res.Vectors[i]
}

// powerPair is one eigenpair of H found by power iteration, with the image
// H·vector.
type powerPair struct {
	value, residual, bound float64
	vector, image          []float64
	converged              bool
}

// pair runs power iteration on σH + sI, orthogonal to the pairs accepted so
// far, and returns the pair of H it ends on.
func (p *power) pair() (powerPair, error) {
	v := make([]float64, p.n)
	hv := make([]float64, p.n)
	r := make([]float64, p.n)
	p.gaussian(v)
	var pr powerPair
	var rho float64
	for it := range p.maxIter {
		if nrm := floats.Norm(v, 2); nrm < 1e-8 { // v lay in the span found: start afresh
			p.gaussian(v)
		} else {
			floats.Scale(1/nrm, v)
		}
		if err := cancelled(p.o.Context, "Power"); err != nil {
			return powerPair{}, err
		}
		p.op.Apply(hv, v)
		p.res.MatVecs++
		p.res.Iterations++
		p.normEst = math.Max(p.normEst, floats.Norm(hv, 2))
		prev := rho
		rho = floats.Dot(hv, v)
		floats.SubTo(r, hv, floats.ScaleTo(r, rho, v))
		pr = powerPair{value: rho, residual: floats.Norm(r, 2), bound: ResidualBound(rho, p.normEst, p.tol), vector: v}
		// Stop on the residual of the deflated operator: the part along
		// the pairs found is what the Rayleigh–Ritz step of accept removes.
		orthogonalize(r, p.res.Vectors, nil, 0)
		deflated := floats.Norm(r, 2)
		pr.converged = pr.residual <= pr.bound
		stop := deflated <= pr.bound
		if it > 0 && p.o.ChangeTol > 0 && math.Abs(prev-rho)/(math.Abs(prev)+1e-6) < p.o.ChangeTol {
			stop = true
		}
		if p.o.Progress != nil {
			p.o.Progress(Progress{Iter: it + 1, MatVecs: p.res.MatVecs, MaxMatVecs: p.maxMatVecs, Tol: p.tol,
				Values:    append(slices.Clone(p.res.Values), rho),
				Residuals: append(slices.Clone(p.res.Residuals), deflated),
				Bounds:    append(slices.Clone(p.res.Bounds), pr.bound)})
		}
		if stop || it == p.maxIter-1 {
			break
		}
		// v ← σHv + sv, orthogonalised against the pairs found.
		floats.AddScaledTo(v, floats.ScaleTo(r, p.sigma, hv), p.shift, v)
		orthogonalize(v, p.res.Vectors, nil, 0)
	}
	pr.vector, pr.image = slices.Clone(v), slices.Clone(hv)
	if normalizeSign(pr.vector) {
		floats.Scale(-1, pr.image)
	}
	return pr, nil
}

// gaussian sets v to a unit Gaussian vector orthogonal to the pairs found.
func (p *power) gaussian(v []float64) {
	gaussianTo(v, p.rng)
	orthogonalize(v, p.res.Vectors, nil, 0)
	floats.Scale(1/floats.Norm(v, 2), v)
}

// accept adds a pair to the result and, from the second pair on, replaces
// the pairs by the Rayleigh–Ritz pairs of their span (from the images
// kept, without matvecs): deflation against an approximate eigenvector
// leaves the next pair a residual of about λ₁·(error of v₁), which the
// rotation removes. If the shift is not trusted, every bound is 0, so that
// no pair is reported converged.
func (p *power) accept(pr powerPair) {
	p.res.Values = append(p.res.Values, pr.value)
	p.res.Vectors = append(p.res.Vectors, pr.vector)
	p.res.Residuals = append(p.res.Residuals, pr.residual)
	p.res.Bounds = append(p.res.Bounds, pr.bound)
	p.images = append(p.images, pr.image)
	if j := len(p.images); j > 1 {
		p.rayleighRitz()
	}
	if !p.trusted {
		clear(p.res.Bounds)
	}
}

// rayleighRitz rotates the accepted pairs to the Ritz pairs of their span,
// in the order of which.
func (p *power) rayleighRitz() {
	vs, ws := p.res.Vectors, p.images
	j := len(vs)
	t := mat.NewSymDense(j, nil)
	for a := range j {
		for b := a; b < j; b++ {
			t.SetSym(a, b, (floats.Dot(vs[a], ws[b])+floats.Dot(vs[b], ws[a]))/2)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(t, true) {
		return // keep the pairs as found; their residuals are still exact
	}
	vals := es.Values(nil)
	var s mat.Dense
	es.VectorsTo(&s)
	res := &p.res
	res.Values, res.Vectors, res.Residuals, res.Bounds, p.images = nil, nil, nil, nil, nil
	r := make([]float64, p.n)
	for _, c := range wantedIdx(vals, j, p.which) {
		v, w := make([]float64, p.n), make([]float64, p.n)
		for a := range j {
			floats.AddScaled(v, s.At(a, c), vs[a])
			floats.AddScaled(w, s.At(a, c), ws[a])
		}
		if normalizeSign(v) {
			floats.Scale(-1, w)
		}
		floats.SubTo(r, w, floats.ScaleTo(r, vals[c], v))
		res.Values = append(res.Values, vals[c])
		res.Vectors = append(res.Vectors, v)
		res.Residuals = append(res.Residuals, floats.Norm(r, 2))
		res.Bounds = append(res.Bounds, ResidualBound(vals[c], p.normEst, p.tol))
		p.images = append(p.images, w)
	}
}
