package kernels

import (
	"fmt"

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
// 4× fewer, where F(2×2, 3×3) saves 2.25×. Only its weight gradient is
// here, the adjoint Gᵀ·[Σ over the tiles (A·ē·Aᵀ) ⊙ (Bᵀ·d·B)]·G with ē the
// 4×4 blocks of the output cotangent: per component a product over the
// tiles, 0.56 as deep as F(2×2, 3×3)'s. Its convolutions round too much:
// their output pixels come out of values up to ~100 times the inputs'
// through Aᵀ's 8s, and a float32 HVP of ResNet-18 with them was 2.8·10⁻⁴
// from the float64 one, 3·10⁻⁷ without (the weight gradient's sums over
// the tiles add only 3.5·10⁻⁷).
//
// The transforms are F(2×2, 5×5)'s with windows 4 pixels apart: the input
// windows gathered and transformed along their rows in one kernel
// (wino6Rows32, AVX-512) or by Im2col and winoB6, then winoB6 down the
// columns; the output cotangents' 4×4 blocks gathered (winoBlocksIn, by
// permutes with AVX-512) and transformed by winoAT46 along the rows and
// down the columns. The element-wise kernels run in generated assembly
// whose Go twins give the same bits; the weights' adjoint is Go.

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
// gather the input windows and the output cotangents' blocks. Elsewhere
// they are correct but slower than F(2×2, 3×3).
func Winograd43Fast[T tensor.Float](s ConvShape) bool {
	return is32[T]() && Winograd43OK(s) && winoVertLanes() == 16
}

// Winograd43Tiles returns the number of tiles of shape s: (H′/4)·(W′/4).
func Winograd43Tiles(s ConvShape) int { return s.OutH() / 4 * (s.OutW() / 4) }

// Winograd43Scratch returns the scratch, in values, that Winograd43In and
// Winograd43OutT need for a chunk of leading dimension ld.
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

// Winograd43OutT writes the transformed output cotangents A·e·Aᵀ of the n
// images y ([n, o, oh, ow]), e the 4×4 block of tile t: component ξ of
// tile t of channel k of image i at dst[ξ·xiStride + k·ld + i·tiles + t],
// the adjoint of the output transform Aᵀ·m·A (the weight gradient's
// transform, see WinogradOutT). tmp holds at least Winograd43Scratch(ld)
// values.
func Winograd43OutT[T tensor.Float](dst []T, ld, xiStride int, y []T, n, o, oh, ow int, tmp []T) {
	if oh < 4 || ow < 4 || oh%4 != 0 || ow%4 != 0 {
		panic(fmt.Sprintf("kernels: Winograd43OutT of a %d×%d image", oh, ow))
	}
	tiles, plane := oh/4*(ow/4), oh*ow
	cols := n * tiles
	if n < 1 || len(y) < n*o*plane || ld < cols || xiStride < o*ld || len(dst) < 35*xiStride+(o-1)*ld+cols || len(tmp) < 40*ld {
		panic(fmt.Sprintf("kernels: Winograd43OutT of %d values into %d (ld %d, stride %d, scratch %d) for %d × [%d, %d, %d]", len(y), len(dst), ld, xiStride, len(tmp), n, o, oh, ow))
	}
	winoOutT6(dst, ld, xiStride, y, n, o, oh, ow, tmp, 4)
}

// winoBlocksIn gathers the 4×4 blocks of a plane of ty×tx tiles:
// blk[(4a + b)·ld + ty′·tx + tx′] = y[(4·ty′ + a)·4tx + 4·tx′ + b]. By
// permutes with AVX-512 (winoBlocks32), else winoBlocksGeneric.
func winoBlocksIn[T tensor.Float](blk, y []T, ld, ty, tx int) {
	_, _ = y[16*ty*tx-1], blk[15*ld+ty*tx-1]
	if is32[T]() && winoBlocks32(as32(blk), as32(y), ld, ty, tx) {
		return
	}
	winoBlocksGeneric(blk, y, ld, ty, tx)
}

// winoBlocksGeneric is winoBlocksIn in Go, the twin of the assembly.
func winoBlocksGeneric[T tensor.Float](blk, y []T, ld, ty, tx int) {
	ow := 4 * tx
	for r := 0; r < ty; r++ {
		for a := 0; a < 4; a++ {
			row := y[(4*r+a)*ow : (4*r+a+1)*ow]
			for b := 0; b < 4; b++ {
				v := blk[(4*a+b)*ld+r*tx : (4*a+b)*ld+(r+1)*tx]
				for t := range v {
					v[t] = row[4*t+b]
				}
			}
		}
	}
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

// winoAT46 applies A to 4 vectors (e0 … e3), the adjoint of Aᵀ:
//
//	s02 = e0 + e2, s13 = e1 + e3, t02 = e0 + 4·e2, t13 = 2·(e1 + 4·e3)
//	q = (e0, s02 + s13, s02 − s13, t02 + t13, t02 − t13, e3)
func winoAT46[T tensor.Float](dst, src []T, n, count, srcStep, dstStep, srcStride, dstStride int) {
	winoVert(winoOpAT46, dst, src, n, count, srcStep, dstStep, srcStride, dstStride)
}
