package autodiff

import (
	"math"
	"testing"
)

// TestReLUMask checks the branch-free masks against x > 0 on the special
// values: signed zeros, subnormals, infinities and NaNs of either sign.
func TestReLUMask(t *testing.T) {
	nan32 := math.Float32frombits(0x7fc00001)
	negNaN32 := math.Float32frombits(0xffc00000)
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1, -1, math.SmallestNonzeroFloat32,
		-math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)),
		float32(math.Inf(-1)), nan32, negNaN32, math.Float32frombits(0x7f800001), 3.5e-39} {
		want := uint32(0)
		if x > 0 {
			want = ^uint32(0)
		}
		if got := mask32(x); got != want {
			t.Errorf("mask32(%v [%#08x]) = %#x, want %#x", x, math.Float32bits(x), got, want)
		}
	}
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1, math.SmallestNonzeroFloat64,
		-math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1),
		math.NaN(), math.Float64frombits(0xfff8000000000001), math.Float64frombits(0x7ff0000000000001), 2e-310} {
		want := uint64(0)
		if x > 0 {
			want = ^uint64(0)
		}
		if got := mask64(x); got != want {
			t.Errorf("mask64(%v [%#016x]) = %#x, want %#x", x, math.Float64bits(x), got, want)
		}
	}
}

// TestReLUPairMatchesSeparate checks that VJPPair gives, bit for bit, the
// two separate VJPs, in float32 and float64, with NaN and infinities in the
// cotangents where the mask is off.
func TestReLUPairMatchesSeparate(t *testing.T) {
	testReLUPair[float32](t)
	testReLUPair[float64](t)
}

func testReLUPair[F interface{ ~float32 | ~float64 }](t *testing.T) {
	const n = 1000
	x, yb, ybd := make([]F, n), make([]F, n), make([]F, n)
	for i := range x {
		x[i] = F(math.Sin(float64(i) * 1.7))
		yb[i] = F(math.Cos(float64(i) * 0.3))
		ybd[i] = F(float64(i%7) - 3)
		if i%11 == 0 {
			x[i] = 0
		}
		if x[i] <= 0 && i%3 == 0 {
			yb[i], ybd[i] = F(math.Inf(1)), F(math.NaN())
		}
	}
	a, b := make([]F, n), make([]F, n)
	a2, b2 := make([]F, n), make([]F, n)
	for i := range a {
		a[i], a2[i] = F(i), F(i)
		b[i], b2[i] = -F(i), -F(i)
	}
	maskAdd2(a, yb, b, ybd, x)
	for i, xi := range x {
		if xi > 0 {
			a2[i] += yb[i]
			b2[i] += ybd[i]
		}
	}
	for i := range a {
		if a[i] != a2[i] || b[i] != b2[i] {
			t.Fatalf("element %d (x = %v): pair gives %v, %v, want %v, %v", i, x[i], a[i], b[i], a2[i], b2[i])
		}
	}
	y := make([]F, n)
	maskTo(y, x, x)
	for i, xi := range x {
		if want := max(xi, 0); y[i] != want {
			t.Fatalf("relu(%v) = %v, want %v", xi, y[i], want)
		}
	}
}

// TestPoolPlaneUnrolled checks the unrolled 2×2 and 3×3 window maxima against the
// reference loop, bit for bit and argmax for argmax, on planes full of ties,
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
		{7, 8, 3, 2, 1}, {8, 6, 3, 2, 1}, {5, 5, 3, 1, 1}, {6, 7, 3, 2, 0}, {3, 3, 3, 3, 1}} {
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
