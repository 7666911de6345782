package autodiff_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/tensor"
)

type T = float64

// tol is the largest relative error accepted against central differences
// in float64 (Step 1e-5: truncation ~1e-10, rounding ~1e-11).
const tol = 1e-7

type primFactory = func() autodiff.Primitive[T]

// primCase is one line of the primitive table: a fresh primitive per call
// and the inputs it is checked at.
type primCase struct {
	name string
	prim primFactory
	x    []*tensor.Dense[T]
}

// primitiveCases is the table of every primitive the derivative tests run:
// each kind, shape family and code path (fused, transposed, implicit,
// parallel) at small sizes, in float64.
func primitiveCases() []primCase {
	randn := gradcheck.Randn
	in := func(x ...*tensor.Dense[T]) []*tensor.Dense[T] { return x }
	conv := func(stride, pad int) primFactory {
		return func() autodiff.Primitive[T] { return autodiff.Conv2d[T]{Stride: stride, Padding: pad} }
	}
	pool := func(k, stride, pad int) primFactory {
		return func() autodiff.Primitive[T] { return &autodiff.MaxPool2d[T]{Kernel: k, Stride: stride, Padding: pad} }
	}
	convPool := func(stride, pad, k, s, p int) primFactory {
		return func() autodiff.Primitive[T] {
			return &autodiff.Conv2dMaxPool[T]{Conv: autodiff.Conv2d[T]{Stride: stride, Padding: pad}, Pool: autodiff.MaxPool2d[T]{Kernel: k, Stride: s, Padding: p}}
		}
	}
	bnEval := func(c int, eps float64) primFactory {
		mean, v := randn(90, c).Data, affine(uniform(91, c), 1.5, 0.1).Data
		return func() autodiff.Primitive[T] {
			return autodiff.BatchNorm2dEval[T]{RunningMean: mean, RunningVar: v, Eps: eps}
		}
	}
	bnEvalReLU := func(c int, eps float64) primFactory {
		mean, v := randn(95, c).Data, affine(uniform(96, c), 1.5, 0.1).Data
		return func() autodiff.Primitive[T] {
			return autodiff.BatchNorm2dEvalReLU[T]{BatchNorm2dEval: autodiff.BatchNorm2dEval[T]{RunningMean: mean, RunningVar: v, Eps: eps}}
		}
	}
	bnEvalAddReLU := func(c int, eps float64) primFactory {
		mean, v := randn(134, c).Data, affine(uniform(135, c), 1.5, 0.1).Data
		return func() autodiff.Primitive[T] {
			return autodiff.BatchNorm2dEvalAddReLU[T]{BatchNorm2dEval: autodiff.BatchNorm2dEval[T]{RunningMean: mean, RunningVar: v, Eps: eps}}
		}
	}
	reluBNEval := func(c int, eps float64) primFactory {
		mean, v := randn(142, c).Data, affine(uniform(143, c), 1.5, 0.1).Data
		return func() autodiff.Primitive[T] {
			return autodiff.ReLUBatchNorm2dEval[T]{BatchNorm2dEval: autodiff.BatchNorm2dEval[T]{RunningMean: mean, RunningVar: v, Eps: eps}}
		}
	}
	bnTrain := func(eps float64) primFactory {
		return func() autodiff.Primitive[T] { return &autodiff.BatchNorm2dTrain[T]{Eps: eps} }
	}
	bnTrainReLU := func(eps float64) primFactory {
		return func() autodiff.Primitive[T] {
			return &autodiff.BatchNorm2dTrainReLU[T]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[T]{Eps: eps}}
		}
	}
	reluBNTrain := func(eps float64) primFactory {
		return func() autodiff.Primitive[T] {
			return &autodiff.ReLUBatchNorm2dTrain[T]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[T]{Eps: eps}}
		}
	}
	bnTrainAddReLU := func(eps float64) primFactory {
		return func() autodiff.Primitive[T] {
			return &autodiff.BatchNorm2dTrainAddReLU[T]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[T]{Eps: eps}}
		}
	}
	reshape := func(dims ...int) primFactory {
		return func() autodiff.Primitive[T] { return autodiff.Reshape[T]{Dims: dims} }
	}
	return []primCase{
		{"linear", func() autodiff.Primitive[T] { return autodiff.Linear[T]{} },
			[]*tensor.Dense[T]{randn(1, 3, 5), randn(2, 4, 5), randn(3, 4)}},
		{"linear/nobias", func() autodiff.Primitive[T] { return autodiff.Linear[T]{} },
			[]*tensor.Dense[T]{randn(4, 1, 7), randn(5, 2, 7)}},
		{"relu", func() autodiff.Primitive[T] { return autodiff.ReLU[T]{} },
			[]*tensor.Dense[T]{randn(6, 2, 3, 4, 5)}},
		{"crossentropy", func() autodiff.Primitive[T] {
			return &autodiff.SoftmaxCrossEntropy[T]{Labels: []int{0, 3, 2}}
		}, []*tensor.Dense[T]{randn(7, 3, 4)}},

		// Conv2d: x [N, C, H, W], W [O, C, kh, kw], b [O].
		{"conv/k3s1p1/bias/b3", conv(1, 1), in(randn(10, 3, 3, 7, 6), randn(11, 5, 3, 3, 3), randn(12, 5))},
		{"conv/k3s1p0/nobias/b1", conv(1, 0), in(randn(13, 1, 3, 6, 9), randn(14, 4, 3, 3, 3))},
		{"conv/k3s2p1/bias/b3", conv(2, 1), in(randn(15, 3, 2, 9, 8), randn(16, 3, 2, 3, 3), randn(17, 3))},
		{"conv/k3s2p2/nobias/b1", conv(2, 2), in(randn(18, 1, 5, 7, 5), randn(19, 3, 5, 3, 3))},
		{"conv/k3s3p2/bias/b3", conv(3, 2), in(randn(20, 3, 3, 10, 7), randn(21, 2, 3, 3, 3), randn(22, 2))},
		{"conv/k5s1p2/bias/b3", conv(1, 2), in(randn(23, 3, 3, 8, 7), randn(24, 5, 3, 5, 5), randn(25, 5))},
		{"conv/k5s1p0/nobias/b1", conv(1, 0), in(randn(26, 1, 1, 9, 11), randn(27, 3, 1, 5, 5))},
		{"conv/k5s2p1/bias/b1", conv(2, 1), in(randn(28, 1, 3, 11, 8), randn(29, 4, 3, 5, 5), randn(30, 4))},
		{"conv/k5s3p2/nobias/b3", conv(3, 2), in(randn(31, 3, 1, 7, 9), randn(32, 3, 1, 5, 5))},
		{"conv/k1s1p0/bias/b3", conv(1, 0), in(randn(33, 3, 5, 4, 6), randn(34, 3, 5, 1, 1), randn(35, 3))},
		{"conv/k1s1p0/bias/b12", conv(1, 0), in(randn(51, 12, 2, 4, 6), randn(52, 3, 2, 1, 1), randn(53, 3))},
		{"conv/k1s1p0/nobias/b1", conv(1, 0), in(randn(36, 1, 3, 5, 3), randn(37, 7, 3, 1, 1))},
		{"conv/k1s2p0/nobias/b3", conv(2, 0), in(randn(38, 3, 3, 5, 6), randn(39, 4, 3, 1, 1))},
		{"conv/k1s1p1/bias/b1", conv(1, 1), in(randn(40, 1, 3, 3, 4), randn(41, 2, 3, 1, 1), randn(42, 2))},
		{"conv/k3x5s2p1/bias/b3", conv(2, 1), in(randn(43, 3, 3, 7, 9), randn(44, 3, 3, 3, 5), randn(45, 3))},
		{"conv/k3s1p1/stride0/b3", conv(0, 1), in(randn(46, 3, 1, 5, 5), randn(47, 2, 1, 3, 3))},
		{"conv/k3s1p1/b35", conv(1, 1), in(randn(48, 35, 1, 3, 4), randn(49, 3, 1, 3, 3), randn(50, 3))},
		// Stride 1 with O·H·W ≤ C·H′·W′: x̄ by transposed convolution.
		{"conv/k3s1p1/transposed/b3", conv(1, 1), in(randn(54, 3, 4, 5, 6), randn(55, 3, 4, 3, 3), randn(56, 3))},
		{"conv/k5s1p2/transposed/b2", conv(1, 2), in(randn(57, 2, 3, 6, 5), randn(58, 2, 3, 5, 5))},
		{"conv/k3s1p0/transposed/b2", conv(1, 0), in(randn(59, 2, 6, 6, 5), randn(64, 2, 6, 3, 3), randn(65, 2))},
		{"conv/k1s1p0/transposed/b3", conv(1, 0), in(randn(66, 3, 4, 3, 5), randn(67, 2, 4, 1, 1))},
		{"conv/k3s1p1/transposed/b40", conv(1, 1), in(randn(68, 40, 2, 3, 3), randn(69, 2, 2, 3, 3), randn(71, 2))},
		// Stride 1 and at least 256 output pixels: forward products read the
		// column matrix in place from the padded image.
		{"conv/k3s1p1/implicit/b2", conv(1, 1), in(randn(130, 2, 2, 16, 17), randn(131, 3, 2, 3, 3), randn(132, 3))},
		{"conv/k3s1p0/implicit/b2", conv(1, 0), in(randn(133, 2, 3, 18, 18), randn(134, 4, 3, 3, 3))},
		{"conv/k5s1p2/implicit/b1", conv(1, 2), in(randn(135, 1, 2, 16, 16), randn(136, 2, 2, 5, 5), randn(137, 2))},
		// ... and x̄ by transposed convolution reading ȳ in place (16 input
		// channels, a pitch that wastes under a tenth).
		{"conv/k3s1p1/implicit-input/b2", conv(1, 1), in(randn(138, 2, 16, 24, 24), randn(139, 16, 16, 3, 3), randn(140, 16))},
		{"conv/k3s1p0/implicit-input/b1", conv(1, 0), in(randn(141, 1, 16, 26, 26), randn(142, 8, 16, 3, 3))},

		// Conv2dMaxPool: LeNet-5's shapes (5×5 windows, 2×2 pooling; odd
		// sizes leave pixels outside every window), overlapping windows,
		// and a strided convolution without bias.
		{"convpool/k5s1p0/pool2/bias/b3", convPool(1, 0, 2, 2, 0), in(randn(150, 3, 2, 9, 10), randn(151, 4, 2, 5, 5), randn(152, 4))},
		{"convpool/k5s1p0/pool2/c1/b2", convPool(1, 0, 2, 2, 0), in(randn(153, 2, 1, 12, 12), randn(154, 3, 1, 5, 5), randn(155, 3))},
		{"convpool/k3s1p1/pool3s2p1/bias/b2", convPool(1, 1, 3, 2, 1), in(randn(156, 2, 3, 7, 8), randn(157, 5, 3, 3, 3), randn(158, 5))},
		{"convpool/k3s2p1/pool2/nobias/b3", convPool(2, 1, 2, 2, 0), in(randn(159, 3, 2, 9, 9), randn(160, 3, 2, 3, 3))},
		{"convpool/k3s1p1/pool2s1/bias/b40", convPool(1, 1, 2, 1, 0), in(randn(161, 40, 2, 3, 4), randn(162, 2, 2, 3, 3), randn(163, 2))},
		{"convpool/k3s1p1/pool2/c6/b2", convPool(1, 1, 2, 2, 0), in(randn(164, 2, 6, 6, 7), randn(165, 3, 6, 3, 3), randn(166, 3))},

		// MaxPool2d (kernel, stride, padding) on distinct values, far from kinks.
		{"maxpool/k2s2p0", pool(2, 2, 0), in(distinct(60, 3, 3, 6, 8))},
		{"maxpool/k2s2p0/odd", pool(2, 2, 0), in(distinct(61, 1, 3, 7, 5))},
		{"maxpool/k3s2p1", pool(3, 2, 1), in(distinct(62, 3, 3, 7, 8))},
		{"maxpool/k3s2p1/even", pool(3, 2, 1), in(distinct(63, 1, 2, 8, 6))},
		{"maxpool/k2s2p1", pool(2, 2, 1), in(distinct(64, 3, 3, 5, 7))},
		{"maxpool/k3s1p1", pool(3, 1, 1), in(distinct(65, 2, 3, 5, 4))},
		{"maxpool/k2s0p0", pool(2, 0, 0), in(distinct(66, 1, 5, 4, 6))},
		{"maxpool/k3s3p0", pool(3, 3, 0), in(distinct(67, 3, 1, 9, 7))},

		{"globalavgpool", func() autodiff.Primitive[T] { return autodiff.GlobalAvgPool[T]{} }, in(randn(70, 3, 5, 4, 3))},
		{"globalavgpool/1x1", func() autodiff.Primitive[T] { return autodiff.GlobalAvgPool[T]{} }, in(randn(71, 2, 3, 1, 1))},
		{"reshape/flatten", reshape(3, -1), in(randn(72, 3, 5, 2, 3))},
		{"reshape/dims", reshape(6, 5), in(randn(73, 3, 5, 2))},
		{"add/2", func() autodiff.Primitive[T] { return autodiff.Add[T]{} }, in(randn(74, 3, 4, 2, 5), randn(75, 3, 4, 2, 5))},
		{"add/3", func() autodiff.Primitive[T] { return autodiff.Add[T]{} }, in(randn(76, 2, 3), randn(77, 2, 3), randn(78, 2, 3))},

		// BatchNorm2d: inputs (x, γ, β).
		{"bneval/b3", bnEval(4, 1e-5), in(randn(80, 3, 4, 3, 5), randn(81, 4), randn(82, 4))},
		{"bneval/b1", bnEval(4, 1e-5), in(randn(83, 1, 4, 2, 3), randn(84, 4), randn(85, 4))},
		{"bneval/1d", bnEval(4, 0.1), in(randn(86, 5, 4), randn(87, 4), randn(88, 4))},
		{"bnevalrelu/b3", bnEvalReLU(4, 1e-5), in(randn(89, 3, 4, 3, 5), randn(90, 4), randn(91, 4))},
		{"bnevalrelu/b2/s20", bnEvalReLU(3, 1e-5), in(randn(92, 2, 3, 4, 5), randn(93, 3), randn(94, 3))},
		{"relubneval/b3", reluBNEval(4, 1e-5), in(randn(136, 3, 4, 3, 5), randn(137, 4), randn(138, 4))},
		{"relubneval/b2/s20", reluBNEval(3, 1e-5), in(randn(139, 2, 3, 4, 5), randn(140, 3), randn(141, 3))},
		{"bnevaladdrelu/b3", bnEvalAddReLU(4, 1e-5), in(randn(126, 3, 4, 3, 5), randn(127, 4), randn(128, 4), randn(129, 3, 4, 3, 5))},
		{"bnevaladdrelu/b2/s20", bnEvalAddReLU(3, 1e-5), in(randn(130, 2, 3, 4, 5), randn(131, 3), randn(132, 3), randn(133, 2, 3, 4, 5))},
		{"bntrain/b1", bnTrain(1e-5), in(randn(100, 1, 3, 3, 4), randn(101, 3), randn(102, 3))},
		{"bntrain/b3", bnTrain(1e-5), in(randn(103, 3, 4, 3, 2), randn(104, 4), randn(105, 4))},
		{"bntrain/b3/eps0.5", bnTrain(0.5), in(randn(106, 3, 2, 2, 3), randn(107, 2), randn(108, 2))},
		{"bntrain/b2/1x1", bnTrain(1e-5), in(randn(109, 2, 3, 1, 1), randn(110, 3), randn(111, 3))},
		{"bntrain/1d", bnTrain(1e-5), in(randn(112, 7, 3), randn(113, 3), randn(114, 3))},
		{"bntrain/offset", bnTrain(1e-5), in(affine(randn(115, 3, 2, 3, 3), 0.3, 4), randn(116, 2), randn(117, 2))},
		{"bntrainrelu/b3", bnTrainReLU(1e-5), in(randn(150, 3, 4, 3, 2), randn(151, 4), randn(152, 4))},
		{"bntrainrelu/b2/s20", bnTrainReLU(1e-5), in(randn(153, 2, 3, 4, 5), randn(154, 3), randn(155, 3))},
		{"relubntrain/b3", reluBNTrain(1e-5), in(randn(164, 3, 4, 3, 2), randn(165, 4), randn(166, 4))},
		{"relubntrain/b2/s20", reluBNTrain(1e-5), in(randn(167, 2, 3, 4, 5), randn(168, 3), randn(169, 3))},
		{"bntrainaddrelu/b3", bnTrainAddReLU(1e-5), in(randn(156, 3, 4, 3, 2), randn(157, 4), randn(158, 4), randn(159, 3, 4, 3, 2))},
		{"bntrainaddrelu/b2/s20", bnTrainAddReLU(1e-5), in(randn(160, 2, 3, 4, 5), randn(161, 3), randn(162, 3), randn(163, 2, 3, 4, 5))},

		{"tanh", func() autodiff.Primitive[T] { return autodiff.Tanh[T]{} }, in(affine(randn(120, 3, 4, 5), 2, 0))},
		{"softplus", func() autodiff.Primitive[T] { return autodiff.Softplus[T]{} }, in(affine(randn(121, 3, 4, 5), 5, 0))},
		{"softplus/parallel", func() autodiff.Primitive[T] { return autodiff.Softplus[T]{} }, in(affine(randn(124, 5, 100, 80), 5, 0))},
		{"tanh/parallel", func() autodiff.Primitive[T] { return autodiff.Tanh[T]{} }, in(randn(125, 5, 100, 80))},
		{"softplus/large", func() autodiff.Primitive[T] { return autodiff.Softplus[T]{} }, in(affine(uniform(122, 4, 5), 40, 21))},
		{"softplus/negative", func() autodiff.Primitive[T] { return autodiff.Softplus[T]{} }, in(affine(uniform(123, 4, 5), 30, -50))},
	}
}

func TestPrimitives(t *testing.T) {
	for _, c := range primitiveCases() {
		t.Run(c.name, func(t *testing.T) {
			e := gradcheck.Primitive(c.prim, c.x, 42)
			t.Logf("relative errors: JVP %.2g VJP %.2g VJPDot %.2g fused %.2g", e.JVP, e.VJP, e.VJPDot, e.Pair)
			if e.Max() > tol {
				t.Errorf("derivative error %+v exceeds %g", e, tol)
			}
		})
	}
}

// distinct returns a tensor whose values are a seeded shuffle of an evenly
// spaced grid in [−2, 2): no two are closer than 4/n, far more than a finite
// difference step moves them, so max-pooling is away from its kinks.
func distinct(seed uint64, shape ...int) *tensor.Dense[T] {
	x := tensor.New[T](shape...)
	n := len(x.Data)
	for i, p := range rand.New(rand.NewPCG(seed, 3)).Perm(n) {
		x.Data[i] = 4*float64(p)/float64(n) - 2
	}
	return x
}

// uniform returns seeded values uniform in [0, 1).
func uniform(seed uint64, shape ...int) *tensor.Dense[T] {
	x := tensor.New[T](shape...)
	rng := rand.New(rand.NewPCG(seed, 4))
	for i := range x.Data {
		x.Data[i] = rng.Float64()
	}
	return x
}

// affine returns a·x + b elementwise, in place.
func affine(x *tensor.Dense[T], a, b float64) *tensor.Dense[T] {
	for i, v := range x.Data {
		x.Data[i] = a*v + b
	}
	return x
}

// relErr is ‖got − want‖∞ / ‖want‖∞.
func relErr[A, B tensor.Float](got []A, want []B) float64 {
	var d, s float64
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		s = max(s, math.Abs(float64(want[i])))
	}
	return d / s
}
