package analysis

import (
	"hesscope/data"
	"hesscope/dist"
	"hesscope/hessian"
	"hesscope/landscape"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// Sharded is the Backend of a dataset split across the ranks of an MPI job
// (Comm; see package dist): every rank calls the analysis with its own
// shard (ShardOf) and the same options, each operator streams the rank's
// chunks and ends every product, gradient or evaluation with one
// all-reduce, so every rank sees the operators of the whole dataset and the
// solvers run identically on all of them. Results are the same bits on
// every rank and from run to run for a given number of ranks, and agree
// with the one-process ones to rounding (the sums are added in another
// order). Every rank must make the same calls in the same order.
//
// What is per image or per sub-batch rather than a mean over the dataset —
// the whole-batch and per-sample input Hessians, m-sharpness, attacks —
// runs on each rank's own images.
type Sharded struct {
	Comm dist.Comm
}

// Float32 returns the sharded float32 engine.
func (b Sharded) Float32() Engine[float32] { return shardedEngine[float32]{b.Comm} }

// Float64 returns the sharded float64 engine.
func (b Sharded) Float64() Engine[float64] { return shardedEngine[float64]{b.Comm} }

// ShardOf returns the part of d that rank c.Rank() of c owns when d is read
// in chunks of batch images: a contiguous run of whole chunks (dist.Shard
// of the chunk indices), so that the ranks together read every chunk of d
// exactly as one process does. It shares d's arrays.
func ShardOf(d *data.Dataset, batch int, c dist.Comm) *data.Dataset {
	batch = max(batch, 1)
	chunks := (d.N + batch - 1) / batch
	lo, hi := dist.Shard(chunks, c.Rank(), c.Size())
	lo, hi = min(lo*batch, d.N), min(hi*batch, d.N)
	s := *d
	per := d.SampleLen()
	s.X, s.Y, s.N = d.X[lo*per:hi*per], d.Y[lo:hi], hi-lo
	return &s
}

type shardedEngine[T tensor.Float] struct{ c dist.Comm }

func (e shardedEngine[T]) Params(s Source[T], params []*nn.Param[T]) ParamOperator {
	h := hessian.NewParams(s.Model, s.Data, s.Mode, params)
	h.Workers, h.Comm, h.KeepChunks = s.Workers, e.c, s.KeepPasses
	return h
}

func (e shardedEngine[T]) GaussNewton(s Source[T], params []*nn.Param[T]) linop.Operator {
	g := hessian.NewGaussNewton(s.Model, s.Data, s.Mode, params)
	g.Workers, g.Comm = s.Workers, e.c
	return g
}

func (e shardedEngine[T]) Objective(s Source[T]) Objective {
	o := hessian.NewObjective(s.Model, s.Data, s.Mode)
	o.Workers, o.Comm = s.Workers, e.c
	return cpuObjective[T]{o}
}

func (e shardedEngine[T]) Input(m hessian.Model[T], x *tensor.Dense[T], y []int, mode nn.Mode) linop.Operator {
	return hessian.NewInput(m, x, y, mode)
}

// LossGrid evaluates the grid on this rank's shard (its points in parallel,
// as the CPU engine does), then sums the shards' contributions to every
// point's mean loss and accuracy in one all-reduce of the whole grid.
func (e shardedEngine[T]) LossGrid(s Source[T], dirs [][]float64, x, y []float64, o landscape.Options) (*landscape.Grid, error) {
	n := []float64{float64(s.Data.Len())}
	e.c.AllreduceFloat64(n)
	o.Mode = s.Mode
	var g *landscape.Grid
	var err error
	if s.Data.Len() > 0 {
		g, err = landscape.Params(s.Model, s.Data, nil, dirs, x, y, o)
	}
	// Every rank takes part in the all-reduce, even one that failed (the
	// others would wait for it); its error is returned after.
	rows := max(1, len(y))
	buf := make([]float64, 2*rows*len(x))
	if g != nil {
		w := float64(s.Data.Len()) / n[0]
		for j := range rows {
			for i := range x {
				k := 2 * (j*len(x) + i)
				buf[k], buf[k+1] = w*g.Loss[j][i], w*g.Accuracy[j][i]
			}
		}
	}
	e.c.AllreduceFloat64(buf)
	if err != nil {
		return nil, err
	}
	if g == nil {
		g = &landscape.Grid{X: x, Y: y, Loss: make([][]float64, rows), Accuracy: make([][]float64, rows), Evals: rows * len(x)}
		for j := range rows {
			g.Loss[j], g.Accuracy[j] = make([]float64, len(x)), make([]float64, len(x))
		}
	}
	for j := range rows {
		for i := range x {
			k := 2 * (j*len(x) + i)
			g.Loss[j][i], g.Accuracy[j][i] = buf[k], buf[k+1]
		}
	}
	return g, nil
}
