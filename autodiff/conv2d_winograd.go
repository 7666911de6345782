package autodiff

import (
	"runtime"

	"hesscope/kernels"
	"hesscope/tensor"
)

// winogradChunkTiles is the number of tiles a chunk of images aims for in
// the Winograd products (as convChunkCols for the direct ones): narrow
// images are batched, several to a product. Measured (BenchmarkConv2d,
// forward and vjp-pair of C2's 12×12 and ResNet-18's 8×8 and 4×4 layers):
// 128 is 0–10 % faster than 64 and 256, 512 10–50 % slower (the chunk's
// tiles no longer stay in cache). F(4×4, 3×3)'s tiles, 4×4 pixels each,
// measured no faster at 192 (C2's 30×30 and ResNet-20's layers).
const winogradChunkTiles = 128

// winogradShape reports whether a convolution of shape s (of its input)
// into o channels runs by Winograd's algorithm (winogradOf): for float32
// where the transforms run in assembly, on the shapes they handle, with at
// least 16 channels in and out. F(2×2, 3×3), measured per layer
// (BenchmarkConv2d, AVX-512, 2 threads; forward / vjp-x time against the
// direct products): C2's 30×30 layer 0.6–0.7 / 0.75–0.8, its 12×12 and
// 10×10 ones 0.5–0.85 / 0.75–1.0, ResNet-18's 32×32 0.65 / 0.8, 8×8
// 0.55–0.65 / 0.65–0.75 and 4×4 0.8–0.85 / 0.8–0.9, ResNet-20's 16×16
// 0.6–0.65 / 0.6 and 8×8 0.7 / 0.85, its 32×32 16-channel stage 0.8 / 0.85
// (vjp-pair 0.95; models: resnet20's gradient −1…3 %, product −1…4 %).
// With 3 channels (C2's and the ResNets' first layers) the forward was
// 1.2× slower: there the transforms cost more than the products save.
//
// F(2×2, 5×5) from 32 channels, where its transforms run in assembly
// (kernels.Winograd5Fast): against the direct products, C1's 16×16 layer
// (64 channels) measured forward 0.60, vjp-x 0.57, vjp-w 0.73 and
// vjp-pair 0.59 with AVX-512, 0.51, 0.50, 0.69 and 0.56 with AVX2
// (BenchmarkConv2d, 2 threads, median of 3 paired ratios); LeNet-5's 8×8
// one (20 channels in, 50 out) 1.2, 2.5, 0.92 and 1.5 with AVX-512: its
// thin products do not pay for 36 components' transforms.
func winogradShape[T tensor.Float](s kernels.ConvShape, o int) bool {
	if min(s.C, o) < 16 {
		return false
	}
	if s.KH == 5 {
		return min(s.C, o) >= 32 && kernels.Winograd5Fast[T](s)
	}
	return kernels.WinogradFast[T]() && kernels.WinogradOK(s)
}

// winogradAlg is the Winograd algorithm of a convolution: F(2×2, 3×3)
// (kernels.WinogradIn and its kin, 16 components), F(2×2, 5×5)
// (kernels.Winograd5In, 36) or, for weight cotangents only, F(4×4, 3×3)
// (kernels.Winograd43In, 36). Its functions transform the images of a
// chunk.
type winogradAlg int

const (
	winograd23 winogradAlg = iota // F(2×2, 3×3)
	winograd25                    // F(2×2, 5×5)
	winograd43                    // F(4×4, 3×3)
)

// winogradOf returns the algorithm of a convolution of shape s into o
// channels that runs by Winograd's algorithm (winogradShape): by its
// window, and for the weight cotangents (grad) of 3×3 windows F(4×4, 3×3)
// where its transforms run at full speed (kernels.Winograd43Fast) and it
// is faster (prefer43). The convolutions themselves (outputs and input
// cotangents) never take F(4×4, 3×3): its output transform rounds too
// much (kernels/winograd43.go).
func winogradOf[T tensor.Float](s kernels.ConvShape, o int, grad bool) winogradAlg {
	switch {
	case s.KH == 5:
		return winograd25
	case grad && use43 && kernels.Winograd43Fast[T](s) && prefer43(s, o):
		return winograd43
	}
	return winograd23
}

// use43 enables F(4×4, 3×3) (tests turn it off to compare).
var use43 = true

// prefer43 reports whether the weight cotangents of a convolution of shape
// s into o channels are faster by F(4×4, 3×3) than by F(2×2, 3×3): its
// products over the tiles are 0.56 as deep, its transforms cost more per
// tile and, per image and channel, a call each. Measured per layer
// (AVX-512, 2 threads, 5 alternations in one process, medians), vjp-w
// against F(2×2, 3×3): C2's 30×30 layer 0.83, its 14×14 one 0.79,
// ResNet-18's 32×32 0.75, its 8×8 (256 channels) 0.77 and 4×4 1.5,
// ResNet-20's 16×16 0.83 and 8×8 (64 channels) 1.0.
func prefer43(s kernels.ConvShape, o int) bool {
	ow := s.OutW()
	return ow >= 12 || ow >= 8 && min(s.C, o) >= 128
}

// comps returns the number of components of a transformed tile.
func (a winogradAlg) comps() int {
	if a == winograd23 {
		return 16
	}
	return 36
}

// tiles returns the number of tiles of an image of shape s.
func (a winogradAlg) tiles(s kernels.ConvShape) int {
	if a == winograd43 {
		return kernels.Winograd43Tiles(s)
	}
	return kernels.WinogradTiles(s)
}

// scratch returns the scratch the transforms of a chunk of leading
// dimension ld need.
func (a winogradAlg) scratch(ld int) int {
	switch a {
	case winograd25:
		return kernels.Winograd5Scratch(ld)
	case winograd43:
		return kernels.Winograd43Scratch(ld)
	}
	return 0
}

// winoIn writes the transformed tiles of the n images xs of shape s at
// dst (kernels.WinogradIn, Winograd5In, Winograd43In).
func winoIn[T tensor.Float](a winogradAlg, dst []T, ld, us int, xs []T, n int, s kernels.ConvShape, tmp []T) {
	switch a {
	case winograd25:
		kernels.Winograd5In(dst, ld, us, xs, n, s, tmp)
		return
	case winograd43:
		kernels.Winograd43In(dst, ld, us, xs, n, s, tmp)
		return
	}
	tiles, in := kernels.WinogradTiles(s), s.C*s.H*s.W
	for i := 0; i < n; i++ {
		kernels.WinogradIn(dst[i*tiles:], ld, us, xs[i*in:(i+1)*in], s)
	}
}

// winoOut writes (or adds) the n images y ([n, o, oh, ow]) of the
// transformed products m (kernels.WinogradOut, Winograd5Out).
func winoOut[T tensor.Float](a winogradAlg, y []T, n int, m []T, ld, ms, o, oh, ow int, b []T, add bool, tmp []T) {
	if a == winograd25 {
		kernels.Winograd5Out(y, n, m, ld, ms, o, oh, ow, b, add, tmp)
		return
	}
	tiles, out := oh/2*(ow/2), o*oh*ow
	for i := 0; i < n; i++ {
		kernels.WinogradOut(y[i*out:(i+1)*out], m[i*tiles:], ld, ms, o, oh, ow, b, add)
	}
}

// winoOutT writes the transformed output cotangents of the n images y
// (kernels.WinogradOutT, Winograd5OutT, Winograd43OutT).
func winoOutT[T tensor.Float](a winogradAlg, dst []T, ld, ys int, y []T, n, o, oh, ow int, tmp []T) {
	switch a {
	case winograd25:
		kernels.Winograd5OutT(dst, ld, ys, y, n, o, oh, ow, tmp)
		return
	case winograd43:
		kernels.Winograd43OutT(dst, ld, ys, y, n, o, oh, ow, tmp)
		return
	}
	tiles, out := oh/2*(ow/2), o*oh*ow
	for i := 0; i < n; i++ {
		kernels.WinogradOutT(dst[i*tiles:], ld, ys, y[i*out:(i+1)*out], o, oh, ow)
	}
}

// winoWeightsAdd adds the weight gradient of the summed products m
// (kernels.WinogradWeightsAdd, Winograd5WeightsAdd, Winograd43WeightsAdd).
func winoWeightsAdd[T tensor.Float](a winogradAlg, wBar, m []T, o, c int) {
	switch a {
	case winograd25:
		kernels.Winograd5WeightsAdd(wBar, m, o, c)
		return
	case winograd43:
		kernels.Winograd43WeightsAdd(wBar, m, o, c)
		return
	}
	kernels.WinogradWeightsAdd(wBar, m, o, c)
}

// winogradChunk returns the images per chunk of n images of tiles tiles
// each and the leading dimension of a chunk's transformed tiles.
func winogradChunk(n, tiles int) (per, ld int) {
	per = max(1, min(n, winogradChunkTiles/tiles))
	return per, winogradLd(per, tiles)
}

// winogradSpread is winogradChunk for the products that write each
// image's outputs on their own (winogradConv: y, ẏ and the input
// cotangents), with at least two chunks per CPU where the batch allows:
// ResNet-18's 4×4 layers make 4 chunks of 32 images at batch 128, which
// kept 4 of 16 cores busy. Those outputs are the same bits however the
// batch is chunked (each column's sums run over the same depth in the
// same order; TestWinogradDeterministic), so the chunking may follow
// GOMAXPROCS; the weight cotangents, summed over the chunks, may not
// (convWeightWinograd keeps winogradChunk's).
func winogradSpread(n, tiles int) (per, ld int) {
	per, _ = winogradChunk(n, tiles)
	per = max(1, min(per, n/(2*runtime.GOMAXPROCS(0))))
	return per, winogradLd(per, tiles)
}

// winogradLd is the leading dimension of a chunk of per images' tiles.
func winogradLd(per, tiles int) int {
	ld := per * tiles
	if ld%256 == 0 {
		ld += 16 // rows a multiple of 1 KiB apart share cache sets
	}
	return ld
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

// winogradWeights are the transformed weight matrices of a convolution
// (kernels.WinogradWeights, Winograd5Weights), one per component, each as
// a kernels.PackedA for the products.
type winogradWeights[T tensor.Float] struct {
	p   []*kernels.PackedA[T]
	buf *[]T // the matrices, which PackedA packs on first use
}

// inPlaceProducts reports whether winogradConv's products of shape s into
// o channels run in place (mulPacked; in place or through the packed
// panels, each element sums its k terms from zero in order, one fused
// multiply-add each, k below the kernels' 128-deep slices, so either
// gives the same bits): with at most 64 channels in and out, o a
// multiple of 16, and at most 32 channels or outputs at most 16 wide.
// Measured per layer against the packed panels (2 threads,
// 8–12 alternations in one process, medians): ResNet-20's 16-, 32- and
// 64-channel layers forward 0.87–0.89 and input cotangents 0.84–0.89 of
// the time, C1's 5×5 64-channel layer 0.96–0.98; 64 channels 28–32 wide
// (C2's, ResNet-18's) 0.95–1.01 (C2's gradient 1.03 in place, 12
// alternated passes), 128 and 256 channels 0.98–1.09 and 1.05–1.23: the
// packed panels' 8×48 tiles, reading B's rows for 48 columns at a time,
// keep wider products in cache better.
func inPlaceProducts[T tensor.Float](s kernels.ConvShape, o int) bool {
	return useInPlace && kernels.GemmInPlaceFast[T]() && o%16 == 0 && max(o, s.C) <= 64 && (max(o, s.C) <= 32 || s.OutW() <= 16)
}

// winogradMats writes g's weights w ([O, C, r, r]) transformed by a into
// v as its components' row-major [O, C] matrices or, with transposed, the
// transposed convolution's [C, O] ones, and returns their rows and
// columns. F(2×2, 3×3)'s transposed matrices are its own, components
// exchanged and transposed (kernels.WinogradTransposed); F(2×2, 5×5)'s are
// those of the flipped filters (flipWeights: w′[c, o] = w[o, c] turned by
// 180°).
func winogradMats[T tensor.Float](a winogradAlg, g convGeom, w *tensor.Dense[T], transposed bool, v []T) (rows, cols int) {
	o, c := g.O, g.C
	if a == winograd25 {
		src := w.Data
		if transposed {
			o, c = c, o
			rb := getScratch[T](o * c * g.KH * g.KW)
			defer putScratch(rb)
			src = *rb
			flipWeights(g, src, []*tensor.Dense[T]{w})
		}
		kernels.Winograd5Weights(v, src, o, c)
		return o, c
	}
	if !transposed {
		kernels.WinogradWeights(v, w.Data, o, c)
		return o, c
	}
	tb := getScratch[T](a.comps() * o * c)
	defer putScratch(tb)
	t := *tb
	kernels.WinogradWeights(t, w.Data, o, c)
	// The components' transposes, spread over the CPUs where they are
	// large (a serial stretch of a ResNet pass otherwise).
	forEachRow(a.comps(), o*c, func(lo, hi int) {
		for xi := lo; xi < hi; xi++ {
			src := t[kernels.WinogradTransposed(xi)*o*c:]
			dst := v[xi*o*c:]
			for i := range o {
				for j := range c {
					dst[j*o+i] = src[i*c+j]
				}
			}
		}
	})
	return c, o
}

// newWinogradWeights transforms g's weights w by a (winogradMats) and
// packs each component's matrix; nil p for a nil w.
func newWinogradWeights[T tensor.Float](a winogradAlg, g convGeom, w *tensor.Dense[T], transposed bool) winogradWeights[T] {
	if w == nil {
		return winogradWeights[T]{}
	}
	nc, o, c := a.comps(), g.O, g.C
	buf := getScratch[T](nc * o * c)
	v := *buf
	p := make([]*kernels.PackedA[T], nc)
	if a == winograd23 && transposed {
		// F(2×2, 3×3)'s own matrices, packed transposed: no copy of them
		// transposed (16·O·C values) as winogradMats makes.
		kernels.WinogradWeights(v, w.Data, o, c)
		for xi := range p {
			src := kernels.WinogradTransposed(xi) * o * c
			p[xi] = kernels.PackA(true, c, o, v[src:src+o*c], c)
		}
		return winogradWeights[T]{p, buf}
	}
	m, k := winogradMats(a, g, w, transposed, v)
	for xi := range p {
		p[xi] = kernels.PackA(false, m, k, v[xi*m*k:(xi+1)*m*k], k)
	}
	return winogradWeights[T]{p, buf}
}

// newWinogradPair is newWinogradWeights for two weights side by side: each
// component's matrix is [V_ξ | V̇_ξ], w's transformed matrix and then
// wDot's, for the sums of two products V_ξ·X_ξ + V̇_ξ·Ẋ_ξ as one product
// twice as deep (winogradConv).
func newWinogradPair[T tensor.Float](a winogradAlg, g convGeom, w, wDot *tensor.Dense[T], transposed bool) winogradWeights[T] {
	nc, size := a.comps(), g.O*g.C
	tb := getScratch[T](2 * nc * size)
	defer putScratch(tb)
	t := *tb
	m, k := winogradMats(a, g, w, transposed, t[:nc*size])
	winogradMats(a, g, wDot, transposed, t[nc*size:])
	buf := getScratch[T](2 * nc * size)
	v := *buf
	p := make([]*kernels.PackedA[T], nc)
	for xi := range p {
		cat := v[2*xi*size : 2*(xi+1)*size]
		for i := range m {
			copy(cat[2*i*k:], t[xi*size+i*k:xi*size+(i+1)*k])
			copy(cat[(2*i+1)*k:], t[(nc+xi)*size+i*k:(nc+xi)*size+(i+1)*k])
		}
		p[xi] = kernels.PackA(false, m, 2*k, cat, 2*k)
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

// winogradConv computes by Winograd's algorithm (winogradOf(s)) the
// convolutions of n images of shape s into o channels that convForward's
// products describe (the flags say which, as there): y from w·X (yX) plus
// ẇ·Ẋ (yXd), and ẏ from w·Ẋ (dXd) plus ẇ·X (dX), where X and Ẋ are the
// images xs and xds and pw, pwd the transformed weights of w and ẇ
// (winogradWeights). Per chunk of images: the transformed tiles U of x and
// Ud of ẋ; for each component the products into M (for y) and Md (ẏ),
// then the output transforms into y and ẏ, plus the biases b and bDot,
// added to them with addY and addYd. A nil y or yDot is not wanted
// (winogradScatter); done, if non-nil, is called with each chunk's images
// once their outputs are written. Where both of an output's products are
// wanted and pp holds the weights side by side (newWinogradPair), they are
// one product twice as deep: [V_ξ | V̇_ξ] times U_ξ's rows over Ud_ξ's (or
// Ud_ξ's over U_ξ's), which the unpacked-B kernel reads where they lie;
// else the second product adds to the first's. One deep product writes
// its tile of M once instead of twice: against the two, per component of
// the shapes of the zoo's layers (one goroutine, alternating in one
// process, 400 rounds) 0.74–0.88 of the time with 16 and 32 channels,
// 0.93–1.0 with 64 and 128; BenchmarkConv2d's jvp (y and ẏ) ResNet-20's
// first two stages 0.79–0.82. Whole layers gain only up to 32 channels
// (winogradPairMaxK).
func winogradConv[T tensor.Float](s kernels.ConvShape, n, o int, y, yDot, xs, xds []T, pw, pwd, pp []*kernels.PackedA[T], b, bDot []T, addY, addYd, yX, yXd, dXd, dX bool, done func(n0, cnt int)) {
	a := winogradOf[T](s, o, false)
	nc := a.comps()
	needX, needXd := yX || dX, yXd || dXd
	tiles := a.tiles(s)
	per, ld := winogradSpread(n, tiles)
	in, out, oh, ow := s.C*s.H*s.W, o*s.OutH()*s.OutW(), s.OutH(), s.OutW()
	// Scratch for the tiles and products each chunk needs, their
	// components us and ms apart, and for the transforms.
	us, ms := kernels.WinogradStride[T](s.C, ld), kernels.WinogradStride[T](o, ld)
	sizes := []int{sizeIf(needX, nc*us), sizeIf(needXd, nc*us), sizeIf(y != nil, nc*ms), sizeIf(yDot != nil, nc*ms), a.scratch(ld)}
	// The deep products' rows, from a component's first row of U: U's
	// rows then Ud's (for y), Ud's then U's (ẏ); U and Ud lie nc·us apart
	// in the scratch buffer.
	pairY, pairD := pp != nil && yX && yXd, pp != nil && dXd && dX
	inPlace := inPlaceProducts[T](s, o)
	var rowsY, rowsD []int
	if pairY || pairD {
		rowsY, rowsD = make([]int, 2*s.C), make([]int, 2*s.C)
		for p := range s.C {
			rowsY[p], rowsY[s.C+p] = p*ld, nc*us+p*ld
			rowsD[p], rowsD[s.C+p] = nc*us+p*ld, p*ld
		}
	}
	forEachPart((n+per-1)/per, func(lo, hi int) {
		buf, bufs := splitScratch[T](sizes)
		defer putScratch(buf)
		u, ud, m, md, tmp := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4]
		var uu []T // U then Ud, for the deep products
		if pairY || pairD {
			uu = (*buf)[:2*nc*us]
		}
		for ch := lo; ch < hi; ch++ {
			n0, cnt := ch*per, min(per, n-ch*per)
			cols := cnt * tiles
			if needX {
				winoIn(a, u, ld, us, xs[n0*in:(n0+cnt)*in], cnt, s, tmp)
			}
			if needXd {
				winoIn(a, ud, ld, us, xds[n0*in:(n0+cnt)*in], cnt, s, tmp)
			}
			for xi := 0; xi < nc; xi++ {
				U, M := xi*us, xi*ms // component ξ's offsets
				// sum writes into dst w's product with bw plus ẇ's with
				// bwd (nil: not wanted), as one deep product of pp's if
				// deep, with those rows.
				sum := func(dst []T, deep bool, rows []int, bw, bwd []T) {
					if deep {
						pp[xi].GemmRows(cols, 1, uu[U:], rows, 0, dst, ld)
						return
					}
					if bw != nil {
						mulPacked(pw[xi], inPlace, cols, bw, ld, 0, dst, ld)
					}
					if bwd != nil {
						mulPacked(pwd[xi], inPlace, cols, bwd, ld, beta[T](bw != nil), dst, ld)
					}
				}
				var xu, xud []T // component ξ of U and Ud where wanted
				if needX {
					xu = u[U:]
				}
				if needXd {
					xud = ud[U:]
				}
				if y != nil {
					sum(m[M:], pairY, rowsY, pick(yX, xu), pick(yXd, xud))
				}
				if yDot != nil {
					sum(md[M:], pairD, rowsD, pick(dXd, xud), pick(dX, xu))
				}
			}
			if y != nil {
				winogradScatter(a, y[n0*out:(n0+cnt)*out], cnt, m, ld, ms, o, oh, ow, yX || yXd, b, addY, tmp)
			}
			if yDot != nil {
				winogradScatter(a, yDot[n0*out:(n0+cnt)*out], cnt, md, ld, ms, o, oh, ow, dXd || dX, bDot, addYd, tmp)
			}
			if done != nil {
				done(n0, cnt)
			}
		}
	})
}

// pick returns s if want, else nil.
func pick[T tensor.Float](want bool, s []T) []T {
	if want {
		return s
	}
	return nil
}

// winogradScatter writes (or adds, with add) the n images yn ([n, o, oh,
// ow]) from their transformed products m (tile t of channel k of image i,
// component ξ at m[ξ·ms + k·ld + i·tiles + t]) plus the bias b; set false
// means the product is zero: yn is then set to the bias, or left as it is
// with add (a bias is only ever added to an output that is set).
func winogradScatter[T tensor.Float](a winogradAlg, yn []T, n int, m []T, ld, ms, o, oh, ow int, set bool, b []T, add bool, tmp []T) {
	switch {
	case set:
		winoOut(a, yn, n, m, ld, ms, o, oh, ow, b, add, tmp)
	case !add:
		for k := 0; k < n*o; k++ {
			var bk T
			if b != nil {
				bk = b[k%o]
			}
			fill(yn[k*oh*ow:(k+1)*oh*ow], bk)
		}
	}
}

// convForwardWinograd is convForward for winogradShape: the products by
// winogradConv, the weights transformed once per call (winogradPairs);
// done as for convForward.
func convForwardWinograd[T tensor.Float](g convGeom, y, yDot, xs, xds []T, w, wDot *tensor.Dense[T], b, bDot *tensor.Dense[T], yX, yXd, dXd, dX bool, done func(n0, cnt int)) {
	pw, pwd, pp := winogradPairs(winogradOf[T](g.ConvShape, g.O, false), g, w, wDot, false, yX, yXd, dXd, dX)
	defer pw.release()
	defer pwd.release()
	defer pp.release()
	winogradConv(g.ConvShape, g.N, g.O, y, yDot, xs, xds, pw.p, pwd.p, pp.p, data(b), data(bDot), false, false, yX, yXd, dXd, dX, done)
}

// winogradPairMaxK is the most channels a Winograd product reads for the
// sums of two to run as one product twice as deep (winogradPairs).
// Measured in one process, alternating with the two products 12 times,
// a layer's forward JVP and VJP pair: ResNet-20's 16-channel stage
// 0.87–1.0 of the time, its 32-channel one 0.93–1.0; with 64 channels
// and more 0.96–1.02 (C1's, C2's layers) and 1.05–1.12 (ResNet-20's 8×8
// stage), where the deep operands no longer fit in L1 with their
// neighbours.
const winogradPairMaxK = 32

// winogradPairs transforms the weights that winogradConv's products (the
// flags) read: w and ẇ side by side where an output sums a product of
// each and the products read at most winogradPairMaxK channels
// (newWinogradPair), each alone where a product of it is not in such a
// sum.
func winogradPairs[T tensor.Float](a winogradAlg, g convGeom, w, wDot *tensor.Dense[T], transposed, yX, yXd, dXd, dX bool) (pw, pwd, pp winogradWeights[T]) {
	kd := g.C // the products' depth: the channels they read
	if transposed {
		kd = g.O
	}
	deep := kd <= winogradPairMaxK
	pairY, pairD := yX && yXd && deep, dXd && dX && deep
	if pairY || pairD {
		pp = newWinogradPair(a, g, w, wDot, transposed)
	}
	if yX && !pairY || dXd && !pairD {
		pw = newWinogradWeights(a, g, w, transposed)
	}
	if yXd && !pairY || dX && !pairD {
		pwd = newWinogradWeights(a, g, wDot, transposed)
	}
	return pw, pwd, pp
}

// transposedWinograd returns the shape of the transposed convolution that
// gives a stride-1 r×r convolution's input cotangents (ȳ's planes padded by
// r − 1 − p, into the input's H×W) and whether it can run by Winograd (r
// = 3 or 5).
func (g convGeom) transposedWinograd() (kernels.ConvShape, bool) {
	r := g.KH
	ts := kernels.ConvShape{C: g.O, H: g.OutH(), W: g.OutW(), KH: r, KW: r, Stride: 1, Pad: r - 1 - g.Pad}
	return ts, (r == 3 || r == 5) && g.KW == r && g.Stride == 1 && g.Pad <= r-1
}

// convInputWinograd adds the input cotangents of convBackward (the flags
// say which) by the transposed convolution in Winograd's form:
// x̄ = conv(ȳ, w′) and x̄̇ = conv(ȳ̇, w′) + conv(ȳ, ẇ′), w′ the transposed
// weights (kernels.WinogradWeights).
func convInputWinograd[T tensor.Float](g convGeom, ts kernels.ConvShape, bar, dot convGrads[T], yBar, yBarDot, w, wDot *tensor.Dense[T], doX, doXdY, doXdW bool) {
	pw, pwd, pp := winogradPairs(winogradOf[T](ts, g.C, false), g, w, wDot, true, doX, false, doXdY, doXdW)
	defer pw.release()
	defer pwd.release()
	defer pp.release()
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
	winogradConv(ts, g.N, g.C, xb, xbd, yBar.Data, ybd, pw.p, pwd.p, pp.p, nil, nil, !bar.freshX, !dot.freshX, doX, false, doXdY, doXdW, nil)
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
// 0.97 and HvOnly 0.94. With 16 channels only where the products run in
// place (inPlaceWeights) by F(4×4, 3×3): ResNet-20's 16-channel stage,
// vjp-w 0.73 and vjp-pair 0.87 of the direct products' time (16
// alternations in one process); through the unpacked-B kernel, its 16×16
// products per component, one tile of the kernel half empty, had made
// vjp-w 2.2× and vjp-pair 1.4× slower.
func winogradGrad[T tensor.Float](g convGeom) bool {
	if !winogradShape[T](g.ConvShape, g.O) {
		return false
	}
	return min(g.C, g.O) >= 32 || inPlaceWeights[T](g) && winogradOf[T](g.ConvShape, g.O, true) == winograd43
}

// inPlaceWeights reports whether convWeightWinograd's products run by
// kernels.GemmInPlace: Ȳ_ξ's rows read in place, each 16×16 block of
// M̄_ξ held in registers over the chunk's tiles.
func inPlaceWeights[T tensor.Float](g convGeom) bool {
	return useInPlace && kernels.GemmInPlaceFast[T]() && g.C%16 == 0 && g.O%16 == 0 && !winogradNT(g)
}

// useInPlace enables inPlaceWeights and inPlaceProducts (tests turn it off to
// compare).
var useInPlace = true

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
// products are Ȳ_ξ·Ũ_ξ with Ũ_ξ's rows read in place, and Ȳ_ξ's too where
// kernels.GemmInPlace runs (inPlaceWeights: vjp-w 0.81–0.82 of the
// packed form on ResNet-20's 32- and 64-channel layers), else Ȳ_ξ packed
// once for the two products that read it. With fewer chunks than two per CPU
// the sums run by component instead (winogradWeightSums), in the same
// order.
func convWeightWinograd[T tensor.Float](g convGeom, bar, dot convGrads[T], yBar, yBarDot, x, xDot *tensor.Dense[T], doW, doWdY, doWdX bool) {
	a := winogradOf[T](g.ConvShape, g.O, true)
	nc := a.comps()
	tiles := a.tiles(g.ConvShape)
	per, ld := winogradChunk(g.N, tiles)
	in, out, oh, ow := g.inSize(), g.outSize(), g.OutH(), g.OutW()
	us, ys := kernels.WinogradStride[T](g.C, ld), kernels.WinogradStride[T](g.O, ld)
	nt := winogradNT(g)
	inPlace := inPlaceWeights[T](g)
	sizes := []int{sizeIf(doW || doWdY, nc*us), sizeIf(doWdX, nc*us), sizeIf(doW || doWdX, nc*ys), sizeIf(doWdY, nc*ys),
		sizeIf(!nt && (doW || doWdY), ld*g.C), sizeIf(!nt && doWdX, ld*g.C), a.scratch(ld)}
	// Ũ_ξ = U_ξᵀ, [ld, C]: U_ξ's C rows of ld tiles as one row of ld pixels.
	tShape := kernels.ConvShape{C: g.C, H: 1, W: ld, KH: 1, KW: 1, Stride: 1}
	// The sums M̄ (W̄) and M̄d (W̄̇) over the batch, only those wanted.
	mSize := nc * g.O * g.C
	chunks := (g.N + per - 1) / per
	byComponent := chunks <= maxParts && chunks < 2*runtime.GOMAXPROCS(0)
	mBuf, dsts := weightSums[T](mSize, doW, doWdY || doWdX, !byComponent)
	defer putScratch(mBuf)
	// transform writes chunk ch's transformed tiles into u, ud, yt, ytd
	// (those wanted: non-empty) and returns its number of tiles.
	transform := func(ch int, u, ud, yt, ytd, tmp []T) (cols int) {
		n0, cnt := ch*per, min(per, g.N-ch*per)
		xs, ys0 := n0*in, n0*out
		if len(u) > 0 {
			winoIn(a, u, ld, us, x.Data[xs:xs+cnt*in], cnt, g.ConvShape, tmp)
		}
		if len(ud) > 0 {
			winoIn(a, ud, ld, us, xDot.Data[xs:xs+cnt*in], cnt, g.ConvShape, tmp)
		}
		if len(yt) > 0 {
			winoOutT(a, yt, ld, ys, yBar.Data[ys0:ys0+cnt*out], cnt, g.O, oh, ow, tmp)
		}
		if len(ytd) > 0 {
			winoOutT(a, ytd, ld, ys, yBarDot.Data[ys0:ys0+cnt*out], cnt, g.O, oh, ow, tmp)
		}
		return cnt * tiles
	}
	// products adds component ξ's products of one chunk of cols tiles,
	// transformed into u, ud, yt, ytd, to w (M̄_ξ) and wd (M̄d_ξ); ut and
	// utd hold the transposes Ũ_ξ, Ũd_ξ where they are used.
	products := func(xi, cols int, u, ud, yt, ytd, ut, utd, w, wd []T) {
		U, Y := xi*us, xi*ys
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
		if inPlace {
			// M̄_ξ += Ȳ_ξ·Ũ_ξ, Ȳ_ξ's rows (ld apart) read in place.
			add := func(a, b, c []T) {
				if !kernels.GemmInPlace(false, g.O, g.C, cols, a, ld, b, ldb, 1, c, g.C) {
					panic("autodiff: GemmInPlace declined a product inPlaceWeights gave it")
				}
			}
			if doW {
				add(yt[Y:], bu, w)
			}
			if doWdY {
				add(ytd[Y:], bu, wd)
			}
			if doWdX {
				add(yt[Y:], bud, wd)
			}
			return
		}
		// Ȳ_ξ, packed once where two products read it (the dot
		// kernel of the transposed form reads it in place).
		var pa *kernels.PackedA[T]
		if doW && doWdX && !nt {
			pa = kernels.PackA(false, g.O, cols, yt[Y:], ld)
		}
		if doW {
			winogradProduct(pa, nt, g.O, g.C, cols, yt[Y:], ld, bu, ldb, w)
		}
		if doWdY {
			winogradProduct(nil, nt, g.O, g.C, cols, ytd[Y:], ld, bu, ldb, wd)
		}
		if doWdX {
			winogradProduct(pa, nt, g.O, g.C, cols, yt[Y:], ld, bud, ldb, wd)
		}
		if pa != nil {
			pa.Release()
		}
	}
	if byComponent {
		winogradWeightSums(chunks, nc, g.O*g.C, sizes, dsts, transform, products)
	} else {
		reduceParts(chunks, dsts, func(partials [][]T, lo, hi int) {
			buf, bufs := splitScratch[T](sizes)
			defer putScratch(buf)
			u, ud, yt, ytd, ut, utd, tmp := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5], bufs[6]
			for ch := lo; ch < hi; ch++ {
				cols := transform(ch, u, ud, yt, ytd, tmp)
				for xi := 0; xi < nc; xi++ {
					M := xi * g.O * g.C
					var w, wd []T
					if partials[0] != nil {
						w = partials[0][M:]
					}
					if partials[1] != nil {
						wd = partials[1][M:]
					}
					products(xi, cols, u, ud, yt, ytd, ut, utd, w, wd)
				}
			}
		})
	}
	if doW {
		winoWeightsAdd(a, bar.w.Data, dsts[0], g.O, g.C)
	}
	if doWdY || doWdX {
		winoWeightsAdd(a, dot.w.Data, dsts[1], g.O, g.C)
	}
}

// winogradWeightSums computes convWeightWinograd's sums over the batch
// with the components, not the chunks, spread over the CPUs, where the
// batch makes too few chunks to keep them busy (ResNet-18's 4×4 and 8×8
// layers: 4 and 16 chunks at batch 128): first every chunk's transformed
// tiles side by side (sizes[:4] each, chunks in parallel), then per
// component ξ (components in parallel) each chunk's products into a
// cleared M̄_ξ-sized buffer added to dsts in chunk order, each component's
// sums cleared by its task (dsts come uncleared). With no more
// chunks than maxParts, reduceParts gives each chunk a part of its own, so
// these are its sums, in its order: the same bits (TestWinogradDeterministic).
func winogradWeightSums[T tensor.Float](chunks, nc, size int, sizes []int, dsts [][]T,
	transform func(ch int, u, ud, yt, ytd, tmp []T) int,
	products func(xi, cols int, u, ud, yt, ytd, ut, utd, w, wd []T)) {
	per := sizes[0] + sizes[1] + sizes[2] + sizes[3] // one chunk's tiles
	all := getScratch[T](chunks * per)
	defer putScratch(all)
	chunk := func(ch int) (u, ud, yt, ytd []T) {
		b := (*all)[ch*per : (ch+1)*per]
		u, b = b[:sizes[0]], b[sizes[0]:]
		ud, b = b[:sizes[1]], b[sizes[1]:]
		yt, b = b[:sizes[2]], b[sizes[2]:]
		return u, ud, yt, b[:sizes[3]]
	}
	cols := make([]int, chunks)
	forEachPart(chunks, func(lo, hi int) {
		tmp := getScratch[T](sizes[6])
		defer putScratch(tmp)
		for ch := lo; ch < hi; ch++ {
			u, ud, yt, ytd := chunk(ch)
			cols[ch] = transform(ch, u, ud, yt, ytd, *tmp)
		}
	})
	forEachPart(nc, func(lo, hi int) {
		buf, bufs := splitScratch[T]([]int{sizeIf(dsts[0] != nil, size), sizeIf(dsts[1] != nil, size), sizes[4], sizes[5]})
		defer putScratch(buf)
		w, wd, ut, utd := bufs[0], bufs[1], bufs[2], bufs[3]
		for xi := lo; xi < hi; xi++ {
			M := xi * size
			for _, d := range dsts { // uncleared (weightSums)
				if d != nil {
					clear(d[M : M+size])
				}
			}
			for ch := range chunks {
				clear(w)
				clear(wd)
				u, ud, yt, ytd := chunk(ch)
				products(xi, cols[ch], u, ud, yt, ytd, ut, utd, w, wd)
				if dsts[0] != nil {
					kernels.Add(dsts[0][M:M+size], w)
				}
				if dsts[1] != nil {
					kernels.Add(dsts[1][M:M+size], wd)
				}
			}
		}
	})
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
