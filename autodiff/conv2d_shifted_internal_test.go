package autodiff

import (
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// TestShiftedWeightGradient checks the gradient's W̄ read from shifted
// copies of x (shiftedRows) bit for bit against the same product on
// im2col(x), for the "same" convolutions the path takes (3×3 and 5×5
// windows, rows of 16 and 32, one and three input channels, float32 and
// float64), b̄ and x̄ included.
func TestShiftedWeightGradient(t *testing.T) {
	testShifted[float32](t)
	testShifted[float64](t)
}

func testShifted[T tensor.Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, c := range []struct {
		x, w []int
		pad  int
	}{
		{[]int{2, 16, 32, 32}, []int{16, 16, 3, 3}, 1},
		{[]int{3, 3, 16, 32}, []int{5, 3, 3, 3}, 1},
		{[]int{2, 4, 16, 16}, []int{7, 4, 5, 5}, 2},
	} {
		fill := func(shape ...int) *tensor.Dense[T] {
			d := tensor.New[T](shape...)
			for i := range d.Data {
				d.Data[i] = T(rng.NormFloat64())
			}
			return d
		}
		x, w, b := fill(c.x...), fill(c.w...), fill(c.w[0])
		p := Conv2d[T]{Padding: c.pad}
		in := []*tensor.Dense[T]{x, w, b}
		if g := p.geom(in); !g.shiftedRows() {
			t.Fatalf("%v: not on the shifted path", c.x)
		}
		y := tensor.New[T](p.Shape(in)...)
		yBar := fill(y.Shape...)
		run := func(off bool) []*tensor.Dense[T] {
			defer func(old bool) { noShifted = old }(noShifted)
			noShifted = off
			bar := []*tensor.Dense[T]{tensor.New[T](c.x...), tensor.New[T](c.w...), tensor.New[T](c.w[0])}
			p.VJP(bar, yBar, in, y)
			return bar
		}
		got, want := run(false), run(true)
		for k := range got {
			for i := range want[k].Data {
				if math.Float64bits(float64(got[k].Data[i])) != math.Float64bits(float64(want[k].Data[i])) {
					t.Fatalf("%T %v: cotangent %d entry %d = %v, want %v", T(0), c.x, k, i, got[k].Data[i], want[k].Data[i])
				}
			}
		}
	}
}
