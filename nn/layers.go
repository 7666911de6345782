package nn

import (
	"math"
	"math/rand/v2"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// Init draws initial parameter values. PyTorch's default for Linear and
// Conv2d is Kaiming-uniform with a = √5 for the weight and U(±1/√fan_in) for
// the bias; both come to U(−1/√fan_in, 1/√fan_in).
type Init struct{ rng *rand.Rand }

// NewInit returns an initialiser drawing from a PCG generator seeded with seed.
func NewInit(seed uint64) *Init { return &Init{rng: rand.New(rand.NewPCG(seed, 0x6e6e))} }

func (in *Init) uniform(data []float64, bound float64) {
	for i := range data {
		data[i] = (2*in.rng.Float64() - 1) * bound
	}
}

func newParam[T tensor.Float](in *Init, name string, fanIn int, shape ...int) *Param[T] {
	p := &Param[T]{Name: name, Value: tensor.New[T](shape...)}
	vals := make([]float64, p.Value.Len())
	in.uniform(vals, 1/math.Sqrt(float64(fanIn)))
	for i, v := range vals {
		p.Value.Data[i] = T(v)
	}
	return p
}

func constParam[T tensor.Float](name string, v T, buffer bool, n int) *Param[T] {
	p := &Param[T]{Name: name, Value: tensor.New[T](n), Buffer: buffer}
	for i := range p.Value.Data {
		p.Value.Data[i] = v
	}
	return p
}

// Linear is a fully connected layer y = x·Wᵀ + b (PyTorch nn.Linear).
type Linear[T tensor.Float] struct {
	Weight, Bias *Param[T]
}

// NewLinear returns a Linear layer named prefix (prefix.weight, prefix.bias)
// with PyTorch's default initialisation.
func NewLinear[T tensor.Float](in *Init, prefix string, inFeatures, outFeatures int) *Linear[T] {
	return &Linear[T]{
		Weight: newParam[T](in, prefix+".weight", inFeatures, outFeatures, inFeatures),
		Bias:   newParam[T](in, prefix+".bias", inFeatures, outFeatures),
	}
}

// Params returns the layer's parameters in state_dict order.
func (l *Linear[T]) Params() []*Param[T] { return []*Param[T]{l.Weight, l.Bias} }

// Forward records the layer on g.
func (l *Linear[T]) Forward(g *Graph[T], x autodiff.Var) autodiff.Var {
	return g.Tape.Apply(autodiff.Linear[T]{}, x, g.Param(l.Weight), g.Param(l.Bias))
}

// Conv2d is a 2-D convolution (PyTorch nn.Conv2d, groups 1, dilation 1).
type Conv2d[T tensor.Float] struct {
	Weight, Bias    *Param[T] // Bias is nil for a convolution without bias
	Stride, Padding int
}

// NewConv2d returns a Conv2d layer named prefix with a k×k kernel and
// PyTorch's default initialisation.
func NewConv2d[T tensor.Float](in *Init, prefix string, inC, outC, k, stride, padding int, bias bool) *Conv2d[T] {
	fanIn := inC * k * k
	c := &Conv2d[T]{
		Weight: newParam[T](in, prefix+".weight", fanIn, outC, inC, k, k),
		Stride: stride, Padding: padding,
	}
	if bias {
		c.Bias = newParam[T](in, prefix+".bias", fanIn, outC)
	}
	return c
}

// Params returns the layer's parameters in state_dict order.
func (c *Conv2d[T]) Params() []*Param[T] {
	if c.Bias == nil {
		return []*Param[T]{c.Weight}
	}
	return []*Param[T]{c.Weight, c.Bias}
}

// Forward records the layer on g.
func (c *Conv2d[T]) Forward(g *Graph[T], x autodiff.Var) autodiff.Var {
	return g.Tape.Apply(&autodiff.Conv2d[T]{Stride: c.Stride, Padding: c.Padding}, c.operands(g, x)...)
}

// operands returns the inputs of the layer's primitive: x, the weight and,
// if the layer has one, the bias.
func (c *Conv2d[T]) operands(g *Graph[T], x autodiff.Var) []autodiff.Var {
	if c.Bias == nil {
		return []autodiff.Var{x, g.Param(c.Weight)}
	}
	return []autodiff.Var{x, g.Param(c.Weight), g.Param(c.Bias)}
}

// ForwardMaxPool records max-pooling of the layer's output, with the given
// kernel, stride and padding, on g: as one primitive
// (autodiff.Conv2dMaxPool, which keeps no convolution output and whose
// reverse products read the pooled cotangents as sparse matrices), or as
// the two on an Unfused graph.
func (c *Conv2d[T]) ForwardMaxPool(g *Graph[T], x autodiff.Var, kernel, stride, padding int) autodiff.Var {
	if g.Unfused {
		return g.MaxPool(c.Forward(g, x), kernel, stride, padding)
	}
	p := &autodiff.Conv2dMaxPool[T]{
		Conv: autodiff.Conv2d[T]{Stride: c.Stride, Padding: c.Padding},
		Pool: autodiff.MaxPool2d[T]{Kernel: kernel, Stride: stride, Padding: padding},
	}
	return g.Tape.Apply(p, c.operands(g, x)...)
}

// BatchNorm2d normalises each channel (PyTorch nn.BatchNorm2d, eps 1e-5,
// momentum 0.1). In Eval mode it uses the running statistics; in Train mode
// the statistics of the batch it sees (per micro-batch when gradients are
// accumulated), and with UpdateStats it updates the running statistics with
// the batch mean and unbiased variance, as PyTorch does.
type BatchNorm2d[T tensor.Float] struct {
	Weight, Bias, RunningMean, RunningVar *Param[T]
	Eps, Momentum                         float64
}

// NewBatchNorm2d returns a BatchNorm2d named prefix over c channels with
// weight 1, bias 0, running mean 0 and running variance 1.
func NewBatchNorm2d[T tensor.Float](prefix string, c int) *BatchNorm2d[T] {
	return &BatchNorm2d[T]{
		Weight:      constParam[T](prefix+".weight", 1, false, c),
		Bias:        constParam[T](prefix+".bias", 0, false, c),
		RunningMean: constParam[T](prefix+".running_mean", 0, true, c),
		RunningVar:  constParam[T](prefix+".running_var", 1, true, c),
		Eps:         1e-5, Momentum: 0.1,
	}
}

// Params returns the layer's parameters in state_dict order.
func (b *BatchNorm2d[T]) Params() []*Param[T] {
	return []*Param[T]{b.Weight, b.Bias, b.RunningMean, b.RunningVar}
}

// Forward records the layer on g.
func (b *BatchNorm2d[T]) Forward(g *Graph[T], x autodiff.Var) autodiff.Var {
	w, bias := g.Param(b.Weight), g.Param(b.Bias)
	if g.Mode == Eval {
		return g.Tape.Apply(b.eval(), x, w, bias)
	}
	p := &autodiff.BatchNorm2dTrain[T]{Eps: b.Eps}
	y := g.Tape.Apply(p, x, w, bias)
	b.update(g, p)
	return y
}

// update folds the batch statistics of p, just recorded, into the running
// statistics if g says so.
func (b *BatchNorm2d[T]) update(g *Graph[T], p *autodiff.BatchNorm2dTrain[T]) {
	if !g.UpdateStats {
		return
	}
	mean, unbiased := p.BatchMean(), p.UnbiasedBatchVar()
	m := T(b.Momentum)
	for i := range mean {
		b.RunningMean.Value.Data[i] = (1-m)*b.RunningMean.Value.Data[i] + m*mean[i]
		b.RunningVar.Value.Data[i] = (1-m)*b.RunningVar.Value.Data[i] + m*unbiased[i]
	}
}

func (b *BatchNorm2d[T]) eval() autodiff.BatchNorm2dEval[T] {
	return autodiff.BatchNorm2dEval[T]{RunningMean: b.RunningMean.Value.Data, RunningVar: b.RunningVar.Value.Data, Eps: b.Eps}
}

// ForwardReLU records relu(b(x)) on g as one primitive, which never stores
// the normalised values and gives the bits of the two
// (autodiff.BatchNorm2dEvalReLU in Eval mode, BatchNorm2dTrainReLU in
// Train mode); in an Unfused graph as Forward and ReLU.
func (b *BatchNorm2d[T]) ForwardReLU(g *Graph[T], x autodiff.Var) autodiff.Var {
	switch {
	case g.Unfused:
		return g.ReLU(b.Forward(g, x))
	case g.Mode == Eval:
		return g.Tape.Apply(autodiff.BatchNorm2dEvalReLU[T]{BatchNorm2dEval: b.eval()}, x, g.Param(b.Weight), g.Param(b.Bias))
	}
	p := &autodiff.BatchNorm2dTrainReLU[T]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[T]{Eps: b.Eps}}
	y := g.Tape.Apply(p, x, g.Param(b.Weight), g.Param(b.Bias))
	b.update(g, &p.BatchNorm2dTrain)
	return y
}

// ForwardOfReLU records b(relu(x)) on g as one primitive, which never
// stores relu(x) and gives the bits of the two (autodiff.ReLUBatchNorm2dEval
// in Eval mode, ReLUBatchNorm2dTrain in Train mode); in an Unfused graph as
// ReLU and Forward.
func (b *BatchNorm2d[T]) ForwardOfReLU(g *Graph[T], x autodiff.Var) autodiff.Var {
	switch {
	case g.Unfused:
		return b.Forward(g, g.ReLU(x))
	case g.Mode == Eval:
		return g.Tape.Apply(autodiff.ReLUBatchNorm2dEval[T]{BatchNorm2dEval: b.eval()}, x, g.Param(b.Weight), g.Param(b.Bias))
	}
	p := &autodiff.ReLUBatchNorm2dTrain[T]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[T]{Eps: b.Eps}}
	y := g.Tape.Apply(p, x, g.Param(b.Weight), g.Param(b.Bias))
	b.update(g, &p.BatchNorm2dTrain)
	return y
}

// ForwardAddReLU records relu(b(x) + short) on g, a residual block's end,
// as one primitive, the bits of the three (autodiff.BatchNorm2dEvalAddReLU
// in Eval mode, BatchNorm2dTrainAddReLU in Train mode); in an Unfused graph
// as Forward, Add and ReLU.
func (b *BatchNorm2d[T]) ForwardAddReLU(g *Graph[T], x, short autodiff.Var) autodiff.Var {
	switch {
	case g.Unfused:
		return g.ReLU(g.Add(b.Forward(g, x), short))
	case g.Mode == Eval:
		return g.Tape.Apply(autodiff.BatchNorm2dEvalAddReLU[T]{BatchNorm2dEval: b.eval()}, x, g.Param(b.Weight), g.Param(b.Bias), short)
	}
	p := &autodiff.BatchNorm2dTrainAddReLU[T]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[T]{Eps: b.Eps}}
	y := g.Tape.Apply(p, x, g.Param(b.Weight), g.Param(b.Bias), short)
	b.update(g, &p.BatchNorm2dTrain)
	return y
}
