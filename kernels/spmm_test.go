package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// spmmVariant is one implementation of SpMM on checked arguments.
type spmmVariant[F float32 | float64] struct {
	name string
	f    spmmOf[F]
}

// spmmAll lists the Go loop and every vector kernel this machine runs
// (spmmVectors, by build).
func spmmAll[F float32 | float64]() []spmmVariant[F] {
	return append([]spmmVariant[F]{{"generic", spmmGeneric[F]}}, spmmVectors[F]()...)
}

// fma32 is float32's fused multiply-add, a·b + c rounded once: a·b is
// exact in float64, the sum rounded to float64 by round-to-odd (from the
// rounding error that TwoSum gives), which float32 then rounds correctly
// (53 ≥ 2·24 + 2 bits).
func fma32(a, b, c float32) float32 {
	p, q := float64(a)*float64(b), float64(c)
	s := p + q
	bb := s - p
	e := (p - (s - bb)) + (q - bb)
	if e != 0 && !math.IsNaN(e) && !math.IsInf(s, 0) && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}

// spmmFMA is SpMM's contract as a plain loop: every element summed from
// zero (set) or from C, one fused multiply-add per term in the order of
// the entries, val's before val2's.
func spmmFMA[F float32 | float64](m, n int, ptr, idx []int32, val, b []F, ldb int, val2, b2 []F, set bool, c []F, ldc int) {
	fma := func(a, b, c F) F {
		if unsafe.Sizeof(a) == 4 {
			return F(fma32(float32(a), float32(b), float32(c)))
		}
		return F(math.FMA(float64(a), float64(b), float64(c)))
	}
	for r := 0; r < m; r++ {
		for j := 0; j < n; j++ {
			var s F
			if !set {
				s = c[r*ldc+j]
			}
			for i := ptr[r]; i < ptr[r+1]; i++ {
				q := int(idx[i]) * ldb
				s = fma(val[i], b[q+j], s)
				if val2 != nil {
					s = fma(val2[i], b2[q+j], s)
				}
			}
			c[r*ldc+j] = s
		}
	}
}

// spmmCase is one product of TestSpMM.
type spmmCase struct {
	m, n, rows, ldb, ldc int
	pair, set            bool
	maxEntries           int // per row: 0 to maxEntries, random
}

func (c spmmCase) String() string {
	return fmt.Sprintf("m=%d n=%d rows=%d ldb=%d ldc=%d pair=%v set=%v", c.m, c.n, c.rows, c.ldb, c.ldc, c.pair, c.set)
}

// spmmArgs are the arguments of one product, C as it was before.
type spmmArgs[F float32 | float64] struct {
	ptr, idx           []int32
	val, b, val2, b2   []F
	c                  []F
	first, entriesUsed int
}

// newSpmmArgs draws a product: rows of 0 to maxEntries entries (some
// empty, uneven neighbours for the row groups' rests), the entries
// starting past ptr[0] = first with junk before it (indices out of range,
// never read), indices random with repeats and the last row of B among
// them, B (and B₂) ending at an unreadable page where the OS allows,
// values between C's rows and past its end as sentinels, and C's own
// values NaN when set (never read).
func newSpmmArgs[F float32 | float64](t *testing.T, rng *rand.Rand, c spmmCase) spmmArgs[F] {
	var a spmmArgs[F]
	a.first = rng.IntN(3)
	a.ptr = make([]int32, c.m+1)
	a.ptr[0] = int32(a.first)
	for r := 0; r < c.m; r++ {
		k := rng.IntN(c.maxEntries + 1)
		if r%5 == 3 {
			k = 0
		}
		a.ptr[r+1] = a.ptr[r] + int32(k)
	}
	hi := int(a.ptr[c.m])
	a.idx = make([]int32, hi)
	a.val = make([]F, hi)
	for i := range a.idx {
		if i < a.first {
			a.idx[i] = -7 // not an entry of any row
			continue
		}
		a.idx[i] = int32(rng.IntN(c.rows))
		a.val[i] = F(rng.NormFloat64())
	}
	if hi > a.first {
		a.idx[a.first+rng.IntN(hi-a.first)] = int32(c.rows - 1)
	}
	lenB := (c.rows-1)*c.ldb + c.n
	a.b = guardedTail[F](t, lenB)
	for i := range a.b {
		a.b[i] = F(rng.NormFloat64())
	}
	if c.pair {
		a.val2 = make([]F, hi)
		for i := range a.val2 {
			a.val2[i] = F(rng.NormFloat64())
		}
		a.b2 = guardedTail2[F](t, lenB)
		for i := range a.b2 {
			a.b2[i] = F(rng.NormFloat64())
		}
	}
	a.c = make([]F, max(0, (c.m-1)*c.ldc+c.n)+5)
	for i := range a.c {
		a.c[i] = F(rng.NormFloat64())
		if c.set && i/c.ldc < c.m && i%c.ldc < c.n {
			a.c[i] = F(math.NaN())
		}
	}
	return a
}

func (a spmmArgs[F]) run(f spmmOf[F], c spmmCase) []F {
	out := append([]F(nil), a.c...)
	f(c.m, c.n, a.ptr, a.idx, a.val, a.b, c.ldb, a.val2, a.b2, c.set, out, c.ldc)
	return out
}

// spmmCases lists TestSpMM's products: m from 0 to 13 (every remainder of
// the row groups of 2 to 4), n from 1 to 40, 47, 500, 513 and a few
// below each multiple of 8 and 16 up to 256 (blocks of every width, tails
// of every length, several blocks), B of 1 to 200
// rows, leading dimensions wider than n, C set and added to, with and
// without the second product.
func spmmCases(rng *rand.Rand) []spmmCase {
	var cs []spmmCase
	ns := []int{47, 500, 513}
	for n := 1; n <= 40; n++ {
		ns = append(ns, n)
	}
	for v := 4; v <= 16; v++ { // blocks of every width up to 16 vectors
		ns = append(ns, 16*v-5, 8*v-3)
	}
	for _, n := range ns {
		for _, pair := range []bool{false, true} {
			for _, set := range []bool{false, true} {
				m := []int{0, 1, 2, 3, 5, 6, 7, 13}[rng.IntN(8)]
				if n == 1 || n == 500 {
					m = 13
				}
				rows := 1 + rng.IntN(40)
				if n == 513 {
					rows = 200
				}
				cs = append(cs, spmmCase{
					m: m, n: n, rows: rows,
					ldb: n + rng.IntN(3), ldc: n + rng.IntN(3),
					pair: pair, set: set, maxEntries: 1 + rng.IntN(12),
				})
			}
		}
	}
	return cs
}

// TestSpMM checks every implementation on spmmCases: float64 bit for bit
// against spmmFMA (the vector kernels) and within rounding of it (the Go
// loop's separate multiplies and adds); float32 bit for bit against
// spmmFMA's single-rounding emulation (the vector kernels, so AVX-512 and
// AVX2 give the same bits) and within rounding of a float64 sum (all);
// C's NaNs not read when set, nothing outside C's n columns written.
func TestSpMM(t *testing.T) {
	testSpMM[float32](t)
	testSpMM[float64](t)
}

func testSpMM[F float32 | float64](t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	vs := spmmAll[F]()
	if spmmWantVectors() && len(vs) < 2 {
		t.Fatal("no vector kernels on a machine with AVX2 or AVX-512")
	}
	typ := "float64"
	eps := 0x1p-53
	if unsafe.Sizeof(F(0)) == 4 {
		typ, eps = "float32", 0x1p-24
	}
	for _, c := range spmmCases(rng) {
		a := newSpmmArgs[F](t, rng, c)
		want := a.run(spmmFMA[F], c)
		for _, v := range vs {
			got := a.run(v.f, c)
			name := fmt.Sprintf("%s %s %v", typ, v.name, c)
			for i := range got {
				r, j := i/c.ldc, i%c.ldc
				if r >= c.m || j >= c.n {
					if math.Float64bits(float64(got[i])) != math.Float64bits(float64(a.c[i])) {
						t.Fatalf("%s: value %d outside C changed: %v, was %v", name, i, got[i], a.c[i])
					}
					continue
				}
				if v.name != "generic" {
					if math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) {
						t.Fatalf("%s: C[%d, %d] = %v, want %v (fused multiply-adds in order)", name, r, j, got[i], want[i])
					}
					continue
				}
				// The Go loop: within rounding of the exact sum.
				var exact, mag float64
				if !c.set {
					exact, mag = float64(a.c[i]), math.Abs(float64(a.c[i]))
				}
				terms := 1
				for e := a.ptr[r]; e < a.ptr[r+1]; e++ {
					q := int(a.idx[e]) * c.ldb
					x := float64(a.val[e]) * float64(a.b[q+j])
					mag += math.Abs(x)
					terms += 2
					if c.pair {
						x2 := float64(a.val2[e]) * float64(a.b2[q+j])
						x += x2
						mag += math.Abs(x2)
						terms += 2
					}
					exact += x
				}
				if d := math.Abs(float64(got[i]) - exact); !(d <= float64(terms)*eps*mag) {
					t.Fatalf("%s: C[%d, %d] = %v, want %v (off by %.3g)", name, r, j, got[i], exact, d)
				}
			}
		}
	}
}

// TestSpMMFloat32Exact checks the float32 vector kernels within rounding
// of a float64 sum as well (a test of spmmFMA's float32 emulation too):
// the shapes of the benchmark's use cases.
func TestSpMMFloat32Exact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, v := range spmmAll[float32]() {
		for _, c := range []spmmCase{
			{m: 50, n: 500, rows: 256, ldb: 500, ldc: 500, maxEntries: 64, pair: true},
			{m: 256, n: 500, rows: 50, ldb: 500, ldc: 501, maxEntries: 7, set: true},
			{m: 20, n: 25, rows: 576, ldb: 25, ldc: 25, maxEntries: 144, set: true},
		} {
			a := newSpmmArgs[float32](t, rng, c)
			got := a.run(v.f, c)
			for r := 0; r < c.m; r++ {
				for j := 0; j < c.n; j++ {
					var exact, mag float64
					if !c.set {
						exact, mag = float64(a.c[r*c.ldc+j]), math.Abs(float64(a.c[r*c.ldc+j]))
					}
					terms := 1
					for e := a.ptr[r]; e < a.ptr[r+1]; e++ {
						q := int(a.idx[e]) * c.ldb
						x := float64(a.val[e]) * float64(a.b[q+j])
						mag += math.Abs(x)
						if c.pair {
							x2 := float64(a.val2[e]) * float64(a.b2[q+j])
							x += x2
							mag += math.Abs(x2)
						}
						exact += x
						terms += 4
					}
					if d := math.Abs(float64(got[r*c.ldc+j]) - exact); !(d <= float64(terms)*0x1p-24*mag) {
						t.Fatalf("%s %v: C[%d, %d] = %v, want %v (off by %.3g)", v.name, c, r, j, got[r*c.ldc+j], exact, d)
					}
				}
			}
		}
	}
}

// TestSpMMDispatch checks that SpMM runs a vector kernel where the CPU has
// one (every instruction set: withISAs), with SpMMFast saying so, and
// gives its bits; NaN in S or B spreads to its row only, and a beta of 1
// with no entries leaves C as it was.
func TestSpMMDispatch(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		testSpMMDispatch[float32](t)
		testSpMMDispatch[float64](t)
	})
}

func testSpMMDispatch[F float32 | float64](t *testing.T) {
	if SpMMFast[F]() != spmmWantVectors() {
		t.Fatalf("SpMMFast = %v on a machine with vector kernels %v", SpMMFast[F](), spmmWantVectors())
	}
	rng := rand.New(rand.NewPCG(9, 10))
	c := spmmCase{m: 11, n: 37, rows: 9, ldb: 40, ldc: 38, maxEntries: 9, pair: true}
	a := newSpmmArgs[F](t, rng, c)
	nanRow := 0
	for a.ptr[nanRow+1] == a.ptr[nanRow] {
		nanRow++
	}
	a.val[a.ptr[nanRow]] = F(math.NaN())
	got := append([]F(nil), a.c...)
	SpMM(c.m, c.n, a.ptr, a.idx, a.val, a.b, c.ldb, a.val2, a.b2, 1, got, c.ldc)
	want := a.run(spmmFMA[F], c)
	for i := range got {
		if r, j := i/c.ldc, i%c.ldc; r < c.m && j < c.n && (r == nanRow) != math.IsNaN(float64(got[i])) {
			t.Fatalf("C[%d, %d] = %v: NaN in row %d of S only", r, j, got[i], nanRow)
		}
		if SpMMFast[F]() && math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) && !math.IsNaN(float64(want[i])) {
			t.Fatalf("value %d = %v, want %v", i, got[i], want[i])
		}
	}
	// Rows 3 and 8 are empty: with beta 1 they keep their values.
	for _, r := range []int{3, 8} {
		for j := 0; j < c.n; j++ {
			if got[r*c.ldc+j] != a.c[r*c.ldc+j] {
				t.Fatalf("empty row %d changed at column %d", r, j)
			}
		}
	}
}

// TestSpMMPanics checks SpMM's argument checks.
func TestSpMMPanics(t *testing.T) {
	ptr := []int32{0, 2, 3}
	idx := []int32{0, 2, 1}
	val := []float32{1, 2, 3}
	b := make([]float32, 3*4) // 3 rows of 4
	c := make([]float32, 2*4)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative m", func() { SpMM(-1, 4, ptr, idx, val, b, 4, nil, nil, 0, c, 4) }},
		{"beta 2", func() { SpMM(2, 4, ptr, idx, val, b, 4, nil, nil, 2, c, 4) }},
		{"val2 without b2", func() { SpMM(2, 4, ptr, idx, val, b, 4, val, nil, 0, c, 4) }},
		{"ldb < n", func() { SpMM(2, 4, ptr, idx, val, b, 3, nil, nil, 0, c, 4) }},
		{"ldc < n", func() { SpMM(2, 4, ptr, idx, val, b, 4, nil, nil, 0, c, 3) }},
		{"short ptr", func() { SpMM(2, 4, ptr[:2], idx, val, b, 4, nil, nil, 0, c, 4) }},
		{"short c", func() { SpMM(2, 4, ptr, idx, val, b, 4, nil, nil, 0, c[:7], 4) }},
		{"short idx", func() { SpMM(2, 4, ptr, idx[:2], val, b, 4, nil, nil, 0, c, 4) }},
		{"short val", func() { SpMM(2, 4, ptr, idx, val[:2], b, 4, nil, nil, 0, c, 4) }},
		{"short val2", func() { SpMM(2, 4, ptr, idx, val, b, 4, val[:2], b, 0, c, 4) }},
		{"short b", func() { SpMM(2, 4, ptr, idx, val, b[:11], 4, nil, nil, 0, c, 4) }},
		{"short b2", func() { SpMM(2, 4, ptr, idx, val, b, 4, val, b[:11], 0, c, 4) }},
		{"b2 shorter than a row", func() { SpMM(2, 4, ptr, idx, val, b, 4, val, b[:3], 0, c, 4) }},
		{"index past b", func() { SpMM(2, 4, ptr, []int32{0, 3, 1}, val, b, 4, nil, nil, 0, c, 4) }},
		{"negative index", func() { SpMM(2, 4, ptr, []int32{0, -1, 1}, val, b, 4, nil, nil, 0, c, 4) }},
		{"negative ptr[0]", func() { SpMM(2, 4, []int32{-1, 2, 3}, idx, val, b, 4, nil, nil, 0, c, 4) }},
		{"decreasing ptr", func() { SpMM(2, 4, []int32{0, 3, 2}, idx, val, b, 4, nil, nil, 0, c, 4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
	// The same arguments, well formed, run.
	SpMM(2, 4, ptr, idx, val, b, 4, val, b, 0, c, 4)
	SpMM(0, 4, nil, nil, val, b, 4, nil, nil, 1, nil, 4)
}

// BenchmarkSpMM times SpMM on one goroutine in GFLOP/s (2·entries·n, twice
// that with the second product) on LeNet-5's shapes, beside the dense
// product that gives the same C (Gemm of S with its zeros, on one
// goroutine: its own GFLOP/s, 2·m·n·rows; compare the times): (a) conv2's
// weight cotangent, 50 rows of 64 entries (4 images × 16 windows) over a
// B of 256 rows by 500 columns; (b) conv2's input cotangent, (a)'s S
// transposed (256 rows of 0 to 50 entries, 12.5 on average) over a B of
// 50 rows by 500; (c) conv1's weight cotangent, 20 rows of 144 entries
// over a B of 576 rows by 25. The pair forms add S₂·B₂ (the dense product
// then has twice the depth, [S S₂] by [B; B₂]). Besides SpMM (the widest
// kernels), each instruction set's kernels and the Go loop.
func BenchmarkSpMM(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	type shape struct {
		name    string
		m, rows int
		n       int
		ptr     []int32
		idx     []int32
	}
	// (a): each entry one of the 4 pixels of its window.
	ptrA, idxA := make([]int32, 51), make([]int32, 0, 50*64)
	for r := 0; r < 50; r++ {
		for w := 0; w < 64; w++ {
			idxA = append(idxA, int32(w*4+rng.IntN(4)))
		}
		ptrA[r+1] = int32(len(idxA))
	}
	// (b): (a)'s pattern transposed.
	ptrB, idxB := make([]int32, 257), make([]int32, len(idxA))
	for _, q := range idxA {
		ptrB[q+1]++
	}
	for q := 0; q < 256; q++ {
		ptrB[q+1] += ptrB[q]
	}
	fill := append([]int32(nil), ptrB[:256]...)
	for r := 0; r < 50; r++ {
		for _, q := range idxA[ptrA[r]:ptrA[r+1]] {
			idxB[fill[q]] = int32(r)
			fill[q]++
		}
	}
	ptrC, idxC := make([]int32, 21), make([]int32, 0, 20*144)
	for r := 0; r < 20; r++ {
		for w := 0; w < 144; w++ {
			idxC = append(idxC, int32(w*4+rng.IntN(4)))
		}
		ptrC[r+1] = int32(len(idxC))
	}
	shapes := []shape{
		{"a-conv2-weights", 50, 256, 500, ptrA, idxA},
		{"b-conv2-input", 256, 50, 500, ptrB, idxB},
		{"c-conv1-weights", 20, 576, 25, ptrC, idxC},
	}
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for _, s := range shapes {
		nnz := len(s.idx)
		val, val2 := randn(nnz), randn(nnz)
		bm, bm2 := randn(s.rows*s.n), randn(s.rows*s.n)
		c := make([]float32, s.m*s.n)
		for _, pair := range []bool{false, true} {
			name := s.name
			v2, b2 := []float32(nil), []float32(nil)
			flops := 2 * float64(nnz*s.n)
			if pair {
				name += "-pair"
				v2, b2 = val2, bm2
				flops *= 2
			}
			run := func(b *testing.B, f func()) {
				f()
				for b.Loop() {
					f()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}
			b.Run(name+"/spmm", func(b *testing.B) {
				run(b, func() { SpMM(s.m, s.n, s.ptr, s.idx, val, bm, s.n, v2, b2, 0, c, s.n) })
			})
			for _, v := range spmmAll[float32]() {
				b.Run(name+"/"+v.name, func(b *testing.B) {
					run(b, func() { v.f(s.m, s.n, s.ptr, s.idx, val, bm, s.n, v2, b2, true, c, s.n) })
				})
			}
			// The dense product: S (and S₂) with their zeros, [S S₂]
			// by [B; B₂].
			k := s.rows
			bd := bm
			if pair {
				k *= 2
				bd = append(append([]float32(nil), bm...), bm2...)
			}
			sd := make([]float32, s.m*k)
			for r := 0; r < s.m; r++ {
				for i := s.ptr[r]; i < s.ptr[r+1]; i++ {
					sd[r*k+int(s.idx[i])] += val[i]
					if pair {
						sd[r*k+s.rows+int(s.idx[i])] += val2[i]
					}
				}
			}
			b.Run(name+"/dense", func(b *testing.B) {
				old := gemmProcs
				gemmProcs = 1
				defer func() { gemmProcs = old }()
				Gemm(false, false, s.m, s.n, k, 1, sd, k, bd, s.n, 0, c, s.n)
				for b.Loop() {
					Gemm(false, false, s.m, s.n, k, 1, sd, k, bd, s.n, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m*s.n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
