package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"hesscope/kernels/kerneltest"
	"hesscope/tensor"
)

// dotKernelsF32 and dotKernelsF64 list the unpacked-path kernels this
// machine runs.
func dotKernels[T tensor.Float](gs []*gemmKernel[T]) []*dotKernel[T] {
	var ds []*dotKernel[T]
	for _, g := range gs {
		if g.dot != nil {
			ds = append(ds, g.dot)
		}
	}
	return ds
}

// TestDotTile checks every dot-product tile kernel against dotTileGeneric with
// the same tile and lanes, for depths around the vector width, rows that
// repeat (as edge tiles pass them), guard values after s's used entries and
// NaN and ±Inf propagation.
func TestDotTile(t *testing.T) {
	testDotTile(t, dotKernels(gemmKernelsF32()))
	testDotTile(t, dotKernels(gemmKernelsF64()))
}

func testDotTile[T tensor.Float](t *testing.T, ds []*dotKernel[T]) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range ds {
		for _, steps := range []int{0, 1, 2, 3, 5, 16, 33} {
			for _, special := range []float64{0, math.NaN(), math.Inf(1)} {
				n := steps * d.lanes
				rows := make([][]T, 10)
				for r := range rows {
					rows[r] = make([]T, n)
					for p := range rows[r] {
						rows[r][p] = T(rng.Float64()*2 - 1)
					}
				}
				if special != 0 && n > 0 {
					rows[1][n-1] = T(special) // a row of A
					rows[7][0] = T(special)   // a row of B
				}
				var a [4]unsafe.Pointer
				var b [6]unsafe.Pointer
				ptr := func(r []T) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(r)) }
				for i := 0; i < d.mr; i++ {
					a[i] = ptr(rows[min(i, 2)]) // the last row repeats
				}
				for j := 0; j < d.nr; j++ {
					b[j] = ptr(rows[4+j])
				}
				if n == 0 {
					for i := range a {
						a[i] = ptr(make([]T, 1))
					}
					for j := range b {
						b[j] = ptr(make([]T, 1))
					}
				}
				var got, want [24]T
				for i := range got {
					got[i], want[i] = -7, -7
				}
				d.tile(steps, &a, &b, &got)
				dotTileGeneric(d.mr, d.nr, d.lanes, steps, &a, &b, &want)
				for j := 0; j < d.nr; j++ {
					for i := 0; i < 4; i++ {
						g, w := float64(got[j*4+i]), float64(want[j*4+i])
						if i >= d.mr {
							continue // room for four rows; unused ones are not specified
						}
						tol := 4 * float64(n+2) * kerneltest.Eps[T]() * float64(n+1)
						if math.IsNaN(w) != math.IsNaN(g) || !math.IsNaN(w) && !(math.Abs(g-w) <= tol) && g != w {
							t.Fatalf("%s %T steps=%d special=%v: s[%d,%d] = %v, want %v", d.name, T(0), steps, special, i, j, g, w)
						}
					}
				}
				for i := 4 * d.nr; i < 24; i++ {
					if got[i] != -7 {
						t.Fatalf("%s %T: wrote s[%d] past the tile", d.name, T(0), i)
					}
				}
			}
		}
	}
}

// TestGemmDotPath runs the shared Gemm suite with every A·Bᵀ on the
// unpacked path (whatever its shape), with and without tiny slices.
func TestGemmDotPath(t *testing.T) {
	defer func(old bool) { dotAlways = old }(dotAlways)
	dotAlways = true
	for _, g := range gemmKernelsF32() {
		for _, g := range []*gemmKernel[float32]{g, smallBlocks(g)} {
			t.Run("f32/"+g.name, func(t *testing.T) { kerneltest.Gemm(t, withKernel(g), testing.Short()) })
		}
	}
	for _, g := range gemmKernelsF64() {
		for _, g := range []*gemmKernel[float64]{g, smallBlocks(g)} {
			t.Run("f64/"+g.name, func(t *testing.T) { kerneltest.Gemm(t, withKernel(g), testing.Short()) })
		}
	}
}

// TestGemmDotDeterministic checks that the unpacked path gives the same bits
// for any number of goroutines, on a weight-gradient shape (few rows, a
// long inner dimension with a tail, edge tiles in both directions).
func TestGemmDotDeterministic(t *testing.T) {
	for _, g := range gemmKernelsF32() {
		testDotDeterministic(t, g)
	}
	for _, g := range gemmKernelsF64() {
		testDotDeterministic(t, g)
	}
}

func testDotDeterministic[T tensor.Float](t *testing.T, g *gemmKernel[T]) {
	m, n, k := 30, 145, 1031
	rng := rand.New(rand.NewPCG(3, 4))
	a := make([]T, m*k)
	b := make([]T, n*k)
	for i := range a {
		a[i] = T(rng.NormFloat64())
	}
	for i := range b {
		b[i] = T(rng.NormFloat64())
	}
	if !g.dot.useDot(m, n, k) {
		t.Fatalf("%s: %d×%d×%d not on the unpacked path", g.name, m, n, k)
	}
	defer swapKernel(g)()
	sameBitsForAnyThreads(t, g.name, m*n, func(c []T) { Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n) })
}

// sameBitsForAnyThreads runs gemm into a fresh C of size elements on 1, 2,
// 3 and 5 goroutines and fails unless every run gives the first one's bits.
func sameBitsForAnyThreads[T tensor.Float](t *testing.T, name string, size int, gemm func(c []T)) {
	t.Helper()
	var first []T
	for _, procs := range []int{1, 2, 3, 5} {
		func() {
			defer setParallel(procs)()
			c := make([]T, size)
			gemm(c)
			if first == nil {
				first = c
				return
			}
			for i := range c {
				if math.Float64bits(float64(c[i])) != math.Float64bits(float64(first[i])) {
					t.Fatalf("%s: %d goroutines: c[%d] = %v, first run %v", name, procs, i, c[i], first[i])
				}
			}
		}()
	}
}

// BenchmarkGemmDot times the weight-gradient products of the zoo's thin
// convolutions, W̄ = ȳ·im2col(x)ᵀ (O×K, inner dimension the pixels of a
// chunk, doubled in a parameter HVP), in float32 on one goroutine: on the
// unpacked path ("dot") and on the packed one ("packed").
//
//	go test -run '^$' -bench GemmDot ./kernels
func BenchmarkGemmDot(b *testing.B) {
	for _, s := range []struct {
		name    string
		m, n, k int
	}{
		{"resnet20-l1", 16, 144, 1024},
		{"resnet20-l1-pair", 16, 144, 2048},
		{"resnet20-l2", 32, 288, 256},
		{"resnet20-l3-pair", 64, 576, 512},
		{"resnet20-l3", 64, 576, 256},
		{"c1-conv2", 64, 1600, 400},
		{"c1-conv2-pair", 64, 1600, 800},
		{"lenet5-conv2", 50, 500, 256},
		{"c2-conv2", 64, 576, 784},
		{"c2-conv3", 128, 576, 288},
		{"c2-conv4", 128, 1152, 300},
		{"c2-conv4-pair", 128, 1152, 600},
		{"128x1152x1024", 128, 1152, 1024},
		{"96x864x512", 96, 864, 512},
		{"resnet18-l2", 128, 1152, 256},
		{"128x1152x128", 128, 1152, 128},
		{"square-256", 256, 256, 256},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		x := make([]float32, s.m*s.k)
		y := make([]float32, s.n*s.k)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range y {
			y[i] = float32(rng.NormFloat64())
		}
		c := make([]float32, s.m*s.n)
		for _, path := range []string{"dot", "packed"} {
			b.Run(s.name+"/"+path, func(b *testing.B) {
				defer setParallel(1)()
				defer func(old int) { dotMaxThin = old }(dotMaxThin)
				if path == "packed" {
					dotMaxThin = -1
				}
				b.SetBytes(0)
				for i := 0; i < b.N; i++ {
					Gemm(false, true, s.m, s.n, s.k, 1, x, s.k, y, s.k, 1, c, s.n)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestAddDot checks the merge's fast paths (addDot4x6, addDotTile) bit for
// bit against mergeDot with alpha 1: for later slices (C += s) and for a
// first slice with beta 1.
func TestAddDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const ldc = 9
	for _, tile := range [][2]int{{4, 6}, {3, 4}, {4, 4}, {1, 1}} {
		mr, nr := tile[0], tile[1]
		for _, first := range []bool{false, true} {
			var s [24]float32
			for i := range s {
				s[i] = float32(rng.NormFloat64())
			}
			c := make([]float32, 4*ldc)
			for i := range c {
				c[i] = float32(rng.NormFloat64())
			}
			want := append([]float32(nil), c...)
			mergeDot(want, ldc, &s, mr, nr, 1, 1, first)
			if mr == 4 && nr == 6 {
				addDot4x6(c, ldc, &s)
			} else {
				addDotTile(c, ldc, &s, mr, nr)
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d×%d first=%v: c[%d] = %v, mergeDot gives %v", mr, nr, first, i, c[i], want[i])
				}
			}
		}
	}
}

// TestGemmNTRows checks the product with B's rows given by offsets against
// Gemm on B gathered into a matrix, bit for bit, on the dot path (rows at
// every alignment, the depth's tail included, one and several goroutines)
// and on the gathering fallback (a product too wide for the dot path).
func TestGemmNTRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, c := range []struct{ m, n, k int }{{16, 144, 1024}, {7, 13, 37}, {64, 576, 256}, {200, 200, 64}} {
		for _, procs := range []int{1, 3} {
			func() {
				defer setParallel(procs)()
				base := make([]float32, c.n*c.k+40)
				for i := range base {
					base[i] = float32(rng.NormFloat64())
				}
				rows := make([]int, c.n)
				b := make([]float32, c.n*c.k)
				for j := range rows {
					rows[j] = rng.IntN(len(base) - c.k + 1)
					copy(b[j*c.k:(j+1)*c.k], base[rows[j]:rows[j]+c.k])
				}
				a := make([]float32, c.m*c.k)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				got, want := make([]float32, c.m*c.n), make([]float32, c.m*c.n)
				for i := range got {
					got[i] = float32(i % 5)
					want[i] = got[i]
				}
				GemmNTRows(c.m, c.n, c.k, 1, a, c.k, base, rows, 1, got, c.n)
				Gemm(false, true, c.m, c.n, c.k, 1, a, c.k, b, c.k, 1, want, c.n)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v procs %d (dot %v): C[%d] = %v, want %v", c, procs, DotRows[float32](c.m, c.n, c.k), i, got[i], want[i])
					}
				}
			}()
		}
	}
}
