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

// wanted returns the k eigenvalues of the ascending vals that which asks
// for, in the solver's order.
func wanted(vals []float64, k int, which linop.Which) []float64 {
	w := slices.Clone(vals)
	switch which {
	case linop.Largest:
		slices.Reverse(w)
	case linop.LargestMagnitude:
		slices.SortStableFunc(w, func(a, b float64) int { return -cmpAbs(a, b) })
	}
	return w[:k]
}

// TestPower compares every end of the spectrum with the dense eigenvalues:
// each value lies within its residual of the wanted eigenvalue, the
// residual is the true ‖Av−λv‖ and meets the bound it claims.
func TestPower(t *testing.T) {
	cat := slices.Concat[[]float64]
	gapped := linoptest.New("gapped", cat(linoptest.Uniform(96, -1, 1, 11), []float64{-4, -3, 6, 8}), 1)
	negDom := linoptest.New("negative-dominant", cat(linoptest.Uniform(47, -2, 3, 2), []float64{-12, 7, 8}), 2)
	positive := linoptest.New("positive", cat(linoptest.Uniform(60, 2, 3, 5), []float64{1, 1.5, 9}), 6)
	negative := linoptest.New("negative", cat(linoptest.Uniform(60, -3, -2, 5), []float64{-9, -1.5, -1}), 7)
	n2 := linoptest.New("n2", []float64{-1, 4}, 3)
	n1 := linoptest.New("n1", []float64{-2}, 4)
	for _, tc := range []struct {
		m     *linoptest.Matrix
		which linop.Which
		k     int
	}{
		{gapped, linop.LargestMagnitude, 3},
		{gapped, linop.Largest, 2},
		{gapped, linop.Smallest, 2},
		{negDom, linop.LargestMagnitude, 2},
		{negDom, linop.Largest, 2},
		{negDom, linop.Smallest, 1},
		{positive, linop.Smallest, 2}, // dominant at the other end
		{negative, linop.Largest, 2},
		{positive, linop.Largest, 1},
		{n2, linop.Smallest, 2},
		{n2, linop.Largest, 1},
		{n1, linop.Largest, 1},
		{n1, linop.Smallest, 1},
	} {
		const tol = 1e-8
		eig, err := linop.Power(tc.m.Op(), tc.which, linop.PowerOptions{K: tc.k, Tol: tol, MaxIter: 5000, Seed: 7})
		if err != nil {
			t.Errorf("%s %v: %v", tc.m.Name, tc.which, err)
		}
		for i, want := range wanted(tc.m.Values, tc.k, tc.which) {
			if d := math.Abs(eig.Values[i] - want); d > eig.Residuals[i]+1e-13*tc.m.Norm() {
				t.Errorf("%s %v: λ%d = %.12g, want %.12g (off by %.2g, residual %.2g)", tc.m.Name, tc.which, i, eig.Values[i], want, d, eig.Residuals[i])
			}
		}
		checkResidual(t, tc.m, eig)
		checkHonest(t, tc.m, eig, tol)
		t.Logf("%s %v k=%d: %d matvecs, values %.10g", tc.m.Name, tc.which, tc.k, eig.MatVecs, eig.Values)
	}
}

// TestPowerSmallestHessianLike is the case of the issue: a Hessian-like
// spectrum (one outlier at 20, a bulk near 0, λmin = −0.2). With
// PyHessian's budget of 100 iterations, power iteration cannot resolve
// λmin, and must say so rather than report the bulk as converged; with
// enough iterations it finds −0.2.
func TestPowerSmallestHessianLike(t *testing.T) {
	m := linoptest.New("hessian-like", slices.Concat(linoptest.Uniform(300, -0.05, 0.5, 3), []float64{-0.2, 20}), 5)
	for _, o := range []linop.PowerOptions{{Seed: 1}, {Seed: 1, ChangeTol: 1e-3}} {
		eig, err := linop.Power(m.Op(), linop.Smallest, o)
		var nc *linop.NotConvergedError
		if !errors.As(err, &nc) || eig.Converged[0] {
			t.Errorf("ChangeTol %g: λmin = %.6g (residual %.3g) reported converged, err %v", o.ChangeTol, eig.Values[0], eig.Residuals[0], err)
			continue
		}
		if nc.Residual != eig.Residuals[0] || nc.Bound != eig.Bounds[0] || nc.Value != eig.Values[0] {
			t.Errorf("error quotes residual %g bound %g value %g, result %g %g %g", nc.Residual, nc.Bound, nc.Value, eig.Residuals[0], eig.Bounds[0], eig.Values[0])
		}
		checkHonest(t, m, eig, 1e-3)
		t.Logf("ChangeTol %g: %v", o.ChangeTol, err)
	}
	eig, err := linop.Power(m.Op(), linop.Smallest, linop.PowerOptions{MaxIter: 20000, Tol: 1e-6, Seed: 1})
	if err != nil || math.Abs(eig.Values[0]+0.2) > eig.Residuals[0] {
		t.Errorf("λmin = %.10g (residual %.2g), want −0.2; err %v", eig.Values[0], eig.Residuals[0], err)
	}
	checkHonest(t, m, eig, 1e-6)
	t.Logf("%d matvecs, λmin %.10g, residual %.2g", eig.MatVecs, eig.Values[0], eig.Residuals[0])
}

// checkHonest: a pair flagged converged has a residual within
// ResidualBound of its value with the true norm, hence never above
// max(|λ|, ScaleFloor·‖A‖), and Converged agrees with Residuals ≤ Bounds.
func checkHonest(t *testing.T, m *linoptest.Matrix, eig linop.Eigen, tol float64) {
	t.Helper()
	for i, c := range eig.Converged {
		if c != (eig.Residuals[i] <= eig.Bounds[i]) {
			t.Errorf("%s: pair %d converged %v, residual %g, bound %g", m.Name, i, c, eig.Residuals[i], eig.Bounds[i])
		}
		if c && eig.Residuals[i] > linop.ResidualBound(eig.Values[i], m.Norm(), tol) {
			t.Errorf("%s: pair %d λ = %g converged with residual %g > %g", m.Name, i, eig.Values[i], eig.Residuals[i], linop.ResidualBound(eig.Values[i], m.Norm(), tol))
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
	eig, err := linop.Power(m.Op(), linop.LargestMagnitude, linop.PowerOptions{K: 3, Tol: 1e-12, MaxIter: 1000, Seed: 2})
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

// TestPowerRules replays both stopping rules through the progress
// callback: the iteration stops at the first residual within its bound or,
// with ChangeTol, at the first relative change of the Rayleigh quotient
// below it (PyHessian's rule).
func TestPowerRules(t *testing.T) {
	m := linoptest.New("rule", slices.Concat(linoptest.Uniform(48, 0, 1, 8), []float64{2, 3}), 9)
	for _, change := range []float64{0, 1e-3} {
		var calls []linop.Progress
		eig, err := linop.Power(m.Op(), linop.LargestMagnitude, linop.PowerOptions{Seed: 3, ChangeTol: change, Progress: func(p linop.Progress) {
			if !p.Final {
				calls = append(calls, p)
			}
		}})
		if len(calls) != eig.MatVecs || eig.Iterations != eig.MatVecs || eig.MatVecs < 2 {
			t.Fatalf("ChangeTol %g: %d progress calls, %d matvecs, %d iterations", change, len(calls), eig.MatVecs, eig.Iterations)
		}
		for i, p := range calls {
			stop := p.Residuals[0] <= p.Bounds[0]
			if i > 0 && change > 0 {
				prev := calls[i-1].Values[0]
				stop = stop || math.Abs(prev-p.Values[0])/(math.Abs(prev)+1e-6) < change
			}
			if stop != (i == len(calls)-1) {
				t.Errorf("ChangeTol %g iteration %d: rules say stop=%v, but %d iterations ran", change, i, stop, len(calls))
			}
			if p.Tol != 1e-3 || p.MaxMatVecs != 100 {
				t.Errorf("progress Tol %g MaxMatVecs %d", p.Tol, p.MaxMatVecs)
			}
		}
		last := calls[len(calls)-1]
		if eig.Values[0] != last.Values[0] || eig.Residuals[0] != last.Residuals[0] {
			t.Errorf("returned %g (residual %g), last progress %g (%g)", eig.Values[0], eig.Residuals[0], last.Values[0], last.Residuals[0])
		}
		if (err == nil) != eig.Converged[0] {
			t.Errorf("ChangeTol %g: err %v, converged %v", change, err, eig.Converged[0])
		}
		t.Logf("ChangeTol %g: %d matvecs, residual %.3g, bound %.3g", change, eig.MatVecs, eig.Residuals[0], eig.Bounds[0])
	}
}

func TestPowerNotConverged(t *testing.T) {
	m := linoptest.New("close", linoptest.Span(100, 1, 2), 10)
	eig, err := linop.Power(m.Op(), linop.LargestMagnitude, linop.PowerOptions{MaxIter: 5, Tol: 1e-9, K: 2})
	var nc *linop.NotConvergedError
	if !errors.As(err, &nc) || nc.Unconverged != 2 || nc.MatVecs != 10 || eig.Converged[0] || len(eig.Values) != 2 {
		t.Errorf("err %v, result %+v", err, eig)
	}
	if nc != nil && (nc.Residual != eig.Residuals[nc.Index] || nc.Bound != eig.Bounds[nc.Index]) {
		t.Errorf("error quotes residual %g > %g, result has %g > %g", nc.Residual, nc.Bound, eig.Residuals[nc.Index], eig.Bounds[nc.Index])
	}
}

// TestPowerUntrustedShift: when the dominant pair does not converge, the
// shift is not trusted and the smallest pair is reported unconverged.
func TestPowerUntrustedShift(t *testing.T) {
	m := linoptest.New("close-top", slices.Concat(linoptest.Span(50, 1, 2), []float64{-30}), 11)
	eig, err := linop.Power(m.Op(), linop.Largest, linop.PowerOptions{MaxIter: 3, Tol: 1e-9})
	var nc *linop.NotConvergedError
	if !errors.As(err, &nc) || eig.Converged[0] {
		t.Errorf("err %v, converged %v", err, eig.Converged)
	}
}

func TestPowerZero(t *testing.T) {
	for _, which := range []linop.Which{linop.LargestMagnitude, linop.Largest, linop.Smallest} {
		eig, err := linop.Power(linop.NewDense(mat.NewSymDense(3, nil)), which, linop.PowerOptions{K: 3})
		if err != nil || eig.Values[2] != 0 || eig.Residuals[2] != 0 || !eig.Converged[2] {
			t.Errorf("zero operator %v: %+v, %v", which, eig, err)
		}
	}
}

func TestPowerPanics(t *testing.T) {
	op := linoptest.New("n3", []float64{1, 2, 3}, 1).Op()
	for _, o := range []linop.PowerOptions{{K: 4}, {K: -1}, {MaxIter: -1}, {Tol: -1}, {Tol: 1}, {ChangeTol: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("options %+v: no panic", o)
				}
			}()
			linop.Power(op, linop.Largest, o)
		}()
	}
}
