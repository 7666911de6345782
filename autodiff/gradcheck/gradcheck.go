// Package gradcheck checks the derivatives of autodiff primitives and of
// whole computations against central finite differences in float64, the way
// JAX's check_grads does: the JVP by a central difference along a random
// direction, the VJP by the inner-product identity ⟨ȳ, Jẋ⟩ = ⟨Jᵀȳ, ẋ⟩, and
// the tangent of the VJP by a central difference of the VJP. Fused paths
// (autodiff.PairJVP, autodiff.PairVJP) are checked against the separate
// calls they replace.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// Step is the finite-difference step; with central differences in float64
// the truncation and rounding errors are both around 1e-10 relative.
const Step = 1e-5

type T = float64

// Errors holds the largest relative errors a check found.
type Errors struct {
	JVP, VJP, VJPDot float64
	// Pair is the relative difference between the fused ForwardJVP and
	// VJPPair, where the primitive has them, and the separate calls.
	Pair float64
}

// Max returns the largest of the errors.
func (e Errors) Max() float64 { return max(e.JVP, e.VJP, e.VJPDot, e.Pair) }

// Primitive checks newPrim's JVP, VJP and VJPDot at x, once with tangents on
// every input and once for each input alone (the others nil). newPrim must
// return a fresh primitive each call. The returned errors are relative to the
// size of the compared quantities.
func Primitive(newPrim func() autodiff.Primitive[T], x []*tensor.Dense[T], seed uint64) Errors {
	rng := rand.New(rand.NewPCG(seed, 1))
	var worst Errors
	subsets := [][]bool{all(len(x))}
	if len(x) > 1 {
		for i := range x {
			s := make([]bool, len(x))
			s[i] = true
			subsets = append(subsets, s)
		}
	}
	for _, on := range subsets {
		xDot := make([]*tensor.Dense[T], len(x))
		for i := range x {
			if on[i] {
				xDot[i] = randn(rng, x[i].Shape)
			}
		}
		e := checkOnce(newPrim, x, xDot, rng)
		worst.JVP = max(worst.JVP, e.JVP)
		worst.VJP = max(worst.VJP, e.VJP)
		worst.VJPDot = max(worst.VJPDot, e.VJPDot)
		worst.Pair = max(worst.Pair, e.Pair)
	}
	return worst
}

func all(n int) []bool {
	s := make([]bool, n)
	for i := range s {
		s[i] = true
	}
	return s
}

func checkOnce(newPrim func() autodiff.Primitive[T], x, xDot []*tensor.Dense[T], rng *rand.Rand) Errors {
	forward := func(x []*tensor.Dense[T]) (autodiff.Primitive[T], *tensor.Dense[T]) {
		p := newPrim()
		y := tensor.New[T](p.Shape(x)...)
		p.Forward(y, x)
		return p, y
	}
	p, y := forward(x)
	yDot := tensor.New[T](y.Shape...)
	p.JVP(yDot, x, xDot, y)

	// JVP against a central difference of the forward pass.
	_, yPlus := forward(shift(x, xDot, Step))
	_, yMinus := forward(shift(x, xDot, -Step))
	fd := make([]T, len(y.Data))
	for i := range fd {
		fd[i] = (yPlus.Data[i] - yMinus.Data[i]) / (2 * Step)
	}
	var e Errors
	e.JVP = RelErr(yDot.Data, fd)

	// VJP by the inner-product identity.
	yBar := randn(rng, y.Shape)
	xBar := zerosLike(x)
	p.VJP(xBar, yBar, x, y)
	lhs := dot(yBar.Data, yDot.Data)
	var rhs float64
	for i := range x {
		if xDot[i] != nil {
			rhs += dot(xBar[i].Data, xDot[i].Data)
		}
	}
	e.VJP = math.Abs(lhs-rhs) / max(math.Abs(lhs), math.Abs(rhs), 1e-300)

	// VJPDot (with ȳ fixed and ȳ̇ = 0, only the curvature term) against a
	// central difference of the VJP along ẋ.
	vjpAt := func(x []*tensor.Dense[T]) []*tensor.Dense[T] {
		p, y := forward(x)
		b := zerosLike(x)
		p.VJP(b, yBar, x, y)
		return b
	}
	bPlus, bMinus := vjpAt(shift(x, xDot, Step)), vjpAt(shift(x, xDot, -Step))
	xBarDot := zerosLike(x)
	if c, ok := p.(autodiff.Curved[T]); ok {
		c.CurvatureVJP(xBarDot, yBar, x, xDot, y, yDot)
	}
	var got, want []T
	for i := range x {
		got = append(got, xBarDot[i].Data...)
		for j := range bPlus[i].Data {
			want = append(want, (bPlus[i].Data[j]-bMinus[i].Data[j])/(2*Step))
		}
	}
	e.VJPDot = RelErr(got, want)
	e.Pair = checkPairs(newPrim, x, xDot, rng)
	return e
}

// checkPairs compares the fused paths of a primitive, if it has them, with
// the separate calls: ForwardJVP with Forward and JVP, and VJPPair with VJP
// of ȳ, VJP of ȳ̇ and CurvatureVJP, into cotangents that already hold
// values (they must be added to), with ȳ̇ random or nil, and with the first
// input's cotangent not wanted.
func checkPairs(newPrim func() autodiff.Primitive[T], x, xDot []*tensor.Dense[T], rng *rand.Rand) float64 {
	var worst float64
	p := newPrim()
	y := tensor.New[T](p.Shape(x)...)
	p.Forward(y, x)
	yDot := tensor.New[T](y.Shape...)
	p.JVP(yDot, x, xDot, y)
	if pj, ok := newPrim().(autodiff.PairJVP[T]); ok {
		y2, yDot2 := tensor.New[T](y.Shape...), tensor.New[T](y.Shape...)
		for i := range y2.Data { // garbage that must be overwritten
			y2.Data[i], yDot2.Data[i] = math.NaN(), math.Inf(1)
		}
		pj.ForwardJVP(y2, yDot2, x, xDot)
		worst = max(worst, RelErr(y2.Data, y.Data), RelErr(yDot2.Data, yDot.Data))
	}
	if _, ok := newPrim().(autodiff.PairVJP[T]); !ok {
		return worst
	}
	yBar, yBarDot := randn(rng, y.Shape), randn(rng, y.Shape)
	init := make([]*tensor.Dense[T], len(x))
	for i := range x {
		init[i] = randn(rng, x[i].Shape)
	}
	noDots := make([]*tensor.Dense[T], len(x))
	for _, c := range []struct {
		noYBarDot, noFirst, noDots bool
	}{{false, false, false}, {true, false, false}, {false, true, false}, {false, false, true}} {
		if c.noFirst && len(x) < 2 {
			continue
		}
		ybd := yBarDot
		if c.noYBarDot {
			ybd = nil
		}
		xd := xDot
		if c.noDots {
			xd = noDots
		}
		cots := func() (bar, barDot []*tensor.Dense[T]) {
			bar, barDot = make([]*tensor.Dense[T], len(x)), make([]*tensor.Dense[T], len(x))
			for i := range x {
				if i == 0 && c.noFirst {
					continue
				}
				bar[i], barDot[i] = init[i].Clone(), init[i].Clone()
			}
			return bar, barDot
		}
		// Separate calls, as the tape makes them without VJPPair.
		sp := newPrim()
		sp.Forward(tensor.New[T](y.Shape...), x)
		bar, barDot := cots()
		sp.VJP(bar, yBar, x, y)
		if ybd != nil {
			sp.VJP(barDot, ybd, x, y)
		}
		if cv, ok := sp.(autodiff.Curved[T]); ok && !c.noDots {
			cv.CurvatureVJP(barDot, yBar, x, xDot, y, yDot)
		}
		pp := newPrim()
		pp.Forward(tensor.New[T](y.Shape...), x)
		bar2, barDot2 := cots()
		pp.(autodiff.PairVJP[T]).VJPPair(bar2, barDot2, yBar, ybd, x, xd, y, yDot)
		for i := range x {
			if bar[i] != nil {
				worst = max(worst, RelErr(bar2[i].Data, bar[i].Data), RelErr(barDot2[i].Data, barDot[i].Data))
			}
		}
	}
	return worst
}

// RelErr returns ‖got − want‖∞ / max(‖want‖∞, ‖got‖∞), or the absolute
// error when both are below 1e-12 (a zero derivative).
func RelErr(got, want []T) float64 {
	if len(got) != len(want) {
		panic(fmt.Sprintf("gradcheck: comparing %d with %d values", len(got), len(want)))
	}
	var diff, scale float64
	for i := range got {
		diff = max(diff, math.Abs(got[i]-want[i]))
		scale = max(scale, math.Abs(got[i]), math.Abs(want[i]))
	}
	if scale < 1e-12 {
		return diff
	}
	return diff / scale
}

func shift(x, d []*tensor.Dense[T], h float64) []*tensor.Dense[T] {
	out := make([]*tensor.Dense[T], len(x))
	for i := range x {
		out[i] = x[i].Clone()
		if d[i] != nil {
			for j, v := range d[i].Data {
				out[i].Data[j] += h * v
			}
		}
	}
	return out
}

func zerosLike(x []*tensor.Dense[T]) []*tensor.Dense[T] {
	out := make([]*tensor.Dense[T], len(x))
	for i := range x {
		out[i] = tensor.New[T](x[i].Shape...)
	}
	return out
}

func randn(rng *rand.Rand, shape []int) *tensor.Dense[T] {
	t := tensor.New[T](shape...)
	for i := range t.Data {
		t.Data[i] = rng.NormFloat64()
	}
	return t
}

// Randn returns a tensor of standard normal values from a seeded generator,
// for building test inputs.
func Randn(seed uint64, shape ...int) *tensor.Dense[T] {
	return randn(rand.New(rand.NewPCG(seed, 2)), shape)
}

func dot(a, b []T) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
