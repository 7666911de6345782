package linop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// LanczosOptions configures Lanczos. The zero value asks for the top
// eigenpair with the defaults below.
type LanczosOptions struct {
	// K is the number of eigenpairs wanted; 0 means 1. K > Dim panics.
	K int
	// Block is the block size b: the Krylov space is grown from b random
	// vectors at once, b matvecs per step. A Krylov method finds each
	// distinct eigenvalue once per start vector: an eigenvalue of
	// multiplicity r is guaranteed min(r, b) times among the results. With
	// the default b = 1 (as ARPACK, PyHessian and hessian-eigenthings) the
	// further copies appear only through rounding errors or after the
	// Krylov space is exhausted, so a repeated eigenvalue may be reported
	// once, the next distinct one taking the place of its copies; the
	// residuals cannot reveal this. 0 means 1; capped at MaxIter.
	Block int
	// MaxIter caps the Krylov dimension, which is also the number of
	// matvecs before the final residuals; it is rounded up to a whole
	// block. 0 means min(Dim, max(3K, 30, 4·Block)); values above Dim are
	// capped at Dim (the space is then exhausted and the result exact).
	// MaxIter < K panics.
	MaxIter int
	// Tol is the relative residual asked of each wanted pair:
	// ‖Hv−λv‖ ≤ ResidualBound(λ, ‖H‖est, Tol) = Tol·max(|λ|, 1e-3·‖H‖est),
	// where ‖H‖est is the largest |Ritz value| or ‖Hq‖ seen. The floor keeps
	// eigenvalues near zero attainable: their absolute error is then about
	// Tol·1e-3·‖H‖. The eigenvalue error is at most the residual, and about
	// residual²/gap for an isolated eigenvalue. 0 means 1e-6; it must be
	// below 1.
	Tol float64
	// Seed seeds the random start block.
	Seed uint64
	// EstimatedResiduals makes the reported residuals the Lanczos estimates
	// ‖B·sᵢ‖ (β·|last component of sᵢ| for Block 1) and saves the K extra
	// matvecs that otherwise compute ‖Hv−λv‖ explicitly. The estimate is
	// exact in exact arithmetic but blind to noise in the operator.
	EstimatedResiduals bool
	// Progress, if not nil, is called after every block of matvecs (with
	// the current estimates after each convergence check, without between
	// them) and once more with Final set.
	Progress func(Progress)
	// Context, if not nil, is checked before every matvec: once it is done,
	// Lanczos returns its error (wrapped) without a result.
	Context context.Context
}

// Lanczos computes K eigenpairs at one end of the spectrum of op (which)
// by the block Lanczos method with full reorthogonalisation.
//
// Every new Lanczos vector is orthogonalised against the last two blocks
// (the three-term recurrence) and then against all previous vectors by
// classical Gram–Schmidt, repeated if a pass cancels more than half of it
// ("twice is enough"), so all vectors are stored (Dim × MaxIter float64s).
// The Krylov space grows without restarts; Ritz pairs of the projected
// (block-)tridiagonal matrix are computed with gonum's mat.EigenSym every
// ~10% of growth, and the iteration stops when the K wanted Ritz pairs meet
// Tol (by the estimate) or at MaxIter. If the space
// becomes invariant (a new direction has norm ≤ 1e-12·‖H‖est), the
// iteration continues from a random vector orthogonal to the basis and does
// not stop before the most wanted Ritz pair grown from it has converged, so
// operators smaller than MaxIter are solved exactly, repeated eigenvalues
// included, and exact degeneracy does not stall the iteration.
//
// The returned residuals are computed explicitly, ‖Hv−λv‖ with K extra
// matvecs, unless EstimatedResiduals is set; Converged is judged on the
// returned residuals (see [Eigen]). If some pair did not converge, Lanczos
// returns the estimates together with a *NotConvergedError quoting the
// residual of the worst pair. Another error is returned only if the context
// is done or the eigendecomposition of the projected matrix fails.
func Lanczos(op Operator, which Which, o LanczosOptions) (Eigen, error) {
	start := time.Now()
	n := op.Dim()
	k, b, maxIter, tol := lanczosDefaults(n, which, o)

	l := &lanczos{op: op, n: n, rng: newRand(o.Seed), restart: -1, ctx: o.Context}
	maxMatVecs := maxIter
	if !o.EstimatedResiduals {
		maxMatVecs += k
	}
	stopped := func(err error) (Eigen, error) {
		return Eigen{Iterations: l.applied, MatVecs: l.matvecs, Seed: o.Seed, Seconds: time.Since(start).Seconds()}, err
	}
	for range b {
		if q := randomOrthonormal(n, l.basis, l.rng); q != nil {
			l.basis = append(l.basis, q)
		}
	}

	var (
		ritz      ritzState
		err       error
		nextCheck = k
	)
	for {
		if err := l.step(); err != nil {
			return stopped(err)
		}
		m := l.applied
		done := len(l.basis) == m || m >= maxIter
		if m < nextCheck && !done {
			if o.Progress != nil { // the work done; estimates at the next check
				o.Progress(Progress{Iter: m, MatVecs: l.matvecs, MaxMatVecs: maxMatVecs, Tol: tol})
			}
			continue
		}
		ritz, err = l.ritz(k, which, tol)
		if err != nil {
			return Eigen{}, err
		}
		if o.Progress != nil {
			o.Progress(Progress{Iter: m, MatVecs: l.matvecs, MaxMatVecs: maxMatVecs, Values: slices.Clone(ritz.values),
				Residuals: slices.Clone(ritz.est), Bounds: slices.Clone(ritz.bound), Tol: tol})
		}
		if ritz.converged || done {
			break
		}
		nextCheck = m + max(1, m/10)
	}

	res := Eigen{
		Values:     ritz.values,
		Vectors:    l.ritzVectors(ritz),
		Residuals:  ritz.est,
		Bounds:     ritz.bound,
		Iterations: l.applied,
		Seed:       o.Seed,
	}
	if !o.EstimatedResiduals {
		res.Residuals = make([]float64, len(res.Values))
		hy := make([]float64, n)
		for i, y := range res.Vectors {
			if err := cancelled(l.ctx, "Lanczos"); err != nil {
				return stopped(err)
			}
			op.Apply(hy, y)
			l.matvecs++
			floats.AddScaled(hy, -res.Values[i], y)
			res.Residuals[i] = floats.Norm(hy, 2)
		}
	}
	res.MatVecs = l.matvecs
	err = res.judge("Lanczos", tol)
	res.Seconds = time.Since(start).Seconds()
	if o.Progress != nil {
		o.Progress(Progress{Iter: l.applied, MatVecs: l.matvecs, MaxMatVecs: maxMatVecs, Values: slices.Clone(res.Values),
			Residuals: slices.Clone(res.Residuals), Bounds: slices.Clone(res.Bounds), Tol: tol, Final: true})
	}
	return res, err
}

func lanczosDefaults(n int, which Which, o LanczosOptions) (k, b, maxIter int, tol float64) {
	if n < 1 {
		panic("linop: Lanczos: operator of dimension 0")
	}
	if which < Largest || which > LargestMagnitude {
		panic(fmt.Sprintf("linop: Lanczos: unknown %v", which))
	}
	k, b, maxIter, tol = o.K, o.Block, o.MaxIter, o.Tol
	if k == 0 {
		k = 1
	}
	if k < 0 || k > n {
		panic(fmt.Sprintf("linop: Lanczos: K=%d outside [1, Dim=%d]", k, n))
	}
	if b == 0 {
		b = 1
	}
	if b < 0 {
		panic(fmt.Sprintf("linop: Lanczos: Block=%d < 0", b))
	}
	switch {
	case maxIter == 0:
		maxIter = max(3*k, 30, 4*b)
	case maxIter < k:
		panic(fmt.Sprintf("linop: Lanczos: MaxIter=%d < K=%d", maxIter, k))
	}
	maxIter = min(maxIter, n)
	b = min(b, maxIter)
	if tol == 0 {
		tol = 1e-6
	}
	checkTol("Lanczos", tol)
	return k, b, maxIter, tol
}

// lanczos is the state of a block Lanczos iteration with full
// reorthogonalisation:
//
//	H·Q = Q·T + Q₊·C·Eᵀ
//
// where Q = basis[:applied] are the vectors whose images entered T, T is the
// projected matrix (stored in ents), Q₊ = basis[applied:] is the pending
// block and C = coupling the coefficients of the last applied block's images
// on it. Blocks shrink where a direction breaks down and the basis is full.
type lanczos struct {
	op        Operator
	n         int
	rng       *rand.Rand
	basis     [][]float64
	applied   int         // T is known on basis[:applied]
	lastStart int         // first index of the last applied block
	ents      []entry     // T[i][j] for i ≥ j, including rows of the pending block
	coupling  [][]float64 // coupling[r][c] = T[applied+r][lastStart+c]
	normEst   float64     // max ‖H·q‖ over applied q: a lower bound on ‖H‖₂
	matvecs   int
	restart   int // index of the last random replacement vector, -1 if none
	ctx       context.Context
}

type entry struct {
	i, j int
	v    float64
}

// step applies H to the pending block, records its diagonal block of T and
// orthonormalises the images (block QR with full reorthogonalisation) into
// the next pending block. A direction that breaks down is replaced by a
// random vector orthogonal to the basis (its coupling is zero), or dropped
// if the basis spans ℝⁿ. It returns the context's error, checked before
// every matvec, leaving the state unusable.
func (l *lanczos) step() error {
	s, e := l.applied, len(l.basis)
	p := e - s
	prev := l.lastStart // the previous block: [prev, s), or empty at the start
	hv := make([][]float64, p)
	for c := range hv {
		if err := cancelled(l.ctx, "Lanczos"); err != nil {
			return err
		}
		hv[c] = make([]float64, l.n)
		l.op.Apply(hv[c], l.basis[s+c])
		l.matvecs++
		l.normEst = math.Max(l.normEst, floats.Norm(hv[c], 2))
	}
	a := make([][]float64, p) // a[c][i] = ⟨q_{s+i}, H q_{s+c}⟩
	var coupling [][]float64
	tol := breakdownTol * l.normEst
	for c, w := range hv {
		coef := make([]float64, len(l.basis))
		orthogonalize(w, l.basis, coef, len(l.basis)-prev)
		a[c] = coef[s:e]
		for r, x := range coef[e:] {
			coupling[r][c] = x
		}
		var q []float64
		if nrm := floats.Norm(w, 2); nrm > tol {
			floats.Scale(1/nrm, w)
			q = w
			coupling = append(coupling, make([]float64, p))
			coupling[len(coupling)-1][c] = nrm
		} else if q = randomOrthonormal(l.n, l.basis, l.rng); q != nil {
			coupling = append(coupling, make([]float64, p))
			l.restart = len(l.basis)
		}
		if q != nil {
			l.basis = append(l.basis, q)
		}
	}
	for c := range p {
		for i := c; i < p; i++ {
			l.ents = append(l.ents, entry{s + i, s + c, (a[c][i] + a[i][c]) / 2})
		}
	}
	for r, row := range coupling {
		for c, x := range row {
			if x != 0 {
				l.ents = append(l.ents, entry{e + r, s + c, x})
			}
		}
	}
	l.applied, l.lastStart, l.coupling = e, s, coupling
	return nil
}

// ritzState holds the wanted Ritz pairs of the current T.
type ritzState struct {
	values    []float64
	idx       []int      // columns of vecs
	vecs      *mat.Dense // eigenvectors of T
	est       []float64  // residual estimates ‖C·s_last‖
	bound     []float64  // ResidualBound(θ, ‖H‖est, tol)
	converged bool
}

func (l *lanczos) ritz(k int, which Which, tol float64) (ritzState, error) {
	m := l.applied
	t := mat.NewSymDense(m, nil)
	for _, en := range l.ents {
		if en.i < m {
			t.SetSym(en.i, en.j, en.v)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(t, true) {
		return ritzState{}, errors.New("linop: Lanczos: eigendecomposition of the projected matrix failed")
	}
	vals := es.Values(nil)
	vecs := mat.NewDense(m, m, nil)
	es.VectorsTo(vecs)

	normH := l.normEst
	for _, v := range vals {
		normH = math.Max(normH, math.Abs(v))
	}
	idx := wantedIdx(vals, k, which)
	st := ritzState{idx: idx, vecs: vecs, converged: true}
	for _, j := range idx {
		est := l.estimate(vecs, j)
		bound := ResidualBound(vals[j], normH, tol)
		if est > bound {
			st.converged = false
		}
		st.values = append(st.values, vals[j])
		st.est = append(st.est, est)
		st.bound = append(st.bound, bound)
	}
	if st.converged && l.restart >= 0 && len(l.basis) > m {
		st.converged = l.restartConverged(vals, vecs, which, tol, normH)
	}
	return st, nil
}

// restartConverged guards against stopping on an invariant subspace. After
// a breakdown, the Ritz pairs found so far are exact but may miss larger
// eigenvalues outside the subspace; the iteration may stop only once the
// most wanted Ritz pair of the part grown since the restart (the first, in
// the order of which, with more than half its weight there) has converged.
func (l *lanczos) restartConverged(vals []float64, vecs *mat.Dense, which Which, tol, normH float64) bool {
	m := l.applied
	if l.restart >= m {
		return false // the new direction has not been applied yet
	}
	for _, j := range wantedIdx(vals, m, which) {
		var w float64
		for r := l.restart; r < m; r++ {
			w += vecs.At(r, j) * vecs.At(r, j)
		}
		if w <= 0.5 {
			continue
		}
		return l.estimate(vecs, j) <= ResidualBound(vals[j], normH, tol)
	}
	return true
}

// estimate returns the residual estimate ‖C·s‖ of Ritz vector j, where s
// is its part on the last applied block.
func (l *lanczos) estimate(vecs *mat.Dense, j int) float64 {
	var ss float64
	for _, row := range l.coupling {
		var x float64
		for c, rc := range row {
			x += rc * vecs.At(l.lastStart+c, j)
		}
		ss += x * x
	}
	return math.Sqrt(ss)
}

// wantedIdx returns the indices of the k wanted values of the ascending vals,
// in the order of which.
func wantedIdx(vals []float64, k int, which Which) []int {
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	switch which {
	case Largest:
		slices.Reverse(idx)
	case LargestMagnitude:
		sort.SliceStable(idx, func(a, b int) bool { return math.Abs(vals[idx[a]]) > math.Abs(vals[idx[b]]) })
	}
	return idx[:min(k, len(idx))]
}

// ritzVectors returns the unit Ritz vectors Q·sⱼ of the wanted pairs.
func (l *lanczos) ritzVectors(st ritzState) [][]float64 {
	ys := make([][]float64, len(st.idx))
	for i, j := range st.idx {
		y := make([]float64, l.n)
		for r := range l.applied {
			floats.AddScaled(y, st.vecs.At(r, j), l.basis[r])
		}
		floats.Scale(1/floats.Norm(y, 2), y)
		normalizeSign(y)
		ys[i] = y
	}
	return ys
}
