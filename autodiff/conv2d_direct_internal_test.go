package autodiff

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"hesscope/kernels"
	"hesscope/tensor"
)

// TestDirectInPlaceSameBits: the direct convolutions give the same bits
// with their products read in place (directInPlace:
// kernels.PackedA.GemmInPlace, and kernels.GemmInPlace for whole windows'
// weight cotangents) as through the packed panels, in every output of a
// forward pass with tangents and of the VJP pair, float32: each element
// sums its terms from zero in slices of 128, in order, either way. The
// shapes: LeNet-5's second layer (50 output channels, strips of 25 from
// the weights' columns; its weight cotangents from whole windows; chunks
// of 4 images and a last one of 2), a down-sampling layer (stride 2), and
// a first layer's input cotangents (75-value windows, the transposed
// weights in strips of 25).
func TestDirectInPlaceSameBits(t *testing.T) {
	if !kernels.GemmInPlaceFast[float32]() {
		t.Skip("no in-place products on this machine")
	}
	defer func(v bool) { useDirectInPlace = v }(useDirectInPlace)
	rng := rand.New(rand.NewPCG(9, 10))
	fill := func(shape ...int) *tensor.Dense[float32] {
		d := tensor.New[float32](shape...)
		for i := range d.Data {
			d.Data[i] = float32(rng.NormFloat64())
		}
		return d
	}
	for _, c := range []struct {
		x, w        []int
		stride, pad int
	}{
		{[]int{10, 20, 12, 12}, []int{50, 20, 5, 5}, 1, 0},
		{[]int{3, 16, 16, 16}, []int{32, 16, 3, 3}, 2, 1},
		{[]int{2, 3, 16, 16}, []int{64, 3, 5, 5}, 1, 2},
	} {
		name := fmt.Sprintf("x %v, w %v, stride %d", c.x, c.w, c.stride)
		in := []*tensor.Dense[float32]{fill(c.x...), fill(c.w...), fill(c.w[0])}
		inDot := []*tensor.Dense[float32]{fill(c.x...), fill(c.w...), fill(c.w[0])}
		p := Conv2d[float32]{Stride: c.stride, Padding: c.pad}
		if g := p.geom(in); !directInPlace[float32](g) {
			t.Fatalf("%s: directInPlace false", name)
		}
		ys := p.Shape(in)
		yBar, yBarDot := fill(ys...), fill(ys...)
		run := func(on bool) [][]float32 {
			useDirectInPlace = on
			y, yDot := tensor.New[float32](ys...), tensor.New[float32](ys...)
			p.ForwardJVP(y, yDot, in, inDot)
			bar := []*tensor.Dense[float32]{tensor.New[float32](c.x...), tensor.New[float32](c.w...), tensor.New[float32](c.w[0])}
			dot := []*tensor.Dense[float32]{tensor.New[float32](c.x...), tensor.New[float32](c.w...), tensor.New[float32](c.w[0])}
			p.VJPPair(bar, dot, yBar, yBarDot, in, inDot, y, yDot)
			return [][]float32{y.Data, yDot.Data, bar[0].Data, bar[1].Data, dot[0].Data, dot[1].Data}
		}
		want, got := run(false), run(true)
		for i, out := range []string{"y", "ẏ", "x̄", "W̄", "x̄̇", "W̄̇"} {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%s: %s in place differs from the packed panels' bits", name, out)
			}
		}
	}
}
