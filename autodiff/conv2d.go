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
// all (one image each when H′·W′ ≥ 256), one GEMM per chunk, so scratch
// memory is one chunk's column matrix per goroutine, taken from a pool.
// Chunks run in parallel on at most GOMAXPROCS goroutines. The per-image
// results are independent, and the sums over the batch for W̄ and b̄ are
// taken in an order fixed by the shapes alone, so results are bit-identical
// from run to run and for any GOMAXPROCS.
type Conv2d[T tensor.Float] struct {
	Stride  int // step of the window in both directions; 0 means 1
	Padding int // zero padding added on each of the four sides
}

var _ Curved[float64] = Conv2d[float64]{}

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

// direct reports whether the column matrix of a single image is the image.
func (g convGeom) direct(cnt int) bool { return cnt == 1 && g.Identity() }

// needCol reports whether a chunk may need a column buffer.
func (g convGeom) needCol() bool { return !(g.G == 1 && g.Identity()) }

// columns returns the [K, cnt·P] column matrix of images n0…n0+cnt−1 of x,
// written into col unless it is the image itself.
func columns[T tensor.Float](g convGeom, x []T, n0, cnt int, col []T) []T {
	in := g.inSize()
	if g.direct(cnt) {
		return x[n0*in : (n0+1)*in]
	}
	ld := cnt * g.P
	for i := 0; i < cnt; i++ {
		kernels.Im2col(col[i*g.P:], ld, x[(n0+i)*in:(n0+i+1)*in], g.ConvShape)
	}
	return col[:g.K*ld]
}

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
	convForward(g, y.Data, x[0], x[1], nil, nil, optional(x, 2))
}

// JVP computes ẏ = conv(ẋ, W) + conv(x, Ẇ) + ḃ.
func (c Conv2d[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := c.geom(x)
	convForward(g, yDot.Data, xDot[0], x[1], x[0], xDot[1], optional(xDot, 2))
}

// VJP adds the transposed convolution of ȳ to x̄, Σₙ ȳ[n]·im2col(x[n])ᵀ to
// W̄ and the sums of ȳ over batch and pixels to b̄.
func (c Conv2d[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := c.geom(x)
	convBackward(g, xBar[0], xBar[1], optional(xBar, 2), yBar.Data, x[0], x[1])
}

// CurvatureVJP adds col2im(Ẇᵀ·ȳ) to x̄̇ and Σₙ ȳ[n]·im2col(ẋ[n])ᵀ to W̄̇: the
// VJP with W replaced by Ẇ and x by ẋ. The bias enters linearly and gets
// nothing.
func (c Conv2d[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	g := c.geom(x)
	convBackward(g, xBarDot[0], xBarDot[1], nil, yBar.Data, xDot[0], xDot[1])
}

// optional returns ts[i], or nil if ts has no entry i.
func optional[T tensor.Float](ts []*tensor.Dense[T], i int) *tensor.Dense[T] {
	if i < len(ts) {
		return ts[i]
	}
	return nil
}

// convForward writes y = conv(xa, wa) + conv(xb, wb) + b, skipping any term
// with a nil factor.
func convForward[T tensor.Float](g convGeom, y []T, xa, wa, xb, wb, b *tensor.Dense[T]) {
	type term struct{ x, w []T }
	var terms []term
	if xa != nil && wa != nil {
		terms = append(terms, term{xa.Data, wa.Data})
	}
	if xb != nil && wb != nil {
		terms = append(terms, term{xb.Data, wb.Data})
	}
	out := g.outSize()
	forEachPart(g.chunks(), func(lo, hi int) {
		var col, buf *[]T
		if g.needCol() && len(terms) > 0 {
			col = getScratch[T](g.K * g.G * g.P)
			defer putScratch(col)
		}
		if g.G > 1 {
			buf = getScratch[T](g.O * g.G * g.P)
			defer putScratch(buf)
		}
		for ch := lo; ch < hi; ch++ {
			n0, cnt := g.chunk(ch)
			ld := cnt * g.P
			// A single image's product goes straight to y, after the bias;
			// a chunk's goes to buf and is scattered to y with the bias.
			dst := y[n0*out : (n0+1)*out]
			var beta T
			if cnt > 1 {
				dst = (*buf)[:g.O*ld]
			} else if b != nil {
				for o, v := range b.Data {
					fill(dst[o*g.P:(o+1)*g.P], v)
				}
				beta = 1
			}
			for _, t := range terms {
				var c []T
				if col != nil {
					c = *col
				}
				src := columns(g, t.x, n0, cnt, c)
				kernels.Gemm(false, false, g.O, ld, g.K, 1, t.w, g.K, src, ld, beta, dst, ld)
				beta = 1
			}
			switch {
			case cnt > 1:
				for i := 0; i < cnt; i++ {
					yn := y[(n0+i)*out : (n0+i+1)*out]
					for o := 0; o < g.O; o++ {
						row := yn[o*g.P : (o+1)*g.P]
						var bo T
						if b != nil {
							bo = b.Data[o]
						}
						if len(terms) == 0 {
							fill(row, bo)
							continue
						}
						for j, v := range dst[o*ld+i*g.P : o*ld+(i+1)*g.P] {
							row[j] = v + bo
						}
					}
				}
			case beta == 0:
				clear(dst)
			}
		}
	})
}

func fill[T tensor.Float](dst []T, v T) {
	for i := range dst {
		dst[i] = v
	}
}

// convBackward adds col2im(wᵀ·ȳ) to xBar (if xBar and w are non-nil),
// Σₙ ȳ[n]·im2col(x[n])ᵀ to wBar (if wBar and x are non-nil) and the sums of
// ȳ to bBar (if non-nil).
func convBackward[T tensor.Float](g convGeom, xBar, wBar, bBar *tensor.Dense[T], yBar []T, x, w *tensor.Dense[T]) {
	doX := xBar != nil && w != nil
	doW := wBar != nil && x != nil
	in, out := g.inSize(), g.outSize()
	if doX || doW {
		var wBarData []T
		if doW {
			wBarData = wBar.Data
		}
		reduceParts(g.chunks(), wBarData, func(partial []T, lo, hi int) {
			var col, buf *[]T
			var c []T
			if g.needCol() {
				col = getScratch[T](g.K * g.G * g.P)
				defer putScratch(col)
				c = *col
			}
			if g.G > 1 {
				buf = getScratch[T](g.O * g.G * g.P)
				defer putScratch(buf)
			}
			for ch := lo; ch < hi; ch++ {
				n0, cnt := g.chunk(ch)
				ld := cnt * g.P
				// ȳ of the chunk as one [O, cnt·P] matrix.
				yc := yBar[n0*out : (n0+1)*out]
				if cnt > 1 {
					yc = (*buf)[:g.O*ld]
					for i := 0; i < cnt; i++ {
						for o := 0; o < g.O; o++ {
							copy(yc[o*ld+i*g.P:o*ld+(i+1)*g.P], yBar[(n0+i)*out+o*g.P:(n0+i)*out+(o+1)*g.P])
						}
					}
				}
				if doX {
					if g.direct(cnt) {
						kernels.Gemm(true, false, g.K, g.P, g.O, 1, w.Data, g.K, yc, g.P, 1, xBar.Data[n0*in:(n0+1)*in], g.P)
					} else {
						kernels.Gemm(true, false, g.K, ld, g.O, 1, w.Data, g.K, yc, ld, 0, c, ld)
						for i := 0; i < cnt; i++ {
							kernels.Col2im(xBar.Data[(n0+i)*in:(n0+i+1)*in], c[i*g.P:], ld, g.ConvShape)
						}
					}
				}
				if doW {
					src := columns(g, x.Data, n0, cnt, c)
					kernels.Gemm(false, true, g.O, g.K, ld, 1, yc, ld, src, ld, 1, partial, g.K)
				}
			}
		})
	}
	if bBar != nil {
		for o := 0; o < g.O; o++ {
			var s float64
			for n := 0; n < g.N; n++ {
				for _, v := range yBar[n*out+o*g.P : n*out+(o+1)*g.P] {
					s += float64(v)
				}
			}
			bBar.Data[o] += T(s)
		}
	}
}
