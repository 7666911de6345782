package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hesscope/tensor"
)

// passWith runs pass with every cotangent kept until Reset (reused false:
// each on a buffer of its own) or with Backward recycling them, each
// recycled one filled with NaN first (reused true).
func passWith(pass func() []float32, reused bool) []float32 {
	defer func() { noRecycle, poisonRecycled = false, false }()
	noRecycle, poisonRecycled = !reused, reused
	return pass()
}

// freshAgainstReused runs pass on tp with fresh buffers, then again with
// every pooled buffer and recycled cotangent filled with NaN (passWith),
// and fails unless the two give the same values, bit for bit.
func freshAgainstReused(t *testing.T, tp *Tape[float32], pass func() []float32) {
	t.Helper()
	first := passWith(pass, false)
	tp.Reset()
	for _, free := range tp.pool {
		for _, b := range free {
			for i := range b.Data {
				b.Data[i] = float32(math.NaN())
			}
		}
	}
	second := passWith(pass, true)
	if len(first) != len(second) {
		t.Fatalf("%d values on fresh buffers, %d on reused ones", len(first), len(second))
	}
	for i := range first {
		if math.Float32bits(first[i]) != math.Float32bits(second[i]) {
			t.Fatalf("value %d: %v on fresh buffers, %v on reused ones", i, first[i], second[i])
		}
	}
}

// TestTapeReusesGarbage runs a forward-over-reverse pass through every
// primitive twice on one tape, the second time with every pooled buffer
// filled with NaN first and Backward's recycled cotangents too (passWith):
// the tape hands Forward and JVP outputs over without zeroing them, and
// reused cotangents cleared or, to a freshWriter, not at all, so a
// primitive that left an element unwritten, or read a cotangent after its
// recycling, would leak the NaN. The two passes must agree bit for bit.
func TestTapeReusesGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	randn := func(shape ...int) *tensor.Dense[float32] { return randnT[float32](rng, shape...) }
	const n = 3
	leaves := []*tensor.Dense[float32]{
		randn(n, 2, 8, 8), randn(4, 2, 3, 3), randn(4), randn(4), randn(4), // x, conv1 W b, bn γ β
		randn(4, 4, 3, 3), randn(4), randn(4), // conv2 W, bn(train) γ β
		randn(5, 4), randn(5), // linear
	}
	tangents := make([]*tensor.Dense[float32], len(leaves))
	for i, l := range leaves {
		tangents[i] = randn(l.Shape...)
	}
	tp := NewTape[float32]()
	pass := func() []float32 {
		tp.Reset()
		v := make([]Var, len(leaves))
		for i, l := range leaves {
			v[i] = tp.Leaf(l, tangents[i], true)
		}
		h := tp.Apply(&Conv2d[float32]{Padding: 1}, v[0], v[1], v[2])
		h = tp.Apply(BatchNorm2dEval[float32]{RunningMean: []float32{0.1, 0, -0.1, 0.2}, RunningVar: []float32{1, 2, 0.5, 1}, Eps: 1e-5}, h, v[3], v[4])
		h = tp.Apply(ReLU[float32]{}, h)
		h = tp.Apply(&MaxPool2d[float32]{Kernel: 2, Stride: 2}, h)
		r := tp.Apply(&Conv2d[float32]{Padding: 1}, h, v[5], v[6])
		r = tp.Apply(&BatchNorm2dTrain[float32]{Eps: 1e-5}, r, v[6], v[7])
		r = tp.Apply(Tanh[float32]{}, r)
		h = tp.Apply(Add[float32]{}, h, r)
		h = tp.Apply(Softplus[float32]{}, h)
		h = tp.Apply(&MaxPool2d[float32]{Kernel: 3, Stride: 2, Padding: 1}, h)
		h = tp.Apply(Reshape[float32]{Dims: []int{n, 4, 2, 2}}, h)
		h = tp.Apply(GlobalAvgPool[float32]{}, h)
		h = tp.Apply(Linear[float32]{}, h, v[8], v[9])
		loss := tp.Apply(&SoftmaxCrossEntropy[float32]{Labels: []int{0, 4, 2}}, h)
		tp.Backward(loss)
		out := append([]float32{}, tp.Value(loss).Data...)
		for _, x := range v {
			out = append(out, tp.Grad(x).Data...)
			out = append(out, tp.GradDot(x).Data...)
		}
		return out
	}
	freshAgainstReused(t, tp, pass)
}

// TestFreshCotangents checks the primitives that take their inputs'
// cotangents uncleared (freshWriter) on every path that writes them: the
// implicit transposed convolution (16 channels of 32×32), the transposed
// convolution of 16×16 images and of a batch of 4×4 ones, col2im (stride 2), the fused BatchNorm/ReLU
// sweeps with and without a shortcut, ReLU→BatchNorm, in a gradient pass
// (VJP) and in pair passes with every tangent, the input's only, the
// parameters' only and one without the gradient of the weights
// (LeafGradDotOnly). Each configuration runs twice on one tape, the second
// time with every pooled buffer and every recycled cotangent filled with
// NaN (passWith): an element left unwritten would leak the NaN. The passes
// must agree bit for bit.
func TestFreshCotangents(t *testing.T) {
	for _, p := range []Primitive[float32]{
		&Conv2d[float32]{}, BatchNorm2dEval[float32]{}, BatchNorm2dEvalReLU[float32]{},
		BatchNorm2dEvalAddReLU[float32]{}, ReLUBatchNorm2dEval[float32]{},
		ReLU[float32]{}, &MaxPool2d[float32]{},
		&BatchNorm2dTrain[float32]{}, &BatchNorm2dTrainReLU[float32]{},
		&BatchNorm2dTrainAddReLU[float32]{}, &ReLUBatchNorm2dTrain[float32]{},
		&Conv2dMaxPool[float32]{},
	} {
		if _, ok := p.(freshWriter[float32]); !ok {
			t.Fatalf("%T is not a freshWriter", p)
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	randn := func(shape ...int) *tensor.Dense[float32] { return randnT[float32](rng, shape...) }
	const n, c = 2, 16
	bnStats := func(ch int) ([]float32, []float32) {
		mu, v := make([]float32, ch), make([]float32, ch)
		for i := range mu {
			mu[i], v[i] = float32(0.1*rng.NormFloat64()), float32(0.5+rng.Float64())
		}
		return mu, v
	}
	mu1, v1 := bnStats(c)
	mu2, v2 := bnStats(c)
	mu3, v3 := bnStats(c)
	mu4, v4 := bnStats(2 * c)
	leaves := []*tensor.Dense[float32]{
		randn(n, c, 32, 32),                   // 0 x
		randn(c, c, 3, 3), randn(c), randn(c), // 1–3 conv1 W, bn1 γ β
		randn(c, c, 3, 3), randn(c), randn(c), // 4–6 conv2 W, bn2 γ β
		randn(2*c, c, 3, 3), randn(2 * c), randn(2 * c), // 7–9 conv3 (stride 2) W, bn4 γ β
		randn(2*c, 2*c, 3, 3), randn(2 * c), // 10–11 conv4 (16×16; Winograd with AVX-512) W, b
		randn(c, 2*c, 1, 1), randn(c), randn(c), // 12–14 conv5 (1×1) W, bn3 γ β
		randn(3, c), randn(3), // 15–16 linear
		randn(2*c, 2*c, 3, 3),               // 17 conv6 (4×4 images: batched transposed convolution, or Winograd)
		randn(2*c, 2*c, 3, 3), randn(2 * c), // 18–19 conv7, pooled (2×2 windows at stride 1: overlapping)
	}
	tangents := make([]*tensor.Dense[float32], len(leaves))
	for i, l := range leaves {
		tangents[i] = randn(l.Shape...)
	}
	for _, cfg := range []struct {
		name    string
		tangent func(i int) bool // which leaves have a tangent
		dotOnly bool             // the weights by LeafGradDotOnly
		train   bool             // BatchNorm with the batch's statistics
	}{
		{"gradient", func(int) bool { return false }, false, false},
		{"all", func(int) bool { return true }, false, false},
		{"input", func(i int) bool { return i == 0 }, false, false},
		{"params", func(i int) bool { return i > 0 }, false, false},
		{"params-hv-only", func(i int) bool { return i > 0 }, true, false},
		{"train/gradient", func(int) bool { return false }, false, true},
		{"train/all", func(int) bool { return true }, false, true},
	} {
		// The BatchNorms of the chain: running statistics, or in training
		// the batch's (the same fusions).
		bnReLU := func(mu, v []float32) Primitive[float32] {
			if cfg.train {
				return &BatchNorm2dTrainReLU[float32]{BatchNorm2dTrain: BatchNorm2dTrain[float32]{Eps: 1e-5}}
			}
			return BatchNorm2dEvalReLU[float32]{BatchNorm2dEval: BatchNorm2dEval[float32]{RunningMean: mu, RunningVar: v, Eps: 1e-5}}
		}
		bnAddReLU := func(mu, v []float32) Primitive[float32] {
			if cfg.train {
				return &BatchNorm2dTrainAddReLU[float32]{BatchNorm2dTrain: BatchNorm2dTrain[float32]{Eps: 1e-5}}
			}
			return BatchNorm2dEvalAddReLU[float32]{BatchNorm2dEval: BatchNorm2dEval[float32]{RunningMean: mu, RunningVar: v, Eps: 1e-5}}
		}
		bn := func(mu, v []float32) Primitive[float32] {
			if cfg.train {
				return &BatchNorm2dTrain[float32]{Eps: 1e-5}
			}
			return BatchNorm2dEval[float32]{RunningMean: mu, RunningVar: v, Eps: 1e-5}
		}
		reluBN := func(mu, v []float32) Primitive[float32] {
			if cfg.train {
				return &ReLUBatchNorm2dTrain[float32]{BatchNorm2dTrain: BatchNorm2dTrain[float32]{Eps: 1e-5}}
			}
			return ReLUBatchNorm2dEval[float32]{BatchNorm2dEval: BatchNorm2dEval[float32]{RunningMean: mu, RunningVar: v, Eps: 1e-5}}
		}
		for _, mode := range []int{-1, 1} {
			t.Run(fmt.Sprintf("%s/sparse%+d", cfg.name, mode), func(t *testing.T) {
				defer func(v int) { sparsePool = v }(sparsePool)
				sparsePool = mode
				tp := NewTape[float32]()
				pass := func() []float32 {
					tp.Reset()
					v := make([]Var, len(leaves))
					for i, l := range leaves {
						var d *tensor.Dense[float32]
						if cfg.tangent(i) {
							d = tangents[i]
						}
						if cfg.dotOnly && i > 0 {
							v[i] = tp.LeafGradDotOnly(l, d)
						} else {
							v[i] = tp.Leaf(l, d, true)
						}
					}
					x := v[0]
					h := tp.Apply(&Conv2d[float32]{Padding: 1}, x, v[1])
					h = tp.Apply(bnReLU(mu1, v1), h, v[2], v[3])
					h = tp.Apply(&Conv2d[float32]{Padding: 1}, h, v[4])
					h = tp.Apply(bnAddReLU(mu2, v2), h, v[5], v[6], x)
					h = tp.Apply(&Conv2d[float32]{Stride: 2, Padding: 1}, h, v[7])
					h = tp.Apply(bn(mu4, v4), h, v[8], v[9])
					h = tp.Apply(&Conv2d[float32]{Padding: 1}, h, v[10], v[11])
					h = tp.Apply(&MaxPool2d[float32]{Kernel: 4, Stride: 4}, h)
					h = tp.Apply(&Conv2d[float32]{Padding: 1}, h, v[17])
					h = tp.Apply(&Conv2dMaxPool[float32]{Conv: Conv2d[float32]{Padding: 1}, Pool: MaxPool2d[float32]{Kernel: 2, Stride: 1}}, h, v[18], v[19])
					h = tp.Apply(&Conv2d[float32]{}, h, v[12])
					h = tp.Apply(reluBN(mu3, v3), h, v[13], v[14])
					h = tp.Apply(GlobalAvgPool[float32]{}, h)
					h = tp.Apply(ReLU[float32]{}, h)
					h = tp.Apply(Linear[float32]{}, h, v[15], v[16])
					loss := tp.Apply(&SoftmaxCrossEntropy[float32]{Labels: []int{2, 0}}, h)
					tp.Backward(loss)
					out := append([]float32{}, tp.Value(loss).Data...)
					for _, x := range v {
						if g := tp.Grad(x); g != nil {
							out = append(out, g.Data...)
						}
						if g := tp.GradDot(x); g != nil {
							out = append(out, g.Data...)
						}
					}
					return out
				}
				freshAgainstReused(t, tp, pass)
			})
		}
	}
}

// TestTapeRecycles counts the buffers a pass allocates through a chain of
// eight layers, each a linear map and a tanh, with and without recycling.
// A gradient: 17 values and the seed, then, kept, a cotangent for each of
// the 16 values below the loss and the 2 leaves; recycled, two of the
// values' size (the one a primitive reads and the one it writes; the leaf
// x takes a recycled one) and the weights'. A Hessian-vector product (a
// tangent on the weights): 17 values, 17 tangents and the seed, then, kept,
// two buffers per cotangent; recycled, four of the values' size (before the
// first tangent is recycled) and two of the weights'. Grad, GradDot and
// Tangent are still there for the leaves and the loss, nil for the other
// values primitives computed.
func TestTapeRecycles(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	randn := func(shape ...int) *tensor.Dense[float64] {
		d := tensor.New[float64](shape...)
		for i := range d.Data {
			d.Data[i] = rng.NormFloat64()
		}
		return d
	}
	x, w, wDot := randn(4, 5), randn(5, 5), randn(5, 5)
	for _, c := range []struct {
		second, recycle bool
		owned           int // buffers the pass allocates
	}{
		{false, false, 17 + 1 + 16 + 2},
		{false, true, 17 + 1 + 2 + 1},
		{true, false, 17 + 17 + 1 + 2*(16+2)},
		{true, true, 17 + 17 + 1 + 4 + 2},
	} {
		tp := NewTape[float64]()
		noRecycle = !c.recycle
		var d *tensor.Dense[float64]
		if c.second {
			d = wDot
		}
		xv, wv := tp.Leaf(x, nil, true), tp.Leaf(w, d, true)
		h := xv
		var mid Var
		for i := 0; i < 8; i++ {
			h = tp.Apply(Linear[float64]{}, h, wv)
			if i == 4 {
				mid = h
			}
			h = tp.Apply(Tanh[float64]{}, h)
		}
		loss := tp.Apply(&SoftmaxCrossEntropy[float64]{Labels: []int{0, 1, 2, 3}}, h)
		tp.Backward(loss)
		noRecycle = false
		if got := len(tp.owned); got != c.owned {
			t.Errorf("second %v, recycle %v: %d buffers, want %d", c.second, c.recycle, got, c.owned)
		}
		if tp.Grad(xv) == nil || tp.Grad(wv) == nil || c.second && (tp.GradDot(xv) == nil || tp.GradDot(wv) == nil || tp.Tangent(loss) == nil) {
			t.Errorf("second %v, recycle %v: a leaf's gradient or the loss's tangent missing", c.second, c.recycle)
		}
		if g := tp.Grad(mid); (g == nil) != c.recycle {
			t.Errorf("second %v, recycle %v: cotangent of a computed value %v", c.second, c.recycle, g)
		}
		if gdNil, tNil := tp.GradDot(mid) == nil, tp.Tangent(mid) == nil; c.second && (gdNil != c.recycle || tNil != c.recycle) {
			t.Errorf("second %v, recycle %v: GradDot %v, Tangent %v of a computed value", c.second, c.recycle, tp.GradDot(mid), tp.Tangent(mid))
		}
	}
}
