package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gemmBackend is one implementation that BenchmarkGemm measures.
type gemmBackend struct {
	name string
	f32  func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	f64  func(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
}

func blasTrans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// gemmBackends lists what BenchmarkGemm compares: hesscope's Gemm, each of
// its kernels on its own, and gonum's pure-Go BLAS. The openblas build tag
// adds OpenBLAS (openblas_bench_test.go).
var gemmBackends = func() []gemmBackend {
	bs := []gemmBackend{{name: "hesscope", f32: Gemm[float32], f64: Gemm[float64]}}
	k32, k64 := gemmKernelsF32(), gemmKernelsF64()
	for i := range k32 {
		if k32[i] == kernelF32 && k64[i] == kernelF64 {
			continue // same as hesscope
		}
		g32, g64 := k32[i], k64[i]
		bs = append(bs, gemmBackend{name: "hesscope-" + g32.name, f32: withKernel(g32), f64: withKernel(g64)})
	}
	var impl gonum.Implementation
	bs = append(bs, gemmBackend{
		name: "gonum",
		f32: func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			impl.Sgemm(blasTrans(tA), blasTrans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		},
		f64: func(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
			impl.Dgemm(blasTrans(tA), blasTrans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		},
	})
	return bs
}()

// gemmShapes are the benchmarked products: squares, and im2col shapes of
// the conv layers (M = output channels, N = output pixels, K = in·kh·kw).
var gemmShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"NN/64", false, false, 64, 64, 64},
	{"NN/256", false, false, 256, 256, 256},
	{"NN/1024", false, false, 1024, 1024, 1024},
	{"NT/1024", false, true, 1024, 1024, 1024},
	{"TN/1024", true, false, 1024, 1024, 1024},
	{"NN/conv-20x576x25", false, false, 20, 576, 25},
	{"NN/conv-50x64x500", false, false, 50, 64, 500},
	{"NN/conv-64x1024x1600", false, false, 64, 1024, 1600},
	{"NN/conv-128x500x800", false, false, 128, 500, 800},
}

// BenchmarkGemm reports GFLOP/s (2·m·n·k per call) for every backend, dtype
// and shape: go test -bench Gemm -run ^$ ./kernels.
func BenchmarkGemm(b *testing.B) {
	for _, dt := range []string{"f32", "f64"} {
		for _, s := range gemmShapes {
			for _, be := range gemmBackends {
				b.Run(fmt.Sprintf("%s/%s/%s", dt, s.name, be.name), func(b *testing.B) {
					if dt == "f32" {
						benchGemm(b, be.f32, s.transA, s.transB, s.m, s.n, s.k)
					} else {
						benchGemm(b, be.f64, s.transA, s.transB, s.m, s.n, s.k)
					}
				})
			}
		}
	}
}

func benchGemm[T float32 | float64](b *testing.B, gemm func(bool, bool, int, int, int, T, []T, int, []T, int, T, []T, int), tA, tB bool, m, n, k int) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := make([]T, m*k)
	bb := make([]T, k*n)
	c := make([]T, m*n)
	for i := range a {
		a[i] = T(rng.Float64())
	}
	for i := range bb {
		bb[i] = T(rng.Float64())
	}
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	gemm(tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n) // warm the pools
	cpu0, cpuOK := processCPUTime()
	b.ResetTimer()
	for b.Loop() {
		gemm(tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// Per CPU-second: on a busy machine this shows a kernel's speed
	// without the time other processes took. Spinning threads (OpenBLAS's)
	// count against it.
	if cpu1, ok := processCPUTime(); ok && cpuOK && cpu1 > cpu0 {
		b.ReportMetric(flops/(cpu1-cpu0).Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkGemmMicro measures each micro-kernel alone on panels that stay in
// L1: the ceiling for Gemm on one core.
func BenchmarkGemmMicro(b *testing.B) {
	for _, g := range gemmKernelsF32() {
		b.Run("f32/"+g.name, func(b *testing.B) { benchMicro(b, g) })
	}
	for _, g := range gemmKernelsF64() {
		b.Run("f64/"+g.name, func(b *testing.B) { benchMicro(b, g) })
	}
}

func benchMicro[T float32 | float64](b *testing.B, g *gemmKernel[T]) {
	const k = 128
	a := make([]T, k*g.mr)
	bb := make([]T, k*g.nr)
	c := make([]T, g.mr*g.nr)
	for b.Loop() {
		g.micro(k, a, bb, c, g.nr, 1, 1, g.mr, g.nr)
	}
	b.ReportMetric(2*float64(g.mr*g.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
