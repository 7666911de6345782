package data

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// grid5 is the 1×5×5 image with pixel (y, x) = 1 + 5y + x.
func grid5() []float32 {
	x := make([]float32, 25)
	for i := range x {
		x[i] = float32(i + 1)
	}
	return x
}

// TestAugmentOne checks a shift and a flip by hand.
func TestAugmentOne(t *testing.T) {
	for _, tc := range []struct {
		dy, dx int
		flip   bool
		want   []float32
	}{
		{0, 0, false, grid5()},
		{-1, 2, false, []float32{
			0, 0, 0, 0, 0,
			3, 4, 5, 0, 0,
			8, 9, 10, 0, 0,
			13, 14, 15, 0, 0,
			18, 19, 20, 0, 0,
		}},
		{-1, 2, true, []float32{
			0, 0, 0, 0, 0,
			0, 0, 5, 4, 3,
			0, 0, 10, 9, 8,
			0, 0, 15, 14, 13,
			0, 0, 20, 19, 18,
		}},
		{0, 0, true, []float32{
			5, 4, 3, 2, 1,
			10, 9, 8, 7, 6,
			15, 14, 13, 12, 11,
			20, 19, 18, 17, 16,
			25, 24, 23, 22, 21,
		}},
		{4, -4, false, []float32{
			0, 0, 0, 0, 21,
			0, 0, 0, 0, 0,
			0, 0, 0, 0, 0,
			0, 0, 0, 0, 0,
			0, 0, 0, 0, 0,
		}},
	} {
		dst := make([]float32, 25)
		for i := range dst {
			dst[i] = -1 // every pixel must be written
		}
		augmentOne(dst, grid5(), 1, 5, 5, tc.dy, tc.dx, tc.flip)
		if !slices.Equal(dst, tc.want) {
			t.Errorf("shift (%d, %d) flip %v:\n got %v\nwant %v", tc.dy, tc.dx, tc.flip, dst, tc.want)
		}
	}
}

// refAugment is Augment written the slow, obvious way: draw, pad into a
// bigger zero image, crop, flip.
func refAugment(src []float32, n, c, h, w int, rng *rand.Rand) []float32 {
	const p = AugmentPad
	dst := make([]float32, 0, len(src))
	for i := range n {
		oy := int(bounded(rng, 2*p+1))
		ox := int(bounded(rng, 2*p+1))
		flip := rng.Uint64()>>63 == 1
		for ch := range c {
			padded := make([][]float32, h+2*p)
			for y := range padded {
				padded[y] = make([]float32, w+2*p)
			}
			for y := range h {
				for x := range w {
					padded[y+p][x+p] = src[((i*c+ch)*h+y)*w+x]
				}
			}
			for y := range h {
				row := slices.Clone(padded[oy+y][ox : ox+w])
				if flip {
					slices.Reverse(row)
				}
				dst = append(dst, row...)
			}
		}
	}
	return dst
}

func TestAugment(t *testing.T) {
	const n, c, h, w = 64, 3, 8, 6
	src := make([]float32, n*c*h*w)
	for i := range src {
		src[i] = float32(i%251) / 250
	}
	dst := make([]float32, len(src))
	Augment(dst, src, n, c, h, w, rand.New(rand.NewPCG(3, 4)))
	if want := refAugment(src, n, c, h, w, rand.New(rand.NewPCG(3, 4))); !slices.Equal(dst, want) {
		t.Error("Augment differs from the padded-crop-flip reference")
	}
	again := make([]float32, len(src))
	Augment(again, src, n, c, h, w, rand.New(rand.NewPCG(3, 4)))
	if !slices.Equal(dst, again) {
		t.Error("same seed, different result")
	}
	Augment(again, src, n, c, h, w, rand.New(rand.NewPCG(3, 5)))
	if slices.Equal(dst, again) {
		t.Error("different seeds, same result")
	}

	// Golden draws for PCG(7, 11): (dy, dx, flip) = (-2, -1, true),
	// (-3, -1, false), (1, -2, true), (-2, -3, true).
	src4 := slices.Concat(grid5(), grid5(), grid5(), grid5())
	dst4 := make([]float32, 100)
	Augment(dst4, src4, 4, 1, 5, 5, rand.New(rand.NewPCG(7, 11)))
	for i, d := range []struct {
		dy, dx int
		flip   bool
	}{{-2, -1, true}, {-3, -1, false}, {1, -2, true}, {-2, -3, true}} {
		want := make([]float32, 25)
		augmentOne(want, grid5(), 1, 5, 5, d.dy, d.dx, d.flip)
		if !slices.Equal(dst4[25*i:25*(i+1)], want) {
			t.Errorf("image %d: want shift (%d, %d) flip %v", i, d.dy, d.dx, d.flip)
		}
	}

	panics(t, "dst and src are the same slice", func() { Augment(src, src, n, c, h, w, rand.New(rand.NewPCG(1, 1))) })
	panics(t, "dst 5 and src", func() { Augment(make([]float32, 5), src, n, c, h, w, rand.New(rand.NewPCG(1, 1))) })
	Augment(nil, nil, 0, 3, 32, 32, rand.New(rand.NewPCG(1, 1))) // no images: nothing to do
}

func BenchmarkAugmentCIFARBatch(b *testing.B) {
	const n = 128
	src := make([]float32, n*3*32*32)
	dst := make([]float32, len(src))
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		Augment(dst, src, n, 3, 32, 32, rng)
	}
}
