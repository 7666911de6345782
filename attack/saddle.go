package attack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// SaddleOptions configures SaddleCheck.
type SaddleOptions struct {
	// Tol is the relative tolerance of the test for a negative eigenvalue:
	// a point counts as indefinite when λ_min < −Tol·s with
	// s = max(λ_max, |λ_min|) (0: 1e-3). When λ_max > 0 and |λ_min| ≤ λ_max
	// this is λ_min < −Tol·λ_max; the scale s keeps the test meaningful when
	// λ_max is about 0 or negative.
	Tol float64
	// FlatLoss: a point whose loss is below FlatLoss is numerically flat
	// (0: 1e-10 in float64, 1e-4 in float32). Its input Hessian scales with
	// 1 − p_y, about the loss, and is computed from differences of numbers
	// of size 1, so below that level its eigenvalues are rounding noise. Flat
	// points, and points whose Hessian is exactly zero, count as not
	// indefinite and are reported apart.
	FlatLoss float64
	// MaxIter caps the Krylov dimension of each Lanczos run (0: min(d, 100)
	// for d = C·H·W).
	MaxIter int
	// LanczosTol is the relative residual asked of each eigenvalue (0: 1e-6
	// in float64, 1e-4 in float32).
	LanczosTol float64
	// KeepPoints lists every point in the report.
	KeepPoints bool
	// Options spreads the samples over workers; Progress counts points.
	// BatchSize 0 means 1 here.
	Options
}

// SaddlePoint is one point of a PGD trajectory and the extreme eigenvalues
// of the input Hessian of its sample's loss there.
type SaddlePoint struct {
	Sample int `json:"sample"` // index of the sample
	Step   int `json:"step"`   // 0 is the start point, s the point after s steps
	// Loss is the sample's cross-entropy at the point; Correct whether the
	// model still classifies it correctly.
	Loss      float64 `json:"loss"`
	Correct   bool    `json:"correct"`
	LambdaMax float64 `json:"lambda_max"`
	LambdaMin float64 `json:"lambda_min"`
	// ResidualMax and ResidualMin are ‖Hv − λv‖ of the two eigenpairs.
	ResidualMax float64 `json:"residual_max"`
	ResidualMin float64 `json:"residual_min"`
	Converged   bool    `json:"converged"`
	Negative    bool    `json:"negative"`
	Flat        bool    `json:"flat"`
}

// SaddleReport summarises a SaddleCheck.
type SaddleReport struct {
	Samples int `json:"samples"`
	Steps   int `json:"steps"`
	// Points is the number of trajectory points, Samples·(Steps+1).
	Points int `json:"points"`
	// Negative counts the indefinite points, Flat the numerically flat ones
	// and Unconverged those where a Lanczos run missed its tolerance (their
	// estimates are used all the same).
	Negative    int `json:"negative"`
	Flat        int `json:"flat"`
	Unconverged int `json:"unconverged"`
	// Fraction is Negative/Points.
	Fraction float64 `json:"fraction"`
	// MinRatio is the smallest λ_min/max(λ_max, |λ_min|) over points that
	// are not flat: −1 for a negative definite Hessian, 0 for a positive
	// semi-definite one.
	MinRatio float64 `json:"min_ratio"`
	// MaxLambda is the largest λ_max seen.
	MaxLambda float64 `json:"max_lambda"`
	Tol       float64 `json:"tol"`
	FlatLoss  float64 `json:"flat_loss"`
	HVPs      int     `json:"hvps"`
	Seconds   float64 `json:"seconds"`
	// Trajectory lists every point when SaddleOptions.KeepPoints is set,
	// by sample and then step.
	Trajectory []SaddlePoint `json:"trajectory,omitempty"`
}

// SaddleCheck follows the PGD trajectory of every sample of (x, y), the
// inner maximisation of robust training, and at each of its Steps+1 points
// (the start and the point after every step) computes the largest and the
// smallest eigenvalue of the input Hessian ∇²ₓℓ(x, y) of the sample's loss
// with Lanczos (hessian.Input on a batch of one, BatchNorm in eval mode).
// It reports the fraction of points where that Hessian has a negative
// eigenvalue (see SaddleOptions.Tol).
//
// For a piecewise-linear network (ReLU, max-pooling) the input Hessian is
// AᵀH_zA with A the Jacobian of the logits and H_z = diag(p) − ppᵀ, positive
// semi-definite, so the fraction should be 0: the inner problem is
// saddle-free almost everywhere (Yao et al. 2018, Theorem 1). A negative Ritz
// value is proof of a negative eigenvalue (Ritz values lie in [λ_min, λ_max]).
//
// c must be a PGD configuration; its Restarts are ignored (one run).
func SaddleCheck[T tensor.Float](ctx context.Context, m Model[T], x *tensor.Dense[T], y []int, c Config, o SaddleOptions) (*SaddleReport, error) {
	checkBatch(x, y)
	if c.Method != PGD {
		return nil, fmt.Errorf("attack: the saddle check follows PGD, not %v", c.Method)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	c = c.WithDefaults()
	c.Restarts = 1
	var zero T
	_, f32 := any(zero).(float32)
	if o.Tol == 0 {
		o.Tol = 1e-3
	}
	if o.FlatLoss == 0 {
		o.FlatLoss = 1e-10
		if f32 {
			o.FlatLoss = 1e-4
		}
	}
	if o.LanczosTol == 0 {
		o.LanczosTol = 1e-6
		if f32 {
			o.LanczosTol = 1e-4
		}
	}
	if o.BatchSize == 0 {
		o.BatchSize = 1
	}
	n, d := len(y), x.Len()/len(y)
	maxIter := o.MaxIter
	if maxIter == 0 {
		maxIter = min(d, 100)
	}
	maxIter = min(maxIter, d)
	start := time.Now()
	points := make([]SaddlePoint, n*(c.Steps+1))
	bs := o.BatchSize
	hvps := make([]int, (n+bs-1)/bs) // per batch
	inner := o.Options
	inner.Progress = nil
	var mu sync.Mutex
	err := parallel(ctx, m, (n+bs-1)/bs, inner, func(a *Attacker[T], b int) int {
		ids := span(b*bs, min(n, (b+1)*bs))
		xs, ys := gather(x, y, ids)
		var traj []*tensor.Dense[T]
		a.Trace = func(_ int, it *tensor.Dense[T]) { traj = append(traj, it.Clone()) }
		adv := tensor.New[T](xs.Shape...)
		a.Perturb(adv, xs, ys, c, ids)
		a.Trace = nil
		x1 := tensor.New[T](append([]int{1}, x.Shape[1:]...)...)
		y1 := []int{0}
		op := hessian.NewInput[T](m, x1, y1, nn.Eval)
		pred := make([]int, len(ids))
		loss := make([]float64, len(ids))
		for s, it := range traj {
			if ctx.Err() != nil {
				return 0
			}
			a.predict(pred, loss, it, ys)
			for j, i := range ids {
				copy(x1.Data, it.Data[j*d:(j+1)*d])
				y1[0] = ys[j]
				p := SaddlePoint{Sample: i, Step: s, Loss: loss[j], Correct: pred[j] == ys[j], Converged: true}
				lo := linop.LanczosOptions{MaxIter: maxIter, Tol: o.LanczosTol, Seed: c.Seed, Context: ctx}
				top, err1 := linop.Lanczos(op, linop.Largest, lo)
				bot, err2 := linop.Lanczos(op, linop.Smallest, lo)
				if ctx.Err() != nil {
					return 0
				}
				var nc *linop.NotConvergedError
				for _, err := range []error{err1, err2} {
					if err != nil && !errors.As(err, &nc) {
						panic(err) // only an eigendecomposition failure of a tiny matrix
					}
					if err != nil {
						p.Converged = false
					}
				}
				p.LambdaMax, p.ResidualMax = top.Values[0], top.Residuals[0]
				p.LambdaMin, p.ResidualMin = bot.Values[0], bot.Residuals[0]
				scale := max(p.LambdaMax, math.Abs(p.LambdaMin))
				p.Flat = p.Loss < o.FlatLoss || scale == 0
				p.Negative = !p.Flat && p.LambdaMin < -o.Tol*scale
				points[i*(c.Steps+1)+s] = p
			}
			if o.Progress != nil {
				mu.Lock()
				o.Progress(len(ids))
				mu.Unlock()
			}
		}
		hvps[b] = op.HVPs
		return 0
	})
	if err != nil {
		return nil, err
	}
	r := &SaddleReport{Samples: n, Steps: c.Steps, Points: len(points), Tol: o.Tol, FlatLoss: o.FlatLoss}
	for _, p := range points {
		switch {
		case p.Flat:
			r.Flat++
		case p.Negative:
			r.Negative++
		}
		if !p.Converged {
			r.Unconverged++
		}
		if !p.Flat {
			r.MinRatio = min(r.MinRatio, p.LambdaMin/max(p.LambdaMax, math.Abs(p.LambdaMin)))
		}
		r.MaxLambda = max(r.MaxLambda, p.LambdaMax)
	}
	for _, h := range hvps {
		r.HVPs += h
	}
	r.Fraction = frac(r.Negative, r.Points)
	if o.KeepPoints {
		r.Trajectory = points
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}
