package autodiff_test

import (
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/tensor"
)

type T = float64

// tol is the largest relative error accepted against central differences
// in float64 (Step 1e-5: truncation ~1e-10, rounding ~1e-11).
const tol = 1e-7

func TestPrimitives(t *testing.T) {
	randn := gradcheck.Randn
	cases := []struct {
		name string
		prim func() autodiff.Primitive[T]
		x    []*tensor.Dense[T]
	}{
		{"linear", func() autodiff.Primitive[T] { return autodiff.Linear[T]{} },
			[]*tensor.Dense[T]{randn(1, 3, 5), randn(2, 4, 5), randn(3, 4)}},
		{"linear/nobias", func() autodiff.Primitive[T] { return autodiff.Linear[T]{} },
			[]*tensor.Dense[T]{randn(4, 1, 7), randn(5, 2, 7)}},
		{"relu", func() autodiff.Primitive[T] { return autodiff.ReLU[T]{} },
			[]*tensor.Dense[T]{randn(6, 2, 3, 4, 5)}},
		{"crossentropy", func() autodiff.Primitive[T] {
			return &autodiff.SoftmaxCrossEntropy[T]{Labels: []int{0, 3, 2}}
		}, []*tensor.Dense[T]{randn(7, 3, 4)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := gradcheck.Primitive(c.prim, c.x, 42)
			t.Logf("relative errors: JVP %.2g VJP %.2g VJPDot %.2g", e.JVP, e.VJP, e.VJPDot)
			if e.Max() > tol {
				t.Errorf("derivative error %+v exceeds %g", e, tol)
			}
		})
	}
}
