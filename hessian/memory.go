package hessian

import (
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"

	"hesscope/internal/sysmem"
	"hesscope/nn"
	"hesscope/tensor"
)

// PassKind is what a pass computes, for WorkingSet.
type PassKind int

const (
	LossPass          PassKind = iota // the loss alone, BatchNorm in eval mode
	GradientPass                      // the loss and its parameter gradient, eval mode
	TrainPass                         // a training step's gradient: BatchNorm in train mode
	HVPPass                           // the loss, parameter gradient and Hessian-vector product
	InputGradientPass                 // the loss and its gradient with respect to the input batch
	InputHVPPass                      // the input gradient and the input Hessian-vector product
)

// WorkingSet estimates the bytes a pass of the given kind over n images of
// shape input ([C, H, W]) allocates on a fresh Evaluator of m: the tape's
// values, tangents and cotangents and the kernels' scratch, the memory its
// later passes reuse (for the products, the larger of a whole pass's and a
// kept one's, Request.Retain, which holds every cotangent). The commands
// check it against what the machine has before they start (a pass of
// -batch-size 65536 ResNet-18 images needs a terabyte), so that a size
// that cannot fit is refused with both amounts instead of killing the
// process halfway.
//
// The estimate is measured, not modelled: probe passes over n₁ = min(n,
// 32) and n₂ = min(n, 64) random images, each on a fresh Evaluator after
// two garbage collections and with none during it (the count of
// BenchmarkModels' MB/pass), extrapolated linearly to n. The tape grows
// with the batch; the scratch that does not (per-worker partial sums,
// chunked transforms) is in both probes, which cut the batch into as many
// parts as any batch (32) and use every CPU. Below 32 images the count is
// not linear (ResNet-20's HVP: 23, 39, 50 and 92 MB at 2, 4, 8 and 16
// images, then 144, 268 and 502 MB at 32, 64 and 128); from 32 on it is
// within a few percent (the estimate for 128 images from 32 and 64 is
// 1–3 % high on C2 and ResNet-20, TestWorkingSet). The parameters,
// BatchNorm's running statistics included, are restored after the probes,
// so the model is as it was. The probes, each run twice (probe), cost
// about one pass of 192 images.
func WorkingSet[T tensor.Float](m Model[T], input [3]int, kind PassKind, n int) uint64 {
	if n < 1 {
		return 0
	}
	defer restoreParams(m)()
	n1, n2 := min(n, 32), min(n, 64)
	m1 := probe(m, input, kind, n1)
	if n2 == n1 {
		return m1
	}
	m2 := probe(m, input, kind, n2)
	if m2 <= m1 {
		return m2
	}
	slope := float64(m2-m1) / float64(n2-n1)
	return sysmem.Round(float64(m1) + slope*float64(n-n1))
}

// WorkingSetBound is a cheaper bound of WorkingSet from one probe pass:
// the count for min(n, 32) images scaled to n, which scales the scratch
// that does not grow with the batch too, so that it is at least the
// estimate (up to the probes' few percent of timing noise). A command
// passes a run that fits even so on this bound alone, and measures
// WorkingSet only for one that may not.
func WorkingSetBound[T tensor.Float](m Model[T], input [3]int, kind PassKind, n int) uint64 {
	if n < 1 {
		return 0
	}
	defer restoreParams(m)()
	n1 := min(n, 32)
	return sysmem.Round(float64(probePass(m, input, kind, n1)) * float64(n) / float64(n1))
}

// probe returns the larger count of two probe passes over n images: the
// scratch buffers a pass's goroutines take from the pools, and so the
// count, depend on their timing (ResNet-18's training step over 64 images:
// 611 or 642 MB), and the larger is the safe side.
func probe[T tensor.Float](m Model[T], input [3]int, kind PassKind, n int) uint64 {
	return max(probePass(m, input, kind, n), probePass(m, input, kind, n))
}

// probePass returns the bytes one pass of kind over n random images
// allocates on a fresh Evaluator.
func probePass[T tensor.Float](m Model[T], input [3]int, kind PassKind, n int) uint64 {
	rng := rand.New(rand.NewPCG(1, 2))
	x := tensor.New[T](n, input[0], input[1], input[2])
	for i := range x.Data {
		x.Data[i] = T(rng.Float64())
	}
	y := make([]int, n) // class 0: any label costs the same
	req := Request[T]{Mode: nn.Eval}
	trainable := nn.Trainable(m.Params())
	switch kind {
	case GradientPass:
		req.Params = trainable
	case TrainPass:
		req.Mode, req.Params = nn.Train, trainable
	case HVPPass:
		req.Params, req.ParamTangent = trainable, nn.Like(trainable)
	case InputGradientPass:
		req.InputGrad = true
	case InputHVPPass:
		req.InputGrad, req.InputTangent = true, x
	}
	bytes := allocated(m, x, y, req)
	if kind == HVPPass || kind == InputHVPPass {
		// The operators' products keep their pass (Request.Retain), with
		// its cotangents: ResNet-20's at batch 128, 1.36 times the HVP's.
		req.HvOnly, req.Retain = true, true
		bytes = max(bytes, allocated(m, x, y, req))
	}
	return bytes
}

// allocated returns the bytes one pass of req allocates on a fresh
// Evaluator of m.
func allocated[T tensor.Float](m Model[T], x *tensor.Dense[T], y []int, req Request[T]) uint64 {
	e := NewEvaluator(m)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	gc := debug.SetGCPercent(-1)
	runtime.ReadMemStats(&before)
	e.Pass(x, y, req)
	runtime.ReadMemStats(&after)
	debug.SetGCPercent(gc)
	return after.TotalAlloc - before.TotalAlloc
}

// restoreParams saves the values of m's parameters and returns the
// function that restores them (a probe in train mode moves BatchNorm's
// running statistics) and collects the probes' garbage.
func restoreParams[T tensor.Float](m Model[T]) func() {
	params := m.Params()
	saved := make([][]T, len(params))
	for i, p := range params {
		saved[i] = slices.Clone(p.Value.Data)
	}
	return func() {
		for i, p := range params {
			copy(p.Value.Data, saved[i])
		}
		runtime.GC() // the probes' buffers, before the run allocates its own
	}
}
