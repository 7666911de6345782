package hessian

import (
	"sync/atomic"
	"testing"

	"hesscope/nn"
	"hesscope/tensor"
)

// countingPasser is an Engine's Passer that counts the passes it runs for
// the CPU Evaluator it wraps (workers run their Passers concurrently).
type countingPasser struct {
	eval   *Evaluator[float64]
	passes *atomic.Int64
}

func (c countingPasser) Pass(x *tensor.Dense[float64], y []int, req Request[float64]) Result[float64] {
	c.passes.Add(1)
	return c.eval.Pass(x, y, req)
}

// TestEngine: Params and Objective run every pass through their Engine,
// one Passer per worker, with the same results as the CPU engine; and
// GaussNewton, CPU-only, refuses an Engine.
func TestEngine(t *testing.T) {
	net := newTinyNet(7, "relu")
	x, y := tinyBatch(7, 11)
	data := &unevenData{x: x, y: y, sizes: []int{3, 3, 1}}
	var passes, made atomic.Int64
	eng := func(m Model[float64]) Passer[float64] {
		made.Add(1)
		return countingPasser{eval: NewEvaluator(m), passes: &passes}
	}
	want := NewParams[float64](net, data, nn.Eval, nil)
	got := NewParams[float64](net, data, nn.Eval, nil)
	got.Engine, got.Workers = eng, 2
	v := make([]float64, want.Dim())
	for i := range v {
		v[i] = float64(i%5) - 2
	}
	hw, hg := make([]float64, len(v)), make([]float64, len(v))
	want.Apply(hw, v)
	got.Apply(hg, v)
	for i := range hw {
		if hw[i] != hg[i] {
			t.Fatalf("Hv[%d] = %v through the Engine, %v without", i, hg[i], hw[i])
		}
	}
	if passes.Load() != 3 || made.Load() != 2 {
		t.Errorf("%d passes by %d Passers, want 3 by 2 (one per worker)", passes.Load(), made.Load())
	}
	obj := NewObjective[float64](net, data, nn.Eval)
	obj.Engine = eng
	if l, w := obj.Eval(nil, obj.Theta()), NewObjective[float64](net, data, nn.Eval).Eval(nil, obj.Theta()); l != w || passes.Load() != 6 {
		t.Errorf("Objective through the Engine: loss %v (want %v) after %d passes (want 6)", l, w, passes.Load())
	}
	gn := NewGaussNewton[float64](net, data, nn.Eval, nil)
	gn.Engine = eng
	defer func() {
		if recover() == nil {
			t.Error("GaussNewton with an Engine did not panic")
		}
	}()
	gn.Apply(hg, v)
}
