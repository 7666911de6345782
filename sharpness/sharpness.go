// Package sharpness measures how sharp a minimum is by how much the loss can
// rise near it, with the two metrics of the large-batch literature:
//
//   - Keskar et al., "On Large-Batch Training for Deep Learning:
//     Generalization Gap and Sharp Minima" (ICLR 2017), metric 2.1 with
//     A = I: the largest loss in the box C_ε = {z : |zᵢ| ≤ ε(|θᵢ| + 1)}
//     around θ, reported as 100·(max_{z∈C_ε} f(θ+z) − f(θ)) / (1 + f(θ)).
//     The maximisation is non-concave; like Keskar et al., who ran a few
//     iterations of L-BFGS-B, Epsilon approximates it by a projected ascent
//     method under an iteration budget, so the value is a lower bound of the
//     true maximum.
//   - Foret et al., "Sharpness-Aware Minimization for Efficiently Improving
//     Generalization" (ICLR 2021), m-sharpness: the mean over sub-batches B
//     of m samples of max_{‖ε‖₂≤ρ} L_B(θ+ε) − L_B(θ), with SAM's one-step
//     maximiser ε* = ρ·g/‖g‖ (g = ∇L_B(θ)) or a few projected ascent steps.
//
// The maximisers are generic over a Func, θ ↦ (f, ∇f), so they are tested on
// quadratics with closed-form answers; Network and MSharpness connect them to
// a model and data through package hessian. Every result records its
// parameters, evaluation count and time.
//
// This is its own package rather than part of landscape: landscape evaluates
// the loss on a fixed grid of directions and plots it, while sharpness
// optimises over a neighbourhood and needs gradients; they share only the
// model evaluation, which both take from package hessian.
package sharpness

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Func is an objective: it returns f(θ) and, unless grad is nil, writes
// ∇f(θ) into grad. It must not keep or modify θ.
type Func func(grad, theta []float64) float64

// EpsilonOptions configures Epsilon. The zero value is ε = 1e-3 (Keskar et
// al.'s main setting) with 10 iterations.
type EpsilonOptions struct {
	// Epsilon sets the box |zᵢ| ≤ Epsilon·(|θᵢ| + 1); 0 means 1e-3.
	Epsilon float64
	// Iterations caps the ascent iterations; 0 means 10.
	Iterations int
	// MaxEvals caps the evaluations of f with its gradient, the first at θ
	// included; 0 means 1 + 4·Iterations.
	MaxEvals int
	// Progress, if not nil, is called after every iteration with the best
	// value so far.
	Progress func(iter int, best float64)
	// Context, if not nil, is checked before every evaluation of f: once it
	// is done, Epsilon stops and returns its error (wrapped).
	Context context.Context
}

// EpsilonResult is Keskar et al.'s ε-sharpness of f at θ.
type EpsilonResult struct {
	Epsilon float64 `json:"epsilon"`
	// Loss is f(θ) and MaxLoss the largest f(θ+z) found in the box.
	Loss    float64 `json:"loss"`
	MaxLoss float64 `json:"max_loss"`
	// Sharpness is 100·(MaxLoss − Loss)/(1 + Loss).
	Sharpness float64 `json:"sharpness"`
	// AtBound is the fraction of coordinates of z on the boundary of the box.
	AtBound float64 `json:"at_bound"`
	// Iterations and Evals are the ascent iterations done and the
	// evaluations of f with its gradient.
	Iterations int `json:"iterations"`
	Evals      int `json:"evals"`
	// Converged reports that the projected gradient vanished (a first-order
	// stationary point of the box-constrained problem) within the budget.
	Converged bool    `json:"converged"`
	Seconds   float64 `json:"seconds"`
	// Z is the maximising offset z; not written to JSON.
	Z []float64 `json:"-"`
}

// Epsilon computes Keskar et al.'s ε-sharpness of f at θ by projected
// gradient ascent on the box C_ε, a bound-constrained method in the spirit
// of L-BFGS-B's projected search:
//
//   - the first trial step goes along the gradient far enough that every
//     coordinate with a non-zero partial derivative reaches its bound (the
//     maximiser of the linearisation, a sign step);
//   - later steps use the Barzilai–Borwein length |sᵀs / sᵀy| of the last
//     step s and gradient change y;
//   - each trial z' = P(z + α·g) is accepted if it satisfies the Armijo
//     condition f(z') ≥ f(z) + 10⁻⁴·gᵀ(z' − z), otherwise α is halved
//     (so every accepted step increases f);
//   - the iteration stops when the projected gradient P(z + g) − z is zero
//     to rounding, or when the budget is spent.
//
// θ is not modified.
func Epsilon(f Func, theta []float64, o EpsilonOptions) (EpsilonResult, error) {
	start := time.Now()
	eps := o.Epsilon
	if eps == 0 {
		eps = 1e-3
	}
	if eps < 0 || math.IsNaN(eps) {
		panic(fmt.Sprintf("sharpness: Epsilon %v", eps))
	}
	iters := o.Iterations
	if iters <= 0 {
		iters = 10
	}
	maxEvals := o.MaxEvals
	if maxEvals <= 0 {
		maxEvals = 1 + 4*iters
	}
	n := len(theta)
	r := make([]float64, n) // half-widths of the box
	for i, t := range theta {
		r[i] = eps * (math.Abs(t) + 1)
	}
	z := make([]float64, n)
	w := make([]float64, n) // θ + trial
	g := make([]float64, n)
	gNew := make([]float64, n)
	zNew := make([]float64, n)
	res := EpsilonResult{Epsilon: eps}
	done := func() error {
		if o.Context == nil || o.Context.Err() == nil {
			return nil
		}
		res.Seconds = time.Since(start).Seconds()
		return fmt.Errorf("sharpness: Epsilon: %w", o.Context.Err())
	}
	if err := done(); err != nil {
		return res, err
	}
	fz := f(g, theta)
	res.Loss, res.Evals = fz, 1
	project := func(dst []float64, alpha float64) {
		for i := range dst {
			dst[i] = max(-r[i], min(r[i], z[i]+alpha*g[i]))
		}
	}
	// First step length: every coordinate with gᵢ ≠ 0 reaches its bound.
	var alpha float64
	for i := range g {
		if g[i] != 0 {
			alpha = max(alpha, 2*r[i]/math.Abs(g[i]))
		}
	}
	for res.Iterations < iters && res.Evals < maxEvals {
		if stationary(z, g, r) {
			res.Converged = true
			break
		}
		accepted := false
		var fNew float64
		for res.Evals < maxEvals && alpha > 0 {
			project(zNew, alpha)
			var gain float64
			for i := range zNew {
				w[i] = theta[i] + zNew[i]
				gain += g[i] * (zNew[i] - z[i])
			}
			if gain <= 0 {
				break // no ascent along the projected path at any length
			}
			if err := done(); err != nil {
				return res, err
			}
			fNew = f(gNew, w)
			res.Evals++
			if math.IsNaN(fNew) || math.IsInf(fNew, 0) {
				res.Seconds = time.Since(start).Seconds()
				return res, &NotFiniteError{Param: "epsilon", Value: eps, Loss: fNew}
			}
			if fNew >= fz+1e-4*gain {
				accepted = true
				break
			}
			alpha /= 2
		}
		if !accepted {
			break
		}
		res.Iterations++
		// Barzilai–Borwein length for the next step.
		var ss, sy float64
		for i := range z {
			s := zNew[i] - z[i]
			ss += s * s
			sy += s * (gNew[i] - g[i])
		}
		if sy != 0 {
			alpha = ss / math.Abs(sy)
		} else {
			alpha *= 2
		}
		z, zNew = zNew, z
		g, gNew = gNew, g
		fz = fNew
		if o.Progress != nil {
			o.Progress(res.Iterations, fz)
		}
	}
	if !res.Converged && stationary(z, g, r) {
		res.Converged = true
	}
	res.MaxLoss = fz
	res.Sharpness = 100 * (res.MaxLoss - res.Loss) / (1 + res.Loss)
	bound := 0
	for i := range z {
		if math.Abs(z[i]) == r[i] {
			bound++
		}
	}
	if n > 0 {
		res.AtBound = float64(bound) / float64(n)
	}
	res.Z = z
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// stationary reports whether the projected gradient P(z + g) − z vanishes:
// every coordinate has gᵢ = 0 or sits at the bound g pushes it against.
func stationary(z, g, r []float64) bool {
	for i := range z {
		if g[i] > 0 && z[i] < r[i] || g[i] < 0 && z[i] > -r[i] {
			return false
		}
	}
	return true
}

// SAMOptions configures SAM. The zero value is SAM's ρ = 0.05 with its
// one-step maximiser.
type SAMOptions struct {
	// Rho is the radius of the ℓ₂ ball; 0 means 0.05.
	Rho float64
	// Steps is the number of ascent steps; 0 means 1, SAM's ε* = ρ·g/‖g‖.
	// Each further step moves ε by ρ along the normalised gradient at θ+ε
	// and projects back onto the ball.
	Steps int
}

// SAMResult is the sharpness max_{‖ε‖≤ρ} f(θ+ε) − f(θ) of one batch.
type SAMResult struct {
	Rho   float64 `json:"rho"`
	Steps int     `json:"steps"`
	// Loss is f(θ), MaxLoss the largest f(θ+ε) over the ascent iterates,
	// Sharpness their difference.
	Loss      float64 `json:"loss"`
	MaxLoss   float64 `json:"max_loss"`
	Sharpness float64 `json:"sharpness"`
	// GradNorm is ‖∇f(θ)‖.
	GradNorm float64 `json:"grad_norm"`
	// Evals counts evaluations of f (with or without gradient).
	Evals int `json:"evals"`
}

// SAM approximates max_{‖ε‖₂≤ρ} f(θ+ε) − f(θ) as SAM does: ε₁ = ρ·g/‖g‖ for
// g = ∇f(θ) (the maximiser of the first-order model), then, for Steps > 1,
// εₖ₊₁ = Π(εₖ + ρ·gₖ/‖gₖ‖) with gₖ = ∇f(θ+εₖ) and Π the projection onto the
// ball; the result is the largest f among the iterates. With g = 0 the
// sharpness is 0 (ε = 0). θ is not modified.
func SAM(f Func, theta []float64, o SAMOptions) SAMResult {
	rho := o.Rho
	if rho == 0 {
		rho = 0.05
	}
	if rho < 0 || math.IsNaN(rho) {
		panic(fmt.Sprintf("sharpness: Rho %v", rho))
	}
	steps := max(1, o.Steps)
	n := len(theta)
	g := make([]float64, n)
	e := make([]float64, n)
	w := make([]float64, n)
	res := SAMResult{Rho: rho, Steps: steps}
	res.Loss = f(g, theta)
	res.Evals = 1
	res.MaxLoss = res.Loss
	res.GradNorm = norm(g)
	for k := 1; k <= steps; k++ {
		gn := norm(g)
		if gn == 0 {
			break
		}
		for i := range e {
			e[i] += rho * g[i] / gn
		}
		if en := norm(e); en > rho {
			for i := range e {
				e[i] *= rho / en
			}
		}
		for i := range w {
			w[i] = theta[i] + e[i]
		}
		var grad []float64
		if k < steps {
			grad = g
		}
		fk := f(grad, w)
		res.Evals++
		if math.IsNaN(fk) || math.IsInf(fk, 0) {
			// Not a maximum: a loss that overflowed. MSharpness reports it.
			res.MaxLoss, res.Sharpness = fk, fk
			return res
		}
		res.MaxLoss = max(res.MaxLoss, fk)
	}
	res.Sharpness = res.MaxLoss - res.Loss
	return res
}

// norm is ‖v‖₂. The squares are summed as they are, and only if that
// overflows (a radius ρ = 1e300) again scaled by the largest |vᵢ|: an
// overflowed norm would project ε onto 0 and report a sharpness of 0.
func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if !math.IsInf(s, 0) {
		return math.Sqrt(s)
	}
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	if math.IsInf(m, 0) {
		return m
	}
	s = 0
	for _, x := range v {
		s += (x / m) * (x / m)
	}
	return m * math.Sqrt(s)
}

// NotFiniteError is a perturbed loss that is not finite: the radius (Param
// "epsilon" or "rho", of value Value) reaches weights where the loss
// overflows, so no sharpness can be measured there.
type NotFiniteError struct {
	Param       string
	Value, Loss float64
}

func (e *NotFiniteError) Error() string {
	return fmt.Sprintf("sharpness: the loss at a point within %s = %g of the weights is %v, not a finite number", e.Param, e.Value, e.Loss)
}
