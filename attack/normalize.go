package attack

import (
	"fmt"

	"hesscope/autodiff"
	"hesscope/nn"
	"hesscope/tensor"
)

// Normalized returns m preceded by the per-channel normalisation
// x ↦ (x − mean[c])/std[c], for a model trained on normalised images: the
// result takes pixels in [0, 1], where attacks clip and measure their
// perturbations. The normalisation is linear, so it changes no curvature
// argument (a ReLU net stays piecewise linear in the pixels). It panics
// unless mean and std have one positive std per channel.
func Normalized[T tensor.Float](m Model[T], mean, std []float64) Model[T] {
	if len(mean) == 0 || len(mean) != len(std) {
		panic(fmt.Sprintf("attack: Normalized with %d means and %d standard deviations", len(mean), len(std)))
	}
	n := &normalized[T]{m: m, mean: make([]T, len(mean)), vari: make([]T, len(std)),
		one: tensor.New[T](len(mean)), zero: tensor.New[T](len(mean))}
	for c := range mean {
		if !(std[c] > 0) {
			panic(fmt.Sprintf("attack: Normalized: std[%d] = %v", c, std[c]))
		}
		n.mean[c], n.vari[c], n.one.Data[c] = T(mean[c]), T(std[c]*std[c]), 1
	}
	return n
}

type normalized[T tensor.Float] struct {
	m          Model[T]
	mean, vari []T
	one, zero  *tensor.Dense[T]
}

func (n *normalized[T]) Params() []*nn.Param[T] { return n.m.Params() }

func (n *normalized[T]) Forward(g *nn.Graph[T], x autodiff.Var) autodiff.Var {
	tp := g.Tape
	// BatchNorm in eval mode with running mean μ, variance σ², ε = 0,
	// weight 1 and bias 0 is (x − μ)/σ.
	p := autodiff.BatchNorm2dEval[T]{RunningMean: n.mean, RunningVar: n.vari}
	return n.m.Forward(g, tp.Apply(p, x, tp.Leaf(n.one, nil, false), tp.Leaf(n.zero, nil, false)))
}
