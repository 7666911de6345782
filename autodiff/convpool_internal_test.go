package autodiff

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"hesscope/tensor"
)

// convPoolCases are the shapes of TestConv2dMaxPool: LeNet-5's two layers
// (a first layer of one channel, 576 pixels an image; 50 channels over
// chunks of 4 images and a last one of 2), pixels outside every window
// (odd sizes), overlapping windows with padding, and a strided
// convolution without bias, each with window rows of under 16 values and
// of more.
var convPoolCases = []struct {
	x, w        []int
	stride, pad int
	k, s, p     int
	bias        bool
}{
	{[]int{3, 1, 28, 28}, []int{20, 1, 5, 5}, 1, 0, 2, 2, 0, true},
	{[]int{10, 20, 12, 12}, []int{50, 20, 5, 5}, 1, 0, 2, 2, 0, true},
	{[]int{3, 4, 9, 10}, []int{6, 4, 3, 3}, 1, 0, 2, 2, 0, true},
	{[]int{2, 3, 8, 7}, []int{5, 3, 3, 3}, 1, 1, 3, 2, 1, true},
	{[]int{3, 2, 9, 9}, []int{3, 2, 3, 3}, 2, 1, 2, 2, 0, false},
	// Window rows of 16 values or more, from channels-last copies
	// (rowsCL): with padding and overlapping windows, and strided.
	{[]int{2, 8, 7, 9}, []int{5, 8, 3, 3}, 1, 1, 3, 2, 1, true},
	{[]int{3, 6, 9, 9}, []int{4, 6, 3, 3}, 2, 1, 2, 2, 0, false},
}

// TestConv2dMaxPool: Conv2dMaxPool gives the bits of Conv2d followed by
// MaxPool2d with its sparse products off (the dense cotangent through
// Conv2d's), and their values up to rounding with them on (kernels.SpMM,
// its Go loop where it has no vector kernel), in every output of a forward
// pass with tangents and of the VJP pair: y, ẏ, and x̄, x̄̇ of each input.
// Either way the VJP alone gives VJPPair's x̄, W̄ and b̄, and JVP alone
// ForwardJVP's ẏ, bit for bit (PairJVP's and PairVJP's contracts).
func TestConv2dMaxPool(t *testing.T) {
	t.Run("float64", func(t *testing.T) { testConvPool[float64](t, 1e-13) })
	t.Run("float32", func(t *testing.T) { testConvPool[float32](t, 2e-6) })
}

func testConvPool[T tensor.Float](t *testing.T, tol float64) {
	defer func(v int) { sparsePool = v }(sparsePool)
	names := []string{"y", "ẏ", "x̄", "x̄̇", "W̄", "W̄̇", "b̄", "b̄̇"}
	for _, c := range convPoolCases {
		name := fmt.Sprintf("x %v, w %v, stride %d, pad %d, pool %d/%d/%d", c.x, c.w, c.stride, c.pad, c.k, c.s, c.p)
		conv := Conv2d[T]{Stride: c.stride, Padding: c.pad}
		pool := MaxPool2d[T]{Kernel: c.k, Stride: c.s, Padding: c.p}
		rng := rand.New(rand.NewPCG(31, 32))
		randn := func(shape ...int) *tensor.Dense[T] { return randnT[T](rng, shape...) }
		in := []*tensor.Dense[T]{randn(c.x...), randn(c.w...)}
		dots := []*tensor.Dense[T]{randn(c.x...), randn(c.w...)}
		if c.bias {
			in, dots = append(in, randn(c.w[0])), append(dots, randn(c.w[0]))
		}
		yc := tensor.New[T](conv.Shape(in)...)
		ycDot := tensor.New[T](yc.Shape...)
		conv.ForwardJVP(yc, ycDot, in, dots)
		yShape := (&pool).Shape([]*tensor.Dense[T]{yc})
		yBar, yBarDot := randn(yShape...), randn(yShape...)

		// The two primitives one after the other.
		p := pool
		y, yDot := tensor.New[T](yShape...), tensor.New[T](yShape...)
		p.ForwardJVP(y, yDot, []*tensor.Dense[T]{yc}, []*tensor.Dense[T]{ycDot})
		ycBar, ycBarDot := tensor.New[T](yc.Shape...), tensor.New[T](yc.Shape...)
		p.VJPPair([]*tensor.Dense[T]{ycBar}, []*tensor.Dense[T]{ycBarDot}, yBar, yBarDot, []*tensor.Dense[T]{yc}, []*tensor.Dense[T]{ycDot}, y, yDot)
		bar, barDot := zerosLike(in), zerosLike(in)
		conv.VJPPair(bar, barDot, ycBar, ycBarDot, in, dots, yc, ycDot)
		want := [][]T{y.Data, yDot.Data}
		for i := range bar {
			want = append(want, bar[i].Data, barDot[i].Data)
		}

		for _, mode := range []int{-1, 1} {
			sparsePool = mode
			f := &Conv2dMaxPool[T]{Conv: conv, Pool: pool}
			if !slices.Equal(f.Shape(in), yShape) {
				t.Fatalf("%s: shape %v, want %v", name, f.Shape(in), yShape)
			}
			got := pairOf[T](f, in, dots, yBar, yBarDot)
			fy := &tensor.Dense[T]{Shape: yShape, Data: got[0]}
			for i := range want {
				if mode < 0 && !slices.Equal(got[i], want[i]) {
					t.Errorf("%s, dense: %s differs from the separate primitives' bits", name, names[i])
				}
				if err := closeTo(got[i], want[i], tol); mode > 0 && err != nil {
					t.Errorf("%s, sparse: %s: %v", name, names[i], err)
				}
			}
			// The halves alone.
			jDot := tensor.New[T](yShape...)
			f.JVP(jDot, in, dots, fy)
			vbar := zerosLike(in)
			f.VJP(vbar, yBar, in, fy)
			if !slices.Equal(jDot.Data, got[1]) {
				t.Errorf("%s, mode %d: JVP differs from ForwardJVP's ẏ", name, mode)
			}
			for i := range vbar {
				if !slices.Equal(vbar[i].Data, got[2+2*i]) {
					t.Errorf("%s, mode %d: VJP's %s differs from VJPPair's", name, mode, names[2+2*i])
				}
			}
			f.release()
		}
	}
}

// zerosLike returns zeroed tensors of ts' shapes.
func zerosLike[T tensor.Float](ts []*tensor.Dense[T]) []*tensor.Dense[T] {
	out := make([]*tensor.Dense[T], len(ts))
	for i, t := range ts {
		out[i] = tensor.New[T](t.Shape...)
	}
	return out
}

// BenchmarkConv2dMaxPool times LeNet-5's pooled convolutions (batch 128,
// float32) with their reverse products sparse (kernels.SpMM) and dense
// (the pooled cotangents scattered, then Conv2d's products): the forward
// pass with tangents, the VJP and the VJP pair of a parameter HVP.
func BenchmarkConv2dMaxPool(b *testing.B) {
	defer func(v int) { sparsePool = v }(sparsePool)
	for _, c := range []struct {
		name string
		x, w []int
	}{
		{"lenet5-conv1", []int{128, 1, 28, 28}, []int{20, 1, 5, 5}},
		{"lenet5-conv2", []int{128, 20, 12, 12}, []int{50, 20, 5, 5}},
	} {
		rng := rand.New(rand.NewPCG(1, 1))
		randn := func(shape ...int) *tensor.Dense[float32] { return randnT[float32](rng, shape...) }
		in := []*tensor.Dense[float32]{randn(c.x...), randn(c.w...), randn(c.w[0])}
		dots := []*tensor.Dense[float32]{nil, randn(c.w...), randn(c.w[0])}
		f := &Conv2dMaxPool[float32]{Pool: MaxPool2d[float32]{Kernel: 2, Stride: 2}}
		y := tensor.New[float32](f.Shape(in)...)
		yDot := tensor.New[float32](y.Shape...)
		yBar, yBarDot := randn(y.Shape...), randn(y.Shape...)
		bar, barDot := zerosLike(in), zerosLike(in)
		if c.x[1] == 1 {
			bar[0], barDot[0] = nil, nil // a first layer: no input cotangent
		}
		f.ForwardJVP(y, yDot, in, dots) // the argmax, for the reverse products
		for _, mode := range []struct {
			name string
			v    int
		}{{"sparse", 1}, {"dense", -1}} {
			sparsePool = mode.v
			b.Run(c.name+"/"+mode.name+"/jvp", func(b *testing.B) {
				for b.Loop() {
					f.ForwardJVP(y, yDot, in, dots)
				}
			})
			b.Run(c.name+"/"+mode.name+"/vjp", func(b *testing.B) {
				for b.Loop() {
					f.VJP(bar, yBar, in, y)
				}
			})
			b.Run(c.name+"/"+mode.name+"/vjp-pair", func(b *testing.B) {
				for b.Loop() {
					f.VJPPair(bar, barDot, yBar, yBarDot, in, dots, y, yDot)
				}
			})
		}
		f.release()
	}
}
