package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// winograd43Shapes are the F(4×4, 3×3) test shapes: every padding, square
// and oblong images, rows of 1 to 9 tiles (the AVX-512 gather takes 7 at a
// time, the block permutes 8), the zoo's layers among them.
var winograd43Shapes = []ConvShape{
	{C: 1, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 3, H: 6, W: 6, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 2, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1}, // ResNet-20's third stage
	{C: 2, H: 10, W: 14, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 2, H: 6, W: 10, KH: 3, KW: 3, Stride: 1, Pad: 2},
	{C: 3, H: 14, W: 14, KH: 3, KW: 3, Stride: 1, Pad: 0}, // C2's third layer
	{C: 2, H: 16, W: 16, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 2, H: 30, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 0}, // C2's second layer: 7 tiles a row
	{C: 1, H: 32, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1}, // 8 tiles
	{C: 1, H: 12, W: 36, KH: 3, KW: 3, Stride: 1, Pad: 1}, // 9 tiles
}

func TestWinograd43OK(t *testing.T) {
	for _, tc := range []struct {
		s    ConvShape
		want bool
	}{
		{ConvShape{C: 1, H: 32, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{ConvShape{C: 1, H: 14, W: 14, KH: 3, KW: 3, Stride: 1, Pad: 0}, true},
		{ConvShape{C: 1, H: 6, W: 6, KH: 3, KW: 3, Stride: 1, Pad: 2}, true},
		{ConvShape{C: 1, H: 40, W: 64, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},  // no width limit
		{ConvShape{C: 1, H: 12, W: 12, KH: 3, KW: 3, Stride: 1, Pad: 0}, false}, // 10×10 output
		{ConvShape{C: 1, H: 2, W: 2, KH: 3, KW: 3, Stride: 1, Pad: 1}, false},   // 2×2 output
		{ConvShape{C: 1, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 3}, false},
		{ConvShape{C: 1, H: 16, W: 16, KH: 3, KW: 3, Stride: 2, Pad: 1}, false},
		{ConvShape{C: 1, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2}, false},
	} {
		if got := Winograd43OK(tc.s); got != tc.want {
			t.Errorf("Winograd43OK(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// winograd43Conv is the convolution of n images x by the transforms, the
// products by plain loops in T: y (+)= Aᵀ·[V_ξ·U_ξ]·A + bias; v holds the
// 36 o×c weight matrices (Winograd43Weights). The chunk's leading dimension
// and strides have slack, so that nothing may assume them tight.
func winograd43Conv[T tensor.Float](y, x, v, bias []T, n, o int, s ConvShape, add bool) {
	tiles := Winograd43Tiles(s)
	ld := n*tiles + 3
	us, ms := s.C*ld+1, o*ld+2
	u, m, tmp := make([]T, 36*us), make([]T, 36*ms), make([]T, Winograd43Scratch(ld))
	Winograd43In(u, ld, us, x, n, s, tmp)
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
	Winograd43Out(y, n, m, ld, ms, o, s.OutH(), s.OutW(), bias, add, tmp)
}

// TestWinograd43Conv checks the F(4×4, 3×3) transforms' algebra in
// float64, several images at once: the convolution by Winograd43Weights,
// Winograd43In and Winograd43Out (set and added) against the direct one,
// and the weight gradient by Winograd43OutT and Winograd43WeightsAdd
// against the direct sum.
func TestWinograd43Conv(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 43))
	randn := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	for _, s := range winograd43Shapes {
		for _, tc := range []struct{ n, o int }{{1, 1}, {3, 2}} {
			t.Run(fmt.Sprintf("%dx%dx%d-p%d-n%d-o%d", s.C, s.H, s.W, s.Pad, tc.n, tc.o), func(t *testing.T) {
				n, o := tc.n, tc.o
				oh, ow := s.OutH(), s.OutW()
				in, out := s.C*s.H*s.W, o*oh*ow
				x, w, bias := randn(n*in), randn(o*s.C*9), randn(o)
				v := make([]float64, 36*o*s.C)
				Winograd43Weights(v, w, o, s.C)
				y0 := randn(n * out)
				for _, add := range []bool{false, true} {
					y := append([]float64(nil), y0...)
					winograd43Conv(y, x, v, bias, n, o, s, add)
					for i := 0; i < n; i++ {
						want := refConv(x[i*in:(i+1)*in], w, bias, o, s)
						for p, wp := range want {
							if add {
								wp += y0[i*out+p]
							}
							if g := y[i*out+p]; math.Abs(g-wp) > 1e-12*(1+math.Abs(wp))*float64(9*s.C) {
								t.Fatalf("add %v: y[%d][%d] = %v, direct %v", add, i, p, g, wp)
							}
						}
					}
				}
				// The weight gradient of ȳ at x over the images, added to w0.
				yBar, w0 := randn(n*out), randn(o*s.C*9)
				tiles := Winograd43Tiles(s)
				ld := n*tiles + 1
				us, ys := s.C*ld+2, o*ld+3
				u, yt, tmp := make([]float64, 36*us), make([]float64, 36*ys), make([]float64, Winograd43Scratch(ld))
				Winograd43In(u, ld, us, x, n, s, tmp)
				Winograd43OutT(yt, ld, ys, yBar, n, o, oh, ow, tmp)
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
				Winograd43WeightsAdd(got, m, o, s.C)
				for k := 0; k < o; k++ {
					for c := 0; c < s.C; c++ {
						for a := 0; a < 3; a++ {
							for b := 0; b < 3; b++ {
								f := ((k*s.C+c)*3+a)*3 + b
								want := w0[f]
								for im := 0; im < n; im++ {
									for i := 0; i < oh; i++ {
										for j := 0; j < ow; j++ {
											r, q := i+a-s.Pad, j+b-s.Pad
											if r >= 0 && r < s.H && q >= 0 && q < s.W {
												want += yBar[im*out+(k*oh+i)*ow+j] * x[im*in+(c*s.H+r)*s.W+q]
											}
										}
									}
								}
								if math.Abs(got[f]-want) > 1e-12*float64(n*oh*ow)*(1+math.Abs(want)) {
									t.Fatalf("W̄[%d, %d, %d, %d] = %v, direct %v", k, c, a, b, got[f], want)
								}
							}
						}
					}
				}
			})
		}
	}
}

// TestWinograd43Float32 bounds the float32 convolution's error against the
// float64 direct one, relative to Σ|w·x| of each pixel, on ResNet-20's
// 16×16 layer (32 channels) and C2's 30×30 one (64): F(4×4, 3×3)'s
// transforms round more than F(2×2, 3×3)'s (fractions ⅙ and 1⁄24 in the
// weights, values summed with weights up to 25 in the tiles).
func TestWinograd43Float32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 43))
	for _, s := range []ConvShape{
		{C: 32, H: 16, W: 16, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{C: 64, H: 30, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 0},
	} {
		const n, o = 2, 8
		in, out := s.C*s.H*s.W, o*s.OutH()*s.OutW()
		x, w := make([]float64, n*in), make([]float64, o*s.C*9)
		for i := range x {
			x[i] = float64(float32(rng.NormFloat64()))
		}
		for i := range w {
			w[i] = float64(float32(rng.NormFloat64() / math.Sqrt(float64(9*s.C)))) // PyTorch's default scale
		}
		x32, w32 := make([]float32, len(x)), make([]float32, len(w))
		for i := range x {
			x32[i] = float32(x[i])
		}
		for i := range w {
			w32[i] = float32(w[i])
		}
		v := make([]float32, 36*o*s.C)
		Winograd43Weights(v, w32, o, s.C)
		y := make([]float32, n*out)
		winograd43Conv(y, x32, v, nil, n, o, s, false)
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
		t.Logf("%+v: largest error relative to Σ|w·x|: %.2g", s, worst)
		if worst > 2e-6 {
			t.Fatalf("%+v: largest error relative to Σ|w·x| %.2g, want at most 2e-6", s, worst)
		}
	}
}

// TestWinograd43InBackends checks Winograd43In in float32 (with AVX-512
// the gather and row transform in one kernel, 7 tiles at a time) against
// Im2col and the Go twins, bit for bit, for each ISA, with NaN and ±Inf
// among the pixels and values between the tiles untouched.
func TestWinograd43InBackends(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 43))
		for _, s := range winograd43Shapes {
			const n = 2
			tiles := Winograd43Tiles(s)
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
			Winograd43In(got, ld, us, x, n, s, make([]float32, Winograd43Scratch(ld)))
			tmp := make([]float32, 36*ld)
			plane := s.H * s.W
			for c := 0; c < s.C; c++ {
				for k := 0; k < n; k++ {
					off := (k*s.C + c) * plane
					Im2col(tmp[k*tiles:], ld, x[off:off+plane], winograd43Windows(s))
				}
				winoVertGeneric(winoOpB6, tmp, tmp, 0, n*tiles, 6, 6*ld, 6*ld, ld, ld)
				winoVertGeneric(winoOpB6, want[c*ld:], tmp, 0, n*tiles, 6, ld, us, 6*ld, 6*us)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%+v: value %d = %v, Go %v", s, i, got[i], want[i])
				}
			}
		}
	})
}

// TestWinoBlocks checks the scatter and gather of F(4×4, 3×3)'s output
// blocks (by permutes with AVX-512, 8 tiles at a time) against their Go
// twin, bit for bit, for rows of 1 to 19 tiles, written and added, with
// and without a bias,
// −0, NaN and ±Inf among the values, the plane and the blocks' rows
// ending at unreadable pages, and values between the blocks' rows
// untouched.
func TestWinoBlocks(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(4, 4))
		for tx := 1; tx <= 19; tx++ {
			for _, ty := range []int{1, 3} {
				ld := ty*tx + 2
				randVals := func(v []float32) {
					for i := range v {
						v[i] = float32(rng.NormFloat64())
					}
					v[rng.IntN(len(v))] = float32(math.NaN())
					v[rng.IntN(len(v))] = float32(math.Inf(1))
					v[rng.IntN(len(v))] = float32(math.Copysign(0, -1))
				}
				same := func(what string, got, want []float32) {
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
							t.Fatalf("%s, %d×%d tiles: value %d = %v, Go %v", what, ty, tx, i, got[i], want[i])
						}
					}
				}
				blk := guardedTail[float32](t, 15*ld+ty*tx)
				randVals(blk)
				bias := float32(rng.NormFloat64())
				for _, add := range []bool{false, true} {
					for _, b := range []*float32{nil, &bias} {
						y := guardedTail2[float32](t, 16*ty*tx)
						randVals(y)
						want := append([]float32(nil), y...)
						winoBlocksOut(y, blk, ld, ty, tx, add, b)
						winoBlocksGeneric(true, want, blk, ld, ty, tx, add, b)
						same(fmt.Sprintf("out (add %v, bias %v)", add, b != nil), y, want)
					}
				}
				y := guardedTail2[float32](t, 16*ty*tx)
				randVals(y)
				got := append([]float32(nil), blk...)
				want := append([]float32(nil), blk...)
				winoBlocksIn(got, y, ld, ty, tx)
				winoBlocksGeneric(false, y, want, ld, ty, tx, false, nil)
				same("in", got, want)
			}
		}
	})
}

// BenchmarkWinograd43 times the F(4×4, 3×3) transforms of one image of the
// layers of convBenchShapes they handle (bytes: the transformed tiles
// written or read), beside BenchmarkWinograd's F(2×2, 3×3):
//
//	go test -run '^$' -bench 'Winograd43?$' ./kernels
func BenchmarkWinograd43(b *testing.B) {
	for _, c := range convBenchShapes {
		if !Winograd43OK(c.s) || c.s.C < 16 {
			continue
		}
		s, tiles := c.s, Winograd43Tiles(c.s)
		oh, ow := s.OutH(), s.OutW()
		x, y := make([]float32, s.C*s.H*s.W), make([]float32, s.C*oh*ow)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		stride := WinogradStride[float32](s.C, tiles)
		u, tmp := make([]float32, 36*stride), make([]float32, Winograd43Scratch(tiles))
		bytes := int64(4 * 36 * s.C * tiles)
		b.Run(c.name+"/In", func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				Winograd43In(u, tiles, stride, x, 1, s, tmp)
			}
		})
		b.Run(c.name+"/Out", func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				Winograd43Out(y, 1, u, tiles, stride, s.C, oh, ow, nil, false, tmp)
			}
		})
		b.Run(c.name+"/OutT", func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				Winograd43OutT(u, tiles, stride, y, 1, s.C, oh, ow, tmp)
			}
		})
	}
}
