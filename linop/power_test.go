package linop_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"hesscope/linop"
	"hesscope/linop/linoptest"
)

// TestPower checks PyHessian's default (Tol 1e-3) against the error it
// implies, Tol·r²/(1−r²) with r = |λ₂/λ₁|, on matrices whose dominant
// eigenvalue is positive or negative.
func TestPower(t *testing.T) {
	cat := slices.Concat[[]float64]
	for _, m := range []*linoptest.Matrix{
		linoptest.New("outliers", cat(linoptest.Uniform(194, -0.1, 1, 11), []float64{-0.5, 5, 10, 20, 30, 50}), 1),
		linoptest.New("negative-dominant", cat(linoptest.Uniform(47, -2, 3, 2), []float64{-12, 7, 8}), 2),
		linoptest.New("n2", []float64{-1, 4}, 3),
		linoptest.New("n1", []float64{-2}, 4),
	} {
		byMag := slices.Clone(m.Values)
		slices.SortFunc(byMag, func(a, b float64) int { return -cmpAbs(a, b) })
		r := 0.0
		if len(byMag) > 1 {
			r = math.Abs(byMag[1] / byMag[0])
		}
		for _, tol := range []float64{0, 1e-6} {
			eig, err := linop.Power(m.Op(), linop.PowerOptions{Tol: tol, Seed: 7})
			if err != nil {
				t.Errorf("%s tol=%g: %v", m.Name, tol, err)
			}
			if tol == 0 {
				tol = 1e-3
			}
			bound := 2*tol*r*r/(1-r*r) + 1e-14
			e := math.Abs(eig.Values[0]-byMag[0]) / math.Abs(byMag[0])
			if e > bound {
				t.Errorf("%s tol=%g: λ = %.10g, want %g (relative error %.2g > %.2g)", m.Name, tol, eig.Values[0], byMag[0], e, bound)
			}
			checkResidual(t, m, eig)
			t.Logf("%s tol=%g: %d matvecs, relative error %.2g (bound %.2g)", m.Name, tol, eig.MatVecs, e, bound)
		}
	}
}

func cmpAbs(a, b float64) int {
	switch {
	case math.Abs(a) < math.Abs(b):
		return -1
	case math.Abs(a) > math.Abs(b):
		return 1
	}
	return 0
}

// checkResidual recomputes ‖Av−λv‖ and checks unit norm.
func checkResidual(t *testing.T, m *linoptest.Matrix, eig linop.Eigen) {
	t.Helper()
	av := make([]float64, m.Dim())
	for i, v := range eig.Vectors {
		if d := math.Abs(floats.Norm(v, 2) - 1); d > 1e-14 {
			t.Errorf("%s: ‖v%d‖ − 1 = %g", m.Name, i, d)
		}
		m.Op().Apply(av, v)
		floats.AddScaled(av, -eig.Values[i], v)
		if r := floats.Norm(av, 2); math.Abs(r-eig.Residuals[i]) > 1e-13*m.Norm() {
			t.Errorf("%s: residual %d reported %g, recomputed %g", m.Name, i, eig.Residuals[i], r)
		}
	}
}

// TestPowerDeflation finds the top 3 in magnitude by deflation.
func TestPowerDeflation(t *testing.T) {
	m := linoptest.New("deflate", slices.Concat(linoptest.Uniform(97, -1, 1, 5), []float64{-20, 10, 40}), 6)
	eig, err := linop.Power(m.Op(), linop.PowerOptions{K: 3, Tol: 1e-12, MaxIter: 1000, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{40, -20, 10} {
		if e := math.Abs(eig.Values[i]-w) / math.Abs(w); e > 1e-8 {
			t.Errorf("value %d = %.12g, want %g", i, eig.Values[i], w)
		}
	}
	if d := math.Abs(floats.Dot(eig.Vectors[0], eig.Vectors[2])); d > 1e-12 {
		t.Errorf("⟨v0, v2⟩ = %g", d)
	}
	checkResidual(t, m, eig)
	t.Logf("%d matvecs, values %.12g", eig.MatVecs, eig.Values)
}

// TestPowerRule replays PyHessian's stopping rule through the progress
// callback: the iteration stops at the first relative change below Tol.
func TestPowerRule(t *testing.T) {
	m := linoptest.New("rule", slices.Concat(linoptest.Uniform(48, 0, 1, 8), []float64{2, 3}), 9)
	var vals []float64
	eig, err := linop.Power(m.Op(), linop.PowerOptions{Seed: 3, Progress: func(p linop.Progress) {
		if !p.Final {
			vals = append(vals, p.Values[len(p.Values)-1])
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != eig.MatVecs || eig.Iterations != eig.MatVecs {
		t.Fatalf("%d progress calls, %d matvecs, %d iterations", len(vals), eig.MatVecs, eig.Iterations)
	}
	for i := 1; i < len(vals); i++ {
		stop := math.Abs(vals[i-1]-vals[i])/(math.Abs(vals[i-1])+1e-6) < 1e-3
		if stop != (i == len(vals)-1) {
			t.Errorf("iteration %d: rule says stop=%v, but %d iterations ran", i, stop, len(vals))
		}
	}
	if eig.Values[0] != vals[len(vals)-1] {
		t.Errorf("returned %g, last Rayleigh quotient %g", eig.Values[0], vals[len(vals)-1])
	}
}

func TestPowerNotConverged(t *testing.T) {
	m := linoptest.New("close", linoptest.Span(100, 1, 2), 10)
	eig, err := linop.Power(m.Op(), linop.PowerOptions{MaxIter: 5, Tol: 1e-9, K: 2})
	var nc *linop.NotConvergedError
	if !errors.As(err, &nc) || nc.Unconverged != 2 || nc.MatVecs != 10 || eig.Converged[0] || len(eig.Values) != 2 {
		t.Errorf("err %v, result %+v", err, eig)
	}
}

func TestPowerZero(t *testing.T) {
	eig, err := linop.Power(linop.NewDense(mat.NewSymDense(3, nil)), linop.PowerOptions{K: 3})
	if err != nil || eig.MatVecs != 3 || eig.Values[2] != 0 || eig.Residuals[2] != 0 {
		t.Errorf("zero operator: %+v, %v", eig, err)
	}
}
