package models

import (
	"hesscope/autodiff"
	"hesscope/nn"
	"hesscope/tensor"
)

// Cost is what one forward pass of a net on a batch costs.
type Cost struct {
	// FLOPs is twice the multiply-adds of the convolution and linear
	// layers (nothing else is counted); First is that of the first such
	// layer, whose input needs no cotangent.
	FLOPs, First float64
	// Values is the number of values the pass records: the activations a
	// gradient keeps (an HVP keeps about twice as many, with tangents).
	Values int
}

// ForwardCost records one forward pass of n on x (BatchNorm in eval mode)
// and returns its cost.
func (n *Net[T]) ForwardCost(x *tensor.Dense[T]) Cost {
	tp := autodiff.NewTape[T]()
	g := nn.NewGraph(tp, nn.Eval)
	n.Forward(g, tp.Leaf(x, nil, false))
	var c Cost
	seen := false
	for v := range tp.Len() {
		val := tp.Value(autodiff.Var(v))
		c.Values += len(val.Data)
		p, in := tp.Op(autodiff.Var(v))
		var f float64
		switch p := p.(type) {
		case autodiff.Conv2d[T], *autodiff.Conv2d[T]:
			// 2 · N·O·H′·W′ · C·kh·kw: y's size times W's size per output channel.
			w := tp.Value(in[1])
			f = 2 * float64(len(val.Data)) * float64(len(w.Data)/w.Shape[0])
		case *autodiff.Conv2dMaxPool[T]:
			// The convolution's, whose output the pooling reduces.
			xs := tp.Values(in)
			w := xs[1]
			f = 2 * float64(tensor.Numel(p.Conv.Shape(xs))) * float64(len(w.Data)/w.Shape[0])
		case autodiff.Linear[T], *autodiff.Linear[T]:
			w := tp.Value(in[1])
			f = 2 * float64(len(val.Data)) * float64(w.Shape[1])
		default:
			continue
		}
		if !seen {
			c.First, seen = f, true
		}
		c.FLOPs += f
	}
	return c
}
