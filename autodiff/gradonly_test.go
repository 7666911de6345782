package autodiff_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/tensor"
)

// TestLeafGradDotOnly runs every primitive of the table on a tape, seeded
// with a random ȳ (so ȳ̇ is zero) or followed by tanhHead (so it is not), and checks that leaves recorded with
// LeafGradDotOnly get no cotangent and the same bits for the tangent of the
// cotangent as when the cotangent is computed too, and that the other leaves
// are unaffected: for each input alone and for all of them, with tangents on
// every input or on one.
func TestLeafGradDotOnly(t *testing.T) {
	type result struct{ grad, gradDot []*tensor.Dense[T] }
	run := func(c primCase, xDot []*tensor.Dense[T], dotOnly []bool, head bool) result {
		tp := autodiff.NewTape[T]()
		leaves := make([]autodiff.Var, len(c.x))
		for i, x := range c.x {
			if dotOnly[i] {
				leaves[i] = tp.LeafGradDotOnly(x, xDot[i])
			} else {
				leaves[i] = tp.Leaf(x, xDot[i], true)
			}
		}
		out := tp.Apply(c.prim(), leaves...)
		if head {
			out = tanhHead(tp, out)
		}
		tp.BackwardFrom(out, seed(tp.Value(out).Shape), true)
		var r result
		for _, l := range leaves {
			r.grad = append(r.grad, clone(tp.Grad(l)))
			r.gradDot = append(r.gradDot, clone(tp.GradDot(l)))
		}
		return r
	}
	for _, c := range primitiveCases() {
		t.Run(c.name, func(t *testing.T) {
			n := len(c.x)
			var tangents [][]bool // which inputs carry a tangent
			tangents = append(tangents, allSet(n))
			var only [][]bool // which leaves want no cotangent
			for j := range n {
				only = append(only, oneHot(n, j))
				if n > 1 {
					tangents = append(tangents, oneHot(n, j))
				}
			}
			if n > 1 {
				only = append(only, allSet(n))
			}
			for ti, on := range tangents {
				xDot := make([]*tensor.Dense[T], n)
				for i, x := range c.x {
					if on[i] {
						xDot[i] = gradcheck.Randn(uint64(300+10*ti+i), x.Shape...)
					}
				}
				nonZero := false
				for _, head := range []bool{false, true} {
					want := run(c, xDot, make([]bool, n), head)
					nonZero = nonZero || !allZero(want.gradDot)
					for _, d := range only {
						got := run(c, xDot, d, head)
						name := fmt.Sprintf("head %v, tangents %v, dot-only %v", head, on, d)
						for i := range n {
							if d[i] {
								if got.grad[i] != nil {
									t.Errorf("%s: input %d has a cotangent", name, i)
								}
							} else if !sameBits(got.grad[i], want.grad[i]) {
								t.Errorf("%s: cotangent of input %d changed", name, i)
							}
							if !sameBits(got.gradDot[i], want.gradDot[i]) {
								t.Errorf("%s: tangent of the cotangent of input %d differs from the full pass (max |Δ| %.3g)", name, i, maxDiff(got.gradDot[i], want.gradDot[i]))
							}
						}
					}
				}
				if !nonZero {
					t.Fatalf("tangents %v: the reference tangents of the cotangents are all zero: the test cannot fail", on)
				}
			}
		})
	}
}

// seed returns a seeded random cotangent of the given shape.
func seed(shape []int) *tensor.Dense[T] { return gradcheck.Randn(299, shape...) }

// tanhHead records tanh(W·flatten(y)) with W [2, len(y)] random, scaled so
// that the products are of order one (tanh far from saturation): its
// cotangent's tangent ȳ̇ is dense and not zero.
func tanhHead(tp *autodiff.Tape[T], y autodiff.Var) autodiff.Var {
	v := tp.Value(y)
	var ss float64
	for _, e := range v.Data {
		ss += e * e
	}
	w := gradcheck.Randn(298, 2, len(v.Data))
	for i := range w.Data {
		w.Data[i] /= max(math.Sqrt(ss), 1)
	}
	flat := tp.Apply(autodiff.Reshape[T]{Dims: []int{1, -1}}, y)
	return tp.Apply(autodiff.Tanh[T]{}, tp.Apply(autodiff.Linear[T]{}, flat, tp.Leaf(w, nil, false)))
}

// oneHot returns n flags with only flag j set.
func oneHot(n, j int) []bool {
	s := make([]bool, n)
	s[j] = true
	return s
}

// allSet returns n set flags.
func allSet(n int) []bool {
	s := make([]bool, n)
	for i := range s {
		s[i] = true
	}
	return s
}

func clone(t *tensor.Dense[T]) *tensor.Dense[T] {
	if t == nil {
		return nil
	}
	return t.Clone()
}

// sameBits reports whether a and b are both nil or hold identical bits.
func sameBits(a, b *tensor.Dense[T]) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !slices.Equal(a.Shape, b.Shape) {
		return false
	}
	for i := range a.Data {
		if math.Float64bits(a.Data[i]) != math.Float64bits(b.Data[i]) {
			return false
		}
	}
	return true
}

func maxDiff(a, b *tensor.Dense[T]) float64 {
	if a == nil || b == nil {
		return math.Inf(1)
	}
	var d float64
	for i := range a.Data {
		d = max(d, math.Abs(a.Data[i]-b.Data[i]))
	}
	return d
}

func allZero(ts []*tensor.Dense[T]) bool {
	for _, t := range ts {
		if t != nil && slices.ContainsFunc(t.Data, func(v T) bool { return v != 0 }) {
			return false
		}
	}
	return true
}
