package kernels

import "hesscope/tensor"

// GemmInPlaceFast reports whether GemmInPlace runs for T on this machine:
// float32 with AVX-512.
func GemmInPlaceFast[T tensor.Float]() bool { return is32[T]() && outerAsm() }

// GemmInPlace computes C = op(A)·B + beta·C, beta 0 or 1, for m and n
// multiples of 16, reading both factors where they lie: nothing is packed.
// op(A) is m×k: A (row i of k values at a[i·lda]) or, with transA, Aᵀ (A
// k×m, row p at a[p·lda]); B is k×n (row p at b[p·ldb]) and C m×n (leading
// dimension ldc). It is the product of thin factors, such as the
// per-component products of Winograd's algorithm (16 to 64 rows and
// columns over a chunk's hundreds of tiles, or hundreds of tiles over 16
// to 64 channels), where packing A, or the dot kernel's reductions, cost
// as much as the multiply-adds. One call of the kernel runs 16 rows of
// C, block after block of 16 columns (ResNet-20's gradient 0.98 of the
// time of a call per block). The sums of each 16×16 block of C are held
// in registers, from zero: a step p broadcasts the 16 values of
// op(A)'s column p and multiplies them by B's row p, one fused
// multiply-add per element, in the order of p; then each sum is stored to
// C, or added to it (c + s), every outerKC steps. The result depends on
// the shapes only (the same bits for any thread count); with beta = 0, C's
// old values (even NaN) are not read. GemmInPlace reports false and does
// nothing where GemmInPlaceFast is false, m or n is not a multiple of 16 or
// beta is neither 0 nor 1, and panics on slices too short for the
// matrices, as Gemm.
func GemmInPlace[T tensor.Float](transA bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) bool {
	if !GemmInPlaceFast[T]() || m%16 != 0 || n%16 != 0 || beta != 0 && beta != 1 {
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
	for i0 := 0; i0 < m; i0 += 16 {
		for p0 := 0; p0 < k; p0 += outerKC {
			ai := i0*lda + p0
			if transA {
				ai = p0*lda + i0
			}
			outer16(transA, beta == 0 && p0 == 0, min(outerKC, k-p0), n, a32[ai:], lda, b32[p0*ldb:], ldb, c32[i0*ldc:], ldc)
		}
	}
	return true
}

// outerKC is the depth of GemmInPlace's sums before they are added to C:
// as the unpacked-B kernel's slices (kc), so that a long product is summed
// in parts of at most 128 terms.
const outerKC = 128
