package autodiff_test

import (
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/tensor"
)

// brokenTanh is Tanh with one deliberately wrong derivative.
type brokenTanh struct {
	autodiff.Tanh[T]
	wrong string // "jvp", "vjp" or "curvature"
}

func (b brokenTanh) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	b.Tanh.JVP(yDot, x, xDot, y)
	if b.wrong == "jvp" {
		yDot.Data[0] *= 1.001
	}
}

func (b brokenTanh) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T]) {
	if b.wrong == "vjp" {
		// A spurious 10⁻³·ȳ on one element.
		xBar[0].Data[1] += 1e-3 * yBar.Data[1]
	}
	b.Tanh.VJP(xBar, yBar, x, y)
}

func (b brokenTanh) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, yDot *tensor.Dense[T]) {
	if b.wrong == "curvature" {
		// The classic slip: y(1 − y²) instead of 2y(1 − y²).
		for i, v := range y.Data {
			xBarDot[0].Data[i] += -v * (1 - v*v) * xDot[0].Data[i] * yBar.Data[i]
		}
		return
	}
	b.Tanh.CurvatureVJP(xBarDot, yBar, x, xDot, y, yDot)
}

// uncurved hides a primitive's CurvatureVJP, as if it had been forgotten.
type uncurved struct{ p autodiff.Primitive[T] }

func (u uncurved) Shape(x []*tensor.Dense[T]) []int                 { return u.p.Shape(x) }
func (u uncurved) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) { u.p.Forward(y, x) }
func (u uncurved) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T]) {
	u.p.JVP(yDot, x, xDot, y)
}
func (u uncurved) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T]) {
	u.p.VJP(xBar, yBar, x, y)
}

// noBiasGrad is Conv2d whose VJP forgets b̄.
type noBiasGrad struct{ autodiff.Conv2d[T] }

func (c noBiasGrad) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T]) {
	c.Conv2d.VJP(xBar[:2], yBar, x, y)
}

// TestGradcheckDetects makes sure the harness behind TestPrimitives can
// fail: each deliberately wrong derivative must exceed the tolerance, in the
// component it breaks.
func TestGradcheckDetects(t *testing.T) {
	x := []*tensor.Dense[T]{gradcheck.Randn(1, 3, 4)}
	conv := []*tensor.Dense[T]{gradcheck.Randn(2, 2, 2, 5, 5), gradcheck.Randn(3, 3, 2, 3, 3), gradcheck.Randn(4, 3)}
	for _, c := range []struct {
		name  string
		prim  primFactory
		x     []*tensor.Dense[T]
		error func(gradcheck.Errors) float64
	}{
		{"jvp", func() autodiff.Primitive[T] { return brokenTanh{wrong: "jvp"} }, x, func(e gradcheck.Errors) float64 { return e.JVP }},
		{"vjp", func() autodiff.Primitive[T] { return brokenTanh{wrong: "vjp"} }, x, func(e gradcheck.Errors) float64 { return e.VJP }},
		{"curvature", func() autodiff.Primitive[T] { return brokenTanh{wrong: "curvature"} }, x, func(e gradcheck.Errors) float64 { return e.VJPDot }},
		{"no-curvature/softplus", func() autodiff.Primitive[T] { return uncurved{autodiff.Softplus[T]{}} }, x, func(e gradcheck.Errors) float64 { return e.VJPDot }},
		{"no-curvature/conv", func() autodiff.Primitive[T] { return uncurved{autodiff.Conv2d[T]{Padding: 1}} }, conv, func(e gradcheck.Errors) float64 { return e.VJPDot }},
		{"no-bias-grad/conv", func() autodiff.Primitive[T] { return noBiasGrad{autodiff.Conv2d[T]{Padding: 1}} }, conv, func(e gradcheck.Errors) float64 { return e.VJP }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := gradcheck.Primitive(c.prim, c.x, 42)
			t.Logf("relative errors: JVP %.2g VJP %.2g VJPDot %.2g", e.JVP, e.VJP, e.VJPDot)
			if got := c.error(e); got < 100*tol {
				t.Errorf("a wrong %s gave error %.2g, not clearly above the tolerance %g", c.name, got, tol)
			}
		})
	}
}
