package kernels

import "hesscope/tensor"

// Axpy computes dst[i] += alpha·x[i].
func Axpy[T tensor.Float](dst []T, alpha T, x []T) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += alpha * v
	}
}

// Add computes dst[i] += x[i].
func Add[T tensor.Float](dst, x []T) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += v
	}
}

// Dot returns Σ x[i]·y[i], accumulated in float64.
func Dot[T tensor.Float](x, y []T) float64 {
	y = y[:len(x)]
	var s float64
	for i, v := range x {
		s += float64(v) * float64(y[i])
	}
	return s
}

// Scale computes dst[i] *= alpha.
func Scale[T tensor.Float](alpha T, dst []T) {
	for i := range dst {
		dst[i] *= alpha
	}
}
