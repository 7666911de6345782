package landscape

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// smallNet: conv(1→2, 3×3, pad 1) → tanh → flatten → fc1(32→8) → tanh →
// fc2(8→3) on 1×4×4 images; smooth, so the quadratic model is accurate to
// third order.
type smallNet struct {
	conv     *nn.Conv2d[float64]
	fc1, fc2 *nn.Linear[float64]
	params   []*nn.Param[float64]
}

func newSmallNet(seed uint64) *smallNet {
	in := nn.NewInit(seed)
	n := &smallNet{conv: nn.NewConv2d[float64](in, "conv", 1, 2, 3, 1, 1, true),
		fc1: nn.NewLinear[float64](in, "fc1", 32, 8), fc2: nn.NewLinear[float64](in, "fc2", 8, 3)}
	n.params = append(append(n.conv.Params(), n.fc1.Params()...), n.fc2.Params()...)
	return n
}

func (n *smallNet) Params() []*nn.Param[float64] { return n.params }

func (n *smallNet) Forward(g *nn.Graph[float64], x autodiff.Var) autodiff.Var {
	h := g.Tape.Apply(autodiff.Tanh[float64]{}, n.conv.Forward(g, x))
	h = g.Tape.Apply(autodiff.Tanh[float64]{}, n.fc1.Forward(g, g.Flatten(h)))
	return n.fc2.Forward(g, h)
}

func smallData(n int) (*tensor.Dense[float64], []int) {
	x := gradcheck.Randn(5, n, 1, 4, 4)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 3
	}
	return x, y
}

// chunks serves a batch in chunks of 3 (the last one smaller) via Chunk only.
type chunks struct {
	x *tensor.Dense[float64]
	y []int
}

func (d chunks) Len() int    { return len(d.y) }
func (d chunks) Chunks() int { return (len(d.y) + 2) / 3 }
func (d chunks) Chunk(i int) (*tensor.Dense[float64], []int) {
	lo, hi := 3*i, min(3*i+3, len(d.y))
	return tensor.FromSlice(slices.Clone(d.x.Data[lo*16:hi*16]), hi-lo, 1, 4, 4), d.y[lo:hi]
}

func values(net *smallNet) []float64 {
	v := make([]float64, nn.Size(net.params))
	nn.Gather(v, net.params)
	return v
}

// TestParamsGrid: a 2-D grid equals the objective evaluated point by point,
// bit for bit, for any number of workers, and leaves the model unchanged.
func TestParamsGrid(t *testing.T) {
	net := newSmallNet(1)
	x, y := smallData(7)
	data := chunks{x, y}
	before := values(net)
	d1 := FilterNormalized(net.Params(), 1, false)
	d2 := FilterNormalized(net.Params(), 2, true)
	xs, ys := Axis(-1, 1, 5), Axis(-0.5, 0.5, 3)
	var first *Grid
	for _, w := range []int{1, 3} {
		g, err := Params[float64](net, data, nil, [][]float64{d1, d2}, xs, ys, Options{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = g
			continue
		}
		for j := range ys {
			if !slices.Equal(g.Loss[j], first.Loss[j]) || !slices.Equal(g.Accuracy[j], first.Accuracy[j]) {
				t.Errorf("row %d differs between 1 and %d workers", j, w)
			}
		}
	}
	obj := hessian.NewObjective[float64](net, data, nn.Eval)
	obj.Workers = 1
	theta := obj.Theta()
	at := make([]float64, len(theta))
	for j, b := range ys {
		for i, a := range xs {
			for k := range at {
				at[k] = theta[k] + a*d1[k] + b*d2[k]
			}
			if l := obj.Eval(nil, at); l != first.Loss[j][i] || obj.Accuracy != first.Accuracy[j][i] {
				t.Errorf("(%g, %g): grid %v/%v, objective %v/%v", a, b, first.Loss[j][i], first.Accuracy[j][i], l, obj.Accuracy)
			}
		}
	}
	if !slices.Equal(values(net), before) {
		t.Error("the grid evaluation modified the model")
	}
	if first.Evals != 15 {
		t.Errorf("Evals = %d, want 15", first.Evals)
	}
}

// TestQuadraticModel: along the top Hessian eigenvector v (unit) the loss is
// L₀ + (gᵀv)·ε + ½λε² + O(ε³): the error of the model falls eightfold when
// ε halves, and the pure ½λε² model differs from it by the gradient term.
func TestQuadraticModel(t *testing.T) {
	net := newSmallNet(2)
	x, y := smallData(7)
	data := chunks{x, y}
	op := hessian.NewParams[float64](net, data, nn.Eval, nil)
	top, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{Tol: 1e-10, MaxIter: op.Dim()})
	if err != nil {
		t.Fatal(err)
	}
	lambda, v := top.Values[0], top.Vectors[0]
	loss0, g := op.Gradient()
	var slope float64
	for i := range v {
		slope += g[i] * v[i]
	}
	eps := []float64{-0.02, -0.01, 0, 0.01, 0.02}
	grid, err := Params[float64](net, data, nil, [][]float64{v}, eps, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	model := Quadratic(eps, loss0, slope, lambda)
	if grid.Loss[0][2] != loss0 && math.Abs(grid.Loss[0][2]-loss0) > 1e-15 {
		t.Errorf("loss at ε=0 is %v, want %v", grid.Loss[0][2], loss0)
	}
	for _, pair := range [][2]int{{0, 1}, {4, 3}} { // ε and ε/2
		k, h := pair[0], pair[1]
		e1 := math.Abs(grid.Loss[0][k] - model[k])
		e2 := math.Abs(grid.Loss[0][h] - model[h])
		ratio := e1 / e2
		t.Logf("ε=%g: model error %.3g; at ε/2 %.3g (ratio %.2f, O(ε³) gives 8)", eps[k], e1, e2, ratio)
		if ratio < 6 || ratio > 10 {
			t.Errorf("ε=%g: the quadratic model's error falls by %.2f when ε halves, want ≈8", eps[k], ratio)
		}
	}
	if q := Quadratic([]float64{2}, 1, 0, 3); q[0] != 7 {
		t.Errorf("Quadratic(2; 1, 0, 3) = %v, want 7", q[0])
	}
}

// TestFilterNormalized: each filter of a weight tensor has the norm of the
// weight's filter, biases are zero (or the weight itself), and the
// direction depends only on the seed.
func TestFilterNormalized(t *testing.T) {
	net := newSmallNet(3)
	for _, keep := range []bool{false, true} {
		d := FilterNormalized(net.Params(), 7, keep)
		if !slices.Equal(d, FilterNormalized(net.Params(), 7, keep)) {
			t.Error("not deterministic")
		}
		off := 0
		for _, p := range net.Params() {
			w := p.Value
			seg := d[off : off+w.Len()]
			off += w.Len()
			if len(w.Shape) == 1 {
				for i, v := range seg {
					want := 0.0
					if keep {
						want = w.Data[i]
					}
					if v != want {
						t.Errorf("%s[%d] = %v, want %v", p.Name, i, v, want)
						break
					}
				}
				continue
			}
			per := w.Len() / w.Shape[0]
			for f := range w.Shape[0] {
				var wn, dn float64
				for i := f * per; i < (f+1)*per; i++ {
					wn += w.Data[i] * w.Data[i]
					dn += seg[i] * seg[i]
				}
				if math.Abs(math.Sqrt(dn)-math.Sqrt(wn)) > 1e-9*math.Sqrt(wn) { // the 1e-10 guard of Li et al.
					t.Errorf("%s filter %d: norm %v, weight's %v", p.Name, f, math.Sqrt(dn), math.Sqrt(wn))
				}
			}
		}
	}
	if slices.Equal(FilterNormalized(net.Params(), 1, false), FilterNormalized(net.Params(), 2, false)) {
		t.Error("two seeds give the same direction")
	}
}

// TestInputGrid: the input landscape of one sample at (0, 0) is its loss,
// matches direct evaluation elsewhere and is independent of the workers.
func TestInputGrid(t *testing.T) {
	net := newSmallNet(4)
	x, y := smallData(1)
	d1 := gradcheck.Randn(1, 16).Data
	d2 := gradcheck.Randn(2, 16).Data
	xs, ys := Axis(-1, 1, 3), Axis(-1, 1, 3)
	g1, err := Input[float64](net, x, y, [][]float64{d1, d2}, xs, ys, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	g3, _ := Input[float64](net, x, y, [][]float64{d1, d2}, xs, ys, Options{Workers: 3})
	e := hessian.NewEvaluator[float64](net)
	for j, b := range ys {
		if !slices.Equal(g1.Loss[j], g3.Loss[j]) {
			t.Errorf("row %d differs with 3 workers", j)
		}
		for i, a := range xs {
			xp := tensor.New[float64](1, 1, 4, 4)
			for k := range xp.Data {
				xp.Data[k] = x.Data[k] + a*d1[k] + b*d2[k]
			}
			if l := e.Pass(xp, y, hessian.Request[float64]{}).Loss; l != g1.Loss[j][i] {
				t.Errorf("(%g, %g): %v, direct %v", a, b, g1.Loss[j][i], l)
			}
		}
	}
	if _, err := Input[float64](net, x, y, [][]float64{d1[:3]}, xs, nil, Options{}); err == nil {
		t.Error("a direction of the wrong length was accepted")
	}
	if _, err := Input[float64](net, x, y, [][]float64{d1}, xs, ys, Options{}); err == nil {
		t.Error("one direction with y coordinates was accepted")
	}
	cancel := make(chan struct{})
	close(cancel)
	if _, err := Input[float64](net, x, y, [][]float64{d1}, xs, nil, Options{Cancel: cancel}); err != context.Canceled {
		t.Errorf("canceled: %v", err)
	}
}

func TestOutput(t *testing.T) {
	g := &Grid{X: []float64{-1, 0, 1}, Loss: [][]float64{{2, 1, 2.5}}, Accuracy: [][]float64{{0.5, 1, 0.25}}}
	var b bytes.Buffer
	if err := g.WriteCSV(&b, Column{"quadratic", []float64{2, 1, 2}}); err != nil {
		t.Fatal(err)
	}
	want := "alpha,loss,accuracy,quadratic\n-1,2,0.5,2\n0,1,1,1\n1,2.5,0.25,2\n"
	if b.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b.String(), want)
	}
	g2 := &Grid{X: []float64{0, 1}, Y: []float64{5, 6}, Loss: [][]float64{{1, 2}, {3, 4}}, Accuracy: [][]float64{{0, 0}, {1, 1}}}
	b.Reset()
	g2.WriteCSV(&b)
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 5 || lines[2] != "1,5,2,0" {
		t.Errorf("2-D CSV:\n%s", b.String())
	}
	dir := t.TempDir()
	if err := g.Plot(filepath.Join(dir, "a.png"), "t", "α", "", Column{"q", []float64{2, 1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := g2.Plot(filepath.Join(dir, "b.svg"), "t", "α", "β"); err != nil {
		t.Fatal(err)
	}
	if err := g.PlotAccuracy(filepath.Join(dir, "c.png"), "t", "α", ""); err != nil {
		t.Fatal(err)
	}
	if err := g2.PlotAccuracy(filepath.Join(dir, "d.png"), "t", "α", "β"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.png", "b.svg", "c.png", "d.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if a := Axis(-1, 1, 21); a[10] != 0 || a[0] != -1 || a[20] != 1 {
		t.Errorf("Axis(-1, 1, 21) = %v", a)
	}
}
