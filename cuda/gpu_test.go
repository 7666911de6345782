//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// needGPU skips the test unless a GPU and the CUDA libraries are there.
func needGPU(t testing.TB) *Device {
	t.Helper()
	d, err := Open()
	if err == nil {
		err = loadBLAS()
	}
	if err == nil {
		err = loadDNN()
	}
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	return d
}

// evaluatorOn returns an evaluator of net on backend be.
func evaluatorOn[T tensor.Float](t testing.TB, be backend, net *models.Net[T]) *Evaluator[T] {
	t.Helper()
	pl, err := record(net, net.Input)
	if err != nil {
		t.Fatal(err)
	}
	return newEvaluator(be, net, pl)
}

// zooNet returns model name with random BatchNorm statistics and affine
// parameters (at initialisation BatchNorm is nearly the identity), and a
// random batch of n images.
func zooNet[T tensor.Float](t testing.TB, name string, n int) (*models.Net[T], *tensor.Dense[T], []int) {
	t.Helper()
	net, err := models.New[T](name, models.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range net.Params() {
		bn := strings.Contains(p.Name, "bn") || strings.Contains(p.Name, "downsample.1")
		var lo, hi float64
		switch {
		case bn && (strings.HasSuffix(p.Name, ".running_var") || strings.HasSuffix(p.Name, ".weight")):
			lo, hi = 0.5, 1.5
		case bn && (strings.HasSuffix(p.Name, ".running_mean") || strings.HasSuffix(p.Name, ".bias")):
			lo, hi = -0.2, 0.2
		default:
			continue
		}
		for i := range p.Value.Data {
			p.Value.Data[i] = T(lo + (hi-lo)*rng.Float64())
		}
	}
	x := tensor.New[T](n, net.Input[0], net.Input[1], net.Input[2])
	for i := range x.Data {
		x.Data[i] = T(rng.Float64())
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(net.Classes)
	}
	return net, x, y
}

// relErr is ‖a − b‖/‖b‖ over the blocks (nil blocks are zero).
func relErr[T tensor.Float](a, b []*tensor.Dense[T]) float64 {
	var num, den float64
	for i := range b {
		for j := range b[i].Data {
			var av float64
			if a[i] != nil {
				av = float64(a[i].Data[j])
			}
			d := av - float64(b[i].Data[j])
			num += d * d
			den += float64(b[i].Data[j]) * float64(b[i].Data[j])
		}
	}
	return math.Sqrt(num / den)
}

// TestHVPMatchesCPU: for every zoo model in float64, the GPU's loss,
// gradient and Hessian-vector product equal the CPU engine's to 1e-10
// relative (they differ only by the order of sums).
func TestHVPMatchesCPU(t *testing.T) {
	d := needGPU(t)
	for _, name := range models.Names() {
		t.Run(name, func(t *testing.T) { checkHVP[float64](t, &gpu{dev: d}, name, 8, 1e-10) })
	}
}

// TestEmulatedHVPMatchesCPU is TestHVPMatchesCPU on the host emulation of
// the GPU (emu), float64 to 1e-10 and float32 to 1e-5: the evaluator's
// algebra and the kernels' arithmetic, checked without a GPU.
func TestEmulatedHVPMatchesCPU(t *testing.T) {
	for _, name := range models.Names() {
		if testing.Short() && name == "resnet18" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			checkHVP[float64](t, newEmu(t), name, 3, 1e-10)
			checkHVP[float32](t, newEmu(t), name, 3, 1e-5)
		})
	}
}

// checkHVP compares a pass of the evaluator on be with the CPU engine's:
// loss, logits, gradient and Hessian-vector product, relative error at
// most tol, twice (the second pass reuses the buffers).
func checkHVP[T tensor.Float](t *testing.T, be backend, name string, n int, tol float64) {
	defer recovered(t)
	net, x, y := zooNet[T](t, name, n)
	params := nn.Trainable(net.Params())
	v := nn.Like(params)
	rng := rand.New(rand.NewPCG(9, 9))
	for _, b := range v {
		for i := range b.Data {
			b.Data[i] = T(rng.NormFloat64())
		}
	}
	req := hessian.Request[T]{Mode: nn.Eval, Params: params, ParamTangent: v}
	want := hessian.NewEvaluator[T](net).Pass(x, y, req)
	g := evaluatorOn(t, be, net)
	defer g.Close()
	for rep := 0; rep < 2; rep++ {
		got := g.Pass(x, y, req)
		lossErr := math.Abs(got.Loss-want.Loss) / math.Abs(want.Loss)
		gradErr := relErr(got.ParamGrad, want.ParamGrad)
		hvErr := relErr(got.ParamHv, want.ParamHv)
		logitErr := relErr([]*tensor.Dense[T]{got.Logits}, []*tensor.Dense[T]{want.Logits})
		t.Logf("%s %T pass %d: loss %.3g logits %.3g gradient %.3g Hv %.3g (relative)", name, T(0), rep, lossErr, logitErr, gradErr, hvErr)
		for what, e := range map[string]float64{"loss": lossErr, "logits": logitErr, "gradient": gradErr, "Hv": hvErr} {
			if !(e <= tol) {
				t.Errorf("%s %T: %s differs from the CPU's by %.3g relative", name, T(0), what, e)
			}
		}
		if gradErr > tol || hvErr > tol { // which layers: the first wrong one points at a primitive
			for k, p := range params {
				ge := relErr(got.ParamGrad[k:k+1], want.ParamGrad[k:k+1])
				he := relErr(got.ParamHv[k:k+1], want.ParamHv[k:k+1])
				if ge > tol || he > tol {
					t.Logf("  %-28s gradient %.3g Hv %.3g", p.Name, ge, he)
				}
			}
		}
	}
}

// TestPassVariants: a gradient without a product, a forward pass only, a
// product restricted to one layer and a pass at another point θ′ (At)
// agree with the CPU in float64.
func TestPassVariants(t *testing.T) { checkVariants(t, &gpu{dev: needGPU(t)}) }

// TestEmulatedPassVariants is TestPassVariants on the host emulation.
func TestEmulatedPassVariants(t *testing.T) { checkVariants(t, newEmu(t)) }

func checkVariants(t *testing.T, be backend) {
	defer recovered(t)
	net, x, y := zooNet[float64](t, "c1", 6)
	params := nn.Trainable(net.Params())
	cpu := hessian.NewEvaluator[float64](net)
	g := evaluatorOn(t, be, net)
	defer g.Close()
	at := nn.Like(params)
	for i, p := range params {
		for j, v := range p.Value.Data {
			at[i].Data[j] = v * 1.01
		}
	}
	one := params[2:4] // bn1.weight, bn1.bias
	v := nn.Like(one)
	for _, b := range v {
		for i := range b.Data {
			b.Data[i] = float64(i%5) - 2
		}
	}
	for _, c := range []struct {
		name string
		req  hessian.Request[float64]
	}{
		{"gradient", hessian.Request[float64]{Mode: nn.Eval, Params: params}},
		{"forward", hessian.Request[float64]{Mode: nn.Eval}},
		{"one layer", hessian.Request[float64]{Mode: nn.Eval, Params: one, ParamTangent: v}},
		{"at θ′", hessian.Request[float64]{Mode: nn.Eval, Params: params, At: at}},
		{"smaller batch", hessian.Request[float64]{Mode: nn.Eval, Params: params, ParamTangent: at}},
		{"new statistics", hessian.Request[float64]{Mode: nn.Eval, Params: params, ParamTangent: at}},
	} {
		if c.name == "new statistics" { // as training would change them between passes
			for _, p := range net.Params() {
				if strings.HasSuffix(p.Name, "running_var") {
					for i := range p.Value.Data {
						p.Value.Data[i] *= 1.5
					}
				}
			}
		}
		x, y := x, y
		if c.name == "smaller batch" { // reuses the buffers of the larger one
			x, y = tensor.FromSlice(x.Data[:3*x.Len()/6], 3, x.Shape[1], x.Shape[2], x.Shape[3]), y[:3]
		}
		want := cpu.Pass(x, y, c.req)
		got := g.Pass(x, y, c.req)
		if e := math.Abs(got.Loss-want.Loss) / math.Abs(want.Loss); e > 1e-10 {
			t.Errorf("%s: loss %v, CPU %v", c.name, got.Loss, want.Loss)
		}
		if len(got.ParamGrad) != len(want.ParamGrad) {
			t.Fatalf("%s: %d gradients, CPU %d", c.name, len(got.ParamGrad), len(want.ParamGrad))
		}
		if len(want.ParamGrad) > 0 {
			if e := relErr(got.ParamGrad, want.ParamGrad); e > 1e-10 {
				t.Errorf("%s: gradient differs by %.3g relative", c.name, e)
			}
		}
		if c.req.ParamTangent != nil {
			if e := relErr(got.ParamHv, want.ParamHv); e > 1e-10 {
				t.Errorf("%s: Hv differs by %.3g relative", c.name, e)
			}
		}
	}
}

// TestTopEigenvalueFloat32: Lanczos on the float32 parameter Hessian of c1
// and resnet20 gives the same top eigenvalue on the GPU as on the CPU to
// 1e-4 relative; the operator and the solver are hessian's and linop's,
// only the Engine differs.
func TestTopEigenvalueFloat32(t *testing.T) {
	needGPU(t)
	for _, name := range []string{"c1", "resnet20"} {
		t.Run(name, func(t *testing.T) {
			net, x, y := zooNet[float32](t, name, 64)
			data := hessian.Batch[float32]{X: x, Y: y}
			// float32 products have a residual floor near 1e-5·λ that
			// depends on the order of the sums (on an H100, c1's GPU
			// products stalled at 1.1e-5·λ where the CPU's met 1e-5):
			// an estimate whose residual is within 1e-4·λ is accepted
			// unconverged, its error about residual²/gap being far
			// below the 1e-4 asserted on λ1.
			opts := linop.LanczosOptions{K: 1, MaxIter: 80, Tol: 1e-5, Seed: 1}
			floor := func(res linop.Eigen, err error) linop.Eigen {
				t.Helper()
				var nc *linop.NotConvergedError
				if errors.As(err, &nc) && nc.Residual <= 1e-4*math.Abs(nc.Value) {
					t.Logf("%v (accepted: float32)", err)
				} else if err != nil {
					t.Fatal(err)
				}
				return res
			}
			cpu := floor(linop.Lanczos(hessian.NewParams[float32](net, data, nn.Eval, nil), linop.Largest, opts))
			eng, err := NewEngine[float32](net, net.Input)
			if err != nil {
				t.Fatal(err)
			}
			op := hessian.NewParams[float32](net, data, nn.Eval, nil)
			op.Engine = eng
			gpu := floor(linop.Lanczos(op, linop.Largest, opts))
			rel := math.Abs(gpu.Values[0]-cpu.Values[0]) / math.Abs(cpu.Values[0])
			t.Logf("%s: λ1 CPU %.8g GPU %.8g relative difference %.2g (%d products)", name, cpu.Values[0], gpu.Values[0], rel, op.HVPs)
			if !(rel <= 1e-4) {
				t.Errorf("%s: λ1 GPU %g vs CPU %g (relative %g)", name, gpu.Values[0], cpu.Values[0], rel)
			}
		})
	}
}

// TestDeterministic: two passes give the same bits.
func TestDeterministic(t *testing.T) {
	needGPU(t)
	net, x, y := zooNet[float32](t, "resnet20", 32)
	params := nn.Trainable(net.Params())
	v := nn.Like(params)
	for _, b := range v {
		for i := range b.Data {
			b.Data[i] = float32(i%7) - 3
		}
	}
	g, err := NewEvaluator[float32](net, net.Input)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	req := hessian.Request[float32]{Mode: nn.Eval, Params: params, ParamTangent: v}
	first := g.Pass(x, y, req)
	a := make([][]float32, len(first.ParamHv))
	for i, b := range first.ParamHv {
		a[i] = append([]float32(nil), b.Data...)
	}
	second := g.Pass(x, y, req)
	for i, b := range second.ParamHv {
		for j, v := range b.Data {
			if v != a[i][j] {
				t.Fatalf("Hv[%s][%d]: %v then %v", params[i].Name, j, a[i][j], v)
			}
		}
	}
}

// BenchmarkHVP times one loss, gradient and Hessian-vector product with
// respect to every parameter on the GPU (uploading the batch and the
// tangent, downloading the gradient and the product) per model, batch size
// and precision: scripts/device_check.sh sets them side by side with
// PyTorch's double-backprop HVP on the same GPU.
func BenchmarkHVP(b *testing.B) {
	needGPU(b)
	for _, name := range []string{"c1", "resnet20"} {
		for _, n := range []int{128, 1024} {
			b.Run(fmt.Sprintf("%s/batch=%d/float32", name, n), func(b *testing.B) { benchHVP[float32](b, name, n) })
			b.Run(fmt.Sprintf("%s/batch=%d/float64", name, n), func(b *testing.B) { benchHVP[float64](b, name, n) })
		}
	}
}

func benchHVP[T tensor.Float](b *testing.B, name string, n int) {
	net, x, y := zooNet[T](b, name, n)
	params := nn.Trainable(net.Params())
	v := nn.Like(params)
	for _, t := range v {
		for i := range t.Data {
			t.Data[i] = T(i%7) - 3
		}
	}
	g, err := NewEvaluator[T](net, net.Input)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	req := hessian.Request[T]{Mode: nn.Eval, Params: params, ParamTangent: v}
	g.Pass(x, y, req) // allocate
	b.ResetTimer()
	for b.Loop() {
		g.Pass(x, y, req)
	}
}
