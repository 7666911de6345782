package linop

import (
	"fmt"
	"math"
	"sync/atomic"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Operator is a symmetric linear operator H on ℝⁿ, n = Dim().
//
// Apply writes H·v to dst. Both have length Dim(); they do not alias, and v
// is not modified. Apply must be deterministic: the same v gives the same
// dst bit for bit.
type Operator interface {
	Dim() int
	Apply(dst, v []float64)
}

var (
	_ Operator = (*Dense)(nil)
	_ Operator = (*Counting)(nil)
	_ Operator = (*Scaled)(nil)
	_ Operator = (*Sum)(nil)
	_ Operator = Identity(0)
	_ Operator = Func{}
)

// Dense is a symmetric matrix stored densely, for tests and tiny networks.
type Dense struct {
	a *mat.SymDense
}

// NewDense returns an operator applying a copy of a.
func NewDense(a mat.Symmetric) *Dense {
	n := a.SymmetricDim()
	d := mat.NewSymDense(n, nil)
	d.CopySym(a)
	return &Dense{a: d}
}

// NewDenseRows returns an operator applying the symmetric matrix whose rows
// are given, copied. It panics if the rows are not square or if
// |a[i][j]−a[j][i]| exceeds 1e-10·max|a|; the stored matrix is (A+Aᵀ)/2.
func NewDenseRows(rows [][]float64) *Dense {
	n := len(rows)
	var amax float64
	for i, r := range rows {
		if len(r) != n {
			panic(fmt.Sprintf("linop: NewDenseRows: row %d has length %d, want %d", i, len(r), n))
		}
		for _, x := range r {
			amax = math.Max(amax, math.Abs(x))
		}
	}
	d := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			if math.Abs(rows[i][j]-rows[j][i]) > 1e-10*amax {
				panic(fmt.Sprintf("linop: NewDenseRows: matrix not symmetric at (%d,%d): %g vs %g", i, j, rows[i][j], rows[j][i]))
			}
			d.SetSym(i, j, (rows[i][j]+rows[j][i])/2)
		}
	}
	return &Dense{a: d}
}

// Dim returns n.
func (d *Dense) Dim() int { return d.a.SymmetricDim() }

// Apply writes A·v to dst.
func (d *Dense) Apply(dst, v []float64) {
	n := d.Dim()
	checkLen("Dense.Apply", n, dst, v)
	if n == 0 {
		return
	}
	mat.NewVecDense(n, dst).MulVec(d.a, mat.NewVecDense(n, v))
}

// Matrix returns the stored matrix itself, not a copy; do not modify it.
func (d *Dense) Matrix() *mat.SymDense { return d.a }

// Counting wraps an operator and counts its applications. It is safe for
// concurrent use if the wrapped operator is.
type Counting struct {
	Op Operator
	n  atomic.Int64
}

// NewCounting returns op wrapped with a zero count.
func NewCounting(op Operator) *Counting { return &Counting{Op: op} }

// Dim returns the wrapped operator's dimension.
func (c *Counting) Dim() int { return c.Op.Dim() }

// Apply counts one application and forwards it.
func (c *Counting) Apply(dst, v []float64) {
	c.n.Add(1)
	c.Op.Apply(dst, v)
}

// Count returns the number of applications since creation or Reset.
func (c *Counting) Count() int { return int(c.n.Load()) }

// Reset sets the count to zero.
func (c *Counting) Reset() { c.n.Store(0) }

// Scaled is the operator Alpha·Op.
type Scaled struct {
	Alpha float64
	Op    Operator
}

// Dim returns the wrapped operator's dimension.
func (s *Scaled) Dim() int { return s.Op.Dim() }

// Apply writes Alpha·Op·v to dst.
func (s *Scaled) Apply(dst, v []float64) {
	s.Op.Apply(dst, v)
	floats.Scale(s.Alpha, dst)
}

// Congruent is the operator D·Op·D for the diagonal matrix D = diag(Diag):
// the Hessian of f(D·x) at x when Op is f's Hessian at D·x, as for a
// model whose input is normalised, z = D·x + c (D the reciprocal standard
// deviations), whose Hessian with respect to the pixels x it gives from
// the one with respect to z. Apply allocates one scratch vector per call.
type Congruent struct {
	Diag []float64
	Op   Operator
}

// Dim returns the wrapped operator's dimension.
func (c *Congruent) Dim() int { return c.Op.Dim() }

// Apply writes D·Op·D·v to dst.
func (c *Congruent) Apply(dst, v []float64) {
	if len(c.Diag) != c.Op.Dim() {
		panic(fmt.Sprintf("linop: Congruent with %d diagonal entries for an operator of Dim %d", len(c.Diag), c.Op.Dim()))
	}
	w := make([]float64, len(v))
	floats.MulTo(w, c.Diag, v)
	c.Op.Apply(dst, w)
	floats.Mul(dst, c.Diag)
}

// Sum is the operator Σ Ops[i]; build it with NewSum. Apply allocates one
// scratch vector per call.
type Sum struct {
	Ops []Operator
}

// NewSum returns the sum of ops, which must be at least one and have equal
// dimensions.
func NewSum(ops ...Operator) *Sum {
	if len(ops) == 0 {
		panic("linop: NewSum: no operators")
	}
	for i, op := range ops {
		if op.Dim() != ops[0].Dim() {
			panic(fmt.Sprintf("linop: NewSum: operator %d has Dim %d, want %d", i, op.Dim(), ops[0].Dim()))
		}
	}
	return &Sum{Ops: append([]Operator(nil), ops...)}
}

// Dim returns the common dimension.
func (s *Sum) Dim() int { return s.Ops[0].Dim() }

// Apply writes Σ Ops[i]·v to dst.
func (s *Sum) Apply(dst, v []float64) {
	s.Ops[0].Apply(dst, v)
	if len(s.Ops) == 1 {
		return
	}
	tmp := make([]float64, len(dst))
	for _, op := range s.Ops[1:] {
		op.Apply(tmp, v)
		floats.Add(dst, tmp)
	}
}

// Identity is the identity operator on ℝⁿ, n = int(Identity). With Scaled
// and Sum it makes shifts H − σI.
type Identity int

// Dim returns n.
func (id Identity) Dim() int { return int(id) }

// Apply copies v to dst.
func (id Identity) Apply(dst, v []float64) {
	checkLen("Identity.Apply", int(id), dst, v)
	copy(dst, v)
}

// Func adapts a function to an Operator of dimension N. F must obey the
// Apply contract.
type Func struct {
	N int
	F func(dst, v []float64)
}

// Dim returns N.
func (f Func) Dim() int { return f.N }

// Apply calls F.
func (f Func) Apply(dst, v []float64) { f.F(dst, v) }

func checkLen(op string, n int, dst, v []float64) {
	if len(dst) != n || len(v) != n {
		panic(fmt.Sprintf("linop: %s: len(dst)=%d, len(v)=%d, want %d", op, len(dst), len(v), n))
	}
}
