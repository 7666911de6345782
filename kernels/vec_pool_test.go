package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPoolRowS2 checks the vector max-pooling rows against the reference
// loop, value bits and argmax, on planes of few distinct values (ties
// everywhere) among signed zeros, infinities and NaNs with payloads, for
// every row length up to a few chunks and every window of 1–3 rows and
// columns (the k×k windows, and the parts of those that overlap the
// padding).
func TestMaxPoolRowS2(t *testing.T) {
	if !MaxPoolRowS2([]float32{0}, []int32{0}, make([]float32, 9), 3, 0, 3, 3) {
		t.Skip("no vector max-pooling kernel on this machine")
	}
	for name, f := range poolBackends() {
		t.Run(name, func(t *testing.T) {
			defer func(old poolRowFunc) { pool32 = old }(pool32)
			pool32 = f
			testMaxPoolRowS2(t)
		})
	}
}

// testMaxPoolRowS2 is TestMaxPoolRowS2 on the kernel in pool32. In every
// other trial the plane ends at the last pixel read, at an unreadable page.
func testMaxPoolRowS2(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 2, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00002), math.Float32frombits(0x7f800003), 0.5, -3}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, win := range [][2]int{{2, 2}, {3, 3}, {1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 3}, {3, 1}, {3, 2}} {
		kh, kw := win[0], win[1]
		for n := 1; n <= 40; n++ {
			for trial := 0; trial < 30; trial++ {
				w := 2*n + kw + rng.IntN(3)
				h := kh + 1
				pick := []float32{specials[rng.IntN(len(specials))], specials[rng.IntN(len(specials))], specials[rng.IntN(len(specials))]}
				if trial%3 == 0 {
					pick = append(pick, float32(rng.NormFloat64()), float32(rng.NormFloat64()))
				}
				plane := make([]float32, w*h)
				for i := range plane {
					plane[i] = pick[rng.IntN(len(pick))]
				}
				base := rng.IntN(w - 2*n - kw + 2)
				if rng.IntN(2) == 0 {
					base += w
				}
				if trial%2 == 1 {
					end := base + (kh-1)*w + 2*(n-1) + kw
					plane = append(guardedTail[float32](t, end)[:0], plane[:end]...)
				}
				y, am := make([]float32, n+1), make([]int32, n+1)
				y[n], am[n] = 42, 42
				want, wantAm := make([]float32, n), make([]int32, n)
				MaxPoolRowS2(y[:n], am[:n], plane, w, base, kh, kw)
				maxPoolRowS2Ref(want, wantAm, plane, w, base, kh, kw)
				for i := range want {
					if math.Float32bits(y[i]) != math.Float32bits(want[i]) || am[i] != wantAm[i] {
						t.Fatalf("%d×%d, %d windows, w %d, base %d: window %d is %v at %d, want %v at %d",
							kh, kw, n, w, base, i, y[i], am[i], want[i], wantAm[i])
					}
				}
				if y[n] != 42 || am[n] != 42 {
					t.Fatalf("%d×%d, %d windows: wrote past the end", kh, kw, n)
				}
			}
		}
	}
}

// BenchmarkMaxPoolRowS2 times the max-pooling rows of a 64×64 plane (k = 2,
// pad 0: 32 windows a row; k = 3, pad 1 as in ResNet's stem: 31 windows
// inside the plane) on each kernel and on the reference loop.
//
//	go test -run '^$' -bench MaxPoolRowS2 ./kernels
func BenchmarkMaxPoolRowS2(b *testing.B) {
	const w = 64
	rng := rand.New(rand.NewPCG(5, 6))
	plane := make([]float32, w*w)
	for i := range plane {
		plane[i] = float32(rng.NormFloat64())
	}
	backends := poolBackends()
	backends["ref"] = func(y []float32, am []int32, plane []float32, w, base, kh, kw int) {
		maxPoolRowS2Ref(y, am, plane, w, base, kh, kw)
	}
	for _, k := range []int{2, 3} {
		n := (w-k)/2 + 1
		y, am := make([]float32, n), make([]int32, n)
		for _, name := range []string{"ref", "avx2", "avx512"} {
			f := backends[name]
			if f == nil {
				continue
			}
			b.Run(fmt.Sprintf("k%d/%s", k, name), func(b *testing.B) {
				for b.Loop() {
					for r := 0; r+k <= w; r += 2 {
						f(y, am, plane, w, r*w, k, k)
					}
				}
				b.ReportMetric(float64(b.N*n*((w-k)/2+1))/b.Elapsed().Seconds()/1e9, "Gwindows/s")
			})
		}
	}
}
