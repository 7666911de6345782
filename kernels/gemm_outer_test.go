package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmInPlace checks the unpacked 16×16 blocks against a float64 loop,
// A as it lies and transposed, C set (its NaNs not read) and added to, for
// 1 to 16 blocks and depths from 1 to 300 (over outerKC: sums in parts),
// with leading dimensions wider than the matrices (the values between the
// rows of C untouched), A and B ending at an unreadable page, a NaN in A
// spreading to its row of C only, and the shapes it declines left alone;
// PackedA.GemmInPlace with the same A gives the same bits.
func TestGemmInPlace(t *testing.T) {
	if !GemmInPlaceFast[float32]() {
		if GemmInPlace(false, 16, 16, 4, make([]float32, 64), 4, make([]float32, 64), 16, 1, make([]float32, 256), 16) {
			t.Fatal("GemmInPlace ran without its kernel")
		}
		t.Skip("no AVX-512 (or purego): GemmInPlace declines every product")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ m, n, k, padA, padB, padC int }{
		{16, 16, 1, 0, 0, 0},
		{16, 16, 128, 3, 0, 5},
		{32, 16, 77, 0, 16, 0},
		{16, 64, 300, 1, 2, 3},
		{64, 32, 36, 16, 0, 16},
		{48, 48, 17, 0, 0, 1},
	} {
		for _, transA := range []bool{false, true} {
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
				if !GemmInPlace(transA, c.m, c.n, c.k, a, lda, b, ldb, beta, cm, ldc) {
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
		m, n int
		beta float32
	}{{8, 16, 1}, {16, 24, 1}, {16, 16, 0.5}} {
		if GemmInPlace(false, c.m, c.n, 4, make([]float32, 24*4), 4, make([]float32, 4*24), 24, c.beta, cm, 24) {
			t.Errorf("GemmInPlace(%d, %d, beta %v): ran on what it should decline", c.m, c.n, c.beta)
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

// BenchmarkGemmInPlace times the products of Winograd's weight cotangents
// it runs (M̄_ξ += Ȳ_ξ·Ũ_ξ, ResNet-20's layers: [c, 128 tiles] by [128,
// c]) on one goroutine, in GFLOP/s.
func BenchmarkGemmInPlace(b *testing.B) {
	if !GemmInPlaceFast[float32]() {
		b.Skip("no AVX-512")
	}
	for _, c := range []int{16, 32, 64} {
		k := 128
		a, bm, cm := make([]float32, c*k), make([]float32, k*c), make([]float32, c*c)
		for i := range a {
			a[i] = float32(i%7) - 3
		}
		for i := range bm {
			bm[i] = float32(i%5) - 2
		}
		b.Run(fmt.Sprintf("c%d", c), func(b *testing.B) {
			for b.Loop() {
				GemmInPlace(false, c, c, k, a, k, bm, c, 1, cm, c)
			}
			b.ReportMetric(2*float64(c*c*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
