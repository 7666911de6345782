package kernels

import (
	"fmt"

	"hesscope/tensor"
)

// spmmOf is SpMM for F on checked arguments (set for beta = 0);
// spmmF32 and spmmF64 are the vector kernels this machine runs, nil where
// it has none (then SpMM runs spmmGeneric).
type spmmOf[F float32 | float64] func(m, n int, ptr, idx []int32, val, b []F, ldb int, val2, b2 []F, set bool, c []F, ldc int)

var (
	spmmF32 spmmOf[float32]
	spmmF64 spmmOf[float64]
)

// SpMMFast reports whether SpMM runs a vector kernel for T on this
// machine; elsewhere it runs a plain Go loop, correct but several times
// slower than a dense product of four times the multiply-adds.
func SpMMFast[T tensor.Float]() bool {
	if is32[T]() {
		return spmmF32 != nil
	}
	return spmmF64 != nil
}

// SpMM computes C = S·B + beta·C, beta 0 or 1, for a sparse S of m rows
// in compressed-row form: row r of S holds the values val[i] in the
// columns idx[i] for i in [ptr[r], ptr[r+1]), and B is dense, its row q
// n values at b[q·ldb]; C is m×n with leading dimension ldc. With val2
// and b2 non-nil it adds S₂·B₂ too, S₂ having S's pattern and the values
// val2, B₂ B's shape:
//
//	C[r, j] = beta·C[r, j] + Σ_{i ∈ row r} val[i]·B[idx[i], j] + val2[i]·B₂[idx[i], j]
//
// It is the product of a max-pooling's cotangents, one value per window at
// the pixel the window selected, with the columns of a convolution's
// windows (a weight cotangent) or with its weights (an input cotangent):
// a quarter of a dense product's multiply-adds for 2×2 windows.
//
// Each element is summed from zero (beta 0; C's old values, even NaN, are
// then not read) or from its old value, adding the terms of its row in
// the order of i, val's term before val2's: by fused multiply-adds in the
// vector kernels, so the bits depend on the arguments only, never on how
// the work is cut. SpMM panics if a slice is too short, a column index
// is negative or reaches past b, or ptr does not increase.
func SpMM[T tensor.Float](m, n int, ptr, idx []int32, val, b []T, ldb int, val2, b2 []T, beta T, c []T, ldc int) {
	if m < 0 || n < 0 || beta != 0 && beta != 1 || (val2 == nil) != (b2 == nil) {
		panic(fmt.Sprintf("kernels: SpMM of %d rows, %d columns, beta %v, with val2 %t and b2 %t", m, n, beta, val2 != nil, b2 != nil))
	}
	if m == 0 || n == 0 {
		return
	}
	if ldb < n || ldc < n || len(ptr) < m+1 || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels: SpMM of %d×%d with ldb %d, ldc %d, %d row pointers, len(c) %d", m, n, ldb, ldc, len(ptr), len(c)))
	}
	lo, hi := int(ptr[0]), int(ptr[m])
	if lo < 0 || hi > len(idx) || hi > len(val) || val2 != nil && hi > len(val2) {
		panic(fmt.Sprintf("kernels: SpMM entries [%d, %d) of %d indices and %d values", lo, hi, len(idx), len(val)))
	}
	for r := 0; r < m; r++ {
		if ptr[r+1] < ptr[r] {
			panic(fmt.Sprintf("kernels: SpMM row pointers decrease at row %d (%d, %d)", r, ptr[r], ptr[r+1]))
		}
	}
	// rows: the last row q with b[q·ldb+n−1] (and b2's) in the slice, −1
	// if there is none.
	lastRow := func(l int) int {
		if l < n {
			return -1
		}
		return (l - n) / ldb
	}
	rows := lastRow(len(b))
	if val2 != nil {
		rows = min(rows, lastRow(len(b2)))
	}
	for _, q := range idx[lo:hi] {
		if q < 0 || int(q) > rows {
			panic(fmt.Sprintf("kernels: SpMM column index %d of a B of %d rows", q, rows+1))
		}
	}
	set := beta == 0
	switch {
	case is32[T]() && spmmF32 != nil:
		spmmF32(m, n, ptr, idx, as32(val), as32(b), ldb, as32(val2), as32(b2), set, as32(c), ldc)
	case !is32[T]() && spmmF64 != nil:
		spmmF64(m, n, ptr, idx, as64(val), as64(b), ldb, as64(val2), as64(b2), set, as64(c), ldc)
	default:
		spmmGeneric(m, n, ptr, idx, val, b, ldb, val2, b2, set, c, ldc)
	}
}

// spmmGeneric is SpMM in Go (separate multiplies and adds).
func spmmGeneric[T tensor.Float](m, n int, ptr, idx []int32, val, b []T, ldb int, val2, b2 []T, set bool, c []T, ldc int) {
	for r := 0; r < m; r++ {
		cr := c[r*ldc : r*ldc+n]
		if set {
			clear(cr)
		}
		for i := ptr[r]; i < ptr[r+1]; i++ {
			q := int(idx[i]) * ldb
			v, br := val[i], b[q:q+n]
			if val2 == nil {
				for j := range cr {
					cr[j] += v * br[j]
				}
				continue
			}
			v2, br2 := val2[i], b2[q:q+n]
			for j := range cr {
				cr[j] += v * br[j]
				cr[j] += v2 * br2[j]
			}
		}
	}
}
