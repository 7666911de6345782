package hessian

import (
	"math"
	"testing"

	"hesscope/dist"
	"hesscope/dist/disttest"
	"hesscope/linop"
	"hesscope/nn"
)

// TestShardedOperators: over P ranks (in-process, disttest) each holding a
// shard of the chunks, the HVP, Gauss-Newton product, gradient, loss,
// objective and top eigenvalues equal the one-process ones to rounding,
// are the same bits on every rank, and with one rank equal the
// communicator-less ones bit for bit.
func TestShardedOperators(t *testing.T) {
	x, y := tinyBatch(11, 5)
	const chunk = 2 // 6 chunks: 2,2,2,2,2,1
	type result struct {
		hv, gv, grad, obj []float64
		loss, objLoss     float64
		acc               float64
		eig               []float64
	}
	compute := func(c dist.Comm) result {
		net := newTinyNet(7, "relu")
		d := float32Data(x, y, chunk)
		if c != nil {
			d = d.Shard(c.Rank(), c.Size())
		}
		h := NewParams[float64](net, d, nn.Eval, nil)
		h.Comm = c
		g := NewGaussNewton[float64](net, d, nn.Eval, nil)
		g.Comm = c
		o := NewObjective[float64](net, d, nn.Eval)
		o.Comm = c
		v := make([]float64, h.Dim())
		for i := range v {
			v[i] = math.Sin(float64(i) + 0.5)
		}
		var r result
		r.hv, r.gv, r.obj = make([]float64, len(v)), make([]float64, len(v)), make([]float64, len(v))
		h.Apply(r.hv, v)
		g.Apply(r.gv, v)
		r.loss, r.grad = h.Gradient()
		theta := o.Theta()
		for i := range theta {
			theta[i] += 1e-2 * v[i]
		}
		r.objLoss = o.Eval(r.obj, theta)
		r.acc = o.Accuracy
		e, err := linop.Lanczos(h, linop.Largest, linop.LanczosOptions{K: 2, Tol: 1e-10, MaxIter: h.Dim(), Seed: 3})
		if err != nil {
			t.Error(err)
		}
		r.eig = e.Values
		return r
	}
	ref := compute(nil)
	relDiff := func(a, b []float64) float64 {
		var d, s float64
		for i := range a {
			d = max(d, math.Abs(a[i]-b[i]))
			s = max(s, math.Abs(b[i]))
		}
		return d / s
	}
	same := func(a, b result) bool {
		eq := func(u, v []float64) bool {
			for i := range u {
				if math.Float64bits(u[i]) != math.Float64bits(v[i]) {
					return false
				}
			}
			return len(u) == len(v)
		}
		return eq(a.hv, b.hv) && eq(a.gv, b.gv) && eq(a.grad, b.grad) && eq(a.obj, b.obj) && eq(a.eig, b.eig) &&
			a.loss == b.loss && a.objLoss == b.objLoss && a.acc == b.acc
	}
	for _, p := range []int{1, 2, 3, 4, 7} { // 7 ranks: one holds no chunk
		res := make([]result, p)
		disttest.Run(p, func(c dist.Comm) { res[c.Rank()] = compute(c) })
		for r := 1; r < p; r++ {
			if !same(res[r], res[0]) {
				t.Errorf("%d ranks: rank %d differs from rank 0", p, r)
			}
		}
		got := res[0]
		if p == 1 && !same(got, ref) {
			t.Errorf("1 rank: not bit for bit the one-process result")
		}
		worst := max(relDiff(got.hv, ref.hv), relDiff(got.gv, ref.gv), relDiff(got.grad, ref.grad), relDiff(got.obj, ref.obj),
			relDiff(got.eig, ref.eig), math.Abs(got.loss-ref.loss)/ref.loss, math.Abs(got.objLoss-ref.objLoss)/ref.objLoss)
		if worst > 1e-13 || got.acc != ref.acc {
			t.Errorf("%d ranks: relative difference %.3g from one process (accuracy %v, want %v)", p, worst, got.acc, ref.acc)
		}
		t.Logf("%d ranks: largest relative difference from one process %.3g; λ %v", p, worst, got.eig)
	}
}

func TestShard(t *testing.T) {
	x, y := tinyBatch(11, 5)
	d := float32Data(x, y, 2)
	var n, chunks int
	for r := range 4 {
		s := d.Shard(r, 4)
		n += s.Len()
		chunks += s.Chunks()
	}
	if n != 11 || chunks != d.Chunks() {
		t.Errorf("4 shards hold %d samples in %d chunks, want 11 in %d", n, chunks, d.Chunks())
	}
}
