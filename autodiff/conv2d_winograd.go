package autodiff

import (
	"hesscope/kernels"
	"hesscope/tensor"
)

// winogradChunkTiles is the number of tiles a chunk of images aims for in
// the Winograd products (as convChunkCols for the direct ones): narrow
// images are batched, several to a product. Measured (BenchmarkConv2d,
// forward and vjp-pair of C2's 12×12 and ResNet-18's 8×8 and 4×4 layers):
// 128 is 0–10 % faster than 64 and 256, 512 10–50 % slower (the chunk's
// tiles no longer stay in cache).
const winogradChunkTiles = 128

// winogradShape reports whether a convolution of shape s (of its input)
// into o channels runs by Winograd's F(2×2, 3×3) (kernels.WinogradIn): for
// float32 where the transforms run in assembly, on the shapes they handle,
// with at least 16 channels in and out. Measured per layer
// (BenchmarkConv2d, AVX-512, 2 threads; forward / vjp-x time against the
// direct products): C2's 30×30 layer 0.6–0.7 / 0.75–0.8, its 12×12 and
// 10×10 ones 0.5–0.85 / 0.75–1.0, ResNet-18's 32×32 0.65 / 0.8, 8×8
// 0.55–0.65 / 0.65–0.75 and 4×4 0.8–0.85 / 0.8–0.9, ResNet-20's 16×16
// 0.6–0.65 / 0.6 and 8×8 0.7 / 0.85, its 32×32 16-channel stage 0.8 / 0.85
// (vjp-pair 0.95; models: resnet20's gradient −1…3 %, product −1…4 %).
// With 3 channels (C2's and the ResNets' first layers) the forward was
// 1.2× slower: there the transforms cost more than the products save.
func winogradShape[T tensor.Float](s kernels.ConvShape, o int) bool {
	return kernels.WinogradFast[T]() && kernels.WinogradOK(s) && min(s.C, o) >= 16
}

// winogradChunk returns the images per chunk of n images of tiles tiles
// each and the leading dimension of a chunk's transformed tiles.
func winogradChunk(n, tiles int) (per, ld int) {
	per = max(1, min(n, winogradChunkTiles/tiles))
	ld = per * tiles
	if ld%256 == 0 {
		ld += 16 // rows a multiple of 1 KiB apart share cache sets
	}
	return per, ld
}

// sizeIf returns n if need, else 0.
func sizeIf(need bool, n int) int {
	if need {
		return n
	}
	return 0
}

// splitScratch takes one scratch buffer for all sizes and cuts it into
// consecutive slices of those sizes (empty for 0); the caller puts buf back.
func splitScratch[T tensor.Float](sizes []int) (buf *[]T, bufs [][]T) {
	total := 0
	for _, n := range sizes {
		total += n
	}
	buf = getScratch[T](total)
	rest := *buf
	for _, n := range sizes {
		bufs = append(bufs, rest[:n:n])
		rest = rest[n:]
	}
	return buf, bufs
}

// winogradWeights are the 16 transformed weight matrices of a convolution
// (kernels.WinogradWeights), each as a kernels.PackedA for the products.
type winogradWeights[T tensor.Float] struct {
	p   []*kernels.PackedA[T]
	buf *[]T // the matrices, which PackedA packs on first use
}

// newWinogradWeights transforms w ([o, c, 3, 3]) into 16 packed [o, c]
// matrices or, with transposed, into the transposed convolution's [c, o]
// ones (kernels.WinogradTransposed: the same transform, its components
// exchanged and packed transposed); nil p for a nil w.
func newWinogradWeights[T tensor.Float](o, c int, w *tensor.Dense[T], transposed bool) winogradWeights[T] {
	if w == nil {
		return winogradWeights[T]{}
	}
	buf := getScratch[T](16 * o * c)
	v := *buf
	kernels.WinogradWeights(v, w.Data, o, c)
	p := make([]*kernels.PackedA[T], 16)
	for xi := range p {
		if transposed {
			src := kernels.WinogradTransposed(xi) * o * c
			p[xi] = kernels.PackA(true, c, o, v[src:src+o*c], c)
			continue
		}
		p[xi] = kernels.PackA(false, o, c, v[xi*o*c:(xi+1)*o*c], c)
	}
	return winogradWeights[T]{p, buf}
}

func (w winogradWeights[T]) release() {
	for _, p := range w.p {
		p.Release()
	}
	if w.buf != nil {
		putScratch(w.buf)
	}
}

// winogradConv computes by Winograd's F(2×2, 3×3) the convolutions of n
// images of shape s into o channels that convForward's products describe
// (the flags say which, as there): y from w·X (yX) plus ẇ·Ẋ (yXd), and ẏ
// from w·Ẋ (dXd) plus ẇ·X (dX), where X and Ẋ are the images xs and xds
// and pw, pwd the transformed weights of w and ẇ (winogradWeights). Per
// chunk of images: the transformed tiles U of x and Ud of ẋ; for each of
// the 16 components the products into M (for y) and Md (ẏ), sums of two
// products taken there, before the one output transform; then the output
// transforms into y and ẏ, plus the biases b and bDot, added to them with
// addY and addYd. A nil y or yDot is not wanted (winogradScatter).
func winogradConv[T tensor.Float](s kernels.ConvShape, n, o int, y, yDot, xs, xds []T, pw, pwd []*kernels.PackedA[T], b, bDot []T, addY, addYd, yX, yXd, dXd, dX bool) {
	needX, needXd := yX || dX, yXd || dXd
	tiles := kernels.WinogradTiles(s)
	per, ld := winogradChunk(n, tiles)
	in, out, oh, ow := s.C*s.H*s.W, o*s.OutH()*s.OutW(), s.OutH(), s.OutW()
	// Scratch for the tiles and products each chunk needs, their
	// components us and ms apart.
	us, ms := kernels.WinogradStride[T](s.C, ld), kernels.WinogradStride[T](o, ld)
	sizes := []int{sizeIf(needX, 16*us), sizeIf(needXd, 16*us), sizeIf(y != nil, 16*ms), sizeIf(yDot != nil, 16*ms)}
	forEachPart((n+per-1)/per, func(lo, hi int) {
		buf, bufs := splitScratch[T](sizes)
		defer putScratch(buf)
		u, ud, m, md := bufs[0], bufs[1], bufs[2], bufs[3]
		for ch := lo; ch < hi; ch++ {
			n0, cnt := ch*per, min(per, n-ch*per)
			cols := cnt * tiles
			for i := 0; i < cnt; i++ {
				if needX {
					kernels.WinogradIn(u[i*tiles:], ld, us, xs[(n0+i)*in:(n0+i+1)*in], s)
				}
				if needXd {
					kernels.WinogradIn(ud[i*tiles:], ld, us, xds[(n0+i)*in:(n0+i+1)*in], s)
				}
			}
			for xi := 0; xi < 16; xi++ {
				U, M := xi*us, xi*ms // component ξ's offsets
				if yX {
					pw[xi].Gemm(false, cols, 1, u[U:], ld, 0, m[M:], ld)
				}
				if yXd {
					pwd[xi].Gemm(false, cols, 1, ud[U:], ld, beta[T](yX), m[M:], ld)
				}
				if dXd {
					pw[xi].Gemm(false, cols, 1, ud[U:], ld, 0, md[M:], ld)
				}
				if dX {
					pwd[xi].Gemm(false, cols, 1, u[U:], ld, beta[T](dXd), md[M:], ld)
				}
			}
			for i := 0; i < cnt; i++ {
				if y != nil {
					winogradScatter(y[(n0+i)*out:(n0+i+1)*out], m[i*tiles:], ld, ms, o, oh, ow, yX || yXd, b, addY)
				}
				if yDot != nil {
					winogradScatter(yDot[(n0+i)*out:(n0+i+1)*out], md[i*tiles:], ld, ms, o, oh, ow, dXd || dX, bDot, addYd)
				}
			}
		}
	})
}

// winogradScatter writes (or adds, with add) one image's output yn ([o, oh,
// ow]) from its transformed products m (tile t of channel k, component ξ
// at m[ξ·ms + k·ld + t]) plus the bias b; set false means the product is
// zero: yn is then set to the bias, or left as it is with add (a bias is
// only ever added to an output that is set).
func winogradScatter[T tensor.Float](yn, m []T, ld, ms, o, oh, ow int, set bool, b []T, add bool) {
	switch {
	case set:
		kernels.WinogradOut(yn, m, ld, ms, o, oh, ow, b, add)
	case !add:
		for k := 0; k < o; k++ {
			var bk T
			if b != nil {
				bk = b[k]
			}
			fill(yn[k*oh*ow:(k+1)*oh*ow], bk)
		}
	}
}

// convForwardWinograd is convForward for winogradShape: the products by
// winogradConv, the weights transformed once per call.
func convForwardWinograd[T tensor.Float](g convGeom, y, yDot, xs, xds []T, w, wDot *tensor.Dense[T], b, bDot *tensor.Dense[T], yX, yXd, dXd, dX bool) {
	var pw, pwd winogradWeights[T]
	if yX || dXd {
		pw = newWinogradWeights(g.O, g.C, w, false)
		defer pw.release()
	}
	if yXd || dX {
		pwd = newWinogradWeights(g.O, g.C, wDot, false)
		defer pwd.release()
	}
	winogradConv(g.ConvShape, g.N, g.O, y, yDot, xs, xds, pw.p, pwd.p, data(b), data(bDot), false, false, yX, yXd, dXd, dX)
}

// transposedWinograd returns the shape of the transposed convolution that
// gives a stride-1 3×3 convolution's input cotangents (ȳ's planes padded by
// 2 − p, into the input's H×W) and whether it runs by Winograd.
func (g convGeom) transposedWinograd() (kernels.ConvShape, bool) {
	ts := kernels.ConvShape{C: g.O, H: g.OutH(), W: g.OutW(), KH: 3, KW: 3, Stride: 1, Pad: 2 - g.Pad}
	return ts, g.KH == 3 && g.KW == 3 && g.Stride == 1 && g.Pad <= 2
}

// convInputWinograd adds the input cotangents of convBackward (the flags
// say which) by the transposed convolution in Winograd's form:
// x̄ = conv(ȳ, w′) and x̄̇ = conv(ȳ̇, w′) + conv(ȳ, ẇ′), w′ the transposed
// weights (kernels.WinogradWeights).
func convInputWinograd[T tensor.Float](g convGeom, ts kernels.ConvShape, bar, dot convGrads[T], yBar, yBarDot, w, wDot *tensor.Dense[T], doX, doXdY, doXdW bool) {
	var pw, pwd winogradWeights[T]
	if doX || doXdY {
		pw = newWinogradWeights(g.O, g.C, w, true)
		defer pw.release()
	}
	if doXdW {
		pwd = newWinogradWeights(g.O, g.C, wDot, true)
		defer pwd.release()
	}
	var xb, xbd, ybd []T
	if doX {
		xb = bar.x.Data
	}
	if doXdY || doXdW {
		xbd = dot.x.Data
	}
	if doXdY {
		ybd = yBarDot.Data
	}
	winogradConv(ts, g.N, g.C, xb, xbd, yBar.Data, ybd, pw.p, pwd.p, nil, nil, !bar.freshX, !dot.freshX, doX, false, doXdY, doXdW)
}

// data returns t's values, nil for a nil t.
func data[T tensor.Float](t *tensor.Dense[T]) []T {
	if t == nil {
		return nil
	}
	return t.Data
}

// winogradGrad reports whether the weight cotangents of g are computed by
// Winograd's algorithm (convWeightWinograd): where its forward products
// are (winogradShape), with at least 32 channels in and out. Against the
// direct products (convWeightRows) on the Xeon (AVX-512, 2 threads,
// BenchmarkConv2d, median of 4 paired ratios) vjp-w / vjp-pair:
// ResNet-20's 16×16 and 8×8 layers 0.86 / 0.79 and 0.74 / 0.88, C2's
// 30×30 and 14×14 0.83 / 0.95 and 0.96 / 0.96, ResNet-18's 32×32 0.74 /
// 0.84; models (BenchmarkModels, 6 paired rounds) c2's HVP 0.91, resnet20's
// 0.97 and HvOnly 0.94. ResNet-20's 16-channel stage stays direct: its
// 16×16 products per component, one tile of the kernel half empty, made
// vjp-w 2.2× and vjp-pair 1.4× slower.
func winogradGrad[T tensor.Float](g convGeom) bool {
	return winogradShape[T](g.ConvShape, g.O) && min(g.C, g.O) >= 32
}

// winogradNT reports whether convWeightWinograd's products read both
// factors as they lie, Ȳ_ξ·U_ξᵀ with k = tiles contiguous in both (the
// dot-product kernel): from 128 channels, where they have enough rows and
// columns for it; with fewer, U_ξ is transposed first and B read in place
// by the unpacked-B kernel. With 128 channels and more the transposed
// form measured 1.06 (C2's 10×10, vjp-pair), 0.98 and 1.04 (ResNet-18's
// 8×8 and 4×4).
func winogradNT(g convGeom) bool { return min(g.C, g.O) >= 128 }

// convWeightWinograd adds the weight cotangents of convBackward (the flags
// say which) in Winograd's form (kernels.WinogradOutT): per chunk of
// images the transformed tiles U of x and Ud of ẋ and the transformed
// output cotangents Ȳ of ȳ and Ȳd of ȳ̇; per component ξ the products
// M̄_ξ += Ȳ_ξ·U_ξᵀ (W̄) and M̄d_ξ += Ȳd_ξ·U_ξᵀ + Ȳ_ξ·Ud_ξᵀ (W̄̇), summed over
// the batch in part order (reduceParts); then W̄ += Gᵀ·M̄·G and W̄̇ +=
// Gᵀ·M̄d·G (kernels.WinogradWeightsAdd). The transforms keep the tiles
// contiguous, so the products' depth runs along the rows of both factors;
// below 128 channels (winogradNT) U_ξ is transposed (kernels.ChannelsLast,
// one component at a time, into a buffer that stays in cache) so that the
// products are Ȳ_ξ·Ũ_ξ with Ũ_ξ's rows read in place and Ȳ_ξ packed once
// for the two products that read it.
func convWeightWinograd[T tensor.Float](g convGeom, bar, dot convGrads[T], yBar, yBarDot, x, xDot *tensor.Dense[T], doW, doWdY, doWdX bool) {
	tiles := kernels.WinogradTiles(g.ConvShape)
	per, ld := winogradChunk(g.N, tiles)
	in, out, oh, ow := g.inSize(), g.outSize(), g.OutH(), g.OutW()
	us, ys := kernels.WinogradStride[T](g.C, ld), kernels.WinogradStride[T](g.O, ld)
	nt := winogradNT(g)
	sizes := []int{sizeIf(doW || doWdY, 16*us), sizeIf(doWdX, 16*us), sizeIf(doW || doWdX, 16*ys), sizeIf(doWdY, 16*ys),
		sizeIf(!nt && (doW || doWdY), ld*g.C), sizeIf(!nt && doWdX, ld*g.C)}
	// Ũ_ξ = U_ξᵀ, [ld, C]: U_ξ's C rows of ld tiles as one row of ld pixels.
	tShape := kernels.ConvShape{C: g.C, H: 1, W: ld, KH: 1, KW: 1, Stride: 1}
	// The sums M̄ (W̄) and M̄d (W̄̇) over the batch, only those wanted.
	mSize := 16 * g.O * g.C
	mBuf, dsts := weightSums[T](mSize, doW, doWdY || doWdX)
	defer putScratch(mBuf)
	reduceParts((g.N+per-1)/per, dsts, func(partials [][]T, lo, hi int) {
		buf, bufs := splitScratch[T](sizes)
		defer putScratch(buf)
		u, ud, yt, ytd, ut, utd := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5]
		for ch := lo; ch < hi; ch++ {
			n0, cnt := ch*per, min(per, g.N-ch*per)
			cols := cnt * tiles
			for i := 0; i < cnt; i++ {
				n := n0 + i
				if len(u) > 0 {
					kernels.WinogradIn(u[i*tiles:], ld, us, x.Data[n*in:(n+1)*in], g.ConvShape)
				}
				if len(ud) > 0 {
					kernels.WinogradIn(ud[i*tiles:], ld, us, xDot.Data[n*in:(n+1)*in], g.ConvShape)
				}
				if len(yt) > 0 {
					kernels.WinogradOutT(yt[i*tiles:], ld, ys, yBar.Data[n*out:(n+1)*out], g.O, oh, ow)
				}
				if len(ytd) > 0 {
					kernels.WinogradOutT(ytd[i*tiles:], ld, ys, yBarDot.Data[n*out:(n+1)*out], g.O, oh, ow)
				}
			}
			for xi := 0; xi < 16; xi++ {
				U, Y := xi*us, xi*ys
				M := xi * mSize / 16
				// B: U_ξ and Ud_ξ as they lie (transposed, tiles along their
				// rows) from 128 channels, else their transposes Ũ_ξ, Ũd_ξ.
				var bu, bud []T
				ldb := ld
				switch {
				case nt:
					if len(u) > 0 {
						bu = u[U:]
					}
					if len(ud) > 0 {
						bud = ud[U:]
					}
				default:
					ldb = g.C
					if len(ut) > 0 {
						kernels.ChannelsLast(ut, u[U:], tShape)
						bu = ut
					}
					if len(utd) > 0 {
						kernels.ChannelsLast(utd, ud[U:], tShape)
						bud = utd
					}
				}
				// Ȳ_ξ, packed once where two products read it (the dot
				// kernel of the transposed form reads it in place).
				var pa *kernels.PackedA[T]
				if doW && doWdX && !nt {
					pa = kernels.PackA(false, g.O, cols, yt[Y:], ld)
				}
				if doW {
					winogradProduct(pa, nt, g.O, g.C, cols, yt[Y:], ld, bu, ldb, partials[0][M:])
				}
				if doWdY {
					winogradProduct(nil, nt, g.O, g.C, cols, ytd[Y:], ld, bu, ldb, partials[1][M:])
				}
				if doWdX {
					winogradProduct(pa, nt, g.O, g.C, cols, yt[Y:], ld, bud, ldb, partials[1][M:])
				}
				if pa != nil {
					pa.Release()
				}
			}
		}
	})
	if doW {
		kernels.WinogradWeightsAdd(bar.w.Data, dsts[0], g.O, g.C)
	}
	if doWdY || doWdX {
		kernels.WinogradWeightsAdd(dot.w.Data, dsts[1], g.O, g.C)
	}
}

// winogradProduct adds a·op(b) to c (m×n, leading dimension n): a is m×k
// with leading dimension lda, packed already if pa is non-nil; b is n×k
// (transB) or k×n, with leading dimension ldb.
func winogradProduct[T tensor.Float](pa *kernels.PackedA[T], transB bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T) {
	if pa != nil {
		pa.Gemm(transB, n, 1, b, ldb, 1, c, n)
		return
	}
	kernels.Gemm(false, transB, m, n, k, 1, a, lda, b, ldb, 1, c, n)
}
