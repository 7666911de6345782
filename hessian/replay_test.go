package hessian

import (
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// TestRetain: for every zoo model, the products of passes with
// Request.Retain, computed from the kept pass after the first, are those of
// whole passes (Retain unset) along the same directions, bit for bit:
// parameters, one parameter's block, the input; and a pass after anything
// changed — the batch's elements, a label, a parameter's value, the
// request, a pass in between — is the whole pass's of the new setting.
func TestRetain(t *testing.T) {
	for _, c := range []struct {
		model string
		f32   bool
		n     int
		modes []nn.Mode
	}{
		{"mlp", false, 3, []nn.Mode{nn.Eval}},
		{"lenet5", false, 3, []nn.Mode{nn.Eval}},
		{"lenet5", true, 5, []nn.Mode{nn.Eval}},
		{"c1", false, 2, []nn.Mode{nn.Eval}},
		{"c2", false, 2, []nn.Mode{nn.Eval, nn.Train}},
		{"c2", true, 3, []nn.Mode{nn.Eval, nn.Train}},
		{"resnet20", false, 2, []nn.Mode{nn.Eval, nn.Train}},
		{"resnet20", true, 4, []nn.Mode{nn.Eval, nn.Train}},
	} {
		t.Run(c.model, func(t *testing.T) {
			if c.f32 {
				checkRetain[float32](t, c.model, c.n, c.modes)
			} else {
				checkRetain[float64](t, c.model, c.n, c.modes)
			}
		})
	}
}

func checkRetain[T tensor.Float](t *testing.T, model string, n int, modes []nn.Mode) {
	net, err := models.New[T](model, models.Config{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	x, y := benchBatch(net, n)
	params := nn.Trainable(net.Params())
	rng := rand.New(rand.NewPCG(7, 8))
	normal := func(d *tensor.Dense[T]) *tensor.Dense[T] {
		for i := range d.Data {
			d.Data[i] = T(rng.NormFloat64())
		}
		return d
	}
	dirs := make([][]*tensor.Dense[T], 3)
	for k := range dirs {
		dirs[k] = nn.Like(params)
		for _, p := range dirs[k] {
			normal(p)
		}
	}
	xDots := []*tensor.Dense[T]{normal(tensor.New[T](x.Shape...)), normal(tensor.New[T](x.Shape...))}
	mid := len(params) / 2
	whole, kept := NewEvaluator[T](net), NewEvaluator[T](net)
	// check compares the kept evaluator's pass with a whole pass.
	check := func(what string, req Request[T]) {
		t.Helper()
		req.HvOnly, req.Retain = true, true
		got := kept.Pass(x, y, req)
		req.Retain = false
		want := whole.Pass(x, y, req)
		if got.Loss != want.Loss {
			t.Errorf("%s: loss %v, whole pass %v", what, got.Loss, want.Loss)
		}
		for i := range want.ParamHv {
			if !sameBitsT(got.ParamHv[i], want.ParamHv[i]) {
				t.Errorf("%s, %s: Hv differs from the whole pass's", what, req.Params[i].Name)
			}
		}
		if !sameBitsT(got.InputHv, want.InputHv) {
			t.Errorf("%s: the input Hv differs from the whole pass's", what)
		}
	}
	for _, mode := range modes {
		for k, v := range dirs {
			check("params", Request[T]{Mode: mode, Params: params, ParamTangent: v})
			check("one block", Request[T]{Mode: mode, Params: params[mid : mid+1], ParamTangent: v[mid : mid+1]})
			check("input", Request[T]{Mode: mode, InputGrad: true, InputTangent: xDots[k%2]})
		}
		req := Request[T]{Mode: mode, Params: params, ParamTangent: dirs[0]}
		check("params", req)
		x.Data[1] += 0.25
		check("after a pixel changed", req)
		y[0] = (y[0] + 1) % net.Classes
		check("after a label changed", req)
		params[mid].Value.Data[0] += 0.125
		check("after a parameter changed", req)
		whole.Pass(x, y, Request[T]{Mode: mode, Params: params})
		kept.Pass(x, y, Request[T]{Mode: mode, Params: params})
		check("after a gradient pass", req)
		check("input after params", Request[T]{Mode: mode, InputGrad: true, InputTangent: xDots[0]})
	}
}

// TestParamsRetain: the parameter operator keeps each worker's pass where
// every worker has one chunk, every chunk's with KeepChunks, and none
// otherwise; its products are those of whole passes, bit for bit, before
// and after the model's parameters change between products.
func TestParamsRetain(t *testing.T) {
	net, err := models.New[float64]("lenet5", models.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	x, y := benchBatch(net, 8)
	data := NewFloat32Data[float64](toFloat32(x), y, net.Input, 3) // chunks of 3, 3 and 2
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		workers int
		each    bool
		kept    []int // the passes each worker keeps
	}{
		{1, false, []int{0}},
		{3, false, []int{1, 1, 1}},
		{1, true, []int{3}},
		{2, true, []int{2, 1}},
	} {
		workers := c.workers
		want, got := NewParams[float64](net, data, nn.Eval, nil), NewParams[float64](net, data, nn.Eval, nil)
		want.Engine = func(m Model[float64]) Passer[float64] { return fullPasser[float64]{NewEvaluator(m)} }
		want.Workers, got.Workers = workers, workers
		got.KeepChunks = c.each
		vec := make([]float64, want.Dim())
		hw, hg := make([]float64, len(vec)), make([]float64, len(vec))
		for k := range 4 {
			if k == 2 {
				p := net.Params()[2]
				p.Value.Data[1] -= 0.5
			}
			for i := range vec {
				vec[i] = rng.NormFloat64()
			}
			want.Apply(hw, vec)
			got.Apply(hg, vec)
			for i := range hw {
				if math.Float64bits(hw[i]) != math.Float64bits(hg[i]) {
					t.Fatalf("%d workers, product %d: Hv[%d] = %v, %v by whole passes", workers, k, i, hg[i], hw[i])
				}
			}
			if got.Loss != want.Loss {
				t.Errorf("%d workers, product %d: loss %v, %v by whole passes", workers, k, got.Loss, want.Loss)
			}
		}
		for i, w := range got.pool.workers {
			n := 0
			for _, e := range append([]*Evaluator[float64]{w.eval}, w.kept...) {
				if e.kept != nil {
					n++
				}
			}
			if n != c.kept[i] {
				t.Errorf("%d workers, KeepChunks %v: worker %d keeps %d passes, want %d", workers, c.each, i, n, c.kept[i])
			}
		}
	}
}
