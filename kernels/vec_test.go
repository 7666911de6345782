package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestReLUMask checks the branch-free masks against x > 0 on the special
// values: signed zeros, subnormals, infinities and NaNs of either sign.
func TestReLUMask(t *testing.T) {
	for _, x := range specials32 {
		want := uint32(0)
		if x > 0 {
			want = ^uint32(0)
		}
		if got := mask32(x); got != want {
			t.Errorf("mask32(%v [%#08x]) = %#x, want %#x", x, math.Float32bits(x), got, want)
		}
	}
	for _, x := range specials64 {
		want := uint64(0)
		if x > 0 {
			want = ^uint64(0)
		}
		if got := mask64(x); got != want {
			t.Errorf("mask64(%v [%#016x]) = %#x, want %#x", x, math.Float64bits(x), got, want)
		}
	}
}

var specials32 = []float32{0, float32(math.Copysign(0, -1)), 1, -1, math.SmallestNonzeroFloat32,
	-math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)),
	float32(math.Inf(-1)), math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00000),
	math.Float32frombits(0x7f800001), 3.5e-39, 0.5, -2.5}

var specials64 = []float64{0, math.Copysign(0, -1), 1, -1, math.SmallestNonzeroFloat64,
	-math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1),
	math.NaN(), math.Float64frombits(0xfff8000000000001), math.Float64frombits(0x7ff0000000000001), 2e-310, 0.5, -2.5}

// vecInputs returns n values, a third of them special (signed zeros, NaNs
// with payloads, infinities, subnormals), the rest normal of either sign.
func vecInputs[F float32 | float64](rng *rand.Rand, n int) []F {
	out := make([]F, n)
	for i := range out {
		if rng.IntN(3) == 0 {
			if s, ok := any(specials32).([]F); ok {
				out[i] = s[rng.IntN(len(s))]
			} else {
				s := any(specials64).([]F)
				out[i] = s[rng.IntN(len(s))]
			}
			continue
		}
		out[i] = F(rng.NormFloat64())
	}
	return out
}

// sameBits reports whether a and b have the same bits or, if anyNaN, are
// both NaN: which payload a sum of two NaNs carries depends on the order of
// its operands, which the compiler may choose.
func sameBits[F float32 | float64](a, b F, anyNaN bool) bool {
	if anyNaN && a != a && b != b {
		return true
	}
	if x, ok := any(a).(float32); ok {
		return math.Float32bits(x) == math.Float32bits(any(b).(float32))
	}
	return math.Float64bits(any(a).(float64)) == math.Float64bits(any(b).(float64))
}

// TestVecBackends checks every backend of the element-wise kernels against
// the definitions, bit for bit, for every length up to a few blocks (so the
// assembly's blocks and the pure-Go tail both run), on inputs full of special
// values (NaN sums are only required to be NaN), with destinations that must be added to.
func TestVecBackends(t *testing.T) {
	for _, k := range vecBackends32() {
		t.Run("float32/"+k.name, func(t *testing.T) { testVec(t, k) })
	}
	for _, k := range vecBackends64() {
		t.Run("float64/"+k.name, func(t *testing.T) { testVec(t, k) })
	}
}

func testVec[F float32 | float64](t *testing.T, k *vecKernels[F]) {
	rng := rand.New(rand.NewPCG(1, 2))
	relu := func(x, v F) F {
		if x > 0 {
			return v
		}
		return 0
	}
	for n := 0; n <= 200; n += 1 + n/40 {
		x, v, w, d0, e0 := vecInputs[F](rng, n), vecInputs[F](rng, n), vecInputs[F](rng, n), vecInputs[F](rng, n), vecInputs[F](rng, n)
		// Elements past n that a kernel must not touch.
		pad := func(s []F) []F { return append(append([]F(nil), s...), 42, 43, 44)[:n] }
		check := func(name string, got, want []F) {
			t.Helper()
			for i := range want {
				if !sameBits(got[i], want[i], !strings.HasPrefix(name, "maskTo")) {
					t.Fatalf("%s, n = %d: element %d is %v, want %v", name, n, i, got[i], want[i])
				}
			}
			if g := got[:n+3]; g[n] != 42 || g[n+1] != 43 || g[n+2] != 44 {
				t.Fatalf("%s, n = %d: wrote past the end", name, n)
			}
		}
		d, e := pad(d0), pad(d0)
		k.add(d, x)
		for i := range e {
			e[i] += x[i]
		}
		check("add", d, e)

		d = pad(d0)
		k.maskTo(d, x, v)
		for i := range e {
			e[i] = relu(x[i], v[i])
		}
		check("maskTo", d, e)

		d = pad(d0)
		k.maskAdd(d, x, v)
		for i := range e {
			e[i] = d0[i] + relu(x[i], v[i])
		}
		check("maskAdd", d, e)

		d, d2 := pad(d0), pad(e0)
		k.maskTo2(d, v, d2, w, x)
		e2 := pad(e0)
		for i := range e {
			e[i], e2[i] = relu(x[i], v[i]), relu(x[i], w[i])
		}
		check("maskTo2 a", d, e)
		check("maskTo2 b", d2, e2)

		d, d2 = pad(d0), pad(e0)
		k.maskAdd2(d, v, d2, w, x)
		for i := range e {
			e[i], e2[i] = d0[i]+relu(x[i], v[i]), e0[i]+relu(x[i], w[i])
		}
		check("maskAdd2 a", d, e)
		check("maskAdd2 b", d2, e2)
	}
}
