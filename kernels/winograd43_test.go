package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
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

// TestWinoBlocks checks the gather of F(4×4, 3×3)'s 4×4 output blocks (by
// permutes with AVX-512, 8 tiles at a time) against its Go twin, bit for
// bit, for rows of 1 to 19 tiles, with −0, NaN and ±Inf among the values,
// the plane and the blocks' rows ending at unreadable pages, and values
// between the blocks' rows untouched.
func TestWinoBlocks(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(4, 4))
		for tx := 1; tx <= 19; tx++ {
			for _, ty := range []int{1, 3} {
				ld := ty*tx + 2
				y := guardedTail2[float32](t, 16*ty*tx)
				for i := range y {
					y[i] = float32(rng.NormFloat64())
				}
				y[rng.IntN(len(y))] = float32(math.NaN())
				y[rng.IntN(len(y))] = float32(math.Inf(1))
				y[rng.IntN(len(y))] = float32(math.Copysign(0, -1))
				got := guardedTail[float32](t, 15*ld+ty*tx)
				for i := range got {
					got[i] = float32(i)
				}
				want := append([]float32(nil), got...)
				winoBlocksIn(got, y, ld, ty, tx)
				winoBlocksGeneric(want, y, ld, ty, tx)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("%d×%d tiles: value %d = %v, Go %v", ty, tx, i, got[i], want[i])
					}
				}
			}
		}
	})
}

// TestWinograd43Panics: arguments under which F(4×4, 3×3)'s transforms
// would read or write outside their slices, or that they do not handle,
// panic instead.
func TestWinograd43Panics(t *testing.T) {
	s := ConvShape{C: 2, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1}
	tiles := Winograd43Tiles(s) // 4
	in, out := 2*8*8, 2*8*8
	tmp := make([]float32, Winograd43Scratch(tiles))
	u := func(n int) []float32 { return make([]float32, n) }
	for name, f := range map[string]func(){
		"shape": func() {
			Winograd43In(u(1000), tiles, 2*tiles, u(in), 1, ConvShape{C: 2, H: 10, W: 10, KH: 3, KW: 3, Stride: 1, Pad: 0}, tmp)
		},
		"no images":  func() { Winograd43In(u(36*2*tiles), tiles, 2*tiles, u(in), 0, s, tmp) },
		"short x":    func() { Winograd43In(u(36*2*tiles), tiles, 2*tiles, u(in-1), 1, s, tmp) },
		"short dst":  func() { Winograd43In(u(35*2*tiles+tiles+tiles-1), tiles, 2*tiles, u(in), 1, s, tmp) },
		"small ld":   func() { Winograd43In(u(1000), tiles-1, 2*tiles, u(in), 1, s, tmp) },
		"small step": func() { Winograd43In(u(1000), tiles, 2*tiles-1, u(in), 1, s, tmp) },
		"short tmp":  func() { Winograd43In(u(36*2*tiles), tiles, 2*tiles, u(in), 1, s, tmp[1:]) },
		"outT odd":   func() { Winograd43OutT(u(1000), 4, 8, u(100), 1, 2, 6, 8, tmp) },
		"outT short": func() { Winograd43OutT(u(35*2*tiles+tiles+tiles-1), tiles, 2*tiles, u(out), 1, 2, 8, 8, tmp) },
		"outT y":     func() { Winograd43OutT(u(36*2*tiles), tiles, 2*tiles, u(out-1), 1, 2, 8, 8, tmp) },
		"outT tmp":   func() { Winograd43OutT(u(36*2*tiles), tiles, 2*tiles, u(out), 1, 2, 8, 8, tmp[1:]) },
		"grad short": func() { Winograd43WeightsAdd(u(36), u(36*4-1), 2, 2) },
		"grad w":     func() { Winograd43WeightsAdd(u(35), u(36*4), 2, 2) },
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
