//go:build cuda

package cuda

import (
	"fmt"
	"slices"

	"hesscope/autodiff"
	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/tensor"
)

// kind is the operation of a node of a plan.
type kind int

const (
	kParam kind = iota // a trainable parameter (a leaf)
	kInput             // the input batch (a leaf)
	kLinear
	kConv
	kBatchNorm // BatchNorm in eval mode
	kReLU
	kMaxPool
	kAvgPool // global average pooling
	kAdd
	kReshape
	kLoss // the batch-mean softmax cross-entropy
)

var kindNames = [...]string{"param", "input", "linear", "conv2d", "batchnorm", "relu", "maxpool", "avgpool", "add", "reshape", "loss"}

// pnode is one recorded operation.
type pnode[T tensor.Float] struct {
	kind  kind
	in    []int
	shape []int // at batch size 1 for activations; a parameter's own shape
	param int   // kParam: index in nn.Trainable(model.Params())

	stride, pad, kernel int // kConv, kMaxPool
	mean, variance      []T // kBatchNorm: the running statistics, read every pass
	eps                 float64
}

// plan is a model's computation as the GPU evaluator runs it: the nodes a
// CPU tape records for one image, in order, each a primitive the evaluator
// has kernels for (a fused primitive, BatchNorm2dEvalReLU, becomes its two
// nodes). Activation shapes are those of one image; a pass scales their
// first dimension to the batch. The trainable parameters are nodes 0 to
// len(params)−1 and the input the next.
type plan[T tensor.Float] struct {
	nodes     []pnode[T]
	params    []*nn.Param[T] // trainable, in order: node i < len(params) is params[i]
	input     [3]int
	logits    int // the node of the logits
	classes   int
	needsConv bool
}

// record runs m once on the CPU for one image of shape input and turns
// the tape into a plan, or says which primitive the GPU lacks.
func record[T tensor.Float](m hessian.Model[T], input [3]int) (*plan[T], error) {
	tp := autodiff.NewTape[T]()
	g := nn.NewGraph(tp, nn.Eval)
	g.ParamGrads = true
	params := nn.Trainable(m.Params())
	for _, p := range params {
		g.Bind(p, tp.Leaf(p.Value, nil, true))
	}
	x := tensor.New[T](1, input[0], input[1], input[2])
	xv := tp.Leaf(x, nil, false)
	logits := m.Forward(g, xv)
	loss := g.CrossEntropy(logits, []int{0})
	pl := &plan[T]{params: params, input: input}
	node := make([]int, tp.Len()) // the plan node of each tape value
	for v := 0; v < tp.Len(); v++ {
		prim, in := tp.Op(autodiff.Var(v))
		n := pnode[T]{in: make([]int, len(in)), shape: slices.Clone(tp.Value(autodiff.Var(v)).Shape)}
		for j, u := range in {
			n.in[j] = node[u]
		}
		switch p := prim.(type) {
		case nil:
			switch {
			case v < len(params):
				n.kind, n.param = kParam, v
			case v == len(params):
				n.kind = kInput
			default:
				return nil, fmt.Errorf("cuda: the model records a constant tensor %s; the GPU evaluator takes only parameters and the input as leaves", tensor.ShapeString(n.shape))
			}
		case autodiff.Linear[T]:
			n.kind = kLinear
		case *autodiff.Conv2d[T]:
			n.kind, n.stride, n.pad = kConv, max(p.Stride, 1), p.Padding
			n.kernel = tp.Value(in[1]).Shape[2]
			if s := tp.Value(in[1]).Shape; s[2] != s[3] {
				return nil, fmt.Errorf("cuda: convolution kernel %s is not square", tensor.ShapeString(s))
			}
			pl.needsConv = true
		case *autodiff.Conv2dMaxPool[T]: // pool(conv(x, W, b))
			ws := tp.Value(in[1]).Shape
			if ws[2] != ws[3] {
				return nil, fmt.Errorf("cuda: convolution kernel %s is not square", tensor.ShapeString(ws))
			}
			z := pl.add(pnode[T]{kind: kConv, in: n.in, shape: p.Conv.Shape(tp.Values(in)),
				stride: max(p.Conv.Stride, 1), pad: p.Conv.Padding, kernel: ws[2]})
			pl.needsConv = true
			n = pnode[T]{kind: kMaxPool, in: []int{z}, shape: n.shape,
				kernel: p.Pool.Kernel, stride: p.Pool.Stride, pad: p.Pool.Padding}
			if n.stride == 0 {
				n.stride = p.Pool.Kernel
			}
		case autodiff.BatchNorm2dEval[T]:
			n = batchNorm(n, p, n.in)
		// The CPU's fused primitives run as their parts, in order.
		case autodiff.BatchNorm2dEvalReLU[T]: // relu(BN(x, γ, β))
			z := pl.add(batchNorm(n, p.BatchNorm2dEval, n.in))
			n = pnode[T]{kind: kReLU, in: []int{z}, shape: n.shape}
		case autodiff.ReLUBatchNorm2dEval[T]: // BN(relu(x), γ, β)
			r := pl.add(pnode[T]{kind: kReLU, in: n.in[:1], shape: n.shape})
			n = batchNorm(n, p.BatchNorm2dEval, []int{r, n.in[1], n.in[2]})
		case autodiff.BatchNorm2dEvalAddReLU[T]: // relu(BN(x, γ, β) + s)
			z := pl.add(batchNorm(n, p.BatchNorm2dEval, n.in[:3]))
			a := pl.add(pnode[T]{kind: kAdd, in: []int{z, n.in[3]}, shape: n.shape})
			n = pnode[T]{kind: kReLU, in: []int{a}, shape: n.shape}
		case autodiff.ReLU[T]:
			n.kind = kReLU
		case *autodiff.MaxPool2d[T]:
			n.kind, n.kernel, n.stride, n.pad = kMaxPool, p.Kernel, p.Stride, p.Padding
			if n.stride == 0 {
				n.stride = p.Kernel
			}
		case autodiff.GlobalAvgPool[T]:
			n.kind = kAvgPool
		case autodiff.Add[T]:
			n.kind = kAdd
			if len(in) != 2 {
				return nil, fmt.Errorf("cuda: an addition of %d terms; the GPU evaluator adds two", len(in))
			}
		case autodiff.Reshape[T]:
			n.kind = kReshape
		case *autodiff.SoftmaxCrossEntropy[T]:
			n.kind = kLoss
		default:
			return nil, fmt.Errorf("cuda: the GPU evaluator has no kernel for %T (it runs the zoo's ReLU models with BatchNorm in eval mode)", prim)
		}
		if n.kind != kParam && n.kind != kLoss && (len(n.shape) == 0 || n.shape[0] != 1) {
			return nil, fmt.Errorf("cuda: %s value of shape %s for one image: the batch must stay the first dimension", kindNames[n.kind], tensor.ShapeString(n.shape))
		}
		node[v] = len(pl.nodes)
		pl.nodes = append(pl.nodes, n)
	}
	pl.logits = node[logits]
	if node[loss] != len(pl.nodes)-1 || len(pl.nodes[pl.logits].shape) != 2 {
		return nil, fmt.Errorf("cuda: the model's output is not logits [N, K]")
	}
	pl.classes = pl.nodes[pl.logits].shape[1]
	return pl, nil
}

// add appends n to the plan and returns its index.
func (p *plan[T]) add(n pnode[T]) int {
	p.nodes = append(p.nodes, n)
	return len(p.nodes) - 1
}

// batchNorm returns n as BatchNorm node of inputs in (x, γ, β) with the
// statistics of b.
func batchNorm[T tensor.Float](n pnode[T], b autodiff.BatchNorm2dEval[T], in []int) pnode[T] {
	n.kind, n.in = kBatchNorm, slices.Clone(in)
	n.mean, n.variance, n.eps = b.RunningMean, b.RunningVar, b.Eps
	return n
}

// shapeAt returns node i's shape for a batch of n images.
func (p *plan[T]) shapeAt(i, n int) []int {
	s := slices.Clone(p.nodes[i].shape)
	if p.nodes[i].kind != kParam && len(s) > 0 {
		s[0] = n
	}
	return s
}
