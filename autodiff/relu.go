package autodiff

import (
	"math"

	"hesscope/tensor"
)

// ReLU is y = max(x, 0) elementwise, with PyTorch's convention relu′(0) = 0.
// It is piecewise linear: ẏ = 1[x>0]·ẋ, x̄ += 1[x>0]·ȳ, and no curvature term.
// A NaN in x gives y = 0 and a zero derivative (x > 0 is false).
//
// The mask 1[x>0] is applied without branches (a data-dependent branch
// mispredicts on half the elements of a typical activation): the bits of
// the selected value are ANDed with a mask built from the bits of x, so a
// masked-out element contributes exactly +0. Work is spread over the
// goroutines by contiguous spans, each element written by one of them.
type ReLU[T tensor.Float] struct{}

var (
	_ PairJVP[float64] = ReLU[float64]{}
	_ PairVJP[float64] = ReLU[float64]{}
)

// Shape returns the shape of x.
func (ReLU[T]) Shape(x []*tensor.Dense[T]) []int { return x[0].Shape }

// Forward computes y = 1[x>0]·x.
func (ReLU[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	xs := x[0].Data
	forEachSpan(len(y.Data), func(lo, hi int) { maskTo(y.Data[lo:hi], xs[lo:hi], xs[lo:hi]) })
}

// JVP computes ẏ = 1[x>0]·ẋ.
func (ReLU[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	xs, xd := x[0].Data, xDot[0].Data
	forEachSpan(len(yDot.Data), func(lo, hi int) { maskTo(yDot.Data[lo:hi], xs[lo:hi], xd[lo:hi]) })
}

// ForwardJVP computes y = 1[x>0]·x and ẏ = 1[x>0]·ẋ in one sweep.
func (ReLU[T]) ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T]) {
	xs, xd := x[0].Data, xDot[0].Data
	forEachSpan(len(y.Data), func(lo, hi int) {
		maskTo2(y.Data[lo:hi], xs[lo:hi], yDot.Data[lo:hi], xd[lo:hi], xs[lo:hi])
	})
}

// VJP adds 1[x>0]·ȳ to x̄.
func (ReLU[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] == nil {
		return
	}
	xs, dst := x[0].Data, xBar[0].Data
	forEachSpan(len(xs), func(lo, hi int) { maskAdd(dst[lo:hi], xs[lo:hi], yBar.Data[lo:hi]) })
}

// VJPPair adds 1[x>0]·ȳ to x̄ and 1[x>0]·ȳ̇ to x̄̇ in one sweep over x.
func (ReLU[T]) VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, _ []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	if xBar[0] == nil {
		return
	}
	if yBarDot == nil {
		ReLU[T]{}.VJP(xBar, yBar, x, nil)
		return
	}
	xs, dst, dstDot := x[0].Data, xBar[0].Data, xBarDot[0].Data
	forEachSpan(len(xs), func(lo, hi int) {
		maskAdd2(dst[lo:hi], yBar.Data[lo:hi], dstDot[lo:hi], yBarDot.Data[lo:hi], xs[lo:hi])
	})
}

// The mask 1[x>0] of a float32 x with bits b: x > 0 exactly when b, read as
// a signed integer, lies in (0, bits(+Inf)]; sign set (negative, −0), zero
// and NaN (above +Inf) are out. Widened to int64, both bounds become sign
// tests of a difference that cannot overflow:
//
//	mask32(b) = ((−a) >> 63) & ((a − bits(+Inf) − 1) >> 63),  a = int64(int32(b))
//
// all ones when x > 0 and zero otherwise. For float64 the sign is tested
// apart and the bounds are applied to the magnitude.

func mask32(v float32) uint32 {
	a := int64(int32(math.Float32bits(v)))
	return uint32((-a)>>63) & uint32((a-0x7f800001)>>63)
}

func mask64(v float64) uint64 {
	b := math.Float64bits(v)
	mag := int64(b &^ (1 << 63))
	return ^uint64(int64(b)>>63) & uint64((-mag)>>63) & uint64((mag-0x7ff0000000000001)>>63)
}

// maskTo writes dst[i] = v[i] where x[i] > 0 and +0 elsewhere.
func maskTo[T tensor.Float](dst, x, v []T) {
	x, v = x[:len(dst)], v[:len(dst)]
	switch d := any(dst).(type) {
	case []float32:
		x, v := any(x).([]float32), any(v).([]float32)
		for i, xi := range x {
			d[i] = math.Float32frombits(math.Float32bits(v[i]) & mask32(xi))
		}
	case []float64:
		x, v := any(x).([]float64), any(v).([]float64)
		for i, xi := range x {
			d[i] = math.Float64frombits(math.Float64bits(v[i]) & mask64(xi))
		}
	default:
		for i, xi := range x {
			if xi > 0 {
				dst[i] = v[i]
			} else {
				dst[i] = 0
			}
		}
	}
}

// maskAdd adds v[i] to dst[i] where x[i] > 0 (+0 elsewhere).
func maskAdd[T tensor.Float](dst, x, v []T) {
	x, v = x[:len(dst)], v[:len(dst)]
	switch d := any(dst).(type) {
	case []float32:
		x, v := any(x).([]float32), any(v).([]float32)
		for i, xi := range x {
			d[i] += math.Float32frombits(math.Float32bits(v[i]) & mask32(xi))
		}
	case []float64:
		x, v := any(x).([]float64), any(v).([]float64)
		for i, xi := range x {
			d[i] += math.Float64frombits(math.Float64bits(v[i]) & mask64(xi))
		}
	default:
		for i, xi := range x {
			if xi > 0 {
				dst[i] += v[i]
			}
		}
	}
}

// maskAdd2 is maskAdd(a, x, va) and maskAdd(b, x, vb) with one mask per x[i].
func maskAdd2[T tensor.Float](a, va, b, vb, x []T) {
	x, va, b, vb = x[:len(a)], va[:len(a)], b[:len(a)], vb[:len(a)]
	switch av := any(a).(type) {
	case []float32:
		va, b, vb, x := any(va).([]float32), any(b).([]float32), any(vb).([]float32), any(x).([]float32)
		for i, xi := range x {
			m := mask32(xi)
			av[i] += math.Float32frombits(math.Float32bits(va[i]) & m)
			b[i] += math.Float32frombits(math.Float32bits(vb[i]) & m)
		}
	case []float64:
		va, b, vb, x := any(va).([]float64), any(b).([]float64), any(vb).([]float64), any(x).([]float64)
		for i, xi := range x {
			m := mask64(xi)
			av[i] += math.Float64frombits(math.Float64bits(va[i]) & m)
			b[i] += math.Float64frombits(math.Float64bits(vb[i]) & m)
		}
	default:
		maskAdd(a, x, va)
		maskAdd(b, x, vb)
	}
}

// maskTo2 is maskTo(a, x, va) and maskTo(b, x, vb) with one mask per x[i].
func maskTo2[T tensor.Float](a, va, b, vb, x []T) {
	x, va, b, vb = x[:len(a)], va[:len(a)], b[:len(a)], vb[:len(a)]
	switch av := any(a).(type) {
	case []float32:
		va, b, vb, x := any(va).([]float32), any(b).([]float32), any(vb).([]float32), any(x).([]float32)
		for i, xi := range x {
			m := mask32(xi)
			av[i] = math.Float32frombits(math.Float32bits(va[i]) & m)
			b[i] = math.Float32frombits(math.Float32bits(vb[i]) & m)
		}
	case []float64:
		va, b, vb, x := any(va).([]float64), any(b).([]float64), any(vb).([]float64), any(x).([]float64)
		for i, xi := range x {
			m := mask64(xi)
			av[i] = math.Float64frombits(math.Float64bits(va[i]) & m)
			b[i] = math.Float64frombits(math.Float64bits(vb[i]) & m)
		}
	default:
		maskTo(a, x, va)
		maskTo(b, x, vb)
	}
}
