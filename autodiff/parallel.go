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
// Memory is one set of buffers per goroutine and some spares
// (reduceSpares). A nil dsts[i] gets a nil partials[i].
//
// The goroutines (the caller and helpers, workers.Run) each take a buffer,
// claim the next part, compute it and leave the buffer at the part's
// place; whichever finds the lowest part not yet added there adds it, and
// the parts after it that are there, and frees their buffers (a
// combiner: one adds at a time, the others go on). So no goroutine waits
// for another to add, and a buffer is free again as soon as its part's
// turn comes. The parts left when every part has been computed, which
// only the addition still waits for, are added together with the elements
// spread over the CPUs (addInOrder: the same order per element, so the
// same bits). (A caller that added the parts itself, with one buffer per
// worker, left the workers blocked on it for a buffer after nearly every
// part, and a blocked worker's thread took up to 0.1 ms to wake: LeNet-5's
// second layer's weight sums ran on 1.3 of 2 CPUs.)
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
	defer busy(w)()
	// The buffers: w to begin with, up to reduceSpares more made when a
	// goroutine finds none free (its parts' predecessors not yet added).
	// A goroutine takes one before it claims a part, so that a goroutine
	// waiting for one holds none: the lowest part not yet added is being
	// computed, and is added (and the buffers after it freed) when it is
	// done, or every part has been claimed and take gives up. No deadlock,
	// whatever the number of buffers.
	limit := w + reduceSpares(w, size*int(unsafe.Sizeof(T(0))))
	free := make(chan *[]T, limit)
	for range w {
		free <- getScratch[T](size)
	}
	var made atomic.Int64
	made.Store(int64(w))
	// take returns a free buffer, a new one while fewer than limit are
	// made, or else waits for one to be freed; nil once every part is
	// claimed (claimed closed), as combine then frees no more.
	claimed := make(chan struct{})
	take := func() *[]T {
		select {
		case buf := <-free:
			return buf
		default:
		}
		if made.Add(1) <= int64(limit) {
			return getScratch[T](size)
		}
		made.Add(-1)
		select {
		case buf := <-free:
			return buf
		case <-claimed:
			return nil
		}
	}
	done := make([]atomic.Pointer[[]T], parts) // computed, not yet added
	var next, added atomic.Int64               // next part to claim, to add
	var adding atomic.Bool
	// combine adds the computed parts in order from added on, while parts
	// remain to be claimed, one goroutine at a time; one that finds another
	// adding leaves its part to it. After letting go it looks once more,
	// for a part left there while it was letting go.
	combine := func() {
		for next.Load() < int64(parts) && adding.CompareAndSwap(false, true) {
			k := added.Load()
			for ; k < int64(parts) && next.Load() < int64(parts); k++ {
				buf := done[k].Load()
				if buf == nil {
					break
				}
				done[k].Store(nil)
				add(*buf)
				free <- buf
			}
			added.Store(k)
			adding.Store(false)
			if k >= int64(parts) || done[k].Load() == nil {
				return
			}
		}
	}
	workers.Run(w, w, func(int) {
		for {
			buf := take()
			if buf == nil {
				return
			}
			k := int(next.Add(1)) - 1
			if k >= parts {
				free <- buf
				return
			}
			if k == parts-1 {
				close(claimed)
			}
			clear(*buf)
			lo, hi := partRange(n, parts, k)
			body(split(*buf), lo, hi)
			done[k].Store(buf)
			combine()
		}
	})
	// Every part is computed: the rest are added on every CPU.
	var rest []*[]T
	for k := added.Load(); k < int64(parts); k++ {
		rest = append(rest, done[k].Load())
	}
	addInOrder(dsts, rest, size)
	for _, buf := range rest {
		free <- buf
	}
	for range made.Load() {
		putScratch(<-free)
	}
}

// reduceSpares is how many buffers of bytes bytes reduceParts may make
// beyond one per goroutine (w): up to w more, 8 MiB of them in all, and
// at least one (on 2 CPUs: two for a layer's weight cotangents up to 4
// MiB, one for larger ones).
func reduceSpares(w, bytes int) int {
	return max(1, min(w, (8<<20)/max(bytes, 1)))
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
