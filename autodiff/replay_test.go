package autodiff_test

import (
	"fmt"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/tensor"
)

// sumPrim is y = Σ x, a scalar: the loss of TestReplay's graphs.
type sumPrim struct{}

func (sumPrim) Shape([]*tensor.Dense[T]) []int { return []int{1} }
func (sumPrim) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	s := 0.0
	for _, v := range x[0].Data {
		s += v
	}
	y.Data[0] = s
}
func (p sumPrim) JVP(yDot *tensor.Dense[T], _, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	p.Forward(yDot, xDot)
}
func (sumPrim) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], _ []*tensor.Dense[T], _ *tensor.Dense[T]) {
	for i := range xBar[0].Data {
		xBar[0].Data[i] += yBar.Data[0]
	}
}

// TestReplay: for every primitive of the gradcheck table, in the graph
// sum(tanh(p(x…))) — tanh puts curvature after it — the products that
// BackwardKeep and then Replay compute for several tangents in a row are
// those of whole passes (Leaf with the tangent, Backward), bit for bit, and
// so are the loss and the gradients the kept pass computed (by Forward and
// VJP, where the whole pass uses ForwardJVP and VJPPair); with
// every input wanting its gradient, and with all but the first recorded by
// LeafGradDotOnly (the parameters of the operators' passes).
func TestReplay(t *testing.T) {
	for _, c := range primitiveCases() {
		t.Run(c.name, func(t *testing.T) {
			dirs := make([][]*tensor.Dense[T], 3)
			for k := range dirs {
				dirs[k] = make([]*tensor.Dense[T], len(c.x))
				for i, x := range c.x {
					dirs[k][i] = gradcheck.Randn(uint64(100*k+i+7), x.Shape...)
				}
			}
			dirs[2][0] = nil // a zero tangent
			for _, dotOnly := range []bool{false, true} {
				leaf := func(tp *autodiff.Tape[T], i int, v *tensor.Dense[T]) autodiff.Var {
					if dotOnly && i > 0 {
						return tp.LeafGradDotOnly(c.x[i], v)
					}
					return tp.Leaf(c.x[i], v, true)
				}
				graph := func(tp *autodiff.Tape[T], leaves []autodiff.Var) autodiff.Var {
					y := tp.Apply(c.prim(), leaves...)
					return tp.Apply(sumPrim{}, tp.Apply(autodiff.Tanh[T]{}, y))
				}
				kept := autodiff.NewTape[T]()
				kl := make([]autodiff.Var, len(c.x))
				for i := range c.x {
					kl[i] = leaf(kept, i, nil)
				}
				out := graph(kept, kl)
				kept.BackwardKeep(out)
				for k, v := range dirs {
					whole := autodiff.NewTape[T]()
					wl := make([]autodiff.Var, len(c.x))
					for i := range c.x {
						wl[i] = leaf(whole, i, v[i])
					}
					wout := graph(whole, wl)
					whole.Backward(wout)
					// The values and cotangents the replay reads are
					// Forward's and VJP's; the whole pass's come from
					// ForwardJVP and VJPPair, and must be the same bits.
					if kept.Value(out).Data[0] != whole.Value(wout).Data[0] {
						t.Fatalf("dotOnly %v, direction %d: loss %v, whole pass's %v", dotOnly, k, kept.Value(out).Data[0], whole.Value(wout).Data[0])
					}
					what := fmt.Sprintf("dotOnly %v, direction %d", dotOnly, k)
					for i := range c.x {
						if !sameBits(kept.Grad(kl[i]), whole.Grad(wl[i])) {
							t.Fatalf("%s, input %d: the gradient differs from the whole pass's", what, i)
						}
					}
					for i := range c.x {
						kept.SetTangent(kl[i], v[i])
					}
					kept.Replay(out)
					for i := range c.x {
						if !sameBits(kept.GradDot(kl[i]), whole.GradDot(wl[i])) {
							t.Fatalf("%s, input %d: H·v differs from the whole pass's", what, i)
						}
					}
				}
			}
		})
	}
}
