// Package linoptest provides dense symmetric matrices of known spectrum for
// testing the solvers of package linop, and checks that any linop.Operator
// is symmetric and deterministic.
package linoptest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"hesscope/linop"
)

// Matrix is A = Q·diag(Values)·Qᵀ for a random orthogonal Q.
type Matrix struct {
	// Name identifies the case in test failures.
	Name string
	// Values is the spectrum, ascending.
	Values []float64
	// Vectors has orthonormal columns; column i belongs to Values[i].
	Vectors *mat.Dense
	// A is the matrix, exactly symmetric.
	A *mat.SymDense
}

// New returns the matrix with the given spectrum (copied and sorted) and a
// Haar-random orthogonal eigenbasis drawn from seed: the Q of the QR
// factorisation of a Gaussian matrix, with columns signed so that R has a
// positive diagonal.
func New(name string, values []float64, seed uint64) *Matrix {
	n := len(values)
	vals := slices.Clone(values)
	slices.Sort(vals)
	r := rand.New(rand.NewPCG(seed, 0x6c696e6f7074)) // "linopt"
	g := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			g.Set(i, j, r.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q, rr mat.Dense
	qr.QTo(&q)
	qr.RTo(&rr)
	for j := range n {
		if rr.At(j, j) < 0 {
			for i := range n {
				q.Set(i, j, -q.At(i, j))
			}
		}
	}
	var qd, a0 mat.Dense
	qd.Scale(1, &q)
	for j, l := range vals {
		for i := range n {
			qd.Set(i, j, qd.At(i, j)*l)
		}
	}
	a0.Mul(&qd, q.T())
	a := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			a.SetSym(i, j, (a0.At(i, j)+a0.At(j, i))/2)
		}
	}
	return &Matrix{Name: name, Values: vals, Vectors: &q, A: a}
}

// Dim returns n.
func (m *Matrix) Dim() int { return len(m.Values) }

// Op returns A as a linop operator.
func (m *Matrix) Op() *linop.Dense { return linop.NewDense(m.A) }

// Trace returns Σ λᵢᵖ = tr(Aᵖ).
func (m *Matrix) Trace(p int) float64 {
	var s float64
	for _, l := range m.Values {
		s += math.Pow(l, float64(p))
	}
	return s
}

// Norm returns ‖A‖₂ = max |λᵢ|.
func (m *Matrix) Norm() float64 {
	return math.Max(math.Abs(m.Values[0]), math.Abs(m.Values[len(m.Values)-1]))
}

// Vector returns a copy of eigenvector i.
func (m *Matrix) Vector(i int) []float64 {
	return mat.Col(nil, i, m.Vectors)
}

// Gap returns the distance from Values[i] to the nearest other eigenvalue
// (+Inf for n = 1).
func (m *Matrix) Gap(i int) float64 {
	g := math.Inf(1)
	for j, l := range m.Values {
		if j != i {
			g = math.Min(g, math.Abs(l-m.Values[i]))
		}
	}
	return g
}

// Span returns n equally spaced values from lo to hi (lo for n = 1).
func Span(n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		if n > 1 {
			v[i] = lo + (hi-lo)*float64(i)/float64(n-1)
		} else {
			v[i] = lo
		}
	}
	return v
}

// Uniform returns n values drawn uniformly from [lo, hi) with seed.
func Uniform(n int, lo, hi float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return v
}

// Repeat returns n copies of x.
func Repeat(n int, x float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = x
	}
	return v
}

// Standard returns the table of test matrices: sizes 1, 2, 5, 50 and 200,
// with negative, zero, repeated and clustered eigenvalues and a
// Hessian-like bulk-plus-outliers spectrum. short drops the size-200 cases.
func Standard(short bool) []*Matrix {
	cat := slices.Concat[[]float64]
	ms := []*Matrix{
		New("n1", []float64{3.5}, 1),
		New("n1-negative", []float64{-2}, 2),
		New("n2", []float64{-1, 4}, 3),
		New("n2-repeated", []float64{2, 2}, 4),
		New("n5", []float64{-3, -1, 0, 2, 7}, 5),
		New("n5-repeated", []float64{-1, -1, 1, 5, 5}, 6),
		New("n50-linear", Span(50, 1, 50), 7),
		New("n50-indefinite", cat(Uniform(48, -5, 20, 8), []float64{-8, 30}), 8),
		New("n50-lowrank", cat(Repeat(40, 0), Span(10, 1, 10)), 9),
		New("n50-repeated", cat(Uniform(44, -1, 1, 10), []float64{-4, -4, -4, 6, 6, 6}), 10),
	}
	if !short {
		ms = append(ms,
			// Bulk near zero plus a few outliers, as Hessians of trained nets.
			New("n200-outliers", cat(Uniform(194, -0.1, 1, 11), []float64{-0.5, 5, 10, 20, 30, 50}), 11),
			New("n200-clustered", cat(Uniform(194, -1, 1, 12), []float64{-5, -5 + 1e-4, -5 + 2e-4, 10, 10 + 1e-3, 10 + 2e-3}), 12),
			New("n200-repeated", cat(Uniform(194, -1, 1, 13), []float64{-3, -3, 8, 8, 9, 9}), 13),
			New("n200-zeros", cat(Repeat(150, 0), Span(45, 0.5, 12), []float64{-2, -1.5, -1, -0.5, -0.25}), 14),
		)
	}
	return ms
}

// Symmetry returns the relative asymmetry |⟨u,Hv⟩ − ⟨Hu,v⟩| / (‖u‖‖Hv‖ +
// ‖Hu‖‖v‖) of op for Gaussian u, v drawn from seed: about 1e-16 for an exact
// symmetric operator in float64.
func Symmetry(op linop.Operator, seed uint64) float64 {
	n := op.Dim()
	r := rand.New(rand.NewPCG(seed, 2))
	u, v, hu, hv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		u[i], v[i] = r.NormFloat64(), r.NormFloat64()
	}
	op.Apply(hu, u)
	op.Apply(hv, v)
	d := math.Abs(dot(u, hv) - dot(hu, v))
	s := math.Sqrt(dot(u, u)*dot(hv, hv)) + math.Sqrt(dot(hu, hu)*dot(v, v))
	if s == 0 {
		return d
	}
	return d / s
}

// Deterministic applies op twice to the same Gaussian vector drawn from
// seed and returns an error naming the first entry that differs, or that
// changed the input.
func Deterministic(op linop.Operator, seed uint64) error {
	n := op.Dim()
	r := rand.New(rand.NewPCG(seed, 3))
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	v0 := slices.Clone(v)
	a, b := make([]float64, n), make([]float64, n)
	op.Apply(a, v)
	op.Apply(b, v)
	for i := range n {
		if math.Float64bits(v[i]) != math.Float64bits(v0[i]) {
			return fmt.Errorf("linoptest: Apply modified its input at %d: %g became %g", i, v0[i], v[i])
		}
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return fmt.Errorf("linoptest: Apply not deterministic at %d: %g then %g", i, a[i], b[i])
		}
	}
	return nil
}

func dot(x, y []float64) float64 {
	var s float64
	for i, v := range x {
		s += v * y[i]
	}
	return s
}
