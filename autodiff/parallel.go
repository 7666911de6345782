package autodiff

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"hesscope/kernels"
	"hesscope/tensor"
)

// Scratch buffers. Primitives that need temporary memory (convolution
// columns, per-part partial sums) take it from size-classed pools, so that in
// steady state a training or Hessian loop allocates no large buffers.

// scratchPools[e][c] holds *[]T of capacity 1<<c, e = 0 for 4-byte and 1
// for 8-byte elements.
var scratchPools [2][64]sync.Pool

func scratchPool[T tensor.Float](capacity int) *sync.Pool {
	var z T
	e := 0
	if unsafe.Sizeof(z) == 8 {
		e = 1
	}
	return &scratchPools[e][bits.Len(uint(capacity-1))]
}

// getScratch returns a buffer of length n with unspecified contents.
func getScratch[T tensor.Float](n int) *[]T {
	if n <= 0 {
		return new([]T)
	}
	p := scratchPool[T](n)
	if b, ok := p.Get().(*[]T); ok {
		*b = (*b)[:n]
		return b
	}
	s := make([]T, n, 1<<bits.Len(uint(n-1)))
	return &s
}

// putScratch returns a buffer from getScratch to its pool.
func putScratch[T tensor.Float](b *[]T) {
	if cap(*b) == 0 {
		return
	}
	scratchPool[T](cap(*b)).Put(b)
}

// Batch parallelism. A batch of n images is cut into a fixed partition of
// contiguous parts that depends on n only, never on GOMAXPROCS or on
// scheduling; at most GOMAXPROCS goroutines work through the parts.

// maxParts bounds the number of parts a batch is cut into.
const maxParts = 32

func numParts(n int) int { return min(n, maxParts) }

// partRange returns the images [lo, hi) of part k of n images in parts parts.
func partRange(n, parts, k int) (lo, hi int) { return k * n / parts, (k + 1) * n / parts }

// forEachPart calls body(lo, hi) once for every part of [0, n), concurrently
// on at most GOMAXPROCS goroutines. Bodies must write disjoint memory.
func forEachPart(n int, body func(lo, hi int)) {
	parts := numParts(n)
	w := min(parts, runtime.GOMAXPROCS(0))
	if w <= 1 {
		for k := 0; k < parts; k++ {
			body(partRange(n, parts, k))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= parts {
					return
				}
				body(partRange(n, parts, k))
			}
		})
	}
	wg.Wait()
}

// minParallel is the number of elements below which elementwise work is
// not worth spreading over goroutines.
const minParallel = 1 << 15

// forEachSpan calls body(lo, hi) over [0, n) like forEachPart, or once for
// the whole range when n is below minParallel.
func forEachSpan(n int, body func(lo, hi int)) {
	if n < minParallel {
		body(0, n)
		return
	}
	forEachPart(n, body)
}

// reduceParts is forEachPart for bodies that also add into a shared dst:
// body(partial, lo, hi) accumulates its part's contribution into partial, a
// zeroed buffer of len(dst), and the contributions are added into dst one
// after the other in part order. So every element of dst is summed in an
// order fixed by n alone, and the result is bit-identical from run to run and
// for any GOMAXPROCS. Memory is one buffer per goroutine. With dst nil, body
// gets a nil partial.
func reduceParts[T tensor.Float](n int, dst []T, body func(partial []T, lo, hi int)) {
	if dst == nil {
		forEachPart(n, func(lo, hi int) { body(nil, lo, hi) })
		return
	}
	parts := numParts(n)
	w := min(parts, runtime.GOMAXPROCS(0))
	if w <= 1 {
		buf := getScratch[T](len(dst))
		for k := 0; k < parts; k++ {
			clear(*buf)
			lo, hi := partRange(n, parts, k)
			body(*buf, lo, hi)
			kernels.Add(dst, *buf)
		}
		putScratch(buf)
		return
	}
	// A worker takes a free buffer before it claims the next part, so the
	// lowest unfinished part always holds a buffer and the in-order
	// reduction below cannot starve it: no deadlock with w buffers.
	free := make(chan *[]T, w)
	for range w {
		free <- getScratch[T](len(dst))
	}
	done := make([]chan *[]T, parts)
	for k := range done {
		done[k] = make(chan *[]T, 1)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for {
				buf := <-free
				k := int(next.Add(1)) - 1
				if k >= parts {
					free <- buf
					return
				}
				clear(*buf)
				lo, hi := partRange(n, parts, k)
				body(*buf, lo, hi)
				done[k] <- buf
			}
		})
	}
	for k := range parts {
		buf := <-done[k]
		kernels.Add(dst, *buf)
		free <- buf
	}
	wg.Wait()
	for range w {
		putScratch(<-free)
	}
}
