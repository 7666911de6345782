// Package linop holds the solvers of hesscope that see a symmetric matrix
// only through its action v ↦ Hv: Lanczos for extremal eigenpairs, power
// iteration (PyHessian's), Hutchinson and Hutch++ trace estimation, and
// stochastic Lanczos quadrature (SLQ) for the spectral density.
//
// linop never imports a model or the autodiff engine; package hessian wraps
// Hessian-vector products in an [Operator]. Vectors are []float64 of length
// Dim. Tests run every solver on dense matrices of known spectrum first
// (package linop/linoptest).
//
// # Contracts
//
// Apply(dst, v) writes H·v to dst; dst and v never alias and v is not
// modified. A solver never modifies its inputs. The same v must give the same
// Hv bit for bit: with a deterministic operator every solver is deterministic
// for a fixed Seed (results differ only in Seconds).
//
// Random numbers come from math/rand/v2's PCG seeded with (Seed, a fixed
// stream constant). Probes of Hutchinson, Hutch++ and SLQ are Rademacher
// vectors drawn 64 signs per Uint64; SLQ with Rademacher probes draws exactly
// the probes Hutchinson draws for the same seed.
//
// # Results and errors
//
// Every result carries the number of operator applications (MatVecs), the
// seed and the wall time. Eigenvalue results carry one residual ‖Hv−λv‖ per
// pair — the same number in the result, in Progress and in a
// *[NotConvergedError] — and call a pair converged by one rule for Lanczos
// and power iteration: residual ≤ [ResidualBound](λ, ‖H‖est, Tol) =
// Tol·max(|λ|, 1e-3·‖H‖est), Tol < 1. A solver that stops before meeting
// its tolerance returns its estimate together with a *[NotConvergedError]
// quoting the worst pair, in the manner of gonum's Condition error: callers
// may warn and still use the numbers. Misuse (K larger than Dim, negative
// options, Tol ≥ 1, mismatched lengths) panics with a message starting
// "linop: ".
//
// # Cancellation and progress
//
// Every solver takes an optional Context, checked before each operator
// application: once it is done the solver returns the context's error
// (errors.Is(err, context.Canceled) holds) within one matvec. Progress
// callbacks receive what is known — matvecs done, the budget as a cap, the
// current residuals and the bounds they must meet — never a forecast.
//
// # Memory
//
// Lanczos and SLQ reorthogonalise fully, so they keep every Lanczos vector:
// Dim × (Krylov dimension) float64s, e.g. 8·270k·30 bytes ≈ 65 MB for a
// ResNet-20 with the default MaxIter of 30, and 8·11M·30 ≈ 2.7 GB for a
// ResNet-18. Power iteration and Hutchinson keep O(K) and O(1) vectors,
// Hutch++ about MatVecs/3.
package linop
