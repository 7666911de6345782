package main

// Upper bounds of the size flags and the memory a run will need, checked
// before any work: one flag must not be able to take the machine down.

import "hesscope/internal/sysmem"

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
