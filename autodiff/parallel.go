package autodiff

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"hesscope/internal/workers"
	"hesscope/kernels"
	"hesscope/tensor"
)

// Scratch buffers. Primitives that need temporary memory (convolution
// columns, per-part partial sums) take it from size-classed pools, so that in
// steady state a training or Hessian loop allocates no large buffers.

// scratchPools[e][c] holds *[]E of capacity 1<<c, e = 0 for float32, 1 for
// float64 and 2 for int32 elements.
var scratchPools [3][64]sync.Pool

// scratchElem is an element type of scratch buffers.
type scratchElem interface{ tensor.Float | ~int32 }

func scratchPool[E scratchElem](capacity int) *sync.Pool {
	var z E
	e := 0
	switch {
	case unsafe.Sizeof(z) == 8:
		e = 1
	case E(1)/2 == 0: // an integer type
		e = 2
	}
	return &scratchPools[e][bits.Len(uint(capacity-1))]
}

// getScratch returns a buffer of length n with unspecified contents.
func getScratch[E scratchElem](n int) *[]E {
	if n <= 0 {
		return new([]E)
	}
	p := scratchPool[E](n)
	if b, ok := p.Get().(*[]E); ok {
		*b = (*b)[:n]
		return b
	}
	s := make([]E, n, 1<<bits.Len(uint(n-1)))
	return &s
}

// putScratch returns a buffer from getScratch to its pool.
func putScratch[E scratchElem](b *[]E) {
	if cap(*b) == 0 {
		return
	}
	scratchPool[E](cap(*b)).Put(b)
}

// releaser is implemented by primitives that hold scratch memory until the
// tape that recorded them is reset.
type releaser interface{ release() }

// Batch parallelism. A batch of n images is cut into a fixed partition of
// contiguous parts that depends on n only, never on GOMAXPROCS or on
// scheduling; at most GOMAXPROCS goroutines work through the parts.

// maxParts bounds the number of parts a batch is cut into.
const maxParts = 32

func numParts(n int) int { return min(n, maxParts) }

// partRange returns the images [lo, hi) of part k of n images in parts parts.
func partRange(n, parts, k int) (lo, hi int) { return k * n / parts, (k + 1) * n / parts }

// forEachPart calls body(lo, hi) once for every part of [0, n), concurrently
// on at most GOMAXPROCS goroutines (the caller and pooled helpers,
// workers.Run). Bodies must write disjoint memory.
func forEachPart(n int, body func(lo, hi int)) {
	parts := numParts(n)
	w := min(parts, runtime.GOMAXPROCS(0))
	defer busy(w)()
	workers.Run(w, parts, func(k int) { body(partRange(n, parts, k)) })
}

// forEachChannelRun calls body(n, lo, hi) for every image n and a run
// [lo, hi) of its channels, which lie side by side in memory: the channels
// are cut into one part per worker (forEachChannelPart), and each part goes
// through the images in order. BatchNorm's sweeps over [N, C, S] read runs
// of (hi − lo)·S values this way instead of one segment of S every C·S
// values, channel by channel (ResNet-20's planes, S = 1024, 256 and 64:
// the forward sweep 0.87, 0.68 and 0.61 of the time).
func forEachChannelRun(g bnGeom, body func(n, lo, hi int)) {
	forEachChannelPart(g, func(lo, hi int) {
		for n := 0; n < g.n; n++ {
			body(n, lo, hi)
		}
	})
}

// forEachChannelPart calls body(lo, hi) for the channels cut into one part
// per worker, concurrently. A body goes through the images in order, each
// image's channels [lo, hi) in turn: a channel's sums over the images are
// added in image order, as in a loop over that channel alone, so the cut,
// which follows GOMAXPROCS, does not change a bit.
func forEachChannelPart(g bnGeom, body func(lo, hi int)) {
	w := min(g.c, runtime.GOMAXPROCS(0))
	defer busy(w)()
	workers.Run(w, w, func(k int) { body(partRange(g.c, w, k)) })
}

// busy marks the CPUs busy for the kernels' products (kernels.Busy) when a
// loop runs w workers, one per CPU, so that a product inside a part does not
// fan out; with fewer parts than CPUs, the products may use the idle ones.
func busy(w int) (release func()) {
	if w < runtime.GOMAXPROCS(0) {
		return func() {}
	}
	return kernels.Busy()
}

// minParallel is the number of elements below which elementwise work is
// not worth spreading over goroutines.
const minParallel = 1 << 15

// forEachSpan calls body(lo, hi) over [0, n) like forEachPart, or once for
// the whole range when n is below minParallel.
func forEachSpan(n int, body func(lo, hi int)) { forEachRow(n, 1, body) }

// forEachRow calls body(lo, hi) over the rows [0, rows) of width values
// each, spread over the CPUs (forEachPart) when there are enough values
// (minParallel), else once: every row is computed alone, so the result
// does not depend on the cut.
func forEachRow(rows, width int, body func(lo, hi int)) {
	if rows*width < minParallel {
		body(0, rows)
		return
	}
	forEachPart(rows, body)
}

// clearSpans zeroes d on every CPU (forEachSpan).
func clearSpans[T tensor.Float](d []T) {
	forEachSpan(len(d), func(lo, hi int) { clear(d[lo:hi]) })
}

// reduceParts is forEachPart for bodies that also add into shared
// destinations: body(partials, lo, hi) accumulates its part's contribution
// to dsts[i] into partials[i], a zeroed buffer of len(dsts[i]), and the
// contributions are added into the destinations one after the other in
// part order. So every element is summed in an order fixed by n alone, and
// the result is bit-identical from run to run and for any GOMAXPROCS.
// Memory is one set of buffers per goroutine. A nil dsts[i] gets a nil
// partials[i].
func reduceParts[T tensor.Float](n int, dsts [][]T, body func(partials [][]T, lo, hi int)) {
	size := 0
	for _, d := range dsts {
		size += len(d)
	}
	if size == 0 {
		nils := make([][]T, len(dsts))
		forEachPart(n, func(lo, hi int) { body(nils, lo, hi) })
		return
	}
	// split cuts one scratch buffer into the partials.
	split := func(buf []T) [][]T {
		ps := make([][]T, len(dsts))
		off := 0
		for i, d := range dsts {
			if d != nil {
				ps[i] = buf[off : off+len(d) : off+len(d)]
				off += len(d)
			}
		}
		return ps
	}
	add := func(buf []T) {
		off := 0
		for _, d := range dsts {
			kernels.Add(d, buf[off:off+len(d)])
			off += len(d)
		}
	}
	parts := numParts(n)
	w := min(parts, runtime.GOMAXPROCS(0))
	if w <= 1 {
		buf := getScratch[T](size)
		ps := split(*buf)
		for k := 0; k < parts; k++ {
			clear(*buf)
			lo, hi := partRange(n, parts, k)
			body(ps, lo, hi)
			add(*buf)
		}
		putScratch(buf)
		return
	}
	// A worker takes a free buffer before it claims the next part, so the
	// lowest unfinished part always holds a buffer and the in-order
	// reduction below cannot starve it: no deadlock with w buffers.
	defer busy(w)()
	free := make(chan *[]T, w)
	for range w {
		free <- getScratch[T](size)
	}
	done := make([]chan *[]T, parts)
	for k := range done {
		done[k] = make(chan *[]T, 1)
	}
	// The workers run in a workers.Group: one whose helper wakes after the
	// others have claimed every part is not waited for at the end.
	var next atomic.Int64
	var g workers.Group
	for range w {
		g.Go(func() {
			for {
				buf := <-free
				k := int(next.Add(1)) - 1
				if k >= parts {
					free <- buf
					return
				}
				clear(*buf)
				lo, hi := partRange(n, parts, k)
				body(split(*buf), lo, hi)
				done[k] <- buf
			}
		})
	}
	// The partial sums are added in part order as they come, by this
	// goroutine, while parts remain to be claimed, the next one is there
	// or two or fewer are left; the last ones, which only the addition
	// still waits for, are added together with the elements spread over
	// the CPUs (addInOrder: the same order per element, so the same bits),
	// not one after the other here. (With two left, adding the first
	// while the second is computed measured better on 2 CPUs.)
	k := 0
	for ; k < parts; k++ {
		var buf *[]T
		if next.Load() < int64(parts) || parts-k < 3 {
			buf = <-done[k]
		} else {
			select {
			case buf = <-done[k]:
			default:
			}
			if buf == nil {
				break
			}
		}
		add(*buf)
		free <- buf
	}
	rest := make([]*[]T, 0, parts-k)
	for ; k < parts; k++ {
		rest = append(rest, <-done[k])
	}
	addInOrder(dsts, rest, size)
	for _, buf := range rest {
		free <- buf
	}
	g.Wait()
	for range w {
		putScratch(<-free)
	}
}

// addInOrder adds the buffers bufs (each the partial sums of dsts side by
// side, size values) into dsts, bufs[0] first, on every CPU: the values
// are cut into blocks, and each block adds every buffer in turn.
func addInOrder[T tensor.Float](dsts [][]T, bufs []*[]T, size int) {
	if len(bufs) == 0 {
		return
	}
	const block = 1 << 14
	workers.Run(runtime.GOMAXPROCS(0), (size+block-1)/block, func(b int) {
		lo, hi := b*block, min(size, (b+1)*block)
		off := 0
		for _, d := range dsts {
			if s, e := max(lo, off), min(hi, off+len(d)); s < e {
				for _, buf := range bufs {
					kernels.Add(d[s-off:e-off], (*buf)[s:e])
				}
			}
			off += len(d)
		}
	})
}
