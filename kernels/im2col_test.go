package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveIm2col is the reference loop: one entry at a time from the definition.
func naiveIm2col(x []float64, s ConvShape) []float64 {
	oh, ow := s.OutH(), s.OutW()
	dst := make([]float64, s.Rows()*oh*ow)
	for c := 0; c < s.C; c++ {
		for i := 0; i < s.KH; i++ {
			for j := 0; j < s.KW; j++ {
				row := (c*s.KH+i)*s.KW + j
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						iy, ix := oy*s.Stride-s.Pad+i, ox*s.Stride-s.Pad+j
						if iy >= 0 && iy < s.H && ix >= 0 && ix < s.W {
							dst[row*oh*ow+oy*ow+ox] = x[(c*s.H+iy)*s.W+ix]
						}
					}
				}
			}
		}
	}
	return dst
}

// naiveCol2im is the adjoint of naiveIm2col, scattering entry by entry.
func naiveCol2im(dst, col []float64, s ConvShape) {
	oh, ow := s.OutH(), s.OutW()
	for c := 0; c < s.C; c++ {
		for i := 0; i < s.KH; i++ {
			for j := 0; j < s.KW; j++ {
				row := (c*s.KH+i)*s.KW + j
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						iy, ix := oy*s.Stride-s.Pad+i, ox*s.Stride-s.Pad+j
						if iy >= 0 && iy < s.H && ix >= 0 && ix < s.W {
							dst[(c*s.H+iy)*s.W+ix] += col[row*oh*ow+oy*ow+ox]
						}
					}
				}
			}
		}
	}
}

func im2colShapes() []ConvShape {
	var shapes []ConvShape
	for _, hw := range [][2]int{{1, 1}, {5, 7}, {7, 5}, {9, 9}, {4, 11}} {
		for _, k := range [][2]int{{1, 1}, {3, 3}, {5, 5}, {2, 3}, {3, 1}} {
			for stride := 1; stride <= 3; stride++ {
				for pad := 0; pad <= 2; pad++ {
					s := ConvShape{C: 3, H: hw[0], W: hw[1], KH: k[0], KW: k[1], Stride: stride, Pad: pad}
					if s.H+2*pad < s.KH || s.W+2*pad < s.KW {
						continue
					}
					shapes = append(shapes, s)
				}
			}
		}
	}
	// A window much larger than the stride and a stride larger than the window.
	shapes = append(shapes,
		ConvShape{C: 2, H: 3, W: 3, KH: 7, KW: 7, Stride: 1, Pad: 2},
		ConvShape{C: 1, H: 8, W: 8, KH: 2, KW: 2, Stride: 5, Pad: 1},
		ConvShape{C: 1, H: 2, W: 2, KH: 1, KW: 1, Stride: 1, Pad: 2},
	)
	return shapes
}

func TestIm2colCol2im(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range im2colShapes() {
		t.Run(fmt.Sprintf("%dx%d/k%dx%d/s%d/p%d", s.H, s.W, s.KH, s.KW, s.Stride, s.Pad), func(t *testing.T) {
			s.Check()
			x := make([]float64, s.C*s.H*s.W)
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			want := naiveIm2col(x, s)
			got := make([]float64, len(want))
			for i := range got {
				got[i] = 99 // Im2col must overwrite every entry, padding included
			}
			Im2col(got, s.Cols(), x, s)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("Im2col entry %d = %g, want %g", i, got[i], want[i])
				}
			}

			// With a leading dimension: image 1 of 3 side by side, the
			// entries of the other images untouched.
			ld := 3 * s.Cols()
			wide := make([]float64, s.Rows()*ld)
			for i := range wide {
				wide[i] = 99
			}
			Im2col(wide[s.Cols():], ld, x, s)
			for r := 0; r < s.Rows(); r++ {
				for j := 0; j < ld; j++ {
					w := 99.0
					if j >= s.Cols() && j < 2*s.Cols() {
						w = want[r*s.Cols()+j-s.Cols()]
					}
					if wide[r*ld+j] != w {
						t.Fatalf("Im2col with ld %d: entry (%d, %d) = %g, want %g", ld, r, j, wide[r*ld+j], w)
					}
				}
			}

			col := make([]float64, len(want))
			for i := range col {
				col[i] = rng.NormFloat64()
			}
			base := make([]float64, len(x))
			for i := range base {
				base[i] = rng.NormFloat64()
			}
			wantX := append([]float64(nil), base...)
			naiveCol2im(wantX, col, s)
			gotX := append([]float64(nil), base...)
			Col2im(gotX, col, s.Cols(), s)
			for i := range wantX {
				// Both add in the same (row) order, so the sums agree exactly.
				if gotX[i] != wantX[i] {
					t.Fatalf("Col2im entry %d = %g, want %g", i, gotX[i], wantX[i])
				}
			}

			// The same columns as image 2 of 2 side by side, the other
			// image's columns poisoned.
			wide = make([]float64, s.Rows()*2*s.Cols())
			for r := 0; r < s.Rows(); r++ {
				for j := 0; j < s.Cols(); j++ {
					wide[r*2*s.Cols()+j] = math.NaN()
					wide[r*2*s.Cols()+s.Cols()+j] = col[r*s.Cols()+j]
				}
			}
			gotX = append(gotX[:0], base...)
			Col2im(gotX, wide[s.Cols():], 2*s.Cols(), s)
			for i := range wantX {
				if gotX[i] != wantX[i] {
					t.Fatalf("Col2im with ld: entry %d = %g, want %g", i, gotX[i], wantX[i])
				}
			}
		})
	}
}

// TestIm2colFloat32 checks float32 Im2col and Col2im against the reference on every
// shape of im2colShapes and on rows wider than the assembly copies (40
// pixels), with a leading dimension whose gaps must stay untouched.
func TestIm2colFloat32(t *testing.T) {
	shapes := append(im2colShapes(),
		ConvShape{C: 2, H: 6, W: 40, KH: 3, KW: 3, Stride: 1},
		ConvShape{C: 2, H: 5, W: 40, KH: 3, KW: 3, Stride: 1, Pad: 2},
		ConvShape{C: 2, H: 5, W: 6, KH: 3, KW: 3, Stride: 2, Pad: 1},
		// "Same" padding at the zoo's widths, whose shifted rows are
		// copied by copyPanel in assembly (rows of at most 128 bytes).
		ConvShape{C: 2, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1},
		ConvShape{C: 2, H: 16, W: 16, KH: 3, KW: 3, Stride: 1, Pad: 1},
		ConvShape{C: 2, H: 32, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1},
		ConvShape{C: 2, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2},
		ConvShape{C: 1, H: 2, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1},
		// The zoo's down-sampling layers (copyPanelS2, addPanelS2).
		ConvShape{C: 2, H: 32, W: 32, KH: 3, KW: 3, Stride: 2, Pad: 1},
		ConvShape{C: 2, H: 16, W: 16, KH: 1, KW: 1, Stride: 2},
		ConvShape{C: 2, H: 40, W: 40, KH: 3, KW: 3, Stride: 2, Pad: 1})
	for _, s := range shapes {
		x64 := make([]float64, s.C*s.H*s.W)
		x32 := make([]float32, len(x64))
		for i := range x64 {
			x64[i] = float64(i%7) - 3
			x32[i] = float32(x64[i])
		}
		want := naiveIm2col(x64, s)
		cols := s.Cols()
		ld := cols + 3
		got := make([]float32, s.Rows()*ld)
		for i := range got {
			got[i] = -77
		}
		Im2col(got, ld, x32, s)
		for r := 0; r < s.Rows(); r++ {
			for j := 0; j < ld; j++ {
				w := float32(-77)
				if j < cols {
					w = float32(want[r*cols+j])
				}
				if got[r*ld+j] != w {
					t.Fatalf("%+v: float32 Im2col entry (%d, %d) = %g, want %g", s, r, j, got[r*ld+j], w)
				}
			}
		}
		// Col2im of small integers (exact in float32 and float64), the
		// column matrix's gaps poisoned: stride 2 adds with the assembly.
		col64 := make([]float64, s.Rows()*cols)
		col32 := make([]float32, s.Rows()*ld)
		for i := range col32 {
			col32[i] = float32(math.NaN())
		}
		for r := 0; r < s.Rows(); r++ {
			for j := 0; j < cols; j++ {
				v := float64((r*7+j*3)%11) - 5
				col64[r*cols+j], col32[r*ld+j] = v, float32(v)
			}
		}
		img64 := append([]float64(nil), x64...)
		naiveCol2im(img64, col64, s)
		img32 := append([]float32(nil), x32...)
		Col2im(img32, col32, ld, s)
		for i := range img32 {
			if float64(img32[i]) != img64[i] {
				t.Fatalf("%+v: float32 Col2im entry %d = %g, want %g", s, i, img32[i], img64[i])
			}
		}
	}
}

func TestConvShapeOut(t *testing.T) {
	for _, c := range []struct {
		s      ConvShape
		oh, ow int
	}{
		{ConvShape{C: 1, H: 28, W: 28, KH: 5, KW: 5, Stride: 1}, 24, 24},
		{ConvShape{C: 3, H: 32, W: 32, KH: 5, KW: 5, Stride: 1, Pad: 2}, 32, 32},
		{ConvShape{C: 64, H: 32, W: 32, KH: 3, KW: 3, Stride: 2, Pad: 1}, 16, 16},
		{ConvShape{C: 64, H: 32, W: 32, KH: 1, KW: 1, Stride: 2}, 16, 16},
		{ConvShape{C: 1, H: 7, W: 10, KH: 3, KW: 2, Stride: 3, Pad: 1}, 3, 4},
	} {
		if c.s.OutH() != c.oh || c.s.OutW() != c.ow {
			t.Errorf("%+v: out %d×%d, want %d×%d", c.s, c.s.OutH(), c.s.OutW(), c.oh, c.ow)
		}
	}
}

// TestUnpitch checks Unpitch against the definition, bit for bit (signed
// zeros and NaNs included), with and without the bias, with AVX-512 and
// AVX2, for rows narrower and wider than the assembly's 32 values, pitches above, at and below the
// row width, and both the source and the destination ending at an
// unreadable page right after the last element touched.
func TestUnpitch(t *testing.T) {
	withISAs(t, func(t *testing.T) {
		testUnpitch[float32](t)
		testUnpitch[float64](t)
	})
}

func testUnpitch[T float32 | float64](t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, w := range []int{1, 5, 16, 17, 30, 32, 33, 64, 100} {
		for _, rows := range []int{1, 2, 5, 11} {
			for _, ld := range []int{w, w + 3, max(1, w-1)} {
				for _, bias := range []bool{false, true} {
					src := guardedTail[T](t, (rows-1)*ld+w)
					for i := range src {
						switch rng.IntN(8) {
						case 0:
							src[i] = T(math.Copysign(0, -1))
						case 1:
							src[i] = T(math.NaN())
						default:
							src[i] = T(rng.NormFloat64())
						}
					}
					b := T(rng.NormFloat64())
					dst := guardedTail2[T](t, rows*w)
					Unpitch(dst, src, ld, rows, w, b, bias)
					for r := 0; r < rows; r++ {
						for j := 0; j < w; j++ {
							want := src[r*ld+j]
							if bias {
								want += b
							}
							if got := dst[r*w+j]; !sameBits(got, want, true) {
								t.Fatalf("%T w=%d rows=%d ld=%d bias=%v: dst[%d] = %v, want %v", T(0), w, rows, ld, bias, r*w+j, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestIm2colPerm checks Im2col of float32 images with output rows narrower
// than a vector (the permute tables, in assembly with AVX-512) and the
// tables' Go twin against the definition, bit for bit, for the zoo's small
// layers and every small shape up to 13×13 with windows up to 5×5: with a
// leading dimension (other images' entries untouched), and the image
// ending at an unreadable page (the masked loads stay inside it).
func TestIm2colPerm(t *testing.T) {
	zoo := []ConvShape{
		{C: 5, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}, // ResNet-18 layer 4
		{C: 5, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1}, // ResNets' 8×8 layers
		{C: 5, H: 12, W: 12, KH: 3, KW: 3, Stride: 1},       // C2 conv4
		{C: 5, H: 14, W: 14, KH: 3, KW: 3, Stride: 1},       // C2 conv3
		{C: 5, H: 12, W: 12, KH: 5, KW: 5, Stride: 1},       // LeNet-5 conv2
		{C: 5, H: 8, W: 8, KH: 5, KW: 5, Stride: 1, Pad: 2}, // 5×5 "same"
		{C: 5, H: 6, W: 6, KH: 5, KW: 5, Stride: 1, Pad: 4}, // padding wider than the image
	}
	for _, s := range zoo {
		if permTable(s) == nil {
			t.Errorf("%+v: no permute table", s)
		}
	}
	var shapes []ConvShape
	shapes = append(shapes, zoo...)
	for h := 1; h <= 13; h += 3 {
		for w := 1; w <= 13; w += 2 {
			for k := 1; k <= 5; k += 2 {
				for pad := 0; pad <= k/2+1; pad++ {
					s := ConvShape{C: 2, H: h, W: w, KH: k, KW: k, Stride: 1, Pad: pad}
					if h+2*pad >= k && w+2*pad >= k {
						shapes = append(shapes, s)
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(13, 14))
	tables := 0
	for _, s := range shapes {
		x := guardedTail[float32](t, s.C*s.H*s.W)
		x64 := make([]float64, len(x))
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			x64[i] = float64(x[i])
		}
		want := naiveIm2col(x64, s)
		cols := s.Cols()
		ld := 2*cols + 3
		check := func(what string, got []float32) {
			t.Helper()
			for r := 0; r < s.Rows(); r++ {
				for j := 0; j < ld; j++ {
					w := float32(99)
					if j >= cols && j < 2*cols {
						w = float32(want[r*cols+j-cols])
					}
					if g := got[r*ld+j]; math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("%s %+v: row %d column %d = %v, want %v", what, s, r, j, g, w)
					}
				}
			}
		}
		fresh := func() []float32 {
			d := make([]float32, s.Rows()*ld)
			for i := range d {
				d[i] = 99
			}
			return d
		}
		got := fresh()
		Im2col(got[cols:], ld, x, s)
		check("Im2col", got)
		if tab := permTable(s); tab != nil {
			tables++
			got = fresh()
			im2colPermGeneric(got[cols:], ld, x, s, tab)
			check("im2colPermGeneric", got)
		}
	}
	if tables < len(shapes)/2 {
		t.Errorf("only %d of %d shapes have a permute table", tables, len(shapes))
	}
}

// TestCol2imPerm checks Col2im of float32 images narrower than 16 (the
// permute tables, in assembly with AVX-512) and the tables' Go twin bit for
// bit against the definition's loop, which adds each pixel's terms in row
// order: into an image holding values (signed zeros included: a pixel with
// no term keeps its −0), with a leading dimension, the column matrix
// ending at an unreadable page.
func TestCol2imPerm(t *testing.T) {
	shapes := []ConvShape{
		{C: 5, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{C: 5, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{C: 5, H: 12, W: 12, KH: 3, KW: 3, Stride: 1}, // C2 conv4
		{C: 5, H: 14, W: 14, KH: 3, KW: 3, Stride: 1}, // C2 conv3
		{C: 5, H: 12, W: 12, KH: 5, KW: 5, Stride: 1}, // LeNet-5 conv2
		{C: 5, H: 6, W: 6, KH: 5, KW: 5, Stride: 1, Pad: 4},
	}
	for _, s := range shapes {
		if col2imTable(s) == nil {
			t.Errorf("%+v: no col2im table", s)
		}
	}
	for h := 1; h <= 13; h += 3 {
		for w := 1; w <= 13; w += 2 {
			for k := 1; k <= 5; k += 2 {
				for pad := 0; pad <= k/2+1; pad++ {
					if s := (ConvShape{C: 2, H: h, W: w, KH: k, KW: k, Stride: 1, Pad: pad}); h+2*pad >= k && w+2*pad >= k {
						shapes = append(shapes, s)
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range shapes {
		cols := s.Cols()
		ld := cols + 5
		col := guardedTail[float32](t, (s.Rows()-1)*ld+cols)
		for i := range col {
			col[i] = float32(rng.NormFloat64())
		}
		img := make([]float32, s.C*s.H*s.W)
		for i := range img {
			img[i] = float32(rng.NormFloat64())
			if i%7 == 0 {
				img[i] = float32(math.Copysign(0, -1))
			}
		}
		// The definition, in row order.
		want := append([]float32(nil), img...)
		oh, ow := s.OutH(), s.OutW()
		for c := 0; c < s.C; c++ {
			for i := 0; i < s.KH; i++ {
				for j := 0; j < s.KW; j++ {
					r := (c*s.KH+i)*s.KW + j
					for oy := 0; oy < oh; oy++ {
						for ox := 0; ox < ow; ox++ {
							y, x := oy-s.Pad+i, ox-s.Pad+j
							if y >= 0 && y < s.H && x >= 0 && x < s.W {
								want[(c*s.H+y)*s.W+x] += col[r*ld+oy*ow+ox]
							}
						}
					}
				}
			}
		}
		check := func(what string, got []float32) {
			t.Helper()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %+v: pixel %d = %v, want %v", what, s, i, got[i], want[i])
				}
			}
		}
		got := append([]float32(nil), img...)
		Col2im(got, col, ld, s)
		check("Col2im", got)
		if tab := col2imTable(s); tab != nil {
			got = append([]float32(nil), img...)
			col2imPermGeneric(got, col, ld, s, tab)
			check("col2imPermGeneric", got)
		}
	}
}
