package hessian

import (
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// TestFloat32Products bounds how far a float32 parameter HVP is from the
// float64 one on the same (float32-rounded) weights, inputs and vector, for
// the zoo's convolutional nets in eval mode: the float32 paths run the fast
// convolutions (Winograd's F(2×2, 3×3) and F(2×2, 5×5) where the machine
// has them, the direct products elsewhere), the float64 ones the direct
// products, so this is the end-to-end accuracy a user of float32 gets. It
// reports ‖Hv₃₂ − Hv₆₄‖ / ‖Hv₆₄‖ and the loss's relative difference:
// measured (Xeon, AVX-512) 2.1e-7 for lenet5 (direct), 6.2e-7 for c1
// (F(2×2, 5×5)), 3.3e-7 for c2 and 1.6e-7 for resnet20 (F(2×2, 3×3), its
// 16- and 32-channel stages' sums of two products as one deep product);
// the bound is 3e-6.
func TestFloat32Products(t *testing.T) {
	for _, c := range []struct {
		model string
		n     int
		tol   float64
	}{
		{"lenet5", 4, 3e-6},
		{"c1", 4, 3e-6},
		{"c2", 2, 3e-6},
		{"resnet20", 2, 3e-6},
	} {
		t.Run(c.model, func(t *testing.T) {
			if testing.Short() && c.model == "c2" {
				t.Skip("short")
			}
			n64, err := models.New[float64](c.model, models.Config{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			n32, err := models.New[float32](c.model, models.Config{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			// The same values in both: float64 weights and buffers rounded to
			// float32, copied into the float32 net.
			p64, p32 := n64.Params(), n32.Params()
			for i, p := range p64 {
				for j, v := range p.Value.Data {
					p32[i].Value.Data[j] = float32(v)
					p.Value.Data[j] = float64(float32(v))
				}
			}
			x64, y := benchBatch(n64, c.n)
			x32 := tensor.New[float32](x64.Shape...)
			for i, v := range x64.Data {
				x32.Data[i] = float32(v)
				x64.Data[i] = float64(x32.Data[i])
			}
			t64, t32 := nn.Trainable(p64), nn.Trainable(p32)
			v64, v32 := nn.Like(t64), nn.Like(t32)
			rng := rand.New(rand.NewPCG(3, 5))
			for i := range v64 {
				for j := range v64[i].Data {
					v32[i].Data[j] = float32(rng.NormFloat64())
					v64[i].Data[j] = float64(v32[i].Data[j])
				}
			}
			r64 := NewEvaluator[float64](n64).Pass(x64, y, Request[float64]{Mode: nn.Eval, Params: t64, ParamTangent: v64})
			r32 := NewEvaluator[float32](n32).Pass(x32, y, Request[float32]{Mode: nn.Eval, Params: t32, ParamTangent: v32})
			var diff, norm float64
			for i := range r64.ParamHv {
				for j, w := range r64.ParamHv[i].Data {
					d := float64(r32.ParamHv[i].Data[j]) - w
					diff += d * d
					norm += w * w
				}
			}
			if norm == 0 {
				t.Fatal("the float64 product is zero: the test cannot fail")
			}
			rel := math.Sqrt(diff / norm)
			loss := math.Abs(float64(r32.Loss)-r64.Loss) / math.Abs(r64.Loss)
			t.Logf("‖Hv32 − Hv64‖/‖Hv64‖ = %.2g, loss %.2g", rel, loss)
			if rel > c.tol || loss > c.tol {
				t.Errorf("float32 product %.2g (loss %.2g) from float64's, want at most %g", rel, loss, c.tol)
			}
		})
	}
}
