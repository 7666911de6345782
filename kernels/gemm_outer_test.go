package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmInPlace checks GemmInPlace against a float64 loop, A as it lies
// (strips of 16 rows) and transposed (strips of 15 to 30 rows, every
// kernel), C set (its NaNs not read) and added to, for 1 to 500 columns
// (whole blocks of 16 and a last one cut by the mask) and depths from 1 to
// 300 (over outerKC: sums in parts), with leading dimensions wider than
// the matrices (the values between the rows of C untouched), A and B
// ending at an unreadable page (the masked block reads nothing past B), a
// NaN in A spreading to its row of C only, and the shapes it declines
// left alone; PackedA.GemmInPlace with the same A gives the same bits, also
// where GemmInPlace declines A as it lies (m not a multiple of 16: the
// bits of Aᵀ in place).
func TestGemmInPlace(t *testing.T) {
	if !GemmInPlaceFast[float32]() {
		if GemmInPlace(false, 16, 16, 4, make([]float32, 64), 4, make([]float32, 64), 16, 1, make([]float32, 256), 16) {
			t.Fatal("GemmInPlace ran without its kernel")
		}
		t.Skip("no AVX-512 (or purego): GemmInPlace declines every product")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	type shape struct{ m, n, k, padA, padB, padC int }
	cases := []shape{
		{16, 16, 1, 0, 0, 0},
		{16, 16, 128, 3, 0, 5},
		{32, 16, 77, 0, 16, 0},
		{16, 64, 300, 1, 2, 3},
		{64, 32, 36, 16, 0, 16},
		{48, 48, 17, 0, 0, 1},
		{16, 1, 9, 0, 0, 0},
		{32, 7, 130, 1, 0, 2},
		{48, 500, 50, 0, 3, 0},
	}
	// Aᵀ only: every strip height from 15 to 30 (m from 16 to 30 in one
	// strip, 31 as 16 + 15, 50, 64 and 500 in several), last blocks of 1
	// to 15 columns.
	transOnly := []shape{{50, 500, 40, 0, 0, 0}, {500, 24, 20, 2, 0, 1}, {64, 9, 129, 0, 1, 0}, {31, 33, 5, 1, 0, 0}}
	for m := 16; m <= 30; m++ {
		transOnly = append(transOnly, shape{m, 16 + m%16, 3, 0, 0, 0})
	}
	for _, c := range append(cases, transOnly...) {
		for _, transA := range []bool{false, true} {
			// GemmInPlace takes A as it lies for m a multiple of 16 only;
			// PackedA.GemmInPlace, any m ≥ 16 (from op(A)'s columns).
			direct := transA || c.m%16 == 0
			for _, beta := range []float32{0, 1} {
				name := fmt.Sprintf("%dx%dx%d transA=%v beta=%v", c.m, c.n, c.k, transA, beta)
				lda, ldb, ldc := c.k+c.padA, c.n+c.padB, c.n+c.padC
				at := func(i, p int) int { return i*lda + p }
				lenA := (c.m-1)*lda + c.k
				if transA {
					lda = c.m + c.padA
					at = func(i, p int) int { return p*lda + i }
					lenA = (c.k-1)*lda + c.m
				}
				a := guardedTail[float32](t, lenA)
				b := guardedTail2[float32](t, (c.k-1)*ldb+c.n)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				nanRow := rng.IntN(c.m)
				a[at(nanRow, rng.IntN(c.k))] = float32(math.NaN())
				cm := make([]float32, (c.m-1)*ldc+c.n+7)
				for i := range cm {
					cm[i] = float32(rng.NormFloat64())
					if beta == 0 && i%ldc < c.n && i%3 == 0 {
						cm[i] = float32(math.NaN()) // not read
					}
				}
				old := append([]float32(nil), cm...)
				// Through a PackedA of the same A: the same bits.
				viaP := append([]float32(nil), cm...)
				pa := PackA(transA, c.m, c.k, a, lda)
				if !pa.GemmInPlace(c.n, b, ldb, beta, viaP, ldc) {
					t.Fatalf("%s: PackedA.GemmInPlace declined", name)
				}
				pa.Release()
				if !direct {
					if GemmInPlace(transA, c.m, c.n, c.k, a, lda, b, ldb, beta, cm, ldc) {
						t.Fatalf("%s: GemmInPlace ran on A as it lies", name)
					}
					// The same bits as from A transposed by hand.
					at := make([]float32, c.k*c.m)
					for i := 0; i < c.m; i++ {
						for p := 0; p < c.k; p++ {
							at[p*c.m+i] = a[i*lda+p]
						}
					}
					if !GemmInPlace(true, c.m, c.n, c.k, at, c.m, b, ldb, beta, cm, ldc) {
						t.Fatalf("%s: declined with Aᵀ", name)
					}
				} else if !GemmInPlace(transA, c.m, c.n, c.k, a, lda, b, ldb, beta, cm, ldc) {
					t.Fatalf("%s: declined", name)
				}
				for i := range cm {
					if math.Float32bits(cm[i]) != math.Float32bits(viaP[i]) {
						t.Fatalf("%s: PackedA.GemmInPlace's value %d = %v, GemmInPlace's %v", name, i, viaP[i], cm[i])
					}
				}
				for i := range cm {
					r, j := i/ldc, i%ldc
					if r >= c.m || j >= c.n {
						if math.Float32bits(cm[i]) != math.Float32bits(old[i]) {
							t.Fatalf("%s: value %d outside C changed: %v, was %v", name, i, cm[i], old[i])
						}
						continue
					}
					var want, mag float64
					if beta == 1 {
						want, mag = float64(old[i]), math.Abs(float64(old[i]))
					}
					for p := 0; p < c.k; p++ {
						v := float64(a[at(r, p)]) * float64(b[p*ldb+j])
						want += v
						mag += math.Abs(v)
					}
					got := float64(cm[i])
					if r == nanRow {
						if !math.IsNaN(got) {
							t.Fatalf("%s: C[%d, %d] = %v, want NaN (row %d of op(A) holds one)", name, r, j, got, r)
						}
						continue
					}
					if d := math.Abs(got - want); !(d <= float64(c.k+1)*0x1p-24*mag) {
						t.Fatalf("%s: C[%d, %d] = %v, want %v (off by %.3g)", name, r, j, got, want, d)
					}
				}
			}
		}
	}
	// What it declines: C untouched.
	cm := make([]float32, 24*24)
	for _, c := range []struct {
		m, n   int
		beta   float32
		transA bool
	}{{8, 16, 1, false}, {20, 16, 1, false}, {8, 16, 1, true}, {15, 16, 0, true}, {16, 16, 0.5, false}, {16, 16, 0.5, true}} {
		if GemmInPlace(c.transA, c.m, c.n, 4, make([]float32, 24*4), 24, make([]float32, 4*24), 24, c.beta, cm, 24) {
			t.Errorf("GemmInPlace(transA %v, %d, %d, beta %v): ran on what it should decline", c.transA, c.m, c.n, c.beta)
		}
	}
	for _, v := range cm {
		if v != 0 {
			t.Fatal("a declined product wrote C")
		}
	}
	if GemmInPlace(false, 16, 16, 4, make([]float64, 64), 4, make([]float64, 64), 16, 1, make([]float64, 256), 16) {
		t.Error("GemmInPlace ran in float64")
	}
}

// BenchmarkGemmInPlace times GemmInPlace on one goroutine, in GFLOP/s:
// the products of Winograd's weight cotangents it runs (M̄_ξ += Ȳ_ξ·Ũ_ξ,
// ResNet-20's layers: [c, 128 tiles] by [128, c]), and LeNet-5's second
// layer's direct products through a PackedA (its 50 rows from op(A)'s
// columns, 2 strips of 25; the input cotangents' 500 from Wᵀ as it lies,
// 17 strips of 29 and 30; a chunk of 4 images), each beside the packed
// kernels' time for the same product (packed: PackedA.Gemm).
func BenchmarkGemmInPlace(b *testing.B) {
	if !GemmInPlaceFast[float32]() {
		b.Skip("no AVX-512")
	}
	fill := func(n int, mod int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%mod) - float32(mod/2)
		}
		return v
	}
	for _, c := range []int{16, 32, 64} {
		k := 128
		a, bm, cm := fill(c*k, 7), fill(k*c, 5), make([]float32, c*c)
		b.Run(fmt.Sprintf("c%d", c), func(b *testing.B) {
			for b.Loop() {
				GemmInPlace(false, c, c, k, a, k, bm, c, 1, cm, c)
			}
			b.ReportMetric(2*float64(c*c*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
	for _, s := range []struct {
		name    string
		transA  bool
		m, n, k int
	}{
		{"lenet5-forward", false, 50, 512, 500},
		{"lenet5-weights", false, 50, 500, 256},
		{"lenet5-input", true, 500, 512, 50},
	} {
		lda := s.k
		if s.transA {
			lda = s.m
		}
		a, bm, cm := fill(s.m*s.k, 7), fill(s.k*s.n, 5), make([]float32, s.m*s.n)
		p := PackA(s.transA, s.m, s.k, a, lda)
		flops := 2 * float64(s.m*s.n*s.k)
		b.Run(s.name+"/inplace", func(b *testing.B) {
			for b.Loop() {
				p.GemmInPlace(s.n, bm, s.n, 0, cm, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(s.name+"/packed", func(b *testing.B) {
			for b.Loop() {
				p.Gemm(false, s.n, 1, bm, s.n, 0, cm, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		p.Release()
	}
}
