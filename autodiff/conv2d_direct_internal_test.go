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
	for _, c := range []struct {
		x, w        []int
		stride, pad int
	}{
		{[]int{10, 20, 12, 12}, []int{50, 20, 5, 5}, 1, 0},
		{[]int{3, 16, 16, 16}, []int{32, 16, 3, 3}, 2, 1},
		{[]int{2, 3, 16, 16}, []int{64, 3, 5, 5}, 1, 2},
	} {
		name := fmt.Sprintf("x %v, w %v, stride %d", c.x, c.w, c.stride)
		p := Conv2d[float32]{Stride: c.stride, Padding: c.pad}
		run := func(on bool) [][]float32 {
			useDirectInPlace = on
			rng := rand.New(rand.NewPCG(9, 10))
			randn := func(shape ...int) *tensor.Dense[float32] { return randnT[float32](rng, shape...) }
			in := []*tensor.Dense[float32]{randn(c.x...), randn(c.w...), randn(c.w[0])}
			dots := []*tensor.Dense[float32]{randn(c.x...), randn(c.w...), randn(c.w[0])}
			if g := p.geom(in); on && !directInPlace[float32](g) {
				t.Fatalf("%s: directInPlace false", name)
			}
			return convPair(p, in, dots, randn)
		}
		want, got := run(false), run(true)
		for i, out := range []string{"y", "ẏ", "x̄", "x̄̇", "W̄", "W̄̇", "b̄", "b̄̇"} {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%s: %s in place differs from the packed panels' bits", name, out)
			}
		}
	}
}
