package train

import (
	"fmt"
	"runtime"

	"hesscope/internal/workers"
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
// modified. The update is element-wise: the tensors are cut into spans of
// sgdSpan values updated in parallel on GOMAXPROCS goroutines (one core
// streams only about 9 GB/s here; 2 cores update ResNet-18's 11 million
// parameters in 13 ms instead of 25–30). The bits do not depend on the cut.
func (o *SGD[T]) Step(params, grads [][]T, lr float64) {
	if len(params) != len(grads) {
		panic(fmt.Sprintf("train: SGD.Step with %d parameters and %d gradients", len(params), len(grads)))
	}
	for i, p := range params {
		if len(grads[i]) != len(p) {
			panic(fmt.Sprintf("train: SGD.Step: parameter %d has %d values and its gradient %d", i, len(p), len(grads[i])))
		}
	}
	first := false
	if o.Momentum != 0 && o.Buffers == nil {
		o.Buffers = make([][]T, len(params))
		for i, p := range params {
			o.Buffers[i] = make([]T, len(p))
		}
		first = true
	}
	type span struct{ i, lo, hi int }
	var spans []span
	for i, p := range params {
		for lo := 0; lo < len(p); lo += sgdSpan {
			spans = append(spans, span{i, lo, min(lo+sgdSpan, len(p))})
		}
	}
	workers.Run(runtime.GOMAXPROCS(0), len(spans), func(k int) {
		s := spans[k]
		var b []T
		if o.Momentum != 0 {
			b = o.Buffers[s.i][s.lo:s.hi]
		}
		o.update(params[s.i][s.lo:s.hi], grads[s.i][s.lo:s.hi], b, first, lr)
	})
}

// sgdSpan is the number of values a goroutine updates at a time.
const sgdSpan = 1 << 16

// update is Step on one span: parameters p, gradients g and momentum
// buffer b (nil without momentum).
func (o *SGD[T]) update(p, g, b []T, first bool, lr float64) {
	wd, mu, damp, eta := T(o.WeightDecay), T(o.Momentum), T(1-o.Dampening), T(lr)
	g = g[:len(p)]
	if b != nil {
		b = b[:len(p)]
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
