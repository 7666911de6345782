package autodiff

import (
	"fmt"
	"math"

	"hesscope/kernels"
	"hesscope/tensor"
)

// MaxPool2d is PyTorch's nn.MaxPool2d (dilation 1, ceil_mode false): the
// maximum over each Kernel×Kernel window moved by Stride over every channel
// of x, which is [N, C, H, W] padded with Padding pixels of −∞ on each side:
//
//	y[n,c,i,j] = max_{u,v < Kernel} x[n, c, i·s − p + u, j·s − p + v]
//
// y is [N, C, H′, W′] with H′ = (H + 2p − k)/s + 1 (rounded down). As in
// PyTorch, p may be at most k/2, so every window holds a pixel of x.
//
// Ties and NaN follow PyTorch's CPU kernel (cpu_max_pool in
// aten/src/ATen/native/cpu/MaxPoolKernel.cpp): the window is scanned in
// row-major order from −∞, and a value replaces the running maximum when it
// is greater or NaN. So among equal maxima the first wins, a NaN propagates
// (the last NaN of the window is selected), and a window of −∞ selects its
// first pixel. Forward records the selected pixel (the argmax) of every
// window; the derivatives are those of y = x[argmax], the function is
// piecewise linear and has no curvature term:
//
//	ẏ = ẋ[argmax]        x̄[argmax] += ȳ      (summed where windows overlap)
type MaxPool2d[T tensor.Float] struct {
	Kernel  int // window height and width
	Stride  int // step of the window; 0 means Kernel (PyTorch's default)
	Padding int // −∞ padding on each side, at most Kernel/2

	argmax  []int32  // per output, the selected pixel's offset within its H×W plane
	scratch *[]int32 // the pooled buffer behind argmax
	fresh   uint64   // freshWriter's bits: x̄ (1) and x̄̇ (1<<32) hold garbage
}

var (
	_ PairJVP[float64]     = (*MaxPool2d[float64])(nil)
	_ PairVJP[float64]     = (*MaxPool2d[float64])(nil)
	_ freshWriter[float64] = (*MaxPool2d[float64])(nil)
)

// freshInputs: a fresh cotangent's plane is cleared just before the
// scatter into it, in cache, instead of by the tape beforehand.
func (m *MaxPool2d[T]) freshInputs() uint64 { return 1 }

func (m *MaxPool2d[T]) withFresh(fresh uint64) Primitive[T] {
	c := *m
	c.fresh = fresh
	return &c
}

// argmaxFor sets the argmax to n outputs of its buffer, taken from the
// pool on first use and kept until release, and returns it.
func (m *MaxPool2d[T]) argmaxFor(n int) []int32 {
	if m.scratch == nil {
		m.scratch = getScratch[int32](n)
	}
	m.argmax = (*m.scratch)[:n]
	return m.argmax
}

// gather sets dst[i] = src[at[i]]: the tangent of the selected pixels.
func gather[T tensor.Float](dst, src []T, at []int32) {
	for i, a := range at[:len(dst)] {
		dst[i] = src[a]
	}
}

// release returns the argmax buffer to its pool when the tape is reset.
func (m *MaxPool2d[T]) release() {
	if m.scratch != nil {
		putScratch(m.scratch)
		m.scratch, m.argmax = nil, nil
	}
}

type poolGeom struct {
	n, c, h, w, oh, ow, k, s, p int
}

func (m *MaxPool2d[T]) geom(x *tensor.Dense[T]) poolGeom {
	s := m.Stride
	if s == 0 {
		s = m.Kernel
	}
	if len(x.Shape) != 4 || m.Kernel < 1 || s < 1 || m.Padding < 0 || m.Padding > m.Kernel/2 ||
		x.Shape[2]+2*m.Padding < m.Kernel || x.Shape[3]+2*m.Padding < m.Kernel {
		panic(fmt.Sprintf("autodiff: MaxPool2d(kernel %d, stride %d, padding %d) of x %v", m.Kernel, m.Stride, m.Padding, x.Shape))
	}
	g := poolGeom{n: x.Shape[0], c: x.Shape[1], h: x.Shape[2], w: x.Shape[3], k: m.Kernel, s: s, p: m.Padding}
	g.oh = (g.h+2*g.p-g.k)/g.s + 1
	g.ow = (g.w+2*g.p-g.k)/g.s + 1
	return g
}

// Shape returns [N, C, H′, W′].
func (m *MaxPool2d[T]) Shape(x []*tensor.Dense[T]) []int {
	g := m.geom(x[0])
	return []int{g.n, g.c, g.oh, g.ow}
}

// Forward computes the window maxima and records their argmax.
func (m *MaxPool2d[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	g, planes := m.forwardPlanes(y, x)
	forEachPart(g.n*g.c, planes)
}

// imageForward computes Forward's images one by one (imageWise).
func (m *MaxPool2d[T]) imageForward(y *tensor.Dense[T], x []*tensor.Dense[T]) func(n0, cnt int) {
	g, planes := m.forwardPlanes(y, x)
	return func(n0, cnt int) { planes(n0*g.c, (n0+cnt)*g.c) }
}

// forwardPlanes returns x's layout and the function that computes
// Forward's planes [lo, hi) (image n's channel c is plane n·C + c).
func (m *MaxPool2d[T]) forwardPlanes(y *tensor.Dense[T], x []*tensor.Dense[T]) (poolGeom, func(lo, hi int)) {
	g := m.geom(x[0])
	m.argmaxFor(len(y.Data))
	in, out := g.h*g.w, g.oh*g.ow
	return g, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			poolPlane(g, y.Data[pl*out:(pl+1)*out], m.argmax[pl*out:(pl+1)*out], x[0].Data[pl*in:(pl+1)*in])
		}
	}
}

// poolPlane computes the window maxima of one H×W plane and their argmax:
// by vector kernels for 2×2 and 3×3 windows at stride 2 where the machine has
// them, else with an unrolled loop for 2×2 windows at stride 2 without
// padding and a branch-free one for 3×3 windows.
func poolPlane[T tensor.Float](g poolGeom, yp []T, am []int32, plane []T) {
	if g.s == 2 && (g.k == 2 || g.k == 3) && poolPlaneS2(g, yp, am, plane) {
		return
	}
	switch {
	case g.k == 2 && g.s == 2 && g.p == 0:
		poolPlane2x2(g, yp, am, plane)
	case g.k == 3:
		if y32, ok := any(yp).([]float32); ok {
			poolPlane3x3f32(g, y32, am, any(plane).([]float32))
			return
		}
		poolPlane3x3(g, yp, am, plane)
	default:
		poolPlaneGeneric(g, yp, am, plane)
	}
}

// poolPlane3x3f32 is poolPlane3x3 for float32 with branch-free interior
// windows: after BatchNorm (C1's pooling) the nine values are in random
// order and a branch per pixel mispredicts often, so the pixels are
// compared as integer keys and selected with conditional moves. The key of
// a value with sign s and magnitude bits m is ±m (−0 and +0 tie, as they
// compare equal), a NaN gets the key just above +Inf's, and a pixel replaces
// the running maximum when key + 1[NaN] > best key: a greater value or any
// NaN (so the last NaN wins), the rule v > best || v != v of the reference
// loop, scanned in the same order.
func poolPlane3x3f32(g poolGeom, yp []float32, am []int32, plane []float32) {
	w := g.w
	for oy := 0; oy < g.oh; oy++ {
		y0 := oy*g.s - g.p
		for ox := 0; ox < g.ow; ox++ {
			x0 := ox*g.s - g.p
			if !(y0 >= 0 && y0+3 <= g.h && x0 >= 0 && x0+3 <= w) {
				var y1 [1]float32
				var a1 [1]int32
				poolWindow(g, y1[:], a1[:], plane, y0, x0)
				yp[oy*g.ow+ox], am[oy*g.ow+ox] = y1[0], a1[0]
				continue
			}
			base := y0*w + x0
			win := plane[base : base+2*w+3]
			bb := math.Float32bits(win[0])
			bk, _ := poolKey32(bb)
			at := int32(0)
			for _, off := range [8]int32{1, 2, int32(w), int32(w) + 1, int32(w) + 2, 2 * int32(w), 2*int32(w) + 1, 2*int32(w) + 2} {
				b := math.Float32bits(win[off])
				k, nan := poolKey32(b)
				if k+nan > bk {
					bk, at, bb = k, off, b
				}
			}
			yp[oy*g.ow+ox], am[oy*g.ow+ox] = math.Float32frombits(bb), int32(base)+at
		}
	}
}

// poolPlaneS2 computes the plane by kernels.MaxPoolS2 in a few calls: the
// windows inside the image in one, each column of windows that overlap the
// left or right padding (in the rows inside) in one, and each row of
// windows that overlap the top or bottom padding in one for the windows
// inside the columns and one per window at the sides — each call on the
// parts of its windows inside the image (the padding's −∞ never replaces
// the maximum, and the reference loop starts from the first pixel inside
// the image too). It reports false, having done nothing, if there is no
// vector kernel.
func poolPlaneS2[T tensor.Float](g poolGeom, yp []T, am []int32, plane []T) bool {
	if !kernels.MaxPoolS2(yp[:0], am, g.ow, plane, g.w, 0, 0, 0, g.k, g.k) {
		return false
	}
	// Windows inside the image: columns [lo, hi) and rows [rlo, rhi).
	lo := (g.p + 1) / 2
	hi := max(lo, min(g.ow, (g.w-g.k+g.p)/2+1))
	rlo := lo
	rhi := max(rlo, min(g.oh, (g.h-g.k+g.p)/2+1))
	// cols does output rows [r0, r0+n), whose windows' parts inside the
	// image start at image row ylo and are kh rows high: the columns
	// inside in one call, each column at the sides in one.
	cols := func(r0, n, ylo, kh int) {
		at := r0 * g.ow
		kernels.MaxPoolS2(yp[at+lo:], am[at+lo:], g.ow, plane, g.w, ylo*g.w+2*lo-g.p, n, hi-lo, kh, g.k)
		outside(g.ow, lo, hi, func(ox int) {
			x0 := 2*ox - g.p
			xlo := max(x0, 0)
			kernels.MaxPoolS2(yp[at+ox:], am[at+ox:], g.ow, plane, g.w, ylo*g.w+xlo, n, 1, kh, min(x0+g.k, g.w)-xlo)
		})
	}
	if rhi > rlo {
		cols(rlo, rhi-rlo, 2*rlo-g.p, g.k)
	}
	outside(g.oh, rlo, rhi, func(oy int) {
		y0 := 2*oy - g.p
		ylo := max(y0, 0)
		cols(oy, 1, ylo, min(y0+g.k, g.h)-ylo)
	})
	return true
}

// outside calls f(i) for every i of [0, n) outside [lo, hi), in order.
func outside(n, lo, hi int, f func(i int)) {
	for i := 0; i < min(lo, n); i++ {
		f(i)
	}
	for i := max(hi, lo); i < n; i++ {
		f(i)
	}
}

// poolKey32 returns the key of the float32 with bits b and whether it is a
// NaN (1) or not (0).
func poolKey32(b uint32) (k, nan int32) {
	const inf = 0x7f800000
	mag := int32(b & 0x7fffffff)
	nan = int32(uint32(inf-mag) >> 31)
	sgn := (int32(b) >> 31) & (nan - 1)
	return (min(mag, inf+1) ^ sgn) - sgn, nan
}

// poolWindow computes the window at (y0, x0) of the padded plane by the
// reference loop into y[0] and am[0].
func poolWindow[T tensor.Float](g poolGeom, y []T, am []int32, plane []T, y0, x0 int) {
	ylo, yhi := max(y0, 0), min(y0+g.k, g.h)
	xlo, xhi := max(x0, 0), min(x0+g.k, g.w)
	best, at := T(math.Inf(-1)), ylo*g.w+xlo
	for iy := ylo; iy < yhi; iy++ {
		for ix := xlo; ix < xhi; ix++ {
			if v := plane[iy*g.w+ix]; v > best || v != v {
				best, at = v, iy*g.w+ix
			}
		}
	}
	y[0], am[0] = best, int32(at)
}

// poolPlane3x3 is poolPlaneGeneric for 3×3 windows (any stride and
// padding): windows inside the image compare their nine pixels unrolled, in
// the same order, from the first pixel (see poolPlane2x2); windows that
// overlap the padding take the reference loop.
func poolPlane3x3[T tensor.Float](g poolGeom, yp []T, am []int32, plane []T) {
	w := g.w
	negInf := T(math.Inf(-1))
	for oy := 0; oy < g.oh; oy++ {
		y0 := oy*g.s - g.p
		ylo, yhi := max(y0, 0), min(y0+3, g.h)
		for ox := 0; ox < g.ow; ox++ {
			x0 := ox*g.s - g.p
			if y0 >= 0 && y0+3 <= g.h && x0 >= 0 && x0+3 <= w {
				base := y0*w + x0
				win := plane[base : base+2*w+3]
				best, at := win[0], 0
				for _, off := range [8]int{1, 2, w, w + 1, w + 2, 2 * w, 2*w + 1, 2*w + 2} {
					if v := win[off]; v > best || v != v {
						best, at = v, off
					}
				}
				yp[oy*g.ow+ox], am[oy*g.ow+ox] = best, int32(base+at)
				continue
			}
			xlo, xhi := max(x0, 0), min(x0+3, w)
			best, at := negInf, ylo*w+xlo
			for iy := ylo; iy < yhi; iy++ {
				for ix := xlo; ix < xhi; ix++ {
					if v := plane[iy*w+ix]; v > best || v != v {
						best, at = v, iy*w+ix
					}
				}
			}
			yp[oy*g.ow+ox], am[oy*g.ow+ox] = best, int32(at)
		}
	}
}

// poolPlaneGeneric is poolPlane for any window: the reference loop.
func poolPlaneGeneric[T tensor.Float](g poolGeom, yp []T, am []int32, plane []T) {
	negInf := T(math.Inf(-1))
	for oy := 0; oy < g.oh; oy++ {
		y0 := oy*g.s - g.p
		ylo, yhi := max(y0, 0), min(y0+g.k, g.h)
		for ox := 0; ox < g.ow; ox++ {
			x0 := ox*g.s - g.p
			xlo, xhi := max(x0, 0), min(x0+g.k, g.w)
			best, at := negInf, ylo*g.w+xlo
			for iy := ylo; iy < yhi; iy++ {
				for ix := xlo; ix < xhi; ix++ {
					if v := plane[iy*g.w+ix]; v > best || v != v {
						best, at = v, iy*g.w+ix
					}
				}
			}
			yp[oy*g.ow+ox] = best
			am[oy*g.ow+ox] = int32(at)
		}
	}
}

// poolPlane2x2 is poolPlaneGeneric for 2×2 windows at stride 2 without
// padding, the four pixels compared in the same order. Starting from the
// first pixel instead of −∞ selects the same value and pixel: the first
// pixel replaces −∞ unless it is −∞ itself, and then it is selected anyway.
func poolPlane2x2[T tensor.Float](g poolGeom, yp []T, am []int32, plane []T) {
	w := g.w
	for oy := 0; oy < g.oh; oy++ {
		r0 := plane[2*oy*w : 2*oy*w+2*g.ow]
		r1 := plane[(2*oy+1)*w : (2*oy+1)*w+2*g.ow]
		yr, ar := yp[oy*g.ow:(oy+1)*g.ow], am[oy*g.ow:(oy+1)*g.ow]
		base := int32(2 * oy * w)
		for ox := range yr {
			i := 2 * ox
			best, at := r0[i], base+int32(i)
			if v := r0[i+1]; v > best || v != v {
				best, at = v, base+int32(i+1)
			}
			if v := r1[i]; v > best || v != v {
				best, at = v, base+int32(w+i)
			}
			if v := r1[i+1]; v > best || v != v {
				best, at = v, base+int32(w+i+1)
			}
			yr[ox], ar[ox] = best, at
		}
	}
}

// ForwardJVP computes the window maxima and gathers ẏ = ẋ[argmax] plane by
// plane, while the plane's argmax is in cache.
func (m *MaxPool2d[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	g := m.geom(x[0])
	m.argmaxFor(len(y.Data))
	in, out := g.h*g.w, g.oh*g.ow
	forEachPart(g.n*g.c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			am := m.argmax[pl*out : (pl+1)*out]
			poolPlane(g, y.Data[pl*out:(pl+1)*out], am, x[0].Data[pl*in:(pl+1)*in])
			gather(yDot.Data[pl*out:(pl+1)*out], xDot[0].Data[pl*in:(pl+1)*in], am)
		}
	})
}

// Argmax returns, for every output element, the offset within its H×W input
// plane of the pixel Forward selected. It is valid until the tape that
// recorded m is reset.
func (m *MaxPool2d[T]) Argmax() []int32 { return m.argmax }

// JVP gathers ẏ = ẋ[argmax].
func (m *MaxPool2d[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	g := m.geom(x[0])
	in, out := g.h*g.w, g.oh*g.ow
	forEachPart(g.n*g.c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			gather(yDot.Data[pl*out:(pl+1)*out], xDot[0].Data[pl*in:(pl+1)*in], m.argmax[pl*out:(pl+1)*out])
		}
	})
}

// VJP scatters x̄[argmax] += ȳ.
func (m *MaxPool2d[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] != nil {
		m.scatter(xBar[0].Data, yBar.Data, x[0], m.fresh&1 != 0)
	}
}

// scatter adds v[argmax] into dst, plane by plane, each plane cleared first
// if fresh.
func (m *MaxPool2d[T]) scatter(dst, v []T, x *tensor.Dense[T], fresh bool) {
	g := m.geom(x)
	in, out := g.h*g.w, g.oh*g.ow
	forEachPart(g.n*g.c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			scatterPlane(g, dst[pl*in:(pl+1)*in], v[pl*out:(pl+1)*out], m.argmax[pl*out:(pl+1)*out], fresh)
		}
	})
}

// scatterPlane adds v[i] into d[am[i]] for one plane, d cleared first if
// fresh. Windows of 2×2 at stride 2 without padding do not overlap: into a
// fresh plane, kernels.MaxUnpool2S2 writes every pixel of them (+0 + v at
// the argmax, +0 elsewhere: the same bits), and the pixels outside them
// (an odd last column or row) are cleared.
func scatterPlane[T tensor.Float](g poolGeom, d, v []T, am []int32, fresh bool) {
	if fresh && g.k == 2 && g.s == 2 && g.p == 0 && kernels.MaxUnpool2S2(d, v, am, g.ow, g.w, 0, g.oh, g.ow) {
		if c := 2 * g.ow; c < g.w {
			for r := 0; r < 2*g.oh; r++ {
				clear(d[r*g.w+c : (r+1)*g.w])
			}
		}
		clear(d[2*g.oh*g.w:])
		return
	}
	if fresh {
		clear(d)
	}
	for i, a := range am {
		d[a] += v[i]
	}
}

// VJPPair scatters x̄[argmax] += ȳ and x̄̇[argmax] += ȳ̇ plane by plane, while
// the plane's argmax is in cache.
func (m *MaxPool2d[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, _ []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	fresh, freshDot := m.fresh&1 != 0, m.fresh>>32&1 != 0
	if xBar[0] == nil {
		if yBarDot != nil {
			m.scatter(xBarDot[0].Data, yBarDot.Data, x[0], freshDot)
		}
		return
	}
	if yBarDot == nil {
		m.scatter(xBar[0].Data, yBar.Data, x[0], fresh)
		return
	}
	g := m.geom(x[0])
	in, out := g.h*g.w, g.oh*g.ow
	forEachPart(g.n*g.c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			am := m.argmax[pl*out : (pl+1)*out]
			scatterPlane(g, xBar[0].Data[pl*in:(pl+1)*in], yBar.Data[pl*out:(pl+1)*out], am, fresh)
			scatterPlane(g, xBarDot[0].Data[pl*in:(pl+1)*in], yBarDot.Data[pl*out:(pl+1)*out], am, freshDot)
		}
	})
}
