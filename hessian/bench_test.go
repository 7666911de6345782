package hessian

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"

	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// benchBatch is a random batch for a model: pixels in [0, 1], labels in
// [0, classes).
func benchBatch[T tensor.Float](net *models.Net[T], n int) (*tensor.Dense[T], []int) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := tensor.New[T](n, net.Input[0], net.Input[1], net.Input[2])
	for i := range x.Data {
		x.Data[i] = T(rng.Float64())
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(net.Classes)
	}
	return x, y
}

// randomTangent returns a direction over params with standard normal
// entries, drawn from PCG(s1, s2).
func randomTangent[T tensor.Float](params []*nn.Param[T], s1, s2 uint64) []*tensor.Dense[T] {
	v := nn.Like(params)
	rng := rand.New(rand.NewPCG(s1, s2))
	for _, t := range v {
		for i := range t.Data {
			t.Data[i] = T(rng.NormFloat64())
		}
	}
	return v
}

// BenchmarkModels times one gradient and one Hessian-vector product with
// respect to the parameters per model at batch 128 in float32, BatchNorm in
// eval mode: compare HVP/Gradient for the cost of second derivatives
// (HVP forms the gradient too; HvOnly is the product alone; Retained the
// product on a kept pass, Request.Retain, as the operators compute it on
// one batch; TrainGradient the gradient of a training step, BatchNorm in
// train mode). The
// metric MB/pass is the memory a fresh evaluator allocates in its first pass
// (tape buffers and scratch): the working set, which later passes reuse;
// cpu-s/op is the processor time (user and system, all threads) per pass,
// steadier than the wall time on a shared machine.
//
//	go test -run '^$' -bench Models -benchtime 5x ./hessian
func BenchmarkModels(b *testing.B) {
	for _, name := range []string{"mlp", "lenet5", "c1", "c2", "resnet20", "resnet18"} {
		net, err := models.New[float32](name, models.Config{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		x, y := benchBatch(net, 128)
		params := nn.Trainable(net.Params())
		v := randomTangent(params, 3, 4)
		for _, c := range []struct {
			kind string
			req  Request[float32]
		}{
			{"Forward", Request[float32]{Mode: nn.Eval}},
			{"Gradient", Request[float32]{Mode: nn.Eval, Params: params}},
			{"HVP", Request[float32]{Mode: nn.Eval, Params: params, ParamTangent: v}},
			{"HvOnly", Request[float32]{Mode: nn.Eval, Params: params, ParamTangent: v, HvOnly: true}},
			{"InputHVP", Request[float32]{Mode: nn.Eval, InputGrad: true, InputTangent: x}},
			{"Retained", Request[float32]{Mode: nn.Eval, Params: params, ParamTangent: v, HvOnly: true, Retain: true}},
			// Last: a pass in train mode updates BatchNorm's running statistics.
			{"TrainGradient", Request[float32]{Mode: nn.Train, Params: params}},
		} {
			b.Run(fmt.Sprintf("%s/%s", name, c.kind), func(b *testing.B) {
				e := NewEvaluator[float32](net)
				pass := func() { e.Pass(x, y, c.req) }
				var before, after runtime.MemStats
				// Scratch buffers are pooled (sync.Pool), and a collection
				// empties the pools: two before the pass start it with
				// none, and none during it lets the pass reuse its own,
				// so that the count does not depend on when collections
				// happen to run.
				runtime.GC()
				runtime.GC()
				gc := debug.SetGCPercent(-1)
				runtime.ReadMemStats(&before)
				pass() // warm the buffers
				runtime.ReadMemStats(&after)
				debug.SetGCPercent(gc)
				b.ResetTimer()
				cpu0 := cpuSeconds()
				for i := 0; i < b.N; i++ {
					pass()
				}
				b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "MB/pass")
			})
		}
	}
}

// TestPassSameBitsAnyProcs: a float32 HVP pass of c2 and ResNet-20 (the
// Winograd layers, whose chunking and, with few chunks, whose weight sums'
// schedule follow GOMAXPROCS) gives the same bits for 1, 3 and 16 CPUs.
func TestPassSameBitsAnyProcs(t *testing.T) {
	for _, name := range []string{"c2", "resnet20"} {
		net, err := models.New[float32](name, models.Config{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		x, y := benchBatch(net, 48)
		params := nn.Trainable(net.Params())
		v := randomTangent(params, 3, 4)
		req := Request[float32]{Mode: nn.Eval, Params: params, ParamTangent: v}
		run := func(procs int) []float32 {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			r := NewEvaluator[float32](net).Pass(x, y, req)
			out := []float32{float32(r.Loss)}
			for i := range r.ParamGrad {
				out = append(append(out, r.ParamGrad[i].Data...), r.ParamHv[i].Data...)
			}
			return out
		}
		ref := run(1)
		for _, procs := range []int{3, 16} {
			if got := run(procs); !slices.Equal(got, ref) {
				t.Errorf("%s: GOMAXPROCS=%d gives other bits than 1", name, procs)
			}
		}
	}
}
