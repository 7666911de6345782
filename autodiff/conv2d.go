package autodiff

import (
	"fmt"

	"hesscope/kernels"
	"hesscope/tensor"
)

// Conv2d is the 2-D convolution of PyTorch's nn.Conv2d with groups 1 and
// dilation 1 (a cross-correlation, as in PyTorch):
//
//	y[n,o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v] · x[n, c, i·s − p + u, j·s − p + v]
//
// with x outside the image read as 0 (zero padding). Inputs are (x, W) or
// (x, W, b): x is [N, C, H, W], W is [O, C, kh, kw] and the optional bias b
// is [O]; y is [N, O, H′, W′] with H′ = (H + 2p − kh)/s + 1 and
// W′ = (W + 2p − kw)/s + 1 (rounded down, as PyTorch).
//
// Per image, with X = im2col(x[n]) the [C·kh·kw, H′·W′] matrix of windows,
// y[n] = W·X + b, so the convolution is bilinear in (x, W) like Linear:
//
//	ẏ   = conv(ẋ, W) + conv(x, Ẇ) + ḃ
//	x̄  += col2im(Wᵀ·ȳ[n])           (the transposed convolution)
//	W̄  += Σₙ ȳ[n]·im2col(x[n])ᵀ      b̄ += Σ_{n,i,j} ȳ[n,·,i,j]
//	curvature: x̄̇ += col2im(Ẇᵀ·ȳ[n]),  W̄̇ += Σₙ ȳ[n]·im2col(ẋ[n])ᵀ
//
// The batch is processed in chunks of images with about 256 output pixels in
// all (one image each when H′·W′ ≥ 256), one GEMM per chunk and product, so
// scratch memory is one chunk's column matrices per goroutine, taken from a
// pool. In a forward-over-reverse pass, a chunk's column matrices of x and ẋ
// are built once and shared by every product that needs them:
//
//	ForwardJVP   [y | ẏ]   = W·[X | Ẋ] + Ẇ·X  (the Ẇ term into the ẏ half)
//	VJPPair      [x̄ | x̄̇]  = col2im(Wᵀ·[ȳ | ȳ̇] + Ẇᵀ·ȳ)   (likewise)
//	             W̄  += ȳ·Xᵀ     W̄̇ += [ȳ | ȳ̇]·[Ẋ | X]ᵀ = ȳ·Ẋᵀ + ȳ̇·Xᵀ
//
// with X = im2col(x), Ẋ = im2col(ẋ) and [A | B] matrices side by side.
// The weights are packed once per call for every chunk's products
// (kernels.PackedA). Where building a column matrix costs most, it is read
// in place instead: the forward products of wide stride-1 layers
// (implicit), their input cotangents as a transposed convolution of ȳ
// (backImplicit), the weight products from channels-last copies of x and
// ẋ (weightRows, convWeightRows) or, for a gradient of a thin layer, from
// shifted copies of x (shiftedRows); see those for when. Winograd's
// F(2×2, 3×3) takes the 3×3 stride-1 layers' forward and input products
// in float32 (winogradShape), and their weight products from 32 channels,
// or 16 where its products run in place (winogradGrad).
// Chunks run in parallel on at most GOMAXPROCS goroutines. The per-image
// results are independent, and the sums over the batch for W̄ and b̄ are
// taken in an order fixed by the shapes alone, so results are bit-identical
// from run to run and for any GOMAXPROCS.
type Conv2d[T tensor.Float] struct {
	Stride  int // step of the window in both directions; 0 means 1
	Padding int // zero padding added on each of the four sides

	fresh uint64 // x̄ (bit 0) or x̄̇ (bit 32) uncleared (freshWriter)
}

var (
	_ Curved[float64]  = Conv2d[float64]{}
	_ PairJVP[float64] = Conv2d[float64]{}
	_ PairVJP[float64] = Conv2d[float64]{}
)

// convChunkCols is the number of output pixels a chunk of images aims for:
// images with few output pixels (deep layers) are batched, several to a
// GEMM, so that the matrix products are wide enough to run fast.
const convChunkCols = 256

// convGeom is the geometry of one convolution call. The batch is cut into
// chunks of G images, each handled by one GEMM on the images' column
// matrices placed side by side ([K, G·P]); G depends on the shapes only.
type convGeom struct {
	kernels.ConvShape
	N, O int // batch size and output channels
	K, P int // rows (C·kh·kw) and columns (H′·W′) of an image's column matrix
	G    int // images per chunk
}

func (g convGeom) inSize() int  { return g.C * g.H * g.W }
func (g convGeom) outSize() int { return g.O * g.P }
func (g convGeom) chunks() int  { return (g.N + g.G - 1) / g.G }

// chunk returns the first image and the number of images of chunk ch.
func (g convGeom) chunk(ch int) (n0, cnt int) { return ch * g.G, min(g.G, g.N-ch*g.G) }

// needCol reports whether a chunk may need a column buffer: not when it is
// one image whose column matrix is the image itself (a 1×1 window, stride 1,
// no padding).
func (g convGeom) needCol() bool { return !(g.G == 1 && g.Identity()) }

func (c Conv2d[T]) geom(x []*tensor.Dense[T]) convGeom {
	if len(x) < 2 || len(x) > 3 {
		panic(fmt.Sprintf("autodiff: Conv2d of %d inputs, want (x, W) or (x, W, b)", len(x)))
	}
	in, w := x[0], x[1]
	if len(in.Shape) != 4 || len(w.Shape) != 4 || in.Shape[1] != w.Shape[1] {
		panic(fmt.Sprintf("autodiff: Conv2d of x %v and W %v, want [N, C, H, W] and [O, C, kh, kw]", in.Shape, w.Shape))
	}
	if len(x) == 3 && (len(x[2].Shape) != 1 || x[2].Shape[0] != w.Shape[0]) {
		panic(fmt.Sprintf("autodiff: Conv2d bias %v for W %v", x[2].Shape, w.Shape))
	}
	stride := c.Stride
	if stride == 0 {
		stride = 1
	}
	s := kernels.ConvShape{C: in.Shape[1], H: in.Shape[2], W: in.Shape[3], KH: w.Shape[2], KW: w.Shape[3], Stride: stride, Pad: c.Padding}
	if stride < 0 || c.Padding < 0 || s.H+2*s.Pad < s.KH || s.W+2*s.Pad < s.KW {
		panic(fmt.Sprintf("autodiff: Conv2d of x %v with W %v, stride %d, padding %d", in.Shape, w.Shape, c.Stride, c.Padding))
	}
	g := convGeom{ConvShape: s, N: in.Shape[0], O: w.Shape[0], K: s.Rows(), P: s.Cols()}
	g.G = max(1, min(g.N, (convChunkCols+g.P-1)/g.P))
	return g
}

// Shape returns [N, O, H′, W′].
func (c Conv2d[T]) Shape(x []*tensor.Dense[T]) []int {
	g := c.geom(x)
	return []int{g.N, g.O, g.OutH(), g.OutW()}
}

// Forward computes y = conv(x, W) + b.
func (c Conv2d[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	g := c.geom(x)
	convForward(g, y.Data, nil, x[0], x[1], optional(x, 2), nil, nil, nil, nil)
}

// forwardChunks is Forward, calling done(n0, cnt) from the goroutine that
// computed them as soon as images [n0, n0+cnt) of y are written
// (chunkProducer).
func (c Conv2d[T]) forwardChunks(y *tensor.Dense[T], x []*tensor.Dense[T], done func(n0, cnt int)) {
	g := c.geom(x)
	convForward(g, y.Data, nil, x[0], x[1], optional(x, 2), nil, nil, nil, done)
}

// JVP computes ẏ = conv(ẋ, W) + conv(x, Ẇ) + ḃ.
func (c Conv2d[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := c.geom(x)
	// conv(ẋ, W) + ḃ with conv(x, Ẇ) added: the forward pass of ẋ with
	// the "tangent" Ẇ at x.
	convForward(g, yDot.Data, nil, xDot[0], x[1], optional(xDot, 2), x[0], xDot[1], nil, nil)
}

// ForwardJVP computes y and ẏ together, building every chunk's column
// matrix of x once for both.
func (c Conv2d[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	g := c.geom(x)
	convForward(g, y.Data, yDot.Data, x[0], x[1], optional(x, 2), xDot[0], xDot[1], optional(xDot, 2), nil)
}

// VJP adds the transposed convolution of ȳ to x̄, Σₙ ȳ[n]·im2col(x[n])ᵀ to
// W̄ and the sums of ȳ over batch and pixels to b̄.
func (c Conv2d[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := c.geom(x)
	convBackward(g, convGrads[T]{xBar[0], xBar[1], optional(xBar, 2), c.fresh&1 != 0}, convGrads[T]{}, yBar, nil, x[0], x[1], nil, nil)
}

// CurvatureVJP adds col2im(Ẇᵀ·ȳ) to x̄̇ and Σₙ ȳ[n]·im2col(ẋ[n])ᵀ to W̄̇: the
// VJP with W replaced by Ẇ and x by ẋ. The bias enters linearly and gets
// nothing.
func (c Conv2d[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	g := c.geom(x)
	convBackward(g, convGrads[T]{xBarDot[0], xBarDot[1], nil, false}, convGrads[T]{}, yBar, nil, xDot[0], xDot[1], nil, nil)
}

// VJPPair adds the VJP of ȳ to (x̄, W̄, b̄) and the VJP of ȳ̇ plus the
// curvature term to (x̄̇, W̄̇, b̄̇), sharing the column matrices of x and ẋ.
func (c Conv2d[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	g := c.geom(x)
	var xd, wd *tensor.Dense[T]
	if xDot != nil {
		xd, wd = xDot[0], xDot[1]
	}
	convBackward(g, convGrads[T]{xBar[0], xBar[1], optional(xBar, 2), c.fresh&1 != 0},
		convGrads[T]{xBarDot[0], xBarDot[1], optional(xBarDot, 2), c.fresh>>32&1 != 0},
		yBar, yBarDot, x[0], x[1], xd, wd)
}

// freshInputs: the input x's cotangents can be taken uncleared.
func (c Conv2d[T]) freshInputs() uint64 { return 1 }

func (c Conv2d[T]) withFresh(fresh uint64) Primitive[T] {
	c.fresh = fresh
	return c
}

// optional returns ts[i], or nil if ts has no entry i.
func optional[T tensor.Float](ts []*tensor.Dense[T], i int) *tensor.Dense[T] {
	if i < len(ts) {
		return ts[i]
	}
	return nil
}

// convForward writes y = conv(x, w) + b and, if yDot is non-nil,
// ẏ = conv(ẋ, w) + conv(x, ẇ) + ḃ, skipping any term with a nil factor.
// With yDot nil, (xDot, wDot) is instead one more term of y:
// y = conv(x, w) + conv(xDot, wDot) + b (the JVP alone is computed so).
// done, if non-nil, is called with every chunk of images [n0, n0+cnt) as
// soon as its outputs are written, on the goroutine that wrote them.
func convForward[T tensor.Float](g convGeom, y, yDot []T, x, w, b, xDot, wDot, bDot *tensor.Dense[T], done func(n0, cnt int)) {
	data := func(t *tensor.Dense[T]) []T {
		if t == nil {
			return nil
		}
		return t.Data
	}
	xs, ws, xds, wds := data(x), data(w), data(xDot), data(wDot)
	pair := yDot != nil
	// Products into the left ([O, ld], y) and right (ẏ) halves of a chunk's
	// output, from the column matrices of x (X) and ẋ (Ẋ).
	yX := xs != nil && ws != nil             // w·X → y
	yXd := !pair && xds != nil && wds != nil // ẇ·Ẋ → y (single mode)
	dXd := pair && xds != nil && ws != nil   // w·Ẋ → ẏ
	dX := pair && xs != nil && wds != nil    // ẇ·X → ẏ
	needX, needXd := yX || dX, yXd || dXd
	out := g.outSize()
	if winogradShape[T](g.ConvShape, g.O) {
		convForwardWinograd(g, y, yDot, xs, xds, w, wDot, b, bDot, yX, yXd, dXd, dX, done)
		return
	}
	// The weights are packed once for every chunk's products.
	var pw, pwd *kernels.PackedA[T]
	if yX || dXd {
		pw = kernels.PackA(false, g.O, g.K, ws, g.K)
		defer pw.Release()
	}
	if yXd || dX {
		pwd = kernels.PackA(false, g.O, g.K, wds, g.K)
		defer pwd.Release()
	}
	if g.implicit() {
		convForwardImplicit(g, y, yDot, xs, xds, pw, pwd, b, bDot, yX, yXd, dXd, dX, done)
		return
	}
	inPlace := directInPlace[T](g)
	forEachPart(g.chunks(), func(lo, hi int) {
		// Column buffer [K, 2ld]: X in the left half, Ẋ in the right.
		// Output buffer [O, 2ld]: y in the left half, ẏ in the right.
		var colBuf, outBuf *[]T
		colBuf = getScratch[T](g.K * 2 * g.G * g.P)
		defer putScratch(colBuf)
		outBuf = getScratch[T](g.O * 2 * g.G * g.P)
		defer putScratch(outBuf)
		for ch := lo; ch < hi; ch++ {
			n0, cnt := g.chunk(ch)
			ld := cnt * g.P
			// X at column 0 and Ẋ at column xdo of col (leading dimension
			// ldCol); y at column 0 and ẏ at column ld of c (ldOut).
			ldCol, xdo := ld, 0
			if needX && needXd {
				ldCol, xdo = 2*ld, ld
			}
			ldOut := ld
			if pair {
				ldOut = 2 * ld
			}
			col, c := (*colBuf)[:g.K*ldCol], (*outBuf)[:g.O*ldOut]
			if needX {
				for i := 0; i < cnt; i++ {
					kernels.Im2col(col[i*g.P:], ldCol, xs[(n0+i)*g.inSize():(n0+i+1)*g.inSize()], g.ConvShape)
				}
			}
			if needXd {
				for i := 0; i < cnt; i++ {
					kernels.Im2col(col[xdo+i*g.P:], ldCol, xds[(n0+i)*g.inSize():(n0+i+1)*g.inSize()], g.ConvShape)
				}
			}
			X, Xd := col, col[xdo:]
			var setL, setR bool // whether the halves of c hold a product
			switch {
			case yX && dXd:
				// [y | ẏ] = w·[X | Ẋ]: one product for both halves.
				mulPacked(pw, inPlace, 2*ld, X, ldCol, 0, c, ldOut)
				setL, setR = true, true
			case yX:
				mulPacked(pw, inPlace, ld, X, ldCol, 0, c, ldOut)
				setL = true
			case dXd:
				mulPacked(pw, inPlace, ld, Xd, ldCol, 0, c[ld:], ldOut)
				setR = true
			}
			if yXd {
				mulPacked(pwd, inPlace, ld, Xd, ldCol, beta[T](setL), c, ldOut)
				setL = true
			}
			if dX {
				mulPacked(pwd, inPlace, ld, X, ldCol, beta[T](setR), c[ld:], ldOut)
				setR = true
			}
			scatterChunk(g, y, c, 0, ldOut, n0, cnt, out, setL, b)
			if pair {
				scatterChunk(g, yDot, c, ld, ldOut, n0, cnt, out, setR, bDot)
			}
			if done != nil {
				done(n0, cnt)
			}
		}
	})
}

// implicit reports whether the forward products read the column matrix in
// place from the zero-padded image (kernels.GemmRows) instead of building
// it: for stride 1, where row (c, i, j) of the column matrix is the padded
// image (padPlanes) shifted by (i, j) when output pixels are numbered with
// the padded width as pitch (the pitch's last W + p − W′ columns of each
// output row are computed and dropped). Used for one image per chunk (H′·W′ ≥
// convChunkCols: the wide products whose im2col costs most) and thin
// products (at most 128 output channels, those of kernels' unpacked-B path).
func (g convGeom) implicit() bool { return g.Stride == 1 && g.G == 1 && g.O <= 128 }

// padded returns the pitch (padded width), padded height and the number of
// columns, (H′ − 1)·pitch + W′, of an implicit product (padPlanes).
func (g convGeom) padded() (pitch, hp, cols int) {
	pitch, hp = g.W+g.Pad, g.H+2*g.Pad
	return pitch, hp, (g.OutH()-1)*pitch + g.OutW()
}

// implicitRows returns the offsets of the column matrix's rows in a padded
// image (windowRows).
func (g convGeom) implicitRows() []int {
	pitch, hp, _ := g.padded()
	return windowRows(nil, 0, g.C, hp, pitch, g.KH, g.KW)
}

// windowRows appends to rows the offsets, plus base, of the rows of the
// column matrix of kh×kw windows read in place from planes padded planes
// of hp rows of pitch values: row (c, i, j) starts at c·hp·pitch +
// i·pitch + j.
func windowRows(rows []int, base, planes, hp, pitch, kh, kw int) []int {
	for c := 0; c < planes; c++ {
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				rows = append(rows, base+(c*hp+i)*pitch+j)
			}
		}
	}
	return rows
}

// padImage writes image x ([C, H, W]) into dst (padPlanes, paddedLen
// values) with Pad zeros on every side.
func padImage[T tensor.Float](g convGeom, dst, x []T) { padPlanes(dst, x, g.C, g.H, g.W, g.Pad) }

// paddedLen is the length of the buffer padPlanes fills.
func paddedLen(planes, h, w, pad int) int { return pad + planes*(h+2*pad)*(w+pad) }

// padPlanes writes planes h×w planes of src into dst, zero-padded by pad on
// every side, with the side padding shared between rows: dst is pad zeros
// followed by planes planes of h + 2·pad rows of pitch w + pad, each plane
// pad zero rows, h rows of w pixels followed by pad zeros, and pad zero
// rows. The pad zeros closing a row are also the left padding of the next
// (and the leading ones that of the first), so that a window at column ox
// − pad + j < 0 of padded row r reads zeros of row r − 1: row (c, i, j) of
// the column matrix of a stride-1 convolution starts at c·plane + i·pitch
// + j (windowRows), and the output rows are pitch apart with W′ of them
// kept — pad columns fewer to compute and drop than with pad zeros on both
// sides of every row (for 3×3 windows: 3 % of a 32×32 image's product
// instead of 6 %, 6 % of a 16×16 one's instead of 12 %).
func padPlanes[T tensor.Float](dst, src []T, planes, h, w, pad int) {
	pitch, hp := w+pad, h+2*pad
	dst = dst[:paddedLen(planes, h, w, pad)]
	clear(dst[:pad+pad*pitch])
	for c := 0; c < planes; c++ {
		plane := dst[pad+c*hp*pitch : pad+(c+1)*hp*pitch]
		kernels.PadRows(plane[pad*pitch:], pitch, src[c*h*w:(c+1)*h*w], w, h, w)
		// The bottom padding of this plane and the top of the next.
		clear(dst[pad+(c*hp+pad+h)*pitch : pad+min((c+1)*hp+pad, planes*hp)*pitch])
	}
}

// addPitched adds the planes h×w planes held in src with rows pitch apart
// (plane c at c·stride) to dst ([planes, h, w]), or copies them if set:
// a plane at a time (kernels.AddRows, Unpitch), or as one run where its
// rows lie back to back (pitch w).
func addPitched[T tensor.Float](dst, src []T, planes, h, w, pitch, stride int, set bool) {
	for c := 0; c < planes; c++ {
		d, s := dst[c*h*w:(c+1)*h*w], src[c*stride:]
		switch {
		case pitch == w && set:
			copy(d, s[:h*w])
		case pitch == w:
			kernels.Add(d, s[:h*w])
		case set:
			kernels.Unpitch(d, s, pitch, h, w, 0, false)
		default:
			kernels.AddRows(d, w, s, pitch, h, w)
		}
	}
}

// convForwardImplicit is convForward for g.implicit(): per image, the
// products of convForward (the flags say which) with the column matrices
// read from the padded images of x and ẋ (the images themselves when there
// is no padding), into a pitched buffer scattered into y and ẏ; pw and pwd
// are w and ẇ packed; done as for convForward.
func convForwardImplicit[T tensor.Float](g convGeom, y, yDot, xs, xds []T, pw, pwd *kernels.PackedA[T], b, bDot *tensor.Dense[T], yX, yXd, dXd, dX bool, done func(n0, cnt int)) {
	pitch, _, cols := g.padded()
	rows := g.implicitRows()
	in, out, pin := g.inSize(), g.outSize(), paddedLen(g.C, g.H, g.W, g.Pad)
	needX, needXd := yX || dX, yXd || dXd
	forEachPart(g.N, func(lo, hi int) {
		var xp, xdp []T
		if g.Pad > 0 {
			buf := getScratch[T](2 * pin)
			defer putScratch(buf)
			xp, xdp = (*buf)[:pin], (*buf)[pin:]
		}
		outBuf := getScratch[T](2 * g.O * cols)
		defer putScratch(outBuf)
		cy, cd := (*outBuf)[:g.O*cols], (*outBuf)[g.O*cols:]
		image := func(dst, src []T, n int) []T {
			if g.Pad == 0 {
				return src[n*in : (n+1)*in]
			}
			padImage(g, dst, src[n*in:(n+1)*in])
			return dst
		}
		for n := lo; n < hi; n++ {
			var X, Xd []T
			if needX {
				X = image(xp, xs, n)
			}
			if needXd {
				Xd = image(xdp, xds, n)
			}
			var setL, setR bool
			if yX {
				pw.GemmRows(cols, 1, X, rows, 0, cy, cols)
				setL = true
			}
			if yXd {
				pwd.GemmRows(cols, 1, Xd, rows, beta[T](setL), cy, cols)
				setL = true
			}
			if dXd {
				pw.GemmRows(cols, 1, Xd, rows, 0, cd, cols)
				setR = true
			}
			if dX {
				pwd.GemmRows(cols, 1, X, rows, beta[T](setR), cd, cols)
				setR = true
			}
			scatterPitched(g, y[n*out:(n+1)*out], cy, cols, pitch, setL, b)
			if yDot != nil {
				scatterPitched(g, yDot[n*out:(n+1)*out], cd, cols, pitch, setR, bDot)
			}
			if done != nil {
				done(n, 1)
			}
		}
	})
}

// scatterPitched writes one image's output yn ([O, H′, W′]) from the
// [O, ldc] matrix c whose output rows are pitch apart, plus the bias b; set
// false means the product is zero.
func scatterPitched[T tensor.Float](g convGeom, yn, c []T, ldc, pitch int, set bool, b *tensor.Dense[T]) {
	oh, ow := g.OutH(), g.OutW()
	for o := 0; o < g.O; o++ {
		var bo T
		if b != nil {
			bo = b.Data[o]
		}
		plane := yn[o*g.P : (o+1)*g.P]
		if !set {
			fill(plane, bo)
			continue
		}
		kernels.Unpitch(plane, c[o*ldc:], pitch, oh, ow, bo, b != nil)
	}
}

// beta is 1 if the destination already holds a product (accumulate) and 0
// otherwise (overwrite).
func beta[T tensor.Float](set bool) T {
	if set {
		return 1
	}
	return 0
}

// scatterChunk writes images n0…n0+cnt−1 of y (out values each) from the
// [O, ·] chunk matrix c (image i's pixels at columns off + i·P, leading
// dimension ldc) plus the bias b; set false means the product is zero.
func scatterChunk[T tensor.Float](g convGeom, y, c []T, off, ldc, n0, cnt, out int, set bool, b *tensor.Dense[T]) {
	for i := 0; i < cnt; i++ {
		yn := y[(n0+i)*out : (n0+i+1)*out]
		for o := 0; o < g.O; o++ {
			row := yn[o*g.P : (o+1)*g.P]
			var bo T
			if b != nil {
				bo = b.Data[o]
			}
			if !set {
				fill(row, bo)
				continue
			}
			kernels.Unpitch(row, c[o*ldc+off+i*g.P:], g.P, 1, g.P, bo, b != nil)
		}
	}
}

func fill[T tensor.Float](dst []T, v T) {
	for i := range dst {
		dst[i] = v
	}
}

// convGrads are the cotangents of (x, W, b) a backward pass adds into; nil
// ones are not wanted. With freshX, x holds garbage and is written instead.
type convGrads[T tensor.Float] struct {
	x, w, b *tensor.Dense[T]
	freshX  bool
}

// convBackward adds the VJP of ȳ at (x, w) to bar:
//
//	x̄ += col2im(wᵀ·ȳ)    W̄ += Σₙ ȳ[n]·im2col(x[n])ᵀ    b̄ += Σ ȳ
//
// and, into dot, the VJP of ȳ̇ (if yBarDot is non-nil) plus the curvature
// term of the tangents (xDot, wDot), either of which may be nil:
//
//	x̄̇ += col2im(wᵀ·ȳ̇ + ẇᵀ·ȳ)   W̄̇ += Σₙ ȳ̇[n]·im2col(x[n])ᵀ + ȳ[n]·im2col(ẋ[n])ᵀ   b̄̇ += Σ ȳ̇
//
// Products with a nil factor or into a nil cotangent are skipped. A chunk's
// cotangents form Y = [ȳ | ȳ̇] and its column matrices Xs = [Ẋ | X], so that
// wᵀ·Y gives both x̄ and the first term of x̄̇ in one product, and
// Y·Xsᵀ = ȳ·Ẋᵀ + ȳ̇·Xᵀ is W̄̇'s in one.
func convBackward[T tensor.Float](g convGeom, bar, dot convGrads[T], yBar, yBarDot, x, w, xDot, wDot *tensor.Dense[T]) {
	has := func(ts ...*tensor.Dense[T]) bool {
		for _, t := range ts {
			if t == nil {
				return false
			}
		}
		return true
	}
	hasYd := yBarDot != nil
	doX := has(bar.x, w)            // x̄ += col2im(wᵀ·ȳ)
	doXdY := has(dot.x, w, yBarDot) // x̄̇ += col2im(wᵀ·ȳ̇)
	doXdW := has(dot.x, wDot)       // x̄̇ += col2im(ẇᵀ·ȳ)
	doW := has(bar.w, x)            // W̄ += ȳ·Xᵀ
	doWdY := has(dot.w, x, yBarDot) // W̄̇ += ȳ̇·Xᵀ
	doWdX := has(dot.w, xDot)       // W̄̇ += ȳ·Ẋᵀ
	// Uncleared input cotangents that no product writes are cleared now;
	// the others are written image by image (freshX then means "set").
	if bar.freshX && bar.x != nil && !doX {
		clearSpans(bar.x.Data)
	}
	if dot.freshX && dot.x != nil && !doXdY && !doXdW {
		clearSpans(dot.x.Data)
	}
	// The input cotangents by Winograd's transposed convolution or by one
	// reading ȳ in place, where those pay; the other products build their
	// column matrices.
	if ts, ok := g.transposedWinograd(); ok && (doX || doXdY || doXdW) && winogradShape[T](ts, g.C) {
		convInputWinograd(g, ts, bar, dot, yBar, yBarDot, w, wDot, doX, doXdY, doXdW)
		doX, doXdY, doXdW = false, false, false
	}
	if (doW || doWdY || doWdX) && winogradGrad[T](g) {
		convWeightWinograd(g, bar, dot, yBar, yBarDot, x, xDot, doW, doWdY, doWdX)
		doW, doWdY, doWdX = false, false, false
	}
	if (doW || doWdY || doWdX) && weightRows[T](g) {
		convWeightRows(g, bar, dot, yBar, yBarDot, x, xDot, doW, doWdY, doWdX)
		doW, doWdY, doWdX = false, false, false
	}
	if (doX || doXdY || doXdW) && g.backImplicit() {
		convInputImplicit(g, bar, dot, yBar, yBarDot, w, wDot, doX, doXdY, doXdW)
		doX, doXdY, doXdW = false, false, false
	}
	needX, needXd := doW || doWdY, doWdX // column matrices to build
	in, out := g.inSize(), g.outSize()
	// The weight products of a wide "same" convolution read their column
	// matrices' rows from shifted copies of x and ẋ (shiftedRows) instead,
	// and ȳ, ȳ̇ in place: W̄̇ = [ȳ | ȳ̇]·[Ẋ | X]ᵀ as its two halves, one
	// after the other, which are the deep product's two slices where each
	// half is a whole number of the dot kernel's slices (the same bits:
	// ResNet-20's first stage, 1024 pixels). Not where the input
	// cotangents need [ȳ | ȳ̇] side by side anyway.
	var shifted []int
	doIn, doWd := doX || doXdY || doXdW, doWdY || doWdX
	if (doW || doWd) && !(doWd && doIn) && g.shiftedRows() && kernels.DotRows[T](g.O, g.K, g.P) && !noShifted {
		shifted = g.shiftedOffsets()
		needX, needXd = false, false
	}
	if doX || doXdY || doXdW || doW || doWdY || doWdX {
		var dsts [][]T
		if doW {
			dsts = append(dsts, bar.w.Data)
		} else {
			dsts = append(dsts, nil)
		}
		if doWdY || doWdX {
			dsts = append(dsts, dot.w.Data)
		} else {
			dsts = append(dsts, nil)
		}
		// A single image's ȳ (and ȳ̇) is used in place when it is alone in
		// Y or the weight products read it alone (no input cotangents,
		// and no joined product [ȳ | ȳ̇]·[Ẋ | X]ᵀ: a first layer's, whose ẋ
		// is zero, or the shifted rows'), and x itself when it is its own
		// column matrix and alone in Xs.
		ownY := (!hasYd || !doIn && (shifted != nil || !(doWdY && doWdX))) && g.G == 1
		ownX := !needXd && !g.needCol()
		// Input cotangents by transposed convolution where that moves less
		// data than col2im (see transposedShape); wt = [w′ | ẇ′] holds the
		// flipped weights, [C, nw·O·kh·kw].
		ts, useT := g.transposedShape()
		useT = useT && doIn
		inPlace := directInPlace[T](g)
		// The weights of the input products, packed once for every chunk.
		var tw transposedWeights[T]
		var pw, pwd *kernels.PackedA[T]
		switch {
		case useT:
			tw = newTransposedWeights(g, ts, w, wDot, doX, doXdY, doXdW)
			defer tw.release()
		case doIn:
			if doX || doXdY {
				pw = kernels.PackA(true, g.K, g.O, w.Data, g.K)
				defer pw.Release()
			}
			if doXdW {
				pwd = kernels.PackA(true, g.K, g.O, wDot.Data, g.K)
				defer pwd.Release()
			}
		}
		reduceParts(g.chunks(), dsts, func(partials [][]T, lo, hi int) {
			var yBuf, colBuf, cBuf, tBuf *[]T
			if !ownY {
				yBuf = getScratch[T](g.O * 2 * g.G * g.P)
				defer putScratch(yBuf)
			}
			if (needX && !ownX) || needXd {
				colBuf = getScratch[T](g.K * 2 * g.G * g.P)
				defer putScratch(colBuf)
			}
			if doIn && !useT {
				cBuf = getScratch[T](g.K * 2 * g.G * g.P)
				defer putScratch(cBuf)
			}
			if useT {
				tBuf = getScratch[T](2*ts.Rows()*g.G*ts.Cols() + g.C*g.G*ts.Cols())
				defer putScratch(tBuf)
			}
			// The shifted copies of x (sBuf) and ẋ (sdBuf).
			var sBuf, sdBuf []T
			for _, c := range []struct {
				buf  *[]T
				want bool
			}{{&sBuf, doW || doWdY}, {&sdBuf, doWdX}} {
				if shifted == nil || !c.want {
					continue
				}
				p := getScratch[T](g.shiftedLen())
				defer putScratch(p)
				*c.buf = *p
				if poisonShifted {
					fillNaN(*p)
				}
				clearShiftedPads(g, *p)
			}
			for ch := lo; ch < hi; ch++ {
				n0, cnt := g.chunk(ch)
				ld := cnt * g.P
				// Y = [ȳ | ȳ̇] with leading dimension ldY.
				Y, ldY := yBar.Data[n0*out:(n0+1)*out], ld
				var Yd []T // ȳ̇'s part, for the weight products
				switch {
				case !ownY:
					Y, ldY = sideBySide(g, *yBuf, yBar.Data, data(yBarDot), n0, cnt)
					Yd = Y[ld:]
				case hasYd:
					Yd = yBarDot.Data[n0*out : (n0+1)*out]
				}
				// Xs = [Ẋ | X] with leading dimension ldX; X at column xo.
				var Xs []T
				ldX, xo := ld, 0
				if needX && needXd {
					ldX, xo = 2*ld, ld
				}
				switch {
				case needX && ownX:
					Xs = x.Data[n0*in : (n0+1)*in]
				case needX || needXd:
					Xs = (*colBuf)[:g.K*ldX]
					for i := 0; i < cnt; i++ {
						if needXd {
							kernels.Im2col(Xs[i*g.P:], ldX, xDot.Data[(n0+i)*in:(n0+i+1)*in], g.ConvShape)
						}
						if needX {
							kernels.Im2col(Xs[xo+i*g.P:], ldX, x.Data[(n0+i)*in:(n0+i+1)*in], g.ConvShape)
						}
					}
				}
				switch {
				case useT && ts.Cols() >= transposedBatchCols:
					for i := 0; i < cnt; i++ {
						transposedConv(g, ts, bar, dot, &tw, *tBuf, nil, yBar, yBarDot, n0+i, 1, doX, doXdY, doXdW)
					}
				case useT:
					tb := 2 * ts.Rows() * cnt * ts.Cols()
					transposedConv(g, ts, bar, dot, &tw, (*tBuf)[:tb], (*tBuf)[tb:tb+g.C*cnt*ts.Cols()], yBar, yBarDot, n0, cnt, doX, doXdY, doXdW)
				}
				// Input cotangents: C = [wᵀ·ȳ | wᵀ·ȳ̇ + ẇᵀ·ȳ].
				if doIn && !useT {
					// x̄'s part at column 0 and x̄̇'s at column ro of C
					// (leading dimension ldC).
					ldC, ro := ld, 0
					if doX && (doXdY || doXdW) {
						ldC, ro = 2*ld, ld
					}
					C := (*cBuf)[:g.K*ldC]
					var setL, setR bool
					switch {
					case doX && doXdY:
						mulPacked(pw, inPlace, 2*ld, Y, ldY, 0, C, ldC)
						setL, setR = true, true
					case doX:
						mulPacked(pw, inPlace, ld, Y, ldY, 0, C, ldC)
						setL = true
					case doXdY:
						mulPacked(pw, inPlace, ld, Y[ld:], ldY, 0, C[ro:], ldC)
						setR = true
					}
					if doXdW {
						mulPacked(pwd, inPlace, ld, Y, ldY, beta[T](setR), C[ro:], ldC)
						setR = true
					}
					for i := 0; i < cnt; i++ {
						if setL {
							xi := bar.x.Data[(n0+i)*in : (n0+i+1)*in]
							if bar.freshX {
								clear(xi)
							}
							kernels.Col2im(xi, C[i*g.P:], ldC, g.ConvShape)
						}
						if setR {
							xi := dot.x.Data[(n0+i)*in : (n0+i+1)*in]
							if dot.freshX {
								clear(xi)
							}
							kernels.Col2im(xi, C[ro+i*g.P:], ldC, g.ConvShape)
						}
					}
				}
				// Weight cotangents.
				if shifted != nil {
					shiftedWeightProducts(g, shifted, partials, sBuf, sdBuf, yBar, yBarDot, x, xDot, n0, doW, doWdY, doWdX)
					continue
				}
				switch {
				case doW:
					kernels.Gemm(false, true, g.O, g.K, ld, 1, Y, ldY, Xs[xo:], ldX, 1, partials[0], g.K)
				}
				switch {
				case doWdY && doWdX:
					// [ȳ | ȳ̇]·[Ẋ | X]ᵀ = ȳ·Ẋᵀ + ȳ̇·Xᵀ.
					kernels.Gemm(false, true, g.O, g.K, 2*ld, 1, Y, ldY, Xs, ldX, 1, partials[1], g.K)
				case doWdY:
					kernels.Gemm(false, true, g.O, g.K, ld, 1, Yd, ldY, Xs[xo:], ldX, 1, partials[1], g.K)
				case doWdX:
					kernels.Gemm(false, true, g.O, g.K, ld, 1, Y, ldY, Xs, ldX, 1, partials[1], g.K)
				}
			}
		})
	}
	biasGrad(g, bar.b, yBar)
	if yBarDot != nil {
		biasGrad(g, dot.b, yBarDot)
	}
}

// directInPlace reports whether the products of g's direct (column
// matrix) paths run in place (kernels.PackedA.GemmInPlace, mulPacked):
// the weights' products with the column matrices (forward) and with the
// output cotangents (input cotangents), and the output cotangents'
// products with gathered windows (convWeightRows' weightWindows). They
// give the packed panels' bits (each element's terms summed from zero in
// slices of 128, in order, either way: TestDirectInPlaceSameBits). Used
// from 16 to 64 output channels with AVX-512; per layer, in place against
// packed (2 threads, 16 alternations in one process, medians; forward /
// forward with tangents / VJP / VJP pair): LeNet-5's second layer 0.89 /
// 0.89 / 0.94 / 0.95, ResNet-20's down-sampling layers 0.94 / 0.94 /
// 0.97 / 0.96 and 0.98 / 0.95 / 1.01 / 1.00; at 128 channels
// (ResNet-18's 64→128) 0.93 / 1.01 / 1.04 / 1.12.
func directInPlace[T tensor.Float](g convGeom) bool {
	return useDirectInPlace && kernels.GemmInPlaceFast[T]() && g.O >= 16 && g.O <= 64 && g.K >= 16
}

// useDirectInPlace enables directInPlace (tests turn it off to compare).
var useDirectInPlace = true

// mulPacked computes C = op(A)·B + beta·C, beta 0 or 1, with A packed in
// p, n columns: in place (kernels.PackedA.GemmInPlace) where inPlace and
// that runs, else through the packed panels.
func mulPacked[T tensor.Float](p *kernels.PackedA[T], inPlace bool, n int, b []T, ldb int, beta T, c []T, ldc int) {
	if inPlace && p.GemmInPlace(n, b, ldb, beta, c, ldc) {
		return
	}
	p.Gemm(false, n, 1, b, ldb, beta, c, ldc)
}

// sideBySide copies the output cotangents y (and yd, if non-nil) of the
// cnt images of a chunk from image n0 on into dst as one matrix [ȳ | ȳ̇]:
// row o holds the images' rows o of y side by side, then those of yd. It
// returns the matrix and its leading dimension (cnt·P, doubled with yd).
func sideBySide[T tensor.Float](g convGeom, dst, y, yd []T, n0, cnt int) ([]T, int) {
	ld, out := cnt*g.P, g.outSize()
	ldY := ld
	if yd != nil {
		ldY = 2 * ld
	}
	Y := dst[:g.O*ldY]
	for i := 0; i < cnt; i++ {
		for o := 0; o < g.O; o++ {
			src := (n0+i)*out + o*g.P
			copy(Y[o*ldY+i*g.P:o*ldY+(i+1)*g.P], y[src:src+g.P])
			if yd != nil {
				copy(Y[o*ldY+ld+i*g.P:o*ldY+ld+(i+1)*g.P], yd[src:src+g.P])
			}
		}
	}
	return Y, ldY
}

// backImplicit reports whether the input cotangents are computed by the
// transposed convolution of transposedConv with its column matrix read in
// place (kernels.GemmRows) from ȳ padded by k − 1 − p (padPlanes), into a
// pitched buffer added to x̄, instead of col2im or an im2col of ȳ: at
// stride 1 with one image per chunk (the wide images, whose column
// matrices cost most), square windows with padding smaller than the
// window, at most 128 channels in and out (the products of kernels'
// unpacked-B path) and at least 16 in (its 8-row tiles are then full), and
// when the pitch wastes at most k²/200 of the product (the result's rows
// are computed W′ + k − 1 − p wide, of which W are kept), a share that
// grows with the window as the column matrix it spares does (k² times ȳ).
// Measured per layer (BenchmarkConv2d, vjp-x and vjp-pair): 5–20 % faster
// on 32×32 and 30×30 images (3 % and no waste), 10 % slower on 16×16 ones
// with 3×3 windows (6 % waste, over 4.5 %), 4–6 % and 2–8 % faster on
// C1's 16×16 ones with 5×5 windows (12 % waste, under 12.5 %). (Reading
// x in place for W̄ with the dot kernel was measured 10–30 % slower than
// building im2col(x), its rows starting at every alignment; shiftedRows
// reads aligned shifted copies instead.)
func (g convGeom) backImplicit() bool {
	if g.Stride != 1 || g.G != 1 || g.KH != g.KW || g.Pad >= g.KH || g.O > 128 || g.C > 128 || g.C < 16 {
		return false
	}
	tpitch := g.OutW() + g.KH - 1 - g.Pad
	return 200*((g.H-1)*tpitch+g.W) <= (200+g.KH*g.KW)*g.H*g.W
}

// convInputImplicit adds the input cotangents of convBackward (the flags
// say which) for g.backImplicit(), image by image.
func convInputImplicit[T tensor.Float](g convGeom, bar, dot convGrads[T], yBar, yBarDot, w, wDot *tensor.Dense[T], doX, doXdY, doXdW bool) {
	in, out := g.inSize(), g.outSize()
	oh, ow := g.OutH(), g.OutW()
	// ȳ̇ and ȳ padded by pt: [O, thp, tpitch] each, ȳ̇ first; the products
	// give C×tcols results whose rows are tpitch apart.
	pt := g.KH - 1 - g.Pad
	tpitch, thp := ow+pt, oh+2*pt
	tcols := (g.H-1)*tpitch + g.W
	pout := paddedLen(g.O, oh, ow, pt)
	ts := kernels.ConvShape{C: g.O, H: oh, W: ow, KH: g.KH, KW: g.KW, Stride: 1, Pad: pt}
	tw := newTransposedWeights(g, ts, w, wDot, doX, doXdY, doXdW)
	defer tw.release()
	// Offsets of the rows of im2col(ȳ̇), then of im2col(ȳ).
	nk := g.O * g.KH * g.KW
	rows := windowRows(make([]int, 0, 2*nk), 0, g.O, thp, tpitch, g.KH, g.KW)
	rows = windowRows(rows, pout, g.O, thp, tpitch, g.KH, g.KW)
	forEachPart(g.N, func(lo, hi int) {
		yBuf := getScratch[T](2 * pout)
		defer putScratch(yBuf)
		oBuf := getScratch[T](g.C * tcols)
		defer putScratch(oBuf)
		yp, xo := *yBuf, *oBuf
		for n := lo; n < hi; n++ {
			padPlanes(yp[pout:], yBar.Data[n*out:(n+1)*out], g.O, oh, ow, pt)
			if doXdY {
				padPlanes(yp, yBarDot.Data[n*out:(n+1)*out], g.O, oh, ow, pt)
			}
			if doX {
				tw.w.GemmRows(tcols, 1, yp, rows[nk:], 0, xo, tcols)
				addPitched(bar.x.Data[n*in:(n+1)*in], xo, g.C, g.H, g.W, tpitch, tcols, bar.freshX)
			}
			switch {
			case doXdY && doXdW:
				tw.both.GemmRows(tcols, 1, yp, rows, 0, xo, tcols)
			case doXdY:
				tw.w.GemmRows(tcols, 1, yp, rows[:nk], 0, xo, tcols)
			case doXdW:
				tw.wDot.GemmRows(tcols, 1, yp, rows[nk:], 0, xo, tcols)
			default:
				continue
			}
			addPitched(dot.x.Data[n*in:(n+1)*in], xo, g.C, g.H, g.W, tpitch, tcols, dot.freshX)
		}
	})
}

// noShifted, for tests, turns shiftedRows' path off.
var noShifted = false

// shiftedRows reports whether the weight products (ȳ·Xᵀ, and in a
// forward-over-reverse pass ȳ·Ẋᵀ and ȳ̇·Xᵀ) read the rows of X = im2col(x)
// (and Ẋ) from KW shifted copies of the image instead of
// building X (k² copies of it): stride 1, one image per chunk, "same"
// padding (the output as large as the image) and rows a multiple of 16
// values, so that every row of X starts aligned in its copy (the dot
// kernel reads rows at every alignment 6–30 % slower, see backImplicit).
// Copy j holds each channel's plane shifted by j − Pad columns (zeros where
// that leaves the image) between Pad zero rows above and below; row
// (c, i, j) of X is then copy j's channel c from its row i on. The values,
// and so the bits, are X's.
func (g convGeom) shiftedRows() bool {
	return g.Stride == 1 && g.G == 1 && g.OutH() == g.H && g.OutW() == g.W && g.W%16 == 0
}

// shiftedLen is the length of the KW copies: [KW, C, H + 2·Pad, W].
func (g convGeom) shiftedLen() int { return g.KW * g.C * (g.H + 2*g.Pad) * g.W }

// shiftedOffsets returns the offset of each row (c, i, j) of X in the copies.
func (g convGeom) shiftedOffsets() []int {
	plane := (g.H + 2*g.Pad) * g.W
	rows := make([]int, 0, g.K)
	for c := 0; c < g.C; c++ {
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				rows = append(rows, (j*g.C+c)*plane+i*g.W)
			}
		}
	}
	return rows
}

// shiftedWeightProducts adds image n0's weight products (the flags say
// which) to partials[0] (W̄) and partials[1] (W̄̇), their column matrices'
// rows read from the shifted copies of x (sBuf) and ẋ (sdBuf), written
// here, and ȳ, ȳ̇ read in place: W̄̇'s term ȳ·Ẋᵀ before ȳ̇·Xᵀ, as the
// deep product [ȳ | ȳ̇]·[Ẋ | X]ᵀ sums them.
func shiftedWeightProducts[T tensor.Float](g convGeom, rows []int, partials [][]T, sBuf, sdBuf []T, yBar, yBarDot, x, xDot *tensor.Dense[T], n0 int, doW, doWdY, doWdX bool) {
	in, out := g.inSize(), g.outSize()
	yb := yBar.Data[n0*out : (n0+1)*out]
	if sBuf != nil {
		shiftedCopies(g, sBuf, x.Data[n0*in:(n0+1)*in])
	}
	if doW {
		kernels.GemmNTRows(g.O, g.K, g.P, 1, yb, g.P, sBuf, rows, 1, partials[0], g.K)
	}
	if doWdX {
		shiftedCopies(g, sdBuf, xDot.Data[n0*in:(n0+1)*in])
		kernels.GemmNTRows(g.O, g.K, g.P, 1, yb, g.P, sdBuf, rows, 1, partials[1], g.K)
	}
	if doWdY {
		kernels.GemmNTRows(g.O, g.K, g.P, 1, yBarDot.Data[n0*out:(n0+1)*out], g.P, sBuf, rows, 1, partials[1], g.K)
	}
}

// clearShiftedPads zeroes what shiftedCopies never writes in buf: each
// plane's Pad rows above and below the image and, in a copy shifted right
// (j < Pad), the first Pad − j values of its first image row. The copies
// write the rest, every time (kernels.PadRows writes whole rows, zeros
// included).
func clearShiftedPads[T tensor.Float](g convGeom, buf []T) {
	plane := (g.H + 2*g.Pad) * g.W
	for j := 0; j < g.KW; j++ {
		lead := g.Pad*g.W + max(0, g.Pad-j)
		for c := 0; c < g.C; c++ {
			p := buf[(j*g.C+c)*plane : (j*g.C+c+1)*plane]
			clear(p[:lead])
			clear(p[(g.Pad+g.H)*g.W:])
		}
	}
}

// poisonShifted, for tests, fills the shifted copies' buffers with NaN
// before clearShiftedPads, so that a value neither cleared nor written
// shows.
var poisonShifted = false

// shiftedCopies writes the image x's KW shifted copies into buf, whose zero
// rows (and, shifted left, the zero columns) are already zero: copy j's
// row r of channel c is x[c, r, · + j − Pad], by kernels.PadRows (the zeros
// after a row's values land at the start of the next row, which a shift
// right needs there).
func shiftedCopies[T tensor.Float](g convGeom, buf, x []T) {
	plane := (g.H + 2*g.Pad) * g.W
	for j := 0; j < g.KW; j++ {
		sh := j - g.Pad
		for c := 0; c < g.C; c++ {
			dst := buf[(j*g.C+c)*plane+g.Pad*g.W:]
			src := x[c*g.H*g.W : (c+1)*g.H*g.W]
			if sh >= 0 {
				kernels.PadRows(dst, g.W, src[sh:], g.W, g.H, g.W-sh)
			} else {
				kernels.PadRows(dst[-sh:], g.W, src, g.W, g.H, g.W+sh)
			}
		}
	}
}

// biasGrad adds the sums of ȳ over batch and pixels to b̄ (if non-nil),
// each channel summed in the same order: in float64, pixel i of every
// image's plane into lane i mod 8 (kernels.Sum, image by image), the lanes
// added at the end. The channels are cut into one part per CPU
// (forEachChannelPart), and each part goes through the images in order,
// reading an image's planes of its channels as one run rather than one
// channel's planes a whole image apart (LeNet-5's first layer, 2 CPUs:
// 0.88 of the time); the cut does not change a bit.
func biasGrad[T tensor.Float](g convGeom, bBar, yBar *tensor.Dense[T]) {
	if bBar == nil {
		return
	}
	bg := bnGeom{n: g.N, c: g.O, s: g.P}
	forEachChannelPart(bg, func(lo, hi int) {
		lanes := make([]kernels.Lanes, hi-lo)
		for n := 0; n < g.N; n++ {
			for o := lo; o < hi; o++ {
				kernels.Sum(&lanes[o-lo], bnSeg(bg, yBar.Data, n, o))
			}
		}
		for o := lo; o < hi; o++ {
			bBar.Data[o] += T(lanes[o-lo].Sum())
		}
	})
}

// transposedShape returns the geometry of x̄ = convT(ȳ, w) written as a
// convolution: for stride 1, col2im(wᵀ·ȳ) equals the convolution of ȳ,
// padded by k − 1 − p, with the weights flipped in space and transposed in
// channels, w′[c, o, i, j] = w[o, c, kh−1−i, kw−1−j], which gives back the
// H×W image. It is used (ok) for square windows at stride 1 when it moves
// less data: the column matrix of ȳ, O·k²·H·W values copied, against
// col2im's C·k²·H′·W′ scalar additions after a product wᵀ·ȳ whose inner
// dimension, O, is small; the product w′·im2col(ȳ) has inner dimension
// O·k² and a C×H·W result that goes straight into x̄.
func (g convGeom) transposedShape() (kernels.ConvShape, bool) {
	if g.Stride != 1 || g.KH != g.KW || g.Pad > g.KH-1 || g.O*g.H*g.W > g.C*g.P {
		return kernels.ConvShape{}, false
	}
	return kernels.ConvShape{C: g.O, H: g.OutH(), W: g.OutW(), KH: g.KH, KW: g.KW, Stride: 1, Pad: g.KH - 1 - g.Pad}, true
}

// flipWeights writes [w′₁ | w′₂ | …] into wt, row c of the [C, len(ws)·O·k²]
// matrix holding row c of every w′ᵢ[c, o, i, j] = wsᵢ[o, c, kh−1−i, kw−1−j].
func flipWeights[T tensor.Float](g convGeom, wt []T, ws []*tensor.Dense[T]) {
	k2 := g.KH * g.KW
	rows := g.O * k2
	// Input channels over the CPUs where there are many weights (C1's
	// 5×5 layers: a serial stretch of its backward pass otherwise).
	forEachRow(g.C, len(ws)*rows, func(lo, hi int) {
		for m, w := range ws {
			for c := lo; c < hi; c++ {
				dst := wt[c*len(ws)*rows+m*rows:]
				for o := 0; o < g.O; o++ {
					src := w.Data[(o*g.C+c)*k2 : (o*g.C+c+1)*k2]
					for t := 0; t < k2; t++ {
						dst[o*k2+t] = src[k2-1-t]
					}
				}
			}
		}
	})
}

// transposedWeights are the flipped weights of transposedConv's products,
// packed: w′ alone (x̄), [w′ | ẇ′] (x̄̇ from ȳ̇ and the curvature term
// together) or ẇ′ alone, as the products need them.
type transposedWeights[T tensor.Float] struct {
	buf           *[]T
	w, both, wDot *kernels.PackedA[T]
}

// newTransposedWeights flips w and ẇ into [w′ | ẇ′] ([C, 2·O·k²], or one of
// them alone) and packs the products' left factors.
func newTransposedWeights[T tensor.Float](g convGeom, ts kernels.ConvShape, w, wDot *tensor.Dense[T], doX, doXdY, doXdW bool) transposedWeights[T] {
	var ws []*tensor.Dense[T]
	if doX || doXdY {
		ws = append(ws, w)
	}
	if doXdW {
		ws = append(ws, wDot)
	}
	rows := ts.Rows()
	ldw := len(ws) * rows
	t := transposedWeights[T]{buf: getScratch[T](g.C * ldw)}
	wt := *t.buf
	flipWeights(g, wt, ws)
	if doX || (doXdY && !doXdW) {
		t.w = kernels.PackA(false, g.C, rows, wt, ldw)
	}
	switch {
	case doXdY && doXdW:
		t.both = kernels.PackA(false, g.C, 2*rows, wt, ldw)
	case doXdW:
		t.wDot = kernels.PackA(false, g.C, rows, wt[ldw-rows:], ldw)
	}
	return t
}

func (t *transposedWeights[T]) release() {
	for _, p := range []*kernels.PackedA[T]{t.w, t.both, t.wDot} {
		if p != nil {
			p.Release()
		}
	}
	putScratch(t.buf)
}

// transposedBatchCols is the image size (pixels) from which transposedConv
// runs image by image: smaller images are batched, a chunk's at once
// (ResNet-18's 4×4 layers: input cotangents 33 % faster, their pair 45 %;
// on 8×8 ones, whose single images fill two 32-column tiles, batching
// measured the same or a little slower: the result's extra copy).
const transposedBatchCols = 64

// transposedConv adds the input cotangents of images n0…n0+cnt−1 by
// transposed convolution: x̄[n] += w′·im2col(ȳ[n]) (doX), and x̄̇[n] +=
// w′·im2col(ȳ̇[n]) (doXdY) + ẇ′·im2col(ȳ[n]) (doXdW), the latter two as one
// product [w′ | ẇ′]·[im2col(ȳ̇); im2col(ȳ)] when both are wanted, with the
// weights of tw. The images' column matrices lie side by side, so that
// small images make one wide product (a 4×4 image alone gives 16 columns,
// half of the micro-kernel's 32); its result goes straight into x̄ for one
// image, else through out. buf has room for two column matrices of ts per
// image, out for C rows of cnt images' pixels.
func transposedConv[T tensor.Float](g convGeom, ts kernels.ConvShape, bar, dot convGrads[T], tw *transposedWeights[T], buf, out []T,
	yBar, yBarDot *tensor.Dense[T], n0, cnt int, doX, doXdY, doXdW bool) {
	rows, cols := ts.Rows(), ts.Cols()
	ld := cnt * cols
	osz, in := g.outSize(), g.inSize()
	// buf = [im2col(ȳ̇); im2col(ȳ)], the second at row block 1.
	yc := buf[rows*ld : 2*rows*ld]
	for i := 0; i < cnt; i++ {
		n := n0 + i
		kernels.Im2col(yc[i*cols:], ld, yBar.Data[n*osz:(n+1)*osz], ts)
		if doXdY {
			kernels.Im2col(buf[i*cols:], ld, yBarDot.Data[n*osz:(n+1)*osz], ts)
		}
	}
	// product runs p into the images' cotangents xb: in place for one
	// image (β = 0 overwrites an uncleared cotangent), else into out and
	// then added, or copied when uncleared.
	product := func(p *kernels.PackedA[T], b []T, xb convGrads[T]) {
		if cnt == 1 {
			p.Gemm(false, cols, 1, b, ld, beta[T](!xb.freshX), xb.x.Data[n0*in:(n0+1)*in], cols)
			return
		}
		p.Gemm(false, ld, 1, b, ld, 0, out, ld)
		for i := 0; i < cnt; i++ {
			addPitched(xb.x.Data[(n0+i)*in:(n0+i+1)*in], out[i*cols:], g.C, g.H, g.W, g.W, ld, xb.freshX)
		}
	}
	if doX {
		product(tw.w, yc, bar)
	}
	switch {
	case doXdY && doXdW:
		product(tw.both, buf, dot)
	case doXdY:
		product(tw.w, buf, dot)
	case doXdW:
		product(tw.wDot, yc, dot)
	}
}
