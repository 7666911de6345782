package hessian

import (
	"math"
	"runtime"

	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// Params is the Hessian of the mean loss over Data with respect to a set of
// parameter tensors (all trainable ones by default, or one layer's): a
// linop.Operator of dimension the number of their elements. Restricted to a
// subset it is the corresponding diagonal block of the full Hessian.
//
// Apply streams the chunks through Workers goroutines, each with its own
// Evaluator (the model is only read), and adds the per-chunk products,
// weighted by chunk size, in chunk order: H·v is bit-for-bit the same for
// any number of workers. Memory is one chunk's activations per worker.
// Where every worker has one chunk (at most Workers chunks), or with
// KeepChunks, the chunks' passes are kept between products
// (Request.Retain): the products after the first skip the values and
// cotangents, with the same bits, and a change of the model's parameters
// is seen and runs the passes again.
//
// Its Workers field is the number of chunks processed at once, each pass
// being parallel inside; 0 means 1. It is read by the first Apply or
// Gradient.
type Params[T tensor.Float] struct {
	chunked[T]
	// KeepChunks keeps every chunk's pass between products where workers
	// have more than one chunk each: an Evaluator per chunk, each keeping
	// its pass (Request.Retain), so that every product after the first
	// skips the values and cotangents of every chunk, with the same bits.
	// It costs a kept pass's working set per chunk (hessian.WorkingSet of
	// an HVPPass over a chunk, once per chunk): the caller checks that it
	// fits. CPU engine only (Engine nil); read at every Apply.
	KeepChunks bool
	// HVPs counts the products computed; Loss is the mean loss seen by the
	// last product.
	HVPs int
	Loss float64
}

var _ linop.Operator = (*Params[float32])(nil)

// NewParams returns the parameter-Hessian operator of m on data in the given
// BatchNorm mode over params (nil: every trainable parameter).
func NewParams[T tensor.Float](m Model[T], data Data[T], mode nn.Mode, params []*nn.Param[T]) *Params[T] {
	return &Params[T]{chunked: newChunked(m, data, mode, params)}
}

// Apply writes H·v into dst.
func (o *Params[T]) Apply(dst, v []float64) {
	nn.Scatter(o.vec, v)
	clear(dst)
	o.Loss = 0
	n := o.count()
	pool := o.workers()
	// A worker with one chunk keeps its pass for the next product; with
	// KeepChunks, an Evaluator for each of its chunks keeps that chunk's.
	W := len(pool.workers)
	one := o.data.Chunks() <= W
	each := o.KeepChunks && !one && o.Engine == nil
	pool.run(func(w *worker[T], c int, x *tensor.Dense[T], y []int) {
		p := w.pass
		if each {
			p = w.chunkEval(c/W, o.model)
		}
		w.res = p.Pass(x, y, Request[T]{Mode: o.mode, Params: o.params, ParamTangent: o.vec, HvOnly: true, Retain: one || each})
	}, func(w *worker[T], _, size int) {
		wt := float64(size) / n
		o.Loss += wt * w.res.Loss
		addWeighted(dst, w.res.ParamHv, o.vec, wt)
	})
	o.allreduce(dst, &o.Loss)
	o.HVPs++
}

// Release lets go of the operator's evaluators and the passes they keep,
// so that their memory (a pass per worker, or per chunk with KeepChunks)
// is free for what follows; a later product makes new evaluators and runs
// the passes again. With KeepChunks it collects at once, so that the next
// operator's kept passes are never held beside these (the callers check
// memory for one set).
func (o *Params[T]) Release() {
	o.pool = nil
	if o.KeepChunks {
		runtime.GC()
	}
}

// Gradient returns the mean loss and its gradient (flattened) over the data.
func (o *Params[T]) Gradient() (float64, []float64) {
	g := make([]float64, o.dim)
	var loss float64
	n := o.count()
	o.workers().run(func(w *worker[T], c int, x *tensor.Dense[T], y []int) {
		w.res = w.pass.Pass(x, y, Request[T]{Mode: o.mode, Params: o.params})
	}, func(w *worker[T], _, size int) {
		wt := float64(size) / n
		loss += wt * w.res.Loss
		addWeighted(g, w.res.ParamGrad, o.vec, wt)
	})
	o.allreduce(g, &loss)
	return loss, g
}

// addWeighted adds w·blocks (flattened in order; nil blocks are zero,
// shaped like like) to dst.
func addWeighted[T tensor.Float](dst []float64, blocks, like []*tensor.Dense[T], w float64) {
	off := 0
	for i, b := range blocks {
		n := like[i].Len()
		if b != nil {
			d := dst[off : off+n]
			for j, v := range b.Data {
				d[j] += w * float64(v)
			}
		}
		off += n
	}
}

// Input is the Hessian of the batch-mean loss with respect to the whole input
// batch x (dimension N·C·H·W), in eval mode unless Mode says otherwise. In
// eval mode it is block diagonal: the block of sample i is the Hessian of
// that sample's loss divided by N. Its products keep the pass
// (Request.Retain): x, y or the model may change between them.
type Input[T tensor.Float] struct {
	eval    *Evaluator[T]
	x       *tensor.Dense[T]
	y       []int
	mode    nn.Mode
	tangent *tensor.Dense[T]
	// HVPs counts the products computed; Loss is the batch-mean loss seen
	// by the last product.
	HVPs int
	Loss float64
}

var _ linop.Operator = (*Input[float32])(nil)

// NewInput returns the input-Hessian operator of m at the batch (x, y).
func NewInput[T tensor.Float](m Model[T], x *tensor.Dense[T], y []int, mode nn.Mode) *Input[T] {
	return &Input[T]{eval: NewEvaluator(m), x: x, y: y, mode: mode, tangent: tensor.New[T](x.Shape...)}
}

// Dim is the number of input values.
func (o *Input[T]) Dim() int { return o.x.Len() }

// Apply writes H·v into dst.
func (o *Input[T]) Apply(dst, v []float64) {
	for i, f := range v {
		o.tangent.Data[i] = T(f)
	}
	r := o.eval.Pass(o.x, o.y, Request[T]{Mode: o.mode, InputGrad: true, InputTangent: o.tangent, HvOnly: true, Retain: true})
	o.Loss = r.Loss
	if r.InputHv == nil {
		clear(dst)
	} else {
		for i, f := range r.InputHv.Data {
			dst[i] = float64(f)
		}
	}
	o.HVPs++
}

// GaussNewton is the generalised Gauss-Newton matrix G = Jᵀ·H_ℓ·J of the mean
// loss over Data with respect to params, where J is the Jacobian of the
// logits and H_ℓ = (diag(p) − ppᵀ)/N the Hessian of the cross-entropy in the
// logits. It is positive semi-definite and needs no second derivatives of
// the network: one tangent pass and one reverse pass. Chunks are processed
// in parallel and reduced in order, as for Params.
// Its Workers field is as Params'.
type GaussNewton[T tensor.Float] struct {
	chunked[T]
	// HVPs counts the products computed.
	HVPs int
}

var _ linop.Operator = (*GaussNewton[float32])(nil)

// NewGaussNewton returns the GGN operator of m on data over params (nil: all trainable).
func NewGaussNewton[T tensor.Float](m Model[T], data Data[T], mode nn.Mode, params []*nn.Param[T]) *GaussNewton[T] {
	return &GaussNewton[T]{chunked: newChunked(m, data, mode, params)}
}

// Apply writes G·v into dst.
func (o *GaussNewton[T]) Apply(dst, v []float64) {
	if o.Engine != nil {
		panic("hessian: GaussNewton runs on the CPU engine only (Engine must be nil)")
	}
	nn.Scatter(o.vec, v)
	clear(dst)
	n := o.count()
	o.workers().run(func(w *worker[T], c int, x *tensor.Dense[T], y []int) {
		w.grads = w.eval.gaussNewton(x, y, o.mode, o.params, o.vec, w.grads)
	}, func(w *worker[T], _, size int) {
		addWeighted(dst, w.grads, o.vec, float64(size)/n)
	})
	o.allreduce(dst)
	o.HVPs++
}

// gaussNewton computes, for one batch, Jᵀ·H_ℓ·J·v per parameter of params
// (into grads, reallocated if short), with v given by tangent.
func (e *Evaluator[T]) gaussNewton(x *tensor.Dense[T], y []int, mode nn.Mode, params []*nn.Param[T], tangent, grads []*tensor.Dense[T]) []*tensor.Dense[T] {
	tp := e.tape
	tp.Reset()
	g := e.bind(mode, params, tangent, nil, false)
	logits := e.Model.Forward(g, tp.Leaf(x, nil, false))
	z, zDot := tp.Value(logits), tp.Tangent(logits)
	seed := tensor.New[T](z.Shape...)
	if zDot != nil {
		k := z.Shape[1]
		for i := 0; i < z.Shape[0]; i++ {
			softmaxHessianTo(seed.Data[i*k:(i+1)*k], z.Data[i*k:(i+1)*k], zDot.Data[i*k:(i+1)*k], 1/float64(len(y)))
		}
	}
	tp.BackwardFrom(logits, seed, false)
	if len(grads) < len(params) {
		grads = make([]*tensor.Dense[T], len(params))
	}
	for i, p := range params {
		grads[i] = g.Grad(p)
	}
	return grads[:len(params)]
}

// softmaxHessianTo writes s·(diag(p) − ppᵀ)·u into dst with p = softmax(z).
func softmaxHessianTo[T tensor.Float](dst, z, u []T, s float64) {
	m := float64(z[0])
	for _, v := range z {
		m = max(m, float64(v))
	}
	p := make([]float64, len(z))
	var sum float64
	for i, v := range z {
		p[i] = math.Exp(float64(v) - m)
		sum += p[i]
	}
	var pu float64
	for i := range p {
		p[i] /= sum
		pu += p[i] * float64(u[i])
	}
	for i := range p {
		dst[i] = T(s * p[i] * (float64(u[i]) - pu))
	}
}
