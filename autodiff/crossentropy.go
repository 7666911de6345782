package autodiff

import (
	"fmt"
	"math"

	"hesscope/tensor"
)

// SoftmaxCrossEntropy is the mean over a batch of the softmax cross-entropy
// between logits z of shape [N, K] and integer labels in [0, K):
//
//	L = (1/N) Σₙ (log Σₖ exp zₙₖ − zₙ,yₙ)
//
// With p = softmax(z) and e the one-hot label:
//
//	L̇   = (1/N) Σₙ ⟨pₙ − eₙ, żₙ⟩
//	z̄  += (L̄/N)(p − e)
//	curvature: z̄̇ += (L̄/N)(p ⊙ ż − p⟨p, ż⟩)       (the softmax Jacobian diag(p) − ppᵀ)
type SoftmaxCrossEntropy[T tensor.Float] struct {
	Labels []int
	p      []float64 // softmax probabilities from Forward, [N·K]
}

func (c *SoftmaxCrossEntropy[T]) Shape(x []*tensor.Dense[T]) []int {
	z := x[0]
	if len(z.Shape) != 2 || z.Shape[0] != len(c.Labels) {
		panic(fmt.Sprintf("autodiff: SoftmaxCrossEntropy of logits %v with %d labels", z.Shape, len(c.Labels)))
	}
	return []int{}
}

func (c *SoftmaxCrossEntropy[T]) Forward(y *tensor.Dense[T], x []*tensor.Dense[T]) {
	n, k := x[0].Shape[0], x[0].Shape[1]
	c.p = make([]float64, n*k)
	var loss float64
	for i := 0; i < n; i++ {
		row := x[0].Data[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		var s float64
		p := c.p[i*k : (i+1)*k]
		for j, v := range row {
			p[j] = math.Exp(float64(v) - m)
			s += p[j]
		}
		for j := range p {
			p[j] /= s
		}
		lbl := c.Labels[i]
		if lbl < 0 || lbl >= k {
			panic(fmt.Sprintf("autodiff: label %d outside [0, %d)", lbl, k))
		}
		loss += m + math.Log(s) - float64(row[lbl])
	}
	y.Data[0] = T(loss / float64(n))
}

// Probabilities returns softmax(z) computed by Forward, row-major [N·K].
func (c *SoftmaxCrossEntropy[T]) Probabilities() []float64 { return c.p }

func (c *SoftmaxCrossEntropy[T]) JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], _ *tensor.Dense[T]) {
	n, k := x[0].Shape[0], x[0].Shape[1]
	var s float64
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			g := c.p[i*k+j]
			if j == c.Labels[i] {
				g--
			}
			s += g * float64(xDot[0].Data[i*k+j])
		}
	}
	yDot.Data[0] = T(s / float64(n))
}

func (c *SoftmaxCrossEntropy[T]) VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], _ *tensor.Dense[T]) {
	if xBar[0] == nil {
		return
	}
	n, k := x[0].Shape[0], x[0].Shape[1]
	scale := float64(yBar.Data[0]) / float64(n)
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			g := c.p[i*k+j]
			if j == c.Labels[i] {
				g--
			}
			xBar[0].Data[i*k+j] += T(scale * g)
		}
	}
}

func (c *SoftmaxCrossEntropy[T]) CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], _, _ *tensor.Dense[T]) {
	if xBarDot[0] == nil || xDot[0] == nil {
		return
	}
	n, k := x[0].Shape[0], x[0].Shape[1]
	scale := float64(yBar.Data[0]) / float64(n)
	for i := 0; i < n; i++ {
		p := c.p[i*k : (i+1)*k]
		zd := xDot[0].Data[i*k : (i+1)*k]
		var pz float64
		for j, v := range zd {
			pz += p[j] * float64(v)
		}
		for j, v := range zd {
			xBarDot[0].Data[i*k+j] += T(scale * p[j] * (float64(v) - pz))
		}
	}
}
