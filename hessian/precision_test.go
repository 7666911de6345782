package hessian

import (
	"math"
	"testing"

	"hesscope/linop"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// TestFloat32AgreesWithFloat64 computes the top eigenvalues of the same
// lenet5 weights on the same batch in float32 and float64: the float32
// spectrum must agree to ~1e-3 relative.
func TestFloat32AgreesWithFloat64(t *testing.T) {
	net64, err := models.New[float64]("lenet5", models.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	net32, _ := models.New[float32]("lenet5", models.Config{Seed: 3})
	for i, p := range net64.Params() {
		for j, v := range p.Value.Data {
			net32.Params()[i].Value.Data[j] = float32(v)
		}
	}
	x64, y := benchBatch(net64, 16)
	x32 := tensor.Convert[float32](x64)
	opts := linop.LanczosOptions{K: 2, MaxIter: 60, Tol: 1e-5, Seed: 1}
	e64, err := linop.Lanczos(NewParams[float64](net64, Batch[float64]{X: x64, Y: y}, nn.Eval, nil), linop.Largest, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Tol = 1e-4
	e32, err := linop.Lanczos(NewParams[float32](net32, Batch[float32]{X: x32, Y: y}, nn.Eval, nil), linop.Largest, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range e64.Values {
		rel := math.Abs(e32.Values[i]-e64.Values[i]) / math.Abs(e64.Values[i])
		t.Logf("λ%d: float64 %.10g float32 %.10g relative difference %.2g", i+1, e64.Values[i], e32.Values[i], rel)
		if rel > 1e-3 {
			t.Errorf("λ%d: float32 %g vs float64 %g (relative %g)", i+1, e32.Values[i], e64.Values[i], rel)
		}
	}
	in64, err := linop.Lanczos(NewInput[float64](net64, x64, y, nn.Eval), linop.Largest, linop.LanczosOptions{MaxIter: 150, Tol: 1e-6, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	in32, err := linop.Lanczos(NewInput[float32](net32, x32, y, nn.Eval), linop.Largest, linop.LanczosOptions{MaxIter: 150, Tol: 1e-4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rel := math.Abs(in32.Values[0]-in64.Values[0]) / math.Abs(in64.Values[0])
	t.Logf("input λ1: float64 %.10g float32 %.10g relative difference %.2g", in64.Values[0], in32.Values[0], rel)
	if rel > 1e-3 {
		t.Errorf("input λ1: float32 %g vs float64 %g", in32.Values[0], in64.Values[0])
	}
}

// TestFloat32HVPConvNets checks the float32 product H·v of C2, ResNet-20
// and ResNet-18 (batch 4), whose 3×3 layers run by Winograd's algorithm in
// float32 where the machine has the assembly transforms (their weight
// cotangents too, by F(4×4, 3×3) where autodiff prefers it), against
// float64 (direct convolutions) on the same weights, batch and direction:
// the same vector to float32 rounding, and the same gradient. (With
// F(4×4, 3×3) for their convolutions too, ResNet-18's H·v was 2.8e-4 from
// float64's and ResNet-20's 8.9e-5.)
func TestFloat32HVPConvNets(t *testing.T) {
	for _, name := range []string{"c2", "resnet20", "resnet18"} {
		t.Run(name, func(t *testing.T) {
			net64, err := models.New[float64](name, models.Config{Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			net32, _ := models.New[float32](name, models.Config{Seed: 5})
			for i, p := range net64.Params() {
				for j, v := range p.Value.Data {
					net32.Params()[i].Value.Data[j] = float32(v)
				}
			}
			x64, y := benchBatch(net64, 4)
			x32 := tensor.Convert[float32](x64)
			op64 := NewParams[float64](net64, Batch[float64]{X: x64, Y: y}, nn.Eval, nil)
			op32 := NewParams[float32](net32, Batch[float32]{X: x32, Y: y}, nn.Eval, nil)
			v := make([]float64, op64.Dim())
			for i := range v {
				v[i] = float64(float32(math.Sin(float64(i) * 0.7)))
			}
			h64, h32 := make([]float64, len(v)), make([]float64, len(v))
			op64.Apply(h64, v)
			op32.Apply(h32, v)
			if e := relDiff(h32, h64); e > 1e-5 { // measured 1e-7…8e-7
				t.Errorf("float32 H·v differs from float64 by %.2g (relative)", e)
			}
			_, g64 := op64.Gradient()
			_, g32 := op32.Gradient()
			if e := relDiff(g32, g64); e > 1e-5 { // measured 6e-8…9e-8
				t.Errorf("float32 gradient differs from float64 by %.2g (relative)", e)
			}
		})
	}
}

// relDiff returns ‖a − b‖/‖b‖.
func relDiff(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}
