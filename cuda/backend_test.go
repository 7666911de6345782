//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// TestBackendOps checks each backend operation on its own against a Go
// reference, so that a failure of the evaluator on the GPU points at one
// binding: memory copies, a kernel launch, a parallel reduction, the
// max-pool tie rule, cuBLAS's GEMM in the four transpose cases and cuDNN's
// three convolution products.
func TestBackendOps(t *testing.T) { checkBackend(t, &gpu{dev: needGPU(t)}) }

// TestEmulatedBackendOps is TestBackendOps on the host emulation.
func TestEmulatedBackendOps(t *testing.T) { checkBackend(t, newEmu(t)) }

func checkBackend(t *testing.T, be backend) {
	defer func() {
		defer be.enter()()
		be.close()
	}()
	// Each subtest runs on its own goroutine, so each enters the backend
	// (locks its OS thread and makes the context current) itself.
	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			defer be.enter()()
			f(t)
		})
	}
	run("copy", func(t *testing.T) { checkCopy(t, be) })
	run("relu", func(t *testing.T) { checkReLU(t, be) })
	run("channel_sum", func(t *testing.T) { checkChannelSum(t, be) })
	run("maxpool ties", func(t *testing.T) { checkMaxPool(t, be) })
	for _, dt := range []int32{dnnFloat, dnnDouble} {
		run(fmt.Sprintf("gemm dtype %d", dt), func(t *testing.T) {
			if dt == dnnFloat {
				checkGemm[float32](t, be, dt)
			} else {
				checkGemm[float64](t, be, dt)
			}
		})
		run(fmt.Sprintf("conv dtype %d", dt), func(t *testing.T) {
			if dt == dnnFloat {
				checkConv[float32](t, be, dt)
			} else {
				checkConv[float64](t, be, dt)
			}
		})
	}
}

// recovered turns a panic of the backend into a test failure.
func recovered(t *testing.T) {
	if r := recover(); r != nil {
		t.Fatalf("panic: %v", r)
	}
}

func toDevice[E any](be backend, x []E) buffer {
	var z E
	b := be.alloc(len(x) * int(unsafe.Sizeof(z)))
	uploadSlice(be, b.ptr, x)
	return b
}

func fromDevice[E any](be backend, b buffer, n int) []E {
	out := make([]E, n)
	downloadSlice(be, out, b.ptr)
	return out
}

func checkCopy(t *testing.T, be backend) {
	defer recovered(t)
	x := []float64{1, -2, 3.5, math.Inf(1)}
	b := toDevice(be, x)
	defer be.free(&b)
	if got := fromDevice[float64](be, b, 4); fmt.Sprint(got) != fmt.Sprint(x) {
		t.Errorf("round trip: %v, want %v", got, x)
	}
	be.zero(b.ptr, 16)
	if got := fromDevice[float64](be, b, 4); got[0] != 0 || got[1] != 0 || got[2] != 3.5 {
		t.Errorf("after zeroing 16 bytes: %v", got)
	}
}

func checkReLU(t *testing.T, be backend) {
	defer recovered(t)
	const n = 1000 // four blocks
	x, v := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], v[i] = float32(i%7)-3, float32(i)
	}
	bx, bv, by := toDevice(be, x), toDevice(be, v), be.alloc(4*n)
	defer func() { be.free(&bx); be.free(&bv); be.free(&by) }()
	be.launch("relu_mask_f32", blocksFor(n), n, bx.ptr, bv.ptr, by.ptr)
	got := fromDevice[float32](be, by, n)
	for i := range got {
		want := float32(0)
		if x[i] > 0 {
			want = v[i]
		}
		if got[i] != want {
			t.Fatalf("relu_mask[%d] = %v, want %v", i, got[i], want)
		}
	}
}

func checkChannelSum(t *testing.T, be backend) {
	defer recovered(t)
	const n, c, hw = 3, 5, 3000 // 9000 values per channel: several blocks, many values per thread
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float64, n*c*hw)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	dst := []float64{1, 2, 3, 4, 5}
	bx, bd := toDevice(be, x), toDevice(be, dst)
	sp := reduceSplits(c, n*hw)
	part := be.alloc(8 * c * sp)
	defer func() { be.free(&bx); be.free(&bd); be.free(&part) }()
	if sp < 2 {
		t.Fatalf("%d splits: the test should cover several", sp)
	}
	be.launch("channel_sum_part_f64", c*sp, n, c, hw, sp, bx.ptr, part.ptr)
	be.launch("channel_sum_fin_f64", 1, c, sp, part.ptr, bd.ptr)
	got := fromDevice[float64](be, bd, c)
	for ch := range c {
		want := dst[ch]
		for i := range n {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				want += v
			}
		}
		if math.Abs(got[ch]-want) > 1e-12*math.Abs(want)+1e-12 {
			t.Errorf("channel_sum[%d] = %.17g, want %.17g", ch, got[ch], want)
		}
	}
}

// checkMaxPool: ties pick the first pixel of the window, a NaN wins (the
// last NaN), as autodiff's MaxPool2d; and the deterministic backward sums
// what overlapping windows send to one pixel.
func checkMaxPool(t *testing.T, be backend) {
	defer recovered(t)
	const k, s, p, h, w = 3, 2, 1, 6, 6
	x := tensor.New[float64](1, 2, h, w)
	for i := range x.Data {
		x.Data[i] = float64(i % 3) // many ties
	}
	x.Data[h*w+7], x.Data[h*w+8] = math.NaN(), math.NaN()
	mp := &autodiff.MaxPool2d[float64]{Kernel: k, Stride: s, Padding: p}
	shape := mp.Shape([]*tensor.Dense[float64]{x})
	y := tensor.New[float64](shape...)
	mp.Forward(y, []*tensor.Dense[float64]{x})
	oh, ow := shape[2], shape[3]
	bx, by, ba := toDevice(be, x.Data), be.alloc(8*len(y.Data)), be.alloc(4*len(y.Data))
	defer func() { be.free(&bx); be.free(&by); be.free(&ba) }()
	be.launch("maxpool_fwd_f64", blocksFor(len(y.Data)), 2, h, w, oh, ow, k, s, p, bx.ptr, by.ptr, ba.ptr)
	am := fromDevice[int32](be, ba, len(y.Data))
	for i, a := range mp.Argmax() {
		if am[i] != a {
			t.Fatalf("argmax[%d] = %d, want %d (autodiff's)", i, am[i], a)
		}
	}
	ybar := tensor.New[float64](shape...)
	for i := range ybar.Data {
		ybar.Data[i] = float64(i + 1)
	}
	want := tensor.New[float64](x.Shape...)
	mp.VJP([]*tensor.Dense[float64]{want}, ybar, []*tensor.Dense[float64]{x}, y)
	byb, bxb := toDevice(be, ybar.Data), be.alloc(8*len(x.Data))
	defer func() { be.free(&byb); be.free(&bxb) }()
	be.zero(bxb.ptr, 8*len(x.Data))
	be.launch("maxpool_bwd_f64", blocksFor(len(x.Data)), 2, h, w, oh, ow, k, s, p, ba.ptr, byb.ptr, bxb.ptr)
	got := fromDevice[float64](be, bxb, len(x.Data))
	for i := range got {
		if got[i] != want.Data[i] {
			t.Fatalf("x̄[%d] = %v, want %v", i, got[i], want.Data[i])
		}
	}
}

func checkGemm[T tensor.Float](t *testing.T, be backend, dt int32) {
	defer recovered(t)
	const m, n, k = 5, 7, 3
	rng := rand.New(rand.NewPCG(2, 2))
	fill := func(l int) []T {
		x := make([]T, l)
		for i := range x {
			x[i] = T(rng.NormFloat64())
		}
		return x
	}
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a, b, c := fill(m*k), fill(k*n), fill(m*n)
			ba, bb, bc := toDevice(be, a), toDevice(be, b), toDevice(be, c)
			be.gemm(dt, ta, tb, m, n, k, 2, ba.ptr, bb.ptr, 1, bc.ptr)
			got := fromDevice[T](be, bc, m*n)
			be.free(&ba)
			be.free(&bb)
			be.free(&bc)
			for i := range m {
				for j := range n {
					s := 0.0
					for l := range k {
						av, bv := a[i*k+l], b[l*n+j]
						if ta {
							av = a[l*m+i]
						}
						if tb {
							bv = b[j*k+l]
						}
						s += float64(av) * float64(bv)
					}
					want := 2*s + float64(c[i*n+j])
					if math.Abs(float64(got[i*n+j])-want) > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("ta %v tb %v: C[%d,%d] = %v, want %v", ta, tb, i, j, got[i*n+j], want)
					}
				}
			}
		}
	}
}

func checkConv[T tensor.Float](t *testing.T, be backend, dt int32) {
	defer recovered(t)
	g := convShape{n: 2, c: 3, h: 7, w: 7, o: 4, k: 3, stride: 2, pad: 1}
	g.oh, g.ow = (g.h+2*g.pad-g.k)/g.stride+1, (g.w+2*g.pad-g.k)/g.stride+1
	rng := rand.New(rand.NewPCG(3, 3))
	rnd := func(shape ...int) *tensor.Dense[T] {
		x := tensor.New[T](shape...)
		for i := range x.Data {
			x.Data[i] = T(rng.NormFloat64())
		}
		return x
	}
	x, w, y0, dy := rnd(g.n, g.c, g.h, g.w), rnd(g.o, g.c, g.k, g.k), rnd(g.n, g.o, g.oh, g.ow), rnd(g.n, g.o, g.oh, g.ow)
	prim := &autodiff.Conv2d[T]{Stride: g.stride, Padding: g.pad}
	in := []*tensor.Dense[T]{x, w}
	y := tensor.New[T](y0.Shape...)
	prim.Forward(y, in)
	dx0, dw0 := rnd(x.Shape...), rnd(w.Shape...)
	dx, dw := tensor.New[T](x.Shape...), tensor.New[T](w.Shape...)
	copy(dx.Data, dx0.Data)
	copy(dw.Data, dw0.Data)
	prim.VJP([]*tensor.Dense[T]{dx, dw}, dy, in, y)

	cv := be.conv(dt, g)
	bx, bw, by, bdy := toDevice(be, x.Data), toDevice(be, w.Data), toDevice(be, y0.Data), toDevice(be, dy.Data)
	bdx, bdw := toDevice(be, dx0.Data), toDevice(be, dw0.Data)
	defer func() {
		for _, b := range []*buffer{&bx, &bw, &by, &bdy, &bdx, &bdw} {
			be.free(b)
		}
	}()
	tol := 1e-12
	if dt == dnnFloat {
		tol = 1e-5
	}
	compare := func(what string, b buffer, want []T, plus []T) {
		got := fromDevice[T](be, b, len(want))
		for i := range got {
			wv := float64(want[i])
			if plus != nil {
				wv += float64(plus[i])
			}
			if math.Abs(float64(got[i])-wv) > tol*(1+math.Abs(wv)) {
				t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], wv)
			}
		}
	}
	cv.forward(1, bx.ptr, bw.ptr, by.ptr) // y0 + conv
	compare("forward, β = 1", by, y.Data, y0.Data)
	cv.forward(0, bx.ptr, bw.ptr, by.ptr)
	compare("forward, β = 0", by, y.Data, nil)
	cv.backwardData(bw.ptr, bdy.ptr, bdx.ptr)
	compare("backward data (accumulated)", bdx, dx.Data, nil)
	cv.backwardFilter(bx.ptr, bdy.ptr, bdw.ptr)
	compare("backward filter (accumulated)", bdw, dw.Data, nil)
}
