package autodiff_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/tensor"
)

// naiveConv2d is the definition of the convolution, one output at a time.
func naiveConv2d(x, w, b *tensor.Dense[T], stride, pad int) *tensor.Dense[T] {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	o, kh, kw := w.Shape[0], w.Shape[2], w.Shape[3]
	oh, ow := (h+2*pad-kh)/stride+1, (wd+2*pad-kw)/stride+1
	y := tensor.New[T](n, o, oh, ow)
	for in := 0; in < n; in++ {
		for oc := 0; oc < o; oc++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s float64
					if b != nil {
						s = b.Data[oc]
					}
					for ic := 0; ic < c; ic++ {
						for u := 0; u < kh; u++ {
							for v := 0; v < kw; v++ {
								iy, ix := i*stride-pad+u, j*stride-pad+v
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += w.Data[((oc*c+ic)*kh+u)*kw+v] * x.Data[((in*c+ic)*h+iy)*wd+ix]
							}
						}
					}
					y.Data[((in*o+oc)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return y
}

func TestConv2dForward(t *testing.T) {
	randn := gradcheck.Randn
	for i, c := range []struct {
		x, w           []int
		bias           bool
		stride, pad    int
		wantOH, wantOW int
	}{
		{[]int{3, 3, 7, 6}, []int{5, 3, 3, 3}, true, 1, 1, 7, 6},
		{[]int{1, 2, 9, 8}, []int{3, 2, 3, 3}, false, 2, 0, 4, 3},
		{[]int{3, 3, 10, 7}, []int{2, 3, 3, 3}, true, 3, 2, 4, 3},
		{[]int{2, 3, 8, 8}, []int{4, 3, 5, 5}, true, 1, 2, 8, 8},
		{[]int{2, 5, 4, 6}, []int{3, 5, 1, 1}, true, 1, 0, 4, 6},
		{[]int{3, 3, 5, 6}, []int{4, 3, 1, 1}, false, 2, 0, 3, 3},
		{[]int{40, 1, 5, 4}, []int{2, 1, 3, 2}, true, 1, 1, 5, 5},
		{[]int{12, 2, 4, 6}, []int{3, 2, 1, 1}, true, 1, 0, 4, 6},
		{[]int{12, 2, 4, 6}, []int{3, 2, 1, 1}, false, 1, 0, 4, 6},
		// At least 256 output pixels and stride 1: the column matrix is
		// read in place from the padded image (implicit GEMM).
		{[]int{3, 3, 16, 17}, []int{5, 3, 3, 3}, true, 1, 1, 16, 17},
		{[]int{2, 2, 18, 18}, []int{4, 2, 3, 3}, false, 1, 0, 16, 16},
		{[]int{2, 2, 16, 16}, []int{9, 2, 5, 5}, true, 1, 2, 16, 16},
		{[]int{2, 1, 20, 20}, []int{3, 1, 5, 5}, true, 1, 0, 16, 16},
		{[]int{1, 3, 15, 17}, []int{17, 3, 3, 3}, true, 1, 1, 15, 17},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			x, w := randn(uint64(200+i), c.x...), randn(uint64(300+i), c.w...)
			var b *tensor.Dense[T]
			ins := []*tensor.Dense[T]{x, w}
			if c.bias {
				b = randn(uint64(400+i), c.w[0])
				ins = append(ins, b)
			}
			p := autodiff.Conv2d[T]{Stride: c.stride, Padding: c.pad}
			shape := p.Shape(ins)
			if want := []int{c.x[0], c.w[0], c.wantOH, c.wantOW}; !slices.Equal(shape, want) {
				t.Fatalf("Shape = %v, want %v", shape, want)
			}
			y := tensor.New[T](shape...)
			for i := range y.Data {
				y.Data[i] = 1e300 // Forward must overwrite
			}
			p.Forward(y, ins)
			if e := relErr(y.Data, naiveConv2d(x, w, b, c.stride, c.pad).Data); e > 1e-13 {
				t.Errorf("forward differs from the naive loop by %g", e)
			}
		})
	}
}

// TestConv2dFloat32 checks that float32 agrees with float64 to float32
// precision: forward and all cotangents.
func TestConv2dFloat32(t *testing.T) {
	x, w, b := gradcheck.Randn(1, 4, 3, 12, 11), gradcheck.Randn(2, 8, 3, 5, 5), gradcheck.Randn(3, 8)
	testConv2dFloat32(t, x, w, b, 2, 2)
	// Stride 1 on 16×16: the implicit forward products.
	testConv2dFloat32(t, gradcheck.Randn(4, 3, 5, 16, 16), gradcheck.Randn(5, 16, 5, 3, 3), gradcheck.Randn(6, 16), 1, 1)
}

func testConv2dFloat32(t *testing.T, x, w, b *tensor.Dense[float64], stride, pad int) {
	p64 := autodiff.Conv2d[float64]{Stride: stride, Padding: pad}
	p32 := autodiff.Conv2d[float32]{Stride: stride, Padding: pad}
	in64 := []*tensor.Dense[float64]{x, w, b}
	in32 := []*tensor.Dense[float32]{tensor.Convert[float32](x), tensor.Convert[float32](w), tensor.Convert[float32](b)}
	y64, y32 := tensor.New[float64](p64.Shape(in64)...), tensor.New[float32](p32.Shape(in32)...)
	p64.Forward(y64, in64)
	p32.Forward(y32, in32)
	if e := relErr(y32.Data, y64.Data); e > 1e-5 {
		t.Errorf("float32 forward differs from float64 by %g", e)
	}
	yBar := gradcheck.Randn(4, y64.Shape...)
	bar64 := []*tensor.Dense[float64]{tensor.New[float64](x.Shape...), tensor.New[float64](w.Shape...), tensor.New[float64](b.Shape...)}
	bar32 := []*tensor.Dense[float32]{tensor.New[float32](x.Shape...), tensor.New[float32](w.Shape...), tensor.New[float32](b.Shape...)}
	p64.VJP(bar64, yBar, in64, y64)
	p32.VJP(bar32, tensor.Convert[float32](yBar), in32, y32)
	for i, name := range []string{"x̄", "W̄", "b̄"} {
		if e := relErr(bar32[i].Data, bar64[i].Data); e > 1e-5 {
			t.Errorf("float32 %s differs from float64 by %g", name, e)
		}
	}
}

// TestConv2dDeterministic checks that every result is bit-identical for any
// GOMAXPROCS, including the batch sums of W̄ and b̄ over more images than
// there are parts.
func TestConv2dDeterministic(t *testing.T) {
	randn := gradcheck.Randn
	x, w, b := randn(1, 37, 3, 6, 5), randn(2, 4, 3, 3, 3), randn(3, 4)
	testConv2dDeterministic(t, x, w, b, true)
	// One image per chunk (the implicit forward products).
	testConv2dDeterministic(t, randn(13, 5, 3, 16, 17), w, b, false)
}

func testConv2dDeterministic(t *testing.T, x, w, b *tensor.Dense[T], batchSum bool) {
	randn := gradcheck.Randn
	xd, wd, bd := randn(4, x.Shape...), randn(5, w.Shape...), randn(6, b.Shape...)
	p := autodiff.Conv2d[T]{Stride: 1, Padding: 1}
	// run computes every pass, separate and fused, with weights w (O = 4,
	// x̄ by col2im) and w2 (O = 2 ≤ C, x̄ by transposed convolution).
	w2, wd2, b2, bd2 := randn(8, 2, 3, 3, 3), randn(9, 2, 3, 3, 3), randn(10, 2), randn(11, 2)
	run := func(procs int) [][]T {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var out [][]T
		for _, c := range [][4]*tensor.Dense[T]{{w, b, wd, bd}, {w2, b2, wd2, bd2}} {
			in, dots := []*tensor.Dense[T]{x, c[0], c[1]}, []*tensor.Dense[T]{xd, c[2], c[3]}
			y := tensor.New[T](p.Shape(in)...)
			p.Forward(y, in)
			yDot := tensor.New[T](y.Shape...)
			p.JVP(yDot, in, dots, y)
			y2, yDot2 := tensor.New[T](y.Shape...), tensor.New[T](y.Shape...)
			p.ForwardJVP(y2, yDot2, in, dots)
			yBar, yBarDot := randn(7, y.Shape...), randn(12, y.Shape...)
			zeros := func() []*tensor.Dense[T] {
				return []*tensor.Dense[T]{tensor.New[T](x.Shape...), tensor.New[T](c[0].Shape...), tensor.New[T](c[1].Shape...)}
			}
			bar := zeros()
			p.VJP(bar, yBar, in, y)
			barDot := zeros()
			p.CurvatureVJP(barDot, yBar, in, dots, y, yDot)
			bar2, barDot2 := zeros(), zeros()
			p.VJPPair(bar2, barDot2, yBar, yBarDot, in, dots, y, yDot)
			out = append(out, y.Data, yDot.Data, y2.Data, yDot2.Data)
			for _, t := range [][]*tensor.Dense[T]{bar, barDot, bar2, barDot2} {
				out = append(out, t[0].Data, t[1].Data, t[2].Data)
			}
		}
		return out
	}
	ref := run(1)
	for _, procs := range []int{2, 3, 8} {
		got := run(procs)
		for i := range ref {
			if !slices.Equal(got[i], ref[i]) {
				t.Errorf("GOMAXPROCS=%d: result %d differs from GOMAXPROCS=1", procs, i)
			}
		}
	}
	if !batchSum {
		return
	}
	// The batch sums are also right: W̄ equals the sum of single-image W̄.
	wBar := tensor.New[T](w.Shape...)
	for n := 0; n < x.Shape[0]; n++ {
		xn := tensor.FromSlice(x.Data[n*90:(n+1)*90], 1, 3, 6, 5)
		yBarN := tensor.FromSlice(randn(7, 37, 4, 6, 5).Data[n*120:(n+1)*120], 1, 4, 6, 5)
		p.VJP([]*tensor.Dense[T]{nil, wBar, nil}, yBarN, []*tensor.Dense[T]{xn, w, b}, nil)
	}
	if e := relErr(ref[5], wBar.Data); e > 1e-13 { // W̄ of the separate VJP with w
		t.Errorf("batched W̄ differs from the sum over images by %g", e)
	}
}

func BenchmarkConv2d(b *testing.B) {
	for _, c := range []struct {
		name        string
		x, w        []int
		stride, pad int
	}{
		{"lenet5-conv1", []int{128, 1, 28, 28}, []int{20, 1, 5, 5}, 1, 0},
		{"lenet5-conv2", []int{128, 20, 12, 12}, []int{50, 20, 5, 5}, 1, 0},
		{"c1-conv1", []int{128, 3, 32, 32}, []int{64, 3, 5, 5}, 1, 2},
		{"c1-conv2", []int{128, 64, 16, 16}, []int{64, 64, 5, 5}, 1, 2},
		{"c2-conv1", []int{128, 3, 32, 32}, []int{64, 3, 3, 3}, 1, 0},
		{"c2-conv2", []int{128, 64, 30, 30}, []int{64, 64, 3, 3}, 1, 0},
		{"c2-conv3", []int{128, 64, 14, 14}, []int{128, 64, 3, 3}, 1, 0},
		{"c2-conv4", []int{128, 128, 12, 12}, []int{128, 128, 3, 3}, 1, 0},
		{"resnet20-layer1", []int{128, 16, 32, 32}, []int{16, 16, 3, 3}, 1, 1},
		{"resnet20-layer2", []int{128, 32, 16, 16}, []int{32, 32, 3, 3}, 1, 1},
		{"resnet20-layer3", []int{128, 64, 8, 8}, []int{64, 64, 3, 3}, 1, 1},
		{"resnet20-down2", []int{128, 16, 32, 32}, []int{32, 16, 3, 3}, 2, 1},
		{"resnet18-layer1", []int{128, 64, 32, 32}, []int{64, 64, 3, 3}, 1, 1},
		{"resnet18-layer3", []int{128, 256, 8, 8}, []int{256, 256, 3, 3}, 1, 1},
		{"resnet18-layer4", []int{128, 512, 4, 4}, []int{512, 512, 3, 3}, 1, 1},
	} {
		b.Run(c.name+"/f32", func(b *testing.B) { benchConv2d[float32](b, c.x, c.w, c.stride, c.pad) })
		b.Run(c.name+"/f64", func(b *testing.B) { benchConv2d[float64](b, c.x, c.w, c.stride, c.pad) })
	}
}

func benchConv2d[U tensor.Float](b *testing.B, xs, ws []int, stride, pad int) {
	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(shape ...int) *tensor.Dense[U] {
		t := tensor.New[U](shape...)
		for i := range t.Data {
			t.Data[i] = U(rng.NormFloat64())
		}
		return t
	}
	x, w, bias := fill(xs...), fill(ws...), fill(ws[0])
	in := []*tensor.Dense[U]{x, w, bias}
	p := autodiff.Conv2d[U]{Stride: stride, Padding: pad}
	y := tensor.New[U](p.Shape(in)...)
	yBar := fill(y.Shape...)
	bar := []*tensor.Dense[U]{tensor.New[U](xs...), tensor.New[U](ws...), tensor.New[U](ws[0])}
	b.Run("forward", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Forward(y, in)
		}
	})
	// The forward pass of a parameter HVP inside a network: y and ẏ = w·ẋ +
	// ẇ·x + ḃ.
	inDot := []*tensor.Dense[U]{fill(xs...), fill(ws...), fill(ws[0])}
	yDot := tensor.New[U](y.Shape...)
	b.Run("jvp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.ForwardJVP(y, yDot, in, inDot)
		}
	})
	b.Run("vjp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.VJP(bar, yBar, in, y)
		}
	})
	// The VJP's two products alone: the input's cotangent (backward data) and
	// the weights' (backward weights).
	b.Run("vjp-x", func(b *testing.B) {
		for b.Loop() {
			p.VJP([]*tensor.Dense[U]{bar[0], nil, nil}, yBar, in, y)
		}
	})
	b.Run("vjp-w", func(b *testing.B) {
		for b.Loop() {
			p.VJP([]*tensor.Dense[U]{nil, bar[1], nil}, yBar, in, y)
		}
	})
	// The backward pass of a parameter HVP: the VJPs of ȳ and ȳ̇ and the
	// curvature term, the input's tangent zero (a parameter direction).
	inDot = []*tensor.Dense[U]{nil, fill(ws...), fill(ws[0])}
	barDot := []*tensor.Dense[U]{tensor.New[U](xs...), tensor.New[U](ws...), tensor.New[U](ws[0])}
	yBarDot := fill(y.Shape...)
	b.Run("vjp-pair", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.VJPPair(bar, barDot, yBar, yBarDot, in, inDot, y, nil)
		}
	})
}
