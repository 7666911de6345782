package hessian

import (
	"sync"

	"hesscope/dist"
	"hesscope/nn"
	"hesscope/tensor"
)

// A pool streams the chunks of a dataset through a fixed set of workers,
// each with its own Evaluator (its own tape) and chunk buffer, and hands
// their results to a commit function strictly in chunk order.
//
// Worker w processes chunks w, w+W, w+2W, … (a fixed assignment), and after
// computing chunk c it waits until chunks 0…c−1 are committed before
// committing c. Every reduction therefore adds the same terms in the same
// order as a sequential loop over the chunks: the result is bit-for-bit the
// same for any number of workers, and memory is one chunk's activations per
// worker plus whatever commit accumulates into.
type pool[T tensor.Float] struct {
	model   Model[T]
	data    ChunkReader[T]
	engine  Engine[T]
	workers []*worker[T]
}

type worker[T tensor.Float] struct {
	pass    Passer[T]     // the engine's passes (Params, Objective)
	eval    *Evaluator[T] // the CPU engine (GaussNewton)
	buf     *tensor.Dense[T]
	kept    []*Evaluator[T]    // chunk slots 1, 2, … of Params.KeepChunks
	res     Result[T]          // the last pass, for commit
	grads   []*tensor.Dense[T] // the last Gauss-Newton product, for commit
	correct int                // correct predictions of the last pass
}

// newPool returns a pool of n workers over data (n ≤ 0: 1), never more than
// there are chunks. Evaluators are created lazily.
//
// One worker is the default because every pass is already parallel inside
// (convolutions and GEMMs over the images of the chunk): on 2 cores,
// BenchmarkParamsWorkers measures 2 workers 30–80% slower than 1. More
// workers pay off when chunks are too small to keep the cores busy.
func newPool[T tensor.Float](m Model[T], data Data[T], engine Engine[T], n int) *pool[T] {
	if n <= 0 {
		n = 1
	}
	n = max(1, min(n, data.Chunks()))
	p := &pool[T]{model: m, data: Concurrent(data), engine: engine, workers: make([]*worker[T], n)}
	for i := range p.workers {
		p.workers[i] = &worker[T]{}
	}
	return p
}

// run calls work for every chunk c on its worker and then commit(w, c, n),
// n the chunk's size, serialised and in increasing c; commit may read what
// work left in the worker's Evaluator.
func (p *pool[T]) run(work func(w *worker[T], c int, x *tensor.Dense[T], y []int), commit func(w *worker[T], c, n int)) {
	chunks := p.data.Chunks()
	do := func(w *worker[T], c int) int {
		if w.eval == nil {
			w.eval = NewEvaluator(p.model)
			w.pass = w.eval
			if p.engine != nil {
				w.pass = p.engine(p.model)
			}
		}
		x, y := p.data.ChunkTo(w.buf, c)
		w.buf = x
		work(w, c, x, y)
		return len(y)
	}
	if len(p.workers) == 1 {
		w := p.workers[0]
		for c := 0; c < chunks; c++ {
			n := do(w, c)
			commit(w, c, n)
		}
		return
	}
	var (
		mu   sync.Mutex
		cond = sync.NewCond(&mu)
		next int // the next chunk to commit
		wg   sync.WaitGroup
	)
	for i, w := range p.workers {
		wg.Go(func() {
			for c := i; c < chunks; c += len(p.workers) {
				n := do(w, c)
				mu.Lock()
				for next != c {
					cond.Wait()
				}
				mu.Unlock()
				// Only this worker may commit now: the others wait for
				// next to reach their chunk.
				commit(w, c, n)
				mu.Lock()
				next++
				cond.Broadcast()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// chunked is what the operators over a dataset share — Params,
// GaussNewton and Objective: a model read over the data in chunks by a pool
// of workers, a set of parameter tensors as the coordinates, and one vector
// of that space shaped like them (the tangent of a product, or the point of
// an evaluation).
type chunked[T tensor.Float] struct {
	model  Model[T]
	data   Data[T]
	mode   nn.Mode
	params []*nn.Param[T]
	vec    []*tensor.Dense[T]
	dim    int
	pool   *pool[T]
	// Workers is the number of chunks processed at once, each pass being
	// parallel inside; 0 means 1. It is read by the first product or
	// evaluation.
	Workers int
	// Comm, if not nil, splits the dataset across the ranks of a job: Data
	// is this rank's shard (Float32Data.Shard cuts one), the means are
	// over the union of the shards, and every product, gradient or
	// evaluation ends with one all-reduce of its vector and scalars, so
	// every rank gets the same result, bit for bit for a given number of
	// ranks. Every rank must make the same calls in the same order. It is
	// read by the first product or evaluation.
	Comm dist.Comm

	total float64   // the number of samples over all ranks, once known
	red   []float64 // the all-reduce buffer

	// Engine makes the Passer of each worker; nil means the CPU engine
	// (NewEvaluator). It is read by the first product or evaluation.
	// GaussNewton runs on the CPU engine only.
	Engine Engine[T]
}

// newChunked returns the shared state of an operator of m on data over
// params (nil: every trainable parameter).
func newChunked[T tensor.Float](m Model[T], data Data[T], mode nn.Mode, params []*nn.Param[T]) chunked[T] {
	if params == nil {
		params = nn.Trainable(m.Params())
	}
	return chunked[T]{model: m, data: data, mode: mode, params: params, vec: nn.Like(params), dim: nn.Size(params)}
}

// Dim is the number of parameters the operator acts on.
func (c *chunked[T]) Dim() int { return c.dim }

// Parameters returns the parameter tensors the operator acts on, in the
// order of its coordinates.
func (c *chunked[T]) Parameters() []*nn.Param[T] { return c.params }

// count returns the number of samples over all ranks (an all-reduce the
// first time, on every rank).
func (c *chunked[T]) count() float64 {
	if c.total == 0 {
		b := []float64{float64(c.data.Len())}
		if c.Comm != nil {
			c.Comm.AllreduceFloat64(b)
		}
		c.total = b[0]
	}
	return c.total
}

// allreduce sums vec and the scalars over the ranks in one all-reduce
// (nothing to do for one process).
func (c *chunked[T]) allreduce(vec []float64, scalars ...*float64) {
	if c.Comm == nil || c.Comm.Size() == 1 {
		return
	}
	c.red = append(append(c.red[:0], vec...), make([]float64, len(scalars))...)
	for i, s := range scalars {
		c.red[len(vec)+i] = *s
	}
	c.Comm.AllreduceFloat64(c.red)
	copy(vec, c.red)
	for i, s := range scalars {
		*s = c.red[len(vec)+i]
	}
}

// workers returns the pool, made on first use.
func (c *chunked[T]) workers() *pool[T] {
	if c.pool == nil {
		c.pool = newPool(c.model, c.data, c.Engine, c.Workers)
	}
	return c.pool
}

// chunkEval returns the worker's Evaluator of its chunk slot j (its chunks
// are j·W + its index): its own Evaluator for slot 0, one made on first use
// for each other, so that every chunk keeps its pass (Params.KeepChunks).
func (w *worker[T]) chunkEval(j int, m Model[T]) *Evaluator[T] {
	if j == 0 {
		return w.eval
	}
	for len(w.kept) < j {
		w.kept = append(w.kept, nil)
	}
	if w.kept[j-1] == nil {
		w.kept[j-1] = NewEvaluator(m)
	}
	return w.kept[j-1]
}
