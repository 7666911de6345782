package train

import (
	"context"
	"errors"

	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/nn"
)

// trackCurvature adds to m the top eigenvalue (and, if asked, the trace) of
// the Hessian of the mean loss over the fixed tracking subset, BatchNorm in
// eval mode. An unconverged estimate is recorded with its residual.
func (t *trainer[T]) trackCurvature(ctx context.Context, m *Metrics) error {
	c := t.cfg
	d := t.track
	src := hessian.NewFloat32Data[T](d.X, d.Y, [3]int{d.C, d.H, d.W}, c.MicroBatch)
	op := hessian.NewParams[T](t.net, src, nn.Eval, nil)
	iters := min(c.TrackIters, op.Dim())
	eig, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 1, MaxIter: iters, Tol: 1e-4, Seed: c.Seed, EstimatedResiduals: true})
	if err != nil && !errors.As(err, new(*linop.NotConvergedError)) {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	lam, res := eig.Values[0], eig.Residuals[0]
	m.TopEigenvalue, m.EigenResidual = &lam, &res
	if c.TrackTrace {
		tr, err := linop.Hutchinson(op, linop.TraceOptions{MatVecs: c.TrackProbes, Seed: c.Seed})
		if err != nil && !errors.As(err, new(*linop.NotConvergedError)) {
			return err
		}
		est, se := tr.Estimate, tr.StdErr
		m.Trace, m.TraceStdErr = &est, &se
	}
	return ctx.Err()
}
