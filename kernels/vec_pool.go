package kernels

import (
	"fmt"

	"hesscope/tensor"
)

// poolRowOf is MaxPoolS2 for F on checked arguments (a vector kernel's
// loop over the rows), poolRowFunc and poolRowFunc64 its instances.
type (
	poolRowOf[F float32 | float64] func(y []F, am []int32, ldy int, plane []F, w, base, n, cnt, kh, kw int)
	poolRowFunc                    = poolRowOf[float32]
	poolRowFunc64                  = poolRowOf[float64]
)

// unpoolOf is MaxUnpool2S2 for F on checked arguments, unpoolFunc and
// unpoolFunc64 its instances.
type (
	unpoolOf[F float32 | float64] func(d, v []F, am []int32, ldv, w, base, n, cnt int)
	unpoolFunc                    = unpoolOf[float32]
	unpoolFunc64                  = unpoolOf[float64]
)

// MaxPoolS2 computes n rows of cnt max-pooling windows of kh×kw pixels at
// stride 2 in a plane of width w: window i of row r has its top-left pixel
// at plane[base+2r·w+2i] (rows of windows are two image rows apart), and
// y[r·ldy+i] and am[r·ldy+i] receive its maximum and the plane index of the
// pixel selected by PyTorch's rule (the pixels scanned in row-major order
// from the first, a pixel replacing the running maximum when it is greater
// or NaN: the first of equal maxima, the last NaN). Every window must lie
// inside the plane: k×k windows, or the parts inside the plane of those
// that overlap the padding (whose −∞ pixels never replace the maximum, so
// that they may be left out). It reports false, and does nothing, when
// this machine has no vector kernel for T and the windows (float32 with
// AVX-512 or AVX2, float64 likewise; 1 ≤ kh, 1 ≤ kw ≤ 3); the caller
// then uses its own loop (n or cnt 0 asks just that).
func MaxPoolS2[T tensor.Float](y []T, am []int32, ldy int, plane []T, w, base, n, cnt, kh, kw int) bool {
	if is32[T]() && pool32 == nil || !is32[T]() && pool64 == nil || kh < 1 || kw < 1 || kw > 3 {
		return false
	}
	if n <= 0 || cnt <= 0 {
		return true
	}
	if (n > 1 && ldy < cnt) || w < 2*(cnt-1)+kw {
		panic(fmt.Sprintf("kernels: MaxPoolS2 of %d rows of %d windows %d wide, %d apart in a plane %d wide: the rows or the windows overlap or leave the plane's rows", n, cnt, kw, ldy, w))
	}
	last := (n-1)*ldy + cnt
	_, _ = y[:last], am[:last]
	_ = plane[base : base+(2*(n-1)+kh-1)*w+2*(cnt-1)+kw] // every pixel read
	if is32[T]() {
		pool32(as32(y), am, ldy, as32(plane), w, base, n, cnt, kh, kw)
	} else {
		pool64(as64(y), am, ldy, as64(plane), w, base, n, cnt, kh, kw)
	}
	return true
}

// maxPoolS2Ref is MaxPoolS2 by the reference loop, for tests.
func maxPoolS2Ref[T tensor.Float](y []T, am []int32, ldy int, plane []T, w, base, n, cnt, kh, kw int) {
	for r := 0; r < n; r++ {
		for i := 0; i < cnt; i++ {
			b := base + 2*r*w + 2*i
			at, best := b, plane[b]
			for u := 0; u < kh; u++ {
				for v := 0; v < kw; v++ {
					if x := plane[b+u*w+v]; x > best || x != x {
						best, at = x, b+u*w+v
					}
				}
			}
			y[r*ldy+i], am[r*ldy+i] = best, int32(at)
		}
	}
}

// MaxUnpool2S2 writes the input cotangent of n rows of cnt max-pooling
// windows of 2×2 pixels at stride 2 (windows that do not overlap) in a
// plane of width w: for window i of row r, whose top-left pixel is
// d[2r·w+2i] and has index base+2r·w+2i in the plane, the pixel am[r·ldv+i]
// (an index in the plane) gets +0 + v[r·ldv+i] and the window's three
// others +0 — the bits of clearing the pixels and adding v at the argmax
// (a −0 becomes +0). It writes every pixel of the windows, so d needs no
// clearing. It reports false, and does nothing, when this machine has no
// vector kernel for T (AVX-512 or AVX2); the caller then uses its own
// loop (n or cnt 0 asks just that).
func MaxUnpool2S2[T tensor.Float](d, v []T, am []int32, ldv, w, base, n, cnt int) bool {
	if is32[T]() && unpool32 == nil || !is32[T]() && unpool64 == nil {
		return false
	}
	if n <= 0 || cnt <= 0 {
		return true
	}
	if (n > 1 && ldv < cnt) || w < 2*cnt {
		panic(fmt.Sprintf("kernels: MaxUnpool2S2 of %d rows of %d windows, %d apart, in a plane %d wide: the rows overlap or the windows leave the plane's rows", n, cnt, ldv, w))
	}
	last := (n-1)*ldv + cnt
	_, _ = v[:last], am[:last]
	_ = d[:(2*n-1)*w+2*cnt] // every pixel written
	if is32[T]() {
		unpool32(as32(d), as32(v), am, ldv, w, base, n, cnt)
	} else {
		unpool64(as64(d), as64(v), am, ldv, w, base, n, cnt)
	}
	return true
}

// maxUnpool2S2Ref is MaxUnpool2S2 by the reference loop, for tests.
func maxUnpool2S2Ref[T tensor.Float](d, v []T, am []int32, ldv, w, base, n, cnt int) {
	for r := 0; r < n; r++ {
		for i := 0; i < cnt; i++ {
			at := 2*r*w + 2*i
			for _, o := range []int{at, at + 1, at + w, at + w + 1} {
				d[o] = 0
			}
			d[int(am[r*ldv+i])-base] += v[r*ldv+i]
		}
	}
}
