package kernels

import "hesscope/tensor"

// MaxPoolRowS2 computes len(y) max-pooling windows of kh×kw pixels at
// stride 2 along one row of a plane of width w: window i has its top-left
// pixel at plane[base+2i], and y[i] and am[i] receive its maximum and the
// plane index of the pixel selected by PyTorch's rule (the pixels scanned
// in row-major order from the first, a pixel replacing the running maximum
// when it is greater or NaN: the first of equal maxima, the last NaN).
// Every window must lie inside the plane: a k×k window, or the part inside
// the plane of one that overlaps the padding (whose −∞ pixels never
// replace the maximum, so that they may be left out). It reports false,
// and does nothing, when this machine has no vector kernel for T and the
// window (AVX-512 or AVX2, float32, 1 ≤ kh, 1 ≤ kw ≤ 3); the caller then
// uses its own loop (an empty y asks just that).
func MaxPoolRowS2[T tensor.Float](y []T, am []int32, plane []T, w, base, kh, kw int) bool {
	if !is32[T]() || pool32 == nil || kh < 1 || kw < 1 || kw > 3 {
		return false
	}
	if len(y) == 0 {
		return true
	}
	am = am[:len(y)]
	_ = plane[base : base+(kh-1)*w+2*(len(y)-1)+kw] // every pixel read
	pool32(as32(y), am, as32(plane), w, base, kh, kw)
	return true
}

// maxPoolRowS2Ref is MaxPoolRowS2 by the reference loop, for tests.
func maxPoolRowS2Ref[T tensor.Float](y []T, am []int32, plane []T, w, base, kh, kw int) {
	for i := range y {
		at := base + 2*i
		best := plane[at]
		for r := 0; r < kh; r++ {
			for c := 0; c < kw; c++ {
				if v := plane[base+2*i+r*w+c]; v > best || v != v {
					best, at = v, base+2*i+r*w+c
				}
			}
		}
		y[i], am[i] = best, int32(at)
	}
}
