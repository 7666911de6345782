package autodiff_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// f32Case is a primitive made for both float types, with inputs.
type f32Case struct {
	name string
	p32  func() autodiff.Primitive[float32]
	p64  func() autodiff.Primitive[float64]
	x    []*tensor.Dense[float64] // inputs; the float32 ones are rounded copies
}

// regroups lists the primitives whose VJPPair groups x̄̇'s sum differently
// from the separate calls (ReLUBatchNorm2dEval adds the BatchNorm's two
// terms before the ReLU passes them back), so the two agree to rounding
// only, within the given fraction of the largest value; the tape's bits
// are those of VJPPair. So does Conv2d's where it runs by Winograd's
// algorithm (x̄̇'s two products are summed before the one output
// transform); the tiles of F(2×2, 5×5) and of F(4×4, 3×3) (the weight
// cotangents of the layers at least 12 wide: W̄̇'s two products regrouped
// likewise) hold values up to ~100 times the pixels' (Bᵀ's and G's sums),
// so their roundings are larger, within the bound of the float64
// comparison. LeNet-5's second layer, and the down-sampling layer, sum
// x̄̇'s two products before col2im.
var regroups = map[string]float64{"relubneval": 1e-6, "conv/winograd-p1": 1e-5, "conv/winograd-p0": 1e-5, "conv/winograd-32": 1e-5, "conv/winograd-16": 1e-5, "conv/winograd-128": 1e-6,
	"conv/winograd5-p2": 1e-5, "conv/winograd5-p0": 1e-5, "conv/windows": 1e-6, "conv/direct-s2": 1e-6}

func f32Cases() []f32Case {
	rng := rand.New(rand.NewPCG(11, 12))
	randn := func(shape ...int) *tensor.Dense[float64] {
		t := tensor.New[float64](shape...)
		for i := range t.Data {
			// Rounded to float32, so both types see the same inputs.
			t.Data[i] = float64(float32(rng.NormFloat64()))
		}
		return t
	}
	// S = 9·10 values per channel: whole blocks of the vector kernels and a
	// tail; [N, C] for BatchNorm1d.
	shape := []int{5, 6, 9, 10}
	big := []int{8, 16, 17, 16} // above the size spread over goroutines
	mean, vr := randn(6).Data, randn(6).Data
	for i := range vr {
		vr[i] = 0.5 + vr[i]*vr[i]
	}
	mean32, vr32 := to32(mean), to32(vr)
	return []f32Case{
		{"relu", func() autodiff.Primitive[float32] { return autodiff.ReLU[float32]{} },
			func() autodiff.Primitive[float64] { return autodiff.ReLU[float64]{} }, []*tensor.Dense[float64]{randn(big...)}},
		{"add", func() autodiff.Primitive[float32] { return autodiff.Add[float32]{} },
			func() autodiff.Primitive[float64] { return autodiff.Add[float64]{} }, []*tensor.Dense[float64]{randn(big...), randn(big...)}},
		{"bneval", func() autodiff.Primitive[float32] {
			return autodiff.BatchNorm2dEval[float32]{RunningMean: mean32, RunningVar: vr32, Eps: 1e-5}
		}, func() autodiff.Primitive[float64] {
			return autodiff.BatchNorm2dEval[float64]{RunningMean: mean, RunningVar: vr, Eps: 1e-5}
		}, []*tensor.Dense[float64]{randn(shape...), randn(6), randn(6)}},
		{"bneval/1d", func() autodiff.Primitive[float32] {
			return autodiff.BatchNorm2dEval[float32]{RunningMean: mean32, RunningVar: vr32, Eps: 1e-5}
		}, func() autodiff.Primitive[float64] {
			return autodiff.BatchNorm2dEval[float64]{RunningMean: mean, RunningVar: vr, Eps: 1e-5}
		}, []*tensor.Dense[float64]{randn(40, 6), randn(6), randn(6)}},
		{"bnevalrelu", func() autodiff.Primitive[float32] {
			return autodiff.BatchNorm2dEvalReLU[float32]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float32]{RunningMean: mean32, RunningVar: vr32, Eps: 1e-5}}
		}, func() autodiff.Primitive[float64] {
			return autodiff.BatchNorm2dEvalReLU[float64]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float64]{RunningMean: mean, RunningVar: vr, Eps: 1e-5}}
		}, []*tensor.Dense[float64]{randn(shape...), randn(6), randn(6)}},
		{"bnevaladdrelu", func() autodiff.Primitive[float32] {
			return autodiff.BatchNorm2dEvalAddReLU[float32]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float32]{RunningMean: mean32, RunningVar: vr32, Eps: 1e-5}}
		}, func() autodiff.Primitive[float64] {
			return autodiff.BatchNorm2dEvalAddReLU[float64]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float64]{RunningMean: mean, RunningVar: vr, Eps: 1e-5}}
		}, []*tensor.Dense[float64]{randn(shape...), randn(6), randn(6), randn(shape...)}},
		{"relubneval", func() autodiff.Primitive[float32] {
			return autodiff.ReLUBatchNorm2dEval[float32]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float32]{RunningMean: mean32, RunningVar: vr32, Eps: 1e-5}}
		}, func() autodiff.Primitive[float64] {
			return autodiff.ReLUBatchNorm2dEval[float64]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float64]{RunningMean: mean, RunningVar: vr, Eps: 1e-5}}
		}, []*tensor.Dense[float64]{randn(shape...), randn(6), randn(6)}},
		{"bntrain", func() autodiff.Primitive[float32] { return &autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5} },
			func() autodiff.Primitive[float64] { return &autodiff.BatchNorm2dTrain[float64]{Eps: 1e-5} },
			[]*tensor.Dense[float64]{randn(shape...), randn(6), randn(6)}},
		{"maxpool/k2s2", func() autodiff.Primitive[float32] { return &autodiff.MaxPool2d[float32]{Kernel: 2} },
			func() autodiff.Primitive[float64] { return &autodiff.MaxPool2d[float64]{Kernel: 2} }, []*tensor.Dense[float64]{randn(shape...)}},
		{"maxpool/k3s2p1", func() autodiff.Primitive[float32] {
			return &autodiff.MaxPool2d[float32]{Kernel: 3, Stride: 2, Padding: 1}
		},
			func() autodiff.Primitive[float64] {
				return &autodiff.MaxPool2d[float64]{Kernel: 3, Stride: 2, Padding: 1}
			},
			[]*tensor.Dense[float64]{randn(shape...)}},
		// Convolutions of the shapes Winograd's algorithm takes (with
		// AVX-512): x̄ by its transposed form too (padding 1, and 2 for
		// the forward padding 0); 32 wide, 16 tiles to a row.
		{"conv/winograd-p1", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{Padding: 1} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{Padding: 1} },
			[]*tensor.Dense[float64]{randn(2, 32, 16, 16), randn(32, 32, 3, 3), randn(32)}},
		{"conv/winograd-p0", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{} },
			[]*tensor.Dense[float64]{randn(2, 32, 18, 18), randn(33, 32, 3, 3), randn(33)}},
		// 128 channels: the weight cotangents by Winograd's algorithm too.
		{"conv/winograd-128", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{Padding: 1} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{Padding: 1} },
			[]*tensor.Dense[float64]{randn(3, 128, 4, 6), randn(128, 128, 3, 3), randn(128)}},
		{"conv/winograd-32", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{Padding: 1} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{Padding: 1} },
			[]*tensor.Dense[float64]{randn(1, 32, 32, 32), randn(32, 32, 3, 3), randn(32)}},
		// 5×5 by F(2×2, 5×5) (AVX-512 or AVX2, from 32 channels): C1's padding
		// 2 (x̄ by the transposed form of padding 2; three images, chunks
		// of two and one) and padding 0 (x̄ of padding 4; five images of
		// 16 tiles, one chunk).
		{"conv/winograd5-p2", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{Padding: 2} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{Padding: 2} },
			[]*tensor.Dense[float64]{randn(3, 32, 16, 16), randn(32, 32, 5, 5), randn(32)}},
		{"conv/winograd5-p0", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{} },
			[]*tensor.Dense[float64]{randn(5, 32, 12, 12), randn(33, 32, 5, 5), randn(33)}},
		// LeNet-5's second layer: 5×20 = 100 values to a window row, the
		// weight cotangents from whole gathered windows (weightWindows).
		{"conv/windows", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{} },
			[]*tensor.Dense[float64]{randn(4, 20, 12, 12), randn(50, 20, 5, 5), randn(50)}},
		{"globalavgpool", func() autodiff.Primitive[float32] { return autodiff.GlobalAvgPool[float32]{} },
			func() autodiff.Primitive[float64] { return autodiff.GlobalAvgPool[float64]{} }, []*tensor.Dense[float64]{randn(shape...)}},
		// Enough values (minParallel) for the rows to be spread over the CPUs.
		{"globalavgpool/parallel", func() autodiff.Primitive[float32] { return autodiff.GlobalAvgPool[float32]{} },
			func() autodiff.Primitive[float64] { return autodiff.GlobalAvgPool[float64]{} }, []*tensor.Dense[float64]{randn(40, 16, 8, 8)}},
		// Added last, so that the cases above keep their random draws.
		{"bntrainrelu", func() autodiff.Primitive[float32] {
			return &autodiff.BatchNorm2dTrainReLU[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}
		}, func() autodiff.Primitive[float64] {
			return &autodiff.BatchNorm2dTrainReLU[float64]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float64]{Eps: 1e-5}}
		}, []*tensor.Dense[float64]{randn(shape...), randn(6), randn(6)}},
		{"relubntrain", func() autodiff.Primitive[float32] {
			return &autodiff.ReLUBatchNorm2dTrain[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}
		}, func() autodiff.Primitive[float64] {
			return &autodiff.ReLUBatchNorm2dTrain[float64]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float64]{Eps: 1e-5}}
		}, []*tensor.Dense[float64]{randn(shape...), randn(6), randn(6)}},
		{"bntrainaddrelu", func() autodiff.Primitive[float32] {
			return &autodiff.BatchNorm2dTrainAddReLU[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}
		}, func() autodiff.Primitive[float64] {
			return &autodiff.BatchNorm2dTrainAddReLU[float64]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float64]{Eps: 1e-5}}
		}, []*tensor.Dense[float64]{randn(shape...), randn(6), randn(6), randn(shape...)}},
		// 16 channels 32 wide: the weight cotangents by F(4×4, 3×3), their
		// products in place (kernels.GemmInPlace) where AVX-512 runs
		// them. Last, so that the cases before it keep their random values.
		{"conv/winograd-16", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{Padding: 1} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{Padding: 1} },
			[]*tensor.Dense[float64]{randn(2, 16, 32, 32), randn(16, 16, 3, 3), randn(16)}},
		// A down-sampling layer (stride 2): its direct products in place
		// (directInPlace, with AVX-512), 40 output channels (strips of 20
		// rows from the weights' columns) over 144-value windows, 45
		// pixels an image (a chunk of 3 images ends in a block of 7
		// columns).
		{"conv/direct-s2", func() autodiff.Primitive[float32] { return autodiff.Conv2d[float32]{Stride: 2, Padding: 1} },
			func() autodiff.Primitive[float64] { return autodiff.Conv2d[float64]{Stride: 2, Padding: 1} },
			[]*tensor.Dense[float64]{randn(3, 16, 9, 17), randn(40, 16, 3, 3), randn(40)}},
	}
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func dense32(t *tensor.Dense[float64]) *tensor.Dense[float32] {
	if t == nil {
		return nil
	}
	return tensor.FromSlice(to32(t.Data), t.Shape...)
}

// allResults runs every path of a primitive: Forward, JVP, ForwardJVP,
// VJP, CurvatureVJP and VJPPair (into cotangents that hold values), and
// returns their outputs by name.
func allResults[F tensor.Float](p func() autodiff.Primitive[F], x, xDot []*tensor.Dense[F], yBar, yBarDot *tensor.Dense[F], init []*tensor.Dense[F]) map[string][]F {
	out := map[string][]F{}
	p0 := p()
	y := tensor.New[F](p0.Shape(x)...)
	p0.Forward(y, x)
	yDot := tensor.New[F](y.Shape...)
	p0.JVP(yDot, x, xDot, y)
	out["y"], out["yDot"] = y.Data, yDot.Data
	if pj, ok := p().(autodiff.PairJVP[F]); ok {
		y2, yDot2 := tensor.New[F](y.Shape...), tensor.New[F](y.Shape...)
		pj.ForwardJVP(y2, yDot2, x, xDot)
		out["ForwardJVP y"], out["ForwardJVP yDot"] = y2.Data, yDot2.Data
	}
	cots := func() (bar, barDot []*tensor.Dense[F]) {
		for _, t := range init {
			bar, barDot = append(bar, t.Clone()), append(barDot, t.Clone())
		}
		return bar, barDot
	}
	bar, barDot := cots()
	p0.VJP(bar, yBar, x, y)
	p0.VJP(barDot, yBarDot, x, y)
	if cv, ok := p0.(autodiff.Curved[F]); ok {
		cv.CurvatureVJP(barDot, yBar, x, xDot, y, yDot)
	}
	for i := range bar {
		out[fmt.Sprintf("xBar[%d]", i)], out[fmt.Sprintf("xBarDot[%d]", i)] = bar[i].Data, barDot[i].Data
	}
	if pv, ok := p0.(autodiff.PairVJP[F]); ok {
		bar, barDot := cots()
		pv.VJPPair(bar, barDot, yBar, yBarDot, x, xDot, y, yDot)
		for i := range bar {
			out[fmt.Sprintf("VJPPair xBar[%d]", i)], out[fmt.Sprintf("VJPPair xBarDot[%d]", i)] = bar[i].Data, barDot[i].Data
		}
	}
	return out
}

// TestFloat32Paths checks the element-wise primitives in float32, where the
// vector kernels run: the fused paths (ForwardJVP, VJPPair) give the bits of
// the separate calls, every result is bit-identical for 1, 2 and 3 threads,
// and it matches the float64 primitive on the same inputs to float32
// rounding.
func TestFloat32Paths(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range f32Cases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, 14))
			randLike := func(t *tensor.Dense[float64]) *tensor.Dense[float64] {
				u := tensor.New[float64](t.Shape...)
				for i := range u.Data {
					u.Data[i] = float64(float32(rng.NormFloat64()))
				}
				return u
			}
			var xDot, init []*tensor.Dense[float64]
			for _, xi := range c.x {
				xDot, init = append(xDot, randLike(xi)), append(init, randLike(xi))
			}
			yShape := c.p64().Shape(c.x)
			yBar, yBarDot := randLike(tensor.New[float64](yShape...)), randLike(tensor.New[float64](yShape...))
			conv := func(ts []*tensor.Dense[float64]) []*tensor.Dense[float32] {
				var out []*tensor.Dense[float32]
				for _, t := range ts {
					out = append(out, dense32(t))
				}
				return out
			}
			ref := allResults(c.p64, c.x, xDot, yBar, yBarDot, init)
			var first map[string][]float32
			for _, procs := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(procs)
				got := allResults(c.p32, conv(c.x), conv(xDot), dense32(yBar), dense32(yBarDot), conv(init))
				if first == nil {
					first = got
				}
				for name, v := range got {
					for i := range v {
						if math.Float32bits(v[i]) != math.Float32bits(first[name][i]) {
							t.Fatalf("%s[%d] with %d threads: %v, with 1: %v", name, i, procs, v[i], first[name][i])
						}
					}
				}
			}
			for name, v := range first {
				sep := name
				switch name {
				case "ForwardJVP y":
					sep = "y"
				case "ForwardJVP yDot":
					sep = "yDot"
				default:
					if len(name) > 8 && name[:8] == "VJPPair " {
						sep = name[8:]
					}
				}
				if sep != name {
					scale := maxAbs(v)
					for i := range v {
						if tol := regroups[c.name]; tol > 0 && name[:8] == "VJPPair " {
							if d := math.Abs(float64(v[i]) - float64(first[sep][i])); d > tol*scale {
								t.Errorf("%s[%d] = %v, separate calls give %v", name, i, v[i], first[sep][i])
								break
							}
							continue
						}
						if math.Float32bits(v[i]) != math.Float32bits(first[sep][i]) {
							t.Errorf("%s[%d] = %v, separate calls give %v", name, i, v[i], first[sep][i])
							break
						}
					}
				}
				want := ref[name]
				var d, s float64
				for i := range want {
					d = max(d, math.Abs(float64(v[i])-want[i]))
					s = max(s, math.Abs(want[i]))
				}
				if d > 1e-5*s {
					t.Errorf("%s: float32 differs from float64 by %.2g (scale %.2g)", name, d, s)
				}
			}
		})
	}
}

// TestBatchNormReLUFused checks that BatchNorm2dEvalReLU and
// BatchNorm2dEvalAddReLU (and ReLUBatchNorm2dEval), and in training
// BatchNorm2dTrainReLU, BatchNorm2dTrainAddReLU and ReLUBatchNorm2dTrain,
// give, bit for bit,
// every value, tangent, gradient and Hessian-vector product of the
// BatchNorm followed by ReLU (or Add of a shortcut and ReLU) on a tape,
// with a tanh after them so that the ReLU gets a tangent of its cotangent,
// in float32 where the vector kernels run, for a second-order and a
// first-order backward pass, with the shortcut's tangent missing, and with
// no cotangent wanted for the shortcut.
func TestBatchNormReLUFused(t *testing.T) {
	cases := f32Cases()
	var c f32Case
	for _, k := range cases {
		if k.name == "bneval" {
			c = k
		}
	}
	bn := c.p32().(autodiff.BatchNorm2dEval[float32])
	rng := rand.New(rand.NewPCG(15, 16))
	like := func(t *tensor.Dense[float64]) *tensor.Dense[float32] {
		u := tensor.New[float32](t.Shape...)
		for i := range u.Data {
			u.Data[i] = float32(rng.NormFloat64())
		}
		return u
	}
	x := []*tensor.Dense[float32]{dense32(c.x[0]), dense32(c.x[1]), dense32(c.x[2]), like(c.x[0])}
	xDot := []*tensor.Dense[float32]{like(c.x[0]), like(c.x[1]), like(c.x[2]), like(c.x[0])}
	seed := like(c.x[0])
	for _, k := range []struct {
		name                                  string
		add, reluFirst, second, noSDot, train bool
	}{
		{"relu/second", false, false, true, false, false}, {"relu/first", false, false, false, false, false},
		{"addrelu/second", true, false, true, false, false}, {"addrelu/first", true, false, false, false, false},
		{"addrelu/noSDot", true, false, true, true, false},
		{"relubn/second", false, true, true, false, false}, {"relubn/first", false, true, false, false, false},
		{"train/relu/second", false, false, true, false, true}, {"train/relu/first", false, false, false, false, true},
		{"train/addrelu/second", true, false, true, false, true}, {"train/addrelu/first", true, false, false, false, true},
		{"train/addrelu/noSDot", true, false, true, true, true},
		{"train/relubn/second", false, true, true, false, true}, {"train/relubn/first", false, true, false, false, true},
		// No cotangent wanted for the shortcut.
		{"addrelu/noSBar", true, false, true, false, false}, {"addrelu/noSBar/first", true, false, false, false, false},
		{"train/addrelu/noSBar", true, false, true, false, true}, {"train/addrelu/noSBar/first", true, false, false, false, true},
	} {
		var pass func(tp *autodiff.Tape[float32], fused bool) [][]float32
		// bnOf returns the BatchNorm primitive of the separate chain.
		bnOf := func() autodiff.Primitive[float32] {
			if k.train {
				return &autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}
			}
			return bn
		}
		// run does the pass twice on one tape, returning the second's
		// results: its buffers are the first's, reused (Reset), so that a
		// fresh cotangent holds old values, not zeros.
		run := func(fused bool) (out [][]float32) {
			tp := autodiff.NewTape[float32]()
			pass(tp, fused)
			tp.Reset()
			return pass(tp, fused)
		}
		pass = func(tp *autodiff.Tape[float32], fused bool) (out [][]float32) {
			var vs []autodiff.Var
			for i := range x {
				d := xDot[i]
				if i == 3 && k.noSDot {
					d = nil
				}
				vs = append(vs, tp.Leaf(x[i], d, !(i == 3 && strings.Contains(k.name, "noSBar"))))
			}
			var y autodiff.Var
			switch {
			case fused && k.train && k.add:
				y = tp.Apply(&autodiff.BatchNorm2dTrainAddReLU[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}, vs...)
			case fused && k.train && k.reluFirst:
				y = tp.Apply(&autodiff.ReLUBatchNorm2dTrain[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}, vs[:3]...)
			case fused && k.train:
				y = tp.Apply(&autodiff.BatchNorm2dTrainReLU[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}, vs[:3]...)
			case fused && k.reluFirst:
				y = tp.Apply(autodiff.ReLUBatchNorm2dEval[float32]{BatchNorm2dEval: bn}, vs[:3]...)
			case k.reluFirst:
				y = tp.Apply(bnOf(), tp.Apply(autodiff.ReLU[float32]{}, vs[0]), vs[1], vs[2])
			case fused && k.add:
				y = tp.Apply(autodiff.BatchNorm2dEvalAddReLU[float32]{BatchNorm2dEval: bn}, vs...)
			case fused:
				y = tp.Apply(autodiff.BatchNorm2dEvalReLU[float32]{BatchNorm2dEval: bn}, vs[:3]...)
			case k.add:
				y = tp.Apply(autodiff.ReLU[float32]{}, tp.Apply(autodiff.Add[float32]{}, tp.Apply(bnOf(), vs[:3]...), vs[3]))
			default:
				y = tp.Apply(autodiff.ReLU[float32]{}, tp.Apply(bnOf(), vs[:3]...))
			}
			o := tp.Apply(autodiff.Tanh[float32]{}, y)
			// y's tangent is recycled by BackwardFrom: a copy.
			out = append(out, tp.Value(y).Data, slices.Clone(tp.Tangent(y).Data))
			tp.BackwardFrom(o, seed, k.second)
			for _, v := range vs {
				if g := tp.Grad(v); g != nil {
					out = append(out, g.Data)
				}
				if g := tp.GradDot(v); k.second && g != nil {
					out = append(out, g.Data)
				}
			}
			return out
		}
		fused, sep := run(true), run(false)
		if len(fused) != len(sep) {
			t.Fatalf("%s: %d results fused, %d separate", k.name, len(fused), len(sep))
		}
		for j := range sep {
			for i := range sep[j] {
				if math.Float32bits(fused[j][i]) != math.Float32bits(sep[j][i]) {
					t.Fatalf("%s: result %d, element %d: fused %v, separate %v", k.name, j, i, fused[j][i], sep[j][i])
				}
			}
		}
	}
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}
