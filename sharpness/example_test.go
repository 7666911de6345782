package sharpness_test

import (
	"fmt"

	"hesscope/sharpness"
)

// ExampleEpsilon measures Keskar et al.'s ε-sharpness of the bowl
// f(θ) = ½·Σ aᵢθᵢ² at θ = (1, −2), a = (1, 4). Its maximum over the box
// |zᵢ| ≤ ε(|θᵢ|+1) is at the far corner: ½(1·(1+2ε)² + 4·(2+3ε)²).
func ExampleEpsilon() {
	a := []float64{1, 4}
	f := func(grad, theta []float64) float64 {
		var v float64
		for i, t := range theta {
			v += 0.5 * a[i] * t * t
			if grad != nil {
				grad[i] = a[i] * t
			}
		}
		return v
	}
	r, err := sharpness.Epsilon(f, []float64{1, -2}, sharpness.EpsilonOptions{Epsilon: 0.01})
	if err != nil {
		panic(err)
	}
	fmt.Printf("f(θ) = %.4f, max f = %.4f, sharpness = %.4f\n", r.Loss, r.MaxLoss, r.Sharpness)
	fmt.Printf("closed form: %.4f\n", 0.5*(1.02*1.02+4*2.03*2.03))
	// Output:
	// f(θ) = 8.5000, max f = 8.7620, sharpness = 2.7579
	// closed form: 8.7620
}

// ExampleSAM is SAM's one-step sharpness of f(θ) = ½‖θ‖² at θ = (3, 4):
// ε* = ρ·θ/‖θ‖, so f(θ+ε*) − f(θ) = ρ‖θ‖ + ½ρ² = 0.25 + 0.00125.
func ExampleSAM() {
	f := func(grad, theta []float64) float64 {
		var v float64
		for i, t := range theta {
			v += 0.5 * t * t
			if grad != nil {
				grad[i] = t
			}
		}
		return v
	}
	r := sharpness.SAM(f, []float64{3, 4}, sharpness.SAMOptions{Rho: 0.05})
	fmt.Printf("‖g‖ = %g, sharpness = %.5f\n", r.GradNorm, r.Sharpness)
	// Output:
	// ‖g‖ = 5, sharpness = 0.25125
}
