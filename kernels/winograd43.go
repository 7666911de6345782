package kernels

import (
	"fmt"
	"unsafe"

	"hesscope/tensor"
)

// Winograd's F(4×4, 3×3) (Lavin & Gray) computes each 4×4 block of output
// pixels of a 3×3 stride-1 convolution from the 6×6 window d of input
// pixels under it as
//
//	y = Aᵀ·[Σ_c (G·g[o,c]·Gᵀ) ⊙ (Bᵀ·d[c]·B)]·A
//
// with the interpolation points 0, 1, −1, 2, −2 and ∞ of F(2×2, 5×5)
// (winograd5.go), so the same Bᵀ, and
//
//	Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
//	G  = rows g0/4, −(g0+g1+g2)/6, −(g0−g1+g2)/6, (g0+2g1+4g2)/24,
//	     (g0−2g1+4g2)/24, g2
//
// 36 multiply-adds per 16 output pixels and input channel instead of 144,
// 4× fewer, where F(2×2, 3×3) saves 2.25×: its products are 0.56 of
// F(2×2, 3×3)'s, and its transformed tiles 0.56 as many values. Aᵀ holds
// only 0, ±1, ±2, ±4 and ±8, so the data transforms multiply by powers of
// two only, exactly; the rounding of ⅙ and 1⁄24 is the weights'. The
// results differ from the direct convolution's in the last bits, a few
// times more than F(2×2, 3×3)'s (TestWinograd6Float32 bounds it), as
// oneDNN's and cuDNN's F(4×4, 3×3) do.
//
// The transforms are F(2×2, 5×5)'s with windows 4 pixels apart: the input
// windows gathered and transformed along their rows in one kernel
// (wino6Rows32, AVX-512) or by Im2col and winoB6, then winoB6 down the
// columns; the output by winoA46 along the rows and down the columns of
// the tiles, then the 4×4 blocks put in place (winoBlocksOut, by permutes
// with AVX-512); the output cotangents' by the blocks gathered
// (winoBlocksIn) and winoAT46 twice. The element-wise kernels run in
// generated assembly whose Go twins give the same bits; the weights'
// transforms are Go.

// Winograd43OK reports whether the F(4×4, 3×3) transforms handle shape s: a
// 3×3 window, stride 1, at most 2 pixels of padding and an output whose
// height and width are multiples of 4.
func Winograd43OK(s ConvShape) bool {
	oh, ow := s.OutH(), s.OutW()
	return s.KH == 3 && s.KW == 3 && s.Stride == 1 && s.Pad >= 0 && s.Pad <= 2 &&
		oh >= 4 && ow >= 4 && oh%4 == 0 && ow%4 == 0
}

// Winograd43Fast reports whether T's F(4×4, 3×3) transforms of shape s run
// at full speed on this machine: float32 with AVX-512, whose permutes
// gather the input windows and put the output blocks in place. Elsewhere
// they are correct but slower than F(2×2, 3×3).
func Winograd43Fast[T tensor.Float](s ConvShape) bool {
	return is32[T]() && Winograd43OK(s) && winoVertLanes() == 16
}

// Winograd43Tiles returns the number of tiles of shape s: (H′/4)·(W′/4).
func Winograd43Tiles(s ConvShape) int { return s.OutH() / 4 * (s.OutW() / 4) }

// Winograd43Scratch returns the scratch, in values, that Winograd43In,
// Winograd43Out and Winograd43OutT need for a chunk of leading dimension
// ld.
func Winograd43Scratch(ld int) int { return 40 * ld }

// winograd43Windows returns the shape whose Im2col gathers the 6×6 input
// windows of one channel of s, one row per window entry.
func winograd43Windows(s ConvShape) ConvShape {
	return ConvShape{C: 1, H: s.H, W: s.W, KH: 6, KW: 6, Stride: 4, Pad: s.Pad}
}

// Winograd43In writes the transformed input tiles Bᵀ·d·B of the n images
// x ([n, C, H, W], shape s, Winograd43OK): component ξ = 6i + j of tile t of
// channel c of image k at dst[ξ·xiStride + c·ld + k·tiles + t], tiles =
// Winograd43Tiles(s), where d is the 6×6 window of the zero-padded image
// at row 4·ty and column 4·tx of tile t = ty·(W′/4) + tx. The caller
// guarantees n·tiles ≤ ld and xiStride ≥ C·ld; tmp holds at least
// Winograd43Scratch(ld) values.
func Winograd43In[T tensor.Float](dst []T, ld, xiStride int, x []T, n int, s ConvShape, tmp []T) {
	if !Winograd43OK(s) {
		panic(fmt.Sprintf("kernels: Winograd43In of shape %+v", s))
	}
	tiles := Winograd43Tiles(s)
	cols := n * tiles
	if n < 1 || len(x) < n*s.C*s.H*s.W || ld < cols || xiStride < s.C*ld || len(dst) < 35*xiStride+(s.C-1)*ld+cols || len(tmp) < 40*ld {
		panic(fmt.Sprintf("kernels: Winograd43In of %d values into %d (ld %d, stride %d, scratch %d) for %d images of shape %+v", len(x), len(dst), ld, xiStride, len(tmp), n, s))
	}
	winoIn6(dst, ld, xiStride, x, n, s, tmp, tiles, winograd43Windows(s))
}

// Winograd43Out writes the output pixels Aᵀ·m·A (+ bias[o]) of the
// transformed products m of n images (component ξ of tile t of channel o
// of image k at m[ξ·xiStride + o·ld + k·tiles + t], tiles = (oh/4)·(ow/4))
// into y ([n, o, oh, ow]), or with add adds them to y (y + v); bias, if
// non-nil, has o values added to the pixels before. tmp holds at least
// Winograd43Scratch(ld) values.
func Winograd43Out[T tensor.Float](y []T, n int, m []T, ld, xiStride, o, oh, ow int, bias []T, add bool, tmp []T) {
	if oh < 4 || ow < 4 || oh%4 != 0 || ow%4 != 0 {
		panic(fmt.Sprintf("kernels: Winograd43Out of a %d×%d output", oh, ow))
	}
	tiles, plane := oh/4*(ow/4), oh*ow
	cols := n * tiles
	if n < 1 || len(y) < n*o*plane || ld < cols || xiStride < o*ld || len(m) < 35*xiStride+(o-1)*ld+cols || bias != nil && len(bias) < o || len(tmp) < 40*ld {
		panic(fmt.Sprintf("kernels: Winograd43Out of %d values (ld %d, stride %d, scratch %d) into %d for %d × [%d, %d, %d]", len(m), ld, xiStride, len(tmp), len(y), n, o, oh, ow))
	}
	blocks := tmp[24*ld:]
	for k := 0; k < o; k++ {
		// Rows 4i + b of tmp: Aᵀ along row i of the tiles; then rows
		// 4a + b of blocks: Aᵀ down the columns.
		winoA46(tmp, m[k*ld:], cols, 6, 6*xiStride, 4*ld, xiStride, ld)
		winoA46(blocks, tmp, cols, 4, ld, ld, 4*ld, 4*ld)
		var b *T
		if bias != nil {
			b = &bias[k]
		}
		for i := 0; i < n; i++ {
			off := (i*o + k) * plane
			winoBlocksOut(y[off:off+plane], blocks[i*tiles:], ld, oh/4, ow/4, add, b)
		}
	}
}

// Winograd43OutT writes the transformed output cotangents A·e·Aᵀ of the n
// images y ([n, o, oh, ow]), e the 4×4 block of tile t: component ξ of
// tile t of channel k of image i at dst[ξ·xiStride + k·ld + i·tiles + t],
// the adjoint of Winograd43Out (the weight gradient's transform, see
// WinogradOutT). tmp holds at least Winograd43Scratch(ld) values.
func Winograd43OutT[T tensor.Float](dst []T, ld, xiStride int, y []T, n, o, oh, ow int, tmp []T) {
	if oh < 4 || ow < 4 || oh%4 != 0 || ow%4 != 0 {
		panic(fmt.Sprintf("kernels: Winograd43OutT of a %d×%d image", oh, ow))
	}
	tiles, plane := oh/4*(ow/4), oh*ow
	cols := n * tiles
	if n < 1 || len(y) < n*o*plane || ld < cols || xiStride < o*ld || len(dst) < 35*xiStride+(o-1)*ld+cols || len(tmp) < 40*ld {
		panic(fmt.Sprintf("kernels: Winograd43OutT of %d values into %d (ld %d, stride %d, scratch %d) for %d × [%d, %d, %d]", len(y), len(dst), ld, xiStride, len(tmp), n, o, oh, ow))
	}
	rows := tmp[16*ld:]
	for k := 0; k < o; k++ {
		for i := 0; i < n; i++ {
			off := (i*o + k) * plane
			winoBlocksIn(tmp[i*tiles:], y[off:off+plane], ld, oh/4, ow/4)
		}
		// Rows 6a + j of rows: A along block row a; then A down the
		// columns into dst.
		winoAT46(rows, tmp, cols, 4, 4*ld, 6*ld, ld, ld)
		winoAT46(dst[k*ld:], rows, cols, 6, ld, xiStride, 6*ld, 6*xiStride)
	}
}

// winoBlocksOut writes (add: adds) the 4×4 blocks of a plane of ty×tx
// tiles plus *bias (nil: none): y[(4·ty′ + a)·4tx + 4·tx′ + b] (+)=
// blk[(4a + b)·ld + ty′·tx + tx′] + *bias. By permutes with AVX-512
// (winoBlocks32), else winoBlocksGeneric.
func winoBlocksOut[T tensor.Float](y, blk []T, ld, ty, tx int, add bool, bias *T) {
	_, _ = y[16*ty*tx-1], blk[15*ld+ty*tx-1]
	if is32[T]() && winoBlocks32(true, as32(y), as32(blk), ld, ty, tx, add, (*float32)(unsafe.Pointer(bias))) {
		return
	}
	winoBlocksGeneric(true, y, blk, ld, ty, tx, add, bias)
}

// winoBlocksIn gathers the 4×4 blocks of a plane of ty×tx tiles, the
// places winoBlocksOut writes: blk[(4a + b)·ld + ty′·tx + tx′] =
// y[(4·ty′ + a)·4tx + 4·tx′ + b].
func winoBlocksIn[T tensor.Float](blk, y []T, ld, ty, tx int) {
	_, _ = y[16*ty*tx-1], blk[15*ld+ty*tx-1]
	if is32[T]() && winoBlocks32(false, as32(y), as32(blk), ld, ty, tx, false, nil) {
		return
	}
	winoBlocksGeneric(false, y, blk, ld, ty, tx, false, nil)
}

// winoBlocksGeneric is winoBlocksOut (out) and winoBlocksIn in Go, the twin
// of the assembly.
func winoBlocksGeneric[T tensor.Float](out bool, y, blk []T, ld, ty, tx int, add bool, bias *T) {
	ow := 4 * tx
	for r := 0; r < ty; r++ {
		for a := 0; a < 4; a++ {
			row := y[(4*r+a)*ow : (4*r+a+1)*ow]
			for b := 0; b < 4; b++ {
				v := blk[(4*a+b)*ld+r*tx : (4*a+b)*ld+(r+1)*tx]
				for t := range v {
					if !out {
						v[t] = row[4*t+b]
						continue
					}
					x := v[t]
					if bias != nil {
						x += *bias
					}
					if add {
						x += row[4*t+b]
					}
					row[4*t+b] = x
				}
			}
		}
	}
}

// Winograd43Weights writes the transformed weights of w ([o, c, 3, 3]):
// V_ξ = (G·w[p,q]·Gᵀ)_ξ at dst[ξ·o·c + p·c + q], so that V_ξ is an [o, c]
// matrix, in T's arithmetic. The transposed convolution's weights are
// those of the rotated weights, as for F(2×2, 5×5).
func Winograd43Weights[T tensor.Float](dst, w []T, o, c int) {
	n := o * c
	if len(w) < n*9 || len(dst) < 36*n {
		panic(fmt.Sprintf("kernels: Winograd43Weights of %d weights into %d for [%d, %d, 3, 3]", len(w), len(dst), o, c))
	}
	forFilters(n, func(lo, hi int) {
		for f := lo; f < hi; f++ {
			g := w[f*9 : f*9+9 : f*9+9]
			var a [6][3]T // G·g
			for k := 0; k < 3; k++ {
				r := g43(g[k], g[3+k], g[6+k])
				for i := range r {
					a[i][k] = r[i]
				}
			}
			for i := 0; i < 6; i++ {
				r := g43(a[i][0], a[i][1], a[i][2])
				for j, v := range r {
					dst[(6*i+j)*n+f] = v
				}
			}
		}
	})
}

// g43 returns G·(g0, g1, g2).
func g43[T tensor.Float](g0, g1, g2 T) [6]T {
	e := g0 + g2
	e4 := g0 + 4*g2
	return [6]T{g0 / 4, -(e + g1) / 6, -(e - g1) / 6, (e4 + 2*g1) / 24, (e4 - 2*g1) / 24, g2}
}

// gt43 returns Gᵀ·(m0, …, m5).
func gt43[T tensor.Float](m0, m1, m2, m3, m4, m5 T) [3]T {
	s, d, s2, d2 := (m1+m2)/6, (m1-m2)/6, (m3+m4)/24, (m3-m4)/24
	return [3]T{m0/4 - s + s2, 2*d2 - d, 4*s2 - s + m5}
}

// Winograd43WeightsAdd adds to wBar ([o, c, 3, 3]) the weight gradient
// Gᵀ·M̄·G of the summed products m (M̄_ξ an [o, c] matrix at m[ξ·o·c], from
// Winograd43OutT's components and Winograd43In's tiles), in T's
// arithmetic.
func Winograd43WeightsAdd[T tensor.Float](wBar, m []T, o, c int) {
	n := o * c
	if len(wBar) < n*9 || len(m) < 36*n {
		panic(fmt.Sprintf("kernels: Winograd43WeightsAdd of %d values into %d for [%d, %d, 3, 3]", len(m), len(wBar), o, c))
	}
	forFilters(n, func(lo, hi int) {
		for f := lo; f < hi; f++ {
			var a [6][3]T // M̄·G, row i
			for i := 0; i < 6; i++ {
				b := 6 * i * n
				a[i] = gt43(m[b+f], m[b+n+f], m[b+2*n+f], m[b+3*n+f], m[b+4*n+f], m[b+5*n+f])
			}
			w := wBar[f*9 : f*9+9 : f*9+9]
			for v := 0; v < 3; v++ {
				r := gt43(a[0][v], a[1][v], a[2][v], a[3][v], a[4][v], a[5][v])
				for u, x := range r {
					w[3*u+v] += x
				}
			}
		}
	})
}

// winoA46 applies F(4×4, 3×3)'s Aᵀ to 6 vectors (m0 … m5), by sums and
// exact doublings (winoVert's conventions):
//
//	s12 = m1 + m2, d12 = m1 − m2, s34 = m3 + m4, d34 = m3 − m4
//	a = ((m0 + s12) + s34, d12 + 2·d34, s12 + 4·s34, (d12 + 8·d34) + m5)
func winoA46[T tensor.Float](dst, src []T, n, count, srcStep, dstStep, srcStride, dstStride int) {
	winoVert(winoOpA46, dst, src, n, count, srcStep, dstStep, srcStride, dstStride)
}

// winoAT46 applies A to 4 vectors (e0 … e3), the adjoint of winoA46:
//
//	s02 = e0 + e2, s13 = e1 + e3, t02 = e0 + 4·e2, t13 = 2·(e1 + 4·e3)
//	q = (e0, s02 + s13, s02 − s13, t02 + t13, t02 − t13, e3)
func winoAT46[T tensor.Float](dst, src []T, n, count, srcStep, dstStep, srcStride, dstStride int) {
	winoVert(winoOpAT46, dst, src, n, count, srcStep, dstStep, srcStride, dstStride)
}
