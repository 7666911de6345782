package attack

import (
	"math"
	"sort"

	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/tensor"
)

// logitGradTo records the model on x in eval mode and writes to g the
// gradient of Σᵢ seed[i]·z(xᵢ) with respect to x, a vector-Jacobian product
// of the logits z, and returns the logits (owned by the tape until its next
// use).
func (a *Attacker[T]) logitGradTo(g *tensor.Dense[T], x, seed *tensor.Dense[T]) *tensor.Dense[T] {
	tp := a.tape
	tp.Reset()
	gr := nn.NewGraph(tp, nn.Eval)
	xv := tp.Leaf(x, nil, true)
	logits := a.model.Forward(gr, xv)
	tp.BackwardFrom(logits, seed, false)
	if gx := tp.Grad(xv); gx != nil {
		copy(g.Data, gx.Data)
	} else {
		g.Zero()
	}
	return tp.Value(logits)
}

// deepFool runs DeepFool on every sample of the batch and writes the
// examples to dst; iters, if not nil, receives the number of iterations each
// sample took (0 for a sample misclassified from the start).
func (a *Attacker[T]) deepFool(dst, x *tensor.Dense[T], y []int, c Config, iters []int) {
	n, d := len(y), x.Len()/len(y)
	shape := x.Shape[1:]
	copy(dst.Data, x.Data)
	rtot := make([]float64, n*d)

	// Clean logits give every sample its candidate classes: the largest
	// logits, the true label first (it is the largest when the sample is
	// correctly classified, which is when DeepFool runs).
	pred := make([]int, n)
	r := a.eval.Pass(x, y, hessian.Request[T]{Mode: nn.Eval})
	k := r.Logits.Shape[1]
	argmaxTo(pred, r.Logits)
	nc := min(c.Candidates, k)
	cands := make([][]int, n)
	for i := range y {
		row := r.Logits.Data[i*k : (i+1)*k]
		order := make([]int, k)
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(p, q int) bool { return row[order[p]] > row[order[q]] })
		cs := []int{}
		for _, j := range order[:nc] {
			if j != y[i] {
				cs = append(cs, j)
			}
		}
		if len(cs) == nc { // the label is not among the top nc: drop the last
			cs = cs[:nc-1]
		}
		cands[i] = cs
	}

	active := []int{}
	for i := range y {
		if pred[i] == y[i] {
			active = append(active, i)
		}
	}
	for it := 0; it < c.Steps && len(active) > 0 && !a.stopped(); it++ {
		m := len(active)
		xs := tensor.New[T](append([]int{m}, shape...)...)
		for j, i := range active {
			copy(xs.Data[j*d:(j+1)*d], dst.Data[i*d:(i+1)*d])
		}
		seed := tensor.New[T](m, k)
		g := tensor.New[T](xs.Shape...)
		// best[j] is the step of active sample j: the smallest distance to
		// a linearised boundary, its w = ∇(z_k − z_y) and f = z_k − z_y.
		bestDist := make([]float64, m)
		for j := range bestDist {
			bestDist[j] = math.Inf(1)
		}
		bestW := make([]T, m*d)
		bestF := make([]float64, m)
		still := make([]bool, m)
		for ci := 0; ci < nc-1; ci++ {
			seed.Zero()
			for j, i := range active {
				seed.Data[j*k+cands[i][ci]] = 1
				seed.Data[j*k+y[i]] = -1
			}
			logits := a.logitGradTo(g, xs, seed)
			if ci == 0 {
				p := make([]int, m)
				argmaxTo(p, logits)
				for j, i := range active {
					still[j] = p[j] == y[i]
				}
			}
			for j, i := range active {
				if !still[j] {
					continue
				}
				w := g.Data[j*d : (j+1)*d]
				f := float64(logits.Data[j*k+cands[i][ci]] - logits.Data[j*k+y[i]])
				dist := math.Abs(f) / (norm2(w) + 1e-8)
				if dist < bestDist[j] {
					bestDist[j], bestF[j] = dist, f
					copy(bestW[j*d:(j+1)*d], w)
				}
			}
		}
		next := active[:0]
		for j, i := range active {
			if !still[j] {
				continue
			}
			if iters != nil {
				iters[i] = it + 1
			}
			w := bestW[j*d : (j+1)*d]
			s := (bestDist[j] + 1e-4) / (norm2(w) + 1e-8)
			rt := rtot[i*d : (i+1)*d]
			xi, out := x.Data[i*d:(i+1)*d], dst.Data[i*d:(i+1)*d]
			for q, v := range w {
				rt[q] += s * float64(v)
				out[q] = clip01(xi[q] + T((1+c.Overshoot)*rt[q]))
			}
			next = append(next, i)
		}
		active = next
	}
}
