package kernels

import (
	"fmt"

	"hesscope/tensor"
)

// InstructionSet names the kernels this process runs: "avx512" or "avx2"
// (amd64 assembly, the widest the CPU has; GODEBUG=cpu.avx512f=off takes
// AVX-512 away) or "generic" (pure Go: other architectures, the purego
// build, CPUs without AVX2 and FMA). Results are the same bits for any
// thread count; between instruction sets the element-wise kernels agree to
// the bit, the products may not (their micro-kernels block and fuse
// multiply-adds differently), so a benchmark or a result names its set.
func InstructionSet() string { return kernelF32.name }

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(A) is A or Aᵀ (transA) and is m×k, op(B) is k×n and C is m×n, with leading
// dimensions lda, ldb, ldc. With beta = 0, C need not be initialised: its old
// values (even NaN) are never read. With alpha = 0 or k = 0, A and B are not
// read.
//
// Element (i, j) of op(A) is a[i·lda+j] without transA and a[j·lda+i] with it;
// likewise for B. A, B and C must not overlap.
//
// Gemm is blocked for the caches and, on amd64, runs AVX-512 or AVX2+FMA
// micro-kernels (chosen at run time; the purego build tag turns them off).
// Large products are split over GOMAXPROCS goroutines. The split never changes
// the order in which a C element's terms are summed, so results are
// bit-identical from run to run and for any number of goroutines.
//
// Gemm panics on negative sizes, leading dimensions smaller than the rows they
// stride over, or slices too short for the matrices they hold.
func Gemm[T tensor.Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(beta, c, m, n, ldc)
		return
	}
	gemmBlocked(kernelOf[T](), nil, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// DotRows reports whether GemmNTRows reads B's rows in place for an
// m×n×k product: when Gemm would take its unpacked dot-product path for
// A·Bᵀ (thin products, see useDot); otherwise GemmNTRows gathers them.
func DotRows[T tensor.Float](m, n, k int) bool {
	return m > 0 && n > 0 && k > 0 && kernelOf[T]().dot.useDot(m, n, k)
}

// GemmNTRows computes C = alpha·A·Bᵀ + beta·C (A m×k with leading
// dimension lda, C m×n) where row j of B, k values, starts at b[rows[j]]:
// the rows of a column matrix read where they lie (a convolution's weight
// gradient ȳ·im2col(x)ᵀ, rows of shifted copies of x). With DotRows the
// result has the bits of Gemm(false, true, …) on B gathered into a matrix.
func GemmNTRows[T tensor.Float](m, n, k int, alpha T, a []T, lda int, b []T, rows []int, beta T, c []T, ldc int) {
	if len(rows) < n {
		panic(fmt.Sprintf("kernels: GemmNTRows with %d row offsets for %d rows", len(rows), n))
	}
	for _, r := range rows[:n] {
		if r < 0 || r+k > len(b) {
			panic(fmt.Sprintf("kernels: GemmNTRows row at %d of %d values past the %d of B", r, k, len(b)))
		}
	}
	checkGemm(false, true, m, n, k, len(a), lda, n*k, k, len(c), ldc) // B's rows checked above
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(beta, c, m, n, ldc)
		return
	}
	if g := kernelOf[T](); g.dot.useDot(m, n, k) {
		procs, done := gemmProcsFor(m, n, k)
		defer done()
		gemmDot(g.dot, procs, m, n, k, alpha, a, lda, b, 0, rows[:n], beta, c, ldc)
		return
	}
	bt := make([]T, n*k)
	for j, r := range rows[:n] {
		copy(bt[j*k:(j+1)*k], b[r:r+k])
	}
	Gemm(false, true, m, n, k, alpha, a, lda, bt, k, beta, c, ldc)
}

// kernelOf returns the kernel Gemm runs for T: the machine's best for
// float32 and float64, the pure-Go one for other types whose underlying
// type is float32 or float64.
func kernelOf[T tensor.Float]() *gemmKernel[T] {
	if g, ok := any(kernelF32).(*gemmKernel[T]); ok {
		return g
	}
	if g, ok := any(kernelF64).(*gemmKernel[T]); ok {
		return g
	}
	return genericKernel[T]()
}

// checkGemm panics unless the sizes, leading dimensions and slice lengths
// describe valid matrices.
func checkGemm(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Gemm with negative size m=%d n=%d k=%d", m, n, k))
	}
	check := func(name string, rows, cols, length, ld int) {
		if ld < max(cols, 1) {
			panic(fmt.Sprintf("kernels: Gemm ld%s=%d, want at least %d", name, ld, max(cols, 1)))
		}
		if rows > 0 && cols > 0 && length < (rows-1)*ld+cols {
			panic(fmt.Sprintf("kernels: Gemm len(%s)=%d, want at least %d for %d×%d with ld%s=%d",
				name, length, (rows-1)*ld+cols, rows, cols, name, ld))
		}
	}
	if transA {
		check("a", k, m, lenA, lda)
	} else {
		check("a", m, k, lenA, lda)
	}
	if transB {
		check("b", n, k, lenB, ldb)
	} else {
		check("b", k, n, lenB, ldb)
	}
	check("c", m, n, lenC, ldc)
}

// scaleMatrix computes C = beta·C, or C = 0 when beta is 0 (so that NaN in C
// does not survive).
func scaleMatrix[T tensor.Float](beta T, c []T, m, n, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
