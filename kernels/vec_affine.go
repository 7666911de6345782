package kernels

import "hesscope/tensor"

// Per-channel affine kernels (BatchNorm's): data of type T, arithmetic in
// float64, every product and sum rounded on its own (no fused multiply-add,
// so that every backend, and the compiler for any GOAMD64, gives the same
// bits). Sums over a slice go to eight lanes, element i to lane i mod 8, in
// order within a lane: a fixed order that vector code follows too.

// Lanes holds eight partial float64 sums.
type Lanes [8]float64

// Sum adds the lanes in a fixed order: ((0+1)+(2+3)) + ((4+5)+(6+7)).
func (l *Lanes) Sum() float64 {
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

// affineKernels is one backend of the affine kernels for data of type F.
type affineKernels[F float32 | float64] struct {
	name                 string
	affineTo             func(dst, x []F, a, mu, b float64)
	affineJVPTo          func(y, yDot, x, xDot []F, a, c, mu, b, d float64)
	scaleAdd             func(dst, y []F, a float64)
	centeredSums         func(s *[2]Lanes, y, x []F, mu float64)
	centeredSumsScaleAdd func(s *[2]Lanes, dst, y, x []F, a, mu float64)
	dot                  func(s *Lanes, y, x []F)
	sum                  func(s *Lanes, y []F)
	affineVJPPair        func(s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []F, a, ad, mu float64)
	affineReLUTo         func(dst, x []F, a, mu, b float64)
	reluAffineTo         func(dst, x []F, a, mu, b float64)
	affineJVPReLUTo      func(y, yDot, x, xDot []F, a, c, mu, b, d float64)
	affineJVPAddReLUTo   func(y, yDot, x, xDot, s, sDot []F, a, c, mu, b, d float64)
	affineAddReLUTo      func(dst, x, s []F, a, mu, b float64)
	affineReLUVJPTo      func(s *[2]Lanes, dst, x, y, yBar []F, a, mu float64)
	affineAddReLUVJPTo   func(s *[2]Lanes, dst, sBar, x, y, yBar []F, a, mu float64)
	reluAffineVJPTo      func(s *[2]Lanes, dst, x, yBar []F, a, mu float64)
	affineReLUVJPPair    func(s *[5]Lanes, dst, dstDot, x, xDot, y, yBar, yBarDot []F, a, ad, mu float64)
	reluAffineVJPPair    func(s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []F, a, ad, mu float64)
	affineReLUVJP        func(s *[2]Lanes, dst, x, y, yBar []F, a, mu float64)
	affineAddReLUVJP     func(s *[2]Lanes, dst, sBar, x, y, yBar []F, a, mu float64)
	affineAddReLUVJPPair func(s *[5]Lanes, dst, dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot []F, a, ad, mu float64)
	// The To forms write their destinations as if zeroed, not reading them.
	affineReLUVJPPairTo    func(s *[5]Lanes, dst, dstDot, x, xDot, y, yBar, yBarDot []F, a, ad, mu float64)
	affineAddReLUVJPPairTo func(s *[5]Lanes, dst, dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot []F, a, ad, mu float64)
	reluAffineVJPPairTo    func(s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []F, a, ad, mu float64)
	reluAffineVJP          func(s *[2]Lanes, dst, x, yBar []F, a, mu float64)
	centeredSquares        func(s *Lanes, x []F, mu float64)
	linearTo               func(dst, v, x []F, p, q, mu, r float64)
	linearAdd              func(dst, v, x []F, p, q, mu, r float64)
	linearAdd2             func(dst, u, v, x []F, p, p2, q, mu, r float64)
}

// genericAffine returns the pure-Go backend.
func genericAffine[F float32 | float64]() *affineKernels[F] {
	return &affineKernels[F]{
		name: "generic", affineTo: affineToGeneric[F], affineJVPTo: affineJVPToGeneric[F],
		scaleAdd: scaleAddGeneric[F], centeredSums: centeredSumsGeneric[F],
		centeredSumsScaleAdd: centeredSumsScaleAddGeneric[F], dot: dotGeneric[F], sum: sumGeneric[F],
		affineVJPPair: affineVJPPairGeneric[F], affineReLUTo: affineReLUToGeneric[F],
		reluAffineTo:    reluAffineToGeneric[F],
		affineJVPReLUTo: affineJVPReLUToGeneric[F], affineReLUVJPPair: affineReLUVJPPairGeneric[F],
		affineJVPAddReLUTo: affineJVPAddReLUToGeneric[F], affineAddReLUTo: affineAddReLUToGeneric[F],
		affineReLUVJPTo: affineReLUVJPToGeneric[F], affineAddReLUVJPTo: affineAddReLUVJPToGeneric[F],
		reluAffineVJPTo:   reluAffineVJPToGeneric[F],
		reluAffineVJPPair: reluAffineVJPPairGeneric[F], affineReLUVJP: affineReLUVJPGeneric[F], affineAddReLUVJP: affineAddReLUVJPGeneric[F], affineAddReLUVJPPair: affineAddReLUVJPPairGeneric[F],
		affineReLUVJPPairTo: affineReLUVJPPairToGeneric[F], affineAddReLUVJPPairTo: affineAddReLUVJPPairToGeneric[F],
		reluAffineVJPPairTo: reluAffineVJPPairToGeneric[F],
		reluAffineVJP:       reluAffineVJPGeneric[F],
		centeredSquares:     centeredSquaresGeneric[F], linearTo: linearToGeneric[F],
		linearAdd: linearAddGeneric[F], linearAdd2: linearAdd2Generic[F],
	}
}

// AffineTo writes dst[i] = a·(x[i] − mu) + b.
func AffineTo[T tensor.Float](dst, x []T, a, mu, b float64) {
	x = x[:len(dst)]
	if is32[T]() {
		affine32.affineTo(as32(dst), as32(x), a, mu, b)
	} else {
		affine64.affineTo(as64(dst), as64(x), a, mu, b)
	}
}

// AffineJVPTo writes y[i] = a·(x[i] − mu) + b and ẏ[i] = (c·(x[i] − mu) + d)
// + a·ẋ[i], the first sum rounded to T: BatchNorm's value and tangent, with
// a = γs, c = γ̇s, b = β and d = β̇.
func AffineJVPTo[T tensor.Float](y, yDot, x, xDot []T, a, c, mu, b, d float64) {
	yDot, x, xDot = yDot[:len(y)], x[:len(y)], xDot[:len(y)]
	if is32[T]() {
		affine32.affineJVPTo(as32(y), as32(yDot), as32(x), as32(xDot), a, c, mu, b, d)
	} else {
		affine64.affineJVPTo(as64(y), as64(yDot), as64(x), as64(xDot), a, c, mu, b, d)
	}
}

// ScaleAdd adds a·y[i], rounded to T, to dst[i].
func ScaleAdd[T tensor.Float](dst, y []T, a float64) {
	y = y[:len(dst)]
	if is32[T]() {
		affine32.scaleAdd(as32(dst), as32(y), a)
	} else {
		affine64.scaleAdd(as64(dst), as64(y), a)
	}
}

// CenteredSums adds y[i] to the lanes s[0] and y[i]·(x[i] − mu) to s[1].
func CenteredSums[T tensor.Float](s *[2]Lanes, y, x []T, mu float64) {
	x = x[:len(y)]
	if is32[T]() {
		affine32.centeredSums(s, as32(y), as32(x), mu)
	} else {
		affine64.centeredSums(s, as64(y), as64(x), mu)
	}
}

// CenteredSumsScaleAdd is CenteredSums(s, y, x, mu) and ScaleAdd(dst, y, a)
// in one sweep.
func CenteredSumsScaleAdd[T tensor.Float](s *[2]Lanes, dst, y, x []T, a, mu float64) {
	y, x = y[:len(dst)], x[:len(dst)]
	if is32[T]() {
		affine32.centeredSumsScaleAdd(s, as32(dst), as32(y), as32(x), a, mu)
	} else {
		affine64.centeredSumsScaleAdd(s, as64(dst), as64(y), as64(x), a, mu)
	}
}

// Dot adds y[i]·x[i] to the lanes s.
func Dot[T tensor.Float](s *Lanes, y, x []T) {
	x = x[:len(y)]
	if is32[T]() {
		affine32.dot(s, as32(y), as32(x))
	} else {
		affine64.dot(s, as64(y), as64(x))
	}
}

// Sum adds y[i] to the lanes s: element i to lane i mod 8, in order (a
// convolution's bias gradient, Σ ȳ over pixels).
func Sum[T tensor.Float](s *Lanes, y []T) {
	if is32[T]() {
		affine32.sum(s, as32(y))
	} else {
		affine64.sum(s, as64(y))
	}
}

// AffineVJPPair is BatchNorm's reverse sweep for a Hessian-vector product
// in one pass: per element, with y = ȳ[i], yd = ȳ̇[i] and xc = x[i] − mu,
//
//	s[0] += y   s[1] += y·xc   dst[i] += a·y
//	s[2] += yd  s[3] += yd·xc  dstDot[i] = dstDot[i] + a·yd + ad·y
//	s[4] += y·ẋ[i]
//
// in this order, which is that of CenteredSumsScaleAdd(s[0:2], dst, ȳ, x),
// CenteredSumsScaleAdd(s[2:4], dstDot, ȳ̇, x), ScaleAdd(dstDot, ȳ, ad) and
// Dot(s[4], ȳ, ẋ) one after the other: the same bits.
func AffineVJPPair[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], yBar[:n], yBarDot[:n]
	if is32[T]() {
		affine32.affineVJPPair(s, as32(dst), as32(dstDot), as32(x), as32(xDot), as32(yBar), as32(yBarDot), a, ad, mu)
	} else {
		affine64.affineVJPPair(s, as64(dst), as64(dstDot), as64(x), as64(xDot), as64(yBar), as64(yBarDot), a, ad, mu)
	}
}

// AffineReLUTo writes dst[i] = relu(a·(x[i] − mu) + b): AffineTo followed by
// MaskTo(dst, dst, dst), the same bits.
func AffineReLUTo[T tensor.Float](dst, x []T, a, mu, b float64) {
	x = x[:len(dst)]
	if is32[T]() {
		affine32.affineReLUTo(as32(dst), as32(x), a, mu, b)
	} else {
		affine64.affineReLUTo(as64(dst), as64(x), a, mu, b)
	}
}

// ReLUAffineTo writes dst[i] = a·(relu(x[i]) − mu) + b, relu(x) = +0 where
// !(x > 0): MaskTo(h, x, x) followed by AffineTo(dst, h, …), the same bits,
// in one sweep (a ReLU followed by an eval-mode BatchNorm).
func ReLUAffineTo[T tensor.Float](dst, x []T, a, mu, b float64) {
	x = x[:len(dst)]
	if is32[T]() {
		affine32.reluAffineTo(as32(dst), as32(x), a, mu, b)
	} else {
		affine64.reluAffineTo(as64(dst), as64(x), a, mu, b)
	}
}

// AffineJVPReLUTo is AffineJVPTo followed by a ReLU: y[i] and ẏ[i] become
// +0 where y[i] (rounded to T) is not > 0, the same bits as MaskTo2.
func AffineJVPReLUTo[T tensor.Float](y, yDot, x, xDot []T, a, c, mu, b, d float64) {
	yDot, x, xDot = yDot[:len(y)], x[:len(y)], xDot[:len(y)]
	if is32[T]() {
		affine32.affineJVPReLUTo(as32(y), as32(yDot), as32(x), as32(xDot), a, c, mu, b, d)
	} else {
		affine64.affineJVPReLUTo(as64(y), as64(yDot), as64(x), as64(xDot), a, c, mu, b, d)
	}
}

// AffineAddReLUTo writes dst[i] = relu(T(a·(x[i] − mu) + b) + s[i]), the
// sum in T and +0 where it is not > 0: AffineTo, Add and MaskTo one after
// the other (a BatchNorm, the shortcut added, a ReLU), the same bits, in
// one sweep.
func AffineAddReLUTo[T tensor.Float](dst, x, s []T, a, mu, b float64) {
	x, s = x[:len(dst)], s[:len(dst)]
	if is32[T]() {
		affine32.affineAddReLUTo(as32(dst), as32(x), as32(s), a, mu, b)
	} else {
		affine64.affineAddReLUTo(as64(dst), as64(x), as64(s), a, mu, b)
	}
}

// AffineJVPAddReLUTo is AffineJVPTo, then the shortcut s and its tangent
// sDot added (y[i] += s[i], ẏ[i] += ṡ[i] in T), then a ReLU: y[i] and ẏ[i]
// become +0 where the sum is not > 0. The same bits as AffineJVPTo, Add,
// Add and MaskTo2 one after the other, in one sweep.
func AffineJVPAddReLUTo[T tensor.Float](y, yDot, x, xDot, s, sDot []T, a, c, mu, b, d float64) {
	n := len(y)
	yDot, x, xDot, s, sDot = yDot[:n], x[:n], xDot[:n], s[:n], sDot[:n]
	if is32[T]() {
		affine32.affineJVPAddReLUTo(as32(y), as32(yDot), as32(x), as32(xDot), as32(s), as32(sDot), a, c, mu, b, d)
	} else {
		affine64.affineJVPAddReLUTo(as64(y), as64(yDot), as64(x), as64(xDot), as64(s), as64(sDot), a, c, mu, b, d)
	}
}

// AffineReLUVJPPair is AffineVJPPair for a BatchNorm followed by a ReLU of
// output y: ȳ[i] and ȳ̇[i] are replaced by 0 + ȳ[i] and 0 + ȳ̇[i] where
// y[i] > 0 and by +0 elsewhere, the cotangents the ReLU's VJP adds into
// zeroed buffers, so the same bits as the two primitives one after the other.
func AffineReLUVJPPair[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, y, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], y[:n], yBar[:n], yBarDot[:n]
	if is32[T]() {
		affine32.affineReLUVJPPair(s, as32(dst), as32(dstDot), as32(x), as32(xDot), as32(y), as32(yBar), as32(yBarDot), a, ad, mu)
	} else {
		affine64.affineReLUVJPPair(s, as64(dst), as64(dstDot), as64(x), as64(xDot), as64(y), as64(yBar), as64(yBarDot), a, ad, mu)
	}
}

// AffineReLUVJPPairTo is AffineReLUVJPPair into zeroed dst and dstDot:
// their values are not read, and they receive the bits that clearing them
// and AffineReLUVJPPair give (+0 + value), in one pass instead of two.
func AffineReLUVJPPairTo[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, y, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], y[:n], yBar[:n], yBarDot[:n]
	if is32[T]() {
		affine32.affineReLUVJPPairTo(s, as32(dst), as32(dstDot), as32(x), as32(xDot), as32(y), as32(yBar), as32(yBarDot), a, ad, mu)
	} else {
		affine64.affineReLUVJPPairTo(s, as64(dst), as64(dstDot), as64(x), as64(xDot), as64(y), as64(yBar), as64(yBarDot), a, ad, mu)
	}
}

// ReLUAffineVJPPair is AffineVJPPair for a ReLU followed by a BatchNorm, at
// h = relu(x) along ḣ = 1[x>0]·ẋ, its cotangents (added to zero, as into
// zeroed buffers) passed back through the ReLU: per element, the bits of
// MaskTo2(h, x, ḣ, ẋ, x); h̄, h̄̇ = 0; AffineVJPPair(s, h̄, h̄̇, h, ḣ, ȳ, ȳ̇);
// MaskAdd2(dst, h̄, dstDot, h̄̇, x).
func ReLUAffineVJPPair[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], yBar[:n], yBarDot[:n]
	if is32[T]() {
		affine32.reluAffineVJPPair(s, as32(dst), as32(dstDot), as32(x), as32(xDot), as32(yBar), as32(yBarDot), a, ad, mu)
	} else {
		affine64.reluAffineVJPPair(s, as64(dst), as64(dstDot), as64(x), as64(xDot), as64(yBar), as64(yBarDot), a, ad, mu)
	}
}

// ReLUAffineVJPPairTo is ReLUAffineVJPPair into zeroed dst and dstDot:
// their values are not read, and they receive the bits that clearing them
// and ReLUAffineVJPPair give.
func ReLUAffineVJPPairTo[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], yBar[:n], yBarDot[:n]
	if is32[T]() {
		affine32.reluAffineVJPPairTo(s, as32(dst), as32(dstDot), as32(x), as32(xDot), as32(yBar), as32(yBarDot), a, ad, mu)
	} else {
		affine64.reluAffineVJPPairTo(s, as64(dst), as64(dstDot), as64(x), as64(xDot), as64(yBar), as64(yBarDot), a, ad, mu)
	}
}

// AffineReLUVJP is BatchNorm's VJP sweep of a following ReLU's cotangent
// (BatchNorm → ReLU, gradient only) in one pass: per element the bits of
// u = 0; MaskAdd(u, y, ȳ); CenteredSumsScaleAdd(s, dst, u, x, a, mu), with
// y the ReLU's output, the cotangent u formed in registers.
func AffineReLUVJP[T tensor.Float](s *[2]Lanes, dst, x, y, yBar []T, a, mu float64) {
	n := len(dst)
	x, y, yBar = x[:n], y[:n], yBar[:n]
	if is32[T]() {
		affine32.affineReLUVJP(s, as32(dst), as32(x), as32(y), as32(yBar), a, mu)
	} else {
		affine64.affineReLUVJP(s, as64(dst), as64(x), as64(y), as64(yBar), a, mu)
	}
}

// AffineAddReLUVJP is AffineReLUVJP for BatchNorm → + shortcut → ReLU: it
// also adds the ReLU's cotangent u to sBar, the shortcut's cotangent, as
// Add's VJP does (the bits of Add(sBar, u) after forming u).
func AffineAddReLUVJP[T tensor.Float](s *[2]Lanes, dst, sBar, x, y, yBar []T, a, mu float64) {
	n := len(dst)
	sBar, x, y, yBar = sBar[:n], x[:n], y[:n], yBar[:n]
	if is32[T]() {
		affine32.affineAddReLUVJP(s, as32(dst), as32(sBar), as32(x), as32(y), as32(yBar), a, mu)
	} else {
		affine64.affineAddReLUVJP(s, as64(dst), as64(sBar), as64(x), as64(y), as64(yBar), a, mu)
	}
}

// AffineReLUVJPTo is AffineReLUVJP into a zeroed dst: its values are not
// read, and it receives the bits that clearing it and AffineReLUVJP give
// (+0 + value), in one pass instead of two.
func AffineReLUVJPTo[T tensor.Float](s *[2]Lanes, dst, x, y, yBar []T, a, mu float64) {
	n := len(dst)
	x, y, yBar = x[:n], y[:n], yBar[:n]
	if is32[T]() {
		affine32.affineReLUVJPTo(s, as32(dst), as32(x), as32(y), as32(yBar), a, mu)
	} else {
		affine64.affineReLUVJPTo(s, as64(dst), as64(x), as64(y), as64(yBar), a, mu)
	}
}

// AffineAddReLUVJPTo is AffineAddReLUVJP into zeroed dst and sBar: their
// values are not read, and they receive the bits that clearing them and
// AffineAddReLUVJP give.
func AffineAddReLUVJPTo[T tensor.Float](s *[2]Lanes, dst, sBar, x, y, yBar []T, a, mu float64) {
	n := len(dst)
	sBar, x, y, yBar = sBar[:n], x[:n], y[:n], yBar[:n]
	if is32[T]() {
		affine32.affineAddReLUVJPTo(s, as32(dst), as32(sBar), as32(x), as32(y), as32(yBar), a, mu)
	} else {
		affine64.affineAddReLUVJPTo(s, as64(dst), as64(sBar), as64(x), as64(y), as64(yBar), a, mu)
	}
}

// AffineAddReLUVJPPair is AffineReLUVJPPair for BatchNorm → + shortcut →
// ReLU: it also adds the ReLU's cotangents u = 0 + 1[y>0]·ȳ and
// ud = 0 + 1[y>0]·ȳ̇ to sBar and sBarDot, the shortcut's cotangents, as
// Add's VJP does (the bits of Add(sBar, u), Add(sBarDot, ud)).
func AffineAddReLUVJPPair[T tensor.Float](s *[5]Lanes, dst, dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot = dstDot[:n], sBar[:n], sBarDot[:n], x[:n], xDot[:n], y[:n], yBar[:n], yBarDot[:n]
	if is32[T]() {
		affine32.affineAddReLUVJPPair(s, as32(dst), as32(dstDot), as32(sBar), as32(sBarDot), as32(x), as32(xDot),
			as32(y), as32(yBar), as32(yBarDot), a, ad, mu)
	} else {
		affine64.affineAddReLUVJPPair(s, as64(dst), as64(dstDot), as64(sBar), as64(sBarDot), as64(x), as64(xDot),
			as64(y), as64(yBar), as64(yBarDot), a, ad, mu)
	}
}

// AffineAddReLUVJPPairTo is AffineAddReLUVJPPair into zeroed dst, dstDot,
// sBar and sBarDot: their values are not read, and they receive the bits
// that clearing them and AffineAddReLUVJPPair give.
func AffineAddReLUVJPPairTo[T tensor.Float](s *[5]Lanes, dst, dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot = dstDot[:n], sBar[:n], sBarDot[:n], x[:n], xDot[:n], y[:n], yBar[:n], yBarDot[:n]
	if is32[T]() {
		affine32.affineAddReLUVJPPairTo(s, as32(dst), as32(dstDot), as32(sBar), as32(sBarDot), as32(x), as32(xDot),
			as32(y), as32(yBar), as32(yBarDot), a, ad, mu)
	} else {
		affine64.affineAddReLUVJPPairTo(s, as64(dst), as64(dstDot), as64(sBar), as64(sBarDot), as64(x), as64(xDot),
			as64(y), as64(yBar), as64(yBarDot), a, ad, mu)
	}
}

// ReLUAffineVJP is the reverse sweep of ReLU followed by BatchNorm for the
// cotangent ȳ alone (gradient only) in one pass: per element the bits of
// MaskTo(h, x, x); h̄ = 0; CenteredSumsScaleAdd(s, h̄, ȳ, h, a, mu);
// MaskAdd(dst, x, h̄).
func ReLUAffineVJP[T tensor.Float](s *[2]Lanes, dst, x, yBar []T, a, mu float64) {
	n := len(dst)
	x, yBar = x[:n], yBar[:n]
	if is32[T]() {
		affine32.reluAffineVJP(s, as32(dst), as32(x), as32(yBar), a, mu)
	} else {
		affine64.reluAffineVJP(s, as64(dst), as64(x), as64(yBar), a, mu)
	}
}

// ReLUAffineVJPTo is ReLUAffineVJP into a zeroed dst: its values are not
// read, and it receives the bits that clearing it and ReLUAffineVJP give.
func ReLUAffineVJPTo[T tensor.Float](s *[2]Lanes, dst, x, yBar []T, a, mu float64) {
	n := len(dst)
	x, yBar = x[:n], yBar[:n]
	if is32[T]() {
		affine32.reluAffineVJPTo(s, as32(dst), as32(x), as32(yBar), a, mu)
	} else {
		affine64.reluAffineVJPTo(s, as64(dst), as64(x), as64(yBar), a, mu)
	}
}

// CenteredSquares adds (x[i] − mu)² to the lanes s.
func CenteredSquares[T tensor.Float](s *Lanes, x []T, mu float64) {
	if is32[T]() {
		affine32.centeredSquares(s, as32(x), mu)
	} else {
		affine64.centeredSquares(s, as64(x), mu)
	}
}

// LinearTo writes dst[i] = (p·v[i] + q·(x[i] − mu)) + r.
func LinearTo[T tensor.Float](dst, v, x []T, p, q, mu, r float64) {
	v, x = v[:len(dst)], x[:len(dst)]
	if is32[T]() {
		affine32.linearTo(as32(dst), as32(v), as32(x), p, q, mu, r)
	} else {
		affine64.linearTo(as64(dst), as64(v), as64(x), p, q, mu, r)
	}
}

// LinearAdd adds (p·v[i] + q·(x[i] − mu)) + r, rounded to T, to dst[i].
func LinearAdd[T tensor.Float](dst, v, x []T, p, q, mu, r float64) {
	v, x = v[:len(dst)], x[:len(dst)]
	if is32[T]() {
		affine32.linearAdd(as32(dst), as32(v), as32(x), p, q, mu, r)
	} else {
		affine64.linearAdd(as64(dst), as64(v), as64(x), p, q, mu, r)
	}
}

// LinearAdd2 adds ((p·u[i] + p2·v[i]) + q·(x[i] − mu)) + r, rounded to T,
// to dst[i].
func LinearAdd2[T tensor.Float](dst, u, v, x []T, p, p2, q, mu, r float64) {
	u, v, x = u[:len(dst)], v[:len(dst)], x[:len(dst)]
	if is32[T]() {
		affine32.linearAdd2(as32(dst), as32(u), as32(v), as32(x), p, p2, q, mu, r)
	} else {
		affine64.linearAdd2(as64(dst), as64(u), as64(v), as64(x), p, p2, q, mu, r)
	}
}

// The pure-Go kernels. An explicit float64(…) around a product keeps the
// compiler from fusing it with the sum that follows.

func affineToGeneric[T tensor.Float](dst, x []T, a, mu, b float64) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = T(float64(a*(float64(v)-mu)) + b)
	}
}

func reluAffineToGeneric[T tensor.Float](dst, x []T, a, mu, b float64) {
	x = x[:len(dst)]
	for i, v := range x {
		if !(v > 0) {
			v = 0
		}
		dst[i] = T(float64(a*(float64(v)-mu)) + b)
	}
}

func affineJVPToGeneric[T tensor.Float](y, yDot, x, xDot []T, a, c, mu, b, d float64) {
	yDot, x, xDot = yDot[:len(y)], x[:len(y)], xDot[:len(y)]
	for i, v := range x {
		xc := float64(v) - mu
		y[i] = T(float64(a*xc) + b)
		yDot[i] = T(float64(T(float64(c*xc)+d)) + float64(a*float64(xDot[i])))
	}
}

func scaleAddGeneric[T tensor.Float](dst, y []T, a float64) {
	y = y[:len(dst)]
	for i, v := range y {
		dst[i] += T(a * float64(v))
	}
}

func centeredSumsGeneric[T tensor.Float](s *[2]Lanes, y, x []T, mu float64) {
	x = x[:len(y)]
	for i, v := range y {
		yv := float64(v)
		s[0][i&7] += yv
		s[1][i&7] += float64(yv * (float64(x[i]) - mu))
	}
}

func centeredSumsScaleAddGeneric[T tensor.Float](s *[2]Lanes, dst, y, x []T, a, mu float64) {
	y, x = y[:len(dst)], x[:len(dst)]
	for i, v := range y {
		yv := float64(v)
		s[0][i&7] += yv
		s[1][i&7] += float64(yv * (float64(x[i]) - mu))
		dst[i] += T(a * yv)
	}
}

func sumGeneric[T tensor.Float](s *Lanes, y []T) {
	for i, v := range y {
		s[i&7] += float64(v)
	}
}

func dotGeneric[T tensor.Float](s *Lanes, y, x []T) {
	x = x[:len(y)]
	for i, v := range y {
		s[i&7] += float64(float64(v) * float64(x[i]))
	}
}

func affineVJPPairGeneric[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], yBar[:n], yBarDot[:n]
	for i, v := range x {
		l := i & 7
		y, yd, xc := float64(yBar[i]), float64(yBarDot[i]), float64(v)-mu
		s[0][l] += y
		s[1][l] += float64(y * xc)
		dst[i] += T(a * y)
		s[2][l] += yd
		s[3][l] += float64(yd * xc)
		dstDot[i] = dstDot[i] + T(a*yd) + T(ad*y)
		s[4][l] += float64(y * float64(xDot[i]))
	}
}

// relu is max(v, +0) with relu(NaN) = +0, as MaskTo(v, v).
func relu[T tensor.Float](v T) T {
	if v > 0 {
		return v
	}
	return 0
}

func affineReLUToGeneric[T tensor.Float](dst, x []T, a, mu, b float64) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = relu(T(float64(a*(float64(v)-mu)) + b))
	}
}

func affineJVPReLUToGeneric[T tensor.Float](y, yDot, x, xDot []T, a, c, mu, b, d float64) {
	yDot, x, xDot = yDot[:len(y)], x[:len(y)], xDot[:len(y)]
	for i, v := range x {
		xc := float64(v) - mu
		z := T(float64(a*xc) + b)
		if z > 0 {
			y[i] = z
			yDot[i] = T(float64(T(float64(c*xc)+d)) + float64(a*float64(xDot[i])))
		} else {
			y[i], yDot[i] = 0, 0
		}
	}
}

func affineAddReLUToGeneric[T tensor.Float](dst, x, s []T, a, mu, b float64) {
	x, s = x[:len(dst)], s[:len(dst)]
	for i, v := range x {
		dst[i] = relu(T(float64(a*(float64(v)-mu))+b) + s[i])
	}
}

func affineJVPAddReLUToGeneric[T tensor.Float](y, yDot, x, xDot, s, sDot []T, a, c, mu, b, d float64) {
	n := len(y)
	yDot, x, xDot, s, sDot = yDot[:n], x[:n], xDot[:n], s[:n], sDot[:n]
	for i, v := range x {
		xc := float64(v) - mu
		z := T(float64(a*xc)+b) + s[i]
		if z > 0 {
			y[i] = z
			yDot[i] = T(float64(T(float64(c*xc)+d))+float64(a*float64(xDot[i]))) + sDot[i]
		} else {
			y[i], yDot[i] = 0, 0
		}
	}
}

func affineReLUVJPPairGeneric[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, y, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], y[:n], yBar[:n], yBarDot[:n]
	for i, v := range x {
		l := i & 7
		var yb, ybd T
		if y[i] > 0 {
			yb, ybd = 0+yBar[i], 0+yBarDot[i]
		}
		y, yd, xc := float64(yb), float64(ybd), float64(v)-mu
		s[0][l] += y
		s[1][l] += float64(y * xc)
		dst[i] += T(a * y)
		s[2][l] += yd
		s[3][l] += float64(yd * xc)
		dstDot[i] = dstDot[i] + T(a*yd) + T(ad*y)
		s[4][l] += float64(y * float64(xDot[i]))
	}
}

func affineReLUVJPPairToGeneric[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	clear(dst)
	clear(dstDot[:len(dst)])
	affineReLUVJPPairGeneric(s, dst, dstDot, x, xDot, y, yBar, yBarDot, a, ad, mu)
}

func affineAddReLUVJPPairToGeneric[T tensor.Float](s *[5]Lanes, dst, dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	clear(dst)
	clear(dstDot[:n])
	clear(sBar[:n])
	clear(sBarDot[:n])
	affineAddReLUVJPPairGeneric(s, dst, dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot, a, ad, mu)
}

func reluAffineVJPPairToGeneric[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []T, a, ad, mu float64) {
	clear(dst)
	clear(dstDot[:len(dst)])
	reluAffineVJPPairGeneric(s, dst, dstDot, x, xDot, yBar, yBarDot, a, ad, mu)
}

func affineReLUVJPToGeneric[T tensor.Float](s *[2]Lanes, dst, x, y, yBar []T, a, mu float64) {
	clear(dst)
	affineReLUVJPGeneric(s, dst, x, y, yBar, a, mu)
}

func affineAddReLUVJPToGeneric[T tensor.Float](s *[2]Lanes, dst, sBar, x, y, yBar []T, a, mu float64) {
	clear(dst)
	clear(sBar[:len(dst)])
	affineAddReLUVJPGeneric(s, dst, sBar, x, y, yBar, a, mu)
}

func affineReLUVJPGeneric[T tensor.Float](s *[2]Lanes, dst, x, y, yBar []T, a, mu float64) {
	n := len(dst)
	x, y, yBar = x[:n], y[:n], yBar[:n]
	for i, v := range x {
		l := i & 7
		var u T
		if y[i] > 0 {
			u = 0 + yBar[i]
		}
		yv := float64(u)
		s[0][l] += yv
		s[1][l] += float64(yv * (float64(v) - mu))
		dst[i] += T(a * yv)
	}
}

func affineAddReLUVJPGeneric[T tensor.Float](s *[2]Lanes, dst, sBar, x, y, yBar []T, a, mu float64) {
	n := len(dst)
	addReLUCotangentGeneric(sBar[:n], y, yBar)
	affineReLUVJPGeneric(s, dst, x, y, yBar, a, mu)
}

func affineAddReLUVJPPairGeneric[T tensor.Float](s *[5]Lanes, dst, dstDot, sBar, sBarDot, x, xDot, y, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	addReLUCotangentGeneric(sBar[:n], y, yBar)
	addReLUCotangentGeneric(sBarDot[:n], y, yBarDot)
	affineReLUVJPPairGeneric(s, dst, dstDot, x, xDot, y, yBar, yBarDot, a, ad, mu)
}

// addReLUCotangentGeneric adds a ReLU's cotangent 0 + yBar[i] where
// y[i] > 0, +0 elsewhere, to sBar[i], as the kernels form it (0 + yBar,
// so −0 becomes +0) and Add's VJP adds it.
func addReLUCotangentGeneric[T tensor.Float](sBar, y, yBar []T) {
	y, yBar = y[:len(sBar)], yBar[:len(sBar)]
	for i := range sBar {
		if y[i] > 0 {
			sBar[i] += 0 + yBar[i]
		} else {
			sBar[i] += 0
		}
	}
}

func reluAffineVJPToGeneric[T tensor.Float](s *[2]Lanes, dst, x, yBar []T, a, mu float64) {
	clear(dst)
	reluAffineVJPGeneric(s, dst, x, yBar, a, mu)
}

func reluAffineVJPGeneric[T tensor.Float](s *[2]Lanes, dst, x, yBar []T, a, mu float64) {
	n := len(dst)
	x, yBar = x[:n], yBar[:n]
	for i, v := range x {
		l := i & 7
		var h T
		if v > 0 {
			h = v
		}
		y := float64(yBar[i])
		s[0][l] += y
		s[1][l] += float64(y * (float64(h) - mu))
		hb := 0 + T(a*y)
		if v > 0 {
			dst[i] += hb
		} else {
			dst[i] += 0 // as MaskAdd adds +0 (−0 becomes +0)
		}
	}
}

func centeredSquaresGeneric[T tensor.Float](s *Lanes, x []T, mu float64) {
	for i, v := range x {
		d := float64(v) - mu
		s[i&7] += float64(d * d)
	}
}

func linearToGeneric[T tensor.Float](dst, v, x []T, p, q, mu, r float64) {
	v, x = v[:len(dst)], x[:len(dst)]
	for i, xi := range x {
		dst[i] = T(float64(p*float64(v[i])) + float64(q*(float64(xi)-mu)) + r)
	}
}

func linearAddGeneric[T tensor.Float](dst, v, x []T, p, q, mu, r float64) {
	v, x = v[:len(dst)], x[:len(dst)]
	for i, xi := range x {
		dst[i] += T(float64(p*float64(v[i])) + float64(q*(float64(xi)-mu)) + r)
	}
}

func linearAdd2Generic[T tensor.Float](dst, u, v, x []T, p, p2, q, mu, r float64) {
	u, v, x = u[:len(dst)], v[:len(dst)], x[:len(dst)]
	for i, xi := range x {
		dst[i] += T(float64(float64(p*float64(u[i]))+float64(p2*float64(v[i]))) + float64(q*(float64(xi)-mu)) + r)
	}
}

func reluAffineVJPPairGeneric[T tensor.Float](s *[5]Lanes, dst, dstDot, x, xDot, yBar, yBarDot []T, a, ad, mu float64) {
	n := len(dst)
	dstDot, x, xDot, yBar, yBarDot = dstDot[:n], x[:n], xDot[:n], yBar[:n], yBarDot[:n]
	for i, v := range x {
		var h, hd, m T // relu(x), its tangent, and the mask as 0 or 1
		if v > 0 {
			h, hd, m = v, xDot[i], 1
		}
		l := i & 7
		y, yd, xc := float64(yBar[i]), float64(yBarDot[i]), float64(h)-mu
		s[0][l] += y
		s[1][l] += float64(y * xc)
		hb := 0 + T(a*y)
		s[2][l] += yd
		s[3][l] += float64(yd * xc)
		hbd := 0 + T(a*yd) + T(ad*y)
		s[4][l] += float64(y * float64(hd))
		if m != 0 {
			dst[i] += hb
			dstDot[i] += hbd
		} else {
			dst[i] += 0 // as MaskAdd2 adds +0 (−0 becomes +0)
			dstDot[i] += 0
		}
	}
}
