package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// affineInputs returns n values: normal ones of either sign, signed zeros
// and, if specials, infinities and NaNs.
func affineInputs[F float32 | float64](rng *rand.Rand, n int, specials bool) []F {
	out := make([]F, n)
	for i := range out {
		switch r := rng.IntN(20); {
		case r == 0:
			out[i] = F(math.Copysign(0, -1))
		case r == 1:
			out[i] = 0
		case specials && r == 2:
			out[i] = F(math.Inf(1 - 2*rng.IntN(2)))
		case specials && r == 3:
			out[i] = F(math.NaN())
		default:
			out[i] = F(rng.NormFloat64() * 3)
		}
	}
	return out
}

// testAffineBackends is TestAffineBackends's check of the backends for
// data of type F.
func testAffineBackends[F float32 | float64](t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ref := genericAffine[F]()
	const a, c, mu, b, d = 0.7, -1.3, 0.25, -0.5, 2.0
	for _, k := range affineBackends[F]() {
		for n := 0; n <= 100; n += 1 + n/20 {
			for _, specials := range []bool{false, true} {
				in := func() []F { return affineInputs[F](rng, n, specials) }
				x, xd, y, yd, d0, e0 := in(), in(), in(), in(), in(), in()
				var lanes [5]Lanes
				for i := range lanes {
					for j := range lanes[i] {
						lanes[i][j] = rng.NormFloat64()
					}
				}
				check := func(what string, got, want []F) {
					t.Helper()
					for i := range want {
						if !sameBits(got[i], want[i], true) {
							t.Fatalf("%T %s %s, n = %d: element %d is %v, want %v", F(0), k.name, what, n, i, got[i], want[i])
						}
					}
				}
				checkLanes := func(what string, got, want []Lanes) {
					t.Helper()
					for i := range want {
						for j := range want[i] {
							if !sameBits(got[i][j], want[i][j], true) {
								t.Fatalf("%T %s %s, n = %d: lane %d of sum %d is %v, want %v", F(0), k.name, what, n, j, i, got[i][j], want[i][j])
							}
						}
					}
				}
				clone := func(s []F) []F { return append([]F(nil), s...) }

				g, w := make([]F, n), make([]F, n)
				k.affineTo(g, x, a, mu, b)
				ref.affineTo(w, x, a, mu, b)
				check("affineTo", g, w)

				g2, w2 := make([]F, n), make([]F, n)
				k.affineJVPTo(g, g2, x, xd, a, c, mu, b, d)
				ref.affineJVPTo(w, w2, x, xd, a, c, mu, b, d)
				check("affineJVPTo y", g, w)
				check("affineJVPTo yDot", g2, w2)

				g, w = clone(d0), clone(d0)
				k.scaleAdd(g, y, a)
				ref.scaleAdd(w, y, a)
				check("scaleAdd", g, w)

				gs, ws := [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				k.centeredSums(&gs, y, x, mu)
				ref.centeredSums(&ws, y, x, mu)
				checkLanes("centeredSums", gs[:], ws[:])

				gs, ws = [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				g, w = clone(d0), clone(d0)
				k.centeredSumsScaleAdd(&gs, g, y, x, a, mu)
				ref.centeredSumsScaleAdd(&ws, w, y, x, a, mu)
				checkLanes("centeredSumsScaleAdd", gs[:], ws[:])
				check("centeredSumsScaleAdd", g, w)

				g1, w1 := lanes[2], lanes[2]
				k.dot(&g1, y, xd)
				ref.dot(&w1, y, xd)
				checkLanes("dot", []Lanes{g1}, []Lanes{w1})
				g1, w1 = lanes[2], lanes[2]
				k.sum(&g1, y)
				ref.sum(&w1, y)
				checkLanes("sum", []Lanes{g1}, []Lanes{w1})

				gp, wp := lanes, lanes
				g, w, g2, w2 = clone(d0), clone(d0), clone(e0), clone(e0)
				k.affineVJPPair(&gp, g, g2, x, xd, y, yd, a, c, mu)
				ref.affineVJPPair(&wp, w, w2, x, xd, y, yd, a, c, mu)
				checkLanes("affineVJPPair", gp[:], wp[:])
				check("affineVJPPair dst", g, w)
				check("affineVJPPair dstDot", g2, w2)

				// The pair is the separate kernels one after the other.
				sp := lanes
				s01, s23 := [2]Lanes{sp[0], sp[1]}, [2]Lanes{sp[2], sp[3]}
				w, w2 = clone(d0), clone(e0)
				k.centeredSumsScaleAdd(&s01, w, y, x, a, mu)
				k.centeredSumsScaleAdd(&s23, w2, yd, x, a, mu)
				k.scaleAdd(w2, y, c)
				k.dot(&sp[4], y, xd)
				sp[0], sp[1], sp[2], sp[3] = s01[0], s01[1], s23[0], s23[1]
				checkLanes("affineVJPPair against separate", gp[:], sp[:])
				check("affineVJPPair dst against separate", g, w)
				check("affineVJPPair dstDot against separate", g2, w2)

				// BatchNorm then ReLU against the kernels one after the other.
				g, w = make([]F, n), make([]F, n)
				k.affineReLUTo(g, x, a, mu, b)
				ref.affineTo(w, x, a, mu, b)
				maskToGeneric(w, w, w)
				check("affineReLUTo", g, w)
				// ReLU then BatchNorm against the kernels one after the other.
				g, w = make([]F, n), make([]F, n)
				k.reluAffineTo(g, x, a, mu, b)
				maskToGeneric(w, x, x)
				ref.affineTo(w, w, a, mu, b)
				check("reluAffineTo", g, w)
				g, g2, w, w2 = make([]F, n), make([]F, n), make([]F, n), make([]F, n)
				k.affineJVPReLUTo(g, g2, x, xd, a, c, mu, b, d)
				ref.affineJVPTo(w, w2, x, xd, a, c, mu, b, d)
				maskTo2Generic(w, w, w2, w2, w)
				check("affineJVPReLUTo y", g, w)
				check("affineJVPReLUTo yDot", g2, w2)
				// With a shortcut (y, yd as s, ṡ): BatchNorm, Add, ReLU;
				// every third s the BatchNorm's value negated, a sum of
				// exactly +0 that the ReLU must zero ẏ for.
				g, g2, w, w2 = make([]F, n), make([]F, n), make([]F, n), make([]F, n)
				ref.affineJVPTo(w, w2, x, xd, a, c, mu, b, d)
				sh := clone(y)
				for i := 0; i < n; i += 3 {
					sh[i] = -w[i]
				}
				k.affineJVPAddReLUTo(g, g2, x, xd, sh, yd, a, c, mu, b, d)
				addGeneric(w, sh)
				addGeneric(w2, yd)
				maskTo2Generic(w, w, w2, w2, w)
				check("affineJVPAddReLUTo y", g, w)
				check("affineJVPAddReLUTo yDot", g2, w2)
				// The forward pass alone, on the same shortcut.
				g, w = make([]F, n), make([]F, n)
				k.affineAddReLUTo(g, x, sh, a, mu, b)
				ref.affineTo(w, x, a, mu, b)
				addGeneric(w, sh)
				maskToGeneric(w, w, w)
				check("affineAddReLUTo", g, w)
				out := clone(x)
				maskToGeneric(out, out, out) // a ReLU's output: +0 or > 0
				rp, rs := lanes, lanes
				g, w, g2, w2 = clone(d0), clone(d0), clone(e0), clone(e0)
				k.affineReLUVJPPair(&rp, g, g2, x, xd, out, y, yd, a, c, mu)
				zb, zbd := make([]F, n), make([]F, n)
				maskAdd2Generic(zb, y, zbd, yd, out)
				ref.affineVJPPair(&rs, w, w2, x, xd, zb, zbd, a, c, mu)
				checkLanes("affineReLUVJPPair", rp[:], rs[:])
				check("affineReLUVJPPair dst", g, w)
				check("affineReLUVJPPair dstDot", g2, w2)

				// With the shortcut: the pair, then the cotangents added.
				ap, as := lanes, lanes
				g, w, g2, w2 = clone(d0), clone(d0), clone(e0), clone(e0)
				gsb, wsb, gsd, wsd := clone(x), clone(x), clone(xd), clone(xd)
				k.affineAddReLUVJPPair(&ap, g, g2, gsb, gsd, x, xd, out, y, yd, a, c, mu)
				ref.affineReLUVJPPair(&as, w, w2, x, xd, out, y, yd, a, c, mu)
				addGeneric(wsb, zb)
				addGeneric(wsd, zbd)
				checkLanes("affineAddReLUVJPPair", ap[:], as[:])
				check("affineAddReLUVJPPair dst", g, w)
				check("affineAddReLUVJPPair dstDot", g2, w2)
				check("affineAddReLUVJPPair sBar", gsb, wsb)
				check("affineAddReLUVJPPair sBarDot", gsd, wsd)

				// The To forms: the same bits as zeroed destinations and
				// the adding forms, whatever the destinations held (NaN
				// here: a value read would show).
				nan := func() []F {
					v := make([]F, n)
					for i := range v {
						v[i] = F(math.NaN())
					}
					return v
				}
				tp, tr := lanes, lanes
				g, g2 = nan(), nan()
				w, w2 = make([]F, n), make([]F, n)
				k.affineReLUVJPPairTo(&tp, g, g2, x, xd, out, y, yd, a, c, mu)
				k.affineReLUVJPPair(&tr, w, w2, x, xd, out, y, yd, a, c, mu)
				checkLanes("affineReLUVJPPairTo", tp[:], tr[:])
				check("affineReLUVJPPairTo dst", g, w)
				check("affineReLUVJPPairTo dstDot", g2, w2)
				tp, tr = lanes, lanes
				g, g2, gsb, gsd = nan(), nan(), nan(), nan()
				w, w2, wsb, wsd = make([]F, n), make([]F, n), make([]F, n), make([]F, n)
				k.affineAddReLUVJPPairTo(&tp, g, g2, gsb, gsd, x, xd, out, y, yd, a, c, mu)
				k.affineAddReLUVJPPair(&tr, w, w2, wsb, wsd, x, xd, out, y, yd, a, c, mu)
				checkLanes("affineAddReLUVJPPairTo", tp[:], tr[:])
				check("affineAddReLUVJPPairTo dst", g, w)
				check("affineAddReLUVJPPairTo dstDot", g2, w2)
				check("affineAddReLUVJPPairTo sBar", gsb, wsb)
				check("affineAddReLUVJPPairTo sBarDot", gsd, wsd)
				tp, tr = lanes, lanes
				g, g2 = nan(), nan()
				w, w2 = make([]F, n), make([]F, n)
				k.reluAffineVJPPairTo(&tp, g, g2, x, xd, y, yd, a, c, mu)
				k.reluAffineVJPPair(&tr, w, w2, x, xd, y, yd, a, c, mu)
				checkLanes("reluAffineVJPPairTo", tp[:], tr[:])
				check("reluAffineVJPPairTo dst", g, w)
				check("reluAffineVJPPairTo dstDot", g2, w2)

				// ReLU then BatchNorm against the kernels one after the other.
				rp, rs = lanes, lanes
				g, w, g2, w2 = clone(d0), clone(d0), clone(e0), clone(e0)
				k.reluAffineVJPPair(&rp, g, g2, x, xd, y, yd, a, c, mu)
				h, hd, hb, hbd := make([]F, n), make([]F, n), make([]F, n), make([]F, n)
				maskTo2Generic(h, x, hd, xd, x)
				ref.affineVJPPair(&rs, hb, hbd, h, hd, y, yd, a, c, mu)
				maskAdd2Generic(w, hb, w2, hbd, x)
				checkLanes("reluAffineVJPPair", rp[:], rs[:])
				check("reluAffineVJPPair dst", g, w)
				check("reluAffineVJPPair dstDot", g2, w2)

				// The gradient-only sweeps against the kernels one after
				// the other: BatchNorm → ReLU (u = 0 + masked ȳ, then
				// centeredSumsScaleAdd) and ReLU → BatchNorm.
				gs, ws = [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				g, w = clone(d0), clone(d0)
				k.affineReLUVJP(&gs, g, x, out, y, a, mu)
				u := make([]F, n)
				maskAddGeneric(u, out, y)
				ref.centeredSumsScaleAdd(&ws, w, u, x, a, mu)
				checkLanes("affineReLUVJP", gs[:], ws[:])
				check("affineReLUVJP dst", g, w)
				gs, ws = [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				g, w, g2, w2 = clone(d0), clone(d0), clone(e0), clone(e0)
				k.affineAddReLUVJP(&gs, g, g2, x, out, y, a, mu)
				ref.centeredSumsScaleAdd(&ws, w, u, x, a, mu)
				addGeneric(w2, u)
				checkLanes("affineAddReLUVJP", gs[:], ws[:])
				check("affineAddReLUVJP dst", g, w)
				check("affineAddReLUVJP sBar", g2, w2)
				// The To forms: into garbage, the bits of clearing and
				// adding.
				gs, ws = [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				g, w = clone(d0), make([]F, n)
				k.affineReLUVJPTo(&gs, g, x, out, y, a, mu)
				ref.affineReLUVJP(&ws, w, x, out, y, a, mu)
				checkLanes("affineReLUVJPTo", gs[:], ws[:])
				check("affineReLUVJPTo dst", g, w)
				gs, ws = [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				g, w, g2, w2 = clone(d0), make([]F, n), clone(e0), make([]F, n)
				k.affineAddReLUVJPTo(&gs, g, g2, x, out, y, a, mu)
				ref.affineAddReLUVJP(&ws, w, w2, x, out, y, a, mu)
				checkLanes("affineAddReLUVJPTo", gs[:], ws[:])
				check("affineAddReLUVJPTo dst", g, w)
				check("affineAddReLUVJPTo sBar", g2, w2)
				gs, ws = [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				g, w = clone(d0), clone(d0)
				k.reluAffineVJP(&gs, g, x, y, a, mu)
				h, hb = make([]F, n), make([]F, n)
				maskToGeneric(h, x, x)
				ref.centeredSumsScaleAdd(&ws, hb, y, h, a, mu)
				maskAddGeneric(w, x, hb)
				checkLanes("reluAffineVJP", gs[:], ws[:])
				check("reluAffineVJP dst", g, w)
				gs, ws = [2]Lanes{lanes[0], lanes[1]}, [2]Lanes{lanes[0], lanes[1]}
				g, w = clone(d0), make([]F, n)
				k.reluAffineVJPTo(&gs, g, x, y, a, mu)
				ref.reluAffineVJP(&ws, w, x, y, a, mu)
				checkLanes("reluAffineVJPTo", gs[:], ws[:])
				check("reluAffineVJPTo dst", g, w)

				g1, w1 = lanes[3], lanes[3]
				k.centeredSquares(&g1, x, mu)
				ref.centeredSquares(&w1, x, mu)
				checkLanes("centeredSquares", []Lanes{g1}, []Lanes{w1})
				g, w = clone(d0), clone(d0)
				k.linearTo(g, y, x, a, c, mu, b)
				ref.linearTo(w, y, x, a, c, mu, b)
				check("linearTo", g, w)
				g, w = clone(d0), clone(d0)
				k.linearAdd(g, y, x, a, c, mu, b)
				ref.linearAdd(w, y, x, a, c, mu, b)
				check("linearAdd", g, w)
				g, w = clone(d0), clone(d0)
				k.linearAdd2(g, y, xd, x, a, d, c, mu, b)
				ref.linearAdd2(w, y, xd, x, a, d, c, mu, b)
				check("linearAdd2", g, w)
			}
		}
	}
}

// TestAffineBackends checks every backend of the affine kernels, for
// float32 and float64 data, against the pure-Go ones bit for bit (NaNs only
// as NaNs), for every length up to a few blocks, lanes and accumulators
// that already hold values included; and the pure-Go kernels against
// float64 reference loops.
func TestAffineBackends(t *testing.T) {
	testAffineBackends[float32](t)
	testAffineBackends[float64](t)
	rng := rand.New(rand.NewPCG(7, 8))
	const a, c, mu, b, d = 0.7, -1.3, 0.25, -0.5, 2.0
	// The pure-Go kernels against the definitions in float64.
	n := 1000
	x, xd, y := affineInputs[float32](rng, n, false), affineInputs[float32](rng, n, false), affineInputs[float32](rng, n, false)
	g, g2 := make([]float32, n), make([]float32, n)
	AffineJVPTo(g, g2, x, xd, a, c, mu, b, d)
	var s [2]Lanes
	CenteredSums(&s, y, x, mu)
	var sum Lanes
	Sum(&sum, y)
	var sy, syx float64
	for i := range x {
		xc := float64(x[i]) - mu
		if e := math.Abs(float64(g[i]) - (a*xc + b)); e > 1e-6*math.Abs(a*xc+b)+1e-30 {
			t.Fatalf("AffineJVPTo y[%d] = %v, want %v", i, g[i], a*xc+b)
		}
		wd := c*xc + d + a*float64(xd[i])
		if e := math.Abs(float64(g2[i]) - wd); e > 1e-6*(math.Abs(c*xc+d)+math.Abs(a*float64(xd[i]))) {
			t.Fatalf("AffineJVPTo yDot[%d] = %v, want %v", i, g2[i], wd)
		}
		sy += float64(y[i])
		syx += float64(y[i]) * xc
	}
	if math.Abs(s[0].Sum()-sy) > 1e-12*n32abs(y) || math.Abs(s[1].Sum()-syx) > 1e-11*n32abs(y) {
		t.Errorf("CenteredSums: %v, %v; want %v, %v", s[0].Sum(), s[1].Sum(), sy, syx)
	}
	if math.Abs(sum.Sum()-sy) > 1e-12*n32abs(y) {
		t.Errorf("Sum: %v, want %v", sum.Sum(), sy)
	}
}

func n32abs(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += math.Abs(float64(x))
	}
	return s
}

// BenchmarkAffine times BatchNorm's fused reverse sweep (AffineVJPPair),
// the bias gradient's sum (Sum: 58 GB/s against 8.6 for the pure-Go loop
// on the development machine), the forward sweeps of BatchNorm → ReLU in
// train mode (CenteredSums, then AffineReLUTo) and ReLU's reverse sweep
// (maskAdd2) on 2¹⁶ values per slice, every backend, float32 and float64.
func BenchmarkAffine(b *testing.B) {
	b.Run("float32", benchAffine[float32])
	b.Run("float64", benchAffine[float64])
}

func benchAffine[F float32 | float64](b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 1 << 16
	size := int64(unsafe.Sizeof(F(0)))
	x, xd, y, yd, d, e := affineInputs[F](rng, n, false), affineInputs[F](rng, n, false), affineInputs[F](rng, n, false),
		affineInputs[F](rng, n, false), affineInputs[F](rng, n, false), affineInputs[F](rng, n, false)
	for _, k := range affineBackends[F]() {
		b.Run("AffineVJPPair/"+k.name, func(b *testing.B) {
			var s [5]Lanes
			b.SetBytes(8 * size * n)
			for b.Loop() {
				k.affineVJPPair(&s, d, e, x, xd, y, yd, 0.5, 0.25, 0.1)
			}
		})
		b.Run("AffineJVPAddReLUTo/"+k.name, func(b *testing.B) {
			b.SetBytes(6 * size * n)
			for b.Loop() {
				k.affineJVPAddReLUTo(d, e, x, xd, y, yd, 0.5, 0.25, 0.1, 0.2, 0.3)
			}
		})
		b.Run("AffineAddReLUTo/"+k.name, func(b *testing.B) {
			b.SetBytes(3 * size * n)
			for b.Loop() {
				k.affineAddReLUTo(d, x, y, 0.5, 0.1, 0.2)
			}
		})
		b.Run("AffineReLUTo/"+k.name, func(b *testing.B) {
			b.SetBytes(2 * size * n)
			for b.Loop() {
				k.affineReLUTo(d, x, 0.5, 0.1, 0.2)
			}
		})
		b.Run("CenteredSums/"+k.name, func(b *testing.B) {
			var s [2]Lanes
			b.SetBytes(2 * size * n)
			for b.Loop() {
				k.centeredSums(&s, y, x, 0.1)
			}
		})
		b.Run("Sum/"+k.name, func(b *testing.B) {
			var s Lanes
			b.SetBytes(size * n)
			for b.Loop() {
				k.sum(&s, y)
			}
		})
	}
	for _, k := range vecBackendsOf[F]() {
		b.Run("MaskAdd2/"+k.name, func(b *testing.B) {
			b.SetBytes(7 * size * n)
			for b.Loop() {
				k.maskAdd2(d, y, e, yd, x)
			}
		})
	}
}

// vecBackendsOf is vecBackends32 or vecBackends64 by F.
func vecBackendsOf[F float32 | float64]() []*vecKernels[F] {
	var ks any = vecBackends32()
	if !is32[F]() {
		ks = vecBackends64()
	}
	return ks.([]*vecKernels[F])
}
