package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"hesscope/kernels/kerneltest"
	"hesscope/tensor"
)

// withKernel returns Gemm with T's kernel replaced by g for the call.
func withKernel[T tensor.Float](g *gemmKernel[T]) kerneltest.GemmFunc[T] {
	return func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
		defer swapKernel(g)()
		Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// swapKernel makes g the kernel Gemm uses for T and returns the undo.
func swapKernel[T tensor.Float](g *gemmKernel[T]) func() {
	switch g := any(g).(type) {
	case *gemmKernel[float32]:
		old := kernelF32
		kernelF32 = g
		return func() { kernelF32 = old }
	case *gemmKernel[float64]:
		old := kernelF64
		kernelF64 = g
		return func() { kernelF64 = old }
	}
	panic("swapKernel: unsupported type")
}

// smallBlocks returns g with tiny cache blocks, so that moderate sizes cross
// every blocking loop (jc, pc, ic) several times.
func smallBlocks[T tensor.Float](g *gemmKernel[T]) *gemmKernel[T] {
	s := *g
	s.name += "/small-blocks"
	s.kc, s.mc, s.nc = 37, 2*g.mr, 3*g.nr
	s.pools = new(gemmPools[T])
	if g.dot != nil {
		d := *g.dot
		d.kc = 2 * d.lanes
		s.dot = &d
	}
	if g.strided != nil {
		st := *g.strided
		st.kc = 37
		s.strided = &st
	}
	return &s
}

func testGemmKernels[T tensor.Float](t *testing.T, kernels []*gemmKernel[T]) {
	for _, g := range kernels {
		for _, g := range []*gemmKernel[T]{g, smallBlocks(g)} {
			t.Run(g.name, func(t *testing.T) {
				kerneltest.Gemm(t, withKernel(g), testing.Short())
			})
		}
		// The parallel path on small sizes, with more goroutines than CPUs.
		t.Run(g.name+"/3-procs", func(t *testing.T) {
			defer setParallel(3)()
			kerneltest.Gemm(t, withKernel(smallBlocks(g)), true)
		})
	}
}

// setParallel makes every Gemm run on procs goroutines and returns the undo.
func setParallel(procs int) func() {
	oldMin, oldProcs := gemmParallelMin, gemmProcs
	gemmParallelMin, gemmProcs = 1, procs
	return func() { gemmParallelMin, gemmProcs = oldMin, oldProcs }
}

// TestGemmBlocking checks what the determinism of the split relies on: cache
// blocks are whole register tiles.
func TestGemmBlocking(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		if g.mc%g.mr != 0 || g.nc%g.nr != 0 {
			t.Errorf("f32 %s: mc=%d nc=%d not multiples of mr=%d nr=%d", g.name, g.mc, g.nc, g.mr, g.nr)
		}
	}
	for _, g := range gemmKernelsF64() {
		if g.mc%g.mr != 0 || g.nc%g.nr != 0 {
			t.Errorf("f64 %s: mc=%d nc=%d not multiples of mr=%d nr=%d", g.name, g.mc, g.nc, g.mr, g.nr)
		}
	}
}

func TestGemmFloat32(t *testing.T) { testGemmKernels(t, gemmKernelsF32()) }
func TestGemmFloat64(t *testing.T) { testGemmKernels(t, gemmKernelsF64()) }

type myFloat float32

func TestGemmNamedType(t *testing.T) {
	kerneltest.Gemm(t, Gemm[myFloat], true)
}

// TestGemmMicro checks each micro-kernel against its Go twin, microGeneric,
// for depths around the unrolling, with guard values around the tile.
func TestGemmMicro(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		testMicro(t, g)
	}
	for _, g := range gemmKernelsF64() {
		testMicro(t, g)
	}
}

func testMicro[T tensor.Float](t *testing.T, g *gemmKernel[T]) {
	rng := rand.New(rand.NewPCG(1, 2))
	mr, nr := g.mr, g.nr
	type shape struct{ rows, cols int }
	shapes := []shape{{mr, nr}}
	if g.masked {
		for _, rows := range []int{1, mr / 2, mr - 1, mr} {
			for _, cols := range []int{1, 3, nr/2 - 1, nr / 2, nr/2 + 1, nr - 1, nr} {
				shapes = append(shapes, shape{rows, cols})
			}
		}
	}
	for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 64, 255} {
		for _, beta := range []T{0, 1, 0.5} {
			for _, ldc := range []int{nr, nr + 3} {
				for _, sh := range shapes {
					a := make([]T, k*mr)
					b := make([]T, k*nr)
					for i := range a {
						a[i] = T(rng.Float64()*2 - 1)
					}
					for i := range b {
						b[i] = T(rng.Float64()*2 - 1)
					}
					const guard = -99
					c := make([]T, (mr+2)*ldc)
					for i := range c {
						c[i] = guard
					}
					tile := c[ldc : ldc+(sh.rows-1)*ldc+sh.cols]
					for i := 0; i < sh.rows; i++ {
						for j := 0; j < sh.cols; j++ {
							if beta == 0 {
								tile[i*ldc+j] = T(math.NaN())
							} else {
								tile[i*ldc+j] = T(rng.Float64())
							}
						}
					}
					want := append([]T(nil), c...)
					microGeneric(mr, nr, k, a, b, want[ldc:], ldc, 1.5, beta, sh.rows, sh.cols)
					g.micro(k, a, b, tile, ldc, 1.5, beta, sh.rows, sh.cols)
					tol := 4 * float64(k+2) * kerneltest.Eps[T]() * 2
					for i := range c {
						d := math.Abs(float64(c[i]) - float64(want[i]))
						if !(d <= tol*(1+math.Abs(float64(want[i])))) {
							t.Fatalf("%s k=%d beta=%v ldc=%d rows=%d cols=%d: c[%d] (row %d) = %v, want %v",
								g.name, k, beta, ldc, sh.rows, sh.cols, i, i/ldc-1, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestGemmDeterministic checks that results are bit-identical run to run and
// for any number of goroutines.
func TestGemmDeterministic(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		testDeterministic(t, g)
	}
	for _, g := range gemmKernelsF64() {
		testDeterministic(t, g)
	}
}

func testDeterministic[T tensor.Float](t *testing.T, g *gemmKernel[T]) {
	m, n, k := 301, 283, 611
	if testing.Short() {
		m, n, k = 150, 97, 300
	}
	rng := rand.New(rand.NewPCG(3, 4))
	a := make([]T, m*k)
	b := make([]T, k*n)
	for i := range a {
		a[i] = T(rng.NormFloat64())
	}
	for i := range b {
		b[i] = T(rng.NormFloat64())
	}
	defer swapKernel(g)()
	var first []T
	for _, procs := range []int{1, 2, 2, 3} {
		func() {
			defer setParallel(procs)()
			c := make([]T, m*n)
			Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
			if first == nil {
				first = c
				return
			}
			for i := range c {
				if math.Float64bits(float64(c[i])) != math.Float64bits(float64(first[i])) {
					t.Fatalf("%s: %d goroutines: c[%d] = %v, first run %v", g.name, procs, i, c[i], first[i])
				}
			}
		}()
	}
}

// TestBusy checks that a large product fans out over GOMAXPROCS goroutines
// except while a caller holds Busy (nested holds included), and again after
// the last release.
func TestBusy(t *testing.T) {
	if gemmProcs > 0 {
		t.Skip("gemmProcs fixes the number of goroutines")
	}
	procs := func() int {
		p, done := gemmProcsFor(1024, 1024, 1024)
		done()
		return p
	}
	want := runtime.GOMAXPROCS(0)
	if got := procs(); got != want {
		t.Fatalf("free: %d goroutines, want %d", got, want)
	}
	outer := Busy()
	inner := Busy()
	if got := procs(); got != 1 {
		t.Errorf("busy twice: %d goroutines, want 1", got)
	}
	inner()
	if got := procs(); got != 1 {
		t.Errorf("busy once: %d goroutines, want 1", got)
	}
	outer()
	if got := procs(); got != want {
		t.Errorf("released: %d goroutines, want %d", got, want)
	}
}

// TestGemmConcurrent calls Gemm from several goroutines at once, as a
// parallel layer does: every result must equal a lone call's, bit for bit.
func TestGemmConcurrent(t *testing.T) {
	m, n, k := 150, 130, 170
	rng := rand.New(rand.NewPCG(5, 6))
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	want := make([]float32, m*n)
	Gemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	const workers = 4
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			c := make([]float32, m*n)
			for r := 0; r < 3; r++ {
				Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
						errs <- fmt.Errorf("c[%d] = %v, want %v", i, c[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestGemmPanics(t *testing.T) {
	a := make([]float32, 12)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Gemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) }},
		{"short lda", func() { Gemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"short a", func() { Gemm(true, false, 4, 2, 4, 1, a, 4, a, 2, 0, a, 2) }},
		{"short ldc", func() { Gemm(false, false, 2, 3, 2, 1, a, 2, a, 3, 0, a, 2) }},
		{"short c", func() { Gemm(false, false, 3, 3, 2, 1, a, 2, a, 3, 0, a[:8], 3) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func ExampleGemm() {
	a := []float64{1, 2, 3, 4, 5, 6} // 2×3
	b := []float64{1, 0, 0, 1, 1, 1} // 3×2
	c := make([]float64, 4)
	Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output: [4 5 10 11]
}

// TestCopyPanel checks copyPanel, copyPanelS2, addPanel, addPanelS2 and
// transPanel (assembly on amd64, with AVX-512 and AVX2) against their Go
// twins, with guard values past the panel.
func TestCopyPanel(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		testCopyPanel[float32](t)
		testCopyPanel[float64](t)
	})
}

// TestBiasPanel checks biasPanel (the output rows of a product plus the
// bias, float32 and float64, every instruction set) against its Go twin
// bit for bit, the source ending at an unreadable page right after the
// last element read and the destination right after the last written.
func TestBiasPanel(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		testBiasPanel[float32](t)
		testBiasPanel[float64](t)
	})
}

func testBiasPanel[T tensor.Float](t *testing.T) {
	for w := 1; w <= 34; w++ {
		for _, rows := range []int{1, 2, 5, 11} {
			ld := w + 3
			src := guardedTail[T](t, (rows-1)*ld+w)
			for i := range src {
				src[i] = T(i+1) / 7
				if i%5 == 0 {
					src[i] = T(math.Copysign(0, -1))
				}
			}
			got := guardedTail2[T](t, rows*w)
			want := make([]T, rows*w)
			for _, b := range []T{0.25, T(math.Copysign(0, -1))} {
				biasPanel(got, src, ld, rows, w, b)
				biasPanelGeneric(want, src, ld, rows, w, b)
				for i := range got {
					if math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) {
						t.Fatalf("biasPanel %T w=%d rows=%d b=%v: dst[%d] = %v, want %v", T(0), w, rows, b, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func testCopyPanel[T tensor.Float](t *testing.T) {
	for _, w := range []int{1, 2, 3, 6, 8, 9, 12, 16, 24, 25, 30, 32, 33, 34, 40, 48, 49, 63, 64} {
		for cols := 1; cols <= w; cols++ {
			// The source and the destination end at an unreadable page
			// right after the last element read and written (11 rows: a
			// whole-vector store of a narrow row reaches 7 rows on).
			for _, rows := range []int{1, 2, 5, 11} {
				ld := cols + 3
				src := guardedTail[T](t, (rows-1)*ld+cols)
				for i := range src {
					src[i] = T(i + 1)
				}
				got := guardedTail2[T](t, rows*w)
				want := make([]T, rows*w)
				for i := range got {
					got[i], want[i] = -1, -1
				}
				copyPanel(got, w, src, ld, rows, cols)
				copyPanelGeneric(want, w, src, ld, rows, cols)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%T w=%d cols=%d rows=%d: dst[%d] = %v, want %v", T(0), w, cols, rows, i, got[i], want[i])
					}
				}
			}
			// Every other element (stride-2 im2col rows), the source
			// ending at an unreadable page right after the last element
			// read.
			for _, rows := range []int{1, 2, 5, 11} {
				ld := 2*cols + 3
				src := guardedTail[T](t, (rows-1)*ld+2*cols-1)
				for i := range src {
					src[i] = T(i + 1)
				}
				got := make([]T, rows*w+5)
				want := make([]T, rows*w+5)
				for i := range got {
					got[i], want[i] = -1, -1
				}
				copyPanelS2(got, w, src, ld, rows, cols)
				copyPanelS2Generic(want, w, src, ld, rows, cols)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("copyPanelS2 %T w=%d cols=%d rows=%d: dst[%d] = %v, want %v", T(0), w, cols, rows, i, got[i], want[i])
					}
				}
				if want[0] != 1 || cols > 1 && want[1] != 3 {
					t.Fatalf("copyPanelS2Generic %T: row 0 starts %v, %v; want 1, 3", T(0), want[0], want[1])
				}
			}
			// Adding into every other element (stride-2 col2im rows), both
			// ending at an unreadable page; the odd elements, −0 here, must
			// keep their bits.
			for _, rows := range []int{1, 2, 5} {
				n := cols
				ldSrc, ldDst := n+2, 2*n+1
				src := guardedTail[T](t, (rows-1)*ldSrc+n)
				for i := range src {
					src[i] = T(i + 1)
				}
				got := guardedTail2[T](t, (rows-1)*ldDst+2*n-1)
				want := make([]T, len(got))
				for i := range got {
					got[i] = T(i) / 4
					if i%2 == 1 {
						got[i] = T(math.Copysign(0, -1))
					}
					want[i] = got[i]
				}
				addPanelS2(got, ldDst, src, ldSrc, rows, n)
				addPanelS2Generic(want, ldDst, src, ldSrc, rows, n)
				for i := range got {
					if math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) {
						t.Fatalf("addPanelS2 %T n=%d rows=%d: dst[%d] = %v, want %v", T(0), n, rows, i, got[i], want[i])
					}
				}
				if want[0] != 1 || rows > 1 && want[ldDst] != T(ldSrc+1) { // row 1 starts at an odd index, −0 + src
					t.Fatalf("addPanelS2Generic %T: rows start %v, %v", T(0), want[0], want[ldDst])
				}
			}
			// Adding rows (col2im rows), both ending at an unreadable page.
			for _, rows := range []int{1, 2, 5} {
				n := cols
				ldSrc, ldDst := n+2, n+5
				src := guardedTail[T](t, (rows-1)*ldSrc+n)
				for i := range src {
					src[i] = T(i + 1)
				}
				got := guardedTail2[T](t, (rows-1)*ldDst+n)
				want := make([]T, len(got))
				for i := range got {
					got[i] = T(i) / 4
					want[i] = got[i]
				}
				addPanel(got, ldDst, src, ldSrc, rows, n)
				addPanelGeneric(want, ldDst, src, ldSrc, rows, n)
				for i := range got {
					if math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) {
						t.Fatalf("addPanel %T n=%d rows=%d: dst[%d] = %v, want %v", T(0), n, rows, i, got[i], want[i])
					}
				}
				if want[0] != 1 || rows > 1 && want[ldDst] != T(ldDst)/4+T(ldSrc+1) {
					t.Fatalf("addPanelGeneric %T: rows start %v, %v", T(0), want[0], want[ldDst])
				}
			}
			// The transpose: cols rows of length kb (16×16 blocks in
			// registers for float32: whole, partial and several blocks),
			// the source ending at an unreadable page.
			for _, kb := range []int{1, 2, 5, 16, 17, 40} {
				ld := kb + 3
				src := guardedTail[T](t, (cols-1)*ld+kb)
				for i := range src {
					src[i] = T(i + 1)
				}
				got := make([]T, kb*w+5)
				want := make([]T, kb*w+5)
				for i := range got {
					got[i], want[i] = -1, -1
				}
				transPanel(got, w, src, ld, kb, cols)
				transPanelGeneric(want, w, src, ld, kb, cols)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("transPanel %T w=%d rows=%d kb=%d: dst[%d] = %v, want %v", T(0), w, cols, kb, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestAddWindows checks addWindows (assembly on amd64, with AVX-512 and
// AVX2) against its Go twin on every row width up to 16, one to five
// windows with shifted masks (empty, partial and full) and guard pages
// after both operands; lanes no window reaches, −0 here, must keep their
// bits.
func TestAddWindows(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		testAddWindows[float32](t)
		testAddWindows[float64](t)
	})
}

func testAddWindows[T tensor.Float](t *testing.T) {
	for w := 1; w <= 16; w++ {
		for kw := 1; kw <= 5; kw++ {
			for _, rows := range []int{1, 3} {
				var offs [8]int
				var masks [8]uint16
				ldSrc, jStride := w+1, 3*w+7
				last := 0 // one past the largest source index read
				for j := 0; j < kw; j++ {
					// Window j covers lanes [lo, hi): shifted by j, the
					// last window empty when kw is 5.
					lo, hi := min(j, w), max(min(w, w-kw/2+j), min(j, w))
					if kw == 5 && j == 4 {
						hi = lo
					}
					offs[j] = j*jStride + 2 - lo
					if hi > lo {
						masks[j] = uint16((1<<hi - 1) &^ (1<<lo - 1))
						last = max(last, (rows-1)*ldSrc+offs[j]+hi)
					}
				}
				if last == 0 {
					continue
				}
				// The source ends right after the last element read.
				src := guardedTail[T](t, last)
				for i := range src {
					src[i] = T(i%13 + 1)
				}
				ldDst := w + 2
				got := guardedTail2[T](t, (rows-1)*ldDst+w)
				want := make([]T, len(got))
				for i := range got {
					got[i] = T(math.Copysign(0, -1))
					if i%3 == 0 {
						got[i] = T(i) / 8
					}
					want[i] = got[i]
				}
				addWindows(got, src, &offs, &masks, rows, ldDst, ldSrc, kw, w)
				addWindowsGeneric(want, src, &offs, &masks, rows, ldDst, ldSrc, kw, w)
				for i := range got {
					if math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) {
						t.Fatalf("addWindows %T w=%d kw=%d rows=%d: dst[%d] = %v, want %v", T(0), w, kw, rows, i, got[i], want[i])
					}
				}
			}
		}
	}
	// The twin itself: one window of two lanes at shift 1.
	dst := []float32{1, 1, 1}
	addWindowsGeneric(dst, []float32{5, 6, 7, 8}, &[8]int{1}, &[8]uint16{0b110}, 1, 3, 4, 1, 3)
	if dst[0] != 1 || dst[1] != 8 || dst[2] != 9 {
		t.Fatalf("addWindowsGeneric: %v, want [1 8 9]", dst)
	}
}
