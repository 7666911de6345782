package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"hesscope/tensor"
)

// TestChannelsLast checks ChannelsLast against its definition for float32
// and float64 (the transposing kernels of each instruction set): channel
// counts below, at and above the 4-, 8- and 16-wide blocks, widths likewise,
// paddings 0–2, NaN and infinities copied as they are, and every value of
// dst written (it starts full of a marker).
func TestChannelsLast(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		for _, s := range []ConvShape{
			{C: 1, H: 1, W: 1},
			{C: 3, H: 5, W: 7, Pad: 1},
			{C: 8, H: 8, W: 8, Pad: 1},
			{C: 16, H: 4, W: 16},
			{C: 17, H: 3, W: 17, Pad: 2},
			{C: 33, H: 6, W: 30},
			{C: 64, H: 8, W: 8, Pad: 1},
			{C: 20, H: 12, W: 12},
			{C: 5, H: 2, W: 41, Pad: 1},
		} {
			t.Run(fmt.Sprintf("c%d/%dx%d/p%d", s.C, s.H, s.W, s.Pad), func(t *testing.T) {
				checkChannelsLast[float32](t, s)
				checkChannelsLast[float64](t, s)
			})
		}
	})
}

func checkChannelsLast[T float32 | float64](t *testing.T, s ConvShape) {
	rng := rand.New(rand.NewPCG(uint64(s.C), uint64(s.W)))
	x := make([]T, s.C*s.H*s.W)
	for i := range x {
		x[i] = T(rng.NormFloat64())
	}
	x[0] = T(math.NaN())
	x[len(x)-1] = T(math.Inf(-1))
	hp, wp := s.H+2*s.Pad, s.W+2*s.Pad
	dst := make([]T, hp*wp*s.C+5)
	for i := range dst {
		dst[i] = 99
	}
	ChannelsLast(dst[:hp*wp*s.C], x, s)
	for i := 0; i < hp; i++ {
		for j := 0; j < wp; j++ {
			for c := 0; c < s.C; c++ {
				want := T(0)
				if yi, xj := i-s.Pad, j-s.Pad; yi >= 0 && yi < s.H && xj >= 0 && xj < s.W {
					want = x[(c*s.H+yi)*s.W+xj]
				}
				got := dst[(i*wp+j)*s.C+c]
				if math.Float64bits(float64(got)) != math.Float64bits(float64(want)) && !(got != got && want != want) {
					t.Fatalf("%T: dst at (%d, %d, channel %d) = %v, want %v", got, i, j, c, got, want)
				}
			}
		}
	}
	for i := hp * wp * s.C; i < len(dst); i++ {
		if dst[i] != 99 {
			t.Fatalf("%T: dst[%d] past the image written: %v", dst[i], i, dst[i])
		}
	}
}

func TestChannelsLastPanics(t *testing.T) {
	s := ConvShape{C: 2, H: 3, W: 3, KH: 3, KW: 3, Stride: 1, Pad: 1}
	for name, f := range map[string]func(){
		"short dst": func() { ChannelsLast(make([]float32, 5*5*2-1), make([]float32, 18), s) },
		"short x":   func() { ChannelsLast(make([]float32, 5*5*2), make([]float32, 17), s) },
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

// BenchmarkChannelsLast times the channels-last copies of the zoo's
// layers' inputs (convBenchShapes, one image), float32 and then float64
// ("f64/…").
func BenchmarkChannelsLast(b *testing.B) {
	benchChannelsLast[float32](b, "")
	benchChannelsLast[float64](b, "f64/")
}

func benchChannelsLast[T tensor.Float](b *testing.B, prefix string) {
	for _, c := range convBenchShapes {
		x := make([]T, c.s.C*c.s.H*c.s.W)
		dst := make([]T, (c.s.H+2*c.s.Pad)*(c.s.W+2*c.s.Pad)*c.s.C)
		b.Run(prefix+c.name, func(b *testing.B) {
			b.SetBytes(int64(unsafe.Sizeof(T(0))) * int64(len(x)+len(dst)))
			for b.Loop() {
				ChannelsLast(dst, x, c.s)
			}
		})
	}
}
