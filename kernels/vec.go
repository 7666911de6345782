package kernels

import "hesscope/tensor"

// Add computes dst[i] += x[i].
func Add[T tensor.Float](dst, x []T) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += v
	}
}
