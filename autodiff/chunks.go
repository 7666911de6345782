package autodiff

import (
	"slices"

	"hesscope/tensor"
)

// A convolution writes its output a chunk of images at a time, and the
// BatchNorm, ReLU and max-pooling that follow it compute each image of
// theirs from the same image of the one before alone. When the tape
// records such a chain with no tangents (a gradient's forward pass), it
// runs it together: each primitive after the convolution computes each
// chunk's images as soon as the one before has written them, on the same
// goroutine, while they are still in cache, instead of reading the whole
// tensor back from memory in a separate sweep. Every value has the bits
// of the primitives run one after the other (the same kernels, per
// element); only the time differs. (With tangents, chains measured no
// faster: docs/performance.md, "2026-12-06, night session".)

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
// only on image n of their batched inputs (and on the others whole):
// BatchNorm in Eval mode fused with a ReLU or a shortcut sum, max-pooling,
// ReLU. An embedding type inherits the method, so only types that nothing
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

// startsChain reports whether Apply may leave the value of p uncomputed,
// the start of a chain: a chunk producer without tangents.
func startsChain[T tensor.Float](p Primitive[T], xDots []*tensor.Dense[T]) bool {
	_, ok := p.(chunkProducer[T])
	return ok && xDots == nil && !noChunks
}

// extendsChain reports whether p on inputs, without tangents, can join the
// pending chain: p is image-wise and reads the chain's last value as its
// first input only, and no other value of the chain.
func (t *Tape[T]) extendsChain(p Primitive[T], inputs []Var, xDots []*tensor.Dense[T]) bool {
	if len(t.chain) == 0 || xDots != nil || len(inputs) == 0 || inputs[0] != t.chain[len(t.chain)-1] {
		return false
	}
	if _, ok := p.(imageWise[T]); !ok {
		return false
	}
	for _, v := range inputs[1:] {
		if slices.Contains(t.chain, v) {
			return false
		}
	}
	return true
}

// flush computes the values of the pending chain, if any: the producer's
// alone, or with each image-wise primitive after it computing its images
// of each chunk in turn as soon as the producer has written them.
func (t *Tape[T]) flush() {
	if len(t.chain) == 0 {
		return
	}
	chain := t.chain
	t.chain = t.chain[:0]
	var images []func(n0, cnt int)
	for _, v := range chain[1:] {
		n := &t.nodes[v]
		xs, _ := t.operands(n.in)
		images = append(images, n.prim.(imageWise[T]).imageForward(n.val, xs))
	}
	n := &t.nodes[chain[0]]
	xs, _ := t.operands(n.in)
	if len(images) == 0 {
		n.prim.Forward(n.val, xs)
		return
	}
	n.prim.(chunkProducer[T]).forwardChunks(n.val, xs, func(n0, cnt int) {
		for _, f := range images {
			f(n0, cnt)
		}
	})
}
