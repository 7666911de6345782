package linop_test

import (
	"testing"

	"hesscope/linop"
)

// laplacian is the n×n operator tridiag(−1, 2, −1) plus a rank-one spike
// 5·e₀e₀ᵀ: cheap matvecs, so the benchmarks time the solvers' own work
// (reorthogonalisation, projected eigenproblems).
func laplacian(n int) linop.Operator {
	return linop.Func{N: n, F: func(dst, v []float64) {
		for i := range dst {
			x := 2 * v[i]
			if i > 0 {
				x -= v[i-1]
			}
			if i+1 < n {
				x -= v[i+1]
			}
			dst[i] = x
		}
		dst[0] += 5 * v[0]
	}}
}

func BenchmarkLanczos(b *testing.B) {
	op := laplacian(100_000)
	for b.Loop() {
		eig, _ := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 1})
		b.ReportMetric(float64(eig.MatVecs), "matvecs/op")
	}
}

func BenchmarkSLQ(b *testing.B) {
	op := laplacian(100_000)
	for b.Loop() {
		linop.SLQ(op, linop.SLQOptions{Steps: 100})
	}
}

func BenchmarkHutchPlusPlus(b *testing.B) {
	op := laplacian(100_000)
	for b.Loop() {
		linop.HutchPlusPlus(op, linop.TraceOptions{MatVecs: 99})
	}
}
