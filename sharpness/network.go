package sharpness

import (
	"math"
	"time"

	"hesscope/hessian"
	"hesscope/internal/parallel"
	"hesscope/nn"
	"hesscope/tensor"
)

// Network returns the mean loss of m over data as a Func of the trainable
// parameters (flattened in nn.Trainable order), evaluated without modifying
// the model, and the model's own parameters θ₀. Chunks are processed in
// parallel and reduced in order (hessian.Objective), so the Func is
// deterministic. It is not safe for concurrent use.
func Network[T tensor.Float](m hessian.Model[T], data hessian.Data[T], mode nn.Mode, workers int) (Func, []float64, *hessian.Objective[T]) {
	obj := hessian.NewObjective(m, data, mode)
	obj.Workers = workers
	return obj.Eval, obj.Theta(), obj
}

// MOptions configures MSharpness.
type MOptions struct {
	// SAM sets ρ and the number of ascent steps per sub-batch.
	SAM SAMOptions
	// Mode is the BatchNorm mode.
	Mode nn.Mode
	// Workers is the number of sub-batches processed at once, each with its
	// own Evaluator; 0 means GOMAXPROCS.
	Workers int
	// Progress, if not nil, is called after every sub-batch with the number
	// done, one call at a time.
	Progress func(done, total int)
	// Cancel, if not nil, stops the work when closed: no further sub-batch
	// is started and MSharpness returns context.Canceled.
	Cancel <-chan struct{}
}

// MResult is SAM's m-sharpness of a model on a dataset.
type MResult struct {
	// M is the sub-batch size (the size of the data's first chunk), Batches
	// the number of sub-batches.
	M       int `json:"m"`
	Batches int `json:"batches"`
	// Rho and Steps are the ball radius and ascent steps.
	Rho   float64 `json:"rho"`
	Steps int     `json:"steps"`
	// Sharpness is the mean over sub-batches of max L_B(θ+ε) − L_B(θ),
	// weighted by sub-batch size (the plain mean when m divides N), and
	// StdErr its standard error over sub-batches.
	Sharpness float64 `json:"sharpness"`
	StdErr    float64 `json:"std_err"`
	// Loss and MaxLoss are the matching weighted means of L_B(θ) and of
	// the perturbed losses.
	Loss    float64 `json:"loss"`
	MaxLoss float64 `json:"max_loss"`
	// PerBatch holds each sub-batch's result, in data order.
	PerBatch []SAMResult `json:"per_batch"`
	Evals    int         `json:"evals"`
	Seconds  float64     `json:"seconds"`
}

// MSharpness computes SAM's m-sharpness of m's loss on data at the model's
// parameters, taking each chunk of data as one sub-batch B: serve the data
// in chunks of m samples (hessian.NewFloat32Data with chunk size m) to
// get m-sized sub-batches, the last possibly smaller. Sub-batches are
// processed in parallel, each worker with its own Evaluator and copy of the
// perturbed weights; the results do not depend on Workers.
func MSharpness[T tensor.Float](m hessian.Model[T], data hessian.Data[T], o MOptions) (MResult, error) {
	start := time.Now()
	ps := nn.Trainable(m.Params())
	dim := nn.Size(ps)
	theta := make([]float64, dim)
	nn.Gather(theta, ps)
	reader := hessian.Concurrent(data)
	batches := reader.Chunks()
	res := MResult{Batches: batches, PerBatch: make([]SAMResult, batches)}
	sizes := make([]int, batches)
	// Per-worker state: an Evaluator, the perturbed weights and a chunk buffer.
	type state struct {
		eval *hessian.Evaluator[T]
		at   []*tensor.Dense[T]
		buf  *tensor.Dense[T]
	}
	states := make([]state, parallel.Workers(o.Workers, batches))
	err := parallel.For(batches, o.Workers, o.Cancel, o.Progress, func(w, b int) {
		s := &states[w]
		if s.eval == nil {
			s.eval, s.at = hessian.NewEvaluator(m), nn.Like(ps)
		}
		x, y := reader.ChunkTo(s.buf, b)
		s.buf = x
		f := func(grad, wts []float64) float64 {
			nn.Scatter(s.at, wts)
			req := hessian.Request[T]{Mode: o.Mode, At: s.at}
			if grad != nil {
				req.Params = ps
			}
			r := s.eval.Pass(x, y, req)
			if grad != nil {
				off := 0
				for i, p := range ps {
					n := p.Value.Len()
					if r.ParamGrad[i] == nil {
						clear(grad[off : off+n])
					} else {
						for k, v := range r.ParamGrad[i].Data {
							grad[off+k] = float64(v)
						}
					}
					off += n
				}
			}
			return r.Loss
		}
		res.PerBatch[b], sizes[b] = SAM(f, theta, o.SAM), len(y)
	})
	if err != nil {
		return MResult{}, err
	}
	for _, r := range res.PerBatch {
		if math.IsNaN(r.MaxLoss) || math.IsInf(r.MaxLoss, 0) {
			return MResult{}, &NotFiniteError{Param: "rho", Value: r.Rho, Loss: r.MaxLoss}
		}
	}
	n := float64(data.Len())
	var sq float64
	for b, r := range res.PerBatch {
		wt := float64(sizes[b]) / n
		res.Sharpness += wt * r.Sharpness
		res.Loss += wt * r.Loss
		res.MaxLoss += wt * r.MaxLoss
		res.Evals += r.Evals
		res.Rho, res.Steps = r.Rho, r.Steps
	}
	for _, r := range res.PerBatch {
		d := r.Sharpness - res.Sharpness
		sq += d * d
	}
	if batches > 1 {
		res.StdErr = math.Sqrt(sq / float64(batches-1) / float64(batches))
	}
	if batches > 0 {
		res.M = sizes[0]
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
