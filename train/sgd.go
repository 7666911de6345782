package train

import (
	"fmt"

	"hesscope/tensor"
)

// SGD is stochastic gradient descent with momentum, Nesterov momentum,
// dampening and weight decay, with the semantics of torch.optim.SGD (see the
// package documentation). Arithmetic is in T, rounded after every operation.
type SGD[T tensor.Float] struct {
	Momentum, Dampening, WeightDecay float64
	Nesterov                         bool
	// Buffers are the momentum buffers, one per parameter tensor; nil until
	// the first step with a non-zero momentum.
	Buffers [][]T
}

// Step updates params in place by one step of learning rate lr along the
// gradients grads (one per parameter, of the same lengths). grads are not
// modified.
func (o *SGD[T]) Step(params, grads [][]T, lr float64) {
	if len(params) != len(grads) {
		panic(fmt.Sprintf("train: SGD.Step with %d parameters and %d gradients", len(params), len(grads)))
	}
	first := false
	if o.Momentum != 0 && o.Buffers == nil {
		o.Buffers = make([][]T, len(params))
		for i, p := range params {
			o.Buffers[i] = make([]T, len(p))
		}
		first = true
	}
	wd, mu, damp, eta := T(o.WeightDecay), T(o.Momentum), T(1-o.Dampening), T(lr)
	for i, p := range params {
		g := grads[i]
		if len(g) != len(p) {
			panic(fmt.Sprintf("train: SGD.Step: parameter %d has %d values and its gradient %d", i, len(p), len(g)))
		}
		var b []T
		if o.Momentum != 0 {
			b = o.Buffers[i]
		}
		for j := range p {
			d := g[j]
			if wd != 0 {
				d = d + T(wd*p[j])
			}
			if b != nil {
				if first {
					b[j] = d
				} else {
					b[j] = T(mu*b[j]) + T(damp*d)
				}
				if o.Nesterov {
					d = d + T(mu*b[j])
				} else {
					d = b[j]
				}
			}
			p[j] = p[j] - T(eta*d)
		}
	}
}
