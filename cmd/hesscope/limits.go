package main

// Upper bounds of the size flags and the memory a run will need, checked
// before any work: one flag must not be able to take the machine down.

import (
	"fmt"
	"unsafe"

	"hesscope/hessian"
	"hesscope/internal/sysmem"
	"hesscope/models"
	"hesscope/tensor"
)

// Bounds of the size flags that no model or dataset bounds better; each
// says why. The help texts quote them.
const (
	// maxChunk bounds -batch-size, the images of one forward pass: the
	// largest split of the datasets has 60000 images.
	maxChunk = 65536
	// maxBins bounds -density-bins, the grid of a plotted density: far
	// finer than any figure (8 MB a curve).
	maxBins = 1_000_000
	// maxProducts bounds the Hessian-vector products one estimate may ask
	// for (-trace-matvecs, -density-probes × -density-steps): a million
	// products of even the smallest model take days.
	maxProducts = 1_000_000
	// maxPoints bounds landscape's -points per axis: a loss evaluation over
	// all the images per point, a million points in 2-D.
	maxPoints = 1001
	// maxIterations bounds the iterations of the ascents and attacks
	// (-iterations, -steps, -restarts): each is a pass over the images.
	maxIterations = 100_000
	// maxSaddleSteps bounds saddle-check's -steps: every iterate is kept
	// and gets two Lanczos runs.
	maxSaddleSteps = 1000
	// maxReps bounds bench's -reps: every run's time is kept for the
	// median, and a thousand runs of even the smallest model's HVP pin
	// the median far below this machine's noise.
	maxReps = 1000
)

// atMost returns a usage error unless v ≤ hi, naming the flag, the bound and
// why.
func atMost(flag string, v, hi int, why string) error {
	if v > hi {
		return usagef("%s %d: want at most %d (%s)", flag, v, hi, why)
	}
	return nil
}

// checkMemory refuses a run whose estimate exceeds the memory this process
// may still allocate (sysmem.Available), with both amounts and what to
// lower.
func checkMemory(what string, need uint64, lower string) error {
	if err := sysmem.Check(what, need); err != nil {
		return usagef("%v (lower %s)", err, lower)
	}
	return nil
}

// checkPasses refuses a run whose passes cannot fit: workers evaluators at
// once, each with the working set of a pass of kind over n images
// (hessian.WorkingSet, measured by probe passes of up to 64 images) and its
// batch, and extra bytes the command keeps besides. The message names the
// pass, both amounts and what to lower.
//
// The working set is asked for with a tenth more (passHeadroom): the peak
// resident memory of whole runs measured 0.95–1.04× the estimate (hesscope
// bench, lenet5 at 20000 images and resnet20 at 2048, /usr/bin/time -v), and
// a run let through at 0.98× of what was available (lenet5 at 60000) was
// killed by the kernel.
func checkPasses[T tensor.Float](net *models.Net[T], kind hessian.PassKind, n, workers int, extra uint64, lower string) error {
	input := [3]int{net.Input[0], net.Input[1], net.Input[2]}
	batch := float64(n) * float64(input[0]*input[1]*input[2]) * float64(unsafe.Sizeof(T(0)))
	// In float64, rounded once: huge counts must not wrap around.
	total := func(ws uint64) (per, all uint64) {
		p := passHeadroom*float64(ws) + batch
		return sysmem.Round(p), sysmem.Round(float64(workers)*p + float64(extra))
	}
	// Most runs fit even by the one-probe bound; the others are measured.
	if _, all := total(hessian.WorkingSetBound[T](net, input, kind, n)); sysmem.Check("", all) == nil {
		return nil
	}
	per, all := total(hessian.WorkingSet[T](net, input, kind, n))
	what := fmt.Sprintf("%s of %d images", passNames[kind], n)
	if workers > 1 {
		what = fmt.Sprintf("a run of %d workers at once, each %s (%s),", workers, what, sysmem.Bytes(per))
	}
	return checkMemory(what, all, lower)
}

// keepChunks reports whether the Hessian-vector products over n images in
// chunks of chunk, on workers evaluators, may keep every chunk's pass
// (the analyses' KeepPasses): where there are more chunks than workers (a
// worker's one chunk is kept anyway) and a kept pass per chunk passes
// checkPasses beside extra bytes.
func keepChunks[T tensor.Float](net *models.Net[T], chunk, n, workers int, extra uint64) bool {
	chunks := (n + chunk - 1) / chunk
	return chunks > workers && checkPasses(net, hessian.HVPPass, chunk, chunks, extra, "") == nil
}

// passHeadroom is the factor checkPasses asks for over a pass's estimated
// working set.
const passHeadroom = 1.1

// passNames says what each kind of pass computes, for checkPasses' messages.
var passNames = map[hessian.PassKind]string{
	hessian.LossPass:          "a loss pass",
	hessian.GradientPass:      "a gradient pass",
	hessian.TrainPass:         "a training step",
	hessian.HVPPass:           "a Hessian-vector product",
	hessian.InputGradientPass: "an input-gradient pass",
	hessian.InputHVPPass:      "an input Hessian-vector product",
}
