package linop

import (
	"context"
	"fmt"
	"math"
)

// Which selects the end of the spectrum an eigensolver looks for.
type Which int

const (
	// Largest asks for the largest (algebraic) eigenvalues, returned in
	// descending order.
	Largest Which = iota
	// Smallest asks for the smallest (most negative) eigenvalues, returned
	// in ascending order.
	Smallest
	// LargestMagnitude asks for the eigenvalues of largest |λ|, returned in
	// descending order of |λ| (ties: the negative one first). Plain power
	// iteration finds these.
	LargestMagnitude
)

// String returns "largest", "smallest" or "largest-magnitude".
func (w Which) String() string {
	switch w {
	case Largest:
		return "largest"
	case Smallest:
		return "smallest"
	case LargestMagnitude:
		return "largest-magnitude"
	}
	return fmt.Sprintf("Which(%d)", int(w))
}

// ScaleFloor is the fraction of ‖H‖ below which an eigenvalue counts as zero
// at the scale of the operator in the convergence rule of the eigensolvers
// (see [Eigen]).
const ScaleFloor = 1e-3

// ResidualBound is the residual that an eigenpair (λ, v) of an operator of
// norm about normH must meet to be reported converged with relative
// tolerance tol:
//
//	‖Hv − λv‖ ≤ tol · max(|λ|, ScaleFloor·normH).
//
// Since some eigenvalue of H lies within ‖Hv − λv‖ of λ (for a unit v), a
// converged λ is accurate to tol relative when |λ| ≥ ScaleFloor·normH, and
// to tol·ScaleFloor·normH absolute below that: such an eigenvalue is zero
// at the resolution asked for, and its sign means something only if |λ|
// exceeds its residual. Lanczos and Power apply this one rule; with
// tol < 1 a converged residual never exceeds max(|λ|, ScaleFloor·normH).
func ResidualBound(lambda, normH, tol float64) float64 {
	return tol * math.Max(math.Abs(lambda), ScaleFloor*normH)
}

// Eigen holds approximate eigenpairs (λᵢ, vᵢ) of an operator H.
//
// Every solver reports one residual per pair, ‖Hvᵢ − λᵢvᵢ‖, the same number
// in Residuals, in Progress and in a *NotConvergedError, and judges
// Converged on it: Converged[i] is Residuals[i] ≤ Bounds[i], where
// Bounds[i] is [ResidualBound] of λᵢ with the solver's estimate of ‖H‖.
type Eigen struct {
	// Values are the eigenvalue estimates, ordered as the Which that was asked.
	Values []float64 `json:"values"`
	// Vectors are unit eigenvector estimates, Vectors[i] for Values[i], each
	// signed so that its entry of largest magnitude is positive. They are not
	// written to JSON: store them separately if needed.
	Vectors [][]float64 `json:"-"`
	// Residuals are ‖H·vᵢ − λᵢ·vᵢ‖ (absolute); each solver documents how
	// they are obtained.
	Residuals []float64 `json:"residuals"`
	// Bounds are the residuals the pairs had to meet: ResidualBound(λᵢ,
	// ‖H‖est, Tol).
	Bounds []float64 `json:"bounds"`
	// Converged reports, per pair, whether Residuals[i] ≤ Bounds[i].
	Converged []bool `json:"converged"`
	// Iterations is the Krylov dimension (Lanczos) or the total number of
	// power iterations.
	Iterations int `json:"iterations"`
	// MatVecs is the number of operator applications, all included.
	MatVecs int `json:"matvecs"`
	// Seed is the seed that was used.
	Seed uint64 `json:"seed"`
	// Seconds is the wall time of the call.
	Seconds float64 `json:"seconds"`
}

// NotConvergedError is returned, together with the best estimate, by a solver
// that reached its iteration or matvec budget without meeting its tolerance.
type NotConvergedError struct {
	// Method names the solver: "Lanczos", "Power", "Hutchinson", "Hutch++".
	Method string
	// Index is the position, in the result, of the unconverged quantity
	// furthest from its bound (the largest Residual/Bound); 0 for a trace.
	Index int
	// Value is that quantity: the eigenvalue or the trace estimate.
	Value float64
	// Residual is its convergence measure, the very number the result
	// carries: the residual ‖Hv−λv‖ (eigensolvers, Eigen.Residuals[Index]),
	// the relative standard error or the relative change of the mean (trace
	// estimators).
	Residual float64
	// Bound is what Residual had to meet: Eigen.Bounds[Index] (eigensolvers)
	// or the tolerance of the trace rule.
	Bound float64
	// Tol is the relative tolerance that was asked.
	Tol float64
	// Unconverged is how many eigenpairs did not converge (1 for a trace).
	Unconverged int
	// MatVecs is the number of operator applications spent.
	MatVecs int
}

func (e *NotConvergedError) Error() string {
	switch e.Method {
	case "Hutchinson", "Hutch++":
		return fmt.Sprintf("linop: %s did not converge after %d matvecs: estimate %.6g, measure %.3g > tol %.3g",
			e.Method, e.MatVecs, e.Value, e.Residual, e.Bound)
	}
	if e.Bound == 0 {
		return fmt.Sprintf("linop: %s did not converge after %d matvecs: %d unconverged, λ%d = %.6g with residual %.3g was found with the shift of an unconverged dominant eigenpair",
			e.Method, e.MatVecs, e.Unconverged, e.Index+1, e.Value, e.Residual)
	}
	return fmt.Sprintf("linop: %s did not converge after %d matvecs: %d unconverged, worst λ%d = %.6g with residual %.3g > %.3g (tol %.3g)",
		e.Method, e.MatVecs, e.Unconverged, e.Index+1, e.Value, e.Residual, e.Bound, e.Tol)
}

// judge sets e.Converged from Residuals and Bounds and returns a
// *NotConvergedError naming the worst pair, or nil.
func (e *Eigen) judge(method string, tol float64) error {
	e.Converged = make([]bool, len(e.Values))
	nc := &NotConvergedError{Method: method, Tol: tol, MatVecs: e.MatVecs}
	worst := -1.0
	for i, r := range e.Residuals {
		if r <= e.Bounds[i] {
			e.Converged[i] = true
			continue
		}
		nc.Unconverged++
		if q := r / e.Bounds[i]; q > worst { // Bounds[i] = 0 gives +Inf
			worst = q
			nc.Index, nc.Value, nc.Residual, nc.Bound = i, e.Values[i], r, e.Bounds[i]
		}
	}
	if nc.Unconverged > 0 {
		return nc
	}
	return nil
}

// Progress is what a solver passes to its Progress callback: after each
// block of matvecs (Lanczos), iteration (Power) or probe (trace, SLQ), and
// once more at the end with Final set. It says what is known — the work done,
// the current estimates and how far they are from their tolerance — not a
// forecast: a solver may stop long before MaxMatVecs. The slices are the
// callback's to keep.
type Progress struct {
	// Iter is the Krylov dimension (Lanczos), the iteration of the current
	// eigenvalue (Power), or the number of probes so far (trace, SLQ).
	Iter int
	// MatVecs counts the operator applications so far.
	MatVecs int
	// MaxMatVecs is the most applications the call can make (its budget,
	// a cap and not an estimate of the work left).
	MaxMatVecs int
	// Values are the current estimates: the wanted Ritz values (Lanczos,
	// after a convergence check; nil between checks);
	// the eigenvalues found so far and the current one (Power); the trace
	// estimate (trace); the Ritz values of the last probe (SLQ).
	Values []float64
	// Residuals are the matching convergence measures in the units of the
	// result: residuals ‖Hv−λv‖ (Lanczos: the estimates ‖C·s‖ until the
	// final call; Power: exact), the standard error (trace); nil for SLQ.
	Residuals []float64
	// Bounds are what each residual must meet (eigensolvers: ResidualBound;
	// trace with RelStdErr: RelStdErr·|estimate|); nil where no rule
	// applies. A value has converged when its residual is at most its bound.
	Bounds []float64
	// Tol is the relative tolerance asked (0 where none).
	Tol float64
	// Final is set on the last call.
	Final bool
}

// Status summarises p for a progress display: the first estimate in
// format and how far the values are from converging — the residual
// furthest from its bound against that bound ("λ 12.34, residual 3.1e-04 >
// 1.2e-05"), or a trace's standard error ("λ 12.34 ± 0.5") — or "" when
// the solver has no estimate yet.
func (p Progress) Status(format string) string {
	if len(p.Values) == 0 {
		return ""
	}
	s := fmt.Sprintf(format, p.Values[0])
	switch {
	case len(p.Residuals) > 0 && len(p.Bounds) == len(p.Residuals):
		w := 0
		for i, r := range p.Residuals {
			if r*p.Bounds[w] > p.Residuals[w]*p.Bounds[i] { // r/b > r_w/b_w without dividing by 0
				w = i
			}
		}
		cmp := "≤"
		if p.Residuals[w] > p.Bounds[w] {
			cmp = ">"
		}
		s += fmt.Sprintf(", residual %.2g %s %.2g", p.Residuals[w], cmp, p.Bounds[w])
	case len(p.Residuals) > 0:
		s += fmt.Sprintf(" ± %.2g", p.Residuals[0])
	}
	return s
}

// cancelled returns ctx's error, wrapped with the method's name, or nil; a
// nil ctx is never cancelled.
func cancelled(ctx context.Context, method string) error {
	if ctx == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("linop: %s: %w", method, err)
	}
	return nil
}

// checkTol panics unless 0 < tol < 1: a tolerance of 1 or more would call a
// residual larger than the value itself converged.
func checkTol(method string, tol float64) {
	if !(tol > 0 && tol < 1) {
		panic(fmt.Sprintf("linop: %s: Tol=%g outside (0, 1)", method, tol))
	}
}
