package linop

import "fmt"

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
	// descending order of |λ| (ties: the negative one first). Power
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

// Eigen holds approximate eigenpairs (λᵢ, vᵢ) of an operator H.
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
	// Converged reports, per pair, whether the solver's tolerance was met.
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
	// Residual is the worst convergence measure among the unconverged
	// quantities, in the units of Tol: relative residual (Lanczos), relative
	// change of the eigenvalue (Power), relative standard error or relative
	// change of the mean (trace estimators).
	Residual float64
	// Tol is the tolerance that was not met.
	Tol float64
	// Unconverged is how many eigenpairs did not converge (1 for a trace).
	Unconverged int
	// MatVecs is the number of operator applications spent.
	MatVecs int
}

func (e *NotConvergedError) Error() string {
	return fmt.Sprintf("linop: %s did not converge after %d matvecs: %d unconverged, residual %.3g > tol %.3g",
		e.Method, e.MatVecs, e.Unconverged, e.Residual, e.Tol)
}

// Progress is what a solver passes to its Progress callback: after each
// convergence check (Lanczos), iteration (Power) or probe (trace, SLQ), and
// once more at the end with Final set. The slices are the callback's to keep.
type Progress struct {
	// Iter is the Krylov dimension (Lanczos), the iteration of the current
	// eigenvalue (Power), or the number of probes so far (trace, SLQ).
	Iter int
	// MatVecs counts the operator applications so far.
	MatVecs int
	// Values are the current estimates: the wanted Ritz values (Lanczos);
	// the eigenvalues found so far and the current one (Power); the trace
	// estimate (trace); the Ritz values of the last probe (SLQ).
	Values []float64
	// Residuals are the matching convergence measures: relative residual
	// estimates (Lanczos), relative changes (Power), the standard error
	// (trace); nil for SLQ.
	Residuals []float64
	// Final is set on the last call.
	Final bool
}
