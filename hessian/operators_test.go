package hessian

import (
	"context"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"hesscope/autodiff"
	"hesscope/autodiff/gradcheck"
	"hesscope/linop"
	"hesscope/linop/linoptest"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// tinyBatch returns n images [n,2,8,8] of float32-representable values (so
// that Float32Data serves exactly them) with labels cycling over 3 classes.
func tinyBatch(n int, seed uint64) (*tensor.Dense[float64], []int) {
	x := gradcheck.Randn(seed, n, 2, 8, 8)
	for i, v := range x.Data {
		x.Data[i] = float64(float32(v))
	}
	y := make([]int, n)
	for i := range y {
		y[i] = (i + int(seed)) % 3
	}
	return x, y
}

// unevenData serves a batch in chunks of the given sizes through Chunk only
// (it is not a ChunkReader), reusing one buffer, to exercise Concurrent's
// locking path and the size weighting of uneven chunks.
type unevenData struct {
	x     *tensor.Dense[float64]
	y     []int
	sizes []int
	buf   *tensor.Dense[float64]
}

func (d *unevenData) Len() int    { return len(d.y) }
func (d *unevenData) Chunks() int { return len(d.sizes) }
func (d *unevenData) Chunk(i int) (*tensor.Dense[float64], []int) {
	lo := 0
	for _, s := range d.sizes[:i] {
		lo += s
	}
	hi := lo + d.sizes[i]
	per := d.x.Len() / d.x.Shape[0]
	d.buf = tensor.New[float64](hi-lo, d.x.Shape[1], d.x.Shape[2], d.x.Shape[3])
	copy(d.buf.Data, d.x.Data[lo*per:hi*per])
	return d.buf, d.y[lo:hi]
}

// float32Data serves x through Float32Data in chunks of size chunk.
func float32Data(x *tensor.Dense[float64], y []int, chunk int) *Float32Data[float64] {
	f := make([]float32, x.Len())
	for i, v := range x.Data {
		f[i] = float32(v)
	}
	return NewFloat32Data[float64](f, y, [3]int{x.Shape[1], x.Shape[2], x.Shape[3]}, chunk)
}

// paramLoss is the tiny net's mean loss on (x, y) as a gradcheck.Func of its
// trainable parameters, recorded independently of Evaluator.
func paramLoss(net *tinyNet, x *tensor.Dense[float64], y []int, mode nn.Mode) gradcheck.Func {
	return func(tp *autodiff.Tape[float64], leaves []autodiff.Var) autodiff.Var {
		g := nn.NewGraph(tp, mode)
		for i, p := range nn.Trainable(net.Params()) {
			g.Bind(p, leaves[i])
		}
		return g.CrossEntropy(net.Forward(g, tp.Leaf(x, nil, false)), y)
	}
}

func trainableValues(net *tinyNet) []*tensor.Dense[float64] {
	var out []*tensor.Dense[float64]
	for _, p := range nn.Trainable(net.Params()) {
		out = append(out, p.Value)
	}
	return out
}

// denseOf builds the matrix of op column by column.
func denseOf(op linop.Operator) [][]float64 {
	n := op.Dim()
	h := make([][]float64, n)
	e := make([]float64, n)
	for j := range n {
		e[j] = 1
		h[j] = make([]float64, n)
		op.Apply(h[j], e)
		e[j] = 0
	}
	return h
}

// maxDiff returns max |a−b| and max |b| over the entries.
func maxDiff(a, b [][]float64) (diff, scale float64) {
	for i := range b {
		for j := range b[i] {
			diff = max(diff, math.Abs(a[i][j]-b[i][j]))
			scale = max(scale, math.Abs(b[i][j]))
		}
	}
	return diff, scale
}

func eigSym(h [][]float64) []float64 {
	n := len(h)
	s := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			s.SetSym(i, j, (h[i][j]+h[j][i])/2)
		}
	}
	var e mat.EigenSym
	if !e.Factorize(s, false) {
		panic("EigenSym failed")
	}
	return e.Values(nil)
}

// TestStreamedParamsEqualsDenseAverage: the dataset operator over uneven
// chunks (3, 3, 1), through both a ChunkReader and the locking adapter and
// with 1 or 3 workers, equals the Hessian of the mean loss over all seven
// samples built from HVPs of an independent recording, which in turn agrees
// with central differences of the gradient.
func TestStreamedParamsEqualsDenseAverage(t *testing.T) {
	net := newTinyNet(7, "relu")
	x, y := tinyBatch(7, 11)
	want := gradcheck.DenseHessian(paramLoss(net, x, y, nn.Eval), trainableValues(net))
	fd := gradcheck.FDHessian(paramLoss(net, x, y, nn.Eval), trainableValues(net))
	d, s := maxDiff(fd, want)
	t.Logf("reference vs central differences: max |H−H_fd| = %.3g, scale %.3g", d, s)
	if d > 1e-7*s {
		t.Fatalf("reference Hessian differs from finite differences by %.3g (scale %.3g)", d, s)
	}
	for _, tc := range []struct {
		name    string
		data    Data[float64]
		workers int
	}{
		{"Float32Data 3,3,1 one worker", float32Data(x, y, 3), 1},
		{"Float32Data 3,3,1 three workers", float32Data(x, y, 3), 3},
		{"locked 3,3,1 two workers", &unevenData{x: x, y: y, sizes: []int{3, 3, 1}}, 2},
		{"locked 1,5,1 three workers", &unevenData{x: x, y: y, sizes: []int{1, 5, 1}}, 3},
		{"one batch", Batch[float64]{X: x, Y: y}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := NewParams[float64](net, tc.data, nn.Eval, nil)
			op.Workers = tc.workers
			got := denseOf(op)
			d, s := maxDiff(got, want)
			t.Logf("max |H−H_ref| = %.3g, scale %.3g", d, s)
			if d > 1e-13*s {
				t.Errorf("streamed Hessian differs from the dense average by %.3g (scale %.3g)", d, s)
			}
			if op.HVPs != op.Dim() {
				t.Errorf("HVPs = %d, want %d", op.HVPs, op.Dim())
			}
		})
	}
}

// TestDeterministicParallel: the parallel operators give the same Hv bit for
// bit when applied twice and for any number of workers, in float64 on the
// tiny net and in float32 on LeNet-5.
func TestDeterministicParallel(t *testing.T) {
	net := newTinyNet(7, "relu")
	x, y := tinyBatch(7, 11)
	v := gradcheck.Randn(3, NewParams[float64](net, Batch[float64]{X: x, Y: y}, nn.Eval, nil).Dim()).Data
	var ref []float64
	for _, w := range []int{1, 2, 3, 8} {
		for _, kind := range []string{"hessian", "ggn"} {
			var op linop.Operator
			if kind == "hessian" {
				p := NewParams[float64](net, float32Data(x, y, 2), nn.Eval, nil)
				p.Workers = w
				op = p
			} else {
				p := NewGaussNewton[float64](net, float32Data(x, y, 2), nn.Eval, nil)
				p.Workers = w
				op = p
			}
			if err := linoptest.Deterministic(op, 5); err != nil {
				t.Errorf("%s, %d workers: %v", kind, w, err)
			}
			if kind == "hessian" {
				hv := make([]float64, len(v))
				op.Apply(hv, v)
				if ref == nil {
					ref = hv
				} else if !slices.Equal(hv, ref) {
					t.Errorf("%d workers give another Hv than 1 worker", w)
				}
			}
		}
	}

	lenet, err := models.New[float32]("lenet5", models.Config{Classes: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := 10
	xs := make([]float32, n*784)
	for i := range xs {
		xs[i] = float32((i*7919)%256) / 255
	}
	ys := make([]int, n)
	for i := range ys {
		ys[i] = i % 10
	}
	u := gradcheck.Randn(9, lenet.NumParams()).Data
	var first []float64
	for _, w := range []int{1, 4} {
		op := NewParams[float32](lenet, NewFloat32Data[float32](xs, ys, [3]int{1, 28, 28}, 3), nn.Eval, nil)
		op.Workers = w
		for range 2 {
			hv := make([]float64, len(u))
			op.Apply(hv, u)
			if first == nil {
				first = hv
			} else if !slices.Equal(hv, first) {
				t.Errorf("lenet5 float32, %d workers: Hv differs from the first product", w)
			}
		}
	}
}

// TestLanczosOnTinyNet: Lanczos' top-4 and bottom-4 eigenvalues of the tiny
// net's Hessian (streamed over 3,3,1 chunks, eval mode) and of its
// Gauss-Newton matrix match the dense eigendecomposition to 1e-8 of ‖H‖.
func TestLanczosOnTinyNet(t *testing.T) {
	net := newTinyNet(7, "relu")
	x, y := tinyBatch(7, 11)
	for _, kind := range []string{"hessian", "ggn"} {
		var op linop.Operator = NewParams[float64](net, float32Data(x, y, 3), nn.Eval, nil)
		if kind == "ggn" {
			op = NewGaussNewton[float64](net, float32Data(x, y, 3), nn.Eval, nil)
		}
		vals := eigSym(denseOf(op))
		n := len(vals)
		scale := max(math.Abs(vals[0]), math.Abs(vals[n-1]))
		var worst float64
		for _, which := range []linop.Which{linop.Largest, linop.Smallest} {
			e, err := linop.Lanczos(op, which, linop.LanczosOptions{K: 4, Tol: 1e-10, MaxIter: op.Dim(), Seed: 2})
			if err != nil {
				t.Errorf("%s %v: %v", kind, which, err)
			}
			for i, got := range e.Values {
				want := vals[n-1-i]
				if which == linop.Smallest {
					want = vals[i]
				}
				worst = max(worst, math.Abs(got-want)/scale)
				if math.Abs(got-want) > 1e-8*scale {
					t.Errorf("%s %v λ%d = %.12g, dense %.12g", kind, which, i, got, want)
				}
				if e.Residuals[i] > 1e-8*scale || !e.Converged[i] {
					t.Errorf("%s %v λ%d residual %.3g converged %v", kind, which, i, e.Residuals[i], e.Converged[i])
				}
			}
		}
		t.Logf("%s: λ ∈ [%.6g, %.6g], largest relative eigenvalue error %.3g", kind, vals[0], vals[n-1], worst)
	}
}

// TestTraceAndDensityOnTinyNet: Hutchinson and Hutch++ land within three
// standard errors of the exact trace, and the first two SLQ moments equal
// tr(H)/n and tr(H²)/n within three of their standard errors.
func TestTraceAndDensityOnTinyNet(t *testing.T) {
	net := newTinyNet(7, "relu")
	x, y := tinyBatch(7, 11)
	op := NewParams[float64](net, float32Data(x, y, 3), nn.Eval, nil)
	h := denseOf(op)
	n := float64(len(h))
	var tr, tr2 float64
	for i := range h {
		tr += h[i][i]
		for j := range h {
			tr2 += h[i][j] * h[j][i]
		}
	}
	for seed := range uint64(3) {
		for _, est := range []struct {
			name string
			f    func(linop.Operator, linop.TraceOptions) (linop.Trace, error)
		}{{"Hutchinson", linop.Hutchinson}, {"Hutch++", linop.HutchPlusPlus}} {
			r, err := est.f(op, linop.TraceOptions{MatVecs: 90, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			z := math.Abs(r.Estimate-tr) / r.StdErr
			t.Logf("%s seed %d: %.6g ± %.3g, exact %.6g (%.2f σ)", est.name, seed, r.Estimate, r.StdErr, tr, z)
			if z > 3 {
				t.Errorf("%s seed %d: %.6g ± %.3g is %.2f standard errors from %.6g", est.name, seed, r.Estimate, r.StdErr, z, tr)
			}
		}
	}
	s, err := linop.SLQ(op, linop.SLQOptions{Probes: 30, Steps: 25, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int]float64{1: tr / n, 2: tr2 / n} {
		m, se := s.Moment(p)
		t.Logf("SLQ moment %d: %.6g ± %.3g, exact %.6g", p, m, se, want)
		if math.Abs(m-want) > 3*se {
			t.Errorf("SLQ moment %d = %.6g ± %.3g, want %.6g", p, m, se, want)
		}
	}
}

// TestPerLayerBlocks: the operator restricted to a layer, or to a comma list
// of tensors, is the matching diagonal block of the full Hessian.
func TestPerLayerBlocks(t *testing.T) {
	net := newTinyNet(7, "relu")
	x, y := tinyBatch(7, 11)
	data := float32Data(x, y, 3)
	full := denseOf(NewParams[float64](net, data, nn.Eval, nil))
	offset := map[*nn.Param[float64]]int{}
	off := 0
	for _, p := range nn.Trainable(net.Params()) {
		offset[p] = off
		off += p.Value.Len()
	}
	specs := []string{"conv1.weight, fc2", "bn2.bias,conv1.bias"}
	for _, l := range Layers(net.Params()) {
		specs = append(specs, l.Name)
	}
	if got := len(specs) - 2; got != 6 {
		t.Errorf("%d layers, want 6 (conv1 bn1 conv2 bn2 fc1 fc2)", got)
	}
	for _, spec := range specs {
		ps, err := Select(net.Params(), spec)
		if err != nil {
			t.Fatal(err)
		}
		var idx []int
		for _, p := range ps {
			for k := range p.Value.Len() {
				idx = append(idx, offset[p]+k)
			}
		}
		got := denseOf(NewParams[float64](net, data, nn.Eval, ps))
		want := make([][]float64, len(idx))
		for i, a := range idx {
			want[i] = make([]float64, len(idx))
			for j, b := range idx {
				want[i][j] = full[a][b]
			}
		}
		if d, s := maxDiff(got, want); d > 1e-14*s || len(got) != len(want) {
			t.Errorf("%q: block differs by %.3g (scale %.3g, dim %d)", spec, d, s, len(got))
		}
	}
	if _, err := Select(net.Params(), "conv3"); err == nil {
		t.Error("Select(conv3) succeeded")
	}
	if _, err := Select(net.Params(), "bn1.running_mean"); err == nil {
		t.Error("Select of a buffer succeeded")
	}
	if ps, _ := Select(net.Params(), "conv"); ps != nil {
		t.Error("a partial name selected parameters")
	}
}

// TestSampleInputEigen: per-sample input Hessians of a ReLU net with softmax
// cross-entropy are positive semi-definite (the network is piecewise linear
// in x, so ∇²ₓℓ = Jᵀ·H_ℓ·J), those of the same net with tanh are not, and
// Lanczos matches the dense eigendecomposition of each sample's Hessian,
// which is N times its block of the batch input Hessian in eval mode.
func TestSampleInputEigen(t *testing.T) {
	x, y := tinyBatch(5, 3)
	for _, act := range []string{"relu", "tanh"} {
		net := newTinyNet(7, act)
		res, err := SampleInputEigen[float64](net, float32Data(x, y, 2), SampleInputOptions{
			Lanczos: linop.LanczosOptions{K: 2, Tol: 1e-10, MaxIter: 128}, Bottom: true, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		batch := denseOf(NewInput[float64](net, x, y, nn.Eval))
		var minRatio float64 = math.Inf(1)
		for i, r := range res {
			if r.Index != i || r.Label != y[i] {
				t.Errorf("%s: result %d is for sample %d label %d", act, i, r.Index, r.Label)
			}
			block := make([][]float64, 128)
			for a := range block {
				block[a] = make([]float64, 128)
				for b := range block[a] {
					block[a][b] = 5 * batch[i*128+a][i*128+b]
				}
			}
			vals := eigSym(block)
			top, bottom := vals[127], vals[0]
			scale := max(math.Abs(top), math.Abs(bottom))
			if math.Abs(r.Top.Values[0]-top) > 1e-8*scale || math.Abs(r.Bottom.Values[0]-bottom) > 1e-8*scale {
				t.Errorf("%s sample %d: Lanczos [%.10g, %.10g], dense [%.10g, %.10g]", act, i, r.Bottom.Values[0], r.Top.Values[0], bottom, top)
			}
			minRatio = min(minRatio, r.Bottom.Values[0]/r.Top.Values[0])
			if act == "relu" && r.Bottom.Values[0] < -1e-10*r.Top.Values[0] {
				t.Errorf("relu sample %d: λmin = %.3g < −1e-10·λmax (λmax %.3g)", i, r.Bottom.Values[0], r.Top.Values[0])
			}
		}
		t.Logf("%s: min over samples of λmin/λmax = %.3g", act, minRatio)
		cancel := make(chan struct{})
		close(cancel)
		if _, err := SampleInputEigen[float64](net, float32Data(x, y, 2), SampleInputOptions{Cancel: cancel}); err != context.Canceled {
			t.Errorf("canceled: %v", err)
		}
		if act == "tanh" && minRatio > -1e-3 {
			t.Errorf("tanh: no clearly negative input eigenvalue (min λmin/λmax = %.3g)", minRatio)
		}
	}
}

// TestGaussNewtonDense: the GGN operator equals Σᵢ Jᵢᵀ·H_ℓᵢ·Jᵢ built from
// the Jacobian of the logits (forward-mode columns) and the softmax Hessian
// (diag(p) − ppᵀ)/N, and is positive semi-definite.
func TestGaussNewtonDense(t *testing.T) {
	for _, act := range []string{"relu", "tanh"} {
		net := newTinyNet(7, act)
		x, y := tinyBatch(7, 11)
		ps := nn.Trainable(net.Params())
		n := nn.Size(ps)
		// J[k][j]: logit k (flattened [N,3]) by parameter j.
		var logits []float64
		jac := make([][]float64, 7*3)
		for k := range jac {
			jac[k] = make([]float64, n)
		}
		e := make([]float64, n)
		for j := range n {
			e[j] = 1
			tangents := nn.Like(ps)
			nn.Scatter(tangents, e)
			e[j] = 0
			tp := autodiff.NewTape[float64]()
			g := nn.NewGraph(tp, nn.Eval)
			for i, p := range ps {
				g.Bind(p, tp.Leaf(p.Value, tangents[i], false))
			}
			out := net.Forward(g, tp.Leaf(x, nil, false))
			logits = tp.Value(out).Data
			for k, v := range tp.Tangent(out).Data {
				jac[k][j] = v
			}
		}
		want := make([][]float64, n)
		for a := range want {
			want[a] = make([]float64, n)
		}
		for i := range 7 {
			z := logits[3*i : 3*i+3]
			m := max(z[0], z[1], z[2])
			p := make([]float64, 3)
			var sum float64
			for c := range 3 {
				p[c] = math.Exp(z[c] - m)
				sum += p[c]
			}
			for c := range 3 {
				p[c] /= sum
			}
			for c := range 3 {
				for d := range 3 {
					hl := -p[c] * p[d]
					if c == d {
						hl += p[c]
					}
					hl /= 7
					for a := range n {
						ja := jac[3*i+c][a] * hl
						if ja == 0 {
							continue
						}
						for b := range n {
							want[a][b] += ja * jac[3*i+d][b]
						}
					}
				}
			}
		}
		got := denseOf(NewGaussNewton[float64](net, float32Data(x, y, 3), nn.Eval, nil))
		d, s := maxDiff(got, want)
		vals := eigSym(got)
		t.Logf("%s: max |G−JᵀHJ| = %.3g (scale %.3g); eigenvalues in [%.3g, %.3g]", act, d, s, vals[0], vals[len(vals)-1])
		if d > 1e-13*s {
			t.Errorf("%s: GGN differs from JᵀHJ by %.3g (scale %.3g)", act, d, s)
		}
		if vals[0] < -1e-12*vals[len(vals)-1] {
			t.Errorf("%s: GGN has eigenvalue %.3g", act, vals[0])
		}
	}
}

// TestObjective: the objective at the model's own θ gives the loss and
// gradient of Params.Gradient bit for bit, agrees with central differences
// elsewhere, reports accuracy, and never modifies the model.
func TestObjective(t *testing.T) {
	net := newTinyNet(7, "tanh")
	x, y := tinyBatch(7, 11)
	data := float32Data(x, y, 3)
	before := gradcheck.Flatten(trainableValues(net))
	obj := NewObjective[float64](net, data, nn.Eval)
	obj.Workers = 2
	theta := obj.Theta()
	if !slices.Equal(theta, before) {
		t.Fatal("Theta is not the model's parameters")
	}
	grad := make([]float64, obj.Dim())
	loss := obj.Eval(grad, theta)
	wantLoss, wantGrad := NewParams[float64](net, data, nn.Eval, nil).Gradient()
	if loss != wantLoss || !slices.Equal(grad, wantGrad) {
		t.Errorf("Eval at θ₀: loss %v grad differs; Params.Gradient: %v", loss, wantLoss)
	}
	if l2 := obj.Eval(nil, theta); l2 != loss {
		t.Errorf("forward-only loss %v, with gradient %v", l2, loss)
	}
	// Another point: directional derivative by central differences.
	d := gradcheck.Randn(8, obj.Dim()).Data
	at := slices.Clone(theta)
	for i := range at {
		at[i] += 0.05 * d[i]
	}
	obj.Eval(grad, at)
	h := 1e-5
	plus, minus := slices.Clone(at), slices.Clone(at)
	for i := range at {
		plus[i] += h * d[i]
		minus[i] -= h * d[i]
	}
	fd := (obj.Eval(nil, plus) - obj.Eval(nil, minus)) / (2 * h)
	var gd float64
	for i := range d {
		gd += grad[i] * d[i]
	}
	if math.Abs(fd-gd) > 1e-7*math.Abs(gd) {
		t.Errorf("directional derivative %.12g, central difference %.12g", gd, fd)
	}
	var correct int
	r := NewEvaluator[float64](net).Pass(x, y, Request[float64]{})
	correct = Correct(r.Logits, y)
	obj.Eval(nil, theta)
	if obj.Accuracy != float64(correct)/7 {
		t.Errorf("accuracy %v, want %d/7", obj.Accuracy, correct)
	}
	if !slices.Equal(gradcheck.Flatten(trainableValues(net)), before) {
		t.Error("Objective modified the model")
	}
	if obj.Evals != 6 || obj.Grads != 2 {
		t.Errorf("Evals %d Grads %d, want 6 and 2", obj.Evals, obj.Grads)
	}
}

func TestLayers(t *testing.T) {
	net, err := models.New[float32]("resnet20", models.Config{Classes: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ls := Layers(net.Params())
	var names []string
	total := 0
	for _, l := range ls {
		names = append(names, l.Name)
		total += nn.Size(l.Params)
	}
	if total != net.NumParams() {
		t.Errorf("layers hold %d parameters, the net %d", total, net.NumParams())
	}
	if names[0] != "conv1" || names[1] != "bn1" || !slices.Contains(names, "layer2.0.conv1") || names[len(names)-1] != "fc" {
		t.Errorf("layers %v", names)
	}
	ps, err := Select(net.Params(), "layer2.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Buffer || len(p.Name) < 9 || p.Name[:9] != "layer2.0." {
			t.Errorf("layer2.0 selected %s", p.Name)
		}
	}
}

// TestPowerOnTinyNet: power iteration's largest and smallest eigenvalues
// of the tiny net's Hessian and Gauss-Newton matrix (whose smallest is 0 up
// to rounding: the floor of the convergence rule) lie within their residual
// of the dense ones, and converged pairs meet the rule with the true norm.
func TestPowerOnTinyNet(t *testing.T) {
	net := newTinyNet(7, "relu")
	x, y := tinyBatch(7, 11)
	for _, kind := range []string{"hessian", "ggn"} {
		var op linop.Operator = NewParams[float64](net, float32Data(x, y, 3), nn.Eval, nil)
		if kind == "ggn" {
			op = NewGaussNewton[float64](net, float32Data(x, y, 3), nn.Eval, nil)
		}
		vals := eigSym(denseOf(op))
		n := len(vals)
		norm := max(math.Abs(vals[0]), math.Abs(vals[n-1]))
		const tol = 1e-6
		for _, which := range []linop.Which{linop.Largest, linop.Smallest} {
			e, err := linop.Power(op, which, linop.PowerOptions{Tol: tol, MaxIter: 20000, Seed: 2})
			if err != nil {
				t.Errorf("%s %v: %v", kind, which, err)
				continue
			}
			want := vals[n-1]
			if which == linop.Smallest {
				want = vals[0]
			}
			if d := math.Abs(e.Values[0] - want); d > e.Residuals[0]+1e-12*norm {
				t.Errorf("%s %v: λ = %.12g, dense %.12g (residual %.3g)", kind, which, e.Values[0], want, e.Residuals[0])
			}
			if e.Residuals[0] > linop.ResidualBound(e.Values[0], norm, tol) {
				t.Errorf("%s %v: converged with residual %.3g > %.3g", kind, which, e.Residuals[0], linop.ResidualBound(e.Values[0], norm, tol))
			}
			t.Logf("%s %v: λ = %.10g (dense %.10g), residual %.2g, %d matvecs", kind, which, e.Values[0], want, e.Residuals[0], e.MatVecs)
		}
	}
}
