package linop_test

import (
	"fmt"

	"hesscope/linop"
)

// The top eigenvalue of a small dense operator: the tridiagonal matrix
// with 2 on the diagonal and 1 beside it has eigenvalues 2 − √2, 2, 2 + √2.
func ExampleLanczos() {
	op := linop.NewDenseRows([][]float64{
		{2, 1, 0},
		{1, 2, 1},
		{0, 1, 2},
	})
	eig, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 1})
	if err != nil {
		fmt.Println(err)
	}
	fmt.Printf("λ = %.6f, v = %.4f, converged %v\n", eig.Values[0], eig.Vectors[0], eig.Converged[0])
	// Output:
	// λ = 3.414214, v = [0.5000 0.7071 0.5000], converged true
}

// Power iteration as PyHessian's returns the eigenvalue of largest
// magnitude; Largest and Smallest shift the operator by it. The matrix has
// eigenvalues −3 and 2.
func ExamplePower() {
	op := linop.NewDenseRows([][]float64{
		{1, 2},
		{2, -2},
	})
	for _, which := range []linop.Which{linop.LargestMagnitude, linop.Largest} {
		eig, err := linop.Power(op, which, linop.PowerOptions{Tol: 1e-12})
		fmt.Printf("%v: λ = %.6f, converged %v, err %v\n", which, eig.Values[0], eig.Converged[0], err)
	}
	// Output:
	// largest-magnitude: λ = -3.000000, converged true, err <nil>
	// largest: λ = 2.000000, converged true, err <nil>
}

// Hutch++ is exact for a matrix whose rank its sketch covers; Hutchinson
// carries a standard error.
func ExampleHutchPlusPlus() {
	op := linop.NewDenseRows([][]float64{
		{2, 1, 0, 0},
		{1, 2, 0, 0},
		{0, 0, 0, 0},
		{0, 0, 0, 0},
	})
	pp, _ := linop.HutchPlusPlus(op, linop.TraceOptions{MatVecs: 30})
	h, _ := linop.Hutchinson(op, linop.TraceOptions{MatVecs: 30})
	fmt.Printf("Hutch++ %.4f ± %.4f (rank %d), Hutchinson %.4f ± %.4f\n", pp.Estimate, pp.StdErr, pp.Rank, h.Estimate, h.StdErr)
	// Output:
	// Hutch++ 4.0000 ± 0.0000 (rank 2), Hutchinson 4.4000 ± 0.3639
}
