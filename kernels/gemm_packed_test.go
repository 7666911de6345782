package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"hesscope/kernels/kerneltest"
	"hesscope/tensor"
)

// viaPacked is Gemm through a PackedA of A on kernel g (nil: the default).
func viaPacked[T tensor.Float](g *gemmKernel[T]) kerneltest.GemmFunc[T] {
	return func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
		if g != nil {
			defer swapKernel(g)()
		}
		p := PackA(transA, m, k, a, lda)
		defer p.Release()
		p.Gemm(transB, n, alpha, b, ldb, beta, c, ldc)
	}
}

// TestPackedGemm runs the shared Gemm suite through PackedA on every
// kernel, with tiny cache blocks, on the unpacked-B path and in parallel.
func TestPackedGemm(t *testing.T) {
	testPackedGemm(t, gemmKernelsF32())
	testPackedGemm(t, gemmKernelsF64())
	t.Run("named", func(t *testing.T) { kerneltest.Gemm(t, viaPacked[myFloat](nil), true) })
}

func testPackedGemm[T tensor.Float](t *testing.T, ks []*gemmKernel[T]) {
	for _, g := range ks {
		name := fmt.Sprintf("%T/%s", T(0), g.name)
		t.Run(name, func(t *testing.T) { kerneltest.Gemm(t, viaPacked(g), testing.Short()) })
		t.Run(name+"/small-blocks/3-procs", func(t *testing.T) {
			defer setParallel(3)()
			kerneltest.Gemm(t, viaPacked(smallBlocks(g)), true)
		})
		if g.strided != nil {
			t.Run(name+"/strided", func(t *testing.T) {
				defer func(old bool) { stridedAlways = old }(stridedAlways)
				stridedAlways = true
				kerneltest.Gemm(t, viaPacked(smallBlocks(g)), true)
			})
		}
	}
}

// TestPackedSameBits checks that products through one PackedA, reused for
// several B and from several goroutines at once, give the bits of Gemm and
// GemmRows, on shapes that take each path (blocked with several row blocks
// and slices, unpacked-B, dot) and with 1 and 3 goroutines per product.
func TestPackedSameBits(t *testing.T) {
	testPackedSameBits[float32](t)
	testPackedSameBits[float64](t)
}

func testPackedSameBits[T tensor.Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	random := func(n int) []T {
		s := make([]T, n)
		for i := range s {
			s[i] = T(rng.NormFloat64())
		}
		return s
	}
	for _, tc := range []struct {
		transA, transB bool
		m, n, k        int
	}{
		{false, false, 300, 70, 600}, // blocked: several mc blocks and kc slices
		{true, false, 200, 50, 300},
		{false, true, 40, 90, 520},   // the dot path (A read in place)
		{false, false, 64, 300, 290}, // unpacked-B
		{true, false, 24, 130, 40},
		{false, false, 13, 7, 5}, // tiny, edge tiles
	} {
		for _, procs := range []int{1, 3} {
			func() {
				defer setParallel(procs)()
				lda := tc.k
				if tc.transA {
					lda = tc.m
				}
				a := random(tc.m * tc.k)
				p := PackA(tc.transA, tc.m, tc.k, a, lda)
				defer p.Release()
				var wg sync.WaitGroup
				for r := 0; r < 3; r++ {
					ldb := tc.n
					if tc.transB {
						ldb = tc.k
					}
					b := random(tc.k * tc.n)
					c0 := random(tc.m * tc.n)
					want, got := append([]T(nil), c0...), append([]T(nil), c0...)
					Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 1, want, tc.n)
					wg.Add(1)
					go func() {
						defer wg.Done()
						p.Gemm(tc.transB, tc.n, 0.5, b, ldb, 1, got, tc.n)
						for i := range want {
							if math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) {
								t.Errorf("%T %+v procs %d round %d: C[%d] = %v, Gemm gives %v", T(0), tc, procs, r, i, got[i], want[i])
								return
							}
						}
					}()
					if tc.transB {
						continue
					}
					// GemmRows on rows of b shifted by one element.
					rows := make([]int, tc.k)
					for q := range rows {
						rows[q] = q*tc.n + 1
					}
					bb := random(tc.k*tc.n + 1)
					wantR, gotR := make([]T, tc.m*tc.n), make([]T, tc.m*tc.n)
					GemmRows(tc.transA, tc.m, tc.n, tc.k, 1, a, lda, bb, rows, 0, wantR, tc.n)
					p.GemmRows(tc.n, 1, bb, rows, 0, gotR, tc.n)
					for i := range wantR {
						if math.Float64bits(float64(gotR[i])) != math.Float64bits(float64(wantR[i])) {
							t.Fatalf("%T %+v procs %d: GemmRows C[%d] = %v, want %v", T(0), tc, procs, i, gotR[i], wantR[i])
						}
					}
				}
				wg.Wait()
			}()
		}
	}
}

// TestPackedPanics checks that bad sizes panic as in Gemm.
func TestPackedPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"short A":   func() { PackA(false, 3, 4, make([]float32, 11), 4) },
		"small lda": func() { PackA(false, 3, 4, make([]float32, 12), 3) },
		"short B": func() {
			PackA(false, 3, 4, make([]float32, 12), 4).Gemm(false, 5, 1, make([]float32, 19), 5, 0, make([]float32, 15), 5)
		},
		"short C": func() {
			PackA(false, 3, 4, make([]float32, 12), 4).Gemm(false, 5, 1, make([]float32, 20), 5, 0, make([]float32, 14), 5)
		},
		"rows outside": func() {
			PackA(false, 3, 2, make([]float32, 6), 2).GemmRows(5, 1, make([]float32, 10), []int{0, 6}, 0, make([]float32, 15), 5)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
