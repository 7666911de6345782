package linop_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"hesscope/linop"
	"hesscope/linop/linoptest"
)

// refValues returns the eigenvalues of a by gonum's mat.EigenSym, ascending.
func refValues(t *testing.T, a *mat.SymDense) []float64 {
	t.Helper()
	var es mat.EigenSym
	if !es.Factorize(a, false) {
		t.Fatal("mat.EigenSym failed")
	}
	return es.Values(nil)
}

// wantWindow returns the indices (into the ascending spectrum) of the k
// eigenvalues which asks for, in the solver's order, and the block size
// needed to see every copy of a repeated eigenvalue inside the window.
func wantWindow(vals []float64, k int, which linop.Which) (idx []int, block int) {
	n := len(vals)
	for i := range k {
		if which == linop.Largest {
			idx = append(idx, n-1-i)
		} else {
			idx = append(idx, i)
		}
	}
	block = 1
	for _, i := range idx {
		c := 0
		for _, j := range idx {
			if vals[j] == vals[i] {
				c++
			}
		}
		block = max(block, c)
	}
	return idx, block
}

// TestLanczos compares with mat.EigenSym on the standard matrices, both
// ends, K = 1, 3, 6, with Block 1 and with the block size that guarantees
// every copy of a repeated eigenvalue in the window (MaxIter = Dim, so
// breakdown restarts may exhaust small spaces).
func TestLanczos(t *testing.T) {
	const tol = 1e-9
	var worstVal, worstVec, worstRes, worstOrth float64
	for _, m := range linoptest.Standard(testing.Short()) {
		n := m.Dim()
		ref := refValues(t, m.A)
		norm := m.Norm()
		for i, l := range ref {
			if math.Abs(l-m.Values[i]) > 1e-12*n2f(n)*norm {
				t.Fatalf("%s: harness eigenvalue %d is %g, EigenSym says %g", m.Name, i, m.Values[i], l)
			}
		}
		for _, which := range []linop.Which{linop.Largest, linop.Smallest} {
			for _, k := range slices.Compact([]int{1, min(3, n), min(6, n)}) {
				idx, block := wantWindow(m.Values, k, which)
				for _, b := range slices.Compact([]int{1, block}) {
					name := fmt.Sprintf("%s/%v/k=%d/b=%d", m.Name, which, k, b)
					eig, err := linop.Lanczos(m.Op(), which, linop.LanczosOptions{K: k, Block: b, MaxIter: n, Tol: tol, Seed: 1})
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					if len(eig.Values) != k || len(eig.Vectors) != k || len(eig.Residuals) != k || len(eig.Converged) != k {
						t.Fatalf("%s: got %d values, %d vectors, %d residuals, %d flags, want %d", name,
							len(eig.Values), len(eig.Vectors), len(eig.Residuals), len(eig.Converged), k)
					}
					if eig.MatVecs != eig.Iterations+k {
						t.Errorf("%s: MatVecs=%d, want Iterations+K=%d", name, eig.MatVecs, eig.Iterations+k)
					}
					ay := make([]float64, n)
					for i, j := range idx {
						scale := math.Max(math.Abs(ref[j]), 1e-3*norm)
						e := math.Abs(eig.Values[i]-ref[j]) / scale
						worstVal = math.Max(worstVal, e)
						if e > 1e-8 {
							t.Errorf("%s: value %d is %.15g, want %.15g (relative error %.2g)", name, i, eig.Values[i], ref[j], e)
						}
						y := eig.Vectors[i]
						m.Op().Apply(ay, y)
						floats.AddScaled(ay, -eig.Values[i], y)
						r := floats.Norm(ay, 2)
						if math.Abs(r-eig.Residuals[i]) > 1e-14*norm+1e-6*r {
							t.Errorf("%s: reported residual %g, recomputed %g", name, eig.Residuals[i], r)
						}
						worstRes = math.Max(worstRes, r/scale)
						if r > tol*scale || !eig.Converged[i] {
							t.Errorf("%s: pair %d residual %g > %g·%g (converged %v)", name, i, r, tol, scale, eig.Converged[i])
						}
						for i2 := range i + 1 {
							want := 0.0
							if i2 == i {
								want = 1
							}
							d := math.Abs(floats.Dot(y, eig.Vectors[i2]) - want)
							worstOrth = math.Max(worstOrth, d)
							if d > 1e-10 {
								t.Errorf("%s: ⟨v%d, v%d⟩ off by %g", name, i, i2, d)
							}
						}
						if m.Gap(j) > 1e-3*norm {
							d := 1 - math.Abs(floats.Dot(y, m.Vector(j)))
							worstVec = math.Max(worstVec, d)
							if d > 1e-8 {
								t.Errorf("%s: vector %d: 1−|⟨v, v_true⟩| = %g", name, i, d)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("largest errors: eigenvalue %.2g relative, residual %.2g relative, 1−|cos| %.2g, orthonormality %.2g",
		worstVal, worstRes, worstVec, worstOrth)
}

func n2f(n int) float64 { return float64(n) }

// TestLanczosDefaults runs the zero-value options on Hessian-like spectra:
// the default MaxIter (30) must reach the default Tol (1e-6) for the top and
// bottom eigenvalue and the top 3.
func TestLanczosDefaults(t *testing.T) {
	m := linoptest.New("outliers", slices.Concat(linoptest.Uniform(494, -0.1, 1, 1), []float64{-3, 5, 10, 20, 30, 50}), 2)
	if testing.Short() {
		m = linoptest.New("outliers", slices.Concat(linoptest.Uniform(194, -0.1, 1, 1), []float64{-3, 5, 10, 20, 30, 50}), 2)
	}
	for _, tc := range []struct {
		which linop.Which
		k     int
		want  []float64
	}{
		{linop.Largest, 1, []float64{50}},
		{linop.Largest, 3, []float64{50, 30, 20}},
		{linop.Smallest, 1, []float64{-3}},
		{linop.LargestMagnitude, 2, []float64{50, 30}},
	} {
		eig, err := linop.Lanczos(m.Op(), tc.which, linop.LanczosOptions{K: tc.k})
		if err != nil {
			t.Errorf("%v k=%d: %v", tc.which, tc.k, err)
			continue
		}
		for i, w := range tc.want {
			if e := math.Abs(eig.Values[i]-w) / math.Abs(w); e > 1e-10 {
				t.Errorf("%v k=%d: value %d = %.12g, want %g", tc.which, tc.k, i, eig.Values[i], w)
			}
			if rel := eig.Residuals[i] / math.Abs(w); rel > 1e-6 {
				t.Errorf("%v k=%d: relative residual %g > 1e-6", tc.which, tc.k, rel)
			}
		}
		t.Logf("%v k=%d: %d matvecs, values %.10g, residuals %.2g", tc.which, tc.k, eig.MatVecs, eig.Values, eig.Residuals)
	}
}

// TestLanczosBlockRepeated: with Block ≥ multiplicity every copy of a
// repeated eigenvalue is found, within the default Krylov budget.
func TestLanczosBlockRepeated(t *testing.T) {
	m := linoptest.New("repeated", slices.Concat(linoptest.Uniform(294, -1, 1, 3), []float64{-3, -3, -3, 8, 8, 9}), 4)
	for _, tc := range []struct {
		which linop.Which
		k, b  int
		want  []float64
	}{
		{linop.Largest, 3, 2, []float64{9, 8, 8}},
		{linop.Smallest, 3, 3, []float64{-3, -3, -3}},
		{linop.Largest, 2, 2, []float64{9, 8}},
	} {
		eig, err := linop.Lanczos(m.Op(), tc.which, linop.LanczosOptions{K: tc.k, Block: tc.b, MaxIter: 120, Tol: 1e-10, Seed: 5})
		if err != nil {
			t.Errorf("%v k=%d b=%d: %v", tc.which, tc.k, tc.b, err)
		}
		for i, w := range tc.want {
			if math.Abs(eig.Values[i]-w) > 1e-9*math.Abs(w) {
				t.Errorf("%v k=%d b=%d: values %.12g, want %g", tc.which, tc.k, tc.b, eig.Values, tc.want)
				break
			}
		}
		t.Logf("%v k=%d b=%d: %d matvecs", tc.which, tc.k, tc.b, eig.MatVecs)
	}
}

func TestLanczosNotConverged(t *testing.T) {
	m := linoptest.New("slow", linoptest.Span(200, 1, 2), 6)
	eig, err := linop.Lanczos(m.Op(), linop.Smallest, linop.LanczosOptions{K: 2, MaxIter: 8, Tol: 1e-12})
	var nc *linop.NotConvergedError
	if !errors.As(err, &nc) {
		t.Fatalf("err = %v, want *NotConvergedError", err)
	}
	if nc.Unconverged != 2 || nc.MatVecs != eig.MatVecs || nc.MatVecs != 10 || !(nc.Residual > 1e-12) {
		t.Errorf("error %+v, result MatVecs %d", nc, eig.MatVecs)
	}
	if len(eig.Values) != 2 || eig.Values[0] < 1 || eig.Converged[0] {
		t.Errorf("estimate %v converged %v", eig.Values, eig.Converged)
	}
	// One residual per eigenvalue: the error quotes the result's numbers.
	i := nc.Index
	if nc.Residual != eig.Residuals[i] || nc.Bound != eig.Bounds[i] || nc.Value != eig.Values[i] ||
		nc.Bound > linop.ResidualBound(eig.Values[i], 2, 1e-12) {
		t.Errorf("error quotes λ %g residual %g bound %g; result λ %g residual %g bound %g", nc.Value, nc.Residual, nc.Bound, eig.Values[i], eig.Residuals[i], eig.Bounds[i])
	}
	for j := range eig.Values {
		if q, w := eig.Residuals[j]/eig.Bounds[j], nc.Residual/nc.Bound; q > w {
			t.Errorf("pair %d is further from its bound (%g) than the quoted one (%g)", j, q, w)
		}
	}
	t.Log(err)
}

func TestLanczosEstimatedResiduals(t *testing.T) {
	m := linoptest.New("outliers", slices.Concat(linoptest.Uniform(95, 0, 1, 7), []float64{3, 4, 5, 6, 7}), 8)
	eig, err := linop.Lanczos(m.Op(), linop.Largest, linop.LanczosOptions{K: 2, EstimatedResiduals: true, Tol: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	if eig.MatVecs != eig.Iterations {
		t.Errorf("MatVecs %d, Iterations %d: estimated residuals must cost nothing", eig.MatVecs, eig.Iterations)
	}
	ay := make([]float64, m.Dim())
	for i, y := range eig.Vectors {
		m.Op().Apply(ay, y)
		floats.AddScaled(ay, -eig.Values[i], y)
		r := floats.Norm(ay, 2)
		if math.Abs(r-eig.Residuals[i]) > 1e-13*m.Norm()+0.01*r {
			t.Errorf("pair %d: estimate %g, explicit %g", i, eig.Residuals[i], r)
		}
	}
}

func TestLanczosZeroOperator(t *testing.T) {
	op := linop.NewDense(mat.NewSymDense(4, nil))
	eig, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 2})
	if err != nil || eig.Values[0] != 0 || eig.Values[1] != 0 || !eig.Converged[0] {
		t.Errorf("zero operator: %+v, %v", eig, err)
	}
}

func TestLanczosProgress(t *testing.T) {
	m := linoptest.New("p", slices.Concat(linoptest.Span(60, -1, 1), []float64{5, 10}), 9)
	var calls []linop.Progress
	eig, err := linop.Lanczos(m.Op(), linop.Largest, linop.LanczosOptions{K: 2, Progress: func(p linop.Progress) { calls = append(calls, p) }})
	if err != nil {
		t.Fatal(err)
	}
	// A call after every matvec (Block 1); estimates from the first check
	// on, at K matvecs.
	if len(calls) != eig.Iterations+1 || !calls[len(calls)-1].Final || calls[0].Final || calls[0].Values != nil || len(calls[1].Values) != 2 {
		t.Fatalf("%d progress calls for %d iterations: %+v", len(calls), eig.Iterations, calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].MatVecs < calls[i-1].MatVecs {
			t.Errorf("MatVecs decreased: %d then %d", calls[i-1].MatVecs, calls[i].MatVecs)
		}
	}
	// The progress says what is known: residuals against their bounds, the
	// tolerance, and the budget as a cap; the last call is the result's.
	for i, p := range calls {
		if p.Tol != 1e-6 || p.MaxMatVecs != 32 || len(p.Residuals) != len(p.Values) || len(p.Bounds) != len(p.Values) || p.MatVecs != i+1 && !p.Final || p.Final && p.MatVecs != eig.MatVecs {
			t.Errorf("progress %d: %+v", i, p)
		}
	}
	last := calls[len(calls)-1]
	if !slices.Equal(last.Residuals, eig.Residuals) || !slices.Equal(last.Bounds, eig.Bounds) {
		t.Errorf("final progress residuals %g bounds %g, result %g %g", last.Residuals, last.Bounds, eig.Residuals, eig.Bounds)
	}
}

func TestLanczosPanics(t *testing.T) {
	op := linoptest.New("n3", []float64{1, 2, 3}, 1).Op()
	for _, o := range []linop.LanczosOptions{{K: 4}, {K: -1}, {K: 3, MaxIter: 2}, {Tol: -1}, {Tol: 1}, {Block: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("options %+v: no panic", o)
				}
			}()
			linop.Lanczos(op, linop.Largest, o)
		}()
	}
}
