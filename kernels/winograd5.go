package kernels

import (
	"fmt"
	"unsafe"

	"hesscope/tensor"
)

// Winograd's F(2×2, 5×5) computes each 2×2 block of output pixels of a 5×5
// stride-1 convolution from the 6×6 window d of input pixels under it as
//
//	y = Aᵀ·[Σ_c (G·g[o,c]·Gᵀ) ⊙ (Bᵀ·d[c]·B)]·A
//
// with the interpolation points 0, 1, −1, 2, −2 and ∞ (Lavin & Gray's
// F(4×4, 3×3) uses the same ones, so the same Bᵀ):
//
//	Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//	Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 1]
//	G  = rows g0/4, −(g0+g1+g2+g3+g4)/6, −(g0−g1+g2−g3+g4)/6,
//	     (g0+2g1+4g2+8g3+16g4)/24, (g0−2g1+4g2−8g3+16g4)/24, g4
//
// 36 multiply-adds per 4 output pixels and input channel instead of 100,
// 2.78× fewer, where F(2×2, 3×3) saves 2.25×. Bᵀ and Aᵀ hold only 0, ±1,
// ±2, ±4 and ±5 (5d = 4d + d), so the data transforms multiply by powers
// of two only, exactly; the rounding of ⅙ and 1⁄24 is the weights'. The
// results differ from the direct convolution's in the last bits, a few
// times more than F(2×2, 3×3)'s (TestWinograd5 bounds it), as oneDNN's
// F(4×4, 3×3) does.
//
// The transforms work on a chunk of images at once and are separable: a
// window's rows, then its columns. The windows are gathered by Im2col (a
// 6×6 window at stride 2 is a tile's, 36 rows of one value per tile), one
// input channel at a time into scratch that stays in cache; every other
// step is one of three element-wise kernels (winoB6, winoA6, winoAT6: Bᵀ,
// Aᵀ and A applied to 6 or 2 vectors of tiles), in generated assembly
// whose Go twins give the same bits. The output blocks go back into the
// images by Col2im (2×2 windows at stride 2 do not overlap). The weights'
// transforms are Go.

// Winograd5OK reports whether the F(2×2, 5×5) transforms handle shape s: a
// 5×5 window, stride 1, at most 4 pixels of padding and an output of even
// height and width.
func Winograd5OK(s ConvShape) bool {
	oh, ow := s.OutH(), s.OutW()
	return s.KH == 5 && s.KW == 5 && s.Stride == 1 && s.Pad >= 0 && s.Pad <= 4 &&
		oh >= 2 && ow >= 2 && oh%2 == 0 && ow%2 == 0
}

// Winograd5Scratch returns the scratch, in values, that Winograd5In,
// Winograd5Out and Winograd5OutT need for a chunk of leading dimension ld.
func Winograd5Scratch(ld int) int { return 36 * ld }

// winograd5Windows returns the shape whose Im2col gathers the 6×6 input
// windows of one channel of s, one row per window entry.
func winograd5Windows(s ConvShape) ConvShape {
	return ConvShape{C: 1, H: s.H, W: s.W, KH: 6, KW: 6, Stride: 2, Pad: s.Pad}
}

// winograd5Blocks returns the shape whose Im2col (Col2im) takes out (puts
// back) the 2×2 output blocks of one oh×ow plane.
func winograd5Blocks(oh, ow int) ConvShape {
	return ConvShape{C: 1, H: oh, W: ow, KH: 2, KW: 2, Stride: 2}
}

// Winograd5In writes the transformed input tiles Bᵀ·d·B of the n images
// x ([n, C, H, W], shape s, Winograd5OK): component ξ = 6i + j of tile t of
// channel c of image k at dst[ξ·xiStride + c·ld + k·tiles + t], tiles =
// WinogradTiles(s), where d is the 6×6 window of the zero-padded image at
// row 2·ty and column 2·tx of tile t = ty·(W′/2) + tx. The caller
// guarantees n·tiles ≤ ld and xiStride ≥ C·ld; tmp holds at least
// Winograd5Scratch(ld) values.
//
// Per channel: Im2col of the windows (row 6i + j), then r = Bᵀ·(row i's
// six values) for each i in place (winoB6), then Bᵀ down the columns of r
// into dst. With AVX-512 and rows of at most 13 tiles, or AVX2 and at most
// 8, the first two steps are one kernel (wino6Rows32: the window columns
// gathered by permutes from the image rows; Im2col's gather by scalar
// copies was 84 % of the transform's time), the same values.
func Winograd5In[T tensor.Float](dst []T, ld, xiStride int, x []T, n int, s ConvShape, tmp []T) {
	if !Winograd5OK(s) {
		panic(fmt.Sprintf("kernels: Winograd5In of shape %+v", s))
	}
	tiles := WinogradTiles(s)
	cols := n * tiles
	if n < 1 || len(x) < n*s.C*s.H*s.W || ld < cols || xiStride < s.C*ld || len(dst) < 35*xiStride+(s.C-1)*ld+cols || len(tmp) < 36*ld {
		panic(fmt.Sprintf("kernels: Winograd5In of %d values into %d (ld %d, stride %d, scratch %d) for %d images of shape %+v", len(x), len(dst), ld, xiStride, len(tmp), n, s))
	}
	winoIn6(dst, ld, xiStride, x, n, s, tmp, tiles, winograd5Windows(s))
}

// winoIn6 is the input transform of 6×6 windows ws.Stride apart (2:
// Winograd5In, 4: Winograd43In) of the n images x of shape s, tiles a
// image, on checked arguments: per channel, the windows gathered and
// transformed along their rows (wino6Rows32, or Im2col of ws and winoB6),
// then Bᵀ down their columns into dst.
func winoIn6[T tensor.Float](dst []T, ld, xiStride int, x []T, n int, s ConvShape, tmp []T, tiles int, ws ConvShape) {
	plane, cols := s.H*s.W, n*tiles
	for c := 0; c < s.C; c++ {
		rows := true
		for k := 0; k < n; k++ {
			off := (k*s.C + c) * plane
			if !is32[T]() || !wino6Rows32(as32(tmp[k*tiles:]), ld, as32(x[off:off+plane]), s, ws.Stride) {
				Im2col(tmp[k*tiles:], ld, x[off:off+plane], ws)
				rows = false
			}
		}
		if !rows {
			winoB6(tmp, tmp, cols, 6, 6*ld, 6*ld, ld, ld)
		}
		winoB6(dst[c*ld:], tmp, cols, 6, ld, xiStride, 6*ld, 6*xiStride)
	}
}

// Winograd5Out writes the output pixels Aᵀ·m·A (+ bias[o]) of the
// transformed products m of n images (component ξ of tile t of channel o
// of image k at m[ξ·xiStride + o·ld + k·tiles + t], tiles = (oh/2)·(ow/2))
// into y ([n, o, oh, ow]), or with add adds them to y (y + v); bias, if
// non-nil, has o values added to the pixels before. tmp holds at least
// Winograd5Scratch(ld) values.
func Winograd5Out[T tensor.Float](y []T, n int, m []T, ld, xiStride, o, oh, ow int, bias []T, add bool, tmp []T) {
	if oh < 2 || ow < 2 || oh%2 != 0 || ow%2 != 0 {
		panic(fmt.Sprintf("kernels: Winograd5Out of a %d×%d output", oh, ow))
	}
	tiles, plane := oh/2*(ow/2), oh*ow
	cols := n * tiles
	if n < 1 || len(y) < n*o*plane || ld < cols || xiStride < o*ld || len(m) < 35*xiStride+(o-1)*ld+cols || bias != nil && len(bias) < o || len(tmp) < 16*ld {
		panic(fmt.Sprintf("kernels: Winograd5Out of %d values (ld %d, stride %d, scratch %d) into %d for %d × [%d, %d, %d]", len(m), ld, xiStride, len(tmp), len(y), n, o, oh, ow))
	}
	bs := winograd5Blocks(oh, ow)
	blocks := tmp[12*ld:]
	for k := 0; k < o; k++ {
		// Rows 2i + b of tmp: Aᵀ along row i of the tiles; then rows
		// 2a + b of blocks: Aᵀ down the columns.
		winoA6(tmp, m[k*ld:], cols, 6, 6*xiStride, 2*ld, xiStride, ld)
		winoA6(blocks, tmp, cols, 2, ld, ld, 2*ld, 2*ld)
		if bias != nil {
			for r := 0; r < 4; r++ {
				row := blocks[r*ld : r*ld+cols]
				for t := range row {
					row[t] += bias[k]
				}
			}
		}
		for i := 0; i < n; i++ {
			off := (i*o + k) * plane
			yp := y[off : off+plane]
			if !add {
				clear(yp)
			}
			Col2im(yp, blocks[i*tiles:], ld, bs)
		}
	}
}

// Winograd5OutT writes the transformed output cotangents A·e·Aᵀ of the n
// images y ([n, o, oh, ow]), e the 2×2 block of tile t: component ξ of
// tile t of channel k of image i at dst[ξ·xiStride + k·ld + i·tiles + t],
// the adjoint of Winograd5Out (the weight gradient's transform, see
// WinogradOutT). tmp holds at least Winograd5Scratch(ld) values.
func Winograd5OutT[T tensor.Float](dst []T, ld, xiStride int, y []T, n, o, oh, ow int, tmp []T) {
	if oh < 2 || ow < 2 || oh%2 != 0 || ow%2 != 0 {
		panic(fmt.Sprintf("kernels: Winograd5OutT of a %d×%d image", oh, ow))
	}
	tiles, plane := oh/2*(ow/2), oh*ow
	cols := n * tiles
	if n < 1 || len(y) < n*o*plane || ld < cols || xiStride < o*ld || len(dst) < 35*xiStride+(o-1)*ld+cols || len(tmp) < 16*ld {
		panic(fmt.Sprintf("kernels: Winograd5OutT of %d values into %d (ld %d, stride %d, scratch %d) for %d × [%d, %d, %d]", len(y), len(dst), ld, xiStride, len(tmp), n, o, oh, ow))
	}
	winoOutT6(dst, ld, xiStride, y, n, o, oh, ow, tmp, 2)
}

// winoOutT6 is the output cotangents' transform A·e·Aᵀ of the r×r blocks
// e (r = 2: Winograd5OutT, 4: Winograd43OutT) of the n images y, on
// checked arguments: per channel, the blocks gathered (Im2col of
// winograd5Blocks, winoBlocksIn), then A along their rows and down their
// columns into dst (winoAT6, winoAT46).
func winoOutT6[T tensor.Float](dst []T, ld, xiStride int, y []T, n, o, oh, ow int, tmp []T, r int) {
	tiles, plane := oh/r*(ow/r), oh*ow
	cols := n * tiles
	// gather writes the blocks of one image's plane p as the rows of d
	// (leading dimension ld).
	at, gather := winoAT6[T], func(d, p []T) { Im2col(d, ld, p, winograd5Blocks(oh, ow)) }
	if r == 4 {
		at, gather = winoAT46[T], func(d, p []T) { winoBlocksIn(d, p, ld, oh/4, ow/4) }
	}
	rows := tmp[r*r*ld:]
	for k := 0; k < o; k++ {
		for i := 0; i < n; i++ {
			off := (i*o + k) * plane
			gather(tmp[i*tiles:], y[off:off+plane])
		}
		// Rows 6a + j of rows: A along block row a; then A down the
		// columns into dst.
		at(rows, tmp, cols, r, r*ld, 6*ld, ld, ld)
		at(dst[k*ld:], rows, cols, 6, ld, xiStride, 6*ld, 6*xiStride)
	}
}

// Winograd5Weights writes the transformed weights of w ([o, c, 5, 5]):
// V_ξ = (G·w[p,q]·Gᵀ)_ξ at dst[ξ·o·c + p·c + q], so that V_ξ is an [o, c]
// matrix, in T's arithmetic. The transposed convolution's weights (the
// 180° rotation of each filter, o and c exchanged) are those of the
// rotated weights: unlike F(2×2, 3×3)'s, G's points are not closed under
// x ↦ 1/x, so there is no exchange of components that gives them.
func Winograd5Weights[T tensor.Float](dst, w []T, o, c int) {
	n := o * c
	if len(w) < n*25 || len(dst) < 36*n {
		panic(fmt.Sprintf("kernels: Winograd5Weights of %d weights into %d for [%d, %d, 5, 5]", len(w), len(dst), o, c))
	}
	forFilters(n, func(lo, hi int) {
		for f := lo; f < hi; f++ {
			g := w[f*25 : f*25+25 : f*25+25]
			var a [6][5]T // G·g
			for k := 0; k < 5; k++ {
				r := g5(g[k], g[5+k], g[10+k], g[15+k], g[20+k])
				for i := range r {
					a[i][k] = r[i]
				}
			}
			for i := 0; i < 6; i++ {
				r := g5(a[i][0], a[i][1], a[i][2], a[i][3], a[i][4])
				for j, v := range r {
					dst[(6*i+j)*n+f] = v
				}
			}
		}
	})
}

// g5 returns G·(g0, …, g4).
func g5[T tensor.Float](g0, g1, g2, g3, g4 T) [6]T {
	e, od := g0+g2+g4, g1+g3
	e4, od4 := g0+4*g2+16*g4, 2*g1+8*g3
	return [6]T{g0 / 4, -(e + od) / 6, -(e - od) / 6, (e4 + od4) / 24, (e4 - od4) / 24, g4}
}

// gt5 returns Gᵀ·(m0, …, m5).
func gt5[T tensor.Float](m0, m1, m2, m3, m4, m5 T) [5]T {
	s, d, s2, d2 := (m1+m2)/6, (m1-m2)/6, (m3+m4)/24, (m3-m4)/24
	return [5]T{m0/4 - s + s2, 2*d2 - d, 4*s2 - s, 8*d2 - d, 16*s2 - s + m5}
}

// Winograd5WeightsAdd adds to wBar ([o, c, 5, 5]) the weight gradient
// Gᵀ·M̄·G of the summed products m (M̄_ξ an [o, c] matrix at m[ξ·o·c], from
// Winograd5OutT's components and Winograd5In's tiles), in T's arithmetic.
func Winograd5WeightsAdd[T tensor.Float](wBar, m []T, o, c int) {
	n := o * c
	if len(wBar) < n*25 || len(m) < 36*n {
		panic(fmt.Sprintf("kernels: Winograd5WeightsAdd of %d values into %d for [%d, %d, 5, 5]", len(m), len(wBar), o, c))
	}
	forFilters(n, func(lo, hi int) {
		for f := lo; f < hi; f++ {
			var a [6][5]T // M̄·G, row i
			for i := 0; i < 6; i++ {
				b := 6 * i * n
				a[i] = gt5(m[b+f], m[b+n+f], m[b+2*n+f], m[b+3*n+f], m[b+4*n+f], m[b+5*n+f])
			}
			w := wBar[f*25 : f*25+25 : f*25+25]
			for v := 0; v < 5; v++ {
				r := gt5(a[0][v], a[1][v], a[2][v], a[3][v], a[4][v], a[5][v])
				for u, x := range r {
					w[5*u+v] += x
				}
			}
		}
	})
}

// The element-wise transforms. Each applies its matrix to count groups of
// vectors of n values: group q reads its vectors k at src[q·srcStep +
// k·srcStride …] and writes its results k at dst[q·dstStep + k·dstStride
// …]; a group reads all its vectors before writing, so dst may be src.
// float32 runs whole vectors in assembly (winoVert32) and the rest here.

// winoB6 applies Bᵀ to 6 vectors (d0 … d5):
//
//	t1 = d4 − 4d2, t2 = d3 − 4d1, t3 = d4 − d2, t4 = 2(d3 − d1)
//	r = (t1 + (4d0 − d2), t1 + t2, t1 − t2, t3 + t4, t3 − t4, (d5 − 4d3) + (4d1 − d3))
//
// (the products by 4 are exact, so fused or not they round once).
func winoB6[T tensor.Float](dst, src []T, n, count, srcStep, dstStep, srcStride, dstStride int) {
	winoVert(winoOpB6, dst, src, n, count, srcStep, dstStep, srcStride, dstStride)
}

// winoA6 applies Aᵀ to 6 vectors (m0 … m5):
//
//	a = ((m0 + (m1 + m2)) + (m3 + m4), ((m1 − m2) + 2(m3 − m4)) + m5)
func winoA6[T tensor.Float](dst, src []T, n, count, srcStep, dstStep, srcStride, dstStride int) {
	winoVert(winoOpA6, dst, src, n, count, srcStep, dstStep, srcStride, dstStride)
}

// winoAT6 applies A to 2 vectors (e0, e1):
//
//	q = (e0, e0 + e1, e0 − e1, e0 + 2e1, e0 − 2e1, e1)
func winoAT6[T tensor.Float](dst, src []T, n, count, srcStep, dstStep, srcStride, dstStride int) {
	winoVert(winoOpAT6, dst, src, n, count, srcStep, dstStep, srcStride, dstStride)
}

// The element-wise transforms (F(4×4, 3×3)'s in winograd43.go), their
// vectors in and out.
const (
	winoOpB6 = iota
	winoOpA6
	winoOpAT6
	winoOpAT46
)

var winoOpArity = [4][2]int{{6, 6}, {6, 2}, {2, 6}, {4, 6}}

func winoVert[T tensor.Float](op int, dst, src []T, n, count, srcStep, dstStep, srcStride, dstStride int) {
	in, out := winoOpArity[op][0], winoOpArity[op][1]
	if n < 1 || count < 1 {
		return
	}
	if len(src) < (count-1)*srcStep+(in-1)*srcStride+n || len(dst) < (count-1)*dstStep+(out-1)*dstStride+n {
		panic(fmt.Sprintf("kernels: Winograd transform %d of %d groups of %d values: %d in, %d out", op, count, n, len(src), len(dst)))
	}
	done := 0
	if is32[T]() {
		done = winoVert32(op, as32(dst), as32(src), n, count, srcStep, dstStep, srcStride, dstStride)
	}
	if done < n {
		winoVertGeneric(op, dst, src, done, n, count, srcStep, dstStep, srcStride, dstStride)
	}
}

// winoVertGeneric is winoVert for the values lo…n − 1 of each vector, the
// twin of the assembly: the same operations in the same order.
func winoVertGeneric[T tensor.Float](op int, dst, src []T, lo, n, count, srcStep, dstStep, srcStride, dstStride int) {
	for q := 0; q < count; q++ {
		s, d := src[q*srcStep:], dst[q*dstStep:]
		for l := lo; l < n; l++ {
			switch op {
			case winoOpB6:
				d0, d1, d2 := s[l], s[srcStride+l], s[2*srcStride+l]
				d3, d4, d5 := s[3*srcStride+l], s[4*srcStride+l], s[5*srcStride+l]
				t1, t2, t3 := d4-4*d2, d3-4*d1, d4-d2
				t4 := d3 - d1
				t4 += t4
				d[l] = t1 + (4*d0 - d2)
				d[dstStride+l] = t1 + t2
				d[2*dstStride+l] = t1 - t2
				d[3*dstStride+l] = t3 + t4
				d[4*dstStride+l] = t3 - t4
				d[5*dstStride+l] = (d5 - 4*d3) + (4*d1 - d3)
			case winoOpA6:
				m0, m1, m2 := s[l], s[srcStride+l], s[2*srcStride+l]
				m3, m4, m5 := s[3*srcStride+l], s[4*srcStride+l], s[5*srcStride+l]
				d34 := m3 - m4
				d34 += d34
				d[l] = (m0 + (m1 + m2)) + (m3 + m4)
				d[dstStride+l] = ((m1 - m2) + d34) + m5
			case winoOpAT6:
				e0, e1 := s[l], s[srcStride+l]
				e2 := e1 + e1
				d[l] = e0
				d[dstStride+l] = e0 + e1
				d[2*dstStride+l] = e0 - e1
				d[3*dstStride+l] = e0 + e2
				d[4*dstStride+l] = e0 - e2
				d[5*dstStride+l] = e1
			case winoOpAT46:
				e0, e1, e2, e3 := s[l], s[srcStride+l], s[2*srcStride+l], s[3*srcStride+l]
				s02, s13 := e0+e2, e1+e3
				f2, f3 := e2+e2, e3+e3
				f2 += f2
				f3 += f3
				t02, t13 := e0+f2, e1+f3
				t13 += t13
				d[l] = e0
				d[dstStride+l] = s02 + s13
				d[2*dstStride+l] = s02 - s13
				d[3*dstStride+l] = t02 + t13
				d[4*dstStride+l] = t02 - t13
				d[5*dstStride+l] = e3
			}
		}
	}
}

// winoVert32 runs winoVert in assembly where the machine has it
// (winoVertAsm) and returns how many values of each vector it did.
func winoVert32(op int, dst, src []float32, n, count, srcStep, dstStep, srcStride, dstStride int) int {
	lanes := winoVertLanes()
	if lanes == 0 || n < lanes && lanes < 16 {
		return 0
	}
	return winoVertAsm(op, unsafe.Pointer(unsafe.SliceData(dst)), unsafe.Pointer(unsafe.SliceData(src)), n, count, 4*srcStep, 4*dstStep, 4*srcStride, 4*dstStride)
}

// Winograd5Fast reports whether T's F(2×2, 5×5) transforms of shape s run
// at full speed on this machine: float32 where the input's gather runs in
// assembly too (wino6Rows32: with AVX-512 rows of at most 13 tiles, an
// output at most 26 wide; with AVX2 at most 8, 16 wide). Elsewhere they
// are correct but slower than the direct convolution they would replace.
func Winograd5Fast[T tensor.Float](s ConvShape) bool {
	return is32[T]() && Winograd5OK(s) && s.OutW()/2 <= wino6RowTiles()
}
