package autodiff

import (
	"hesscope/kernels"
	"hesscope/tensor"
)

// Conv2dMaxPool is the max-pooling of a convolution, Pool(Conv(x, W, b)),
// recorded as one primitive (LeNet-5's two convolutions, each followed by
// 2×2 pooling). Its inputs are Conv2d's, (x, W) or (x, W, b); its output is
// the pooling's.
//
// The convolution's output is scratch, pooled chunk by chunk as the
// convolution writes it, and is not kept: the derivatives need only the
// pixels the windows selected (the argmax). So is its cotangent: it is
// zero but at the selected pixels, where it is the pooled cotangent ȳ.
// The reverse products therefore read ȳ as a sparse matrix S, row o of
// image n holding ȳ[n,o,j] in column argmax[n,o,j] (kernels.SpMM), and
// take a quarter of a dense product's multiply-adds with 2×2 windows:
//
//	W̄ += Σₙ S[n]·Xₙᵀ                  (Xₙᵀ = im2col(x[n])ᵀ, one row per pixel)
//	x̄ += col2im((S[n]ᵀ·W)ᵀ)           b̄ += Σ ȳ
//
// and likewise for the tangents of a forward-over-reverse pass: W̄̇ +=
// Σₙ S̈[n]·Xₙᵀ + S[n]·Ẋₙᵀ (S̈ the same pattern with ȳ̇), x̄̇ += col2im((S̈ᵀ·W +
// Sᵀ·Ẇ)ᵀ), one sparse product each (kernels.SpMM's second term). These
// are the derivatives of the convolution and the pooling run one after
// the other, summed in another order: the same values up to rounding
// (TestConv2dMaxPool). Where SpMM has no vector kernel for T (useSparse),
// the cotangent is scattered into a dense one and Conv2d's products run
// (the bits of the two primitives recorded apart).
type Conv2dMaxPool[T tensor.Float] struct {
	Conv Conv2d[T]
	Pool MaxPool2d[T] // its argmax, recorded by Forward, serves both
}

var (
	_ Curved[float64]        = (*Conv2dMaxPool[float64])(nil)
	_ PairJVP[float64]       = (*Conv2dMaxPool[float64])(nil)
	_ PairVJP[float64]       = (*Conv2dMaxPool[float64])(nil)
	_ freshWriter[float64]   = (*Conv2dMaxPool[float64])(nil)
	_ chunkProducer[float64] = (*Conv2dMaxPool[float64])(nil)
)

// useSparse reports whether the reverse products read the pooled
// cotangents as sparse matrices (kernels.SpMM) for T on this machine.
func (c *Conv2dMaxPool[T]) useSparse() bool {
	return sparsePool > 0 || sparsePool == 0 && kernels.SpMMFast[T]()
}

// sparsePool overrides useSparse for tests: 0 follows kernels.SpMMFast, −1
// turns the sparse products off, 1 on (SpMM's Go loop where it has no
// vector kernel).
var sparsePool = 0

// geoms returns the convolution's geometry, the pooling's (over the
// convolution's output) and a header of the convolution's output shape.
func (c *Conv2dMaxPool[T]) geoms(x []*tensor.Dense[T]) (convGeom, poolGeom, *tensor.Dense[T]) {
	g := c.Conv.geom(x)
	yc := &tensor.Dense[T]{Shape: []int{g.N, g.O, g.OutH(), g.OutW()}}
	return g, c.Pool.geom(yc), yc
}

// Shape returns the pooling's shape [N, O, H″, W″].
func (c *Conv2dMaxPool[T]) Shape(x []*tensor.Dense[T]) []int {
	_, pg, _ := c.geoms(x)
	return []int{pg.n, pg.c, pg.oh, pg.ow}
}

// argmaxFor returns the argmax buffer for n outputs, kept until release.
func (c *Conv2dMaxPool[T]) argmaxFor(n int) []int32 {
	if c.Pool.scratch == nil {
		c.Pool.scratch = getScratch[int32](n)
	}
	c.Pool.argmax = (*c.Pool.scratch)[:n]
	return c.Pool.argmax
}

// release returns the argmax buffer to its pool when the tape is reset.
func (c *Conv2dMaxPool[T]) release() { c.Pool.release() }

// Forward computes the convolution into scratch and pools it.
func (c *Conv2dMaxPool[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	c.forwardChunks(y, x, nil)
}

// forwardChunks is Forward, pooling each chunk of images as soon as the
// convolution has written it (in cache), then calling done(n0, cnt).
func (c *Conv2dMaxPool[T]) forwardChunks(y *tensor.Dense[T], x []*tensor.Dense[T], done func(n0, cnt int)) {
	g, pg, _ := c.geoms(x)
	yc := getScratch[T](g.N * g.O * g.P)
	defer putScratch(yc)
	am := c.argmaxFor(len(y.Data))
	in, out := pg.h*pg.w, pg.oh*pg.ow
	convForward(g, *yc, nil, x[0], x[1], optional(x, 2), nil, nil, nil, func(n0, cnt int) {
		for pl := n0 * g.O; pl < (n0+cnt)*g.O; pl++ {
			poolPlane(pg, y.Data[pl*out:(pl+1)*out], am[pl*out:(pl+1)*out], (*yc)[pl*in:(pl+1)*in])
		}
		if done != nil {
			done(n0, cnt)
		}
	})
}

// ForwardJVP computes the convolution and its tangent into scratch, pools
// the one and gathers the other at the argmax, chunk by chunk.
func (c *Conv2dMaxPool[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	g, pg, _ := c.geoms(x)
	yc := getScratch[T](2 * g.N * g.O * g.P)
	defer putScratch(yc)
	v, d := (*yc)[:g.N*g.O*g.P], (*yc)[g.N*g.O*g.P:]
	am := c.argmaxFor(len(y.Data))
	in, out := pg.h*pg.w, pg.oh*pg.ow
	convForward(g, v, d, x[0], x[1], optional(x, 2), xDot[0], xDot[1], optional(xDot, 2), func(n0, cnt int) {
		for pl := n0 * g.O; pl < (n0+cnt)*g.O; pl++ {
			a := am[pl*out : (pl+1)*out]
			poolPlane(pg, y.Data[pl*out:(pl+1)*out], a, v[pl*in:(pl+1)*in])
			gather(yDot.Data[pl*out:(pl+1)*out], d[pl*in:(pl+1)*in], a)
		}
	})
}

// JVP computes the convolution's tangent into scratch and gathers it at
// the argmax Forward recorded.
func (c *Conv2dMaxPool[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g, pg, _ := c.geoms(x)
	d := getScratch[T](g.N * g.O * g.P)
	defer putScratch(d)
	in, out := pg.h*pg.w, pg.oh*pg.ow
	convForward(g, *d, nil, xDot[0], x[1], optional(xDot, 2), x[0], xDot[1], nil, func(n0, cnt int) {
		for pl := n0 * g.O; pl < (n0+cnt)*g.O; pl++ {
			gather(yDot.Data[pl*out:(pl+1)*out], (*d)[pl*in:(pl+1)*in], c.Pool.argmax[pl*out:(pl+1)*out])
		}
	})
}

// gather sets dst[i] = src[at[i]].
func gather[T tensor.Float](dst, src []T, at []int32) {
	for i, a := range at[:len(dst)] {
		dst[i] = src[a]
	}
}

// VJP adds the convolution's VJP of the unpooled ȳ.
func (c *Conv2dMaxPool[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if c.useSparse() {
		g, pg, _ := c.geoms(x)
		convPoolBackward(g, pg, c.Pool.argmax, convGrads[T]{xBar[0], xBar[1], optional(xBar, 2), c.Conv.fresh&1 != 0}, convGrads[T]{}, yBar, nil, x[0], x[1], nil, nil)
		return
	}
	yc := c.unpool(x, yBar)
	defer putScratch(yc.buf)
	c.Conv.VJP(xBar, yc.t, x, nil)
}

// CurvatureVJP adds the convolution's curvature term of the unpooled ȳ.
func (c *Conv2dMaxPool[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	if c.useSparse() {
		g, pg, _ := c.geoms(x)
		convPoolBackward(g, pg, c.Pool.argmax, convGrads[T]{xBarDot[0], xBarDot[1], nil, false}, convGrads[T]{}, yBar, nil, xDot[0], xDot[1], nil, nil)
		return
	}
	yc := c.unpool(x, yBar)
	defer putScratch(yc.buf)
	c.Conv.CurvatureVJP(xBarDot, yc.t, x, xDot, nil, nil)
}

// VJPPair adds the convolution's VJP pair of the unpooled ȳ and ȳ̇.
func (c *Conv2dMaxPool[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	var xd, wd *tensor.Dense[T]
	if xDot != nil {
		xd, wd = xDot[0], xDot[1]
	}
	if c.useSparse() {
		g, pg, _ := c.geoms(x)
		convPoolBackward(g, pg, c.Pool.argmax, convGrads[T]{xBar[0], xBar[1], optional(xBar, 2), c.Conv.fresh&1 != 0},
			convGrads[T]{xBarDot[0], xBarDot[1], optional(xBarDot, 2), c.Conv.fresh>>32&1 != 0},
			yBar, yBarDot, x[0], x[1], xd, wd)
		return
	}
	yc := c.unpool(x, yBar)
	defer putScratch(yc.buf)
	var ycDot *tensor.Dense[T]
	if yBarDot != nil {
		d := c.unpool(x, yBarDot)
		defer putScratch(d.buf)
		ycDot = d.t
	}
	c.Conv.VJPPair(xBar, xBarDot, yc.t, ycDot, x, xDot, nil, nil)
}

// scratchTensor is a tensor whose data is a scratch buffer.
type scratchTensor[T tensor.Float] struct {
	t   *tensor.Dense[T]
	buf *[]T
}

// unpool returns the convolution's output cotangent: v at the argmax,
// zero elsewhere (MaxPool2d's VJP into a cleared buffer).
func (c *Conv2dMaxPool[T]) unpool(x []*tensor.Dense[T], v *tensor.Dense[T]) scratchTensor[T] {
	_, _, yc := c.geoms(x)
	buf := getScratch[T](tensor.Numel(yc.Shape))
	yc.Data = *buf
	c.Pool.scatter(yc.Data, v.Data, yc, true)
	return scratchTensor[T]{yc, buf}
}

// freshInputs: x's cotangents can be taken uncleared, as Conv2d's.
func (c *Conv2dMaxPool[T]) freshInputs() uint64 { return 1 }

func (c *Conv2dMaxPool[T]) withFresh(fresh uint64) Primitive[T] {
	d := *c
	d.Conv.fresh = fresh
	return &d
}

// convPoolBackward is convBackward for a convolution whose output was
// max-pooled with the geometry pg and argmax am: yBar and yBarDot are the
// pooled cotangents, read as sparse matrices (Conv2dMaxPool). Chunk by
// chunk of images, as convBackward: the rows of the windows, Xₙᵀ, are
// im2col(x[n]) transposed, one row of K values per pixel, and the chunk's
// images' rows lie one after the other, so that one sparse product per
// chunk covers them all (the column indices of image i offset by i·P).
// The weight cotangents are summed over the chunks in the order of
// reduceParts, each chunk's terms in the order of its images, channels'
// windows and pixels: bits fixed by the shapes alone.
func convPoolBackward[T tensor.Float](g convGeom, pg poolGeom, am []int32, bar, dot convGrads[T], yBar, yBarDot, x, w, xDot, wDot *tensor.Dense[T]) {
	hasYd := yBarDot != nil
	doX := bar.x != nil && w != nil
	doXdY := dot.x != nil && w != nil && hasYd
	doXdW := dot.x != nil && wDot != nil
	doW := bar.w != nil && x != nil
	doWdY := dot.w != nil && x != nil && hasYd
	doWdX := dot.w != nil && xDot != nil
	if bar.freshX && bar.x != nil && !doX {
		clearSpans(bar.x.Data)
	}
	if dot.freshX && dot.x != nil && !doXdY && !doXdW {
		clearSpans(dot.x.Data)
	}
	doIn, doWt := doX || doXdY || doXdW, doW || doWdY || doWdX
	// b̄ += Σ ȳ: the pooled cotangents hold every nonzero term.
	bias := func() {
		gp := g
		gp.P = pg.oh * pg.ow
		biasGrad(gp, bar.b, yBar)
		if hasYd {
			biasGrad(gp, dot.b, yBarDot)
		}
	}
	if !doIn && !doWt {
		bias()
		return
	}
	J := pg.oh * pg.ow // windows per plane
	in, K, P := g.inSize(), g.K, g.P
	dsts := [][]T{nil, nil}
	if doW {
		dsts[0] = bar.w.Data
	}
	if doWdY || doWdX {
		dsts[1] = dot.w.Data
	}
	var yd []T
	if hasYd {
		yd = yBarDot.Data
	}
	reduceParts(g.chunks(), dsts, func(partials [][]T, lo, hi int) {
		ents := g.G * g.O * J     // a chunk's entries at most
		np := max(g.O, g.G*P) + 1 // row pointers of S and Sᵀ
		ib := getScratch[int32](2*ents + 2*np)
		defer putScratch(ib)
		idx, tidx := (*ib)[:ents], (*ib)[ents:2*ents]
		ptr, cur := (*ib)[2*ents:2*ents+np], (*ib)[2*ents+np:]
		vb := getScratch[T](2*ents + 2*g.G*P*K + K*P)
		defer putScratch(vb)
		v1, v2 := (*vb)[:ents], (*vb)[ents:2*ents]
		colA, colB := (*vb)[2*ents:2*ents+g.G*P*K], (*vb)[2*ents+g.G*P*K:2*ents+2*g.G*P*K]
		tmp := (*vb)[2*ents+2*g.G*P*K:]
		// rowsOf writes the windows' rows of images n0…n0+cnt−1 of t
		// into dst: im2col, then transposed.
		rowsOf := func(dst []T, t *tensor.Dense[T], n0, cnt int) {
			for i := 0; i < cnt; i++ {
				kernels.Im2col(tmp, P, t.Data[(n0+i)*in:(n0+i+1)*in], g.ConvShape)
				kernels.ChannelsLast(dst[i*P*K:], tmp, kernels.ConvShape{C: K, H: 1, W: P})
			}
		}
		for ch := lo; ch < hi; ch++ {
			n0, cnt := g.chunk(ch)
			e := cnt * J // entries per row of S
			if doWt {
				// S, row o: image i's windows j in columns i·P + argmax.
				for o := 0; o < g.O; o++ {
					ptr[o] = int32(o * e)
					for i := 0; i < cnt; i++ {
						src := ((n0+i)*g.O + o) * J
						at := o*e + i*J
						off := int32(i * P)
						for j, a := range am[src : src+J] {
							idx[at+j] = off + a
						}
						copy(v1[at:at+J], yBar.Data[src:src+J])
						if hasYd {
							copy(v2[at:at+J], yd[src:src+J])
						}
					}
				}
				ptr[g.O] = int32(g.O * e)
				if doW || doWdY {
					rowsOf(colA, x, n0, cnt)
				}
				if doWdX {
					rowsOf(colB, xDot, n0, cnt)
				}
				if doW {
					kernels.SpMM(g.O, K, ptr, idx, v1, colA, K, nil, nil, 1, partials[0], K)
				}
				switch {
				case doWdY && doWdX:
					kernels.SpMM(g.O, K, ptr, idx, v2, colA, K, v1, colB, 1, partials[1], K)
				case doWdY:
					kernels.SpMM(g.O, K, ptr, idx, v2, colA, K, nil, nil, 1, partials[1], K)
				case doWdX:
					kernels.SpMM(g.O, K, ptr, idx, v1, colB, K, nil, nil, 1, partials[1], K)
				}
			}
			if !doIn {
				continue
			}
			// Sᵀ, row i·P + p: the channels o whose window selected
			// pixel p of image i, in the order of o (a counting sort).
			rows := cnt * P
			clear(ptr[:rows+1])
			for i := 0; i < cnt; i++ {
				for _, a := range am[(n0+i)*g.O*J : (n0+i+1)*g.O*J] {
					ptr[i*P+int(a)+1]++
				}
			}
			for r := 0; r < rows; r++ {
				ptr[r+1] += ptr[r]
			}
			copy(cur[:rows], ptr[:rows])
			for i := 0; i < cnt; i++ {
				for o := 0; o < g.O; o++ {
					src := ((n0+i)*g.O + o) * J
					for j, a := range am[src : src+J] {
						r := i*P + int(a)
						k := cur[r]
						cur[r]++
						tidx[k] = int32(o)
						v1[k] = yBar.Data[src+j]
						if hasYd {
							v2[k] = yd[src+j]
						}
					}
				}
			}
			// colA = (Sᵀ·W) for x̄, colB = (S̈ᵀ·W + Sᵀ·Ẇ) for x̄̇, one row
			// of K values per pixel; col2im of each image's transpose.
			addInput := func(dst convGrads[T], col []T) {
				for i := 0; i < cnt; i++ {
					kernels.ChannelsLast(tmp, col[i*P*K:], kernels.ConvShape{C: P, H: 1, W: K})
					xi := dst.x.Data[(n0+i)*in : (n0+i+1)*in]
					if dst.freshX {
						clear(xi)
					}
					kernels.Col2im(xi, tmp, P, g.ConvShape)
				}
			}
			if doX {
				kernels.SpMM(rows, K, ptr, tidx, v1, w.Data, K, nil, nil, 0, colA, K)
				addInput(bar, colA)
			}
			switch {
			case doXdY && doXdW:
				kernels.SpMM(rows, K, ptr, tidx, v2, w.Data, K, v1, wDot.Data, 0, colB, K)
			case doXdY:
				kernels.SpMM(rows, K, ptr, tidx, v2, w.Data, K, nil, nil, 0, colB, K)
			case doXdW:
				kernels.SpMM(rows, K, ptr, tidx, v1, wDot.Data, K, nil, nil, 0, colB, K)
			}
			if doXdY || doXdW {
				addInput(dot, colB)
			}
		}
	})
	bias()
}
