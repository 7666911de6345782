//go:build cuda

package cuda

import (
	"fmt"
	"math"

	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/tensor"
)

// NewEngine opens the GPU, loads cuBLAS (and cuDNN if m has convolutions)
// and checks that the GPU evaluator runs m on images of shape input; the
// Engine it returns makes one Evaluator per worker of an operator. Every
// failure is a one-line error naming what is missing or unsupported.
func NewEngine[T tensor.Float](m hessian.Model[T], input [3]int) (hessian.Engine[T], error) {
	d, pl, err := prepare(m, input)
	if err != nil {
		return nil, err
	}
	return func(mm hessian.Model[T]) hessian.Passer[T] {
		p := pl
		if mm != m {
			var err error
			p, err = record(mm, input)
			must(err)
		}
		return newEvaluator(&gpu{dev: d}, mm, p)
	}, nil
}

// NewEvaluator returns a GPU evaluator of m on images of shape input, or
// a one-line error as NewEngine.
func NewEvaluator[T tensor.Float](m hessian.Model[T], input [3]int) (*Evaluator[T], error) {
	d, pl, err := prepare(m, input)
	if err != nil {
		return nil, err
	}
	return newEvaluator(&gpu{dev: d}, m, pl), nil
}

// prepare opens the device, records m's plan and loads the libraries the
// plan needs.
func prepare[T tensor.Float](m hessian.Model[T], input [3]int) (*Device, *plan[T], error) {
	d, err := Open()
	if err != nil {
		return nil, nil, err
	}
	pl, err := record(m, input)
	if err != nil {
		return nil, nil, err
	}
	if err := loadBLAS(); err != nil {
		return nil, nil, err
	}
	if pl.needsConv {
		if err := loadDNN(); err != nil {
			return nil, nil, err
		}
	}
	return d, pl, nil
}

// Evaluator is hessian.Evaluator on the GPU: a hessian.Passer computing the
// batch-mean cross-entropy of a model, its gradient and Hessian-vector
// products with respect to the parameters, by the same forward-over-reverse
// algebra as the CPU tape (see package autodiff), with BatchNorm in eval
// mode. Gradients and products with respect to the input are not
// implemented (Pass panics). It keeps the activations of the largest batch
// seen on the GPU (four buffers per value: about four times the forward
// activations) and is not safe for concurrent use. A failure of the
// device during a pass panics with a cuda error.
type Evaluator[T tensor.Float] struct {
	be    backend
	model hessian.Model[T]
	plan  *plan[T]
	sfx   string // kernel name suffix: _f32 or _f64
	size  int    // bytes per element

	capN    int // batch size the buffers hold (0: none)
	bufs    []nodeBufs
	convs   map[[2]int]convOps // by node and batch size
	labels  buffer             // int32 [N]
	probs   buffer             // float64 [N, K]
	losses  buffer             // float64 [N]
	argmax  map[int]buffer
	bnStats map[int][2]buffer   // mean (T), 1/√(σ²+ε) (float64)
	bnHost  map[int]*bnStats[T] // what bnStats hold
	part    buffer              // float64 partial sums of the channel reductions
	// The parameters' values, tangents, cotangents and tangents of the
	// cotangents, each in one block (parameter k at offset poff[k]), so
	// that a pass copies them with one call each way.
	pbuf   [4]buffer
	poff   []int
	ptotal int

	// per pass
	hasDot, needBar []bool
	host            hostResult[T]
}

// nodeBufs are a node's value, tangent, cotangent and tangent of the
// cotangent on the GPU (bar and barDot unused for the input and the loss).
type nodeBufs struct {
	val, dot, bar, barDot buffer
	alias                 bool // val and dot are the input's (a reshape)
	param                 bool // all four are parts of the parameter blocks
}

// hostResult holds the tensors a Result hands out, reused from pass to pass.
type hostResult[T tensor.Float] struct {
	logitBuf    []T
	p           [4][]T             // the parameter blocks (pbuf) on the host
	grads, hvps []*tensor.Dense[T] // views of p[2] and p[3], by parameter
	losses      []float64
	labels      []int32
}

func newEvaluator[T tensor.Float](be backend, m hessian.Model[T], pl *plan[T]) *Evaluator[T] {
	e := &Evaluator[T]{be: be, model: m, plan: pl, sfx: "_f64", size: 8}
	if _, ok := any(T(0)).(float32); ok {
		e.sfx, e.size = "_f32", 4
	}
	e.poff = make([]int, len(pl.params))
	for k, p := range pl.params {
		e.poff[k] = e.ptotal
		e.ptotal += p.Value.Len()
	}
	for j := range e.host.p {
		e.host.p[j] = make([]T, e.ptotal)
	}
	e.host.grads, e.host.hvps = make([]*tensor.Dense[T], len(pl.params)), make([]*tensor.Dense[T], len(pl.params))
	for k, p := range pl.params {
		lo, hi := e.poff[k], e.poff[k]+p.Value.Len()
		e.host.grads[k] = tensor.FromSlice(e.host.p[2][lo:hi], p.Value.Shape...)
		e.host.hvps[k] = tensor.FromSlice(e.host.p[3][lo:hi], p.Value.Shape...)
	}
	return e
}

// Close frees the evaluator's GPU memory and handles; it must not be used
// afterwards.
func (e *Evaluator[T]) Close() {
	defer e.be.enter()()
	e.freeBuffers()
	for j := range e.pbuf {
		e.be.free(&e.pbuf[j])
	}
	e.be.close()
	e.convs = nil
}

func (e *Evaluator[T]) dtype() int32 {
	if e.size == 4 {
		return dnnFloat
	}
	return dnnDouble
}

func (e *Evaluator[T]) freeBuffers() {
	be := e.be
	for i := range e.bufs {
		b := &e.bufs[i]
		if b.param {
			continue
		}
		if !b.alias {
			be.free(&b.val)
			be.free(&b.dot)
		}
		be.free(&b.bar)
		be.free(&b.barDot)
	}
	e.bufs = nil
	for _, b := range e.argmax {
		be.free(&b)
	}
	for _, s := range e.bnStats {
		be.free(&s[0])
		be.free(&s[1])
	}
	e.bnHost = nil
	be.free(&e.part)
	be.free(&e.labels)
	be.free(&e.probs)
	be.free(&e.losses)
	e.capN = 0
}

// reserve makes the buffers hold a batch of n images: they are allocated
// for the largest batch seen, so that the smaller last chunk of a dataset
// reuses them.
func (e *Evaluator[T]) reserve(n int) {
	if n <= e.capN {
		return
	}
	e.freeBuffers()
	pl := e.plan
	e.bufs = make([]nodeBufs, len(pl.nodes))
	e.argmax, e.bnStats = map[int]buffer{}, map[int][2]buffer{}
	alloc := e.be.alloc
	if e.pbuf[0].ptr == 0 {
		for j := range e.pbuf {
			e.pbuf[j] = alloc(e.ptotal * e.size)
		}
	}
	for i, nd := range pl.nodes {
		b := &e.bufs[i]
		bytes := tensor.Numel(pl.shapeAt(i, n)) * e.size
		switch nd.kind {
		case kLoss:
			continue
		case kParam:
			off := devptr(e.poff[nd.param] * e.size)
			part := func(j int) buffer { return buffer{ptr: e.pbuf[j].ptr + off, bytes: bytes} }
			b.val, b.dot, b.bar, b.barDot, b.param = part(0), part(1), part(2), part(3), true
			continue
		case kInput:
			b.val = alloc(bytes)
			continue
		case kReshape:
			src := e.bufs[nd.in[0]]
			b.val, b.dot, b.alias = src.val, src.dot, true
		default:
			b.val, b.dot = alloc(bytes), alloc(bytes)
		}
		b.bar, b.barDot = alloc(bytes), alloc(bytes)
		switch nd.kind {
		case kMaxPool:
			e.argmax[i] = alloc(tensor.Numel(pl.shapeAt(i, n)) * 4)
		case kBatchNorm:
			c := nd.shape[1]
			e.bnStats[i] = [2]buffer{alloc(c * e.size), alloc(c * 8)}
		}
	}
	e.labels, e.probs, e.losses = alloc(n*4), alloc(n*pl.classes*8), alloc(n*8)
	e.host.losses, e.host.labels = make([]float64, n), make([]int32, n)
	e.host.logitBuf = make([]T, n*pl.classes)
	e.capN = n
}

// conv returns convolution node i at batch size n, made on first use
// (cuDNN's choice of algorithm depends on the batch size).
func (e *Evaluator[T]) conv(i, n int) convOps {
	if e.convs == nil {
		e.convs = map[[2]int]convOps{}
	}
	if c, ok := e.convs[[2]int{i, n}]; ok {
		return c
	}
	pl, nd := e.plan, e.plan.nodes[i]
	xs, ws, ys := pl.shapeAt(nd.in[0], n), pl.nodes[nd.in[1]].shape, pl.shapeAt(i, n)
	c := e.be.conv(e.dtype(), convShape{n: xs[0], c: xs[1], h: xs[2], w: xs[3], o: ws[0], k: nd.kernel, stride: nd.stride, pad: nd.pad, oh: ys[2], ow: ys[3]})
	e.convs[[2]int{i, n}] = c
	return c
}

// k returns the kernel name with the evaluator's type suffix.
func (e *Evaluator[T]) k(name string) string { return name + e.sfx }

// dotOf returns node i's tangent, or 0 (null) if it is zero.
func (e *Evaluator[T]) dotOf(i int) devptr {
	if e.hasDot[i] {
		return e.bufs[i].dot.ptr
	}
	return 0
}

// Pass computes the batch-mean cross-entropy of the model on (x, y) and the
// parameter gradients and Hessian-vector products req asks for, on the GPU.
// It panics, as hessian.Evaluator does, on labels out of range, and on what
// the GPU evaluator does not do: BatchNorm in train mode and derivatives
// with respect to the input. With req.HvOnly the gradient is still formed on
// the GPU, beside the products, but not copied back: ParamGrad is nil.
func (e *Evaluator[T]) Pass(x *tensor.Dense[T], y []int, req hessian.Request[T]) hessian.Result[T] {
	pl := e.plan
	if req.Mode != nn.Eval {
		panic("cuda: the GPU evaluator runs BatchNorm in eval mode only")
	}
	if req.InputGrad || req.InputTangent != nil {
		panic("cuda: the GPU evaluator has no input gradients or input Hessian-vector products")
	}
	if req.ParamTangent != nil && len(req.ParamTangent) != len(req.Params) {
		panic(fmt.Sprintf("cuda: %d parameter tangents for %d parameters", len(req.ParamTangent), len(req.Params)))
	}
	if len(x.Shape) != 4 || x.Shape[1] != pl.input[0] || x.Shape[2] != pl.input[1] || x.Shape[3] != pl.input[2] || x.Shape[0] != len(y) || len(y) == 0 {
		panic(fmt.Sprintf("cuda: input %s with %d labels, want [N, %d, %d, %d]", tensor.ShapeString(x.Shape), len(y), pl.input[0], pl.input[1], pl.input[2]))
	}
	if req.At != nil && len(req.At) != len(pl.params) {
		panic(fmt.Sprintf("hessian: Request.At has %d tensors for %d trainable parameters", len(req.At), len(pl.params)))
	}
	n := len(y)

	defer e.be.enter()()
	e.reserve(n)

	// Which parameters have tangents and need cotangents.
	wanted := make(map[*nn.Param[T]]int, len(req.Params))
	for i, p := range req.Params {
		wanted[p] = i
	}
	nodes := pl.nodes
	e.hasDot = resize(e.hasDot, len(nodes))
	e.needBar = resize(e.needBar, len(nodes))
	second := false
	lo, hi := e.ptotal, 0 // the range of the requested parameters' elements
	for i, nd := range nodes {
		switch nd.kind {
		case kParam:
			p, off := pl.params[nd.param], e.poff[nd.param]
			v := p.Value
			if req.At != nil {
				v = req.At[nd.param]
				if !tensor.SameShape(v.Shape, p.Value.Shape) {
					panic(fmt.Sprintf("hessian: Request.At has no tensor of shape %s for %s (entry %d)", tensor.ShapeString(p.Value.Shape), p.Name, nd.param))
				}
			}
			copy(e.host.p[0][off:], v.Data)
			j, ok := wanted[p]
			e.needBar[i] = ok
			e.hasDot[i] = ok && req.ParamTangent != nil && req.ParamTangent[j] != nil
			if e.hasDot[i] {
				copy(e.host.p[1][off:], req.ParamTangent[j].Data)
				second = true
			}
			if ok {
				lo, hi = min(lo, off), max(hi, off+v.Len())
			}
		case kInput:
			e.hasDot[i], e.needBar[i] = false, false
		default:
			e.hasDot[i], e.needBar[i] = false, false
			for _, j := range nd.in {
				e.hasDot[i] = e.hasDot[i] || e.hasDot[j]
				e.needBar[i] = e.needBar[i] || e.needBar[j]
			}
		}
	}
	for i, lbl := range y {
		if lbl < 0 || lbl >= pl.classes {
			panic(fmt.Sprintf("autodiff: label %d outside [0, %d)", lbl, pl.classes))
		}
		e.host.labels[i] = int32(lbl)
	}
	uploadSlice(e.be, e.pbuf[0].ptr, e.host.p[0])
	if second {
		uploadSlice(e.be, e.pbuf[1].ptr, e.host.p[1])
	}
	uploadSlice(e.be, e.labels.ptr, e.host.labels[:n])
	uploadSlice(e.be, e.bufs[len(pl.params)].val.ptr, x.Data)

	for i := range nodes {
		e.forward(i, n)
	}
	// The loss, summed over the samples in order as the CPU does.
	losses := e.host.losses[:n]
	downloadSlice(e.be, losses, e.losses.ptr)
	var loss float64
	for _, l := range losses {
		loss += l
	}
	logits := tensor.FromSlice(e.host.logitBuf[:n*pl.classes], n, pl.classes)
	downloadSlice(e.be, logits.Data, e.bufs[pl.logits].val.ptr)
	r := hessian.Result[T]{Loss: float64(T(loss / float64(n))), Logits: logits}
	if len(req.Params) == 0 {
		return r
	}

	e.be.zero(e.pbuf[2].ptr, e.ptotal*e.size)
	if second {
		e.be.zero(e.pbuf[3].ptr, e.ptotal*e.size)
	}
	for i, nd := range nodes {
		if e.needBar[i] && nd.kind != kLoss && nd.kind != kParam {
			b, bytes := e.bufs[i], tensor.Numel(pl.shapeAt(i, n))*e.size
			e.be.zero(b.bar.ptr, bytes)
			if second {
				e.be.zero(b.barDot.ptr, bytes)
			}
		}
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		if e.needBar[i] {
			e.backward(i, n, second)
		}
	}

	if lo < hi {
		if !req.HvOnly {
			downloadSlice(e.be, e.host.p[2][lo:hi], e.pbuf[2].ptr+devptr(lo*e.size))
		}
		if second {
			downloadSlice(e.be, e.host.p[3][lo:hi], e.pbuf[3].ptr+devptr(lo*e.size))
		}
	}
	if !req.HvOnly {
		r.ParamGrad = make([]*tensor.Dense[T], len(req.Params))
	}
	r.ParamHv = make([]*tensor.Dense[T], len(req.Params))
	index := map[*nn.Param[T]]int{}
	for k, p := range pl.params {
		index[p] = k
	}
	for i, p := range req.Params {
		k, ok := index[p]
		if !ok { // a buffer: no gradient, as on the CPU
			continue
		}
		if r.ParamGrad != nil {
			r.ParamGrad[i] = e.host.grads[k]
		}
		if second {
			r.ParamHv[i] = e.host.hvps[k]
		}
	}
	return r
}

func resize(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	return b[:n]
}

// forward computes node i's value and, if it has one, its tangent.
func (e *Evaluator[T]) forward(i, n int) {
	pl, d, dt := e.plan, e.be, e.dtype()
	nd := pl.nodes[i]
	if nd.kind == kParam || nd.kind == kInput || nd.kind == kReshape {
		return
	}
	y := e.bufs[i]
	shape := pl.shapeAt(i, n)
	size := tensor.Numel(shape)
	in := nd.in
	val := func(j int) devptr { return e.bufs[in[j]].val.ptr }
	dot := func(j int) devptr { return e.dotOf(in[j]) }
	switch nd.kind {
	case kLinear:
		ws := pl.nodes[in[1]].shape
		out, inF := ws[0], ws[1]
		d.gemm(dt, false, true, n, out, inF, 1, val(0), val(1), 0, y.val.ptr)
		if len(in) == 3 {
			d.launch(e.k("bias_add"), blocksFor(size), size, out, 1, val(2), y.val.ptr)
		}
		if e.hasDot[i] {
			beta := 0.0
			if p := dot(0); p != 0 {
				d.gemm(dt, false, true, n, out, inF, 1, p, val(1), beta, y.dot.ptr)
				beta = 1
			}
			if p := dot(1); p != 0 {
				d.gemm(dt, false, true, n, out, inF, 1, val(0), p, beta, y.dot.ptr)
				beta = 1
			}
			if beta == 0 {
				d.zero(y.dot.ptr, size*e.size)
			}
			if len(in) == 3 {
				if p := dot(2); p != 0 {
					d.launch(e.k("bias_add"), blocksFor(size), size, out, 1, p, y.dot.ptr)
				}
			}
		}
	case kConv:
		cp := e.conv(i, n)
		cp.forward(0, val(0), val(1), y.val.ptr)
		c, hw := shape[1], shape[2]*shape[3]
		if len(in) == 3 {
			d.launch(e.k("bias_add"), blocksFor(size), size, c, hw, val(2), y.val.ptr)
		}
		if e.hasDot[i] {
			beta := 0.0
			if p := dot(0); p != 0 {
				cp.forward(beta, p, val(1), y.dot.ptr)
				beta = 1
			}
			if p := dot(1); p != 0 {
				cp.forward(beta, val(0), p, y.dot.ptr)
				beta = 1
			}
			if beta == 0 {
				d.zero(y.dot.ptr, size*e.size)
			}
			if len(in) == 3 {
				if p := dot(2); p != 0 {
					d.launch(e.k("bias_add"), blocksFor(size), size, c, hw, p, y.dot.ptr)
				}
			}
		}
	case kBatchNorm:
		c, hw := shape[1], tensor.Numel(shape[2:])
		st := e.bnStats[i]
		e.bnUpload(i, st)
		d.launch(e.k("bn_fwd"), blocksFor(size), size, c, hw, val(0), st[0].ptr, st[1].ptr, val(1), val(2), y.val.ptr)
		if e.hasDot[i] {
			d.launch(e.k("bn_jvp"), blocksFor(size), size, c, hw, val(0), dot(0), st[0].ptr, st[1].ptr, val(1), dot(1), dot(2), y.dot.ptr)
		}
	case kReLU:
		d.launch(e.k("relu_mask"), blocksFor(size), size, val(0), val(0), y.val.ptr)
		if e.hasDot[i] {
			d.launch(e.k("relu_mask"), blocksFor(size), size, val(0), dot(0), y.dot.ptr)
		}
	case kMaxPool:
		xs := pl.shapeAt(in[0], n)
		nc, h, w, oh, ow := xs[0]*xs[1], xs[2], xs[3], shape[2], shape[3]
		am := e.argmax[i].ptr
		d.launch(e.k("maxpool_fwd"), blocksFor(size), nc, h, w, oh, ow, nd.kernel, nd.stride, nd.pad, val(0), y.val.ptr, am)
		if e.hasDot[i] {
			d.launch(e.k("maxpool_gather"), blocksFor(size), size, h*w, oh*ow, am, dot(0), y.dot.ptr)
		}
	case kAvgPool:
		xs := pl.shapeAt(in[0], n)
		nc, hw := xs[0]*xs[1], xs[2]*xs[3]
		d.launch(e.k("gap_fwd"), blocksFor(nc), nc, hw, val(0), y.val.ptr)
		if e.hasDot[i] {
			d.launch(e.k("gap_fwd"), blocksFor(nc), nc, hw, dot(0), y.dot.ptr)
		}
	case kAdd:
		d.launch(e.k("add2"), blocksFor(size), size, val(0), val(1), y.val.ptr)
		if e.hasDot[i] {
			a, b := dot(0), dot(1)
			switch {
			case a != 0 && b != 0:
				d.launch(e.k("add2"), blocksFor(size), size, a, b, y.dot.ptr)
			default: // one tangent: ẏ is a copy of it
				src := a
				if src == 0 {
					src = b
				}
				d.zero(y.dot.ptr, size*e.size)
				d.launch(e.k("acc"), blocksFor(size), size, src, y.dot.ptr)
			}
		}
	case kLoss:
		z := pl.shapeAt(in[0], n)
		d.launch(e.k("ce_fwd"), blocksFor(z[0]), z[0], z[1], val(0), e.labels.ptr, e.probs.ptr, e.losses.ptr)
	default:
		panic(fmt.Sprintf("cuda: forward of %s", kindNames[nd.kind]))
	}
}

// reduceSplits is the number of blocks per channel of a channel reduction
// over per values: enough to fill the GPU (about four blocks for each of an
// H200's 132 processors) but at least 2048 values each, at most 256. It
// depends on the shapes only, so that sums are deterministic.
func reduceSplits(c, per int) int {
	return max(1, min((528+c-1)/c, per/2048, 256))
}

// scratch returns a float64 scratch buffer of at least n elements.
func (e *Evaluator[T]) scratch(n int) devptr {
	if e.part.bytes < 8*n {
		e.be.free(&e.part)
		e.part = e.be.alloc(8 * n)
	}
	return e.part.ptr
}

// channelSum adds to dst[ch] the sum of src [n, c, hw] over n and hw.
func (e *Evaluator[T]) channelSum(n, c, hw int, src, dst devptr) {
	sp := reduceSplits(c, n*hw)
	part := e.scratch(c * sp)
	e.be.launch(e.k("channel_sum_part"), c*sp, n, c, hw, sp, src, part)
	e.be.launch(e.k("channel_sum_fin"), blocksFor(c), c, sp, part, dst)
}

// bnUpload copies BatchNorm node i's running mean and 1/√(σ²+ε) to st
// when they differ from what the GPU holds (they are read every pass: a
// model may be trained between passes).
func (e *Evaluator[T]) bnUpload(i int, st [2]buffer) {
	nd := e.plan.nodes[i]
	c := len(nd.mean)
	if e.bnHost == nil {
		e.bnHost = map[int]*bnStats[T]{}
	}
	h := e.bnHost[i]
	if h == nil {
		h = &bnStats[T]{mean: make([]T, c), inv: make([]float64, c)}
		e.bnHost[i] = h
	}
	changed := !h.valid
	for ch := range c {
		inv := 1 / math.Sqrt(float64(nd.variance[ch])+nd.eps)
		if h.mean[ch] != nd.mean[ch] || h.inv[ch] != inv {
			h.mean[ch], h.inv[ch], changed = nd.mean[ch], inv, true
		}
	}
	if changed {
		uploadSlice(e.be, st[0].ptr, h.mean)
		uploadSlice(e.be, st[1].ptr, h.inv)
		h.valid = true
	}
}

// bnStats is what the GPU holds of a BatchNorm's statistics.
type bnStats[T tensor.Float] struct {
	mean  []T
	inv   []float64
	valid bool
}

// backward adds node i's cotangent (and, if second, the tangent of its
// cotangent) into its inputs': the VJP of ȳ and, for the tangent, the VJP
// of ȳ̇ plus the curvature term, as autodiff's primitives do.
func (e *Evaluator[T]) backward(i, n int, second bool) {
	pl, d, dt := e.plan, e.be, e.dtype()
	nd := pl.nodes[i]
	if nd.kind == kParam || nd.kind == kInput {
		return
	}
	shape := pl.shapeAt(i, n)
	size := tensor.Numel(shape)
	in := nd.in
	yb, ybd := e.bufs[i].bar.ptr, devptr(0)
	if second {
		ybd = e.bufs[i].barDot.ptr
	}
	val := func(j int) devptr { return e.bufs[in[j]].val.ptr }
	dot := func(j int) devptr { return e.dotOf(in[j]) }
	need := func(j int) bool { return e.needBar[in[j]] }
	bar := func(j int) devptr { return e.bufs[in[j]].bar.ptr }
	barDot := func(j int) devptr {
		if second {
			return e.bufs[in[j]].barDot.ptr
		}
		return 0
	}
	switch nd.kind {
	case kLoss:
		z := pl.shapeAt(in[0], n)
		zd := devptr(0)
		if second {
			zd = dot(0)
		}
		d.launch(e.k("ce_bwd"), blocksFor(z[0]), z[0], z[1], e.probs.ptr, e.labels.ptr, zd, bar(0), barDot(0))
	case kLinear:
		ws := pl.nodes[in[1]].shape
		out, inF := ws[0], ws[1]
		if need(0) {
			d.gemm(dt, false, false, n, inF, out, 1, yb, val(1), 1, bar(0))
			if second {
				d.gemm(dt, false, false, n, inF, out, 1, ybd, val(1), 1, barDot(0))
				if p := dot(1); p != 0 {
					d.gemm(dt, false, false, n, inF, out, 1, yb, p, 1, barDot(0))
				}
			}
		}
		if need(1) {
			d.gemm(dt, true, false, out, inF, n, 1, yb, val(0), 1, bar(1))
			if second {
				d.gemm(dt, true, false, out, inF, n, 1, ybd, val(0), 1, barDot(1))
				if p := dot(0); p != 0 {
					d.gemm(dt, true, false, out, inF, n, 1, yb, p, 1, barDot(1))
				}
			}
		}
		if len(in) == 3 && need(2) {
			e.channelSum(n, out, 1, yb, bar(2))
			if second {
				e.channelSum(n, out, 1, ybd, barDot(2))
			}
		}
	case kConv:
		cp := e.conv(i, n)
		if need(0) {
			cp.backwardData(val(1), yb, bar(0))
			if second {
				cp.backwardData(val(1), ybd, barDot(0))
				if p := dot(1); p != 0 {
					cp.backwardData(p, yb, barDot(0))
				}
			}
		}
		if need(1) {
			cp.backwardFilter(val(0), yb, bar(1))
			if second {
				cp.backwardFilter(val(0), ybd, barDot(1))
				if p := dot(0); p != 0 {
					cp.backwardFilter(p, yb, barDot(1))
				}
			}
		}
		if len(in) == 3 && need(2) {
			c, hw := shape[1], shape[2]*shape[3]
			e.channelSum(n, c, hw, yb, bar(2))
			if second {
				e.channelSum(n, c, hw, ybd, barDot(2))
			}
		}
	case kBatchNorm:
		c, hw := shape[1], tensor.Numel(shape[2:])
		st := e.bnStats[i]
		gd := devptr(0)
		if second {
			gd = dot(1)
		}
		if need(0) {
			d.launch(e.k("bn_bwd_x"), blocksFor(size), size, c, hw, yb, ybd, st[1].ptr, val(1), gd, bar(0), barDot(0))
		}
		if need(1) || need(2) {
			xd := devptr(0)
			if second {
				xd = dot(0)
			}
			gb, bb, gbd, bbd := devptr(0), devptr(0), devptr(0), devptr(0)
			if need(1) {
				gb, gbd = bar(1), barDot(1)
			}
			if need(2) {
				bb, bbd = bar(2), barDot(2)
			}
			sp := reduceSplits(c, n*hw)
			part := e.scratch(4 * c * sp)
			d.launch(e.k("bn_bwd_params_part"), c*sp, n, c, hw, sp, val(0), xd, yb, ybd, st[0].ptr, part)
			d.launch(e.k("bn_bwd_params_fin"), blocksFor(c), c, sp, part, st[1].ptr, gb, bb, gbd, bbd)
		}
	case kReLU:
		if need(0) {
			d.launch(e.k("relu_mask_add"), blocksFor(size), size, val(0), yb, bar(0))
			if second {
				d.launch(e.k("relu_mask_add"), blocksFor(size), size, val(0), ybd, barDot(0))
			}
		}
	case kMaxPool:
		if need(0) {
			xs := pl.shapeAt(in[0], n)
			nc, h, w, oh, ow := xs[0]*xs[1], xs[2], xs[3], shape[2], shape[3]
			am := e.argmax[i].ptr
			m := nc * h * w
			d.launch(e.k("maxpool_bwd"), blocksFor(m), nc, h, w, oh, ow, nd.kernel, nd.stride, nd.pad, am, yb, bar(0))
			if second {
				d.launch(e.k("maxpool_bwd"), blocksFor(m), nc, h, w, oh, ow, nd.kernel, nd.stride, nd.pad, am, ybd, barDot(0))
			}
		}
	case kAvgPool:
		if need(0) {
			xs := pl.shapeAt(in[0], n)
			m, hw := tensor.Numel(xs), xs[2]*xs[3]
			d.launch(e.k("gap_bwd"), blocksFor(m), m, hw, yb, bar(0))
			if second {
				d.launch(e.k("gap_bwd"), blocksFor(m), m, hw, ybd, barDot(0))
			}
		}
	case kAdd, kReshape:
		for j := range in {
			if need(j) {
				d.launch(e.k("acc"), blocksFor(size), size, yb, bar(j))
				if second {
					d.launch(e.k("acc"), blocksFor(size), size, ybd, barDot(j))
				}
			}
		}
	default:
		panic(fmt.Sprintf("cuda: backward of %s", kindNames[nd.kind]))
	}
}

var _ hessian.Passer[float32] = (*Evaluator[float32])(nil)
