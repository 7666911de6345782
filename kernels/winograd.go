package kernels

import (
	"fmt"
	"runtime"
	"unsafe"

	"hesscope/internal/workers"
	"hesscope/tensor"
)

// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms
// for Convolutional Neural Networks", 2016): a 3×3 stride-1 convolution
// computes each 2×2 block of output pixels of one output channel o from the
// 4×4 window d of input pixels of every input channel c under it as
//
//	y = Aᵀ·[Σ_c (G·g[o,c]·Gᵀ) ⊙ (Bᵀ·d[c]·B)]·A
//
// with ⊙ the element-wise product of 4×4 matrices and
//
//	Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//	G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 −1 −1]
//
// The sum over c is, for each of the 16 components ξ = 4i + j of the
// transformed tiles, one matrix product V_ξ·U_ξ of the transformed weights
// V_ξ ([O, C]) and the transformed input tiles U_ξ ([C, tiles]): 16
// multiply-adds per 4 output pixels and input channel instead of 36, 2.25×
// fewer. The transforms are additions only. The results differ from the
// direct convolution's in the last bits (other roundings of the same sum),
// as cuDNN's and oneDNN's Winograd convolutions do; they are the same bits
// for any thread count.
//
// WinogradIn, WinogradOut and WinogradWeights are the transforms of a
// convolution, WinogradOutT and WinogradWeightsAdd those of its weight
// gradient (the adjoint); the products are the callers' (autodiff's
// convolution). The float32 transforms run in generated assembly (AVX-512,
// AVX2) whose Go twins give the same bits.

// WinogradOK reports whether the transforms handle shape s: a 3×3 window,
// stride 1, at most 2 pixels of padding, and an output of even height and
// of even width at most 32 (each row of tiles one vector of up to 16).
func WinogradOK(s ConvShape) bool {
	oh, ow := s.OutH(), s.OutW()
	return s.KH == 3 && s.KW == 3 && s.Stride == 1 && s.Pad >= 0 && s.Pad <= 2 &&
		oh >= 2 && ow >= 2 && oh%2 == 0 && ow%2 == 0 && ow <= 32
}

// WinogradFast reports whether T's transforms run in assembly on this
// machine (float32 with AVX-512 or AVX2; the weights' transforms with
// AVX-512 only); elsewhere they are the pure-Go reference loops, correct
// but slower than the direct convolution they replace.
func WinogradFast[T tensor.Float]() bool { return is32[T]() && winogradAsm() }

// WinogradStride returns the distance, in values, between the 16
// components of rows·ld transformed values: rows·ld, or 16 more where that
// is a multiple of 4 KiB of T. Components exactly 4 KiB apart make a
// transform's 16 stores (or loads) of a tile alias in the store buffer's
// address check (4K aliasing), which measured 2–5× slower transforms of
// ResNet's 8×8 and 4×4 layers (BenchmarkWinograd).
func WinogradStride[T tensor.Float](rows, ld int) int {
	n := rows * ld
	if n*int(unsafe.Sizeof(T(0)))%4096 == 0 {
		n += 16
	}
	return n
}

// WinogradTiles returns the number of tiles of shape s: (H′/2)·(W′/2).
func WinogradTiles(s ConvShape) int { return s.OutH() / 2 * (s.OutW() / 2) }

// WinogradWeights writes the transformed weights of w ([o, c, 3, 3]):
// V_ξ = (G·w[p,q]·Gᵀ)_ξ at dst[ξ·o·c + p·c + q], so that V_ξ is an [o, c]
// matrix, in T's arithmetic (winogradWeightsGeneric says in what order).
//
// The transposed convolution (the input cotangent x̄ = conv(ȳ, w′) with
// padding 2 − p of a stride-1 3×3 convolution of padding p, w′[q, p] = w[p,
// q] rotated by 180°) needs no transform of its own: G·J = P·G for the
// reversal J of 3 values and the exchange P of the first and last of 4, so
// its component (i, j) is V_(π(i), π(j))ᵀ, π exchanging 0 and 3
// (WinogradTransposed), up to the order of two additions.
func WinogradWeights[T tensor.Float](dst, w []T, o, c int) {
	n := o * c
	if len(w) < n*9 || len(dst) < 16*n {
		panic(fmt.Sprintf("kernels: WinogradWeights of %d weights into %d for [%d, %d, 3, 3]", len(w), len(dst), o, c))
	}
	forFilters(n, func(lo, hi int) {
		if WinogradFast[T]() && winogradWeights32(as32(dst[lo:]), as32(w[lo*9:]), hi-lo, n) {
			return
		}
		winogradWeightsGeneric(dst, w, n, lo, hi)
	})
}

// forFilters calls f(lo, hi) for parts of n filters on the idle CPUs (a
// ResNet-18 4×4 layer has 262 144), each part whole blocks of 16 filters
// but the last.
func forFilters(n int, f func(lo, hi int)) {
	parts := min(max(1, n/4096), runtime.GOMAXPROCS(0))
	workers.Run(parts, parts, func(part int) {
		lo, hi := part*n/parts/16*16, (part+1)*n/parts/16*16
		if part == parts-1 {
			hi = n
		}
		f(lo, hi)
	})
}

// winogradWeightsGeneric is WinogradWeights for filters lo…hi − 1 in Go,
// the twin of the assembly: down the columns t = g0 + g2 and the rows g0,
// (t + g1)·½, (t − g1)·½, g2 of G·g; then the same along each of its rows.
func winogradWeightsGeneric[T tensor.Float](dst, w []T, n, lo, hi int) {
	for f := lo; f < hi; f++ {
		g := w[f*9 : f*9+9 : f*9+9]
		var a [4][3]T
		for k := 0; k < 3; k++ {
			g0, g1, g2 := g[k], g[3+k], g[6+k]
			t := g0 + g2
			a[0][k], a[1][k], a[2][k], a[3][k] = g0, (t+g1)*0.5, (t-g1)*0.5, g2
		}
		d := dst[f : f+15*n+1]
		for i := 0; i < 4; i++ {
			r0, r1, r2 := a[i][0], a[i][1], a[i][2]
			t := r0 + r2
			b := 4 * i * n
			d[b], d[b+n], d[b+2*n], d[b+3*n] = r0, (t+r1)*0.5, (t-r1)*0.5, r2
		}
	}
}

// WinogradTransposed returns the component of WinogradWeights' whose [o, c]
// matrix, transposed, is component xi of the transposed convolution's
// weights: (i, j) ↦ (π(i), π(j)), π exchanging 0 and 3.
func WinogradTransposed(xi int) int {
	pi := [4]int{3, 1, 2, 0}
	return 4*pi[xi/4] + pi[xi%4]
}

// WinogradIn writes the transformed input tiles Bᵀ·d·B of image x ([C, H,
// W], shape s, WinogradOK) : component ξ of tile t = ty·W′/2 + tx of channel
// c at dst[ξ·xiStride + c·ld + t], where d is the 4×4 window of the
// zero-padded image at row 2·ty and column 2·tx. The caller guarantees ld ≥
// WinogradTiles(s) and xiStride ≥ C·ld.
func WinogradIn[T tensor.Float](dst []T, ld, xiStride int, x []T, s ConvShape) {
	if !WinogradOK(s) {
		panic(fmt.Sprintf("kernels: WinogradIn of shape %+v", s))
	}
	tiles := WinogradTiles(s)
	if len(x) < s.C*s.H*s.W || ld < tiles || xiStride < s.C*ld || len(dst) < 15*xiStride+(s.C-1)*ld+tiles {
		panic(fmt.Sprintf("kernels: WinogradIn of %d values into %d (ld %d, stride %d) for shape %+v", len(x), len(dst), ld, xiStride, s))
	}
	if WinogradFast[T]() {
		winogradIn32(as32(dst), ld, xiStride, as32(x), s)
		return
	}
	winogradInGeneric(dst, ld, xiStride, x, s)
}

// winogradInGeneric is WinogradIn in Go, the twin of the assembly: every
// value is computed by the same operations in the same order. A row of
// tiles reads rows 2·ty + i − p (i < 4) of the image; of such a row it
// takes, for each tile, the four values e0 = x[2tx − p], o1 = x[2tx + 1 −
// p], e2 = x[2tx + 2 − p] and o3 = x[2tx + 3 − p] (0 outside the image) and
// forms r = (e0 − e2, o1 + e2, e2 − o1, o1 − o3), Bᵀ applied along the
// row; the four rows' r are then combined the same way down the column.
func winogradInGeneric[T tensor.Float](dst []T, ld, xiStride int, x []T, s ConvShape) {
	th, tw := s.OutH()/2, s.OutW()/2
	at := func(plane []T, r, col int) T {
		if r < 0 || r >= s.H || col < 0 || col >= s.W {
			return 0
		}
		return plane[r*s.W+col]
	}
	for c := 0; c < s.C; c++ {
		plane := x[c*s.H*s.W : (c+1)*s.H*s.W]
		for ty := 0; ty < th; ty++ {
			for tx := 0; tx < tw; tx++ {
				var r [4][4]T
				for i := 0; i < 4; i++ {
					row, col := 2*ty+i-s.Pad, 2*tx-s.Pad
					e0, o1, e2, o3 := at(plane, row, col), at(plane, row, col+1), at(plane, row, col+2), at(plane, row, col+3)
					r[i] = [4]T{e0 - e2, o1 + e2, e2 - o1, o1 - o3}
				}
				t := c*ld + ty*tw + tx
				for j := 0; j < 4; j++ {
					dst[(0+j)*xiStride+t] = r[0][j] - r[2][j]
					dst[(4+j)*xiStride+t] = r[1][j] + r[2][j]
					dst[(8+j)*xiStride+t] = r[2][j] - r[1][j]
					dst[(12+j)*xiStride+t] = r[1][j] - r[3][j]
				}
			}
		}
	}
}

// WinogradOut writes the output pixels Aᵀ·m·A (+ bias[o]) of the
// transformed products m, component ξ of tile t of output channel o at
// m[ξ·xiStride + o·ld + t], into y ([O, oh, ow], even oh and ow ≤ 32): the
// 2×2 block of tile t = ty·ow/2 + tx at rows 2·ty, 2·ty + 1 and columns
// 2·tx, 2·tx + 1. With add, the pixels are added to y (y + v) instead;
// bias, if non-nil, has O values added to the pixels before.
func WinogradOut[T tensor.Float](y, m []T, ld, xiStride, o, oh, ow int, bias []T, add bool) {
	if oh < 2 || ow < 2 || oh%2 != 0 || ow%2 != 0 || ow > 32 {
		panic(fmt.Sprintf("kernels: WinogradOut of a %d×%d output", oh, ow))
	}
	tiles := oh / 2 * (ow / 2)
	if len(y) < o*oh*ow || ld < tiles || xiStride < o*ld || len(m) < 15*xiStride+(o-1)*ld+tiles || bias != nil && len(bias) < o {
		panic(fmt.Sprintf("kernels: WinogradOut of %d values (ld %d, stride %d) into %d for [%d, %d, %d]", len(m), ld, xiStride, len(y), o, oh, ow))
	}
	if WinogradFast[T]() {
		winogradOut32(as32(y), as32(m), ld, xiStride, o, oh, ow, as32(bias), add)
		return
	}
	winogradOutGeneric(y, m, ld, xiStride, o, oh, ow, bias, add)
}

// winogradOutGeneric is WinogradOut in Go, the twin of the assembly: Aᵀ down
// the columns, a0 = (m0 + m1) + m2 and a1 = (m1 − m2) − m3, then along the
// rows the same way, then the bias, then the sum with y.
func winogradOutGeneric[T tensor.Float](y, m []T, ld, xiStride, o, oh, ow int, bias []T, add bool) {
	th, tw := oh/2, ow/2
	for k := 0; k < o; k++ {
		plane := y[k*oh*ow : (k+1)*oh*ow]
		for ty := 0; ty < th; ty++ {
			for tx := 0; tx < tw; tx++ {
				t := k*ld + ty*tw + tx
				var a [2][4]T
				for j := 0; j < 4; j++ {
					m0, m1, m2, m3 := m[j*xiStride+t], m[(4+j)*xiStride+t], m[(8+j)*xiStride+t], m[(12+j)*xiStride+t]
					a[0][j] = m0 + m1 + m2
					a[1][j] = m1 - m2 - m3
				}
				for i := 0; i < 2; i++ {
					v := [2]T{a[i][0] + a[i][1] + a[i][2], a[i][1] - a[i][2] - a[i][3]}
					for j := 0; j < 2; j++ {
						if bias != nil {
							v[j] += bias[k]
						}
						p := &plane[(2*ty+i)*ow+2*tx+j]
						if add {
							*p += v[j]
						} else {
							*p = v[j]
						}
					}
				}
			}
		}
	}
}

// The weight gradient W̄[o, c] = Σ_n Σ_{i,j} ȳ[n, o, i, j]·x[n, c, i + u − p,
// j + v − p] in Winograd's form is the adjoint of the forward one:
//
//	W̄[o, c] = Gᵀ·[Σ_tiles (A·ȳ_t·Aᵀ) ⊙ (Bᵀ·d_t·B)]·G
//
// with ȳ_t the 2×2 block of output cotangents of tile t and d_t its input
// window: per component ξ, one product Ȳ_ξ·U_ξᵀ of the transformed
// cotangents ([O, tiles], WinogradOutT) and the transformed input tiles
// ([C, tiles], WinogradIn), summed over the tiles, then Gᵀ·M̄·G
// (WinogradWeightsAdd). A·ȳ_t·Aᵀ has entries −e where the row or column
// of A is (0, −1); WinogradOutT leaves out those signs (its components are
// sums and differences only) and WinogradWeightsAdd puts them back, exactly.

// WinogradOutT writes the transformed output cotangents of image y ([o, oh,
// ow], even oh, ow ≤ 32): component ξ = 4i + j of tile t = ty·ow/2 + tx of
// channel k at dst[ξ·xiStride + k·ld + t], |A·e·Aᵀ|'s pattern without the
// signs of A's last row: with e the tile's 2×2 block (rows e0, e1), q = (e0,
// e0 + e1, e0 − e1, e1) down the column and, for each q_i = (a, b), (a,
// a + b, a − b, b) along the row.
func WinogradOutT[T tensor.Float](dst []T, ld, xiStride int, y []T, o, oh, ow int) {
	if oh < 2 || ow < 2 || oh%2 != 0 || ow%2 != 0 || ow > 32 {
		panic(fmt.Sprintf("kernels: WinogradOutT of a %d×%d image", oh, ow))
	}
	tiles := oh / 2 * (ow / 2)
	if len(y) < o*oh*ow || ld < tiles || xiStride < o*ld || len(dst) < 15*xiStride+(o-1)*ld+tiles {
		panic(fmt.Sprintf("kernels: WinogradOutT of %d values into %d (ld %d, stride %d) for [%d, %d, %d]", len(y), len(dst), ld, xiStride, o, oh, ow))
	}
	if WinogradFast[T]() && winogradOutT32(as32(dst), ld, xiStride, as32(y), o, oh, ow) {
		return
	}
	winogradOutTGeneric(dst, ld, xiStride, y, o, oh, ow)
}

// winogradOutTGeneric is WinogradOutT in Go, the twin of the assembly.
func winogradOutTGeneric[T tensor.Float](dst []T, ld, xiStride int, y []T, o, oh, ow int) {
	th, tw := oh/2, ow/2
	for k := 0; k < o; k++ {
		plane := y[k*oh*ow : (k+1)*oh*ow]
		for ty := 0; ty < th; ty++ {
			for tx := 0; tx < tw; tx++ {
				e0a, e0b := plane[2*ty*ow+2*tx], plane[2*ty*ow+2*tx+1]
				e1a, e1b := plane[(2*ty+1)*ow+2*tx], plane[(2*ty+1)*ow+2*tx+1]
				q := [4][2]T{{e0a, e0b}, {e0a + e1a, e0b + e1b}, {e0a - e1a, e0b - e1b}, {e1a, e1b}}
				t := k*ld + ty*tw + tx
				for i, r := range q {
					a, b := r[0], r[1]
					dst[(4*i)*xiStride+t] = a
					dst[(4*i+1)*xiStride+t] = a + b
					dst[(4*i+2)*xiStride+t] = a - b
					dst[(4*i+3)*xiStride+t] = b
				}
			}
		}
	}
}

// WinogradWeightsAdd adds to wBar ([o, c, 3, 3]) the weight gradient Gᵀ·M̄·G
// of the summed products m (M̄_ξ an [o, c] matrix at m[ξ·o·c], from
// WinogradOutT's components and WinogradIn's tiles), in T's arithmetic.
// The signs WinogradOutT left out (component ξ = 4i + j negated once for i
// = 3 and once for j = 3, M̄ = D·M̄′·D with D = diag(1, 1, 1, −1)) are
// G̃ = D·G's: G̃ᵀ·M̄′·G̃ is computed, down the columns s = m1 + m2, (m0 + s·½,
// (m1 − m2)·½, s·½ − m3), then the same along each row, and added (wBar +
// value).
func WinogradWeightsAdd[T tensor.Float](wBar, m []T, o, c int) {
	n := o * c
	if len(wBar) < n*9 || len(m) < 16*n {
		panic(fmt.Sprintf("kernels: WinogradWeightsAdd of %d values into %d for [%d, %d, 3, 3]", len(m), len(wBar), o, c))
	}
	forFilters(n, func(lo, hi int) {
		if WinogradFast[T]() && winogradWeightsAdd32(as32(wBar[lo*9:]), as32(m[lo:]), hi-lo, n) {
			return
		}
		winogradWeightsAddGeneric(wBar, m, n, lo, hi)
	})
}

// winogradWeightsAddGeneric is WinogradWeightsAdd for filters lo…hi − 1 in
// Go, the twin of the assembly (the conversions to T round each product, as
// the assembly does: no fused multiply-add).
func winogradWeightsAddGeneric[T tensor.Float](wBar, m []T, n, lo, hi int) {
	step := func(m0, m1, m2, m3 T) (T, T, T) {
		h := T((m1 + m2) * 0.5)
		return m0 + h, T((m1 - m2) * 0.5), h - m3
	}
	for f := lo; f < hi; f++ {
		var col [4][3]T
		for j := 0; j < 4; j++ {
			col[j][0], col[j][1], col[j][2] = step(m[j*n+f], m[(4+j)*n+f], m[(8+j)*n+f], m[(12+j)*n+f])
		}
		w := wBar[f*9 : f*9+9 : f*9+9]
		for u := 0; u < 3; u++ {
			a, b, c := step(col[0][u], col[1][u], col[2][u], col[3][u])
			w[3*u] += a
			w[3*u+1] += b
			w[3*u+2] += c
		}
	}
}
