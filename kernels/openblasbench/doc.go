// Package openblasbench binds OpenBLAS's cblas_sgemm and cblas_dgemm for
// kernels' BenchmarkGemm. It is empty unless built with the openblas tag
// (and cgo, and libopenblas-dev installed):
//
//	go test -tags openblas -run '^$' -bench Gemm ./kernels
//
// It is a package of its own because a package with Go assembly, like
// kernels, cannot use cgo.
package openblasbench
