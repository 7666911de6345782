package hessian

import (
	"fmt"
	"sync"

	"hesscope/dist"
	"hesscope/tensor"
)

// Data is a labelled dataset read in chunks. Operators average over all of
// it, weighting each chunk's mean by its size, so a dataset of any size is
// processed in the memory of one chunk.
type Data[T tensor.Float] interface {
	// Len is the number of samples.
	Len() int
	// Chunks is the number of chunks.
	Chunks() int
	// Chunk returns chunk i. The tensor may be reused by the next call.
	Chunk(i int) (x *tensor.Dense[T], y []int)
}

// ChunkReader is Data whose chunks can be read by several goroutines at once,
// each into its own buffer. The parallel operators read every chunk through
// it; Concurrent adapts any Data.
type ChunkReader[T tensor.Float] interface {
	Data[T]
	// ChunkTo returns chunk i, stored in dst when dst has the chunk's shape
	// and in a new tensor otherwise, or as a view of data the reader holds
	// in T already. dst is nil or a tensor an earlier call returned to the
	// same caller; a reader must not write into a view of its own data
	// handed back that way. Calls with distinct dst are safe for concurrent
	// use; the returned tensor and labels must not be modified.
	ChunkTo(dst *tensor.Dense[T], i int) (*tensor.Dense[T], []int)
}

// Concurrent returns d as a ChunkReader: d itself if it is one, otherwise a
// wrapper that serialises d.Chunk with a mutex and copies each chunk (and its
// labels) out before the next call may reuse them.
func Concurrent[T tensor.Float](d Data[T]) ChunkReader[T] {
	if r, ok := d.(ChunkReader[T]); ok {
		return r
	}
	return &lockedData[T]{Data: d}
}

type lockedData[T tensor.Float] struct {
	Data[T]
	mu sync.Mutex
}

func (d *lockedData[T]) ChunkTo(dst *tensor.Dense[T], i int) (*tensor.Dense[T], []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, y := d.Chunk(i)
	if dst == nil || !tensor.SameShape(dst.Shape, x.Shape) {
		dst = tensor.New[T](x.Shape...)
	}
	copy(dst.Data, x.Data)
	return dst, append([]int(nil), y...)
}

// Float32Data serves images stored as float32 [N, C, H, W] in chunks of
// ChunkSize, converted to T one chunk at a time. Chunk reuses one buffer;
// ChunkTo may be called concurrently.
type Float32Data[T tensor.Float] struct {
	X         []float32
	Y         []int
	Shape     [3]int // C, H, W
	ChunkSize int
	buf       *tensor.Dense[T]
}

// NewFloat32Data returns chunked data over x ([N·C·H·W] float32) and labels y.
func NewFloat32Data[T tensor.Float](x []float32, y []int, shape [3]int, chunk int) *Float32Data[T] {
	per := shape[0] * shape[1] * shape[2]
	if len(x) != len(y)*per {
		panic(fmt.Sprintf("hessian: %d values for %d samples of %v", len(x), len(y), shape))
	}
	if chunk < 1 {
		chunk = len(y)
	}
	return &Float32Data[T]{X: x, Y: y, Shape: shape, ChunkSize: chunk}
}

// Len is the number of samples.
func (d *Float32Data[T]) Len() int { return len(d.Y) }

// Chunks is the number of chunks, the last one possibly smaller.
func (d *Float32Data[T]) Chunks() int { return (len(d.Y) + d.ChunkSize - 1) / d.ChunkSize }

// Chunk returns chunk i, converted into a buffer that the next call reuses.
func (d *Float32Data[T]) Chunk(i int) (*tensor.Dense[T], []int) {
	x, y := d.ChunkTo(d.buf, i)
	if _, view := any(d.X).([]T); !view {
		d.buf = x
	}
	return x, y
}

// ChunkTo returns chunk i converted into dst (reallocated if nil or of
// another shape), or for float32 a view of X. It is safe for concurrent use
// with distinct dst.
func (d *Float32Data[T]) ChunkTo(dst *tensor.Dense[T], i int) (*tensor.Dense[T], []int) {
	if i < 0 || i >= d.Chunks() {
		panic(fmt.Sprintf("hessian: chunk %d of %d", i, d.Chunks()))
	}
	lo := i * d.ChunkSize
	hi := min(lo+d.ChunkSize, len(d.Y))
	per := d.Shape[0] * d.Shape[1] * d.Shape[2]
	src := d.X[lo*per : hi*per]
	if x, ok := any(src).([]T); ok { // float32 data for a float32 model: no copy
		return tensor.FromSlice(x, hi-lo, d.Shape[0], d.Shape[1], d.Shape[2]), d.Y[lo:hi]
	}
	if dst == nil || !tensor.SameShape(dst.Shape, []int{hi - lo, d.Shape[0], d.Shape[1], d.Shape[2]}) {
		dst = tensor.New[T](hi-lo, d.Shape[0], d.Shape[1], d.Shape[2])
	}
	for j, v := range src {
		dst.Data[j] = T(v)
	}
	return dst, d.Y[lo:hi]
}

// Shard returns the part of d that rank owns of size ranks: whole chunks,
// a contiguous run of them (dist.Shard of the chunk indices), so that the
// ranks together read every chunk exactly as d does. It shares d's arrays.
func (d *Float32Data[T]) Shard(rank, size int) *Float32Data[T] {
	if size < 1 || rank < 0 || rank >= size {
		panic(fmt.Sprintf("hessian: shard %d of %d", rank, size))
	}
	lo, hi := dist.Shard(d.Chunks(), rank, size)
	lo, hi = min(lo*d.ChunkSize, len(d.Y)), min(hi*d.ChunkSize, len(d.Y))
	per := d.Shape[0] * d.Shape[1] * d.Shape[2]
	return &Float32Data[T]{X: d.X[lo*per : hi*per], Y: d.Y[lo:hi], Shape: d.Shape, ChunkSize: d.ChunkSize}
}

// Batch is one in-memory batch as Data with a single chunk.
type Batch[T tensor.Float] struct {
	X *tensor.Dense[T]
	Y []int
}

// Len is the number of samples.
func (b Batch[T]) Len() int { return len(b.Y) }

// Chunks is 1.
func (b Batch[T]) Chunks() int { return 1 }

// Chunk returns the batch itself.
func (b Batch[T]) Chunk(int) (*tensor.Dense[T], []int) { return b.X, b.Y }

// ChunkTo returns the batch itself; it is safe for concurrent use.
func (b Batch[T]) ChunkTo(_ *tensor.Dense[T], _ int) (*tensor.Dense[T], []int) { return b.X, b.Y }
