package autodiff

import (
	"math"
	"testing"
)

// TestPoolPlaneUnrolled checks the unrolled and vector 2×2 and 3×3 window
// maxima (windows inside the plane and the parts inside it of those that
// overlap the padding) against the reference loop, bit for bit and argmax for argmax, on planes full of ties,
// signed zeros, infinities and NaNs with payloads.
func TestPoolPlaneUnrolled(t *testing.T) {
	specials32 := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 2, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00002), math.Float32frombits(0x7f800003), 0.5, -3}
	seed := uint64(1)
	next := func(n int) int { // a small LCG: reproducible, no import
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for _, c := range []struct{ h, w, k, s, p int }{{6, 8, 2, 2, 0}, {7, 5, 2, 2, 0}, {2, 2, 2, 2, 0}, {3, 9, 2, 2, 0},
		{7, 8, 3, 2, 1}, {8, 6, 3, 2, 1}, {5, 5, 3, 1, 1}, {6, 7, 3, 2, 0}, {3, 3, 3, 3, 1},
		// Rows of more than one chunk of the vector kernels; no interior window.
		{9, 70, 2, 2, 0}, {8, 67, 2, 2, 1}, {9, 64, 3, 2, 1}, {7, 67, 3, 2, 0}, {3, 2, 3, 2, 1}, {2, 3, 3, 2, 1},
		// C1's poolings, and windows cut by the padding on every side
		// (1×1 to 3×3 parts of them).
		{32, 32, 3, 2, 1}, {16, 16, 3, 2, 1}, {15, 17, 3, 2, 1}, {5, 6, 2, 2, 1}, {1, 1, 2, 2, 1}, {1, 4, 3, 2, 1}, {4, 1, 3, 2, 1}} {
		g := poolGeom{n: 1, c: 1, h: c.h, w: c.w, k: c.k, s: c.s, p: c.p}
		g.oh, g.ow = (g.h+2*g.p-g.k)/g.s+1, (g.w+2*g.p-g.k)/g.s+1
		for trial := 0; trial < 300; trial++ {
			// Few distinct values per plane, so that windows hold ties.
			pick := []int{next(len(specials32)), next(len(specials32)), next(len(specials32))}
			x := make([]float32, g.h*g.w)
			for i := range x {
				x[i] = specials32[pick[next(len(pick))]]
			}
			out := g.oh * g.ow
			y, want, a, wantA := make([]float32, out), make([]float32, out), make([]int32, out), make([]int32, out)
			poolPlane(g, y, a, x)
			poolPlaneGeneric(g, want, wantA, x)
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) || a[i] != wantA[i] {
					t.Fatalf("%dx%d window %d of %v: got %v at %d, want %v at %d", g.h, g.w, i, x, y[i], a[i], want[i], wantA[i])
				}
			}
		}
	}
}

// TestScatterPlane checks max-pooling's reverse scatter into a fresh plane
// (filled with NaN, as a recycled buffer may be) against clearing it and
// adding at the argmax, bit for bit, for float32 2×2 windows at stride 2
// (the vector max-unpooling kernel; odd sizes leave a column or row
// outside the windows) and, through the loop, overlapping 3×3 ones.
func TestScatterPlane(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00002), 0.5}
	seed := uint64(3)
	next := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for _, c := range []struct{ h, w, k, s, p int }{{24, 24, 2, 2, 0}, {8, 8, 2, 2, 0}, {7, 5, 2, 2, 0}, {2, 35, 2, 2, 0},
		{3, 3, 2, 2, 0}, {9, 9, 3, 2, 1}} {
		g := poolGeom{n: 1, c: 1, h: c.h, w: c.w, k: c.k, s: c.s, p: c.p}
		g.oh, g.ow = (g.h+2*g.p-g.k)/g.s+1, (g.w+2*g.p-g.k)/g.s+1
		for trial := 0; trial < 50; trial++ {
			x := make([]float32, g.h*g.w)
			for i := range x {
				x[i] = float32(next(7)) // ties
			}
			y, am := make([]float32, g.oh*g.ow), make([]int32, g.oh*g.ow)
			poolPlaneGeneric(g, y, am, x)
			v := make([]float32, len(y))
			for i := range v {
				v[i] = specials[next(len(specials))]
			}
			got, want := make([]float32, len(x)), make([]float32, len(x))
			for i := range got {
				got[i] = float32(math.NaN())
			}
			scatterPlane(g, got, v, am, true)
			for i, a := range am {
				want[a] += v[i]
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%dx%d, k %d: pixel %d is %v, want %v", g.h, g.w, g.k, i, got[i], want[i])
				}
			}
		}
	}
}
