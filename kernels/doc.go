// Package kernels holds the dense numerical kernels that the autodiff
// primitives are built from: matrix multiplication (GEMM), im2col/col2im for
// convolution, and vector helpers. Every kernel is generic over float32 and
// float64 and works on row-major slices; none allocates tensors.
package kernels
