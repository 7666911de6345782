package linop_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"hesscope/linop"
	"hesscope/linop/linoptest"
)

// cancelAt is an operator that cancels its context during its n-th
// application and counts applications.
type cancelAt struct {
	linop.Operator
	n, calls int
	cancel   context.CancelFunc
}

func (c *cancelAt) Apply(dst, v []float64) {
	c.calls++
	if c.calls == c.n {
		c.cancel()
	}
	c.Operator.Apply(dst, v)
}

// TestCancel: every solver stops at the first matvec after its context is
// cancelled and returns the context's error; a nil context never cancels.
func TestCancel(t *testing.T) {
	m := linoptest.New("cancel", slices.Concat(linoptest.Span(200, 1, 2), []float64{-1, 5}), 3)
	solvers := map[string]func(op linop.Operator, ctx context.Context) error{
		"Lanczos": func(op linop.Operator, ctx context.Context) error {
			_, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 2, MaxIter: 100, Tol: 1e-12, Context: ctx})
			return err
		},
		"Lanczos block": func(op linop.Operator, ctx context.Context) error {
			_, err := linop.Lanczos(op, linop.Smallest, linop.LanczosOptions{K: 2, Block: 3, MaxIter: 100, Tol: 1e-12, Context: ctx})
			return err
		},
		"Power": func(op linop.Operator, ctx context.Context) error {
			_, err := linop.Power(op, linop.Smallest, linop.PowerOptions{K: 2, Tol: 1e-12, Context: ctx})
			return err
		},
		"Hutchinson": func(op linop.Operator, ctx context.Context) error {
			_, err := linop.Hutchinson(op, linop.TraceOptions{MatVecs: 100, Context: ctx})
			return err
		},
		"Hutch++": func(op linop.Operator, ctx context.Context) error {
			_, err := linop.HutchPlusPlus(op, linop.TraceOptions{MatVecs: 100, Context: ctx})
			return err
		},
		"SLQ": func(op linop.Operator, ctx context.Context) error {
			_, err := linop.SLQ(op, linop.SLQOptions{Probes: 3, Steps: 40, Context: ctx})
			return err
		},
	}
	for name, run := range solvers {
		for _, n := range []int{1, 7, 40} {
			ctx, cancel := context.WithCancel(context.Background())
			op := &cancelAt{Operator: m.Op(), n: n, cancel: cancel}
			err := run(op, ctx)
			if !errors.Is(err, context.Canceled) || op.calls != n {
				t.Errorf("%s cancelled at matvec %d: err %v after %d matvecs", name, n, err, op.calls)
			}
			cancel()
		}
		op := &cancelAt{Operator: m.Op(), n: -1}
		if err := run(op, nil); errors.Is(err, context.Canceled) || op.calls < 40 {
			t.Errorf("%s without context: err %v after %d matvecs", name, err, op.calls)
		}
	}
}
