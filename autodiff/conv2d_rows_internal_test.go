package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// TestWeightRows checks the weight cotangents read from channels-last
// copies of x and ẋ (convWeightRows) against the same sums on im2col(x)
// (noWeightRows), in float64 to 1e-12 and float32 to 1e-5 relative, for
// every set of products convBackward asks for: a gradient's W̄ (VJP), a
// parameter HVP's W̄ and W̄̇ = ȳ̇·Xᵀ + ȳ·Ẋᵀ in one product (VJPPair), W̄̇
// alone (HvOnly), W̄̇ without the ẋ term (ẋ nil) and without the ȳ̇ one
// (ȳ̇ nil); shapes with one image per chunk and several (the last chunk
// short, alone in its part or after a whole one), stride 2, 5×5 windows,
// no padding, whole windows gathered (weightWindows). The other cotangents (x̄, b̄) must come out the same too;
// all are added into nonzero values.
func TestWeightRows(t *testing.T) {
	testWeightRows[float64](t, 1e-12)
	testWeightRows[float32](t, 1e-5)
}

func testWeightRows[T tensor.Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(21, 22))
	fill := func(shape ...int) *tensor.Dense[T] { return randnT[T](rng, shape...) }
	for _, c := range []struct {
		x, w        []int
		stride, pad int
	}{
		{[]int{2, 32, 16, 16}, []int{32, 32, 3, 3}, 1, 1},
		{[]int{9, 32, 6, 6}, []int{16, 32, 3, 3}, 1, 1},
		// 33 chunks of 4 images in 32 parts: the last part holds a whole
		// chunk, then the short one.
		{[]int{129, 32, 8, 8}, []int{16, 32, 3, 3}, 1, 1},
		{[]int{2, 64, 9, 9}, []int{24, 64, 3, 3}, 2, 1},
		{[]int{2, 32, 12, 12}, []int{8, 32, 5, 5}, 1, 2},
		{[]int{3, 32, 10, 10}, []int{40, 32, 3, 3}, 1, 0},
		// Whole windows (weightWindows): LeNet-5's second layer, and with
		// several chunks.
		{[]int{3, 20, 12, 12}, []int{50, 20, 5, 5}, 1, 0},
		{[]int{70, 24, 7, 7}, []int{10, 24, 3, 3}, 1, 1},
	} {
		p := Conv2d[T]{Stride: c.stride, Padding: c.pad}
		x, w, b := fill(c.x...), fill(c.w...), fill(c.w[0])
		in := []*tensor.Dense[T]{x, w, b}
		if g := p.geom(in); !weightRows[T](g) {
			t.Skipf("%T %v: not on the channels-last path on this machine (no unpacked-B kernel)", T(0), c.x)
		}
		xd, wd, bd := fill(c.x...), fill(c.w...), fill(c.w[0])
		y := tensor.New[T](p.Shape(in)...)
		yBar, yBarDot := fill(y.Shape...), fill(y.Shape...)
		// Cotangents to add into, the same for both paths.
		grads := func() []*tensor.Dense[T] {
			r := rand.New(rand.NewPCG(23, 24))
			var out []*tensor.Dense[T]
			for _, s := range [][]int{c.x, c.w, {c.w[0]}} {
				d := tensor.New[T](s...)
				for i := range d.Data {
					d.Data[i] = T(r.NormFloat64())
				}
				out = append(out, d)
			}
			return out
		}
		for _, k := range []string{"VJP", "VJPPair", "HvOnly", "no ẋ", "no ȳ̇"} {
			run := func(off bool) (out []*tensor.Dense[T]) {
				defer func(old bool) { noWeightRows = old }(noWeightRows)
				noWeightRows = off
				bar, dot := grads(), grads()
				switch k {
				case "VJP":
					p.VJP(bar, yBar, in, y)
					return bar
				case "VJPPair":
					p.VJPPair(bar, dot, yBar, yBarDot, in, []*tensor.Dense[T]{xd, wd, bd}, y, nil)
				case "HvOnly":
					bar[1], bar[2] = nil, nil
					p.VJPPair(bar, dot, yBar, yBarDot, in, []*tensor.Dense[T]{xd, wd, bd}, y, nil)
					return append(bar[:1], dot...)
				case "no ẋ":
					p.VJPPair(bar, dot, yBar, yBarDot, in, []*tensor.Dense[T]{nil, wd, bd}, y, nil)
				case "no ȳ̇":
					p.VJPPair(bar, dot, yBar, nil, in, []*tensor.Dense[T]{xd, wd, bd}, y, nil)
				}
				return append(bar, dot...)
			}
			got, want := run(false), run(true)
			for i := range want {
				if err := closeTo(got[i].Data, want[i].Data, tol); err != nil {
					t.Errorf("%T %v %s: cotangent %d: %v", T(0), c.x, k, i, err)
				}
			}
		}
	}
}

// closeTo reports the first entry of got farther than tol·max|want| from
// want's.
func closeTo[T tensor.Float](got, want []T, tol float64) error {
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol*scale) {
			return fmt.Errorf("entry %d = %v, want %v (scale %.3g)", i, got[i], want[i], scale)
		}
	}
	return nil
}
