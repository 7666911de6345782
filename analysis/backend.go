package analysis

import (
	"fmt"

	"hesscope/hessian"
	"hesscope/landscape"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// A Backend is where an analysis's curvature operators and loss
// evaluations come from: the CPU engine of this process ([CPU], the
// default), or another implementation — a dataset sharded over MPI ranks
// whose operators all-reduce their sums, a GPU evaluator — plugged in
// through the Backend field of the options, without changing the
// analyses.
//
// An implementation must guarantee, for the operators and objectives it
// builds:
//
//   - the same mathematics as the CPU engine: the mean loss over all the
//     data, each chunk's contribution weighted by its number of samples over
//     the total number of samples (over all ranks for a sharded dataset), in
//     the given BatchNorm mode, over the given parameter tensors in their
//     order (nil: every trainable parameter, in nn.Trainable order);
//   - determinism: the same input vector gives the same output bit for bit,
//     on every call and (for a sharded dataset) on every rank, for a fixed
//     configuration (seed, threads, world size), so that the solvers, which
//     see only v ↦ Hv, are deterministic (see package linop);
//   - that the model is only read.
//
// For a dataset sharded over ranks, every rank calls the analysis with its
// shard and the same options, and the backend's reductions make every rank
// see the operators of the whole dataset; the solvers then run identically
// on every rank. The work that is per image or per sub-batch rather than a
// reduction over the dataset — per-sample input eigenvalues, m-sharpness,
// input-space landscapes, attacks and the saddle check — runs on
// hessian.Evaluator directly, on the images it is given (a rank's shard).
type Backend interface {
	// Float32 and Float64 return the backend's engine for that precision,
	// or nil if it has none.
	Float32() Engine[float32]
	Float64() Engine[float64]
}

// A Source is a model over a dataset in a BatchNorm mode: what the
// operators of an Engine are of. Workers is the number of chunks processed
// at once (0: 1), each pass being parallel inside; it does not change the
// results.
type Source[T tensor.Float] struct {
	Model   hessian.Model[T]
	Data    hessian.Data[T]
	Mode    nn.Mode
	Workers int
	// KeepPasses asks Params to keep every chunk's pass between products
	// (hessian.Params.KeepChunks; the caller has checked the memory). An
	// engine that cannot may ignore it: it changes no result.
	KeepPasses bool
}

// An Engine builds the operators of one precision. See Backend for what it
// must guarantee.
type Engine[T tensor.Float] interface {
	// Params returns the Hessian of the mean loss with respect to params
	// (nil: every trainable parameter; a subset is a diagonal block).
	Params(s Source[T], params []*nn.Param[T]) ParamOperator
	// GaussNewton returns the generalised Gauss-Newton matrix of the mean
	// loss with respect to params (nil: every trainable parameter).
	GaussNewton(s Source[T], params []*nn.Param[T]) linop.Operator
	// Objective returns the mean loss as a function of the trainable
	// parameters.
	Objective(s Source[T]) Objective
	// Input returns the Hessian of the mean loss of the batch (x, y) with
	// respect to x.
	Input(m hessian.Model[T], x *tensor.Dense[T], y []int, mode nn.Mode) linop.Operator
	// LossGrid evaluates the mean loss and accuracy at the model's
	// parameters θ + x·dirs[0] (+ y·dirs[1]) for every grid point, as
	// landscape.Params does; o.Workers is the number of grid points
	// evaluated at once (s.Workers is not used).
	LossGrid(s Source[T], dirs [][]float64, x, y []float64, o landscape.Options) (*landscape.Grid, error)
}

// A ParamOperator is a parameter-Hessian operator that also gives the loss
// and its gradient.
type ParamOperator interface {
	linop.Operator
	// Gradient returns the mean loss and its gradient (flattened).
	Gradient() (float64, []float64)
}

// An Objective is the mean loss over a dataset as a function of the
// trainable parameters θ, flattened in nn.Trainable order.
type Objective interface {
	Dim() int
	// Theta returns the model's own parameters θ₀.
	Theta() []float64
	// Eval returns L(θ) and, unless grad is nil, writes ∇L(θ) into grad.
	Eval(grad, theta []float64) float64
	// Accuracy is the fraction of samples classified correctly at the θ of
	// the last Eval.
	Accuracy() float64
}

// CPU is the default Backend: hesscope's own engine (package hessian) in
// this process, streaming the chunks through Source.Workers evaluators and
// reducing in chunk order.
type CPU struct{}

// Float32 returns the float32 CPU engine.
func (CPU) Float32() Engine[float32] { return cpuEngine[float32]{} }

// Float64 returns the float64 CPU engine.
func (CPU) Float64() Engine[float64] { return cpuEngine[float64]{} }

type cpuEngine[T tensor.Float] struct{}

func (cpuEngine[T]) Params(s Source[T], params []*nn.Param[T]) ParamOperator {
	h := hessian.NewParams(s.Model, s.Data, s.Mode, params)
	h.Workers, h.KeepChunks = s.Workers, s.KeepPasses
	return h
}

func (cpuEngine[T]) GaussNewton(s Source[T], params []*nn.Param[T]) linop.Operator {
	g := hessian.NewGaussNewton(s.Model, s.Data, s.Mode, params)
	g.Workers = s.Workers
	return g
}

func (cpuEngine[T]) Objective(s Source[T]) Objective {
	o := hessian.NewObjective(s.Model, s.Data, s.Mode)
	o.Workers = s.Workers
	return cpuObjective[T]{o}
}

func (cpuEngine[T]) LossGrid(s Source[T], dirs [][]float64, x, y []float64, o landscape.Options) (*landscape.Grid, error) {
	o.Mode = s.Mode
	return landscape.Params(s.Model, s.Data, nil, dirs, x, y, o)
}

func (cpuEngine[T]) Input(m hessian.Model[T], x *tensor.Dense[T], y []int, mode nn.Mode) linop.Operator {
	return hessian.NewInput(m, x, y, mode)
}

type cpuObjective[T tensor.Float] struct{ o *hessian.Objective[T] }

func (c cpuObjective[T]) Dim() int                           { return c.o.Dim() }
func (c cpuObjective[T]) Theta() []float64                   { return c.o.Theta() }
func (c cpuObjective[T]) Eval(grad, theta []float64) float64 { return c.o.Eval(grad, theta) }
func (c cpuObjective[T]) Accuracy() float64                  { return c.o.Accuracy }

// engine returns b's engine in precision T (nil b: the CPU's).
func engine[T tensor.Float](b Backend) (Engine[T], error) {
	if b == nil {
		b = CPU{}
	}
	var e any
	var zero T
	switch any(zero).(type) {
	case float32:
		if x := b.Float32(); x != nil {
			e = x
		}
	case float64:
		if x := b.Float64(); x != nil {
			e = x
		}
	}
	if e == nil {
		return nil, fmt.Errorf("analysis: backend %T has no %s engine", b, precision[T]())
	}
	return e.(Engine[T]), nil
}

// precision names T as the results record it.
func precision[T tensor.Float]() string {
	var zero T
	if _, ok := any(zero).(float64); ok {
		return "float64"
	}
	return "float32"
}
