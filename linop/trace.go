package linop

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/floats"
)

// TraceOptions configures Hutchinson and HutchPlusPlus. The zero value
// spends 100 matvecs with no early stop.
type TraceOptions struct {
	// MatVecs is the budget of operator applications; 0 means 100 (PyHessian's
	// maxIter). Negative panics.
	MatVecs int
	// RelStdErr, if positive, stops sampling once at least 10 probes have
	// been taken and StdErr ≤ RelStdErr·|Estimate|.
	RelStdErr float64
	// ChangeTol, if positive, is PyHessian's rule (hessian.trace, tol=1e-3):
	// stop once |mean − mean_prev| / (|mean_prev| + 1e-6) < ChangeTol, where
	// mean_prev is the estimate before the last probe (0 before the first
	// probe for Hutchinson, LowRank for Hutch++).
	ChangeTol float64
	// Seed seeds the Rademacher probes.
	Seed uint64
	// Progress, if not nil, is called after every probe and once more with
	// Final set.
	Progress func(Progress)
	// Context, if not nil, is checked before every matvec: once it is done,
	// the estimator returns its error (wrapped) without a result.
	Context context.Context
}

// Trace is an estimate of tr(H).
type Trace struct {
	// Estimate is the trace estimate.
	Estimate float64 `json:"estimate"`
	// StdErr is the standard error of Estimate: the sample standard deviation
	// of Samples over √len(Samples); 0 with fewer than two samples.
	StdErr float64 `json:"std_err"`
	// LowRank is Hutch++'s exact part tr(QᵀHQ); 0 for Hutchinson.
	LowRank float64 `json:"low_rank"`
	// Rank is the number of columns of Hutch++'s Q; 0 for Hutchinson.
	Rank int `json:"rank"`
	// Samples are the per-probe values zᵀHz (Hutchinson, as PyHessian's
	// trace returns them) or zᵀ(I−QQᵀ)H(I−QQᵀ)z (Hutch++).
	Samples []float64 `json:"samples"`
	// Converged reports whether a stopping rule fired; true if none was set.
	Converged bool `json:"converged"`
	// MatVecs is the number of operator applications.
	MatVecs int `json:"matvecs"`
	// Seed is the seed that was used.
	Seed uint64 `json:"seed"`
	// Seconds is the wall time of the call.
	Seconds float64 `json:"seconds"`
}

// Hutchinson estimates tr(H) as the mean of zᵀHz over Rademacher probes z,
// one matvec each, until the budget is spent or a stopping rule fires. If a
// rule was set and did not fire, the estimate is returned with a
// *NotConvergedError; the only other error is the context's.
func Hutchinson(op Operator, o TraceOptions) (Trace, error) {
	start := time.Now()
	n, budget := traceDefaults("Hutchinson", op, o)
	rng := newRand(o.Seed)
	z := make([]float64, n)
	hz := make([]float64, n)
	t := Trace{Seed: o.Seed}
	stop := newTraceStop("Hutchinson", o, 0, budget)
	for t.MatVecs < budget {
		if err := cancelled(o.Context, "Hutchinson"); err != nil {
			return stop.cancelled(&t, start, err)
		}
		rademacherTo(z, rng)
		op.Apply(hz, z)
		t.MatVecs++
		t.Samples = append(t.Samples, floats.Dot(z, hz))
		t.Estimate, t.StdErr = meanStdErr(t.Samples)
		if stop.check(&t, o.Progress) {
			break
		}
	}
	return stop.finish(&t, start, o.Progress)
}

// HutchPlusPlus estimates tr(H) by Hutch++ (Meyer, Musco, Musco, Woodruff,
// "Hutch++: optimal stochastic trace estimation", SOSA 2021) with a budget
// of m = MatVecs applications: s = ⌊m/3⌋ for the sketch Y = H·S (S
// Rademacher), an orthonormal basis Q of Y (columns of norm ≤ 1e-12·max‖Yᵢ‖
// after Gram–Schmidt are dropped, so rank(Q) = r ≤ s) and r for the exact
// part tr(QᵀHQ); the remaining m − s − r probes z estimate the trace of the
// deflated operator (I−QQᵀ)H(I−QQᵀ) by Hutchinson with z projected.
//
// Given S the estimator is unbiased, and StdErr (the sample standard error
// of the deflated Hutchinson part) is its standard error conditional on S;
// the stopping rules apply to that part. For a matrix whose trace is carried
// by a few large eigenvalues, the error is far below Hutchinson's at equal
// budget. Memory: 2s vectors.
func HutchPlusPlus(op Operator, o TraceOptions) (Trace, error) {
	start := time.Now()
	n, budget := traceDefaults("Hutch++", op, o)
	rng := newRand(o.Seed)
	t := Trace{Seed: o.Seed}

	s := budget / 3
	ys := make([][]float64, s)
	z := make([]float64, n)
	var ymax float64
	for i := range ys {
		if err := cancelled(o.Context, "Hutch++"); err != nil {
			return Trace{Seed: o.Seed, MatVecs: t.MatVecs}, err
		}
		rademacherTo(z, rng)
		ys[i] = make([]float64, n)
		op.Apply(ys[i], z)
		t.MatVecs++
		ymax = math.Max(ymax, floats.Norm(ys[i], 2))
	}
	var q [][]float64
	for _, y := range ys {
		orthogonalize(y, q, nil, 0)
		if nrm := floats.Norm(y, 2); nrm > 1e-12*ymax {
			floats.Scale(1/nrm, y)
			q = append(q, y)
		}
	}
	hz := make([]float64, n)
	for _, qi := range q {
		if err := cancelled(o.Context, "Hutch++"); err != nil {
			return Trace{Seed: o.Seed, MatVecs: t.MatVecs}, err
		}
		op.Apply(hz, qi)
		t.MatVecs++
		t.LowRank += floats.Dot(qi, hz)
	}
	t.Rank = len(q)
	t.Estimate = t.LowRank

	stop := newTraceStop("Hutch++", o, t.LowRank, budget)
	for t.MatVecs < budget {
		if err := cancelled(o.Context, "Hutch++"); err != nil {
			return stop.cancelled(&t, start, err)
		}
		rademacherTo(z, rng)
		orthogonalize(z, q, nil, 0)
		op.Apply(hz, z)
		t.MatVecs++
		t.Samples = append(t.Samples, floats.Dot(z, hz))
		var mean float64
		mean, t.StdErr = meanStdErr(t.Samples)
		t.Estimate = t.LowRank + mean
		if stop.check(&t, o.Progress) {
			break
		}
	}
	return stop.finish(&t, start, o.Progress)
}

func traceDefaults(method string, op Operator, o TraceOptions) (n, budget int) {
	n = op.Dim()
	if n < 1 {
		panic(fmt.Sprintf("linop: %s: operator of dimension 0", method))
	}
	budget = o.MatVecs
	if budget == 0 {
		budget = 100
	}
	if budget < 0 || o.RelStdErr < 0 || o.ChangeTol < 0 {
		panic(fmt.Sprintf("linop: %s: MatVecs=%d, RelStdErr=%g, ChangeTol=%g", method, o.MatVecs, o.RelStdErr, o.ChangeTol))
	}
	return n, budget
}

// traceStop applies the stopping rules of TraceOptions.
type traceStop struct {
	method          string
	budget          int
	relStdErr, tol  float64
	prev            float64 // estimate before the last probe
	rel, change     float64 // last measures
	fired, anyRules bool
}

func newTraceStop(method string, o TraceOptions, prev float64, budget int) *traceStop {
	return &traceStop{method: method, budget: budget, relStdErr: o.RelStdErr, tol: o.ChangeTol, prev: prev,
		rel: math.MaxFloat64, change: math.MaxFloat64, anyRules: o.RelStdErr > 0 || o.ChangeTol > 0}
}

// check updates the measures after a probe, reports progress and says
// whether to stop.
func (s *traceStop) check(t *Trace, progress func(Progress)) bool {
	s.change = math.Abs(t.Estimate-s.prev) / (math.Abs(s.prev) + 1e-6)
	s.prev = t.Estimate
	if t.Estimate != 0 {
		s.rel = t.StdErr / math.Abs(t.Estimate)
	} else if t.StdErr == 0 {
		s.rel = 0
	}
	if s.tol > 0 && s.change < s.tol {
		s.fired = true
	}
	if s.relStdErr > 0 && len(t.Samples) >= 10 && s.rel <= s.relStdErr {
		s.fired = true
	}
	if progress != nil {
		progress(s.progress(t, false))
	}
	return s.fired
}

// progress is what the trace estimators report: the standard error against
// RelStdErr·|estimate| if that rule is set.
func (s *traceStop) progress(t *Trace, final bool) Progress {
	p := Progress{Iter: len(t.Samples), MatVecs: t.MatVecs, MaxMatVecs: s.budget, Values: []float64{t.Estimate},
		Residuals: []float64{t.StdErr}, Tol: s.relStdErr, Final: final}
	if s.relStdErr > 0 {
		p.Bounds = []float64{s.relStdErr * math.Abs(t.Estimate)}
	} else {
		p.Tol = s.tol
	}
	return p
}

// cancelled returns what a cancelled estimator returns.
func (s *traceStop) cancelled(t *Trace, start time.Time, err error) (Trace, error) {
	return Trace{MatVecs: t.MatVecs, Seed: t.Seed, Seconds: time.Since(start).Seconds()}, err
}

func (s *traceStop) finish(t *Trace, start time.Time, progress func(Progress)) (Trace, error) {
	t.Converged = s.fired || !s.anyRules
	t.Seconds = time.Since(start).Seconds()
	if progress != nil {
		progress(s.progress(t, true))
	}
	if t.Converged {
		return *t, nil
	}
	nc := &NotConvergedError{Method: s.method, Value: t.Estimate, Residual: s.rel, Bound: s.relStdErr, Tol: s.relStdErr, Unconverged: 1, MatVecs: t.MatVecs}
	if s.relStdErr == 0 {
		nc.Residual, nc.Bound, nc.Tol = s.change, s.tol, s.tol
	}
	return *t, nc
}
