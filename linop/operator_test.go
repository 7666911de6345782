package linop_test

import (
	"math"
	"reflect"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"hesscope/linop"
	"hesscope/linop/linoptest"
)

func TestOperators(t *testing.T) {
	rows := [][]float64{{2, -1, 0}, {-1, 3, 0.5}, {0, 0.5, 1}}
	a := linop.NewDenseRows(rows)
	v := []float64{1, -2, 0.5}
	apply := func(op linop.Operator) []float64 {
		dst := make([]float64, op.Dim())
		op.Apply(dst, v)
		return dst
	}
	av := []float64{4, -6.75, -0.5}
	cnt := linop.NewCounting(a)
	for _, tc := range []struct {
		name string
		op   linop.Operator
		want []float64
	}{
		{"Dense", a, av},
		{"NewDense", linop.NewDense(a.Matrix()), av},
		{"Counting", cnt, av},
		{"Scaled", &linop.Scaled{Alpha: -2, Op: a}, []float64{-8, 13.5, 1}},
		{"Sum", linop.NewSum(a, a, linop.Identity(3)), []float64{9, -15.5, -0.5}},
		{"Congruent", &linop.Congruent{Diag: []float64{2, 1, -1}, Op: a}, []float64{12, -8.25, 1.5}},
		{"Identity", linop.Identity(3), v},
		{"Func", linop.Func{N: 3, F: a.Apply}, av},
	} {
		if got := apply(tc.op); !floats.EqualApprox(got, tc.want, 1e-15) {
			t.Errorf("%s: H·v = %v, want %v", tc.name, got, tc.want)
		}
		if err := linoptest.Deterministic(tc.op, 1); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if s := linoptest.Symmetry(tc.op, 2); s > 1e-15 {
			t.Errorf("%s: asymmetry %g", tc.name, s)
		}
	}
	if cnt.Count() != 5 { // one apply, two in Deterministic, two in Symmetry
		t.Errorf("Counting: %d applications, want 5", cnt.Count())
	}
	cnt.Reset()
	if cnt.Count() != 0 {
		t.Errorf("Counting after Reset: %d", cnt.Count())
	}
	if !reflect.DeepEqual(rows[1], []float64{-1, 3, 0.5}) {
		t.Errorf("NewDenseRows modified its input")
	}
}

func TestOperatorPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"asymmetric": func() { linop.NewDenseRows([][]float64{{1, 2}, {3, 4}}) },
		"ragged":     func() { linop.NewDenseRows([][]float64{{1, 2}, {3}}) },
		"sum dims":   func() { linop.NewSum(linop.Identity(2), linop.Identity(3)) },
		"sum empty":  func() { linop.NewSum() },
		"apply len":  func() { linop.Identity(2).Apply(make([]float64, 3), make([]float64, 2)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestHarness checks linoptest's matrices: orthonormal eigenvectors that
// diagonalise A to rounding, and the asymmetry detector.
func TestHarness(t *testing.T) {
	for _, m := range linoptest.Standard(testing.Short()) {
		n := m.Dim()
		var qtq, qtaq mat.Dense
		qtq.Mul(m.Vectors.T(), m.Vectors)
		qtaq.Mul(m.Vectors.T(), m.A)
		qtaq.Mul(&qtaq, m.Vectors)
		for i := range n {
			for j := range n {
				want, wantD := 0.0, 0.0
				if i == j {
					want, wantD = 1, m.Values[i]
				}
				if d := math.Abs(qtq.At(i, j) - want); d > 1e-13 {
					t.Fatalf("%s: QᵀQ[%d][%d] off by %g", m.Name, i, j, d)
				}
				if d := math.Abs(qtaq.At(i, j) - wantD); d > 1e-13*m.Norm() {
					t.Fatalf("%s: QᵀAQ[%d][%d] off by %g", m.Name, i, j, d)
				}
			}
		}
		if !slices.IsSorted(m.Values) {
			t.Errorf("%s: values not ascending", m.Name)
		}
	}
	skew := linop.Func{N: 2, F: func(dst, v []float64) { dst[0], dst[1] = v[1], -v[0] }}
	if s := linoptest.Symmetry(skew, 1); s < 0.1 {
		t.Errorf("skew-symmetric operator: asymmetry %g", s)
	}
	calls := 0
	noisy := linop.Func{N: 2, F: func(dst, v []float64) { calls++; dst[0], dst[1] = v[0]*float64(calls), v[1] }}
	if linoptest.Deterministic(noisy, 1) == nil {
		t.Error("non-deterministic operator passed")
	}
}

// TestDeterminism: the same seed gives bit-identical results.
func TestDeterminism(t *testing.T) {
	m := linoptest.New("det", slices.Concat(linoptest.Uniform(77, -1, 1, 1), []float64{-4, 3, 6}), 2)
	strip := func(x any) any {
		switch r := x.(type) {
		case linop.Eigen:
			r.Seconds = 0
			return r
		case linop.Trace:
			r.Seconds = 0
			return r
		case linop.Spectrum:
			r.Seconds = 0
			return r
		}
		panic("unknown result")
	}
	runs := map[string]func(seed uint64) any{
		"Lanczos": func(s uint64) any {
			r, _ := linop.Lanczos(m.Op(), linop.Largest, linop.LanczosOptions{K: 3, Block: 2, Seed: s})
			return strip(r)
		},
		"Power": func(s uint64) any {
			r, _ := linop.Power(m.Op(), linop.LargestMagnitude, linop.PowerOptions{K: 2, Seed: s})
			return strip(r)
		},
		"Hutchinson": func(s uint64) any {
			r, _ := linop.Hutchinson(m.Op(), linop.TraceOptions{MatVecs: 30, Seed: s})
			return strip(r)
		},
		"Hutch++": func(s uint64) any {
			r, _ := linop.HutchPlusPlus(m.Op(), linop.TraceOptions{MatVecs: 30, Seed: s})
			return strip(r)
		},
		"SLQ": func(s uint64) any {
			r, _ := linop.SLQ(m.Op(), linop.SLQOptions{Probes: 3, Steps: 20, Seed: s})
			return strip(r)
		},
	}
	for name, run := range runs {
		a, b, c := run(11), run(11), run(12)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two runs with seed 11 differ", name)
		}
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: seeds 11 and 12 give identical results", name)
		}
	}
}
