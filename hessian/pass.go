package hessian

import (
	"fmt"

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
	loss := g.CrossEntropy(logits, y)
	if len(req.Params) > 0 || req.InputGrad {
		tp.Backward(loss)
	}
	r := Result[T]{Loss: float64(tp.Value(loss).Data[0]), Logits: tp.Value(logits)}
	if len(req.Params) > 0 {
		if !req.HvOnly {
			r.ParamGrad = make([]*tensor.Dense[T], len(req.Params))
		}
		r.ParamHv = make([]*tensor.Dense[T], len(req.Params))
		for i, p := range req.Params {
			if r.ParamGrad != nil {
				r.ParamGrad[i] = g.Grad(p)
			}
			r.ParamHv[i] = g.GradDot(p)
		}
	}
	if req.InputGrad {
		r.InputGrad = tp.Grad(xv)
		r.InputHv = tp.GradDot(xv)
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
