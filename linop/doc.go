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
// seed and the wall time. Eigenvalue results carry a residual ‖Hv−λv‖ and a
// converged flag per pair. A solver that stops before meeting its tolerance
// returns its estimate together with a *[NotConvergedError] holding the
// residual, in the manner of gonum's Condition error: callers may warn and
// still use the numbers. Misuse (K larger than Dim, negative options,
// mismatched lengths) panics with a message starting "linop: ".
//
// # Memory
//
// Lanczos and SLQ reorthogonalise fully, so they keep every Lanczos vector:
// Dim × (Krylov dimension) float64s, e.g. 8·270k·30 bytes ≈ 65 MB for a
// ResNet-20 with the default MaxIter of 30, and 8·11M·30 ≈ 2.7 GB for a
// ResNet-18. Power iteration and Hutchinson keep O(K) and O(1) vectors,
// Hutch++ about MatVecs/3.
package linop
