package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"hesscope/kernels"
	"hesscope/tensor"
)

// BenchmarkChained times the forward pass of a convolution and the
// image-wise primitives after it, chained (each computes its images as the
// one before writes them) and not (noChunks: separate sweeps), on the
// tape, float32, batch 128: ResNet-20's 16-channel 32×32 layer (Winograd's
// products) and its 64-channel 8×8 one with BatchNorm → ReLU, its stride-2
// layer (column matrices), C2's 30×30 layer with ReLU → BatchNorm, C1's
// second with ReLU → BatchNorm → max-pooling, and LeNet-5's first with
// max-pooling → ReLU (its columns read in place).
func BenchmarkChained(b *testing.B) {
	for _, c := range []struct {
		name        string
		x, w        []int
		stride, pad int
		kind        string
	}{
		{"resnet20-layer1", []int{128, 16, 32, 32}, []int{16, 16, 3, 3}, 1, 1, "bnrelu"},
		{"resnet20-layer2", []int{128, 32, 16, 16}, []int{32, 32, 3, 3}, 1, 1, "bnrelu"},
		{"resnet20-layer3", []int{128, 64, 8, 8}, []int{64, 64, 3, 3}, 1, 1, "bnrelu"},
		{"resnet20-conv1", []int{128, 3, 32, 32}, []int{16, 3, 3, 3}, 1, 1, "bnrelu"},
		{"c2-conv1", []int{128, 3, 32, 32}, []int{64, 3, 3, 3}, 1, 0, "relubn"},
		{"c2-conv4", []int{128, 128, 12, 12}, []int{128, 128, 3, 3}, 1, 0, "relubn+maxpool"},
		{"resnet20-down2", []int{128, 16, 32, 32}, []int{32, 16, 3, 3}, 2, 1, "bnrelu"},
		{"c2-conv2", []int{128, 64, 30, 30}, []int{64, 64, 3, 3}, 1, 0, "relubn"},
		{"c1-conv2", []int{128, 64, 16, 16}, []int{64, 64, 5, 5}, 1, 2, "relubn+maxpool"},
		{"lenet5-conv1", []int{128, 1, 28, 28}, []int{20, 1, 5, 5}, 1, 0, "maxpool+relu"},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		fill := func(shape ...int) *tensor.Dense[float32] {
			t := tensor.New[float32](shape...)
			for i := range t.Data {
				t.Data[i] = float32(rng.NormFloat64())
			}
			return t
		}
		o := c.w[0]
		x, w, bias, gamma, vr := fill(c.x...), fill(c.w...), fill(o), fill(o), fill(o)
		for i := range vr.Data {
			vr.Data[i] = 1 + vr.Data[i]*vr.Data[i]
		}
		tp := NewTape[float32]()
		for _, chain := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/chained=%v", c.name, chain), func(b *testing.B) {
				defer func(old bool) { noChunks = old }(noChunks)
				noChunks = !chain
				for b.Loop() {
					tp.Reset()
					tp.Value(chainNet(b, tp, x, w, bias, gamma, vr, nil, c.stride, c.pad, c.kind, false))
				}
			})
		}
	}
}

// chainNet records on tp a convolution of x (stride, pad; bias if b is
// non-nil) followed by the primitives of kind, and returns the output:
// "bnrelu", "relubn", "bnaddrelu" (with the shortcut s), "maxpool",
// "relu", "maxpool+relu" (LeNet-5's), "relubn+maxpool" (C1's) join the
// chain; "add" (the convolution's output twice) does not; "none" is the
// convolution's output itself, read while pending. It checks which values
// the tape leaves pending.
func chainNet[U tensor.Float](t testing.TB, tp *Tape[U], x, w, b, gamma, beta, s *tensor.Dense[U], stride, pad int, kind string, tangent bool) Var {
	t.Helper()
	var xd *tensor.Dense[U]
	if tangent {
		xd = x // any tangent: the chain must not form
	}
	vx := tp.Leaf(x, xd, true)
	in := []Var{vx, tp.Leaf(w, nil, true)}
	if b != nil {
		in = append(in, tp.Leaf(b, nil, true))
	}
	vg, vb, vs := tp.Leaf(gamma, nil, true), tp.Leaf(beta, nil, true), Var(-1)
	if s != nil {
		vs = tp.Leaf(s, nil, true)
	}
	chains := !tangent && !noChunks
	check := func(want []Var) {
		t.Helper()
		if !chains {
			want = nil
		}
		if !slices.Equal(tp.chain, want) {
			t.Fatalf("%s: pending %v, want %v", kind, tp.chain, want)
		}
	}
	h := tp.Apply(Conv2d[U]{Stride: stride, Padding: pad}, in...)
	check([]Var{h})
	bn := BatchNorm2dEval[U]{RunningMean: gamma.Data, RunningVar: beta.Data, Eps: 0.5}
	y := h
	for _, k := range strings.Split(kind, "+") {
		var p Primitive[U]
		in := []Var{y}
		switch k {
		case "bnrelu":
			p, in = BatchNorm2dEvalReLU[U]{BatchNorm2dEval: bn}, []Var{y, vg, vb}
		case "relubn":
			p, in = ReLUBatchNorm2dEval[U]{BatchNorm2dEval: bn}, []Var{y, vg, vb}
		case "bnaddrelu":
			p, in = BatchNorm2dEvalAddReLU[U]{BatchNorm2dEval: bn}, []Var{y, vg, vb, vs}
		case "maxpool":
			p = &MaxPool2d[U]{Kernel: 2}
		case "relu":
			p = ReLU[U]{}
		case "add":
			p, in = Add[U]{}, []Var{y, y}
		case "none":
			return h
		}
		want := append(slices.Clone(tp.chain), Var(tp.Len()))
		if k == "add" {
			want = nil
		}
		y = tp.Apply(p, in...)
		check(want)
	}
	return y
}

// TestChained checks that a convolution and the primitives chained after
// it give the same bits chained (computed chunk by chunk as the
// convolution writes its output) as computed one after the other, values
// and gradients, on each of the convolution's forward paths (Winograd's
// products, the column matrices read in place, im2col), with and without
// bias, float32 and float64; and that the tape chains them only without
// tangents and computes a pending value before anything reads it.
func TestChained(t *testing.T) {
	testChained[float32](t)
	testChained[float64](t)
}

func testChained[U tensor.Float](t *testing.T) {
	defer func(old bool) { noChunks = old }(noChunks)
	rng := rand.New(rand.NewPCG(3, 4))
	fill := func(shape ...int) *tensor.Dense[U] {
		d := tensor.New[U](shape...)
		for i := range d.Data {
			d.Data[i] = U(rng.NormFloat64())
		}
		return d
	}
	for _, c := range []struct {
		name        string
		x, w        []int
		stride, pad int
	}{
		{"winograd", []int{5, 16, 10, 10}, []int{16, 16, 3, 3}, 1, 1},
		{"implicit", []int{2, 3, 32, 32}, []int{4, 3, 3, 3}, 1, 1},
		{"im2col", []int{7, 4, 9, 9}, []int{6, 4, 3, 3}, 2, 1},
		{"im2col-chunks", []int{9, 2, 5, 5}, []int{3, 2, 3, 3}, 1, 0},
	} {
		for _, kind := range []string{"bnrelu", "relubn", "bnaddrelu", "maxpool", "relu", "maxpool+relu", "relubn+maxpool", "add", "none"} {
			for _, bias := range []bool{false, true} {
				for _, tangent := range []bool{false, true} {
					o := c.w[0]
					x, w := fill(c.x...), fill(c.w...)
					var b *tensor.Dense[U]
					if bias {
						b = fill(o)
					}
					gamma, beta := fill(o), fill(o)
					for i := range beta.Data {
						beta.Data[i] = beta.Data[i] * beta.Data[i] // the running variance
					}
					conv := Conv2d[U]{Stride: c.stride, Padding: c.pad}
					out := conv.Shape([]*tensor.Dense[U]{x, w})

					g := conv.geom([]*tensor.Dense[U]{x, w})
					path := "im2col"
					switch {
					case winogradShape[U](g.ConvShape, g.O):
						path = "winograd"
					case g.implicit():
						path = "implicit"
					}
					wantPath := strings.TrimSuffix(c.name, "-chunks")
					if _, f64 := any(U(0)).(float64); wantPath == "winograd" && (f64 || !kernels.WinogradFast[float32]()) {
						wantPath = "im2col" // no Winograd for float64, or without its assembly
					}
					if path != wantPath {
						t.Fatalf("%T %s: takes the %s path", U(0), c.name, path)
					}
					s := fill(out...)
					run := func(chain bool) (vals []*tensor.Dense[U]) {
						noChunks = !chain
						tp := NewTape[U]()
						y := chainNet(t, tp, x, w, b, gamma, beta, s, c.stride, c.pad, kind, tangent)
						vals = append(vals, tp.Value(y).Clone())
						seed := tensor.New[U](tp.Value(y).Shape...)
						r := rand.New(rand.NewPCG(5, 6))
						for i := range seed.Data {
							seed.Data[i] = U(r.NormFloat64())
						}
						tp.BackwardFrom(y, seed, false)
						for v := Var(0); v < Var(tp.Len()); v++ {
							if g := tp.Grad(v); g != nil {
								vals = append(vals, g.Clone())
							}
						}
						return vals
					}
					want, got := run(false), run(true)
					for i := range want {
						if !slices.EqualFunc(got[i].Data, want[i].Data, func(a, b U) bool {
							return math.Float64bits(float64(a)) == math.Float64bits(float64(b))
						}) {
							t.Fatalf("%T %s %s bias %v tangent %v: result %d differs chained", U(0), c.name, kind, bias, tangent, i)
						}
					}
				}
			}
		}
	}
}
