package hessian

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// fullPasser runs every pass with the gradient formed (HvOnly cleared), as
// the operators did before Request.HvOnly.
type fullPasser[T tensor.Float] struct{ e *Evaluator[T] }

func (f fullPasser[T]) Pass(x *tensor.Dense[T], y []int, req Request[T]) Result[T] {
	req.HvOnly = false
	return f.e.Pass(x, y, req)
}

// TestHvOnly: for every zoo model, a pass with HvOnly gives no gradients and
// the same bits for the products (all parameters, one layer's, the input)
// as the full pass, in eval mode and, for the BatchNorm nets, train mode;
// and Params.Apply, which sets HvOnly, gives the same bits as with the
// gradient formed.
func TestHvOnly(t *testing.T) {
	for _, c := range []struct {
		model string
		f32   bool // float32 (resnet18, to keep it fast), else float64
		n     int
		modes []nn.Mode
		apply bool
	}{
		{"mlp", false, 3, []nn.Mode{nn.Eval}, true},
		{"lenet5", false, 3, []nn.Mode{nn.Eval}, true},
		{"c1", false, 2, []nn.Mode{nn.Eval}, false},
		{"c2", false, 2, []nn.Mode{nn.Eval, nn.Train}, false},
		{"resnet20", false, 2, []nn.Mode{nn.Eval, nn.Train}, true},
		{"resnet18", true, 2, []nn.Mode{nn.Eval}, false},
	} {
		t.Run(c.model, func(t *testing.T) {
			if testing.Short() && (c.model == "resnet18" || c.model == "c2") {
				t.Skip("short")
			}
			if c.f32 {
				checkHvOnly[float32](t, c.model, c.n, c.modes, c.apply)
			} else {
				checkHvOnly[float64](t, c.model, c.n, c.modes, c.apply)
			}
		})
	}
}

func checkHvOnly[T tensor.Float](t *testing.T, model string, n int, modes []nn.Mode, apply bool) {
	net, err := models.New[T](model, models.Config{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	x, y := benchBatch(net, n)
	params := nn.Trainable(net.Params())
	v := nn.Like(params)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range v {
		for i := range p.Data {
			p.Data[i] = T(rng.NormFloat64())
		}
	}
	xDot := tensor.New[T](x.Shape...)
	for i := range xDot.Data {
		xDot.Data[i] = T(rng.NormFloat64())
	}
	mid := len(params) / 2 // one layer's block: a middle parameter alone
	e := NewEvaluator[T](net)
	for _, mode := range modes {
		for _, r := range []struct {
			name string
			req  Request[T]
		}{
			{"all", Request[T]{Mode: mode, Params: params, ParamTangent: v}},
			{"block", Request[T]{Mode: mode, Params: params[mid : mid+1], ParamTangent: v[mid : mid+1]}},
			{"input", Request[T]{Mode: mode, InputGrad: true, InputTangent: xDot}},
		} {
			name := fmt.Sprintf("%v/%s", mode, r.name)
			full := e.Pass(x, y, r.req)
			wantLoss, wantHv, wantIn := full.Loss, cloneAll(full.ParamHv), cloneAll([]*tensor.Dense[T]{full.InputHv})[0]
			if full.InputHv == nil && allZeroT(wantHv) {
				t.Fatalf("%s: the full pass's products are zero: the test cannot fail", name)
			}
			req := r.req
			req.HvOnly = true
			got := e.Pass(x, y, req)
			if got.ParamGrad != nil || got.InputGrad != nil {
				t.Errorf("%s: HvOnly pass returned a gradient", name)
			}
			if got.Loss != wantLoss {
				t.Errorf("%s: loss %v with HvOnly, %v without", name, got.Loss, wantLoss)
			}
			if len(got.ParamHv) != len(wantHv) {
				t.Fatalf("%s: %d products with HvOnly, %d without", name, len(got.ParamHv), len(wantHv))
			}
			for i := range wantHv {
				if !sameBitsT(got.ParamHv[i], wantHv[i]) {
					t.Errorf("%s: Hv of %s differs with HvOnly", name, params[i].Name)
				}
			}
			if r.name == "input" && (wantIn == nil || !sameBitsT(got.InputHv, wantIn)) {
				t.Errorf("%s: input Hv differs with HvOnly (or is zero)", name)
			}
		}
	}
	if !apply {
		return
	}
	// Params.Apply over uneven chunks and two workers, with and without the
	// gradient formed.
	data := NewFloat32Data[T](toFloat32(x), y, net.Input, 2)
	want, got := NewParams[T](net, data, nn.Eval, nil), NewParams[T](net, data, nn.Eval, nil)
	want.Engine = func(m Model[T]) Passer[T] { return fullPasser[T]{NewEvaluator(m)} }
	want.Workers, got.Workers = 2, 2
	vec := make([]float64, want.Dim())
	for i := range vec {
		vec[i] = rng.NormFloat64()
	}
	hw, hg := make([]float64, len(vec)), make([]float64, len(vec))
	want.Apply(hw, vec)
	got.Apply(hg, vec)
	for i := range hw {
		if math.Float64bits(hw[i]) != math.Float64bits(hg[i]) {
			t.Fatalf("Params.Apply: Hv[%d] = %v, %v with the gradient formed", i, hg[i], hw[i])
		}
	}
	if got.Loss != want.Loss {
		t.Errorf("Params.Apply: loss %v, %v with the gradient formed", got.Loss, want.Loss)
	}
}

func toFloat32[T tensor.Float](x *tensor.Dense[T]) []float32 {
	out := make([]float32, len(x.Data))
	for i, v := range x.Data {
		out[i] = float32(v)
	}
	return out
}

func cloneAll[T tensor.Float](ts []*tensor.Dense[T]) []*tensor.Dense[T] {
	out := make([]*tensor.Dense[T], len(ts))
	for i, t := range ts {
		if t != nil {
			out[i] = t.Clone()
		}
	}
	return out
}

// sameBitsT reports whether a and b are both nil or hold identical bits.
func sameBitsT[T tensor.Float](a, b *tensor.Dense[T]) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !tensor.SameShape(a.Shape, b.Shape) {
		return false
	}
	for i := range a.Data {
		if math.Float64bits(float64(a.Data[i])) != math.Float64bits(float64(b.Data[i])) {
			return false
		}
	}
	return true
}

func allZeroT[T tensor.Float](ts []*tensor.Dense[T]) bool {
	for _, t := range ts {
		if t == nil {
			continue
		}
		for _, v := range t.Data {
			if v != 0 {
				return false
			}
		}
	}
	return true
}
