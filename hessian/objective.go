package hessian

import (
	"fmt"

	"hesscope/nn"
	"hesscope/tensor"
)

// Objective is the mean loss over Data as a function of the model's
// trainable parameters θ, flattened in nn.Trainable order: the function that
// sharpness measures and landscapes maximise or plot. It evaluates the model
// at any θ without modifying it, streaming the chunks in parallel and
// reducing in chunk order as Params does, so the same θ gives the same value
// and gradient bit for bit. It is not safe for concurrent use.
//
// Its Workers field is the number of chunks processed at once, each pass
// being parallel inside; 0 means 1. It is read by the first Eval.
type Objective[T tensor.Float] struct {
	chunked[T]
	// Evals counts the evaluations and Grads those with a gradient.
	Evals, Grads int
	// Accuracy is the fraction of samples whose largest logit is the label,
	// at the θ of the last Eval.
	Accuracy float64
}

// NewObjective returns the mean loss of m on data in the given BatchNorm mode
// as a function of its trainable parameters.
func NewObjective[T tensor.Float](m Model[T], data Data[T], mode nn.Mode) *Objective[T] {
	return &Objective[T]{chunked: newChunked(m, data, mode, nil)}
}

// Theta returns the model's own parameters θ₀, flattened.
func (o *Objective[T]) Theta() []float64 {
	theta := make([]float64, o.dim)
	nn.Gather(theta, o.params)
	return theta
}

// Eval returns the mean loss L(θ) over the data and, unless grad is nil,
// writes ∇L(θ) into grad. Without a gradient only forward passes run. θ is
// rounded to T for the passes. It panics if θ or grad do not have Dim
// entries.
func (o *Objective[T]) Eval(grad, theta []float64) float64 {
	if len(theta) != o.dim || (grad != nil && len(grad) != o.dim) {
		panic(fmt.Sprintf("hessian: Objective.Eval with θ of %d and gradient of %d entries, want %d", len(theta), len(grad), o.dim))
	}
	nn.Scatter(o.vec, theta)
	var params []*nn.Param[T]
	if grad != nil {
		clear(grad)
		params = o.params
		o.Grads++
	}
	o.Evals++
	var loss, correct float64
	n := o.count()
	o.workers().run(func(w *worker[T], c int, x *tensor.Dense[T], y []int) {
		w.res = w.pass.Pass(x, y, Request[T]{Mode: o.mode, Params: params, At: o.vec})
		w.correct = Correct(w.res.Logits, y)
	}, func(w *worker[T], _, size int) {
		wt := float64(size) / n
		loss += wt * w.res.Loss
		correct += float64(w.correct)
		if grad != nil {
			addWeighted(grad, w.res.ParamGrad, o.vec, wt)
		}
	})
	o.allreduce(grad, &loss, &correct)
	o.Accuracy = correct / n
	return loss
}

// Correct counts the rows of logits [N, K] whose largest entry (the first of
// equal ones) is at the label.
func Correct[T tensor.Float](logits *tensor.Dense[T], y []int) int {
	k := logits.Shape[1]
	c := 0
	for i, label := range y {
		if Argmax(logits.Data[i*k:(i+1)*k]) == label {
			c++
		}
	}
	return c
}

// Argmax is the index of the largest entry of row; the first wins ties, as
// torch.argmax does on CPU.
func Argmax[T tensor.Float](row []T) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}
