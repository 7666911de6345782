package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"hesscope/kernels/kerneltest"
	"hesscope/tensor"
)

// TestGemmStridedPath runs the shared Gemm suite with every product without
// transB on the unpacked-B path (whatever its shape), with and without tiny
// slices, on the kernels that have one.
func TestGemmStridedPath(t *testing.T) {
	defer func(old bool) { stridedAlways = old }(stridedAlways)
	stridedAlways = true
	for _, g := range gemmKernelsF32() {
		if g.strided == nil {
			continue
		}
		for _, g := range []*gemmKernel[float32]{g, smallBlocks(g)} {
			t.Run("f32/"+g.name, func(t *testing.T) { kerneltest.Gemm(t, withKernel(g), testing.Short()) })
		}
	}
	for _, g := range gemmKernelsF64() {
		if g.strided == nil {
			continue
		}
		for _, g := range []*gemmKernel[float64]{g, smallBlocks(g)} {
			t.Run("f64/"+g.name, func(t *testing.T) { kerneltest.Gemm(t, withKernel(g), testing.Short()) })
		}
	}
}

// TestStridedMicro checks each unpacked-B micro-kernel against microGeneric
// on the same product with B packed, for every partial tile (rows × cols),
// depths around the unrolling, and NaN in C where beta is 0. B's last row
// ends right after the tile's columns, at an unreadable page, so a read
// past column cols of a row faults; C has guard values around the tile,
// and NaN in B's gaps between rows.
func TestStridedMicro(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		testStridedMicro(t, g.strided)
	}
	for _, g := range gemmKernelsF64() {
		testStridedMicro(t, g.strided)
	}
}

// testStridedMicro checks s's kernel and, if it has one, its wide twin.
func testStridedMicro[T tensor.Float](t *testing.T, s *stridedKernel[T]) {
	if s == nil {
		return
	}
	testStridedTile(t, s.name, s.mr, s.mr, s.nr, s.micro)
	if s.wide != nil {
		testStridedTile(t, s.name+"/wide", s.mr, s.mr, s.wideNR, s.wide)
	}
	if s.edge != nil {
		testStridedTile(t, s.name+"/edge", s.mr, s.mr, s.edgeNR, s.edge)
	}
	if s.short.mr > 0 {
		testStridedTile(t, s.name+"/short", s.short.mr, s.mr, s.nr, s.short.micro)
		if s.wide != nil {
			testStridedTile(t, s.name+"/short-wide", s.short.mr, s.mr, s.wideNR, s.short.wide)
		}
		if s.edge != nil {
			testStridedTile(t, s.name+"/short-edge", s.short.mr, s.mr, s.edgeNR, s.short.edge)
		}
	}
}

// testStridedTile checks a kernel of mr×nr tiles that reads A in panels of
// panel ≥ mr rows (only the first mr).
func testStridedTile[T tensor.Float](t *testing.T, name string, mr, panel, nr int, micro func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int, off *int)) {
	rng := rand.New(rand.NewPCG(9, 10))
	ks := []int{1, 3, 4, 5, 8, 9, 64, 129}
	if testing.Short() {
		ks = []int{1, 5, 9}
	}
	for _, k := range ks {
		for rows := 1; rows <= mr; rows++ {
			for cols := 1; cols <= nr; cols++ {
				for _, beta := range []T{0, 1, 0.5} {
					ldb := cols + 5
					b := guardedTail[T](t, (k-1)*ldb+cols) // ends at the last element read
					for i := range b {
						b[i] = T(math.NaN()) // the gaps between rows
					}
					for p := 0; p < k; p++ {
						for j := 0; j < cols; j++ {
							b[p*ldb+j] = T(rng.Float64()*2 - 1)
						}
					}
					a := make([]T, k*panel)
					for i := range a {
						a[i] = T(rng.Float64()*2 - 1)
					}
					bp := make([]T, k*nr) // B packed, zero past cols
					for p := 0; p < k; p++ {
						copy(bp[p*nr:p*nr+cols], b[p*ldb:p*ldb+cols])
					}
					ldc := nr + 3
					c := make([]T, (mr+2)*ldc)
					for i := range c {
						c[i] = -99
					}
					tile := c[ldc:]
					for i := 0; i < rows; i++ {
						for j := 0; j < cols; j++ {
							if beta == 0 {
								tile[i*ldc+j] = T(math.NaN())
							} else {
								tile[i*ldc+j] = T(rng.Float64())
							}
						}
					}
					want := append([]T(nil), c...)
					microGeneric(panel, nr, k, a, bp, want[ldc:], ldc, 1.5, beta, rows, cols)
					off := make([]int, k+4)
					for p := range off {
						off[p] = min(p, k-1) * ldb * int(unsafe.Sizeof(T(0)))
					}
					micro(k, a, b, tile, ldc, 1.5, beta, rows, cols, &off[0])
					tol := 4 * float64(k+2) * kerneltest.Eps[T]() * 2
					for i := range c {
						if d := math.Abs(float64(c[i]) - float64(want[i])); !(d <= tol*(1+math.Abs(float64(want[i])))) {
							t.Fatalf("%s %T k=%d rows=%d cols=%d beta=%v: c[%d] = %v, want %v", name, T(0), k, rows, cols, beta, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestGemmStridedDeterministic checks that the unpacked-B path gives the
// same bits for any number of goroutines, on a convolution's shape.
func TestGemmStridedDeterministic(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		testStridedDeterministic(t, g)
	}
	for _, g := range gemmKernelsF64() {
		testStridedDeterministic(t, g)
	}
}

func testStridedDeterministic[T tensor.Float](t *testing.T, g *gemmKernel[T]) {
	if g.strided == nil {
		return
	}
	m, n, k := 40, 1000, 301
	rng := rand.New(rand.NewPCG(3, 4))
	a := make([]T, m*k)
	b := make([]T, k*n)
	for i := range a {
		a[i] = T(rng.NormFloat64())
	}
	for i := range b {
		b[i] = T(rng.NormFloat64())
	}
	if !g.strided.useStrided(m, n, k, n) {
		t.Fatalf("%s: %d×%d×%d not on the unpacked-B path", g.name, m, n, k)
	}
	defer swapKernel(g)()
	sameBitsForAnyThreads(t, g.name, m*n, func(c []T) { Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
	// GemmRows as a 3×3 convolution reads a padded 20×50 image with 33
	// channels, n = 18·50 (two columns of each output row are junk).
	const h, w = 20, 50
	img := make([]T, 33*h*w)
	for i := range img {
		img[i] = T(rng.NormFloat64())
	}
	rows := make([]int, 0, 33*9)
	for ch := 0; ch < 33; ch++ {
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				rows = append(rows, ch*h*w+i*w+j)
			}
		}
	}
	k, n = len(rows), (h-2)*w-2
	if !g.strided.useStrided(m, n, k, rowStep(rows)) {
		t.Fatalf("%s: GemmRows %d×%d×%d not on the unpacked-B path", g.name, m, n, k)
	}
	sameBitsForAnyThreads(t, g.name+"/rows", m*n, func(c []T) { GemmRows(false, m, n, k, 1, a, k, img, rows, 0, c, n) })
}

// TestStridedPageRows checks which products the unpacked-B path leaves to
// the packed one for B rows a multiple of 4 KiB apart, and rowStep.
func TestStridedPageRows(t *testing.T) {
	s32 := &stridedKernel[float32]{mr: 6, nr: 16}
	s64 := &stridedKernel[float64]{mr: 6, nr: 8}
	for _, tc := range []struct {
		f64      bool
		pageRows bool
		n, step  int
		want     bool
	}{
		{false, false, 1024, 1024, false},
		{false, false, 1024, 2048, false},
		{false, false, 1024, 1088, true},
		{false, false, 1024, 0, true}, // uneven rows
		{false, false, 512, 512, true},
		{true, false, 512, 512, false},
		{true, false, 256, 256, true},
		{false, true, 1024, 1024, true},
		{true, true, 512, 512, true},
	} {
		var got bool
		if tc.f64 {
			s64.pageRows = tc.pageRows
			got = s64.useStrided(32, tc.n, 144, tc.step)
		} else {
			s32.pageRows = tc.pageRows
			got = s32.useStrided(32, tc.n, 144, tc.step)
		}
		if got != tc.want {
			t.Errorf("%+v: useStrided = %v, want %v", tc, got, tc.want)
		}
	}
	for _, tc := range []struct {
		rows []int
		want int
	}{
		{nil, 0}, {[]int{5}, 0}, {[]int{0, 7}, 7}, {[]int{3, 10, 17, 24}, 7}, {[]int{0, 1, 2, 4}, 0}, {[]int{9, 9, 9}, 0},
	} {
		if got := rowStep(tc.rows); got != tc.want {
			t.Errorf("rowStep(%v) = %d, want %d", tc.rows, got, tc.want)
		}
	}
}

// BenchmarkGemmStrided times the forward products of the zoo's thin
// convolutions, W·im2col(x) (O×K by K×pixels, doubled columns in a JVP), on
// one goroutine with each kernel that has an unpacked-B path: on that path
// ("strided") and on the packed one ("packed"), in float32 and (the "-f64"
// cases) float64. The "-rows" widths are those of GemmRows on padded
// images (32·34 pixels); at the others, powers of two, B's rows lie a
// multiple of 4 KiB apart and the AVX2 kernel leaves them to the packed
// path (stridedKernel.pageRows). GFLOP/cpu-s is the speed per CPU-second,
// for a shared machine.
//
//	go test -run '^$' -bench GemmStrided -benchtime 20x ./kernels
func BenchmarkGemmStrided(b *testing.B) {
	for _, s := range []struct {
		name    string
		m, n, k int
	}{
		{"resnet20-l1", 16, 1024, 144},
		{"resnet20-l1-rows", 16, 1088, 144},
		{"resnet20-l1-pair", 16, 2048, 144},
		{"resnet20-l2", 32, 256, 288},
		{"resnet20-l2-rows", 32, 544, 288},
		{"resnet20-l3", 64, 64, 576},
		{"resnet20-l3-pair", 64, 512, 576},
		{"c1-conv2", 64, 256, 1600},
		{"c2-conv4", 128, 300, 1152},
		{"c2-conv3", 128, 288, 576},
		{"c2-conv2", 64, 838, 576},
		{"resnet18-l1", 64, 1055, 576},
		// Winograd's products per component (one chunk of tiles): C2's
		// third layer (3 images of 36 tiles), its input cotangent (2 of
		// 49), ResNet-20's third stage (8 of 16).
		{"wino-c2-conv3", 128, 108, 64},
		{"wino-c2-conv3-x", 64, 98, 128},
		{"wino-resnet20-l3", 64, 128, 64},
	} {
		for _, g := range gemmKernelsF32() {
			benchStrided(b, s.name, g, s.m, s.n, s.k)
		}
	}
	for _, s := range []struct {
		name    string
		m, n, k int
	}{
		{"resnet20-l1-rows-f64", 16, 1088, 144},
		{"resnet20-l2-f64", 32, 256, 288},
		{"resnet20-l3-pair-f64", 64, 512, 576},
	} {
		for _, g := range gemmKernelsF64() {
			benchStrided(b, s.name, g, s.m, s.n, s.k)
		}
	}
}

func benchStrided[T float32 | float64](b *testing.B, name string, g *gemmKernel[T], m, n, k int) {
	if g.strided == nil {
		return
	}
	// strided: the kernels useWide and the edge pick; narrow: the narrow
	// one always; noedge: no edge kernel.
	for _, path := range []string{"strided", "narrow", "noedge", "packed"} {
		if path == "narrow" && g.strided.wide == nil || path == "noedge" && g.strided.edge == nil {
			continue
		}
		b.Run(name+"/"+g.name+"/"+path, func(b *testing.B) {
			defer setParallel(1)()
			defer func(old int) { stridedMaxM = old }(stridedMaxM)
			defer func(old int) { g.strided.wideMinN = old }(g.strided.wideMinN)
			defer func(old func(int, []T, []T, []T, int, T, T, int, int, *int)) { g.strided.edge = old }(g.strided.edge)
			switch path {
			case "noedge":
				g.strided.edge = nil
			case "packed":
				stridedMaxM = -1
			case "narrow":
				g.strided.wideMinN = math.MaxInt
			}
			benchGemm(b, withKernel(g), false, false, m, n, k)
		})
	}
}

// TestGemmRows checks GemmRows against RefGemm on a matrix whose rows are
// read at scattered, overlapping offsets of b, on the unpacked-B path and
// on the fallback (a product too wide for it, and a named float type), with
// NaN in C where beta is 0 and guard values around C.
func TestGemmRows(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		func() {
			defer swapKernel(g)()
			testGemmRows[float32](t)
		}()
	}
	for _, g := range gemmKernelsF64() {
		func() {
			defer swapKernel(g)()
			testGemmRows[float64](t)
		}()
	}
	testGemmRows[myFloat](t)
}

func testGemmRows[T tensor.Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		transA      bool
		m, n, k     int
		alpha, beta T
	}{
		{false, 16, 100, 27, 1, 0},
		{true, 8, 70, 9, 1, 1},
		{false, 3, 33, 130, 0.5, 2},
		{false, 200, 40, 20, 1, 0}, // too many rows: the fallback
		{false, 5, 1, 3, -1, 0.5},
	} {
		b := make([]T, 500)
		for i := range b {
			b[i] = T(rng.Float64()*2 - 1)
		}
		rows := make([]int, tc.k)
		bm := make([]T, tc.k*tc.n) // B gathered, for the reference
		for p := range rows {
			rows[p] = rng.IntN(len(b) - tc.n + 1)
			copy(bm[p*tc.n:], b[rows[p]:rows[p]+tc.n])
		}
		rows[tc.k-1] = len(b) - tc.n // the last element of b is read
		copy(bm[(tc.k-1)*tc.n:], b[rows[tc.k-1]:])
		lda := tc.k
		if tc.transA {
			lda = tc.m
		}
		a := make([]T, tc.m*tc.k)
		for i := range a {
			a[i] = T(rng.Float64()*2 - 1)
		}
		ldc := tc.n + 2
		cBuf := make([]T, tc.m*ldc+4)
		for i := range cBuf {
			cBuf[i] = -77
		}
		c := cBuf[2 : 2+(tc.m-1)*ldc+tc.n]
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				if tc.beta == 0 {
					c[i*ldc+j] = T(math.NaN())
				} else {
					c[i*ldc+j] = T(rng.Float64())
				}
			}
		}
		ref, scale := kerneltest.RefGemm(tc.transA, false, tc.m, tc.n, tc.k, tc.alpha, a, lda, bm, tc.n, tc.beta, c, ldc)
		GemmRows(tc.transA, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, rows, tc.beta, c, ldc)
		for i := range cBuf {
			r, col := (i-2)/ldc, (i-2)%ldc
			inside := i >= 2 && r < tc.m && col < tc.n
			if !inside && cBuf[i] != -77 {
				t.Fatalf("%T %+v: wrote outside C at %d", T(0), tc, i)
			}
		}
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				got, want := float64(c[i*ldc+j]), ref[i*tc.n+j]
				if tol := 2 * float64(tc.k+2) * kerneltest.Eps[T]() * scale[i*tc.n+j]; !(math.Abs(got-want) <= tol) {
					t.Fatalf("%T %+v: C[%d,%d] = %v, want %v", T(0), tc, i, j, got, want)
				}
			}
		}
	}
	for _, bad := range [][]int{{0, 1, 496}, {0, -1, 3}, {0, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("GemmRows with rows %v of a 500-element b: no panic", bad)
				}
			}()
			GemmRows(false, 2, 5, 3, 1, make([]T, 6), 3, make([]T, 500), bad, 0, make([]T, 10), 5)
		}()
	}
}

// TestStridedWide checks that the wide tiles of the unpacked-B path give
// the bits of its narrow ones, for products whose right edge the wide
// kernel computes (cols > nr) or leaves to the narrow one, on one
// goroutine and on several.
func TestStridedWide(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		testStridedWide(t, g)
	}
	for _, g := range gemmKernelsF64() {
		testStridedWide(t, g)
	}
}

func testStridedWide[T tensor.Float](t *testing.T, g *gemmKernel[T]) {
	s := g.strided
	if s == nil || s.wide == nil {
		return
	}
	defer swapKernel(g)()
	rng := rand.New(rand.NewPCG(5, 6))
	const m, k = 28, 37 // with AVX-512, a last panel of 4 rows (short tiles)
	// No right edge, an edge for the narrow kernel, one for the wide, one
	// for the edge kernel.
	for _, n := range []int{11 * s.wideNR, 11*s.wideNR + s.nr, 11*s.wideNR + s.nr + 8, 11*s.wideNR + 5} {
		if !s.useWide(n, 3) {
			t.Fatalf("%s: n = %d not in wide tiles", s.name, n)
		}
		product := randProduct[T](rng, m, n, k)
		for _, procs := range []int{1, 3} {
			restore := setParallel(procs)
			wide := product.run()
			old, edge, short := s.wideMinN, s.edge, s.short
			s.wideMinN, s.edge, s.short = math.MaxInt, nil, stridedShort[T]{}
			narrow := product.run() // narrow tiles, no edge or short kernels
			s.wideMinN, s.edge, s.short = old, edge, short
			restore()
			product.check(t, fmt.Sprintf("%s %T n=%d procs=%d", s.name, T(0), n, procs), wide, narrow)
		}
	}
}

func TestStridedUseWide(t *testing.T) {
	none := func(int, []float32, []float32, []float32, int, float32, float32, int, int, *int) {}
	s := &stridedKernel[float32]{mr: 8, nr: 32, wideNR: 48, wideMinN: 192, wide: none}
	for _, c := range []struct {
		n, procs int
		want     bool
	}{
		{64, 2, false},  // below wideMinN
		{191, 2, false}, // below wideMinN
		{200, 2, true},  // 4·48 + 8 (narrow edge): 224 columns, as 7·32
		{256, 2, false}, // 5·48 + 16: 272 columns against 256
		{288, 2, true},  // 6·48
		{300, 2, true},  // 6·48 + 12: 320 columns, as 10·32
		{544, 2, false}, // 11·48 + 16: 560 against 544
		{568, 2, true},  // 11·48 + 40 (wide edge): 576, as 18·32
		{1055, 2, true}, // 21·48 + 47: 1056, as 33·32
		{144, 1, true},  // one goroutine: 3·48 against 5·32
		{128, 1, true},  // 2·48 + 32 against 4·32: the same columns
		{64, 1, false},  // 48 + 16 against 2·32
		{1055, 1, true}, // as with several
	} {
		if got := s.useWide(c.n, c.procs); got != c.want {
			t.Errorf("useWide(%d, %d) = %v, want %v", c.n, c.procs, got, c.want)
		}
	}
	// With an 8×16 kernel for the edges, both tilings compute the columns
	// rounded up to 16: wide where the goroutines allow.
	s.edge, s.edgeNR = none, 16
	for _, n := range []int{64, 128, 200, 256, 544} {
		if !s.useWide(n, 1) {
			t.Errorf("with edge tiles, useWide(%d, 1) = false", n)
		}
	}
	if s.useWide(128, 2) {
		t.Error("with edge tiles, useWide(128, 2) = true, below wideMinN")
	}
	s.wide = nil
	if s.useWide(288, 1) {
		t.Error("useWide(288, 1) with no wide kernel")
	}
}

// TestStridedShort checks that a product whose last panel has at most
// short.mr rows, computed there by the short kernels, has the bits of the
// whole-panel kernels', and is right.
func TestStridedShort(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		testStridedShort(t, g)
	}
	for _, g := range gemmKernelsF64() {
		testStridedShort(t, g)
	}
}

func testStridedShort[T tensor.Float](t *testing.T, g *gemmKernel[T]) {
	s := g.strided
	if s == nil || s.short.mr == 0 {
		return
	}
	defer swapKernel(g)()
	defer setParallel(1)()
	rng := rand.New(rand.NewPCG(7, 8))
	const k = 41
	// Columns in whole tiles and with right edges of 5, 20 and 40 (for
	// the edge, narrow and wide kernels with AVX-512); last panels of 1,
	// short.mr and short.mr + 1 rows.
	for _, n := range []int{96, 101, 116, 136} {
		for _, m := range []int{3*s.mr + 1, 3*s.mr + s.short.mr, 3*s.mr + s.short.mr + 1} {
			product := randProduct[T](rng, m, n, k)
			got := product.run()
			short := s.short
			s.short = stridedShort[T]{}
			whole := product.run()
			s.short = short
			product.check(t, fmt.Sprintf("%s %T m=%d n=%d", s.name, T(0), m, n), got, whole)
		}
	}
}

// gemmCase is a product C = A·B of random factors for the tests that
// compare two ways of computing it.
type gemmCase[T tensor.Float] struct {
	m, n, k int
	a, b    []T
}

// randProduct returns an m×n×k product of normal random factors.
func randProduct[T tensor.Float](rng *rand.Rand, m, n, k int) gemmCase[T] {
	g := gemmCase[T]{m: m, n: n, k: k, a: make([]T, m*k), b: make([]T, k*n)}
	for i := range g.a {
		g.a[i] = T(rng.NormFloat64())
	}
	for i := range g.b {
		g.b[i] = T(rng.NormFloat64())
	}
	return g
}

// run computes the product by Gemm.
func (g gemmCase[T]) run() []T {
	c := make([]T, g.m*g.n)
	Gemm(false, false, g.m, g.n, g.k, 1, g.a, g.k, g.b, g.n, 0, c, g.n)
	return c
}

// check fails t unless got has the bits of other and is within rounding
// of the float64 reference product.
func (g gemmCase[T]) check(t *testing.T, what string, got, other []T) {
	t.Helper()
	for i := range got {
		if math.Float64bits(float64(got[i])) != math.Float64bits(float64(other[i])) {
			t.Fatalf("%s: c[%d] = %v, %v the other way", what, i, got[i], other[i])
		}
	}
	ref, scale := kerneltest.RefGemm(false, false, g.m, g.n, g.k, 1, g.a, g.k, g.b, g.n, 0, nil, g.n)
	for i := range ref {
		if d := math.Abs(float64(got[i]) - ref[i]); !(d <= 2*float64(g.k)*kerneltest.Eps[T]()*scale[i]) {
			t.Fatalf("%s: c[%d] = %v, want %v", what, i, got[i], ref[i])
		}
	}
}
