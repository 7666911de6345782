package hessian

import (
	"errors"
	"sync"

	"hesscope/internal/parallel"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// SampleInputOptions configures SampleInputEigen.
type SampleInputOptions struct {
	// Mode is the BatchNorm mode; with Eval the per-sample Hessians are the
	// diagonal blocks of the batch input Hessian, times N.
	Mode nn.Mode
	// Lanczos configures each solve. K is the number of eigenpairs at each
	// end (0 means 1). Seed is combined with the sample's index: sample i
	// uses Seed + i·0x9e3779b97f4a7c15, so that results do not depend on
	// which other samples are analysed or on the number of workers.
	// Progress is ignored.
	Lanczos linop.LanczosOptions
	// Bottom also computes the K smallest eigenvalues (the top ones always).
	Bottom bool
	// Workers is the number of samples analysed at once, each on its own
	// Evaluator; 0 means GOMAXPROCS.
	Workers int
	// Progress, if not nil, is called after every sample with the number
	// done, from the goroutine that finished it, one call at a time.
	Progress func(done, total int)
	// Cancel, if not nil, stops the work when closed: no further sample is
	// started and SampleInputEigen returns context.Canceled with the
	// results so far.
	Cancel <-chan struct{}
	// Scale, if not nil, holds one factor per input value of a sample (its
	// C·H·W values): the eigenpairs are those of D·H·D, D = diag(Scale)
	// (linop.Congruent), the Hessian with respect to x of a model fed z =
	// D·x + c: with D the reciprocal standard deviations of a per-channel
	// normalisation, the Hessian with respect to the pixels.
	Scale []float64
}

// SampleEigen holds the extreme eigenpairs of the Hessian ∇²ₓℓ(f(x), y) of
// one sample's loss with respect to its input x.
type SampleEigen struct {
	// Index is the sample's position in the data; Label its label.
	Index int `json:"index"`
	Label int `json:"label"`
	// Loss is the sample's loss.
	Loss float64 `json:"loss"`
	// Top and Bottom are the largest and (if asked) smallest eigenpairs.
	Top    linop.Eigen  `json:"top"`
	Bottom *linop.Eigen `json:"bottom,omitempty"`
}

// SampleInputEigen computes, for every sample of data, the K largest (and,
// with Bottom, the K smallest) eigenpairs of the Hessian of that sample's
// loss with respect to its own input, by Lanczos on the operator of a batch
// of one (NewInput). Samples are processed chunk by chunk, in parallel within
// a chunk, so memory stays bounded for any dataset size; the results are in
// data order and do not depend on Workers. Eigenpairs that miss the
// tolerance are returned with Converged false; any other solver failure is
// returned as an error together with the results computed so far.
func SampleInputEigen[T tensor.Float](m Model[T], data Data[T], o SampleInputOptions) ([]SampleEigen, error) {
	workers := parallel.Workers(o.Workers, data.Len())
	type slot struct {
		eval    *Evaluator[T]
		tangent *tensor.Dense[T]
	}
	slots := make([]slot, workers)
	out := make([]SampleEigen, 0, data.Len())
	reader := Concurrent(data)
	var buf *tensor.Dense[T]
	var (
		mu       sync.Mutex
		firstErr error
	)
	total := data.Len()
	for c := 0; c < data.Chunks(); c++ {
		x, y := reader.ChunkTo(buf, c)
		buf = x
		base := len(out)
		out = append(out, make([]SampleEigen, len(y))...)
		per := x.Len() / max(1, x.Shape[0])
		shape := append([]int{1}, x.Shape[1:]...)
		var progress func(done, _ int)
		if o.Progress != nil {
			progress = func(done, _ int) { o.Progress(base+done, total) }
		}
		err := parallel.For(len(y), workers, o.Cancel, progress, func(w, i int) {
			s := &slots[w]
			if s.eval == nil {
				s.eval = NewEvaluator(m)
			}
			xi := tensor.FromSlice(x.Data[i*per:(i+1)*per], shape...)
			if s.tangent == nil || !tensor.SameShape(s.tangent.Shape, shape) {
				s.tangent = tensor.New[T](shape...)
			}
			op := &Input[T]{eval: s.eval, x: xi, y: y[i : i+1], mode: o.Mode, tangent: s.tangent}
			r, err := sampleEigen(op, base+i, y[i], o)
			out[base+i] = r
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
		if firstErr != nil {
			return out, firstErr
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func sampleEigen[T tensor.Float](op *Input[T], index, label int, o SampleInputOptions) (SampleEigen, error) {
	r := SampleEigen{Index: index, Label: label}
	lo := o.Lanczos
	lo.Progress = nil
	lo.Seed = o.Lanczos.Seed + uint64(index)*0x9e3779b97f4a7c15
	lo.K = max(1, lo.K)
	lo.K = min(lo.K, op.Dim())
	var h linop.Operator = op
	if o.Scale != nil {
		h = &linop.Congruent{Diag: o.Scale, Op: op}
	}
	var nc *linop.NotConvergedError
	top, err := linop.Lanczos(h, linop.Largest, lo)
	if err != nil && !errors.As(err, &nc) {
		return r, err
	}
	r.Top = top
	r.Loss = op.Loss
	if o.Bottom {
		bottom, err := linop.Lanczos(h, linop.Smallest, lo)
		if err != nil && !errors.As(err, &nc) {
			return r, err
		}
		r.Bottom = &bottom
	}
	return r, nil
}
