package autodiff

import (
	"hesscope/kernels"
	"hesscope/tensor"
)

// weightRows reports whether the weight cotangents of g are computed by
// convWeightRows: where GemmRows reads the channels-last image's rows in
// place for the products (kernels.StridedRows: at most 128 output
// channels, window rows of at least two of the kernel's tiles, KW·C ≥ 64
// values for float32 with AVX-512), whose KW·C values fill
// whole tiles of 32 (LeNet-5's 5×20 = 100 left a tile of 4 and was 8 %
// slower). Measured against im2col and the dot-product kernel
// (BenchmarkConv2d, Xeon with AVX-512, 2 threads, median of paired
// ratios): vjp-w 0.82 (C1's 16×16 layer), 0.87 and 0.91 (C2's 30×30 and
// 14×14), 0.85 and 0.76 (ResNet-20's 16×16 and 8×8), 0.94 (ResNet-18's
// 32×32); vjp-pair 0.77–0.98. In float64 0.78–0.96, with AVX2 0.50–0.97.
// ResNet-20's 16-channel stage (KW·C = 48, under the kernel's two tiles)
// was on the dot kernel: the 48-wide tile alone was 10 % slower there.
// The 3×3 stride-1 layers of 32 channels and more, and of 16 where the
// products run in place, now take Winograd's form first (winogradGrad),
// which was faster still; this path keeps the others (C1's 5×5, the
// strided ones, float64, machines without the transforms in assembly).
func weightRows[T tensor.Float](g convGeom) bool {
	return !noWeightRows && (g.KW*g.C%32 == 0 || weightWindows(g)) && kernels.StridedRows[T](g.O, g.KW*g.C, g.G*g.P)
}

// weightWindows reports whether convWeightRows gathers each pixel's whole
// window (KH runs of KW·C values) into one row of B, one product per chunk
// with K columns instead of one per window row with KW·C: where a window
// row is over 64 values but not a multiple of 32, so that it leaves a
// tile of the kernel mostly empty (LeNet-5's second layer, 5×20 = 100:
// three tiles of 32 and one of 4, which is why that layer was left on the
// dot kernel). Measured there (BenchmarkConv2d, AVX-512, 2 threads, median
// of 6 paired ratios against im2col and the dot kernel): vjp-w 0.93,
// vjp-pair 0.61. ResNet-20's down-sampling layer (3×16 = 48) measured
// vjp-pair 1.05 and stays there.
func weightWindows(g convGeom) bool { return g.KW*g.C%32 != 0 && g.KW*g.C > 64 && !noWeightWindows }

// noWeightWindows, for tests, turns the whole windows off.
var noWeightWindows = false

// noWeightRows, for tests, turns convWeightRows' path off.
var noWeightRows = false

// convWeightRows adds the weight cotangents of convBackward (the flags say
// which) without a column matrix (or, with weightWindows, with one built
// from the copies): per image, x (and ẋ) is copied
// channels-last and zero-padded (kernels.ChannelsLast), where the window
// row u of output pixel (i, j) is one run of KW·C values, so that
//
//	W̄[·, ·, u, ·] += ȳ·B_u,  B_u's row (i, j) = that run,
//
// one product per window row u (kernels.GemmRows: B read in place, only ȳ
// packed), into the sums in (u, v, c) order; W̄̇ likewise, ȳ̇·B_u + ȳ·Ḃ_u.
// The sums over the batch are taken in part order (reduceParts) and then
// added into W̄ and W̄̇ in their (c, u, v) order. Against im2col(x) and the
// dot-product kernel this moves 1/(KH·KW) of the data (the copy is the
// image itself) and runs the 8-row tiles of the unpacked-B kernel, which
// reach more of the FMA peak than the dot products' reductions.
func convWeightRows[T tensor.Float](g convGeom, bar, dot convGrads[T], yBar, yBarDot, x, xDot *tensor.Dense[T], doW, doWdY, doWdX bool) {
	hp, wp := g.H+2*g.Pad, g.W+2*g.Pad
	img := hp * wp * g.C // one channels-last image
	in, out := g.inSize(), g.outSize()
	ow := g.OutW()
	n := g.KW * g.C // a product's columns, a window row of one pixel
	rows := g.windowOffsets(g.G)
	sBuf, dsts := weightSums[T](g.O*g.K, doW, doWdY || doWdX, true)
	defer putScratch(sBuf)
	needX, needXd := doW || doWdY, doWdX
	// W̄̇ = ȳ̇·Bᵀ + ȳ·Ḃᵀ is one product [ȳ | ȳ̇]·[Ḃ ; B] (k = 2·ld) when
	// both terms are wanted: ȳ and ȳ̇ copied side by side, the rows of Ḃ
	// (ẋ's channels-last copy, xdOff after x's) first.
	// Whole windows (weightWindows) gather one operand at a time and take
	// the two terms as two products.
	whole := weightWindows(g)
	cat := doWdY && doWdX && !whole
	// Whole windows' products in place (directInPlace) read ȳ and ȳ̇
	// transposed, [ld, O] each, copied image by image.
	inPlace := whole && directInPlace[T](g)
	// Otherwise one image's ȳ (and ȳ̇) is read in place; chunks of several
	// images, and the joined product, copy them side by side ([ȳ | ȳ̇]
	// with ȳ̇ where it is wanted).
	copyY := (g.G > 1 || cat) && !inPlace
	var yd []T
	if doWdY {
		yd = yBarDot.Data
	}
	ySize := g.O * g.G * g.P
	if doWdY {
		ySize *= 2
	}
	xdOff := sizeIf(needX, g.G*img)
	outShape := kernels.ConvShape{C: g.O, H: g.OutH(), W: ow}
	reduceParts(g.chunks(), dsts, func(partials [][]T, lo, hi int) {
		buf, bufs := splitScratch[T]([]int{sizeIf(needX, g.G*img), sizeIf(needXd, g.G*img), sizeIf(copyY || inPlace, ySize),
			sizeIf(whole, g.G*g.P*g.K)})
		defer putScratch(buf)
		xs := *buf // x's copies at 0, ẋ's at xdOff
		// The joined product's B rows, those of Ḃ then those of B, for
		// chunks of ld pixels (rebuilt only when ld changes).
		var rowsCat []int
		for ch := lo; ch < hi; ch++ {
			n0, cnt := g.chunk(ch)
			ld := cnt * g.P
			// Y is ȳ's chunk and Yd ȳ̇'s, leading dimension ldY.
			Y, Yd, ldY := yBar.Data[n0*out:(n0+1)*out], []T(nil), ld
			switch {
			case copyY:
				Y, ldY = sideBySide(g, bufs[2], yBar.Data, yd, n0, cnt)
				if doWdY {
					Yd = Y[ld:]
				}
			case doWdY:
				Yd = yd[n0*out : (n0+1)*out]
			}
			if cat && len(rowsCat) != 2*ld {
				rowsCat = make([]int, 2*ld)
				for p, r := range rows[:ld] {
					rowsCat[p], rowsCat[ld+p] = r+xdOff, r
				}
			}
			for i := 0; i < cnt; i++ {
				if needX {
					kernels.ChannelsLast(xs[i*img:(i+1)*img], x.Data[(n0+i)*in:(n0+i+1)*in], g.ConvShape)
				}
				if needXd {
					kernels.ChannelsLast(xs[xdOff+i*img:xdOff+(i+1)*img], xDot.Data[(n0+i)*in:(n0+i+1)*in], g.ConvShape)
				}
			}
			if whole {
				// Ḃ's windows and the products that read them, then B's:
				// B is [ld, K], row p the window of pixel p.
				wb := bufs[3]
				gather := func(off int) { gatherWindows(g, wb, g.K, xs[off:], rows[:ld]) }
				// The products by ȳ (d = 0) or ȳ̇ (d = 1): dst += ȳ·B.
				mul := func(d int, dst []T) {
					if !inPlace {
						a := Y
						if d == 1 {
							a = Yd
						}
						kernels.Gemm(false, false, g.O, g.K, ld, 1, a, ldY, wb, g.K, 1, dst, g.K)
					} else if !kernels.GemmInPlace(true, g.O, g.K, ld, bufs[2][d*ld*g.O:], g.O, wb, g.K, 1, dst, g.K) {
						panic("autodiff: GemmInPlace declined a product directInPlace gave it")
					}
				}
				if inPlace {
					for i := 0; i < cnt; i++ {
						kernels.ChannelsLast(bufs[2][i*g.P*g.O:], yBar.Data[(n0+i)*out:(n0+i+1)*out], outShape)
						if doWdY {
							kernels.ChannelsLast(bufs[2][(ld+i*g.P)*g.O:], yd[(n0+i)*out:(n0+i+1)*out], outShape)
						}
					}
				}
				if doWdX {
					gather(xdOff)
					mul(0, partials[1])
				}
				if needX {
					gather(0)
				}
				if doW {
					mul(0, partials[0])
				}
				if doWdY {
					mul(1, partials[1])
				}
				continue
			}
			for u := 0; u < g.KH; u++ {
				off, c0 := u*wp*g.C, u*n
				if doW {
					kernels.GemmRows(false, g.O, n, ld, 1, Y, ldY, xs[off:], rows, 1, partials[0][c0:], g.K)
				}
				switch {
				case cat:
					kernels.GemmRows(false, g.O, n, 2*ld, 1, Y, ldY, xs[off:], rowsCat, 1, partials[1][c0:], g.K)
				case doWdY:
					kernels.GemmRows(false, g.O, n, ld, 1, Yd, ldY, xs[off:], rows, 1, partials[1][c0:], g.K)
				case doWdX:
					kernels.GemmRows(false, g.O, n, ld, 1, Y, ldY, xs[xdOff+off:], rows, 1, partials[1][c0:], g.K)
				}
			}
		}
	})
	if doW {
		addWindowMajor(bar.w.Data, dsts[0], g.O, g.C, g.KH*g.KW, g.K)
	}
	if doWdY || doWdX {
		addWindowMajor(dot.w.Data, dsts[1], g.O, g.C, g.KH*g.KW, g.K)
	}
}

// weightSums returns sums of size values for W̄ (if doW) and W̄̇ (if doWd)
// in one scratch buffer, which the caller puts back: dsts for reduceParts,
// nil for a sum not wanted; zeroed if zero (else the caller clears them,
// as winogradWeightSums does component by component on every CPU).
func weightSums[T tensor.Float](size int, doW, doWd, zero bool) (buf *[]T, dsts [][]T) {
	buf, dsts = splitScratch[T]([]int{sizeIf(doW, size), sizeIf(doWd, size)})
	if zero {
		clear(*buf)
	}
	for i, d := range dsts {
		if len(d) == 0 {
			dsts[i] = nil // reduceParts: nothing to sum
		}
	}
	return buf, dsts
}

// windowOffsets returns, for output pixel p of image i of images that
// lie one after the other as channels-last, zero-padded copies
// (kernels.ChannelsLast), where its window's first row starts:
// offs[i·P + p]. Window row u is then the run of KW·C values u·(W + 2·Pad)·C
// further on.
func (g convGeom) windowOffsets(images int) []int {
	img, wp, ow := g.clLen(), g.W+2*g.Pad, g.OutW()
	offs := make([]int, images*g.P)
	for i := 0; i < images; i++ {
		for p := 0; p < g.P; p++ {
			oi, oj := p/ow, p%ow
			offs[i*g.P+p] = i*img + (oi*g.Stride*wp+oj*g.Stride)*g.C
		}
	}
	return offs
}

// gatherWindows copies the window of each pixel p, whose first row starts
// at xs[offs[p]] (windowOffsets), into row p of dst, rows ld apart: KH
// runs of KW·C values, in (u, v, c) order.
func gatherWindows[T tensor.Float](g convGeom, dst []T, ld int, xs []T, offs []int) {
	wp, n := g.W+2*g.Pad, g.KW*g.C
	for p, r := range offs {
		for u := 0; u < g.KH; u++ {
			src, d := r+u*wp*g.C, p*ld+u*n
			copy(dst[d:d+n], xs[src:src+n])
		}
	}
}

// addWindowMajor adds the sums s, in (o, u·v, c) order with the rows of
// each o ld ≥ kk·c apart, into w in its (o, c, u·v) order:
// w[(o·c + ch)·kk + t] += s[o·ld + t·c + ch].
func addWindowMajor[T tensor.Float](w, s []T, o, c, kk, ld int) {
	for i := 0; i < o; i++ {
		wi, si := w[i*c*kk:(i+1)*c*kk], s[i*ld:i*ld+kk*c]
		for t := 0; t < kk; t++ {
			row := si[t*c : (t+1)*c]
			for ch, v := range row {
				wi[ch*kk+t] += v
			}
		}
	}
}
