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
}

// Result holds what a pass computed. Its tensors belong to the Evaluator and
// are valid until its next pass; nil Hv entries are zero.
type Result[T tensor.Float] struct {
	Loss      float64
	Logits    *tensor.Dense[T]
	ParamGrad []*tensor.Dense[T]
	ParamHv   []*tensor.Dense[T]
	InputGrad *tensor.Dense[T]
	InputHv   *tensor.Dense[T]
}

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
// gradients and Hessian-vector products req asks for.
func (e *Evaluator[T]) Pass(x *tensor.Dense[T], y []int, req Request[T]) Result[T] {
	if req.ParamTangent != nil && len(req.ParamTangent) != len(req.Params) {
		panic(fmt.Sprintf("hessian: %d parameter tangents for %d parameters", len(req.ParamTangent), len(req.Params)))
	}
	tp := e.tape
	tp.Reset()
	g := nn.NewGraph(tp, req.Mode)
	if len(req.Params) > 0 {
		g.ParamGrads = true
		g.Tangents = map[*nn.Param[T]]*tensor.Dense[T]{}
		for i, p := range req.Params {
			if req.ParamTangent != nil {
				g.Tangents[p] = req.ParamTangent[i]
			}
		}
	}
	// Parameters not asked for are constants; bind them first so that the
	// graph does not differentiate them.
	wanted := map[*nn.Param[T]]bool{}
	for _, p := range req.Params {
		wanted[p] = true
	}
	for _, p := range e.Model.Params() {
		if !wanted[p] && !p.Buffer {
			g.ParamGrads = false
			g.Param(p)
		}
	}
	g.ParamGrads = len(req.Params) > 0
	xv := tp.Leaf(x, req.InputTangent, req.InputGrad)
	logits := e.Model.Forward(g, xv)
	loss := g.CrossEntropy(logits, y)
	tp.Backward(loss)
	r := Result[T]{Loss: float64(tp.Value(loss).Data[0]), Logits: tp.Value(logits)}
	if len(req.Params) > 0 {
		r.ParamGrad = make([]*tensor.Dense[T], len(req.Params))
		r.ParamHv = make([]*tensor.Dense[T], len(req.Params))
		for i, p := range req.Params {
			r.ParamGrad[i] = g.Grad(p)
			r.ParamHv[i] = g.GradDot(p)
		}
	}
	if req.InputGrad {
		r.InputGrad = tp.Grad(xv)
		r.InputHv = tp.GradDot(xv)
	}
	return r
}
