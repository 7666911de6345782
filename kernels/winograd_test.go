package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// winogradShapes are the shapes the transforms are tested on: every
// padding, square and oblong images, rows of 1 to 16 tiles, odd and even
// numbers of rows of tiles, one to seventeen channels.
var winogradShapes = []ConvShape{
	{C: 1, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 3, H: 6, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 2, H: 30, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 17, H: 12, W: 12, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 5, H: 34, W: 34, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 2, H: 2, W: 2, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 3, H: 8, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 4, H: 32, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 3, H: 4, W: 18, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 2, H: 6, W: 2, KH: 3, KW: 3, Stride: 1, Pad: 2},
	// Rows of 4 tiles (AVX2 pairs them when even in number, AVX-512 takes
	// four at a time when a multiple of 4).
	{C: 5, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 2, H: 6, W: 6, KH: 3, KW: 3, Stride: 1, Pad: 2},
	{C: 3, H: 10, W: 10, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{C: 2, H: 6, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 3, H: 16, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1}, // two groups of four rows
	{C: 3, H: 28, W: 28, KH: 3, KW: 3, Stride: 1, Pad: 2},
	{C: 2, H: 10, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 2},
}

func TestWinogradOK(t *testing.T) {
	for _, tc := range []struct {
		s    ConvShape
		want bool
	}{
		{ConvShape{C: 1, H: 30, W: 30, KH: 3, KW: 3, Stride: 1}, true},
		{ConvShape{C: 1, H: 32, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{ConvShape{C: 1, H: 30, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 2}, true},
		{ConvShape{C: 1, H: 2, W: 2, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{ConvShape{C: 1, H: 31, W: 31, KH: 3, KW: 3, Stride: 1, Pad: 1}, false}, // odd output
		{ConvShape{C: 1, H: 32, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 0}, true},
		{ConvShape{C: 1, H: 30, W: 29, KH: 3, KW: 3, Stride: 1, Pad: 0}, false},
		{ConvShape{C: 1, H: 34, W: 34, KH: 3, KW: 3, Stride: 1, Pad: 1}, false}, // 34 wide
		{ConvShape{C: 1, H: 32, W: 32, KH: 3, KW: 3, Stride: 2, Pad: 1}, false},
		{ConvShape{C: 1, H: 32, W: 32, KH: 5, KW: 5, Stride: 1, Pad: 2}, false},
		{ConvShape{C: 1, H: 32, W: 32, KH: 1, KW: 1, Stride: 1, Pad: 0}, false},
		{ConvShape{C: 1, H: 30, W: 30, KH: 3, KW: 3, Stride: 1, Pad: 3}, false},
		{ConvShape{C: 1, H: 3, W: 3, KH: 3, KW: 3, Stride: 1, Pad: 0}, false}, // 1×1 output
	} {
		if got := WinogradOK(tc.s); got != tc.want {
			t.Errorf("WinogradOK(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// refConv is the direct convolution of one image x ([C, H, W]) with w ([o,
// C, KH, KW]) plus bias, in float64.
func refConv(x, w, bias []float64, o int, s ConvShape) []float64 {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float64, o*oh*ow)
	for k := 0; k < o; k++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				sum := bias[k]
				for c := 0; c < s.C; c++ {
					for u := 0; u < s.KH; u++ {
						for v := 0; v < s.KW; v++ {
							r, q := i-s.Pad+u, j-s.Pad+v
							if r >= 0 && r < s.H && q >= 0 && q < s.W {
								sum += w[((k*s.C+c)*s.KH+u)*s.KW+v] * x[(c*s.H+r)*s.W+q]
							}
						}
					}
				}
				y[(k*oh+i)*ow+j] = sum
			}
		}
	}
	return y
}

// winogradConv is the convolution by the three transforms in float64, the
// products by plain loops: y (+)= Aᵀ·[V_ξ·U_ξ]·A + bias. v holds o×c
// weight matrices (WinogradWeights).
func winogradConv(y, x, v, bias []float64, o int, s ConvShape, add bool) {
	tiles := WinogradTiles(s)
	ld := tiles + 3
	u := make([]float64, 16*(s.C*ld+1))
	WinogradIn(u, ld, s.C*ld+1, x, s)
	m := make([]float64, 16*(o*ld+2))
	for xi := 0; xi < 16; xi++ {
		for k := 0; k < o; k++ {
			for t := 0; t < tiles; t++ {
				var sum float64
				for c := 0; c < s.C; c++ {
					sum += v[(xi*o+k)*s.C+c] * u[xi*(s.C*ld+1)+c*ld+t]
				}
				m[xi*(o*ld+2)+k*ld+t] = sum
			}
		}
	}
	WinogradOut(y, m, ld, o*ld+2, o, s.OutH(), s.OutW(), bias, add)
}

// winogradWeightGrad adds to wBar the weight gradient of the cotangents yBar
// ([o, H′, W′]) at the image x, by WinogradOutT, WinogradIn, plain product
// loops and WinogradWeightsAdd, in float64.
func winogradWeightGrad(wBar, x, yBar []float64, o int, s ConvShape) {
	tiles := WinogradTiles(s)
	ld := tiles + 1
	u := make([]float64, 16*(s.C*ld+2))
	WinogradIn(u, ld, s.C*ld+2, x, s)
	yt := make([]float64, 16*(o*ld+3))
	WinogradOutT(yt, ld, o*ld+3, yBar, o, s.OutH(), s.OutW())
	m := make([]float64, 16*o*s.C)
	for xi := 0; xi < 16; xi++ {
		for k := 0; k < o; k++ {
			for c := 0; c < s.C; c++ {
				var sum float64
				for t := 0; t < tiles; t++ {
					sum += yt[xi*(o*ld+3)+k*ld+t] * u[xi*(s.C*ld+2)+c*ld+t]
				}
				m[(xi*o+k)*s.C+c] = sum
			}
		}
	}
	WinogradWeightsAdd(wBar, m, o, s.C)
}

// TestWinogradConv checks the transforms' algebra in float64: the
// convolution by WinogradWeights, WinogradIn and WinogradOut against the
// direct one, the weight gradient by WinogradOutT and WinogradWeightsAdd
// against the direct sum, and the transposed convolution (x̄ of a stride-1 3×3
// convolution of padding p, by the transposed weights and padding 2 − p,
// added to x̄) against the adjoint identity ⟨conv(x), ȳ⟩ = ⟨x, x̄⟩.
func TestWinogradConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	for _, s := range winogradShapes {
		for _, o := range []int{1, 3} {
			t.Run(fmt.Sprintf("%dx%dx%d-p%d-o%d", s.C, s.H, s.W, s.Pad, o), func(t *testing.T) {
				oh, ow := s.OutH(), s.OutW()
				x, w, bias := randn(s.C*s.H*s.W), randn(o*s.C*9), randn(o)
				v := make([]float64, 16*o*s.C)
				WinogradWeights(v, w, o, s.C)
				y := make([]float64, o*oh*ow)
				winogradConv(y, x, v, bias, o, s, false)
				want := refConv(x, w, bias, o, s)
				for i := range y {
					if math.Abs(y[i]-want[i]) > 1e-12*(1+math.Abs(want[i]))*float64(s.C) {
						t.Fatalf("y[%d] = %v, direct %v", i, y[i], want[i])
					}
				}
				// The weight gradient of ȳ at x, added to w0.
				{
					yBar, w0 := randn(o*oh*ow), randn(o*s.C*9)
					got := append([]float64(nil), w0...)
					winogradWeightGrad(got, x, yBar, o, s)
					for k := 0; k < o; k++ {
						for c := 0; c < s.C; c++ {
							for u := 0; u < 3; u++ {
								for v := 0; v < 3; v++ {
									want := w0[((k*s.C+c)*3+u)*3+v]
									for i := 0; i < oh; i++ {
										for j := 0; j < ow; j++ {
											r, q := i+u-s.Pad, j+v-s.Pad
											if r >= 0 && r < s.H && q >= 0 && q < s.W {
												want += yBar[(k*oh+i)*ow+j] * x[(c*s.H+r)*s.W+q]
											}
										}
									}
									if g := got[((k*s.C+c)*3+u)*3+v]; math.Abs(g-want) > 1e-12*float64(oh*ow)*(1+math.Abs(want)) {
										t.Fatalf("W̄[%d, %d, %d, %d] = %v, direct %v", k, c, u, v, g, want)
									}
								}
							}
						}
					}
				}
				// The transposed convolution, when its output is tiled too.
				st := ConvShape{C: o, H: oh, W: ow, KH: 3, KW: 3, Stride: 1, Pad: 2 - s.Pad}
				if !WinogradOK(st) {
					return
				}
				yBar, x0 := randn(o*oh*ow), randn(s.C*s.H*s.W)
				// The transposed weights: components exchanged, matrices
				// transposed.
				vt := make([]float64, 16*o*s.C)
				for xi := 0; xi < 16; xi++ {
					src := WinogradTransposed(xi)
					for k := 0; k < o; k++ {
						for c := 0; c < s.C; c++ {
							vt[(xi*s.C+c)*o+k] = v[(src*o+k)*s.C+c]
						}
					}
				}
				xBar := append([]float64(nil), x0...)
				winogradConv(xBar, yBar, vt, nil, s.C, st, true)
				// ⟨conv(x) − bias, ȳ⟩ = ⟨x, x̄ − x0⟩.
				var lhs, rhs, scale float64
				for i := range want {
					lhs += (want[i] - bias[i/(oh*ow)]) * yBar[i]
					scale += math.Abs(want[i] * yBar[i])
				}
				for i := range x {
					rhs += x[i] * (xBar[i] - x0[i])
				}
				if math.Abs(lhs-rhs) > 1e-12*scale {
					t.Fatalf("⟨conv(x), ȳ⟩ = %v, ⟨x, x̄⟩ = %v", lhs, rhs)
				}
				// And pixel by pixel, the x̄ of one pixel of ȳ at a time.
				for _, at := range []int{0, len(yBar) - 1, len(yBar) / 2} {
					e := make([]float64, len(yBar))
					e[at] = 1
					got := make([]float64, len(x))
					winogradConv(got, e, vt, nil, s.C, st, false)
					k, i, j := at/(oh*ow), at/ow%oh, at%ow
					for c := 0; c < s.C; c++ {
						for r := 0; r < s.H; r++ {
							for q := 0; q < s.W; q++ {
								u, vv := r-i+s.Pad, q-j+s.Pad
								var want float64
								if u >= 0 && u < 3 && vv >= 0 && vv < 3 {
									want = w[((k*s.C+c)*3+u)*3+vv]
								}
								if g := got[(c*s.H+r)*s.W+q]; math.Abs(g-want) > 1e-12 {
									t.Fatalf("x̄ of ȳ[%d] at (%d, %d, %d) = %v, want %v", at, c, r, q, g, want)
								}
							}
						}
					}
				}
			})
		}
	}
}

// TestWinogradBackends checks the float32 transforms this machine runs
// (assembly with AVX-512, and with AVX2) against the Go twins bit for bit, values outside
// the tiles included (they must stay untouched), with the image and the
// products ending at an unreadable page; with NaN and ±Inf among the
// pixels.
func TestWinogradBackends(t *testing.T) {
	if !WinogradFast[float32]() {
		t.Skip("no assembly transforms on this machine")
	}
	withISAs(t, testWinogradBackends)
}

func testWinogradBackends(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range winogradShapes {
		for _, special := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dx%dx%d-p%d-special=%v", s.C, s.H, s.W, s.Pad, special), func(t *testing.T) {
				tiles := WinogradTiles(s)
				ld, stride := tiles+5, s.C*(tiles+5)+3
				x := guardedTail[float32](t, s.C*s.H*s.W)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				if special {
					x[rng.IntN(len(x))] = float32(math.NaN())
					x[rng.IntN(len(x))] = float32(math.Inf(1))
					x[rng.IntN(len(x))] = float32(math.Inf(-1))
				}
				n := 16 * stride
				got, want := make([]float32, n), make([]float32, n)
				for i := range got {
					got[i] = -7
					want[i] = -7
				}
				WinogradIn(got, ld, stride, x, s)
				winogradInGeneric(want, ld, stride, x, s)
				sameSlices(t, "WinogradIn", got, want)

				// The output transform of those tiles as products of
				// o = C channels, with and without bias, set and add.
				o, oh, ow := s.C, s.OutH(), s.OutW()
				m := guardedTail2[float32](t, 15*stride+(o-1)*ld+tiles)
				copy(m, want)
				bias := make([]float32, o)
				for i := range bias {
					bias[i] = float32(rng.NormFloat64())
				}
				y0 := make([]float32, o*oh*ow)
				for i := range y0 {
					y0[i] = float32(rng.NormFloat64())
				}
				// The transform of output cotangents, of y0 at the end of
				// readable memory.
				yg := guardedTail[float32](t, len(y0))
				copy(yg, y0)
				gotT, wantT := make([]float32, n), make([]float32, n)
				for i := range gotT {
					gotT[i], wantT[i] = -7, -7
				}
				WinogradOutT(gotT, ld, stride, yg, o, oh, ow)
				winogradOutTGeneric(wantT, ld, stride, yg, o, oh, ow)
				sameSlices(t, "WinogradOutT", gotT, wantT)
				for _, b := range [][]float32{nil, bias} {
					for _, add := range []bool{false, true} {
						got, want := append([]float32(nil), y0...), append([]float32(nil), y0...)
						WinogradOut(got, m, ld, stride, o, oh, ow, b, add)
						winogradOutGeneric(want, m, ld, stride, o, oh, ow, b, add)
						sameSlices(t, fmt.Sprintf("WinogradOut(bias %v, add %v)", b != nil, add), got, want)
					}
				}
			})
		}
	}
}

// sameSlices fails t unless got and want hold the same bits, or NaN both
// (sameBits).
func sameSlices(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range got {
		if !sameBits(got[i], want[i], true) {
			t.Fatalf("%s: [%d] = %v, Go twin %v", what, i, got[i], want[i])
		}
	}
}

// TestWinogradPanics checks the argument checks.
func TestWinogradPanics(t *testing.T) {
	s := ConvShape{C: 2, H: 6, W: 6, KH: 3, KW: 3, Stride: 1, Pad: 1}
	tiles := WinogradTiles(s)
	for name, f := range map[string]func(){
		"shape": func() {
			WinogradIn(make([]float32, 1000), 9, 18, make([]float32, 72), ConvShape{C: 2, H: 6, W: 6, KH: 3, KW: 3, Stride: 2, Pad: 1})
		},
		"short x":   func() { WinogradIn(make([]float32, 16*2*tiles), tiles, 2*tiles, make([]float32, 71), s) },
		"short dst": func() { WinogradIn(make([]float32, 16*2*tiles-1), tiles, 2*tiles, make([]float32, 72), s) },
		"small ld":  func() { WinogradIn(make([]float32, 1000), tiles-1, 2*tiles, make([]float32, 72), s) },
		"odd out":   func() { WinogradOut(make([]float32, 100), make([]float32, 1000), 9, 9, 1, 5, 6, nil, false) },
		"wide out":  func() { WinogradOut(make([]float32, 2000), make([]float32, 5000), 34, 34, 1, 2, 34, nil, false) },
		"short m":   func() { WinogradOut(make([]float32, 36), make([]float32, 16*9-1), 9, 9, 1, 6, 6, nil, false) },
		"short bias": func() {
			WinogradOut(make([]float32, 72), make([]float32, 16*18), 9, 18, 2, 6, 6, make([]float32, 1), false)
		},
		"weights":    func() { WinogradWeights(make([]float32, 16*4-1), make([]float32, 36), 2, 2) },
		"outT odd":   func() { WinogradOutT(make([]float32, 1000), 9, 9, make([]float32, 30), 1, 5, 6) },
		"outT short": func() { WinogradOutT(make([]float32, 16*9-1), 9, 9, make([]float32, 36), 1, 6, 6) },
		"outT y":     func() { WinogradOutT(make([]float32, 16*9), 9, 9, make([]float32, 35), 1, 6, 6) },
		"grad short": func() { WinogradWeightsAdd(make([]float32, 36), make([]float32, 16*4-1), 2, 2) },
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

// BenchmarkWinograd times the transforms on one image of the zoo's
// Winograd layers (those of convBenchShapes it takes, with at least 16
// channels as the models' rule; bytes: the transformed tiles written or
// read), with the kernels this machine runs (GODEBUG=cpu.avx512f=off for
// AVX2), and beside them, where the layer's output is a multiple of 4
// wide and high, F(4×4, 3×3)'s transforms of its weight cotangents
// ("In43", "OutT43"):
//
//	go test -run '^$' -bench Winograd ./kernels
func BenchmarkWinograd(b *testing.B) {
	for _, c := range convBenchShapes {
		if !WinogradOK(c.s) || c.s.C < 16 {
			continue
		}
		s, tiles := c.s, WinogradTiles(c.s)
		oh, ow := s.OutH(), s.OutW()
		x, y := make([]float32, s.C*s.H*s.W), make([]float32, s.C*oh*ow)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		stride := WinogradStride[float32](s.C, tiles)
		u := make([]float32, 16*stride)
		bytes := int64(4 * 16 * s.C * tiles)
		b.Run(c.name+"/In", func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				WinogradIn(u, tiles, stride, x, s)
			}
		})
		b.Run(c.name+"/Out", func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				WinogradOut(y, u, tiles, stride, s.C, oh, ow, nil, false)
			}
		})
		b.Run(c.name+"/OutT", func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				WinogradOutT(u, tiles, stride, y, s.C, oh, ow)
			}
		})
		if !Winograd43OK(s) {
			continue
		}
		tiles43 := Winograd43Tiles(s)
		stride43 := WinogradStride[float32](s.C, tiles43)
		u43, tmp := make([]float32, 36*stride43), make([]float32, Winograd43Scratch(tiles43))
		bytes43 := int64(4 * 36 * s.C * tiles43)
		b.Run(c.name+"/In43", func(b *testing.B) {
			b.SetBytes(bytes43)
			for b.Loop() {
				Winograd43In(u43, tiles43, stride43, x, 1, s, tmp)
			}
		})
		b.Run(c.name+"/OutT43", func(b *testing.B) {
			b.SetBytes(bytes43)
			for b.Loop() {
				Winograd43OutT(u43, tiles43, stride43, y, 1, s.C, oh, ow, tmp)
			}
		})
	}
}

// BenchmarkWinogradWeights times the weight transform of ResNet-18's
// 512-channel layer (262 144 filters; bytes: the weights read).
func BenchmarkWinogradWeights(b *testing.B) {
	o, c := 512, 512
	w, v := make([]float32, o*c*9), make([]float32, 16*o*c)
	for i := range w {
		w[i] = float32(i%13) - 6
	}
	b.SetBytes(int64(4 * len(w)))
	for b.Loop() {
		WinogradWeights(v, w, o, c)
	}
}

// TestWinogradWeightsBackends checks the weight transform and its adjoint
// this machine runs (assembly with AVX-512) against the Go twins bit for bit, blocks of 16
// filters and the rest, the weights ending at an unreadable page and the
// values after the 16 components untouched; with NaN and ±Inf among the
// weights.
func TestWinogradWeightsBackends(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, oc := range [][2]int{{1, 1}, {3, 5}, {16, 1}, {17, 3}, {64, 65}, {96, 96}} {
		o, c := oc[0], oc[1]
		n := o * c
		w := guardedTail[float32](t, 9*n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		w[rng.IntN(len(w))] = float32(math.NaN())
		w[rng.IntN(len(w))] = float32(math.Inf(1))
		got, want := make([]float32, 16*n+5), make([]float32, 16*n+5)
		for i := range got {
			got[i], want[i] = -7, -7
		}
		WinogradWeights(got, w, o, c)
		winogradWeightsGeneric(want, w, n, 0, n)
		sameSlices(t, fmt.Sprintf("WinogradWeights [%d, %d]", o, c), got, want)

		// The adjoint, of products at the end of readable memory, added
		// to a gradient with values after it.
		m := guardedTail2[float32](t, 16*n)
		for i := range m {
			m[i] = float32(rng.NormFloat64())
		}
		m[rng.IntN(len(m))] = float32(math.Inf(-1))
		gBar, wBar := make([]float32, 9*n+3), make([]float32, 9*n+3)
		for i := range gBar {
			gBar[i] = float32(rng.NormFloat64())
			wBar[i] = gBar[i]
		}
		WinogradWeightsAdd(gBar, m, o, c)
		winogradWeightsAddGeneric(wBar, m, n, 0, n)
		sameSlices(t, fmt.Sprintf("WinogradWeightsAdd [%d, %d]", o, c), gBar, wBar)
	}
}

// BenchmarkWinogradProducts times the 16 per-component products of one
// chunk of Winograd's convolutions (M_ξ = V_ξ·U_ξ, [c, c]·[c, n], k = c
// deep: the thin layers' short products) on one goroutine, in GFLOP/s.
func BenchmarkWinogradProducts(b *testing.B) {
	for _, c := range []int{16, 32, 64, 128} {
		for _, n := range []int{128, 256} {
			a := make([]float32, c*c)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			u, m := make([]float32, c*n), make([]float32, c*n)
			pa := PackA(false, c, c, a, c)
			b.Run(fmt.Sprintf("c%d/n%d", c, n), func(b *testing.B) {
				defer setParallel(1)()
				for b.Loop() {
					for range 16 {
						pa.Gemm(false, n, 1, u, n, 0, m, n)
					}
				}
				b.ReportMetric(16*2*float64(c*c*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			pa.Release()
		}
	}
}
