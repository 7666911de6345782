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
	{C: 2, H: 6, W: 20, KH: 5, KW: 5, Stride: 1, Pad: 2}, // 10 and 12 tiles a row: the gather's
	{C: 1, H: 4, W: 24, KH: 5, KW: 5, Stride: 1, Pad: 2}, // 8th and later tiles inside the image
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
// F(2×2, 5×5) (window r = 5: convolutions and weight gradients) or F(4×4,
// 3×3) (r = 3: weight gradients only), its test shapes, the layers its
// float32 error is bounded on, and the bound of its weight gradient's
// error (relative to Σ|ȳ·x|; measured 4.1e-6 and 7.7e-7).
type wino6 struct {
	name   string
	r      int
	shapes []ConvShape
	layers []ConvShape
	wBound float64
}

var wino6Algs = []wino6{
	{"F(2×2, 5×5)", 5, winograd5Shapes, []ConvShape{{C: 64, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2}}, 1e-5}, // C1's layer
	{"F(4×4, 3×3)", 3, winograd43Shapes, []ConvShape{
		{C: 32, H: 16, W: 16, KH: 3, KW: 3, Stride: 1, Pad: 1}, // ResNet-20's
		{C: 64, H: 30, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 0}, // C2's
	}, 2e-6},
}

// conv reports whether a has the convolution's transforms.
func (a wino6) conv() bool { return a.r == 5 }

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

func wino6OutT[T tensor.Float](a wino6, dst []T, ld, ys int, y []T, n, o, oh, ow int, tmp []T) {
	if a.r == 5 {
		Winograd5OutT(dst, ld, ys, y, n, o, oh, ow, tmp)
		return
	}
	Winograd43OutT(dst, ld, ys, y, n, o, oh, ow, tmp)
}

func wino6WeightsAdd[T tensor.Float](a wino6, wBar, m []T, o, c int) {
	if a.r == 5 {
		Winograd5WeightsAdd(wBar, m, o, c)
		return
	}
	Winograd43WeightsAdd(wBar, m, o, c)
}

// winograd5Conv is the convolution of n images x by F(2×2, 5×5)'s
// transforms, the products by plain loops in T: y (+)= Aᵀ·[V_ξ·U_ξ]·A +
// bias; v holds the 36 o×c weight matrices (Winograd5Weights). The chunk's
// leading dimension and strides have slack, so that nothing may assume
// them tight.
func winograd5Conv[T tensor.Float](y, x, v, bias []T, n, o int, s ConvShape, add bool) {
	tiles := WinogradTiles(s)
	ld := n*tiles + 3
	us, ms := s.C*ld+1, o*ld+2
	u, m, tmp := make([]T, 36*us), make([]T, 36*ms), make([]T, Winograd5Scratch(ld))
	Winograd5In(u, ld, us, x, n, s, tmp)
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
	Winograd5Out(y, n, m, ld, ms, o, s.OutH(), s.OutW(), bias, add, tmp)
}

// wino6WeightGrad is the weight gradient Σ ȳ·im2col(x)ᵀ of n images x and
// output cotangents yBar by a's transforms (the products over the tiles by
// plain loops in T), added to wBar.
func wino6WeightGrad[T tensor.Float](a wino6, wBar, x, yBar []T, n, o int, s ConvShape) {
	tiles := a.tiles(s)
	ld := n*tiles + 1
	us, ys := s.C*ld+2, o*ld+3
	u, yt, tmp := make([]T, 36*us), make([]T, 36*ys), make([]T, a.scratch(ld))
	wino6In(a, u, ld, us, x, n, s, tmp)
	wino6OutT(a, yt, ld, ys, yBar, n, o, s.OutH(), s.OutW(), tmp)
	m := make([]T, 36*o*s.C)
	for xi := 0; xi < 36; xi++ {
		for k := 0; k < o; k++ {
			for c := 0; c < s.C; c++ {
				var sum T
				for p := 0; p < n*tiles; p++ {
					sum += yt[xi*ys+k*ld+p] * u[xi*us+c*ld+p]
				}
				m[(xi*o+k)*s.C+c] = sum
			}
		}
	}
	wino6WeightsAdd(a, wBar, m, o, s.C)
}

// refWeightGrad returns w0 plus the weight gradient of ȳ at x over n
// images by the direct sums (for abs the sums of |ȳ·x|).
func refWeightGrad(w0, x, yBar []float64, n, o int, s ConvShape, abs bool) []float64 {
	oh, ow := s.OutH(), s.OutW()
	in, out := s.C*s.H*s.W, o*oh*ow
	got := append([]float64(nil), w0...)
	for k := 0; k < o; k++ {
		for c := 0; c < s.C; c++ {
			for i0 := 0; i0 < s.KH; i0++ {
				for j0 := 0; j0 < s.KW; j0++ {
					f := ((k*s.C+c)*s.KH+i0)*s.KW + j0
					for im := 0; im < n; im++ {
						for i := 0; i < oh; i++ {
							for j := 0; j < ow; j++ {
								y, q := i+i0-s.Pad, j+j0-s.Pad
								if y >= 0 && y < s.H && q >= 0 && q < s.W {
									v := yBar[im*out+(k*oh+i)*ow+j] * x[im*in+(c*s.H+y)*s.W+q]
									if abs {
										v = math.Abs(v)
									}
									got[f] += v
								}
							}
						}
					}
				}
			}
		}
	}
	return got
}

// TestWinograd6Conv checks the algebra of the transforms of F(2×2, 5×5)
// and F(4×4, 3×3) in float64, several images at once: F(2×2, 5×5)'s
// convolution by the weights', input and output transforms (set and
// added) against the direct one, and both's weight gradient by the input
// and output cotangents' transforms and the weights' adjoint against the
// direct sum.
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
		rr := a.r * a.r
		for _, s := range a.shapes {
			for _, tc := range []struct{ n, o int }{{1, 1}, {3, 2}} {
				t.Run(fmt.Sprintf("%s/%dx%dx%d-p%d-n%d-o%d", a.name, s.C, s.H, s.W, s.Pad, tc.n, tc.o), func(t *testing.T) {
					n, o := tc.n, tc.o
					oh, ow := s.OutH(), s.OutW()
					in, out := s.C*s.H*s.W, o*oh*ow
					x := randn(n * in)
					if a.conv() {
						w, bias := randn(o*s.C*rr), randn(o)
						v := make([]float64, 36*o*s.C)
						Winograd5Weights(v, w, o, s.C)
						y0 := randn(n * out)
						for _, add := range []bool{false, true} {
							y := append([]float64(nil), y0...)
							winograd5Conv(y, x, v, bias, n, o, s, add)
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
					}
					// The weight gradient of ȳ at x over the images, added to w0.
					yBar, w0 := randn(n*out), randn(o*s.C*rr)
					got := append([]float64(nil), w0...)
					wino6WeightGrad(a, got, x, yBar, n, o, s)
					want := refWeightGrad(w0, x, yBar, n, o, s, false)
					for f := range want {
						if math.Abs(got[f]-want[f]) > 1e-12*float64(n*oh*ow)*(1+math.Abs(want[f])) {
							t.Fatalf("W̄[%d] = %v, direct %v", f, got[f], want[f])
						}
					}
				})
			}
		}
	}
}

// TestWinograd6Float32 bounds the float32 error of F(2×2, 5×5)'s
// convolution on C1's layer, relative to Σ|w·x| of each pixel (at most
// 1.3e-6 over 12 draws), and of both algorithms' weight gradients, relative
// to Σ|ȳ·x| of each weight, on C1's, ResNet-20's 16×16 and C2's 30×30
// layers (the products over the tiles summed in float32 one after the
// other), against float64's direct sums: their transforms round more than
// F(2×2, 3×3)'s (fractions ⅙ and 1⁄24 in G, values summed with weights up
// to 25 in the tiles).
func TestWinograd6Float32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	round := func(v []float64) ([]float64, []float32) {
		v32 := make([]float32, len(v))
		for i := range v {
			v32[i] = float32(v[i])
			v[i] = float64(v32[i])
		}
		return v, v32
	}
	randn := func(n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64() * scale
		}
		return v
	}
	for _, a := range wino6Algs {
		rr := a.r * a.r
		for _, s := range a.layers {
			const n, o = 2, 8
			in, out := s.C*s.H*s.W, o*s.OutH()*s.OutW()
			x, x32 := round(randn(n*in, 1))
			if a.conv() {
				w, w32 := round(randn(o*s.C*rr, 1/math.Sqrt(float64(rr*s.C)))) // PyTorch's default scale
				v := make([]float32, 36*o*s.C)
				Winograd5Weights(v, w32, o, s.C)
				y := make([]float32, n*out)
				winograd5Conv(y, x32, v, nil, n, o, s, false)
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
				t.Logf("%s %+v: convolution's largest error relative to Σ|w·x|: %.2g", a.name, s, worst)
				if worst > 2e-6 {
					t.Errorf("%s %+v: convolution's largest error relative to Σ|w·x| %.2g, want at most 2e-6", a.name, s, worst)
				}
			}
			yBar, yBar32 := round(randn(n*out, 1))
			w0 := make([]float64, o*s.C*rr)
			got := make([]float32, len(w0))
			wino6WeightGrad(a, got, x32, yBar32, n, o, s)
			want := refWeightGrad(w0, x, yBar, n, o, s, false)
			scale := refWeightGrad(w0, x, yBar, n, o, s, true)
			var worst float64
			for f := range want {
				worst = max(worst, math.Abs(float64(got[f])-want[f])/scale[f])
			}
			t.Logf("%s %+v: weight gradient's largest error relative to Σ|ȳ·x|: %.2g", a.name, s, worst)
			if worst > a.wBound {
				t.Errorf("%s %+v: weight gradient's largest error relative to Σ|ȳ·x| %.2g, want at most %.2g", a.name, s, worst, a.wBound)
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
