// Package models holds hesscope's model zoo — mlp, lenet5, c1, c2, resnet20
// and resnet18 — exactly as the shared specification gives them, with
// PyTorch state_dict names and layouts and PyTorch's default
// initialisation from a seed.
package models

import (
	"fmt"
	"sort"
	"strings"

	"hesscope/autodiff"
	"hesscope/nn"
	"hesscope/tensor"
)

// Config chooses a model's variant.
type Config struct {
	// Classes is the number of outputs: 10 or 100.
	Classes int
	// Activation is "relu" (the zoo's) or a smooth variant, "tanh" or
	// "softplus", for comparing input-Hessian definiteness.
	Activation string
	// Seed seeds the initialisation.
	Seed uint64
}

// Net is a model of the zoo: a function from a batch of images [N,C,H,W]
// to logits [N,Classes], with its parameters in state_dict order.
type Net[T tensor.Float] struct {
	Name    string
	Input   [3]int // C, H, W
	Classes int
	params  []*nn.Param[T]
	forward func(g *nn.Graph[T], x autodiff.Var) autodiff.Var
}

// Params returns every tensor of the state_dict (buffers included) in
// PyTorch's order.
func (n *Net[T]) Params() []*nn.Param[T] { return n.params }

// Forward records the network on g and returns the logits.
func (n *Net[T]) Forward(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return n.forward(g, x) }

// NumParams is the number of trainable parameters.
func (n *Net[T]) NumParams() int { return nn.Size(nn.Trainable(n.params)) }

// CheckInput returns an error unless shape is a batch [N,C,H,W] the net takes.
func (n *Net[T]) CheckInput(shape []int) error {
	if len(shape) != 4 || shape[0] < 1 || shape[1] != n.Input[0] || shape[2] != n.Input[1] || shape[3] != n.Input[2] {
		return fmt.Errorf("models: %s takes input [N, %d, %d, %d], got %s", n.Name, n.Input[0], n.Input[1], n.Input[2], tensor.ShapeString(shape))
	}
	return nil
}

// build collects parameters in creation order while a model is assembled.
type build[T tensor.Float] struct {
	init    *nn.Init
	params  []*nn.Param[T]
	classes int
	act     func(g *nn.Graph[T], x autodiff.Var) autodiff.Var
	relu    bool // act is ReLU
}

// actBN records bn(act(x)), ReLU and BatchNorm as one fused primitive
// (unless the graph is Unfused).
func (b *build[T]) actBN(g *nn.Graph[T], bn *nn.BatchNorm2d[T], x autodiff.Var) autodiff.Var {
	if b.relu {
		return bn.ForwardOfReLU(g, x)
	}
	return bn.Forward(g, b.act(g, x))
}

// convActPool records pool(act(conv(x))), an unpadded max-pooling of
// window k and stride s after the activation. With ReLU (unless the graph
// is Unfused) it records relu(pool(conv(x))) instead, the convolution and
// the pooling as one primitive (nn.Conv2d.ForwardMaxPool): the same
// function and derivatives (ReLU is non-decreasing, so the window's
// largest value is the largest after it, the same element wherever that
// is positive; where it is not, both give +0 and zero derivatives), with
// the ReLU's sweeps over a quarter of the values (LeNet-5's gradient
// 0.93–0.96 of the time, its HVP 0.95–0.97, measured in-process) and the
// convolution's reverse products over the selected pixels alone
// (autodiff.Conv2dMaxPool: the same values up to rounding). A NaN is the
// exception: the pooling passes it on and the ReLU then makes the window
// +0, where the ReLU first would have made the NaN +0 and pooled the rest.
func (b *build[T]) convActPool(g *nn.Graph[T], conv *nn.Conv2d[T], x autodiff.Var, k, s int) autodiff.Var {
	if b.relu && !g.Unfused {
		return b.act(g, conv.ForwardMaxPool(g, x, k, s, 0))
	}
	return g.MaxPool(b.act(g, conv.Forward(g, x)), k, s, 0)
}

// bnAct records act(bn(x)), BatchNorm and ReLU as one fused primitive
// (unless the graph is Unfused).
func (b *build[T]) bnAct(g *nn.Graph[T], bn *nn.BatchNorm2d[T], x autodiff.Var) autodiff.Var {
	if b.relu {
		return bn.ForwardReLU(g, x)
	}
	return b.act(g, bn.Forward(g, x))
}

func (b *build[T]) add(ps ...*nn.Param[T]) { b.params = append(b.params, ps...) }

func (b *build[T]) linear(name string, in, out int) *nn.Linear[T] {
	l := nn.NewLinear[T](b.init, name, in, out)
	b.add(l.Params()...)
	return l
}

func (b *build[T]) conv(name string, in, out, k, stride, pad int, bias bool) *nn.Conv2d[T] {
	c := nn.NewConv2d[T](b.init, name, in, out, k, stride, pad, bias)
	b.add(c.Params()...)
	return c
}

func (b *build[T]) bn(name string, c int) *nn.BatchNorm2d[T] {
	l := nn.NewBatchNorm2d[T](name, c)
	b.add(l.Params()...)
	return l
}

// Names lists the models of the zoo.
func Names() []string {
	names := []string{"mlp", "lenet5", "c1", "c2", "resnet20", "resnet18"}
	sort.Strings(names)
	return names
}

// New builds the named model with the given configuration.
func New[T tensor.Float](name string, cfg Config) (*Net[T], error) {
	if cfg.Classes == 0 {
		cfg.Classes = 10
	}
	if cfg.Classes < 2 {
		return nil, fmt.Errorf("models: %d classes (want at least 2)", cfg.Classes)
	}
	b := &build[T]{init: nn.NewInit(cfg.Seed), classes: cfg.Classes}
	switch cfg.Activation {
	case "", "relu":
		b.act = func(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return g.ReLU(x) }
		b.relu = true
	case "tanh":
		b.act = func(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return g.Tape.Apply(autodiff.Tanh[T]{}, x) }
	case "softplus":
		b.act = func(g *nn.Graph[T], x autodiff.Var) autodiff.Var { return g.Tape.Apply(autodiff.Softplus[T]{}, x) }
	default:
		return nil, fmt.Errorf("models: unknown activation %q (want relu, tanh or softplus)", cfg.Activation)
	}
	var (
		input   [3]int
		forward func(g *nn.Graph[T], x autodiff.Var) autodiff.Var
	)
	switch name {
	case "mlp":
		input, forward = mlp(b)
	case "lenet5":
		input, forward = lenet5(b)
	case "c1":
		input, forward = c1(b)
	case "c2":
		input, forward = c2(b)
	case "resnet20":
		input, forward = resnet(b, 16, []int{3, 3, 3})
	case "resnet18":
		input, forward = resnet(b, 64, []int{2, 2, 2, 2})
	default:
		return nil, fmt.Errorf("models: unknown model %q (want %s)", name, strings.Join(Names(), ", "))
	}
	return &Net[T]{Name: name, Input: input, Classes: cfg.Classes, params: b.params, forward: forward}, nil
}
