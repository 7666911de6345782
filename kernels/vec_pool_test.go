package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMaxPoolS2 checks the vector max-pooling kernels against the
// reference loop, value bits and argmax, on planes of few distinct values
// (ties everywhere) among signed zeros, infinities and NaNs with payloads,
// for every row length up to a few chunks, 1–3 rows of windows with a gap
// between the output rows, and every window of 1–3 rows and columns (the
// k×k windows, and the parts of those that overlap the padding).
func TestMaxPoolS2(t *testing.T) {
	if !MaxPoolS2([]float32{0}, []int32{0}, 1, make([]float32, 9), 3, 0, 1, 1, 3, 3) {
		t.Skip("no vector max-pooling kernel on this machine")
	}
	eachBackend(t, "", poolBackends(), &pool32, testMaxPoolS2[float32])
	eachBackend(t, "/float64", poolBackends64(), &pool64, testMaxPoolS2[float64])
}

// eachBackend runs test once for every kernel of backends, as a subtest
// named by its instruction set and suffix, with that kernel in *current
// (restored afterwards).
func eachBackend[K any](t *testing.T, suffix string, backends map[string]K, current *K, test func(*testing.T)) {
	for name, k := range backends {
		t.Run(name+suffix, func(t *testing.T) {
			defer func(old K) { *current = old }(*current)
			*current = k
			test(t)
		})
	}
}

// nanBits returns F's NaN of the given bits: b32 for float32, b64 for
// float64.
func nanBits[F float32 | float64](b32 uint32, b64 uint64) F {
	if is32[F]() {
		return F(math.Float32frombits(b32))
	}
	return F(math.Float64frombits(b64))
}

// testMaxPoolS2 is TestMaxPoolS2 on the kernel in pool32 or pool64. In
// every other trial the plane ends at the last pixel read, at an
// unreadable page.
func testMaxPoolS2[F float32 | float64](t *testing.T) {
	specials := []F{0, F(math.Copysign(0, -1)), 1, -1, 2, F(math.Inf(1)), F(math.Inf(-1)),
		nanBits[F](0x7fc00001, 0x7ff8000000000001), nanBits[F](0xffc00002, 0xfff8000000000002), nanBits[F](0x7f800003, 0x7ff0000000000003), 0.5, -3}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, win := range [][2]int{{2, 2}, {3, 3}, {1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 3}, {3, 1}, {3, 2}} {
		kh, kw := win[0], win[1]
		for cnt := 1; cnt <= 40; cnt++ {
			for trial := 0; trial < 30; trial++ {
				n := 1 + trial%3
				w := 2*cnt + kw + rng.IntN(3)
				h := 2*(n-1) + kh + 1
				pick := []F{specials[rng.IntN(len(specials))], specials[rng.IntN(len(specials))], specials[rng.IntN(len(specials))]}
				if trial%3 == 0 {
					pick = append(pick, F(rng.NormFloat64()), F(rng.NormFloat64()))
				}
				plane := make([]F, w*h)
				for i := range plane {
					plane[i] = pick[rng.IntN(len(pick))]
				}
				base := rng.IntN(w - 2*cnt - kw + 2)
				if rng.IntN(2) == 0 {
					base += w
				}
				if trial%2 == 1 {
					end := base + (2*(n-1)+kh-1)*w + 2*(cnt-1) + kw
					plane = append(guardedTail[F](t, end)[:0], plane[:end]...)
				}
				// Output rows ldy apart: the values between them and after
				// the last one must stay.
				ldy := cnt + rng.IntN(3)
				size := (n-1)*ldy + cnt + 1
				y, am := make([]F, size), make([]int32, size)
				for i := range y {
					y[i], am[i] = 42, 42
				}
				want, wantAm := slices.Clone(y), slices.Clone(am)
				if !MaxPoolS2(y, am, ldy, plane, w, base, n, cnt, kh, kw) {
					t.Fatalf("%T: MaxPoolS2 has no kernel", F(0))
				}
				maxPoolS2Ref(want, wantAm, ldy, plane, w, base, n, cnt, kh, kw)
				for i := range want {
					if !sameBits(y[i], want[i], false) || am[i] != wantAm[i] {
						t.Fatalf("%T %d×%d, %d rows of %d windows %d apart, w %d, base %d: output %d is %v at %d, want %v at %d",
							F(0), kh, kw, n, cnt, ldy, w, base, i, y[i], am[i], want[i], wantAm[i])
					}
				}
			}
		}
	}
}

// BenchmarkMaxPoolS2 times the max-pooling of a plane's windows inside it
// (k = 2 and 3 at stride 2: a 64×64 plane, 32 and 31 windows a row, and an
// 8×8 one, 4 and 3) on each kernel and on the reference loop: a call per
// output row ("rows") and one for the plane ("plane"); float32, then
// float64 ("f64/…").
//
//	go test -run '^$' -bench MaxPoolS2 ./kernels
func BenchmarkMaxPoolS2(b *testing.B) {
	b32 := poolBackends()
	b32["ref"] = maxPoolS2Ref[float32]
	benchMaxPoolS2(b, "", b32)
	b64 := poolBackends64()
	b64["ref"] = maxPoolS2Ref[float64]
	benchMaxPoolS2(b, "f64/", b64)
}

func benchMaxPoolS2[F float32 | float64](b *testing.B, prefix string, backends map[string]poolRowOf[F]) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, w := range []int{64, 8} {
		plane := make([]F, w*w)
		for i := range plane {
			plane[i] = F(rng.NormFloat64())
		}
		for _, k := range []int{2, 3} {
			n := (w-k)/2 + 1
			y, am := make([]F, n*n), make([]int32, n*n)
			for _, name := range []string{"ref", "avx2", "avx512"} {
				f := backends[name]
				if f == nil {
					continue
				}
				b.Run(fmt.Sprintf("%sw%d/k%d/%s/rows", prefix, w, k, name), func(b *testing.B) {
					for b.Loop() {
						for r := 0; r < n; r++ {
							f(y[r*n:], am[r*n:], n, plane, w, 2*r*w, 1, n, k, k)
						}
					}
					b.ReportMetric(float64(b.N*n*n)/b.Elapsed().Seconds()/1e9, "Gwindows/s")
				})
				b.Run(fmt.Sprintf("%sw%d/k%d/%s/plane", prefix, w, k, name), func(b *testing.B) {
					for b.Loop() {
						f(y, am, n, plane, w, 0, n, n, k, k)
					}
					b.ReportMetric(float64(b.N*n*n)/b.Elapsed().Seconds()/1e9, "Gwindows/s")
				})
			}
		}
	}
}

// TestMaxUnpool2S2 checks the vector max-unpooling kernels (float32 and
// float64, each instruction set) against the reference loop, bit for bit
// (signed zeros, infinities and NaNs with payloads among the values), for
// every row length up to a few chunks, 1–3 rows with gaps between the
// value rows, argmaxes anywhere in their windows, and that nothing outside
// the windows is written (in every other trial the plane ends at the last
// pixel written, at an unreadable page).
func TestMaxUnpool2S2(t *testing.T) {
	if !MaxUnpool2S2([]float32{0, 0, 0, 0}, []float32{1}, []int32{0}, 1, 2, 0, 1, 1) {
		t.Skip("no vector max-unpooling kernel on this machine")
	}
	eachBackend(t, "", unpoolBackends(), &unpool32, testMaxUnpool2S2[float32])
	eachBackend(t, "/float64", unpoolBackends64(), &unpool64, testMaxUnpool2S2[float64])
}

func testMaxUnpool2S2[F float32 | float64](t *testing.T) {
	specials := []F{0, F(math.Copysign(0, -1)), 1, -1, F(math.Inf(1)), F(math.Inf(-1)),
		nanBits[F](0x7fc00001, 0x7ff8000000000001), nanBits[F](0xffc00002, 0xfff8000000000002), 0.5, -3}
	rng := rand.New(rand.NewPCG(9, 10))
	for cnt := 1; cnt <= 40; cnt++ {
		for trial := 0; trial < 20; trial++ {
			n := 1 + trial%3
			w := 2*cnt + rng.IntN(3)
			base := rng.IntN(3) * w // d starts at an image row of the plane
			ldv := cnt + rng.IntN(3)
			v, am := make([]F, (n-1)*ldv+cnt), make([]int32, (n-1)*ldv+cnt)
			for r := 0; r < n; r++ {
				for i := 0; i < cnt; i++ {
					v[r*ldv+i] = specials[rng.IntN(len(specials))]
					if rng.IntN(3) == 0 {
						v[r*ldv+i] = F(rng.NormFloat64())
					}
					am[r*ldv+i] = int32(base + (2*r+rng.IntN(2))*w + 2*i + rng.IntN(2))
				}
			}
			size := (2*n-1)*w + 2*cnt
			d := make([]F, size)
			if trial%2 == 1 {
				d = guardedTail[F](t, size)
			}
			for i := range d {
				d[i] = 42
			}
			want := slices.Clone(d)
			MaxUnpool2S2(d, v, am, ldv, w, base, n, cnt)
			maxUnpool2S2Ref(want, v, am, ldv, w, base, n, cnt)
			for i := range want {
				if !sameBits(d[i], want[i], false) {
					t.Fatalf("%T: %d rows of %d windows, w %d, ldv %d: pixel %d is %v, want %v", F(0), n, cnt, w, ldv, i, d[i], want[i])
				}
			}
		}
	}
}

// TestMaxPoolS2Panics: arguments under which the kernels would read or
// write outside the slices panic instead (where a vector kernel runs).
func TestMaxPoolS2Panics(t *testing.T) {
	if !MaxPoolS2([]float32{0}, []int32{0}, 1, make([]float32, 9), 3, 0, 1, 1, 3, 3) {
		t.Skip("no vector max-pooling kernel on this machine")
	}
	y, am, plane := make([]float32, 64), make([]int32, 64), make([]float32, 256)
	for name, f := range map[string]func(){
		"pool rows overlap":               func() { MaxPoolS2(y, am, -1, plane, 16, 32, 2, 3, 2, 2) },
		"pool window past row":            func() { MaxPoolS2(y, am, 8, plane, -4, 32, 1, 3, 2, 2) },
		"pool windows wider than the row": func() { MaxPoolS2(y, am, 8, plane, 4, 32, 1, 3, 2, 2) },
		"unpool rows overlap":             func() { MaxUnpool2S2(plane, y, am, -1, 16, 0, 2, 3) },
		"unpool negative width":           func() { MaxUnpool2S2(plane[8:], y, am, 8, -1, 0, 1, 2) },
		"unpool windows too wide":         func() { MaxUnpool2S2(plane, y, am, 8, 5, 0, 1, 3) },
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

// BenchmarkMaxUnpool2S2 times the max-unpooling of a 64×64 plane's 2×2
// windows (32 a row) on each kernel and on the reference loop, float32 and
// then float64 ("f64/…").
//
//	go test -run '^$' -bench MaxUnpool2S2 ./kernels
func BenchmarkMaxUnpool2S2(b *testing.B) {
	b32 := unpoolBackends()
	b32["ref"] = maxUnpool2S2Ref[float32]
	benchMaxUnpool2S2(b, "", b32)
	b64 := unpoolBackends64()
	b64["ref"] = maxUnpool2S2Ref[float64]
	benchMaxUnpool2S2(b, "f64/", b64)
}

func benchMaxUnpool2S2[F float32 | float64](b *testing.B, prefix string, backends map[string]unpoolOf[F]) {
	const w, n = 64, 32
	rng := rand.New(rand.NewPCG(5, 6))
	v, am, d := make([]F, n*n), make([]int32, n*n), make([]F, w*w)
	for r := 0; r < n; r++ {
		for i := 0; i < n; i++ {
			v[r*n+i] = F(rng.NormFloat64())
			am[r*n+i] = int32((2*r+rng.IntN(2))*w + 2*i + rng.IntN(2))
		}
	}
	for _, name := range []string{"ref", "avx2", "avx512"} {
		f := backends[name]
		if f == nil {
			continue
		}
		b.Run(prefix+name, func(b *testing.B) {
			for b.Loop() {
				f(d, v, am, n, w, 0, n, n)
			}
			b.ReportMetric(float64(n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gwindows/s")
		})
	}
}
