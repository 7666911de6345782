package hessian

import (
	"fmt"

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

// Float32Data serves images stored as float32 [N, C, H, W] in chunks of
// ChunkSize, converted to T one chunk at a time.
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

func (d *Float32Data[T]) Len() int    { return len(d.Y) }
func (d *Float32Data[T]) Chunks() int { return (len(d.Y) + d.ChunkSize - 1) / d.ChunkSize }

func (d *Float32Data[T]) Chunk(i int) (*tensor.Dense[T], []int) {
	lo := i * d.ChunkSize
	hi := min(lo+d.ChunkSize, len(d.Y))
	per := d.Shape[0] * d.Shape[1] * d.Shape[2]
	src := d.X[lo*per : hi*per]
	if x, ok := any(src).([]T); ok { // float32 data for a float32 model: no copy
		return tensor.FromSlice(x, hi-lo, d.Shape[0], d.Shape[1], d.Shape[2]), d.Y[lo:hi]
	}
	if d.buf == nil || d.buf.Shape[0] != hi-lo {
		d.buf = tensor.New[T](hi-lo, d.Shape[0], d.Shape[1], d.Shape[2])
	}
	for j, v := range src {
		d.buf.Data[j] = T(v)
	}
	return d.buf, d.Y[lo:hi]
}

// Batch is one in-memory batch as Data with a single chunk.
type Batch[T tensor.Float] struct {
	X *tensor.Dense[T]
	Y []int
}

func (b Batch[T]) Len() int                            { return len(b.Y) }
func (b Batch[T]) Chunks() int                         { return 1 }
func (b Batch[T]) Chunk(int) (*tensor.Dense[T], []int) { return b.X, b.Y }
