package kernels

import "hesscope/tensor"

// GemmInPlaceFast reports whether GemmInPlace runs for T on this machine:
// float32 with AVX-512.
func GemmInPlaceFast[T tensor.Float]() bool { return is32[T]() && outerAsm() }

// GemmInPlace computes C = op(A)·B + beta·C, beta 0 or 1, reading both
// factors where they lie: nothing is packed. op(A) is m×k: A (row i of k
// values at a[i·lda]), for m a multiple of 16, or, with transA, Aᵀ (A
// k×m, row p at a[p·lda]), for any m ≥ 16; B is k×n (row p at b[p·ldb]),
// any n, and C m×n (leading dimension ldc). It is the product of thin
// factors: the per-component products of Winograd's algorithm (16 to 64
// rows and columns over a chunk's hundreds of tiles, or hundreds of tiles
// over 16 to 64 channels), where packing A, or the dot kernel's
// reductions, cost as much as the multiply-adds, and the products of a
// few dozen rows over hundreds of columns (LeNet-5's 50 channels), which
// it runs faster than the packed kernels (BenchmarkGemmInPlace).
//
// C's rows are cut into strips, of 16 rows for A as it lies and of 15 to
// 30 (outerStripRows) for Aᵀ, and each call of a kernel runs one strip,
// block after block of 16 columns (the last block cut by a lane mask;
// ResNet-20's gradient took 0.98 of the time of a call per block). The
// sums of a block are held in registers, one per row, from zero: a step p
// broadcasts the values of op(A)'s column p and multiplies them by B's
// row p, one fused multiply-add per element, in the order of p; then each
// sum is stored to C, or added to it (c + s), every outerKC steps. The
// result depends on m, n and k only (the same bits for any thread count
// and however the rows are cut); with beta = 0, C's old values (even NaN)
// are not read. GemmInPlace reports false and does nothing where
// GemmInPlaceFast is false, m is not as above or beta is neither 0 nor 1,
// and panics on slices too short for the matrices, as Gemm.
func GemmInPlace[T tensor.Float](transA bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) bool {
	if !GemmInPlaceFast[T]() || !transA && m%16 != 0 || transA && m != 0 && m < 16 || beta != 0 && beta != 1 {
		return false
	}
	checkGemm(transA, false, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return true
	}
	if k == 0 {
		scaleMatrix(beta, c, m, n, ldc)
		return true
	}
	a32, b32, c32 := as32(a), as32(b), as32(c)
	rows := 16
	for i0 := 0; i0 < m; i0 += rows {
		if transA {
			rows = outerStripRows(m, i0)
		}
		for p0 := 0; p0 < k; p0 += outerKC {
			ai := i0*lda + p0
			if transA {
				ai = p0*lda + i0
			}
			outerStrip(transA, rows, beta == 0 && p0 == 0, min(outerKC, k-p0), n, a32[ai:], lda, b32[p0*ldb:], ldb, c32[i0*ldc:], ldc)
		}
	}
	return true
}

// outerMinT and outerMaxT bound the rows of GemmInPlace's strips of a
// transposed op(A) (its kernels sOuterT<r>AVX512 hold r sums and B's row
// in 32 registers).
const outerMinT, outerMaxT = 15, 30

// outerStripRows returns the rows of the strip of a transposed op(A) of m
// ≥ 16 rows that starts at row i0: m cut into ⌈m/30⌉ strips as even as
// possible, the longer ones first (15 to 30 rows: 50 into 25 + 25, 64
// into 22 + 21 + 21, 31 into 16 + 15).
func outerStripRows(m, i0 int) int {
	s := (m + outerMaxT - 1) / outerMaxT
	r, long := m/s, m%s // long strips of r + 1 rows, then r
	if i0 < long*(r+1) {
		return r + 1
	}
	return r
}

// outerKC is the depth of GemmInPlace's sums before they are added to C:
// as the unpacked-B kernel's slices (kc), so that a long product is summed
// in parts of at most 128 terms.
const outerKC = 128
