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
// float64), b̄ and x̄ included, the copies' buffers filled with NaN before
// their padding is cleared (poisonShifted).
func TestShiftedWeightGradient(t *testing.T) {
	testShifted[float32](t)
	testShifted[float64](t)
}

// shiftedConvs are the "same" convolutions the shifted path takes: 3×3 and
// 5×5 windows, rows of 16 and 32, one and three input channels (x's and
// W's shapes, padding).
var shiftedConvs = []struct {
	x, w []int
	pad  int
}{
	{[]int{2, 16, 32, 32}, []int{16, 16, 3, 3}, 1},
	{[]int{3, 3, 16, 32}, []int{5, 3, 3, 3}, 1},
	{[]int{2, 4, 16, 16}, []int{7, 4, 5, 5}, 2},
}

// randnT returns a tensor of the shape with standard normal entries.
func randnT[T tensor.Float](rng *rand.Rand, shape ...int) *tensor.Dense[T] {
	d := tensor.New[T](shape...)
	for i := range d.Data {
		d.Data[i] = T(rng.NormFloat64())
	}
	return d
}

func testShifted[T tensor.Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, c := range shiftedConvs {
		fill := func(shape ...int) *tensor.Dense[T] { return randnT[T](rng, shape...) }
		x, w, b := fill(c.x...), fill(c.w...), fill(c.w[0])
		p := Conv2d[T]{Padding: c.pad}
		in := []*tensor.Dense[T]{x, w, b}
		if g := p.geom(in); !g.shiftedRows() {
			t.Fatalf("%v: not on the shifted path", c.x)
		}
		y := tensor.New[T](p.Shape(in)...)
		yBar := fill(y.Shape...)
		run := func(off bool) []*tensor.Dense[T] {
			defer func(old bool) { noShifted, poisonShifted = old, false }(noShifted)
			noShifted, poisonShifted = off, true
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

// TestShiftedWeightPair checks a forward-over-reverse pass's weight
// products read from shifted copies of x and ẋ (shiftedWeightProducts)
// against the deep product on im2col: bit for bit where each half, 1024
// pixels, is a whole number of every dot kernel's slices; within rounding
// otherwise (a 16×32 image's 512 pixels are half of float32's slice, so the
// deep product sums its halves in one slice). Every cotangent and its
// tangent, with every tangent, with ẋ only, with the weights' only
// (ȳ̇·Xᵀ alone with ẋ absent) and without W̄ (LeafGradDotOnly's pass);
// the copies' buffers filled with NaN first, as in the gradient's test.
func TestShiftedWeightPair(t *testing.T) {
	testShiftedPair[float32](t, 1e-5)
	testShiftedPair[float64](t, 1e-13)
}

func testShiftedPair[T tensor.Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, c := range shiftedConvs {
		fill := func(shape ...int) *tensor.Dense[T] { return randnT[T](rng, shape...) }
		x, w, b := fill(c.x...), fill(c.w...), fill(c.w[0])
		xd, wd, bd := fill(c.x...), fill(c.w...), fill(c.w[0])
		p := &Conv2d[T]{Padding: c.pad}
		in := []*tensor.Dense[T]{x, w, b}
		g := p.geom(in)
		if !g.shiftedRows() {
			t.Fatalf("%v: not on the shifted path", c.x)
		}
		exact := g.P%1024 == 0
		y := tensor.New[T](p.Shape(in)...)
		yBar, yBarDot := fill(y.Shape...), fill(y.Shape...)
		for _, k := range []struct {
			name         string
			xDot, wDot   bool
			noBar, noInX bool
		}{
			{"all", true, true, false, false},
			{"input-tangent", true, false, false, false},
			{"weight-tangent", false, true, false, false},
			{"hv-only", true, true, true, false},
			{"no-input-cotangent", true, true, false, true},
		} {
			run := func(off bool) []*tensor.Dense[T] {
				defer func(old bool) { noShifted, poisonShifted = old, false }(noShifted)
				noShifted, poisonShifted = off, true
				xDot := []*tensor.Dense[T]{nil, nil, nil}
				if k.xDot {
					xDot[0] = xd
				}
				if k.wDot {
					xDot[1], xDot[2] = wd, bd
				}
				bar := []*tensor.Dense[T]{tensor.New[T](c.x...), tensor.New[T](c.w...), tensor.New[T](c.w[0])}
				dot := []*tensor.Dense[T]{tensor.New[T](c.x...), tensor.New[T](c.w...), tensor.New[T](c.w[0])}
				if k.noBar {
					bar[1], bar[2] = nil, nil
				}
				if k.noInX {
					bar[0], dot[0] = nil, nil
				}
				p.VJPPair(bar, dot, yBar, yBarDot, in, xDot, y, nil)
				return append(bar, dot...)
			}
			got, want := run(false), run(true)
			for i := range want {
				if (got[i] == nil) != (want[i] == nil) {
					t.Fatalf("%T %v %s: cotangent %d present %v, want %v", T(0), c.x, k.name, i, got[i] != nil, want[i] != nil)
				}
				if want[i] == nil {
					continue
				}
				scale := 0.0
				for _, v := range want[i].Data {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				for j := range want[i].Data {
					gv, wv := float64(got[i].Data[j]), float64(want[i].Data[j])
					if exact && math.Float64bits(gv) != math.Float64bits(wv) || math.Abs(gv-wv) > tol*scale {
						t.Fatalf("%T %v %s: cotangent %d entry %d = %v, want %v", T(0), c.x, k.name, i, j, gv, wv)
					}
				}
			}
		}
	}
}
