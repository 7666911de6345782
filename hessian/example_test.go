package hessian_test

import (
	"fmt"
	"math/rand/v2"

	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/models"
	"hesscope/nn"
)

// Example_topEigenvalue computes the largest eigenvalue of the Hessian of the
// mean loss of a freshly initialised LeNet-5 over a small dataset, streamed
// in chunks, by Lanczos. Real data comes from package data (data.Load) or
// experiment.LoadData; here 12 synthetic 28×28 images stand in for it.
func Example_topEigenvalue() {
	net, err := models.New[float64]("lenet5", models.Config{Classes: 10, Seed: 1})
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 12
	pixels := make([]float32, n*28*28)
	for i := range pixels {
		pixels[i] = rng.Float32()
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i % 10
	}
	// Chunks of 5 images: the operator averages the per-chunk Hessians
	// weighted by chunk size (5, 5, 2), in bounded memory.
	data := hessian.NewFloat32Data[float64](pixels, labels, [3]int{1, 28, 28}, 5)
	op := hessian.NewParams[float64](net, data, nn.Eval, nil)
	top, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 1, Tol: 1e-6, MaxIter: 100, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Printf("parameters: %d\n", op.Dim())
	fmt.Printf("λmax ≈ %.4f (converged: %v)\n", top.Values[0], top.Converged[0])
	// Output:
	// parameters: 431080
	// λmax ≈ 2.2910 (converged: true)
}
