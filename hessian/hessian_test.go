package hessian

import (
	"math"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/nn"
	"hesscope/tensor"
)

// tinyNet is a small network built from every primitive of the engine:
// conv (stride 2, padding 1) → batchnorm → relu → maxpool (3, 2, 1) →
// residual block (conv, bn, add) → global average pool, and a branch
// flatten → linear, ending in linear logits.
type tinyNet struct {
	params []*nn.Param[float64]
	conv1  *nn.Conv2d[float64]
	bn1    *nn.BatchNorm2d[float64]
	conv2  *nn.Conv2d[float64]
	bn2    *nn.BatchNorm2d[float64]
	fc1    *nn.Linear[float64]
	fc2    *nn.Linear[float64]
	act    string
}

func newTinyNet(seed uint64, act string) *tinyNet {
	in := nn.NewInit(seed)
	n := &tinyNet{act: act}
	n.conv1 = nn.NewConv2d[float64](in, "conv1", 2, 3, 3, 2, 1, true)
	n.bn1 = nn.NewBatchNorm2d[float64]("bn1", 3)
	n.conv2 = nn.NewConv2d[float64](in, "conv2", 3, 3, 3, 1, 1, false)
	n.bn2 = nn.NewBatchNorm2d[float64]("bn2", 3)
	n.fc1 = nn.NewLinear[float64](in, "fc1", 3*2*2, 4)
	n.fc2 = nn.NewLinear[float64](in, "fc2", 4+3, 3)
	for _, l := range [][]*nn.Param[float64]{n.conv1.Params(), n.bn1.Params(), n.conv2.Params(), n.bn2.Params(), n.fc1.Params(), n.fc2.Params()} {
		n.params = append(n.params, l...)
	}
	// Non-trivial BatchNorm affine parameters and running statistics.
	r := gradcheck.Randn(seed+100, 12)
	for i, bn := range []*nn.BatchNorm2d[float64]{n.bn1, n.bn2} {
		for c := 0; c < 3; c++ {
			bn.Weight.Value.Data[c] = 1 + 0.3*r.Data[6*i+c]
			bn.Bias.Value.Data[c] = 0.2 * r.Data[6*i+3+c]
			bn.RunningMean.Value.Data[c] = 0.1 * float64(c)
			bn.RunningVar.Value.Data[c] = 0.5 + 0.25*float64(c)
		}
	}
	return n
}

func (n *tinyNet) Params() []*nn.Param[float64] { return n.params }

func (n *tinyNet) activate(g *nn.Graph[float64], x autodiff.Var) autodiff.Var {
	if n.act == "tanh" {
		return g.Tape.Apply(autodiff.Tanh[float64]{}, x)
	}
	return g.ReLU(x)
}

func (n *tinyNet) Forward(g *nn.Graph[float64], x autodiff.Var) autodiff.Var {
	h := n.activate(g, n.bn1.Forward(g, n.conv1.Forward(g, x))) // [N,3,4,4]
	h = g.MaxPool(h, 3, 2, 1)                                   // [N,3,2,2]
	r := n.bn2.Forward(g, n.conv2.Forward(g, h))
	h = n.activate(g, g.Add(h, r))
	a := n.activate(g, n.fc1.Forward(g, g.Flatten(h))) // [N,4]
	p := g.AvgPool(h)                                  // [N,3]
	return n.fc2.Forward(g, g.Tape.Apply(concat{}, a, p))
}

// concat joins [N,a] and [N,b] into [N,a+b]: a test-only linear primitive
// that lets the tiny net merge two branches.
type concat struct{}

func (concat) Shape(x []*tensor.Dense[float64]) []int {
	return []int{x[0].Shape[0], x[0].Shape[1] + x[1].Shape[1]}
}
func (concat) Forward(y *tensor.Dense[float64], x []*tensor.Dense[float64]) {
	n, a, b := x[0].Shape[0], x[0].Shape[1], x[1].Shape[1]
	for i := 0; i < n; i++ {
		copy(y.Data[i*(a+b):], x[0].Data[i*a:(i+1)*a])
		copy(y.Data[i*(a+b)+a:], x[1].Data[i*b:(i+1)*b])
	}
}
func (c concat) JVP(yDot *tensor.Dense[float64], _, xDot []*tensor.Dense[float64], _ *tensor.Dense[float64]) {
	d := make([]*tensor.Dense[float64], 2)
	for i := range d {
		d[i] = xDot[i]
		if d[i] == nil {
			d[i] = tensor.New[float64](yDot.Shape[0], []int{4, 3}[i])
		}
	}
	c.Forward(yDot, d)
}
func (concat) VJP(xBar []*tensor.Dense[float64], yBar *tensor.Dense[float64], x []*tensor.Dense[float64], _ *tensor.Dense[float64]) {
	n, a, b := x[0].Shape[0], x[0].Shape[1], x[1].Shape[1]
	for i := 0; i < n; i++ {
		for j := 0; j < a; j++ {
			if xBar[0] != nil {
				xBar[0].Data[i*a+j] += yBar.Data[i*(a+b)+j]
			}
		}
		for j := 0; j < b; j++ {
			if xBar[1] != nil {
				xBar[1].Data[i*b+j] += yBar.Data[i*(a+b)+a+j]
			}
		}
	}
}

// lossFunc exposes the tiny net's loss as a gradcheck.Func of the leaves
// (x, trainable parameters…).
func lossFunc(net *tinyNet, y []int, mode nn.Mode) gradcheck.Func {
	return func(tp *autodiff.Tape[float64], leaves []autodiff.Var) autodiff.Var {
		g := nn.NewGraph(tp, mode)
		for i, p := range nn.Trainable(net.Params()) {
			g.Bind(p, leaves[i+1])
		}
		return g.CrossEntropy(net.Forward(g, leaves[0]), y)
	}
}

func testInputs(net *tinyNet) ([]*tensor.Dense[float64], []int) {
	x := gradcheck.Randn(5, 3, 2, 8, 8)
	xs := []*tensor.Dense[float64]{x}
	for _, p := range nn.Trainable(net.Params()) {
		xs = append(xs, p.Value)
	}
	return xs, []int{2, 0, 1}
}

// TestDenseHessianOfTinyNet compares the Hessian built from exact HVPs,
// column by column, with central differences of the gradient, jointly in
// the input and all parameters, in both BatchNorm modes.
func TestDenseHessianOfTinyNet(t *testing.T) {
	for _, mode := range []nn.Mode{nn.Eval, nn.Train} {
		t.Run(mode.String(), func(t *testing.T) {
			net := newTinyNet(3, "relu")
			xs, y := testInputs(net)
			f := lossFunc(net, y, mode)
			h := gradcheck.DenseHessian(f, xs)
			fd := gradcheck.FDHessian(f, xs)
			var worst, asym, scale float64
			for i := range h {
				for j := range h[i] {
					worst = max(worst, math.Abs(h[i][j]-fd[i][j]))
					asym = max(asym, math.Abs(h[i][j]-h[j][i]))
					scale = max(scale, math.Abs(h[i][j]))
				}
			}
			t.Logf("n=%d: max |H−H_fd| = %.3g, max asymmetry %.3g, max |H| = %.3g", len(h), worst, asym, scale)
			if worst > 1e-7*scale || asym > 1e-10*scale {
				t.Errorf("HVP Hessian differs from finite differences by %.3g (asymmetry %.3g, scale %.3g)", worst, asym, scale)
			}
		})
	}
}
