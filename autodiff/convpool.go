package autodiff

import (
	"unsafe"

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
	am := c.Pool.argmaxFor(len(y.Data))
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
	am := c.Pool.argmaxFor(len(y.Data))
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
// pooled cotangents, read as sparse matrices (Conv2dMaxPool), chunk by
// chunk of images as convBackward. The window rows of an image (one row
// of K values per pixel) are copied, where a window row holds at least 16
// values (KW·C, rowsCL), from a channels-last copy of the image, their
// values in (kh, kw, c) order, rows 16-value vectors apart and 64-byte
// aligned (kernels.SpMM's loads then never straddle two cache lines); the
// weights of the input cotangents are laid out alike, the weight
// cotangents summed in that order and permuted into W̄ at the end, and the
// input cotangents' rows added back into the channels-last image run by
// run. Otherwise the rows are im2col's columns transposed, in (c, kh, kw)
// order. The weight cotangents' products run image by image and band by
// band of rows of windows (bandRows: the band's window rows stay in L1);
// the input cotangents' per chunk, Sᵀ's rows the chunk's pixels, one
// product per group of channels (chanGroup: the group's weight rows stay
// in L1). The
// weight cotangents are summed over the chunks in the order of
// reduceParts, each chunk's terms in the order of its images, channels'
// windows: bits fixed by the shapes alone.
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
	defer func() { // b̄ += Σ ȳ: the pooled cotangents hold every nonzero term.
		gp := g
		gp.P = pg.oh * pg.ow
		biasGrad(gp, bar.b, yBar)
		if hasYd {
			biasGrad(gp, dot.b, yBarDot)
		}
	}()
	if !doIn && !doWt {
		return
	}
	J := pg.oh * pg.ow // windows per plane
	in, K, P := g.inSize(), g.K, g.P
	cl := g.rowsCL()
	ld := K // of the window rows, the weights and the products
	if cl {
		ld = alignUp(K)
	}
	// The weight cotangents' destinations: W̄ and W̄̇ themselves, or, in
	// (kh, kw, c) order, scratch added into them at the end.
	var wsum *[]T
	dsts := [][]T{nil, nil}
	switch {
	case doWt && cl:
		wsum, dsts = weightSums[T](g.O*ld, doW, doWdY || doWdX, true)
		defer putScratch(wsum)
	case doWt:
		if doW {
			dsts[0] = bar.w.Data
		}
		if doWdY || doWdX {
			dsts[1] = dot.w.Data
		}
	}
	offs := g.windowOffsets(1) // of an image's pixels' windows, channels-last
	// The input cotangents' weights, [W | Ẇ], in the rows' order.
	ws, wds := data(w), data(wDot)
	if doIn && cl {
		wb := getScratch[T](2*g.O*ld + vecAlign)
		defer putScratch(wb)
		buf := aligned(*wb)
		if doX || doXdY {
			ws = buf[:g.O*ld]
			permuteCL(g, ws, w.Data, ld)
		}
		if doXdW {
			wds = buf[g.O*ld : 2*g.O*ld]
			permuteCL(g, wds, wDot.Data, ld)
		}
	}
	var yd []T
	if hasYd {
		yd = yBarDot.Data
	}
	cg := chanGroup[T](g, ld, doXdY && doXdW) // Sᵀ's channels a product
	ng := (g.O + cg - 1) / cg
	reduceParts(g.chunks(), dsts, func(partials [][]T, lo, hi int) {
		ents := g.G * g.O * J        // a chunk's entries at most
		np := max(g.O, ng*g.G*P) + 1 // row pointers of S and of Sᵀ's groups
		ib := getScratch[int32](ents + 2*np)
		defer putScratch(ib)
		tidx := (*ib)[:ents]
		ptr, cur := (*ib)[ents:ents+np], (*ib)[ents+np:]
		rowsLen := g.G * P * ld
		tmpLen := max(K*P, g.clLen()+2*in)
		vb := getScratch[T](2*ents + 2*rowsLen + tmpLen + 2*vecAlign)
		defer putScratch(vb)
		v1, v2 := (*vb)[:ents], (*vb)[ents:2*ents]
		rest := aligned((*vb)[2*ents:])
		colA, colB, tmp := rest[:rowsLen], rest[rowsLen:2*rowsLen], rest[2*rowsLen:2*rowsLen+tmpLen]
		// rowsOf writes the window rows of images n0…n0+cnt−1 of t into
		// dst, one image's P rows after another's.
		rowsOf := func(dst []T, t *tensor.Dense[T], n0, cnt int) {
			for i := 0; i < cnt; i++ {
				xi := t.Data[(n0+i)*in : (n0+i+1)*in]
				if cl {
					windowRowsCL(g, dst[i*P*ld:], ld, xi, tmp, offs)
					continue
				}
				kernels.Im2col(tmp, P, xi, g.ConvShape)
				kernels.ChannelsLast(dst[i*P*ld:], tmp, kernels.ConvShape{C: K, H: 1, W: P})
			}
		}
		for ch := lo; ch < hi; ch++ {
			n0, cnt := g.chunk(ch)
			if doWt {
				if doW || doWdY {
					rowsOf(colA, x, n0, cnt)
				}
				if doWdX {
					rowsOf(colB, xDot, n0, cnt)
				}
				// Image by image, and within an image band by band of
				// rows of windows (bandRows), so that the window rows the
				// band's entries select stay in L1 for every channel: S's
				// row o is the band's windows j of channel o, in columns
				// argmax − p0, the band's first pixel. The entries of a
				// channel are added in the order of j, as in one call.
				pair := doWdY && doWdX
				br := bandRows[T](g, pg, ld, pair)
				for i := 0; i < cnt; i++ {
					src := (n0 + i) * g.O * J
					for r0 := 0; r0 < pg.oh; r0 += br {
						r1 := min(r0+br, pg.oh)
						j0, j1 := r0*pg.ow, r1*pg.ow
						nb := j1 - j0
						p0 := max(0, r0*pg.s-pg.p) * pg.w
						p1 := min(pg.h, (r1-1)*pg.s-pg.p+pg.k) * pg.w
						for o := 0; o < g.O; o++ {
							ptr[o] = int32(o * nb)
							at := src + o*J + j0
							for t, a := range am[at : at+nb] {
								tidx[o*nb+t] = a - int32(p0)
							}
							copy(v1[o*nb:(o+1)*nb], yBar.Data[at:at+nb])
							if hasYd {
								copy(v2[o*nb:(o+1)*nb], yd[at:at+nb])
							}
						}
						ptr[g.O] = int32(g.O * nb)
						ids, ys, yds := tidx[:g.O*nb], v1[:g.O*nb], v2[:g.O*nb]
						a := colA[(i*P+p0)*ld : (i*P+p1)*ld]
						b := colB[(i*P+p0)*ld : (i*P+p1)*ld]
						if doW {
							kernels.SpMM(g.O, K, ptr, ids, ys, a, ld, nil, nil, 1, partials[0], ld)
						}
						switch {
						case pair:
							kernels.SpMM(g.O, K, ptr, ids, yds, a, ld, ys, b, 1, partials[1], ld)
						case doWdY:
							kernels.SpMM(g.O, K, ptr, ids, yds, a, ld, nil, nil, 1, partials[1], ld)
						case doWdX:
							kernels.SpMM(g.O, K, ptr, ids, ys, b, ld, nil, nil, 1, partials[1], ld)
						}
					}
				}
			}
			if !doIn {
				continue
			}
			// Sᵀ, row i·P + p: the channels o whose window selected
			// pixel p of image i, in the order of o (a counting sort),
			// group by group of channels (chanGroup: the group's rows of
			// W, and of Ẇ, stay in L1): group q's rows are rows q·R … of
			// the sort. Each pixel's terms are added group after group,
			// in the order of o, as in one product.
			rows := cnt * P
			clear(ptr[:ng*rows+1])
			for i := 0; i < cnt; i++ {
				for o := 0; o < g.O; o++ {
					base := (o/cg)*rows + i*P + 1
					src := ((n0+i)*g.O + o) * J
					for _, a := range am[src : src+J] {
						ptr[base+int(a)]++
					}
				}
			}
			for r := 0; r < ng*rows; r++ {
				ptr[r+1] += ptr[r]
			}
			copy(cur[:ng*rows], ptr[:ng*rows])
			for i := 0; i < cnt; i++ {
				for o := 0; o < g.O; o++ {
					base := (o/cg)*rows + i*P
					src := ((n0+i)*g.O + o) * J
					for j, a := range am[src : src+J] {
						r := base + int(a)
						k := cur[r]
						cur[r]++
						tidx[k] = int32(o % cg)
						v1[k] = yBar.Data[src+j]
						if hasYd {
							v2[k] = yd[src+j]
						}
					}
				}
			}
			// colA = Sᵀ·W for x̄, colB = S̈ᵀ·W + Sᵀ·Ẇ for x̄̇, a row of
			// K values per pixel, added back into each image.
			addInput := func(dst convGrads[T], col []T) {
				for i := 0; i < cnt; i++ {
					xi := dst.x.Data[(n0+i)*in : (n0+i+1)*in]
					if cl {
						addWindowRowsCL(g, xi, col[i*P*ld:], ld, tmp, offs, dst.freshX)
						continue
					}
					kernels.ChannelsLast(tmp, col[i*P*ld:], kernels.ConvShape{C: P, H: 1, W: K})
					if dst.freshX {
						clear(xi)
					}
					kernels.Col2im(xi, tmp, P, g.ConvShape)
				}
			}
			for q := 0; q < ng; q++ {
				gp := ptr[q*rows : (q+1)*rows+1]
				w0, w1 := q*cg*ld, min((q+1)*cg, g.O)*ld
				beta := T(min(q, 1))
				if doX {
					kernels.SpMM(rows, K, gp, tidx, v1, ws[w0:w1], ld, nil, nil, beta, colA, ld)
				}
				switch {
				case doXdY && doXdW:
					kernels.SpMM(rows, K, gp, tidx, v2, ws[w0:w1], ld, v1, wds[w0:w1], beta, colB, ld)
				case doXdY:
					kernels.SpMM(rows, K, gp, tidx, v2, ws[w0:w1], ld, nil, nil, beta, colB, ld)
				case doXdW:
					kernels.SpMM(rows, K, gp, tidx, v1, wds[w0:w1], ld, nil, nil, beta, colB, ld)
				}
			}
			if doX {
				addInput(bar, colA)
			}
			if doXdY || doXdW {
				addInput(dot, colB)
			}
		}
	})
	if wsum != nil {
		if doW {
			addWindowMajor(bar.w.Data, dsts[0], g.O, g.C, g.KH*g.KW, ld)
		}
		if doWdY || doWdX {
			addWindowMajor(dot.w.Data, dsts[1], g.O, g.C, g.KH*g.KW, ld)
		}
	}
}

// chanGroup returns the channels of a group of the input cotangents'
// sparse products: as many as keep their rows of W, a block of up to 256
// values of each (twice for the pair's W and Ẇ), within bandBytes, at
// least one, the groups as even as possible.
func chanGroup[T tensor.Float](g convGeom, ld int, pair bool) int {
	most := max(1, bandBytes/blockRowBytes[T](ld, pair))
	ng := (g.O + most - 1) / most
	return (g.O + ng - 1) / ng
}

// bandBytes bounds the bytes of window rows that one band of the weight
// cotangents' sparse products reads per block of columns (bandRows).
const bandBytes = 32 << 10

// bandRows returns the rows of windows of a band of the weight
// cotangents' sparse products: as many as keep the window rows their
// selected pixels can lie in, a block of up to 256 values of each (a
// kernel's block of columns; twice for the pair's two factors), within
// bandBytes, at least one.
func bandRows[T tensor.Float](g convGeom, pg poolGeom, ld int, pair bool) int {
	row := blockRowBytes[T](ld, pair)
	r := 1
	for r < pg.oh && ((r*pg.s+pg.k)*pg.w)*row <= bandBytes {
		r++ // r+1 rows of windows span (r·s + k) rows of pixels at most
	}
	return r
}

// blockRowBytes is the bytes a sparse product reads of one row of its
// dense factor per block of columns (SpMM's widest, 256 values), twice
// for a pair's two factors.
func blockRowBytes[T tensor.Float](ld int, pair bool) int {
	var z T
	row := min(ld, 256) * int(unsafe.Sizeof(z))
	if pair {
		row *= 2
	}
	return row
}

// vecAlign is the alignment, in elements, of the rows of the sparse
// products' dense factors: 64 bytes of float32.
const vecAlign = 16

// alignUp rounds n up to a multiple of vecAlign.
func alignUp(n int) int { return (n + vecAlign - 1) / vecAlign * vecAlign }

// aligned returns the tail of s from its first element on a 64-byte
// boundary (s must have vecAlign elements to spare).
func aligned[T tensor.Float](s []T) []T {
	for i := range vecAlign {
		if uintptr(unsafe.Pointer(&s[i]))%64 == 0 {
			return s[i:]
		}
	}
	return s
}

// rowsCL reports whether Conv2dMaxPool's sparse products read the window
// rows in (kh, kw, c) order, copied from channels-last images: where a
// window row (kw pixels of c channels, contiguous there) holds at least
// 16 values.
func (g convGeom) rowsCL() bool { return g.KW*g.C >= vecAlign }

// clLen is the length of the zero-padded channels-last copy of an image.
func (g convGeom) clLen() int { return (g.H + 2*g.Pad) * (g.W + 2*g.Pad) * g.C }

// windowRowsCL writes the window rows of the image x (each pixel's window,
// K values in (kh, kw, c) order) into dst, rows ld apart (the ld − K
// values after each are left as they are), through tmp, which receives
// the image channels-last and zero-padded (clLen values); offs are
// g.windowOffsets(1).
func windowRowsCL[T tensor.Float](g convGeom, dst []T, ld int, x, tmp []T, offs []int) {
	kernels.ChannelsLast(tmp, x, g.ConvShape)
	gatherWindows(g, dst, ld, tmp, offs)
}

// addWindowRowsCL adds the window rows of an image (rows ld apart, in
// windowRowsCL's order; offs as there) back into its input cotangent xi
// ([C, H, W]), written where fresh: each row's runs into the zero-padded
// channels-last image, in tmp, pixel by pixel in order (gatherWindows'
// adjoint), then its inside transposed. tmp holds clLen + 2·C·H·W values.
func addWindowRowsCL[T tensor.Float](g convGeom, xi, rows []T, ld int, tmp []T, offs []int, fresh bool) {
	n, in := g.clLen(), g.inSize()
	pad, wide, trans := tmp[:n], tmp[n:n+in], tmp[n+in:n+2*in]
	clear(pad)
	wp, run := g.W+2*g.Pad, g.KW*g.C
	for p, r := range offs {
		for kh := 0; kh < g.KH; kh++ {
			d := r + kh*wp*g.C
			kernels.Add(pad[d:d+run], rows[p*ld+kh*run:p*ld+(kh+1)*run])
		}
	}
	inside := pad
	if g.Pad > 0 {
		for i := 0; i < g.H; i++ {
			copy(wide[i*g.W*g.C:(i+1)*g.W*g.C], pad[((i+g.Pad)*wp+g.Pad)*g.C:])
		}
		inside = wide
	}
	// [H·W, C] to [C, H·W].
	t := kernels.ConvShape{C: g.H * g.W, H: 1, W: g.C}
	if fresh {
		kernels.ChannelsLast(xi, inside, t)
		return
	}
	kernels.ChannelsLast(trans, inside, t)
	kernels.Add(xi, trans)
}

// permuteCL writes the weights w ([O, C, KH, KW]) as rows of K values in
// (kh, kw, c) order, ld apart, into dst (the order addWindowMajor takes
// back).
func permuteCL[T tensor.Float](g convGeom, dst, w []T, ld int) {
	for o := 0; o < g.O; o++ {
		for c := 0; c < g.C; c++ {
			for k := 0; k < g.KH*g.KW; k++ {
				dst[o*ld+k*g.C+c] = w[(o*g.C+c)*g.KH*g.KW+k]
			}
		}
	}
}
