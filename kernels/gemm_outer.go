package kernels

import (
	"fmt"

	"hesscope/tensor"
)

// OuterFast reports whether GemmAddInPlace runs for T on this machine:
// float32 with AVX-512.
func OuterFast[T tensor.Float]() bool { return is32[T]() && outerAsm() }

// GemmAddInPlace adds the m×n product A·B to C, A m×k (row i of k values
// at a[i·lda]), B k×n (row p of n values at b[p·ldb]) and C m×n (leading
// dimension ldc), with m and n multiples of 16, reading both factors where
// they lie: nothing is packed. It is the product of thin factors whose
// depth is long, such as the per-component products of Winograd's weight
// cotangents (a 16×16 or 64×64 result over a chunk's hundreds of tiles),
// where packing A, or the dot kernel's reductions, cost as much as the
// multiply-adds. The sums of each 16×16 block of C are held in registers
// for the whole depth, from zero: a step p broadcasts the 16 values of A's
// column p from their rows and multiplies them by B's row p, one fused
// multiply-add per element, in the order of p; then each sum is added to
// its element of C (c + s), every outerKC steps. The result depends on the shapes only (the
// same bits for any thread count). It reports false and does nothing where OuterFast
// is false or m or n is not a multiple of 16, and panics on slices too
// short for the matrices, as Gemm.
func GemmAddInPlace[T tensor.Float](m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) bool {
	if !OuterFast[T]() || m%16 != 0 || n%16 != 0 {
		return false
	}
	checkGemm(false, false, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 || k == 0 {
		return true
	}
	if m < 0 || n < 0 {
		panic(fmt.Sprintf("kernels: GemmAddInPlace with m=%d n=%d", m, n))
	}
	a32, b32, c32 := as32(a), as32(b), as32(c)
	for i0 := 0; i0 < m; i0 += 16 {
		for j0 := 0; j0 < n; j0 += 16 {
			for p0 := 0; p0 < k; p0 += outerKC {
				outer16(min(outerKC, k-p0), a32[i0*lda+p0:], lda, b32[p0*ldb+j0:], ldb, c32[i0*ldc+j0:], ldc)
			}
		}
	}
	return true
}

// outerKC is the depth of GemmAddInPlace's sums before they are added to
// C: as the unpacked-B kernel's slices (kc), so that a long product is
// summed in parts of at most 128 terms, which round less than one long
// chain (Winograd's F(2×2, 5×5) weight cotangents, TestFloat32Paths).
const outerKC = 128
