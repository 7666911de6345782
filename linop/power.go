package linop

import (
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/floats"
)

// PowerOptions configures Power. The zero value is PyHessian's default,
// hessian.eigenvalues(maxIter=100, tol=1e-3, top_n=1).
type PowerOptions struct {
	// K is the number of eigenpairs (PyHessian's top_n); 0 means 1.
	// K > Dim panics.
	K int
	// MaxIter caps the iterations, hence matvecs, per eigenpair (maxIter);
	// 0 means 100.
	MaxIter int
	// Tol is the relative change of the eigenvalue estimate at which an
	// eigenpair is accepted (tol); 0 means 1e-3.
	Tol float64
	// Seed seeds the Gaussian start vectors.
	Seed uint64
	// Progress, if not nil, is called after every iteration and once more
	// with Final set.
	Progress func(Progress)
}

// Power computes K eigenpairs by power iteration with deflation, as
// PyHessian's hessian.eigenvalues does, and so finds the eigenvalues of
// largest magnitude |λ| (a dominant negative eigenvalue is returned as
// such), in the order found.
//
// For eigenpair j: v is a normalised Gaussian vector; each iteration
// orthogonalises v against the j eigenvectors already found and normalises
// it, computes Hv and the Rayleigh quotient ρ = ⟨v, Hv⟩, and stops when
// |ρ_prev − ρ| / (|ρ_prev| + 1e-6) < Tol; otherwise v ← Hv/‖Hv‖. This is
// PyHessian's iteration and stopping rule, with the same number of matvecs.
// The differences, all deliberate: the returned pair is (ρ, v) of the last
// iteration, so that the residual ‖Hv − ρv‖ is exact and costs nothing
// (PyHessian returns the previous ρ and Hv/‖Hv‖); normalisation divides by
// ‖v‖, not ‖v‖+1e-6; orthogonalisation takes two Gram–Schmidt passes; and if
// Hv = 0 the pair (0, v) is exact and accepted.
//
// The convergence of power iteration is linear with ratio |λ₂/λ₁|: the
// error of ρ at stop is about Tol·r²/(1−r²) relative, r = |λ₂/λ₁|, so it
// exceeds Tol when the two largest magnitudes are close, and the iteration
// stalls if λ₂ = −λ₁. Deflation against approximate eigenvectors adds their
// error to later pairs. Prefer Lanczos unless PyHessian's numbers are the
// point. An eigenpair that reaches MaxIter is returned unconverged with a
// *NotConvergedError.
func Power(op Operator, o PowerOptions) (Eigen, error) {
	start := time.Now()
	n := op.Dim()
	k, maxIter, tol := o.K, o.MaxIter, o.Tol
	if k == 0 {
		k = 1
	}
	if n < 1 || k < 0 || k > n {
		panic(fmt.Sprintf("linop: Power: K=%d outside [1, Dim=%d]", k, n))
	}
	if maxIter == 0 {
		maxIter = 100
	}
	if tol == 0 {
		tol = 1e-3
	}
	if maxIter < 0 || !(tol > 0) {
		panic(fmt.Sprintf("linop: Power: MaxIter=%d, Tol=%g", maxIter, tol))
	}
	rng := newRand(o.Seed)
	res := Eigen{Seed: o.Seed}
	nc := &NotConvergedError{Method: "Power", Tol: tol}
	var changes []float64
	v := make([]float64, n)
	hv := make([]float64, n)
	for range k {
		gaussianTo(v, rng)
		floats.Scale(1/floats.Norm(v, 2), v)
		var rho, change float64
		converged := false
		for it := range maxIter {
			orthogonalize(v, res.Vectors, nil, 0)
			nrm := floats.Norm(v, 2)
			if nrm < 1e-8 { // v lay in the span found: start afresh
				gaussianTo(v, rng)
				orthogonalize(v, res.Vectors, nil, 0)
				nrm = floats.Norm(v, 2)
			}
			floats.Scale(1/nrm, v)
			op.Apply(hv, v)
			res.MatVecs++
			res.Iterations++
			prev := rho
			rho = floats.Dot(hv, v)
			change = math.Inf(1)
			if it > 0 {
				change = math.Abs(prev-rho) / (math.Abs(prev) + 1e-6)
			}
			hnrm := floats.Norm(hv, 2)
			converged = change < tol || hnrm == 0
			if o.Progress != nil {
				o.Progress(Progress{Iter: it + 1, MatVecs: res.MatVecs,
					Values: append(slices.Clone(res.Values), rho), Residuals: append(slices.Clone(changes), finite(change))})
			}
			if converged || it == maxIter-1 {
				break
			}
			v, hv = hv, v
			floats.Scale(1/hnrm, v)
		}
		if hv0 := floats.Norm(hv, 2); hv0 == 0 {
			change = 0
		}
		floats.AddScaled(hv, -rho, v)
		y := slices.Clone(v)
		normalizeSign(y)
		res.Values = append(res.Values, rho)
		res.Vectors = append(res.Vectors, y)
		res.Residuals = append(res.Residuals, floats.Norm(hv, 2))
		res.Converged = append(res.Converged, converged)
		changes = append(changes, finite(change))
		if !converged {
			nc.Unconverged++
			nc.Residual = math.Max(nc.Residual, finite(change))
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if o.Progress != nil {
		o.Progress(Progress{Iter: res.Iterations, MatVecs: res.MatVecs, Values: slices.Clone(res.Values), Residuals: changes, Final: true})
	}
	if nc.Unconverged > 0 {
		nc.MatVecs = res.MatVecs
		return res, nc
	}
	return res, nil
}

// finite maps ±Inf (no previous estimate yet) to MaxFloat64 for reporting.
func finite(x float64) float64 {
	if math.IsInf(x, 1) {
		return math.MaxFloat64
	}
	return x
}
