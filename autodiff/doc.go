// Package autodiff computes exact first and second derivatives of a
// computation recorded on a Tape, by forward-over-reverse differentiation
// (Pearlmutter's R-operator).
//
// Every primitive y = f(x₁, …, xₙ) knows four things:
//
//	Forward  y   = f(x)
//	JVP      ẏ   = ∂f(x)·ẋ                       (tangent, forward mode)
//	VJP      x̄  += ∂f(x)ᵀ·ȳ                      (cotangent, reverse mode)
//	VJPDot   x̄̇  += ∂f(x)ᵀ·ȳ̇ + (∂²f(x)[ẋ])ᵀ·ȳ     (tangent of the cotangent)
//
// The first term of VJPDot is the VJP applied to ȳ̇, so the Tape computes it
// with VJP; a primitive with a non-zero second derivative adds the second,
// curvature, term through the Curved interface. Linear and piecewise-linear
// primitives (reshape, add, pooling, relu) have no curvature term.
//
// Names follow the maths: the primal is x, its tangent xDot, its cotangent
// xBar and the tangent of the cotangent xBarDot. When the leaves carry a
// tangent v and the output is a scalar loss L, one Forward and one Backward
// give L, its gradient g = x̄ and the Hessian-vector product H·v = x̄̇ for every
// leaf — at the cost of about two gradients.
package autodiff
