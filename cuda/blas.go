//go:build cuda

package cuda

import (
	"fmt"
	"sync"
)

// cuBLAS functions, bound by loadBLAS.
var (
	cublasCreate      func(h *uintptr) int32
	cublasDestroy     func(h uintptr) int32
	cublasSetMathMode func(h uintptr, mode int32) int32
	cublasSgemm       func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
	cublasDgemm       func(h uintptr, ta, tb, m, n, k int32, alpha *float64, a uint64, lda int32, b uint64, ldb int32, beta *float64, c uint64, ldc int32) int32
)

var (
	blasOnce sync.Once
	blasErr  error
)

// loadBLAS loads cuBLAS once per process.
func loadBLAS() error {
	blasOnce.Do(func() {
		lib, err := openLib("cuBLAS", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"}, "libcublasLt.so.13", "libcublasLt.so.12")
		if err != nil {
			blasErr = err
			return
		}
		blasErr = bind(lib, "cuBLAS", map[string]any{
			"cublasCreate_v2": &cublasCreate, "cublasDestroy_v2": &cublasDestroy,
			"cublasSetMathMode": &cublasSetMathMode,
			"cublasSgemm_v2":    &cublasSgemm, "cublasDgemm_v2": &cublasDgemm,
		})
	})
	return blasErr
}

const (
	cublasOpN = 0
	cublasOpT = 1
	// cublasPedanticMath computes float32 in float32 (no TF32, no reduced
	// precision), as the CPU engine does.
	cublasPedanticMath = 2
)

func blasCheck(r int32, call string) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("cuda: cuBLAS %s failed with status %d", call, r)
}

// newBLAS creates a cuBLAS handle on the current context.
func newBLAS() (uintptr, error) {
	if err := loadBLAS(); err != nil {
		return 0, err
	}
	var h uintptr
	if err := blasCheck(cublasCreate(&h), "cublasCreate"); err != nil {
		return 0, err
	}
	if err := blasCheck(cublasSetMathMode(h, cublasPedanticMath), "cublasSetMathMode"); err != nil {
		return 0, err
	}
	return h, nil
}

// colMajorGemm is a cuBLAS GEMM call: C = α·op(A)·op(B) + β·C with
// column-major matrices, C m×n with leading dimension ldc, op(A) m×k,
// op(B) k×n.
type colMajorGemm struct {
	opA, opB      int32
	m, n, k       int
	a, b          devptr
	lda, ldb, ldc int
}

// toColMajor maps the row-major product C = op(A)·op(B) (C [m, n], op(A)
// [m, k] with A stored [k, m] if ta, op(B) [k, n] with B stored [n, k] if
// tb) to cuBLAS's column-major convention: the row-major storage of a
// matrix is its transpose in column-major, so cuBLAS computes
// Cᵀ = op(B)ᵀ·op(A)ᵀ, B first.
func toColMajor(ta, tb bool, m, n, k int, a, b devptr) colMajorGemm {
	g := colMajorGemm{opA: cublasOpN, opB: cublasOpN, m: n, n: m, k: k, a: b, b: a, lda: n, ldb: k, ldc: n}
	if tb {
		g.opA, g.lda = cublasOpT, k
	}
	if ta {
		g.opB, g.ldb = cublasOpT, m
	}
	return g
}

// gemm computes C = α·op(A)·op(B) + β·C for row-major matrices (see
// backend.gemm) with cuBLAS.
func gemm(h uintptr, dtype int32, ta, tb bool, m, n, k int, alpha float64, a, b devptr, beta float64, c devptr) {
	g := toColMajor(ta, tb, m, n, k, a, b)
	var r int32
	if dtype == dnnFloat {
		al, be := float32(alpha), float32(beta)
		r = cublasSgemm(h, g.opA, g.opB, int32(g.m), int32(g.n), int32(g.k), &al, uint64(g.a), int32(g.lda), uint64(g.b), int32(g.ldb), &be, uint64(c), int32(g.ldc))
	} else {
		r = cublasDgemm(h, g.opA, g.opB, int32(g.m), int32(g.n), int32(g.k), &alpha, uint64(g.a), int32(g.lda), uint64(g.b), int32(g.ldb), &beta, uint64(c), int32(g.ldc))
	}
	must(blasCheck(r, fmt.Sprintf("gemm %d×%d×%d", m, n, k)))
}
