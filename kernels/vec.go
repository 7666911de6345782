package kernels

import (
	"math"
	"unsafe"

	"hesscope/tensor"
)

// Element-wise kernels. Each exported function dispatches on the element
// size to the best backend of this machine (assembly on amd64 with AVX-512
// or AVX2, pure Go otherwise, see vec_amd64.go). Every backend computes the
// same bits: the assembly uses the operations of the pure-Go loops, in their
// order, without fused multiply-adds.

// vecKernels is one backend of the element-wise kernels for elements F.
// Every function takes slices of at least len(dst) (the first argument)
// elements.
type vecKernels[F float32 | float64] struct {
	name     string
	add      func(dst, x []F)
	maskTo   func(dst, x, v []F)
	maskAdd  func(dst, x, v []F)
	maskTo2  func(a, va, b, vb, x []F)
	maskAdd2 func(a, va, b, vb, x []F)
}

func genericVec[F float32 | float64]() *vecKernels[F] {
	return &vecKernels[F]{
		name: "generic", add: addGeneric[F],
		maskTo: maskToGeneric[F], maskAdd: maskAddGeneric[F],
		maskTo2: maskTo2Generic[F], maskAdd2: maskAdd2Generic[F],
	}
}

// as32 and as64 view a slice of T as the float type of the same size.
func as32[T tensor.Float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func as64[T tensor.Float](s []T) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func is32[T tensor.Float]() bool { return unsafe.Sizeof(T(0)) == 4 }

// Add computes dst[i] += x[i].
func Add[T tensor.Float](dst, x []T) {
	x = x[:len(dst)]
	if is32[T]() {
		vec32.add(as32(dst), as32(x))
	} else {
		vec64.add(as64(dst), as64(x))
	}
}

// MaskTo writes dst[i] = v[i] where x[i] > 0 and +0 elsewhere (a NaN x[i]
// is not > 0): the ReLU's y = 1[x>0]·x and ẏ = 1[x>0]·ẋ, without branches.
func MaskTo[T tensor.Float](dst, x, v []T) {
	x, v = x[:len(dst)], v[:len(dst)]
	if is32[T]() {
		vec32.maskTo(as32(dst), as32(x), as32(v))
	} else {
		vec64.maskTo(as64(dst), as64(x), as64(v))
	}
}

// MaskAdd adds v[i] to dst[i] where x[i] > 0 and +0 elsewhere.
func MaskAdd[T tensor.Float](dst, x, v []T) {
	x, v = x[:len(dst)], v[:len(dst)]
	if is32[T]() {
		vec32.maskAdd(as32(dst), as32(x), as32(v))
	} else {
		vec64.maskAdd(as64(dst), as64(x), as64(v))
	}
}

// MaskTo2 is MaskTo(a, x, va) and MaskTo(b, x, vb) in one sweep over x.
func MaskTo2[T tensor.Float](a, va, b, vb, x []T) {
	va, b, vb, x = va[:len(a)], b[:len(a)], vb[:len(a)], x[:len(a)]
	if is32[T]() {
		vec32.maskTo2(as32(a), as32(va), as32(b), as32(vb), as32(x))
	} else {
		vec64.maskTo2(as64(a), as64(va), as64(b), as64(vb), as64(x))
	}
}

// MaskAdd2 is MaskAdd(a, x, va) and MaskAdd(b, x, vb) in one sweep over x.
func MaskAdd2[T tensor.Float](a, va, b, vb, x []T) {
	va, b, vb, x = va[:len(a)], b[:len(a)], vb[:len(a)], x[:len(a)]
	if is32[T]() {
		vec32.maskAdd2(as32(a), as32(va), as32(b), as32(vb), as32(x))
	} else {
		vec64.maskAdd2(as64(a), as64(va), as64(b), as64(vb), as64(x))
	}
}

func addGeneric[F float32 | float64](dst, x []F) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += v
	}
}

// The mask 1[x>0] of a float32 x with bits b: x > 0 exactly when b, read as
// a signed integer, lies in (0, bits(+Inf)]; sign set (negative, −0), zero
// and NaN (above +Inf) are out. Widened to int64, both bounds become sign
// tests of a difference that cannot overflow:
//
//	mask32(b) = ((−a) >> 63) & ((a − bits(+Inf) − 1) >> 63),  a = int64(int32(b))
//
// all ones when x > 0 and zero otherwise. For float64 the sign is tested
// apart and the bounds are applied to the magnitude. A data-dependent branch
// would mispredict on half the elements of a typical activation.

func mask32(v float32) uint32 {
	a := int64(int32(math.Float32bits(v)))
	return uint32((-a)>>63) & uint32((a-0x7f800001)>>63)
}

func mask64(v float64) uint64 {
	b := math.Float64bits(v)
	mag := int64(b &^ (1 << 63))
	return ^uint64(int64(b)>>63) & uint64((-mag)>>63) & uint64((mag-0x7ff0000000000001)>>63)
}

// The pure-Go kernels switch on the element type once, outside the loop:
// converting each element to an interface inside it would cost more than
// the work.

func maskToGeneric[F float32 | float64](dst, x, v []F) {
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
	}
}

func maskAddGeneric[F float32 | float64](dst, x, v []F) {
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
	}
}

func maskTo2Generic[F float32 | float64](a, va, b, vb, x []F) {
	va, b, vb, x = va[:len(a)], b[:len(a)], vb[:len(a)], x[:len(a)]
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
	}
}

func maskAdd2Generic[F float32 | float64](a, va, b, vb, x []F) {
	va, b, vb, x = va[:len(a)], b[:len(a)], vb[:len(a)], x[:len(a)]
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
	}
}
