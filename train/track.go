package train

import (
	"context"
	"errors"

	"hesscope/data"
	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/nn"
)

// curvatureOp is the Hessian of the mean training loss over d (images as
// the model sees them), BatchNorm in eval mode, split across the ranks.
func (t *trainer[T]) curvatureOp(d *data.Dataset) *hessian.Params[T] {
	src := hessian.NewFloat32Data[T](d.X, d.Y, [3]int{d.C, d.H, d.W}, t.cfg.MicroBatch)
	// Over several ranks, each takes a shard of the chunks and the products
	// are summed.
	op := hessian.NewParams[T](t.net, src.Shard(t.comm.Rank(), t.comm.Size()), nn.Eval, nil)
	if t.comm.Size() > 1 {
		op.Comm = t.comm
	}
	op.KeepChunks = t.opt.KeepPasses
	return op
}

// topEigen returns the top eigenvalue of the Hessian of the mean loss over d
// (BatchNorm in eval mode) and Lanczos' estimate of its residual, from at
// most iters Hessian-vector products, stopping once the relative residual
// is below tol. An unconverged estimate is returned with its residual.
func (t *trainer[T]) topEigen(ctx context.Context, d *data.Dataset, iters int, tol float64) (lam, res float64, err error) {
	op := t.curvatureOp(d)
	defer op.Release() // its kept passes, before the training's next steps
	eig, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 1, MaxIter: min(iters, op.Dim()), Tol: tol, Seed: t.cfg.Seed, EstimatedResiduals: true})
	if err != nil && !errors.As(err, new(*linop.NotConvergedError)) {
		return 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	return eig.Values[0], eig.Residuals[0], nil
}

// trackCurvature adds to m the top eigenvalue (and, if asked, the trace) of
// the Hessian of the mean loss over the fixed tracking subset, BatchNorm in
// eval mode. An unconverged estimate is recorded with its residual.
func (t *trainer[T]) trackCurvature(ctx context.Context, m *Metrics) error {
	c := t.cfg
	lam, res, err := t.topEigen(ctx, t.track, c.TrackIters, 1e-4)
	if err != nil {
		return err
	}
	m.TopEigenvalue, m.EigenResidual = &lam, &res
	if c.TrackTrace {
		op := t.curvatureOp(t.track)
		defer op.Release()
		tr, err := linop.Hutchinson(op, linop.TraceOptions{MatVecs: c.TrackProbes, Seed: c.Seed})
		if err != nil && !errors.As(err, new(*linop.NotConvergedError)) {
			return err
		}
		est, se := tr.Estimate, tr.StdErr
		m.Trace, m.TraceStdErr = &est, &se
	}
	return ctx.Err()
}
