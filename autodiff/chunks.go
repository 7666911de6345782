package autodiff

import "hesscope/tensor"

// A convolution writes its output a chunk of images at a time, and the
// BatchNorm and ReLU that follow it compute each image of theirs from the
// same image of its output alone. When the tape records such a pair with
// no tangents (a gradient's forward pass), it runs them together: the
// consumer computes each chunk's images as soon as the producer has
// written them, on the same goroutine, while they are still in cache,
// instead of reading the whole output back from memory in a separate
// sweep afterwards. Every value has the bits of the two run one after the
// other (the consumer's kernels are the same, per element); only the time
// differs.

// chunkProducer is implemented by primitives whose Forward writes its
// output a chunk of images (along the first dimension) at a time (Conv2d).
type chunkProducer[T tensor.Float] interface {
	Primitive[T]
	// forwardChunks is Forward; it calls done(n0, cnt) once images [n0,
	// n0+cnt) of y are written, on the goroutine that wrote them and
	// possibly concurrently for other chunks. Every image is in exactly
	// one chunk.
	forwardChunks(y *tensor.Dense[T], x []*tensor.Dense[T], done func(n0, cnt int))
}

// imageWise is implemented by primitives whose output's image n depends
// only on image n of the inputs that have a batch (and on their other
// inputs whole): BatchNorm in Eval mode, fused with a ReLU or a residual
// sum. An embedding type inherits the method, so only types that nothing
// embeds implement it.
type imageWise[T tensor.Float] interface {
	Primitive[T]
	// imageForward returns the function that writes images [n0, n0+cnt)
	// of y = Forward(x), with Forward's bits, on the calling goroutine; it
	// may be called concurrently for disjoint images, and once x's images
	// [n0, n0+cnt) are written.
	imageForward(y *tensor.Dense[T], x []*tensor.Dense[T]) func(n0, cnt int)
}

// imagesOf returns the function that computes images [n0, n0+cnt) with
// every channel of each by run (a BatchNorm's sweep over channels [lo, hi)
// of image n, for the layout g).
func imagesOf(g bnGeom, run func(n, lo, hi int)) func(n0, cnt int) {
	return func(n0, cnt int) {
		for n := n0; n < n0+cnt; n++ {
			run(n, 0, g.c)
		}
	}
}

// noChunks, for tests, turns the chaining off: every primitive computes
// its value when it is recorded.
var noChunks = false

// deferrable reports whether Apply may leave the value of p on inputs xs
// uncomputed (pending) until the next primitive is recorded: a chunk
// producer without tangents.
func deferrable[T tensor.Float](p Primitive[T], xDots []*tensor.Dense[T]) bool {
	_, ok := p.(chunkProducer[T])
	return ok && xDots == nil && !noChunks
}

// chained reports whether the pending value v (pending ≥ 0) can be
// computed with p on inputs, no input having a tangent: p is image-wise,
// takes v as its first input and only there, and every image of v feeds
// the image of p's output with the same index (the same batch).
func chained[T tensor.Float](p Primitive[T], inputs []Var, pending Var, xDots []*tensor.Dense[T]) bool {
	if _, ok := p.(imageWise[T]); !ok || xDots != nil || len(inputs) == 0 || inputs[0] != pending {
		return false
	}
	return once(inputs, pending)
}

// flush computes the pending value, if any, alone.
func (t *Tape[T]) flush() {
	if t.pending < 0 {
		return
	}
	n := &t.nodes[t.pending]
	t.pending = -1
	xs, _ := t.operands(n.in)
	n.prim.Forward(n.val, xs)
}

// applyChained computes the pending value and y = p(xs) together, p's
// images as the producer finishes each chunk of its own.
func (t *Tape[T]) applyChained(p Primitive[T], y *tensor.Dense[T], xs []*tensor.Dense[T]) {
	n := &t.nodes[t.pending]
	t.pending = -1
	in, _ := t.operands(n.in)
	images := p.(imageWise[T]).imageForward(y, xs)
	n.prim.(chunkProducer[T]).forwardChunks(n.val, in, images)
}
