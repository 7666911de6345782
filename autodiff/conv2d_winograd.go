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
// with at least 32 channels in and out. Measured per layer
// (BenchmarkConv2d, AVX-512, 2 threads; forward / vjp-x / vjp-pair time
// against the direct products): C2's 30×30 layer 0.6–0.7 / 0.75–0.8 /
// 0.75–0.8, its 12×12 ones 0.6–1.0 / 0.85–0.95 / 0.9–0.95, ResNet-18's
// 32×32 0.65 / 0.8 / 0.8, 8×8 0.9 / 0.9 / 0.9 and 4×4 1.0–1.1 / 0.93 /
// 0.9, ResNet-20's 16×16 0.75 / 0.8 / 1.0 and 8×8 0.9–1.0 / 1.0 / 0.9–1.0.
// The narrow images gain least: a row of 4 or 2 tiles fills a quarter or
// an eighth of a vector in the transforms. With 16 channels (ResNet-20's
// first stage) x̄ was 1.3× slower, with 3 (C2's first layer) the forward
// 1.2×: there the transforms cost more than the products save.
func winogradShape[T tensor.Float](s kernels.ConvShape, o int) bool {
	return kernels.WinogradFast[T]() && kernels.WinogradOK(s) && min(s.C, o) >= 32
}

// winogradWeights are the 16 transformed weight matrices of a convolution
// (kernels.WinogradWeights), each as a kernels.PackedA for the products.
type winogradWeights[T tensor.Float] struct {
	p   []*kernels.PackedA[T]
	buf *[]T // the matrices, which PackedA packs on first use
}

// newWinogradWeights transforms w ([o, c, 3, 3]): [o, c] matrices, or the
// transposed convolution's [c, o] ones; nil p for a nil w.
func newWinogradWeights[T tensor.Float](o, c int, w *tensor.Dense[T], transposed bool) winogradWeights[T] {
	if w == nil {
		return winogradWeights[T]{}
	}
	buf := getScratch[T](16 * o * c)
	v := *buf
	kernels.WinogradWeights(v, w.Data, o, c, transposed)
	m, k := o, c
	if transposed {
		m, k = c, o
	}
	p := make([]*kernels.PackedA[T], 16)
	for xi := range p {
		p[xi] = kernels.PackA(false, m, k, v[xi*m*k:(xi+1)*m*k], k)
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
	per := max(1, min(n, winogradChunkTiles/tiles)) // images per chunk
	ld := per * tiles
	if ld%256 == 0 {
		ld += 16 // rows a multiple of 1 KiB apart share cache sets
	}
	in, out, oh, ow := s.C*s.H*s.W, o*s.OutH()*s.OutW(), s.OutH(), s.OutW()
	// Scratch for the tiles and products each chunk needs.
	size := func(need bool, n int) int {
		if need {
			return n
		}
		return 0
	}
	uSize, udSize := size(needX, 16*s.C*ld), size(needXd, 16*s.C*ld)
	mSize, mdSize := size(y != nil, 16*o*ld), size(yDot != nil, 16*o*ld)
	forEachPart((n+per-1)/per, func(lo, hi int) {
		buf := getScratch[T](uSize + udSize + mSize + mdSize)
		defer putScratch(buf)
		rest := *buf
		take := func(n int) []T {
			t := rest[:n]
			rest = rest[n:]
			return t
		}
		u, ud, m, md := take(uSize), take(udSize), take(mSize), take(mdSize)
		for ch := lo; ch < hi; ch++ {
			n0, cnt := ch*per, min(per, n-ch*per)
			cols := cnt * tiles
			for i := 0; i < cnt; i++ {
				if needX {
					kernels.WinogradIn(u[i*tiles:], ld, s.C*ld, xs[(n0+i)*in:(n0+i+1)*in], s)
				}
				if needXd {
					kernels.WinogradIn(ud[i*tiles:], ld, s.C*ld, xds[(n0+i)*in:(n0+i+1)*in], s)
				}
			}
			for xi := 0; xi < 16; xi++ {
				// Component ξ of each buffer (nil for one not needed).
				at := func(b []T, stride int) []T {
					if len(b) == 0 {
						return nil
					}
					return b[xi*stride:]
				}
				U, Ud := at(u, s.C*ld), at(ud, s.C*ld)
				M, Md := at(m, o*ld), at(md, o*ld)
				if yX {
					pw[xi].Gemm(false, cols, 1, U, ld, 0, M, ld)
				}
				if yXd {
					pwd[xi].Gemm(false, cols, 1, Ud, ld, beta[T](yX), M, ld)
				}
				if dXd {
					pw[xi].Gemm(false, cols, 1, Ud, ld, 0, Md, ld)
				}
				if dX {
					pwd[xi].Gemm(false, cols, 1, U, ld, beta[T](dXd), Md, ld)
				}
			}
			for i := 0; i < cnt; i++ {
				if y != nil {
					winogradScatter(y[(n0+i)*out:(n0+i+1)*out], m[i*tiles:], ld, o, oh, ow, yX || yXd, b, addY)
				}
				if yDot != nil {
					winogradScatter(yDot[(n0+i)*out:(n0+i+1)*out], md[i*tiles:], ld, o, oh, ow, dXd || dX, bDot, addYd)
				}
			}
		}
	})
}

// winogradScatter writes (or adds, with add) one image's output yn ([o, oh,
// ow]) from its transformed products m (tile t of channel k, component ξ
// at m[ξ·o·ld + k·ld + t]) plus the bias b; set false means the product is
// zero: yn is then set to the bias, or left as it is with add (a bias is
// only ever added to an output that is set).
func winogradScatter[T tensor.Float](yn, m []T, ld, o, oh, ow int, set bool, b []T, add bool) {
	switch {
	case set:
		kernels.WinogradOut(yn, m, ld, o*ld, o, oh, ow, b, add)
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
