// Package kerneltest holds the test suites that every implementation of a
// kernel in package kernels runs: the same cases, reference and tolerances
// for the pure-Go and the assembly backends.
package kerneltest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// GemmFunc has the signature of kernels.Gemm.
type GemmFunc[T tensor.Float] func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)

// RefGemm is the naive triple loop for C = alpha·op(A)·op(B) + beta·C,
// accumulated in float64. It also returns, for each element of C, the bound
// |alpha|·Σ|a·b| + |beta·c| that scales its rounding error. With beta = 0 the
// old C is ignored.
func RefGemm[T tensor.Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) (ref, scale []float64) {
	ref = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var x, y float64
				if transA {
					x = float64(a[p*lda+i])
				} else {
					x = float64(a[i*lda+p])
				}
				if transB {
					y = float64(b[j*ldb+p])
				} else {
					y = float64(b[p*ldb+j])
				}
				s += x * y
				sa += math.Abs(x * y)
			}
			r := float64(alpha) * s
			sc := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
				sc += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			ref[i*n+j], scale[i*n+j] = r, sc
		}
	}
	return ref, scale
}

// Eps is the unit round-off of T.
func Eps[T tensor.Float]() float64 {
	var x T
	if _, ok := any(x).(float32); ok {
		return 0x1p-24
	}
	if math.Float64bits(float64(T(1)+T(0x1p-30))) != math.Float64bits(1) {
		return 0x1p-53
	}
	return 0x1p-24
}

// GemmCase is one call of a GemmFunc.
type GemmCase struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float64
	PadA, PadB     int // lda - minimum, ldb - minimum
	PadC           int // ldc - n
}

func (c GemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s/m=%d,n=%d,k=%d/alpha=%g,beta=%g/pad=%d,%d,%d",
		t(c.TransA), t(c.TransB), c.M, c.N, c.K, c.Alpha, c.Beta, c.PadA, c.PadB, c.PadC)
}

// Sizes returns the matrix sizes the suite tries: around powers of two and
// the register tiles of the kernels (1 … 129), fewer in short mode.
func Sizes(short bool) []int {
	if short {
		return []int{1, 3, 7, 16, 17, 33, 65}
	}
	return []int{1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 65, 129}
}

// GemmCases returns the cases of TestGemm: every m, n, k from Sizes, with the
// transpose combination, alpha/beta and padding rotating, then all four
// transpose combinations on deep products (k past the usual kc) and on
// larger matrices.
func GemmCases(short bool) []GemmCase {
	ab := [][2]float64{{1, 0}, {1, 1}, {-0.5, 0}, {2, 0.5}, {1, -1}, {0.75, 1}, {0, 2}}
	pads := [][3]int{{0, 0, 0}, {3, 1, 5}, {1, 7, 2}}
	sizes := Sizes(short)
	var cs []GemmCase
	idx := 0
	add := func(m, n, k, tr int) {
		cs = append(cs, GemmCase{
			TransA: tr&1 != 0, TransB: tr&2 != 0, M: m, N: n, K: k,
			Alpha: ab[idx%len(ab)][0], Beta: ab[idx%len(ab)][1],
			PadA: pads[idx%len(pads)][0], PadB: pads[idx%len(pads)][1], PadC: pads[idx%len(pads)][2],
		})
		idx++
	}
	for _, m := range sizes {
		for _, n := range sizes {
			for i, k := range sizes {
				add(m, n, k, idx+i)
			}
		}
	}
	for _, s := range [][3]int{{0, 5, 3}, {5, 0, 3}, {4, 5, 0}, {0, 0, 0}} {
		add(s[0], s[1], s[2], idx)
	}
	big := [][3]int{{33, 47, 300}, {13, 70, 530}, {100, 9, 257}, {130, 129, 513}}
	if short {
		big = big[:2]
	}
	for _, s := range big {
		for tr := 0; tr < 4; tr++ {
			add(s[0], s[1], s[2], tr)
		}
	}
	return cs
}

// Gemm checks gemm against RefGemm on cases from GemmCases, and on the same
// cases after some rows and columns are added, with guard values around C
// (and in the padding between rows) that must survive, inputs that must not
// change, and NaN in C wherever beta is 0.
func Gemm[T tensor.Float](t *testing.T, gemm GemmFunc[T], short bool) {
	t.Helper()
	for _, c := range GemmCases(short) {
		if !GemmCheck(t, gemm, c) {
			return // one failure says enough
		}
	}
}

// GemmCheck runs one case and reports whether it passed.
func GemmCheck[T tensor.Float](t *testing.T, gemm GemmFunc[T], tc GemmCase) bool {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(tc.M*1000003+tc.N*1009+tc.K), 7))
	ar, ac := tc.M, tc.K
	if tc.TransA {
		ar, ac = ac, ar
	}
	br, bc := tc.K, tc.N
	if tc.TransB {
		br, bc = bc, br
	}
	lda, ldb, ldc := max(ac, 1)+tc.PadA, max(bc, 1)+tc.PadB, max(tc.N, 1)+tc.PadC
	a := make([]T, ar*lda)
	b := make([]T, br*ldb)
	for i := range a {
		a[i] = T(rng.Float64()*2 - 1)
	}
	for i := range b {
		b[i] = T(rng.Float64()*2 - 1)
	}
	const guardLen = 37
	guard := T(-1234.5)
	cBuf := make([]T, guardLen+tc.M*ldc+guardLen)
	for i := range cBuf {
		cBuf[i] = guard
	}
	c := cBuf[guardLen : guardLen+tc.M*ldc]
	for i := 0; i < tc.M; i++ {
		for j := 0; j < tc.N; j++ {
			if tc.Beta == 0 {
				c[i*ldc+j] = T(math.NaN())
			} else {
				c[i*ldc+j] = T(rng.Float64()*2 - 1)
			}
		}
	}
	a0, b0 := append([]T(nil), a...), append([]T(nil), b...)
	ref, scale := RefGemm(tc.TransA, tc.TransB, tc.M, tc.N, tc.K, T(tc.Alpha), a, lda, b, ldb, T(tc.Beta), c, ldc)

	// Trim the slices to the minimum length, so reads past the end panic.
	aLen, bLen, cLen := 0, 0, 0
	if ar > 0 && ac > 0 {
		aLen = (ar-1)*lda + ac
	}
	if br > 0 && bc > 0 {
		bLen = (br-1)*ldb + bc
	}
	if tc.M > 0 && tc.N > 0 {
		cLen = (tc.M-1)*ldc + tc.N
	}
	gemm(tc.TransA, tc.TransB, tc.M, tc.N, tc.K, T(tc.Alpha), a[:aLen:aLen], lda, b[:bLen:bLen], ldb, T(tc.Beta), c[:cLen:cLen], ldc)

	eps := Eps[T]()
	for i := range a {
		if math.Float64bits(float64(a[i])) != math.Float64bits(float64(a0[i])) {
			t.Errorf("%v: a[%d] changed", tc, i)
			return false
		}
	}
	for i := range b {
		if math.Float64bits(float64(b[i])) != math.Float64bits(float64(b0[i])) {
			t.Errorf("%v: b[%d] changed", tc, i)
			return false
		}
	}
	for i := range cBuf {
		r, col := (i-guardLen)/max(ldc, 1), (i-guardLen)%max(ldc, 1)
		inside := i >= guardLen && i < guardLen+tc.M*ldc && col < tc.N
		if !inside && cBuf[i] != guard {
			t.Errorf("%v: wrote %v outside C at offset %d (row %d, col %d)", tc, cBuf[i], i-guardLen, r, col)
			return false
		}
	}
	for i := 0; i < tc.M; i++ {
		for j := 0; j < tc.N; j++ {
			got := float64(c[i*ldc+j])
			want := ref[i*tc.N+j]
			tol := 2*float64(tc.K+2)*eps*scale[i*tc.N+j] + 1e-300
			if !(math.Abs(got-want) <= tol) {
				t.Errorf("%v: C[%d,%d] = %v, want %v (tolerance %.3g)", tc, i, j, got, want, tol)
				return false
			}
		}
	}
	return true
}
