package kernels

import (
	"fmt"

	"hesscope/tensor"
)

// ConvShape is the geometry of a 2-D convolution or pooling window over one
// image of C channels of H×W pixels (NCHW, so the image is the row-major
// [C, H, W] slice): a KH×KW window moved by Stride in both directions over
// the image padded with Pad pixels on every side (PyTorch's dilation 1).
type ConvShape struct {
	C, H, W int // input channels, height and width
	KH, KW  int // window height and width
	Stride  int // step between windows, at least 1
	Pad     int // zero padding on each side, at least 0
}

// OutH is the number of window rows, (H + 2·Pad − KH)/Stride + 1.
func (s ConvShape) OutH() int { return (s.H+2*s.Pad-s.KH)/s.Stride + 1 }

// OutW is the number of window columns, (W + 2·Pad − KW)/Stride + 1.
func (s ConvShape) OutW() int { return (s.W+2*s.Pad-s.KW)/s.Stride + 1 }

// Rows is the number of rows of the column matrix, C·KH·KW.
func (s ConvShape) Rows() int { return s.C * s.KH * s.KW }

// Cols is the number of columns of the column matrix, OutH·OutW.
func (s ConvShape) Cols() int { return s.OutH() * s.OutW() }

// Identity reports whether the column matrix is the image itself (a 1×1
// window with stride 1 and no padding), so that Im2col is a copy.
func (s ConvShape) Identity() bool {
	return s.KH == 1 && s.KW == 1 && s.Stride == 1 && s.Pad == 0
}

// Check panics unless s describes at least one window.
func (s ConvShape) Check() {
	if s.C < 1 || s.H < 1 || s.W < 1 || s.KH < 1 || s.KW < 1 || s.Stride < 1 || s.Pad < 0 ||
		s.H+2*s.Pad < s.KH || s.W+2*s.Pad < s.KW {
		panic(fmt.Sprintf("kernels: bad convolution shape %+v", s))
	}
}

func checkLd(ld, cols int) {
	if ld < cols {
		panic(fmt.Sprintf("kernels: column matrix leading dimension %d below its %d columns", ld, cols))
	}
}

// span returns the range [lo, hi) of output positions o whose input
// coordinate o·stride − pad + k lies in [0, n).
func span(n, k, stride, pad, out int) (lo, hi int) {
	// o·stride ≥ pad − k  and  o·stride ≤ n − 1 + pad − k.
	if d := pad - k; d > 0 {
		lo = min((d+stride-1)/stride, out)
	}
	if d := n - 1 + pad - k; d < 0 {
		hi = 0
	} else {
		hi = min(d/stride+1, out)
	}
	return lo, max(hi, lo)
}

// Im2col writes the column matrix of the image x ([C, H, W]) into dst, a
// row-major [Rows, Cols] matrix with leading dimension ld ≥ Cols (row r
// starts at dst[r·ld]):
//
//	dst[((c·KH + i)·KW + j)·ld + oy·OutW + ox] = x[c, oy·Stride − Pad + i, ox·Stride − Pad + j]
//
// with zero where the index falls in the padding; the ld − Cols entries
// after each row are not touched, so the columns of several images can be
// placed side by side (image g at dst[g·Cols:] with ld = G·Cols). A
// convolution with weights W of shape [O, C, KH, KW] is then the product
// W·dst of shape [O, OutH·OutW].
//
// Every row is a window offset (c, i, j): the range of output rows and
// columns that read inside the image is computed once per row, and each
// output row is then a zero prefix, a contiguous (stride 1) or strided run
// of the image row and a zero suffix, with no per-element index arithmetic.
// Stride-1 windows whose output rows are narrower than 16 go by permutes
// instead, 16 outputs at a time, in assembly with AVX-512 (im2col_perm.go:
// ResNet-18's 4×4 layer 10× faster, ResNet-20's 8×8 ones 2.8×).
func Im2col[T tensor.Float](dst []T, ld int, x []T, s ConvShape) {
	oh, ow := s.OutH(), s.OutW()
	cols := oh * ow
	checkLd(ld, cols)
	_ = dst[(s.Rows()-1)*ld+cols-1]
	_ = x[s.C*s.H*s.W-1]
	if im2colPerm(dst, ld, x, s) {
		return
	}
	if s.Stride == 1 && ow == s.W {
		im2colSame(dst, ld, x, s)
		return
	}
	row := 0
	for c := 0; c < s.C; c++ {
		img := x[c*s.H*s.W : (c+1)*s.H*s.W]
		for i := 0; i < s.KH; i++ {
			ylo, yhi := span(s.H, i, s.Stride, s.Pad, oh)
			for j := 0; j < s.KW; j++ {
				xlo, xhi := span(s.W, j, s.Stride, s.Pad, ow)
				d := dst[row*ld : row*ld+cols]
				row++
				clear(d[:ylo*ow])
				clear(d[yhi*ow:])
				n := xhi - xlo
				if n <= 0 {
					clear(d[ylo*ow : yhi*ow])
					continue
				}
				// off is the image index read by output (oy, xlo).
				off := (ylo*s.Stride-s.Pad+i)*s.W + xlo*s.Stride - s.Pad + j
				step := s.Stride * s.W
				if s.Stride <= 2 {
					if yhi > ylo {
						copyRows(d, ow, xlo, ylo, yhi, img, off, step, n, s.Stride == 2)
					}
					continue
				}
				for oy := ylo; oy < yhi; oy++ {
					out := d[oy*ow : oy*ow+ow]
					clear(out[:xlo])
					src := img[off : off+(n-1)*s.Stride+1]
					for k := range out[xlo:xhi] {
						out[xlo+k] = src[k*s.Stride]
					}
					clear(out[xhi:])
					off += step
				}
			}
		}
	}
}

// im2colSame is Im2col for stride 1 and an output as wide as the image
// ("same" padding, KW − 1 = 2·Pad), the 3×3 and 5×5 convolutions of the
// ResNets and C1. Then output row oy of window row (c, i, j) reads image
// row oy − Pad + i shifted by j − Pad, and consecutive output rows read
// consecutive image rows: the rows that fall inside the image are one
// contiguous run of the image, copied at once for the unshifted window
// columns (j = Pad) and by copyPanel, which writes the zeros of the
// padding as it goes, for the shifted ones.
func im2colSame[T tensor.Float](dst []T, ld int, x []T, s ConvShape) {
	oh, w := s.OutH(), s.W
	cols := oh * w
	plane := s.H * w
	row := 0
	for c := 0; c < s.C; c++ {
		img := x[c*plane : (c+1)*plane]
		for i := 0; i < s.KH; i++ {
			ylo, yhi := span(s.H, i, 1, s.Pad, oh)
			for j := 0; j < s.KW; j++ {
				xlo, xhi := span(s.W, j, 1, s.Pad, w)
				d := dst[row*ld : row*ld+cols]
				row++
				clear(d[:ylo*w])
				clear(d[yhi*w:])
				if xlo >= xhi || ylo >= yhi {
					clear(d[ylo*w : yhi*w])
					continue
				}
				if xlo == 0 && xhi == w || w < 16 {
					// Unshifted, or narrow rows (below 16, where copyPanel
					// measured slower): output (oy, ox) reads img[start +
					// (oy−ylo)·W + ox], one run, and the at most Pad
					// entries per output row that a shift carried across a
					// row boundary are zeroed after it.
					start := (ylo-s.Pad+i)*w + j - s.Pad
					seg := d[ylo*w : yhi*w]
					lo, hi := max(0, -start), min(len(seg), plane-start)
					clear(seg[:lo])
					copy(seg[lo:hi], img[start+lo:start+hi])
					clear(seg[hi:])
					if xlo == 0 && xhi == w {
						continue
					}
					for r := 0; r+w <= len(seg); r += w {
						for k := r; k < r+xlo; k++ {
							seg[k] = 0
						}
						for k := r + xhi; k < r+w; k++ {
							seg[k] = 0
						}
					}
					continue
				}
				// Shifted: each output row is a zero prefix (xlo), n pixels
				// of an image row and a zero suffix (copyRows).
				off := (ylo-s.Pad+i)*w + xlo - s.Pad + j // read by output (ylo, xlo)
				copyRows(d, w, xlo, ylo, yhi, img, off, w, xhi-xlo, false)
			}
		}
	}
}

// copyRows writes output rows ylo…yhi−1 (yhi > ylo) of the column-matrix
// row d, ow wide: each a zero prefix of xlo, n pixels of img from off +
// (oy − ylo)·step on (every other pixel if s2) and zeros to the end. Rows
// ylo…yhi−2 go by one copyPanel or copyPanelS2 call (in assembly for rows
// of at most 128 and 64 bytes), each written from column xlo with zeros up
// to column xlo of the next row; the first row's prefix and the last row
// apart (their zeros lie outside the panel).
func copyRows[T tensor.Float](d []T, ow, xlo, ylo, yhi int, img []T, off, step, n int, s2 bool) {
	clear(d[ylo*ow : ylo*ow+xlo])
	panel := d[ylo*ow+xlo : (yhi-1)*ow+xlo]
	last := d[(yhi-1)*ow+xlo : yhi*ow]
	src := off + (yhi-1-ylo)*step
	if s2 {
		copyPanelS2(panel, ow, img[off:], step, yhi-1-ylo, n)
		copyPanelS2(last, len(last), img[src:], step, 1, n)
		return
	}
	copyPanel(panel, ow, img[off:], step, yhi-1-ylo, n)
	copy(last, img[src:src+n])
	clear(last[n:])
}

// Unpitch gathers rows rows of w values, row r of src starting at r·ld,
// into dst back to back, adding b when bias is set:
//
//	dst[r·w + j] = src[r·ld + j] + b   (or a copy, −0 kept, without bias)
//
// the output plane of a product computed with a pitch (an implicit
// convolution, whose rows are ld apart, ld < w where the padding is wider
// than the window) or of a chunk of images, with its bias. Rows go by
// copyPanel (in assembly for up to 48 float32 values) or, with the bias,
// biasPanel (up to 32); a contiguous run (ld = w) as rows of 32 and a tail.
func Unpitch[T tensor.Float](dst, src []T, ld, rows, w int, b T, bias bool) {
	if rows <= 0 || w <= 0 {
		return
	}
	_ = dst[rows*w-1]
	_ = src[(rows-1)*ld+w-1]
	if ld == w && w > 32 {
		n := rows * w
		if !bias {
			copy(dst[:n], src[:n])
			return
		}
		full := n / 32
		biasPanel(dst, src, 32, full, 32, b)
		if tail := n - 32*full; tail > 0 {
			biasPanel(dst[32*full:], src[32*full:], tail, 1, tail, b)
		}
		return
	}
	if !bias {
		copyPanel(dst, w, src, ld, rows, w)
		return
	}
	biasPanel(dst, src, ld, rows, w, b)
}

// PadRows copies rows rows of w values, row r of src starting at r·ld,
// into dst as rows of pitch ≥ w values, each its w values followed by
// pitch − w zeros:
//
//	dst[r·pitch + j] = src[r·ld + j] for j < w, 0 for w ≤ j < pitch
//
// the rows of a zero-padded image whose side padding is shared between
// rows (autodiff's padPlanes). In assembly (copyPanel) for pitches of at
// most 48 float32 values.
func PadRows[T tensor.Float](dst []T, pitch int, src []T, ld, rows, w int) {
	if rows <= 0 || w <= 0 {
		return
	}
	if w > pitch {
		panic(fmt.Sprintf("kernels: PadRows of %d values into rows of %d", w, pitch))
	}
	copyPanel(dst, pitch, src, ld, rows, w)
}

// AddRows adds rows rows of n values of src (rows ldSrc apart) to those of
// dst (rows ldDst apart): dst[r·ldDst + k] += src[r·ldSrc + k], in
// assembly (addPanel) for rows of at most 32 float32 values.
func AddRows[T tensor.Float](dst []T, ldDst int, src []T, ldSrc, rows, n int) {
	if rows <= 0 || n <= 0 {
		return
	}
	addPanel(dst, ldDst, src, ldSrc, rows, n)
}

// Col2im adds the column matrix col ([Rows, Cols] with leading dimension
// ld ≥ Cols, laid out as Im2col writes it) back into the image dst
// ([C, H, W]), dropping the padding: it is the adjoint of Im2col, so a pixel
// covered by several windows receives the sum of their entries, added in row
// order of col. Stride-1 images narrower than 16 go by permutes, 16 pixels
// at a time (im2col_perm.go: ResNet-18's 4×4 layer 7× faster, C2's 12×12
// one 1.9×; four channels a pass since, 0.67 of that time).
func Col2im[T tensor.Float](dst, col []T, ld int, s ConvShape) {
	oh, ow := s.OutH(), s.OutW()
	cols := oh * ow
	checkLd(ld, cols)
	_ = col[(s.Rows()-1)*ld+cols-1]
	_ = dst[s.C*s.H*s.W-1]
	if col2imPerm(dst, col, ld, s) {
		return
	}
	row := 0
	for c := 0; c < s.C; c++ {
		img := dst[c*s.H*s.W : (c+1)*s.H*s.W]
		for i := 0; i < s.KH; i++ {
			ylo, yhi := span(s.H, i, s.Stride, s.Pad, oh)
			if s.Stride == 1 && s.W <= 16 && s.KW <= 8 {
				// Narrow images: the window row's KW columns at once
				// (addWindows, in assembly), each image row loaded once
				// and given every column's terms in turn, the same order
				// as column by column. (Adding a column's rows at a time
				// in vectors measured slower than scalar here: the next
				// column's loads overlap the stores just made.)
				if yhi > ylo {
					var offs [8]int
					var masks [8]uint16
					for j := 0; j < s.KW; j++ {
						// Lane l (image column) takes window j's output
						// column l + Pad − j of col row row + j.
						if xlo, xhi := span(s.W, j, 1, s.Pad, ow); xhi > xlo {
							lo, hi := xlo-s.Pad+j, xhi-s.Pad+j
							masks[j] = uint16((1<<hi - 1) &^ (1<<lo - 1))
						}
						offs[j] = j*ld + s.Pad - j
					}
					addWindows(img[(ylo-s.Pad+i)*s.W:], col[row*ld+ylo*ow:], &offs, &masks, yhi-ylo, s.W, ow, s.KW, s.W)
				}
				row += s.KW
				continue
			}
			for j := 0; j < s.KW; j++ {
				xlo, xhi := span(s.W, j, s.Stride, s.Pad, ow)
				d := col[row*ld : row*ld+cols]
				row++
				n := xhi - xlo
				if n <= 0 || yhi <= ylo {
					continue
				}
				// Rows step apart: addPanel and addPanelS2 in assembly for
				// rows of at most 32 and 16 values.
				off := (ylo*s.Stride-s.Pad+i)*s.W + xlo*s.Stride - s.Pad + j
				step := s.Stride * s.W
				out, in := img[off:], d[ylo*ow+xlo:]
				switch s.Stride {
				case 1:
					addPanel(out, step, in, ow, yhi-ylo, n)
				case 2:
					addPanelS2(out, step, in, ow, yhi-ylo, n)
				default:
					addPanelStrided(out, step, in, ow, yhi-ylo, n, s.Stride)
				}
			}
		}
	}
}
