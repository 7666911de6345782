package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// winograd5Shapes are the F(2×2, 5×5) test shapes: every padding, square
// and oblong images, one to seven channels, C1's and LeNet-5's layers and
// their transposed convolutions among them.
var winograd5Shapes = []ConvShape{
	{C: 1, H: 6, W: 6, KH: 5, KW: 5, Stride: 1, Pad: 0},
	{C: 3, H: 12, W: 12, KH: 5, KW: 5, Stride: 1, Pad: 0}, // LeNet-5's second layer
	{C: 2, H: 8, W: 8, KH: 5, KW: 5, Stride: 1, Pad: 4},   // and its transposed one
	{C: 2, H: 8, W: 12, KH: 5, KW: 5, Stride: 1, Pad: 1},
	{C: 4, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2}, // C1's second layer
	{C: 3, H: 4, W: 10, KH: 5, KW: 5, Stride: 1, Pad: 3},
	{C: 7, H: 2, W: 2, KH: 5, KW: 5, Stride: 1, Pad: 2},
	{C: 1, H: 34, W: 40, KH: 5, KW: 5, Stride: 1, Pad: 2},
}

func TestWinograd5OK(t *testing.T) {
	for _, tc := range []struct {
		s    ConvShape
		want bool
	}{
		{ConvShape{C: 1, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2}, true},
		{ConvShape{C: 1, H: 12, W: 12, KH: 5, KW: 5, Stride: 1, Pad: 0}, true},
		{ConvShape{C: 1, H: 8, W: 8, KH: 5, KW: 5, Stride: 1, Pad: 4}, true},
		{ConvShape{C: 1, H: 64, W: 40, KH: 5, KW: 5, Stride: 1, Pad: 2}, true}, // no width limit
		{ConvShape{C: 1, H: 8, W: 8, KH: 5, KW: 5, Stride: 1, Pad: 5}, false},
		{ConvShape{C: 1, H: 13, W: 12, KH: 5, KW: 5, Stride: 1, Pad: 0}, false}, // odd output
		{ConvShape{C: 1, H: 5, W: 5, KH: 5, KW: 5, Stride: 1, Pad: 0}, false},   // 1×1 output
		{ConvShape{C: 1, H: 16, W: 16, KH: 5, KW: 5, Stride: 2, Pad: 2}, false},
		{ConvShape{C: 1, H: 16, W: 16, KH: 3, KW: 3, Stride: 1, Pad: 1}, false},
	} {
		if got := Winograd5OK(tc.s); got != tc.want {
			t.Errorf("Winograd5OK(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// wino6 is one of the Winograd algorithms on 6×6 tiles, for the tests:
// F(2×2, 5×5) (window r = 5) or F(4×4, 3×3) (r = 3), its test shapes, the
// layers its float32 error is bounded on and the bound (relative to
// Σ|w·x|: over 12 seeds at most 1.3e-6 and 3.1e-6, F(4×4, 3×3)'s tiles
// summing more values with larger weights).
type wino6 struct {
	name   string
	r      int
	shapes []ConvShape
	layers []ConvShape
	bound  float64
}

var wino6Algs = []wino6{
	{"F(2×2, 5×5)", 5, winograd5Shapes, []ConvShape{{C: 64, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2}}, 2e-6}, // C1's layer
	{"F(4×4, 3×3)", 3, winograd43Shapes, []ConvShape{
		{C: 32, H: 16, W: 16, KH: 3, KW: 3, Stride: 1, Pad: 1}, // ResNet-20's
		{C: 64, H: 30, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 0}, // C2's
	}, 5e-6},
}

func (a wino6) tiles(s ConvShape) int {
	if a.r == 5 {
		return WinogradTiles(s)
	}
	return Winograd43Tiles(s)
}

func (a wino6) scratch(ld int) int {
	if a.r == 5 {
		return Winograd5Scratch(ld)
	}
	return Winograd43Scratch(ld)
}

func (a wino6) windows(s ConvShape) ConvShape {
	if a.r == 5 {
		return winograd5Windows(s)
	}
	return winograd43Windows(s)
}

func wino6In[T tensor.Float](a wino6, dst []T, ld, us int, x []T, n int, s ConvShape, tmp []T) {
	if a.r == 5 {
		Winograd5In(dst, ld, us, x, n, s, tmp)
		return
	}
	Winograd43In(dst, ld, us, x, n, s, tmp)
}

func wino6Out[T tensor.Float](a wino6, y []T, n int, m []T, ld, ms, o, oh, ow int, bias []T, add bool, tmp []T) {
	if a.r == 5 {
		Winograd5Out(y, n, m, ld, ms, o, oh, ow, bias, add, tmp)
		return
	}
	Winograd43Out(y, n, m, ld, ms, o, oh, ow, bias, add, tmp)
}

func wino6OutT[T tensor.Float](a wino6, dst []T, ld, ys int, y []T, n, o, oh, ow int, tmp []T) {
	if a.r == 5 {
		Winograd5OutT(dst, ld, ys, y, n, o, oh, ow, tmp)
		return
	}
	Winograd43OutT(dst, ld, ys, y, n, o, oh, ow, tmp)
}

func wino6Weights[T tensor.Float](a wino6, v, w []T, o, c int) {
	if a.r == 5 {
		Winograd5Weights(v, w, o, c)
		return
	}
	Winograd43Weights(v, w, o, c)
}

func wino6WeightsAdd[T tensor.Float](a wino6, wBar, m []T, o, c int) {
	if a.r == 5 {
		Winograd5WeightsAdd(wBar, m, o, c)
		return
	}
	Winograd43WeightsAdd(wBar, m, o, c)
}

// wino6Conv is the convolution of n images x by a's transforms, the
// products by plain loops in T: y (+)= Aᵀ·[V_ξ·U_ξ]·A + bias; v holds the
// 36 o×c weight matrices. The chunk's leading dimension and strides have
// slack, so that nothing may assume them tight.
func wino6Conv[T tensor.Float](a wino6, y, x, v, bias []T, n, o int, s ConvShape, add bool) {
	tiles := a.tiles(s)
	ld := n*tiles + 3
	us, ms := s.C*ld+1, o*ld+2
	u, m, tmp := make([]T, 36*us), make([]T, 36*ms), make([]T, a.scratch(ld))
	wino6In(a, u, ld, us, x, n, s, tmp)
	for xi := 0; xi < 36; xi++ {
		for k := 0; k < o; k++ {
			for t := 0; t < n*tiles; t++ {
				var sum T
				for c := 0; c < s.C; c++ {
					sum += v[(xi*o+k)*s.C+c] * u[xi*us+c*ld+t]
				}
				m[xi*ms+k*ld+t] = sum
			}
		}
	}
	wino6Out(a, y, n, m, ld, ms, o, s.OutH(), s.OutW(), bias, add, tmp)
}

// TestWinograd6Conv checks the algebra of the transforms of F(2×2, 5×5)
// and F(4×4, 3×3) in float64, several images at once: the convolution by
// the weights', input and output transforms (set and added) against the
// direct one, and the weight gradient by the output cotangents' transform
// and the weights' adjoint against the direct sum.
func TestWinograd6Conv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	randn := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	for _, a := range wino6Algs {
		r, rr := a.r, a.r*a.r
		for _, s := range a.shapes {
			for _, tc := range []struct{ n, o int }{{1, 1}, {3, 2}} {
				t.Run(fmt.Sprintf("%s/%dx%dx%d-p%d-n%d-o%d", a.name, s.C, s.H, s.W, s.Pad, tc.n, tc.o), func(t *testing.T) {
					n, o := tc.n, tc.o
					oh, ow := s.OutH(), s.OutW()
					in, out := s.C*s.H*s.W, o*oh*ow
					x, w, bias := randn(n*in), randn(o*s.C*rr), randn(o)
					v := make([]float64, 36*o*s.C)
					wino6Weights(a, v, w, o, s.C)
					y0 := randn(n * out)
					for _, add := range []bool{false, true} {
						y := append([]float64(nil), y0...)
						wino6Conv(a, y, x, v, bias, n, o, s, add)
						for i := 0; i < n; i++ {
							want := refConv(x[i*in:(i+1)*in], w, bias, o, s)
							for p, wp := range want {
								if add {
									wp += y0[i*out+p]
								}
								if g := y[i*out+p]; math.Abs(g-wp) > 1e-12*(1+math.Abs(wp))*float64(rr*s.C) {
									t.Fatalf("add %v: y[%d][%d] = %v, direct %v", add, i, p, g, wp)
								}
							}
						}
					}
					// The weight gradient of ȳ at x over the images, added to w0.
					yBar, w0 := randn(n*out), randn(o*s.C*rr)
					tiles := a.tiles(s)
					ld := n*tiles + 1
					us, ys := s.C*ld+2, o*ld+3
					u, yt, tmp := make([]float64, 36*us), make([]float64, 36*ys), make([]float64, a.scratch(ld))
					wino6In(a, u, ld, us, x, n, s, tmp)
					wino6OutT(a, yt, ld, ys, yBar, n, o, oh, ow, tmp)
					m := make([]float64, 36*o*s.C)
					for xi := 0; xi < 36; xi++ {
						for k := 0; k < o; k++ {
							for c := 0; c < s.C; c++ {
								var sum float64
								for p := 0; p < n*tiles; p++ {
									sum += yt[xi*ys+k*ld+p] * u[xi*us+c*ld+p]
								}
								m[(xi*o+k)*s.C+c] = sum
							}
						}
					}
					got := append([]float64(nil), w0...)
					wino6WeightsAdd(a, got, m, o, s.C)
					for k := 0; k < o; k++ {
						for c := 0; c < s.C; c++ {
							for i0 := 0; i0 < r; i0++ {
								for j0 := 0; j0 < r; j0++ {
									f := ((k*s.C+c)*r+i0)*r + j0
									want := w0[f]
									for im := 0; im < n; im++ {
										for i := 0; i < oh; i++ {
											for j := 0; j < ow; j++ {
												y, q := i+i0-s.Pad, j+j0-s.Pad
												if y >= 0 && y < s.H && q >= 0 && q < s.W {
													want += yBar[im*out+(k*oh+i)*ow+j] * x[im*in+(c*s.H+y)*s.W+q]
												}
											}
										}
									}
									if math.Abs(got[f]-want) > 1e-12*float64(n*oh*ow)*(1+math.Abs(want)) {
										t.Fatalf("W̄[%d, %d, %d, %d] = %v, direct %v", k, c, i0, j0, got[f], want)
									}
								}
							}
						}
					}
				})
			}
		}
	}
}

// TestWinograd6Float32 bounds the float32 convolution's error against the
// float64 direct one, relative to Σ|w·x| of each pixel, on C1's layer for
// F(2×2, 5×5) and on ResNet-20's 16×16 and C2's 30×30 layers for F(4×4,
// 3×3): their transforms round more than F(2×2, 3×3)'s (fractions ⅙ and
// 1⁄24 in the weights, values summed with weights up to 25 in the tiles).
func TestWinograd6Float32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, a := range wino6Algs {
		rr := a.r * a.r
		for _, s := range a.layers {
			const n, o = 2, 8
			in, out := s.C*s.H*s.W, o*s.OutH()*s.OutW()
			x, w := make([]float64, n*in), make([]float64, o*s.C*rr)
			for i := range x {
				x[i] = float64(float32(rng.NormFloat64()))
			}
			for i := range w {
				w[i] = float64(float32(rng.NormFloat64() / math.Sqrt(float64(rr*s.C)))) // PyTorch's default scale
			}
			x32, w32 := make([]float32, len(x)), make([]float32, len(w))
			for i := range x {
				x32[i] = float32(x[i])
			}
			for i := range w {
				w32[i] = float32(w[i])
			}
			v := make([]float32, 36*o*s.C)
			wino6Weights(a, v, w32, o, s.C)
			y := make([]float32, n*out)
			wino6Conv(a, y, x32, v, nil, n, o, s, false)
			abs := make([]float64, len(x))
			for i := range x {
				abs[i] = math.Abs(x[i])
			}
			absW := make([]float64, len(w))
			for i := range w {
				absW[i] = math.Abs(w[i])
			}
			zero := make([]float64, o)
			var worst float64
			for i := 0; i < n; i++ {
				want := refConv(x[i*in:(i+1)*in], w, zero, o, s)
				scale := refConv(abs[i*in:(i+1)*in], absW, zero, o, s)
				for p := range want {
					worst = max(worst, math.Abs(float64(y[i*out+p])-want[p])/scale[p])
				}
			}
			t.Logf("%s %+v: largest error relative to Σ|w·x|: %.2g", a.name, s, worst)
			if worst > a.bound {
				t.Fatalf("%s %+v: largest error relative to Σ|w·x| %.2g, want at most %.2g", a.name, s, worst, a.bound)
			}
		}
	}
}

// TestWinoVertBackends checks the element-wise transforms' assembly (each
// ISA) against their Go twin bit for bit: whole vectors and tails, several
// groups, in place and not, with values around them untouched, NaN and
// ±Inf among the inputs.
func TestWinoVertBackends(t *testing.T) {
	if winoVertLanes() == 0 {
		t.Skip("no assembly transforms on this machine")
	}
	withISAs(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for op, ar := range winoOpArity {
			for _, n := range []int{1, 7, 8, 16, 17, 40} {
				for _, inPlace := range []bool{false, true} {
					const count, pad = 3, 5
					srcStride, dstStride := n+pad, n+2*pad
					if inPlace {
						dstStride = srcStride
					}
					srcStep, dstStep := 6*srcStride+1, 6*dstStride+3
					if inPlace {
						dstStep = srcStep
					}
					src := make([]float32, count*srcStep+6*srcStride+pad)
					for i := range src {
						src[i] = float32(rng.NormFloat64())
					}
					src[1], src[srcStride+2], src[2*srcStride] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
					dst := make([]float32, count*dstStep+6*dstStride+pad)
					for i := range dst {
						dst[i] = float32(rng.NormFloat64())
					}
					if inPlace {
						dst = append([]float32(nil), src...)
					}
					want := append([]float32(nil), dst...)
					wsrc := src
					if inPlace {
						wsrc = want
					}
					winoVertGeneric(op, want, wsrc, 0, n, count, srcStep, dstStep, srcStride, dstStride)
					gsrc := src
					if inPlace {
						gsrc = dst
					}
					winoVert(op, dst, gsrc, n, count, srcStep, dstStep, srcStride, dstStride)
					for i := range want {
						if math.Float32bits(dst[i]) != math.Float32bits(want[i]) && !(want[i] != want[i] && dst[i] != dst[i]) {
							t.Fatalf("op %d (%d → %d) n %d in place %v: dst[%d] = %v, Go %v", op, ar[0], ar[1], n, inPlace, i, dst[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestWinograd6InBackends checks the input transforms of F(2×2, 5×5) and
// F(4×4, 3×3) in float32 (the gather and row transform in one kernel, the
// element-wise transforms in assembly) against Im2col and the Go twins,
// bit for bit, for each ISA, with NaN and ±Inf among the pixels and values
// between the tiles untouched.
func TestWinograd6InBackends(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 9))
		for _, a := range wino6Algs {
			for _, s := range a.shapes {
				const n = 2
				tiles := a.tiles(s)
				ld := n*tiles + 5
				us := s.C*ld + 3
				x := make([]float32, n*s.C*s.H*s.W)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				x[0], x[len(x)/2], x[len(x)-1] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
				got := make([]float32, 36*us)
				for i := range got {
					got[i] = float32(i)
				}
				want := append([]float32(nil), got...)
				wino6In(a, got, ld, us, x, n, s, make([]float32, a.scratch(ld)))
				tmp := make([]float32, 36*ld)
				plane := s.H * s.W
				for c := 0; c < s.C; c++ {
					for k := 0; k < n; k++ {
						off := (k*s.C + c) * plane
						Im2col(tmp[k*tiles:], ld, x[off:off+plane], a.windows(s))
					}
					winoVertGeneric(winoOpB6, tmp, tmp, 0, n*tiles, 6, 6*ld, 6*ld, ld, ld)
					winoVertGeneric(winoOpB6, want[c*ld:], tmp, 0, n*tiles, 6, ld, us, 6*ld, 6*us)
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("%s %+v: value %d = %v, Go %v", a.name, s, i, got[i], want[i])
					}
				}
			}
		}
	})
}

// BenchmarkWinograd5 times the F(2×2, 5×5) transforms of one chunk of C1's
// second layer (two images, 64 channels of 16×16).
func BenchmarkWinograd5(b *testing.B) {
	s := ConvShape{C: 64, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2}
	const n, o = 2, 64
	tiles := WinogradTiles(s)
	ld := n * tiles
	us := WinogradStride[float32](s.C, ld)
	x, y := make([]float32, n*s.C*s.H*s.W), make([]float32, n*o*s.OutH()*s.OutW())
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	u, tmp := make([]float32, 36*us), make([]float32, Winograd5Scratch(ld))
	b.Run("in", func(b *testing.B) {
		for b.Loop() {
			Winograd5In(u, ld, us, x, n, s, tmp)
		}
	})
	b.Run("out", func(b *testing.B) {
		for b.Loop() {
			Winograd5Out(y, n, u, ld, us, o, s.OutH(), s.OutW(), nil, false, tmp)
		}
	})
	b.Run("outT", func(b *testing.B) {
		for b.Loop() {
			Winograd5OutT(u, ld, us, y, n, o, s.OutH(), s.OutW(), tmp)
		}
	})
	w, v := make([]float32, o*s.C*25), make([]float32, 36*o*s.C)
	b.Run("weights", func(b *testing.B) {
		for b.Loop() {
			Winograd5Weights(v, w, o, s.C)
		}
	})
	b.Run("weightsAdd", func(b *testing.B) {
		for b.Loop() {
			Winograd5WeightsAdd(w, v, o, s.C)
		}
	})
}
