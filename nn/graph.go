package nn

import (
	"hesscope/autodiff"
	"hesscope/tensor"
)

// Mode selects how BatchNorm normalises: with running statistics (Eval, the
// mode for Hessian analysis and attacks) or with the statistics of the batch
// (Train).
type Mode int

const (
	Eval Mode = iota
	Train
)

func (m Mode) String() string {
	if m == Train {
		return "train"
	}
	return "eval"
}

// Graph is one forward pass of a model on a tape. Parameters become tape
// leaves the first time a layer uses them, with the tangent in Tangents (nil:
// zero) and a gradient if ParamGrads is set.
type Graph[T tensor.Float] struct {
	Tape *autodiff.Tape[T]
	Mode Mode
	// UpdateStats makes BatchNorm in Train mode update its running
	// statistics, as a PyTorch training step does. Hessian computations leave
	// it off so that they change nothing.
	UpdateStats bool
	// ParamGrads asks for gradients (and Hessian-vector products) of the
	// parameters.
	ParamGrads bool
	// Tangents holds the direction v of a Hessian-vector product, per parameter.
	Tangents map[*Param[T]]*tensor.Dense[T]
	// Unfused makes layers record their separate primitives where they
	// would record a fused one (BatchNorm with ReLU or a residual sum in
	// Eval mode), and the models their operations in their written order
	// (LeNet-5's ReLU before its pooling, not after); the same numbers
	// either way, for tools that map the tape's primitives one to one,
	// such as the GPU planner.
	Unfused bool

	vars map[*Param[T]]autodiff.Var
}

// NewGraph returns a graph recording on tp in the given mode.
func NewGraph[T tensor.Float](tp *autodiff.Tape[T], mode Mode) *Graph[T] {
	return &Graph[T]{Tape: tp, Mode: mode, vars: map[*Param[T]]autodiff.Var{}}
}

// Param returns the tape variable of p, recording it as a leaf on first use.
func (g *Graph[T]) Param(p *Param[T]) autodiff.Var {
	if v, ok := g.vars[p]; ok {
		return v
	}
	v := g.Tape.Leaf(p.Value, g.Tangents[p], g.ParamGrads)
	g.vars[p] = v
	return v
}

// Bind makes v the tape variable of p, for callers that record the
// parameters as leaves themselves.
func (g *Graph[T]) Bind(p *Param[T], v autodiff.Var) { g.vars[p] = v }

// Grad returns ∂L/∂p after Backward, or nil if p was not used or not asked for.
func (g *Graph[T]) Grad(p *Param[T]) *tensor.Dense[T] {
	if v, ok := g.vars[p]; ok {
		return g.Tape.Grad(v)
	}
	return nil
}

// GradDot returns the block of H·v for p after Backward, or nil if zero.
func (g *Graph[T]) GradDot(p *Param[T]) *tensor.Dense[T] {
	if v, ok := g.vars[p]; ok {
		return g.Tape.GradDot(v)
	}
	return nil
}

// ReLU records relu(x).
func (g *Graph[T]) ReLU(x autodiff.Var) autodiff.Var { return g.Tape.Apply(autodiff.ReLU[T]{}, x) }

// MaxPool records max-pooling with the given kernel, stride and padding.
func (g *Graph[T]) MaxPool(x autodiff.Var, kernel, stride, padding int) autodiff.Var {
	return g.Tape.Apply(&autodiff.MaxPool2d[T]{Kernel: kernel, Stride: stride, Padding: padding}, x)
}

// AvgPool records global average pooling [N,C,H,W] → [N,C].
func (g *Graph[T]) AvgPool(x autodiff.Var) autodiff.Var {
	return g.Tape.Apply(autodiff.GlobalAvgPool[T]{}, x)
}

// Flatten records the reshape [N, …] → [N, rest].
func (g *Graph[T]) Flatten(x autodiff.Var) autodiff.Var {
	s := g.Tape.Value(x).Shape
	return g.Tape.Apply(autodiff.Reshape[T]{Dims: []int{s[0], tensor.Numel(s[1:])}}, x)
}

// Add records a + b.
func (g *Graph[T]) Add(a, b autodiff.Var) autodiff.Var { return g.Tape.Apply(autodiff.Add[T]{}, a, b) }

// CrossEntropy records the batch-mean softmax cross-entropy of logits against labels.
func (g *Graph[T]) CrossEntropy(logits autodiff.Var, labels []int) autodiff.Var {
	return g.Tape.Apply(&autodiff.SoftmaxCrossEntropy[T]{Labels: labels}, logits)
}
