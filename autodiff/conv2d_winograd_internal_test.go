package autodiff

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"hesscope/kernels"
	"hesscope/tensor"
)

// TestWinogradShape checks which convolutions run by Winograd's algorithm:
// the zoo's 3×3 and 5×5 stride-1 layers with 16 channels or more and the test
// shapes of TestFloat32Paths' "conv/winograd" cases (so that those test
// it), not the thin, too wide, strided or float64 ones; and whose weight
// cotangents do: from 32 channels, or 16 by F(4×4, 3×3) with its products
// in place.
func TestWinogradShape(t *testing.T) {
	if !kernels.WinogradFast[float32]() {
		t.Skip("no assembly transforms on this machine")
	}
	// F(2×2, 5×5) where its transforms run in assembly.
	f5 := kernels.Winograd5Fast[float32](kernels.ConvShape{C: 1, H: 6, W: 6, KH: 5, KW: 5, Stride: 1})
	conv := func(c, h, w, k, stride, pad int) kernels.ConvShape {
		return kernels.ConvShape{C: c, H: h, W: w, KH: k, KW: k, Stride: stride, Pad: pad}
	}
	// 16 channels: the weight cotangents by F(4×4, 3×3) where its products
	// run in place (kernels.GemmInPlace, AVX-512).
	f16 := kernels.GemmInPlaceFast[float32]() && kernels.Winograd43Fast[float32](conv(16, 32, 32, 3, 1, 1))
	for _, tc := range []struct {
		name string
		s    kernels.ConvShape
		o    int
		want bool // winogradShape
		grad bool // winogradGrad (with AVX-512 or AVX2)
	}{
		{"c2-conv1", conv(3, 32, 32, 3, 1, 0), 64, false, false},
		{"c2-conv2", conv(64, 30, 30, 3, 1, 0), 64, true, true},
		{"c2-conv2 x̄", conv(64, 28, 28, 3, 1, 2), 64, true, true},
		{"c2-conv4", conv(128, 12, 12, 3, 1, 0), 128, true, true},
		{"resnet20-layer1", conv(16, 32, 32, 3, 1, 1), 16, true, f16},
		{"16 narrow", conv(16, 8, 8, 3, 1, 1), 16, true, false},
		{"resnet20-conv1", conv(3, 32, 32, 3, 1, 1), 16, false, false},
		{"resnet20-layer2", conv(32, 16, 16, 3, 1, 1), 32, true, true},
		{"resnet20-layer3", conv(64, 8, 8, 3, 1, 1), 64, true, true},
		{"resnet20-down", conv(16, 32, 32, 3, 2, 1), 32, false, false},
		{"resnet18-layer3", conv(256, 8, 8, 3, 1, 1), 256, true, true},
		{"resnet18-layer4", conv(512, 4, 4, 3, 1, 1), 512, true, true},
		{"thin out", conv(64, 16, 16, 3, 1, 1), 8, false, false},
		{"wide 34", conv(64, 34, 34, 3, 1, 1), 64, false, false},
		{"c1-conv2", conv(64, 16, 16, 5, 1, 2), 64, f5, f5},
		{"c1-conv2 x̄", conv(64, 16, 16, 5, 1, 2), 64, f5, f5},
		{"c1-conv1", conv(3, 32, 32, 5, 1, 2), 64, false, false},
		{"lenet5-conv2", conv(20, 12, 12, 5, 1, 0), 50, false, false},
		{"lenet5-conv2 x̄", conv(50, 8, 8, 5, 1, 4), 20, false, false},
		{"lenet5-conv1", conv(1, 28, 28, 5, 1, 0), 20, false, false},
		{"5×5 wide 28", conv(64, 28, 28, 5, 1, 2), 64, false, false},
		{"5×5 stride 2", conv(64, 16, 16, 5, 2, 2), 64, false, false},
		{"test5 p2", conv(32, 16, 16, 5, 1, 2), 32, f5, f5},
		{"test5 p0", conv(32, 12, 12, 5, 1, 0), 33, f5, f5},
		{"test5 p0 x̄", conv(33, 8, 8, 5, 1, 4), 32, f5, f5},
		{"test p1", conv(32, 16, 16, 3, 1, 1), 32, true, true},
		{"test p0", conv(32, 18, 18, 3, 1, 0), 33, true, true},
		{"test p0 x̄", conv(33, 16, 16, 3, 1, 2), 32, true, true},
		{"test 32", conv(32, 32, 32, 3, 1, 1), 32, true, true},
		{"test 128", conv(128, 4, 6, 3, 1, 1), 128, true, true},
	} {
		if got := winogradShape[float32](tc.s, tc.o); got != tc.want {
			t.Errorf("%s: winogradShape = %v, want %v", tc.name, got, tc.want)
		}
		g := convGeom{ConvShape: tc.s, O: tc.o}
		if want := tc.grad; winogradGrad[float32](g) != want {
			t.Errorf("%s: winogradGrad = %v, want %v", tc.name, !want, want)
		}
		if winogradShape[float64](tc.s, tc.o) {
			t.Errorf("%s: winogradShape[float64] = true", tc.name)
		}
	}
}

// TestWinogradDeterministic: every Winograd product gives the same bits for
// any GOMAXPROCS, although winogradSpread cuts the batch into more chunks
// the more CPUs there are (down to one image per chunk), and with fewer
// chunks than two per CPU the weight sums run by component
// (winogradWeightSums) instead of by chunk (reduceParts): y, ẏ and the
// input cotangents do not depend on the chunking, and the weight
// cotangents keep winogradChunk's and reduceParts' order. ResNet-18's 4×4 and 8×8 layers' shapes
// (fewer channels), 5×5 (F(2×2, 5×5)) and 3×3 with padding 0.
func TestWinogradDeterministic(t *testing.T) {
	conv := func(c, h, w, k, pad int) kernels.ConvShape {
		return kernels.ConvShape{C: c, H: h, W: w, KH: k, KW: k, Stride: 1, Pad: pad}
	}
	rng := rand.New(rand.NewPCG(8, 9))
	randn := func(shape ...int) *tensor.Dense[float32] { return randnT[float32](rng, shape...) }
	for _, tc := range []struct {
		name string
		n    int
		s    kernels.ConvShape
		o    int
	}{
		{"4×4", 37, conv(32, 4, 4, 3, 1), 32},
		{"8×8", 64, conv(32, 8, 8, 3, 1), 48},
		{"5×5", 9, conv(32, 12, 12, 5, 2), 32},
		{"p0", 21, conv(33, 10, 10, 3, 0), 32},
		{"F(4×4, 3×3)", 9, conv(64, 24, 24, 3, 1), 64},
	} {
		s := tc.s
		if !winogradShape[float32](s, tc.o) || !winogradGrad[float32](convGeom{ConvShape: s, O: tc.o}) {
			t.Skipf("%s: no Winograd products on this CPU (winogradShape or winogradGrad false)", tc.name)
		}
		x, xd := randn(tc.n, s.C, s.H, s.W), randn(tc.n, s.C, s.H, s.W)
		w, wd := randn(tc.o, s.C, s.KH, s.KW), randn(tc.o, s.C, s.KH, s.KW)
		b, bd := randn(tc.o), randn(tc.o)
		p := Conv2d[float32]{Stride: 1, Padding: s.Pad}
		in, dots := []*tensor.Dense[float32]{x, w, b}, []*tensor.Dense[float32]{xd, wd, bd}
		run := func(procs int) [][]float32 {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			return convPair(p, in, dots, randn)
		}
		rng = rand.New(rand.NewPCG(1, 2))
		ref := run(1)
		for _, procs := range []int{2, 3, 16, 64} {
			rng = rand.New(rand.NewPCG(1, 2))
			got := run(procs)
			for i := range ref {
				if !slices.Equal(got[i], ref[i]) {
					t.Errorf("%s, GOMAXPROCS=%d: result %d differs from GOMAXPROCS=1", tc.name, procs, i)
				}
			}
		}
	}
}

// TestWinogradAlg checks which Winograd algorithm each of the zoo's
// Winograd layers runs by with AVX-512 (prefer43): F(4×4, 3×3) for the
// weight cotangents from 12 pixels wide (or 8 with 128 channels), F(2×2,
// 3×3) for the other weight cotangents and for every convolution of 3×3
// windows, F(2×2, 5×5) for 5×5 windows.
func TestWinogradAlg(t *testing.T) {
	if !kernels.Winograd43Fast[float32](kernels.ConvShape{C: 1, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}) {
		t.Skip("no F(4×4, 3×3) at full speed on this machine")
	}
	conv := func(c, h, w, k, pad int) kernels.ConvShape {
		return kernels.ConvShape{C: c, H: h, W: w, KH: k, KW: k, Stride: 1, Pad: pad}
	}
	for _, tc := range []struct {
		name string
		s    kernels.ConvShape
		o    int
		grad winogradAlg
	}{
		{"c2-conv2", conv(64, 30, 30, 3, 0), 64, winograd43},
		{"c2-conv3", conv(64, 14, 14, 3, 0), 128, winograd43},
		{"c2-conv4", conv(128, 12, 12, 3, 0), 128, winograd23}, // 10×10
		{"resnet20-layer1", conv(16, 32, 32, 3, 1), 16, winograd43},
		{"resnet20-layer2", conv(32, 16, 16, 3, 1), 32, winograd43},
		{"resnet20-layer3", conv(64, 8, 8, 3, 1), 64, winograd23},
		{"resnet18-layer1", conv(64, 32, 32, 3, 1), 64, winograd43},
		{"resnet18-layer3", conv(256, 8, 8, 3, 1), 256, winograd43},
		{"resnet18-layer4", conv(512, 4, 4, 3, 1), 512, winograd23},
		{"c1-conv2", conv(64, 16, 16, 5, 2), 64, winograd25},
	} {
		want := tc.grad
		if want == winograd43 {
			want = winograd23
		}
		if got := winogradOf[float32](tc.s, tc.o, false); got != want {
			t.Errorf("%s: convolution by algorithm %d, want %d", tc.name, got, want)
		}
		if got := winogradOf[float32](tc.s, tc.o, true); got != tc.grad {
			t.Errorf("%s: weight cotangents by algorithm %d, want %d", tc.name, got, tc.grad)
		}
	}
}

// TestWinograd43Agrees: a layer whose weight cotangents F(4×4, 3×3) takes
// gives what F(2×2, 3×3) gives, to float32 rounding: y, ẏ and every
// cotangent of VJPPair within 2e-5 of the largest value.
func TestWinograd43Agrees(t *testing.T) {
	s := kernels.ConvShape{C: 64, H: 24, W: 24, KH: 3, KW: 3, Stride: 1, Pad: 1}
	const n, o = 5, 64
	if winogradOf[float32](s, o, true) != winograd43 {
		t.Skip("no F(4×4, 3×3) for this layer on this machine")
	}
	defer func() { use43 = true }()
	run := func(on bool) [][]float32 {
		use43 = on
		rng := rand.New(rand.NewPCG(4, 3))
		randn := func(shape ...int) *tensor.Dense[float32] { return randnT[float32](rng, shape...) }
		x, xd := randn(n, s.C, s.H, s.W), randn(n, s.C, s.H, s.W)
		w, wd := randn(o, s.C, 3, 3), randn(o, s.C, 3, 3)
		b, bd := randn(o), randn(o)
		p := Conv2d[float32]{Stride: 1, Padding: s.Pad}
		return convPair(p, []*tensor.Dense[float32]{x, w, b}, []*tensor.Dense[float32]{xd, wd, bd}, randn)
	}
	want, got := run(false), run(true)
	for i := range want {
		var scale, d float64
		for j := range want[i] {
			scale = max(scale, math.Abs(float64(want[i][j])))
			d = max(d, math.Abs(float64(got[i][j]-want[i][j])))
		}
		if d > 2e-5*scale {
			t.Errorf("result %d: F(4×4, 3×3) differs from F(2×2, 3×3) by %.2g (largest value %.2g)", i, d, scale)
		}
	}
}

// convPair runs p's ForwardJVP on in and their tangents dots, then its
// VJPPair on random cotangents (drawn by randn) into fresh cotangents, and
// returns y, ẏ and the cotangents' values, each input's x̄ then x̄̇
// (pairOf).
func convPair(p Conv2d[float32], in, dots []*tensor.Dense[float32], randn func(shape ...int) *tensor.Dense[float32]) [][]float32 {
	shape := p.Shape(in)
	return pairOf[float32](p, in, dots, randn(shape...), randn(shape...))
}

// pairPrimitive is a primitive with both fused passes.
type pairPrimitive[T tensor.Float] interface {
	PairJVP[T]
	PairVJP[T]
}

// pairOf runs p's ForwardJVP on in and their tangents dots, then its
// VJPPair of yBar and yBarDot into zeroed cotangents, and returns y, ẏ
// and each input's x̄ then x̄̇.
func pairOf[T tensor.Float](p pairPrimitive[T], in, dots []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T]) [][]T {
	y := tensor.New[T](p.Shape(in)...)
	yDot := tensor.New[T](y.Shape...)
	p.ForwardJVP(y, yDot, in, dots)
	bar, barDot := zerosLike(in), zerosLike(in)
	p.VJPPair(bar, barDot, yBar, yBarDot, in, dots, y, yDot)
	out := [][]T{y.Data, yDot.Data}
	for i := range bar {
		out = append(out, bar[i].Data, barDot[i].Data)
	}
	return out
}

// TestWinogradInPlaceSameBits: Winograd's convolutions (outputs, tangents
// and input cotangents) give the same bits with their products read in
// place (inPlaceProducts: kernels.GemmInPlace) as through the packed panels,
// on the shapes that take them (ResNet-20's three stages, C1's 5×5 layer,
// a last chunk of fewer images), float32.
func TestWinogradInPlaceSameBits(t *testing.T) {
	if !kernels.GemmInPlaceFast[float32]() {
		t.Skip("no in-place products on this machine")
	}
	defer func(v bool) { useInPlace = v }(useInPlace)
	rng := rand.New(rand.NewPCG(7, 8))
	fill := func(shape ...int) *tensor.Dense[float32] {
		d := tensor.New[float32](shape...)
		for i := range d.Data {
			d.Data[i] = float32(rng.NormFloat64())
		}
		return d
	}
	for _, c := range []struct{ n, ch, hw, k, pad int }{{3, 16, 32, 3, 1}, {5, 32, 16, 3, 1}, {9, 64, 8, 3, 1}, {3, 64, 16, 5, 2}} {
		s := kernels.ConvShape{C: c.ch, H: c.hw, W: c.hw, KH: c.k, KW: c.k, Stride: 1, Pad: c.pad}
		if !inPlaceProducts[float32](s, c.ch) {
			t.Fatalf("%+v: inPlaceProducts false", c)
		}
		in := []*tensor.Dense[float32]{fill(c.n, c.ch, c.hw, c.hw), fill(c.ch, c.ch, c.k, c.k)}
		inDot := []*tensor.Dense[float32]{fill(in[0].Shape...), fill(in[1].Shape...)}
		p := Conv2d[float32]{Stride: 1, Padding: c.pad}
		ys := p.Shape(in)
		yBar, yBarDot := fill(ys...), fill(ys...)
		run := func(on bool) [][]float32 {
			useInPlace = on
			y, yDot := tensor.New[float32](ys...), tensor.New[float32](ys...)
			p.ForwardJVP(y, yDot, in, inDot)
			xBar, xBarDot := tensor.New[float32](in[0].Shape...), tensor.New[float32](in[0].Shape...)
			p.VJPPair([]*tensor.Dense[float32]{xBar, nil}, []*tensor.Dense[float32]{xBarDot, nil}, yBar, yBarDot, in, inDot, y, yDot)
			return [][]float32{y.Data, yDot.Data, xBar.Data, xBarDot.Data}
		}
		want, got := run(false), run(true)
		for i, name := range []string{"y", "ẏ", "x̄", "x̄̇"} {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%+v: %s in place differs from the packed panels' bits", c, name)
			}
		}
	}
}
