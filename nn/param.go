package nn

import (
	"fmt"

	"hesscope/tensor"
)

// Param is one named tensor of a model's state_dict, with PyTorch's name and
// layout. Buffers (BatchNorm running statistics) are saved and loaded but are
// not trained or differentiated.
type Param[T tensor.Float] struct {
	Name   string
	Value  *tensor.Dense[T]
	Buffer bool
}

// Trainable returns the parameters that are not buffers, in order: the
// coordinates of the parameter Hessian.
func Trainable[T tensor.Float](ps []*Param[T]) []*Param[T] {
	var out []*Param[T]
	for _, p := range ps {
		if !p.Buffer {
			out = append(out, p)
		}
	}
	return out
}

// Size is the total number of elements of ps.
func Size[T tensor.Float](ps []*Param[T]) int {
	n := 0
	for _, p := range ps {
		n += p.Value.Len()
	}
	return n
}

// Gather copies the values of ps, concatenated in order, into dst, which
// must have Size(ps) elements.
func Gather[T tensor.Float, D tensor.Float](dst []D, ps []*Param[T]) {
	off := 0
	for _, p := range ps {
		for i, v := range p.Value.Data {
			dst[off+i] = D(v)
		}
		off += p.Value.Len()
	}
	if off != len(dst) {
		panic(fmt.Sprintf("nn: Gather of %d values into %d", off, len(dst)))
	}
}

// Scatter copies the flat vector src into tensors shaped like ps: the inverse
// of Gather. dst[i] receives the block of ps[i].
func Scatter[T tensor.Float, D tensor.Float](dst []*tensor.Dense[T], src []D) {
	off := 0
	for _, d := range dst {
		for i := range d.Data {
			d.Data[i] = T(src[off+i])
		}
		off += d.Len()
	}
	if off != len(src) {
		panic(fmt.Sprintf("nn: Scatter of %d values into %d", len(src), off))
	}
}

// Like returns zeroed tensors of the shapes of ps.
func Like[T tensor.Float](ps []*Param[T]) []*tensor.Dense[T] {
	out := make([]*tensor.Dense[T], len(ps))
	for i, p := range ps {
		out[i] = tensor.New[T](p.Value.Shape...)
	}
	return out
}
