package hessian

import (
	"bytes"
	"fmt"
	"slices"
	"unsafe"

	"hesscope/autodiff"
	"hesscope/nn"
	"hesscope/tensor"
)

// Model is what the operators need of a network: its parameters in
// state_dict order and a forward pass from images to logits.
type Model[T tensor.Float] interface {
	Params() []*nn.Param[T]
	Forward(g *nn.Graph[T], x autodiff.Var) autodiff.Var
}

// Request says what one pass over a batch computes.
type Request[T tensor.Float] struct {
	Mode nn.Mode
	// Params are the parameters to differentiate (nil: none). ParamTangent,
	// if non-nil, holds one tangent per entry of Params: the direction of a
	// Hessian-vector product.
	Params       []*nn.Param[T]
	ParamTangent []*tensor.Dense[T]
	// InputGrad asks for the gradient with respect to the input batch;
	// InputTangent, if non-nil, is the input direction of a product.
	InputGrad    bool
	InputTangent *tensor.Dense[T]
	// HvOnly asks for the products only: ParamGrad and InputGrad are nil,
	// the gradient is not formed (a weight's Σ ȳ·xᵀ is skipped: about a
	// ninth of a product's FLOPs on a convolutional net, 8F − 4F₁ instead
	// of 9F − 4F₁). ParamHv and InputHv have the same bits as without it.
	// The operators, which only read the products, set it.
	HvOnly bool
	// Retain, with HvOnly, asks the Passer to keep the pass's values and
	// cotangents and, when the next pass with Retain is on the same batch
	// (x's and y's elements), point (the model's parameters and buffers)
	// and request, with other tangents, to compute its products from them
	// instead of running the pass again: the tangents and the tangents of
	// the cotangents only (ResNet-20's product at batch 128, 2 threads:
	// 0.8 of the time), the same bits as without Retain. Anything changed
	// since, compared element by element, runs the pass again. Meant for
	// a solver's products on one batch; it costs the cotangents' memory
	// (ResNet-20: 1.36 times an HVP's working set) and a copy of the batch
	// and of the parameters. A Passer that cannot retain ignores it (the
	// GPU's), and so does a pass with At.
	Retain bool
	// At, if non-nil, holds values for the model's trainable parameters, one
	// tensor per entry of nn.Trainable(Model.Params()) and of its shape,
	// used instead of the parameters' own values: the pass evaluates the
	// model at another point θ′ without modifying it, so that goroutines,
	// each with its own Evaluator, can evaluate different points of one
	// model at once. The tensors are read, never written.
	At []*tensor.Dense[T]
}

// Result holds what a pass computed. Its tensors belong to the Evaluator and
// are valid until its next pass; nil Hv entries are zero. With
// Request.HvOnly, ParamGrad and InputGrad are nil.
type Result[T tensor.Float] struct {
	Loss      float64
	Logits    *tensor.Dense[T]
	ParamGrad []*tensor.Dense[T]
	ParamHv   []*tensor.Dense[T]
	InputGrad *tensor.Dense[T]
	InputHv   *tensor.Dense[T]
}

// Passer computes the passes of the operators: the loss of a batch and the
// gradients and Hessian-vector products a Request asks for. *Evaluator is
// the CPU engine; package cuda has a GPU one. The Result's tensors belong
// to the Passer until its next pass.
type Passer[T tensor.Float] interface {
	Pass(x *tensor.Dense[T], y []int, req Request[T]) Result[T]
}

// Engine makes a Passer for a model: one per worker of an operator, each
// used by one goroutine at a time. A nil Engine means NewEvaluator.
type Engine[T tensor.Float] func(m Model[T]) Passer[T]

var _ Passer[float32] = (*Evaluator[float32])(nil)

// Evaluator runs forward-over-reverse passes of a model, reusing one tape so
// that repeated passes allocate nothing large. It is not safe for concurrent
// use; make one per goroutine.
type Evaluator[T tensor.Float] struct {
	Model Model[T]
	tape  *autodiff.Tape[T]
	kept  *retained[T] // the pass Retain kept, nil after Pass
}

// NewEvaluator returns an evaluator for m.
func NewEvaluator[T tensor.Float](m Model[T]) *Evaluator[T] {
	return &Evaluator[T]{Model: m, tape: autodiff.NewTape[T]()}
}

// Pass computes the batch-mean cross-entropy of the model on (x, y) and the
// gradients and Hessian-vector products req asks for. A request for none of
// them runs the forward pass only.
func (e *Evaluator[T]) Pass(x *tensor.Dense[T], y []int, req Request[T]) Result[T] {
	if req.ParamTangent != nil && len(req.ParamTangent) != len(req.Params) {
		panic(fmt.Sprintf("hessian: %d parameter tangents for %d parameters", len(req.ParamTangent), len(req.Params)))
	}
	if req.Retain && req.HvOnly && req.At == nil {
		if !e.kept.holds(e.Model, x, y, req) {
			e.retain(x, y, req)
		}
		return e.replay(req.ParamTangent, req.InputTangent)
	}
	e.kept = nil
	p := e.record(x, y, req)
	if len(req.Params) > 0 || req.InputGrad {
		e.tape.Backward(p.loss)
	}
	return e.result(p, req)
}

// recorded is a forward pass recorded on the tape: its graph, the input's
// Var, the logits and the loss.
type recorded[T tensor.Float] struct {
	g               *nn.Graph[T]
	x, logits, loss autodiff.Var
}

// record resets the tape and records the forward pass of req on (x, y):
// the parameters bound as leaves (bind), the input leaf, the logits and the
// loss, with the tangents req holds.
func (e *Evaluator[T]) record(x *tensor.Dense[T], y []int, req Request[T]) recorded[T] {
	tp := e.tape
	tp.Reset()
	g := e.bind(req.Mode, req.Params, req.ParamTangent, req.At, req.HvOnly)
	var xv autodiff.Var
	if req.InputGrad && req.HvOnly {
		xv = tp.LeafGradDotOnly(x, req.InputTangent)
	} else {
		xv = tp.Leaf(x, req.InputTangent, req.InputGrad)
	}
	logits := e.Model.Forward(g, xv)
	return recorded[T]{g: g, x: xv, logits: logits, loss: g.CrossEntropy(logits, y)}
}

// result reads what req asks for off the tape after p's backward pass (or
// its Replay).
func (e *Evaluator[T]) result(p recorded[T], req Request[T]) Result[T] {
	tp := e.tape
	r := Result[T]{Loss: float64(tp.Value(p.loss).Data[0]), Logits: tp.Value(p.logits)}
	if len(req.Params) > 0 {
		if !req.HvOnly {
			r.ParamGrad = make([]*tensor.Dense[T], len(req.Params))
		}
		r.ParamHv = make([]*tensor.Dense[T], len(req.Params))
		for i, q := range req.Params {
			if r.ParamGrad != nil {
				r.ParamGrad[i] = p.g.Grad(q)
			}
			r.ParamHv[i] = p.g.GradDot(q)
		}
	}
	if req.InputGrad {
		r.InputGrad = tp.Grad(p.x)
		r.InputHv = tp.GradDot(p.x)
	}
	return r
}

// bind starts a graph on the reset tape with every trainable parameter
// recorded as a leaf: its value (or at's), its tangent if it is among params
// (tangents[i] for params[i], nil: none) and a gradient if it is among
// params (with hvOnly, the tangent of the gradient only). Buffers are read
// by the layers directly.
func (e *Evaluator[T]) bind(mode nn.Mode, params []*nn.Param[T], tangents, at []*tensor.Dense[T], hvOnly bool) *nn.Graph[T] {
	g := nn.NewGraph(e.tape, mode)
	g.ParamGrads = len(params) > 0
	wanted := make(map[*nn.Param[T]]int, len(params))
	for i, p := range params {
		wanted[p] = i
	}
	all := e.Model.Params()
	k := 0
	for _, p := range all {
		if p.Buffer {
			continue
		}
		v := p.Value
		if at != nil {
			if k >= len(at) || !tensor.SameShape(at[k].Shape, v.Shape) {
				panic(fmt.Sprintf("hessian: Request.At has no tensor of shape %s for %s (entry %d)", tensor.ShapeString(v.Shape), p.Name, k))
			}
			v = at[k]
		}
		k++
		i, ok := wanted[p]
		var dot *tensor.Dense[T]
		if ok && tangents != nil {
			dot = tangents[i]
		}
		if ok && hvOnly {
			g.Bind(p, e.tape.LeafGradDotOnly(v, dot))
		} else {
			g.Bind(p, e.tape.Leaf(v, dot, ok))
		}
	}
	if at != nil && k != len(at) {
		panic(fmt.Sprintf("hessian: Request.At has %d tensors for %d trainable parameters", len(at), k))
	}
	return g
}

// retained is the pass an Evaluator keeps for Request.Retain: what it was
// computed on, and the pass recorded.
type retained[T tensor.Float] struct {
	req   Request[T]       // mode, parameters and input gradient; HvOnly
	x     *tensor.Dense[T] // a copy of the batch, the tape's input leaf
	y     []int
	theta [][]T // the model's parameters and buffers
	rec   recorded[T]
}

// holds reports whether k is a pass of m on (x, y) for req at m's current
// parameters. A nil k holds none.
func (k *retained[T]) holds(m Model[T], x *tensor.Dense[T], y []int, req Request[T]) bool {
	if k == nil || k.req.Mode != req.Mode || k.req.InputGrad != req.InputGrad ||
		!slices.Equal(k.req.Params, req.Params) || !slices.Equal(k.y, y) ||
		!tensor.SameShape(k.x.Shape, x.Shape) || !sameBits(k.x.Data, x.Data) {
		return false
	}
	for i, p := range m.Params() {
		if !sameBits(k.theta[i], p.Value.Data) {
			return false
		}
	}
	return true
}

// sameBits reports whether a and b hold the same bits (+0 and −0 differ:
// the pass would see them so), comparing their bytes (bytes.Equal,
// vectorised): element by element, the comparison of LeNet-5's 431 080
// parameters before every product had made its one-image input products
// (spectrum -input-samples) 1.6 times slower than whole passes.
func sameBits[T tensor.Float](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	n := len(a) * int(unsafe.Sizeof(a[0]))
	return bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), n), unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), n))
}

// retain runs the value pass of req on (x, y), the loss and the cotangents
// without tangents, on a copy of x, and keeps it (tape.BackwardKeep).
func (e *Evaluator[T]) retain(x *tensor.Dense[T], y []int, req Request[T]) {
	k := e.kept
	if k == nil {
		k = &retained[T]{}
	}
	e.kept = nil
	if k.x == nil || len(k.x.Data) != len(x.Data) {
		k.x = tensor.New[T](x.Shape...)
	}
	k.x.Shape = append(k.x.Shape[:0], x.Shape...)
	copy(k.x.Data, x.Data)
	k.y = append(k.y[:0], y...)
	k.req = Request[T]{Mode: req.Mode, Params: append(k.req.Params[:0], req.Params...), InputGrad: req.InputGrad, HvOnly: true}
	all := e.Model.Params()
	if len(k.theta) != len(all) {
		k.theta = make([][]T, len(all))
	}
	for i, p := range all {
		k.theta[i] = append(k.theta[i][:0], p.Value.Data...)
	}
	k.rec = e.record(k.x, k.y, k.req)
	e.tape.BackwardKeep(k.rec.loss)
	e.kept = k
}

// replay computes the products along the tangents on the kept pass
// (tape.Replay): the Result of an HvOnly Pass.
func (e *Evaluator[T]) replay(paramTangent []*tensor.Dense[T], inputTangent *tensor.Dense[T]) Result[T] {
	k, tp := e.kept, e.tape
	for i, p := range k.req.Params {
		var d *tensor.Dense[T]
		if paramTangent != nil {
			d = paramTangent[i]
		}
		tp.SetTangent(k.rec.g.Param(p), d)
	}
	tp.SetTangent(k.rec.x, inputTangent)
	tp.Replay(k.rec.loss)
	return e.result(k.rec, k.req)
}
