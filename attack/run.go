package attack

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"hesscope/tensor"
)

// Options says how Predict, Run, Robustness and SaddleCheck spread their work.
type Options struct {
	// BatchSize is the number of samples per batch (0: 100).
	BatchSize int
	// Workers is the number of goroutines, each with its own Attacker
	// (0: GOMAXPROCS).
	Workers int
	// Keep makes Run return the adversarial examples.
	Keep bool
	// Progress, if not nil, is called after every batch with the number of
	// samples (or, in SaddleCheck, trajectory points) it held. Calls are
	// serialised.
	Progress func(n int)
}

func (o Options) batch() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return 100
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// parallel calls work(attacker, b) for every batch b in [0, n) on
// o.workers() goroutines, each with its own Attacker of m, and stops early
// when ctx is cancelled. Batches are handed out in order; a batch's result
// must depend on the batch alone for the whole to be deterministic.
func parallel[T tensor.Float](ctx context.Context, m Model[T], n int, o Options, work func(a *Attacker[T], b int) int) error {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < min(o.workers(), n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := NewAttacker(m)
			a.Context = ctx
			for ctx.Err() == nil {
				b := int(next.Add(1)) - 1
				if b >= n {
					return
				}
				done := work(a, b)
				if o.Progress != nil {
					mu.Lock()
					o.Progress(done)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// checkBatch panics unless x is [N,…] with N labels.
func checkBatch[T tensor.Float](x *tensor.Dense[T], y []int) {
	if len(x.Shape) < 2 || x.Shape[0] != len(y) {
		panic(fmt.Sprintf("attack: images %s with %d labels", tensor.ShapeString(x.Shape), len(y)))
	}
}

// gather copies the samples idx of x into a new batch.
func gather[T tensor.Float](x *tensor.Dense[T], y []int, idx []int) (*tensor.Dense[T], []int) {
	d := x.Len() / x.Shape[0]
	xs := tensor.New[T](append([]int{len(idx)}, x.Shape[1:]...)...)
	var ys []int
	if y != nil {
		ys = make([]int, len(idx))
	}
	for j, i := range idx {
		copy(xs.Data[j*d:(j+1)*d], x.Data[i*d:(i+1)*d])
		if y != nil {
			ys[j] = y[i]
		}
	}
	return xs, ys
}

// Predict returns the class the model predicts for every image of x,
// [N,C,H,W], in eval mode.
func Predict[T tensor.Float](ctx context.Context, m Model[T], x *tensor.Dense[T], o Options) ([]int, error) {
	n := x.Shape[0]
	pred := make([]int, n)
	bs := o.batch()
	err := parallel(ctx, m, (n+bs-1)/bs, o, func(a *Attacker[T], b int) int {
		idx := span(b*bs, min(n, (b+1)*bs))
		xs, _ := gather(x, nil, idx)
		a.predict(pred[b*bs:b*bs+len(idx)], nil, xs, nil)
		return len(idx)
	})
	return pred, err
}

func span(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}

// Outcome is the result of one attack over a dataset.
type Outcome[T tensor.Float] struct {
	// Config is the attack, its defaults filled in.
	Config Config
	// Labels, Clean and Pred are the true labels and the predictions on the
	// clean and on the adversarial images. Samples misclassified clean are
	// not attacked: their Pred is their Clean.
	Labels, Clean, Pred []int
	// Attacked marks the samples attacked (those classified correctly).
	Attacked []bool
	// L2 and LInf are the norms of the perturbations x' − x (0 for samples
	// not attacked).
	L2, LInf []float64
	// Iterations holds DeepFool's iterations per sample (nil for FGSM, PGD).
	Iterations []int
	// Adv holds the adversarial examples, the clean image for samples not
	// attacked, when Options.Keep is set.
	Adv *tensor.Dense[T]
	// Seconds is the wall time of the attack.
	Seconds float64
}

// Run attacks every correctly classified image of x ([N,C,H,W], pixels in
// [0, 1]) with labels y, and classifies the examples. clean, if not nil,
// holds the model's predictions on x (as Predict returns them), saving a
// pass. The error is ctx.Err() if ctx is cancelled, or c.Check()'s.
func Run[T tensor.Float](ctx context.Context, m Model[T], x *tensor.Dense[T], y, clean []int, c Config, o Options) (*Outcome[T], error) {
	checkBatch(x, y)
	if err := c.Check(); err != nil {
		return nil, err
	}
	c = c.WithDefaults()
	start := time.Now()
	if clean == nil {
		var err error
		if clean, err = Predict(ctx, m, x, o); err != nil {
			return nil, err
		}
	}
	n, d := len(y), x.Len()/len(y)
	out := &Outcome[T]{Config: c, Labels: y, Clean: clean, Pred: append([]int(nil), clean...),
		Attacked: make([]bool, n), L2: make([]float64, n), LInf: make([]float64, n)}
	if c.Method == DeepFool {
		out.Iterations = make([]int, n)
	}
	if o.Keep {
		out.Adv = x.Clone()
	}
	var idx []int
	for i := range y {
		if clean[i] == y[i] {
			idx = append(idx, i)
			out.Attacked[i] = true
		}
	}
	bs := o.batch()
	err := parallel(ctx, m, (len(idx)+bs-1)/bs, o, func(a *Attacker[T], b int) int {
		ids := idx[b*bs : min(len(idx), (b+1)*bs)]
		xs, ys := gather(x, y, ids)
		adv := tensor.New[T](xs.Shape...)
		if c.Method == DeepFool {
			iters := make([]int, len(ids))
			a.deepFool(adv, xs, ys, c, iters)
			for j, i := range ids {
				out.Iterations[i] = iters[j]
			}
		} else {
			a.Perturb(adv, xs, ys, c, ids)
		}
		p := make([]int, len(ids))
		a.predict(p, nil, adv, ys)
		for j, i := range ids {
			out.Pred[i] = p[j]
			xa, xc := adv.Data[j*d:(j+1)*d], xs.Data[j*d:(j+1)*d]
			var s2, inf float64
			for q := range xa {
				dv := math.Abs(float64(xa[q] - xc[q]))
				s2 += dv * dv
				inf = max(inf, dv)
			}
			out.L2[i], out.LInf[i] = math.Sqrt(s2), inf
			if out.Adv != nil {
				copy(out.Adv.Data[i*d:(i+1)*d], xa)
			}
		}
		return len(ids)
	})
	out.Seconds = time.Since(start).Seconds()
	return out, err
}

// Point is the robustness of a model at one ε.
type Point struct {
	Eps float64 `json:"eps"`
	// Accuracy is the robust accuracy: the fraction of all samples
	// classified correctly both clean and after the attack.
	Accuracy float64 `json:"accuracy"`
	// SuccessRate is the fraction of attacked (correctly classified) samples
	// the attack fools.
	SuccessRate float64 `json:"success_rate"`
	// MeanL2 and MeanLInf are the mean norms of the perturbations of the
	// attacked samples (DeepFool's curve leaves them 0: see DeepFoolStats).
	MeanL2   float64 `json:"mean_l2"`
	MeanLInf float64 `json:"mean_linf"`
	// MaxNorm is the largest perturbation in the attack's norm.
	MaxNorm float64 `json:"max_norm"`
	Seconds float64 `json:"seconds"`
}

// Point summarises the outcome of an FGSM or PGD attack.
func (o *Outcome[T]) Point() Point {
	p := Point{Eps: o.Config.Eps, Seconds: o.Seconds}
	var correct, attacked, fooled int
	for i, y := range o.Labels {
		if o.Pred[i] == y {
			correct++
		}
		if !o.Attacked[i] {
			continue
		}
		attacked++
		if o.Pred[i] != y {
			fooled++
		}
		p.MeanL2 += o.L2[i]
		p.MeanLInf += o.LInf[i]
		if o.Config.Norm == L2 {
			p.MaxNorm = max(p.MaxNorm, o.L2[i])
		} else {
			p.MaxNorm = max(p.MaxNorm, o.LInf[i])
		}
	}
	p.Accuracy = frac(correct, len(o.Labels))
	p.SuccessRate = frac(fooled, attacked)
	if attacked > 0 {
		p.MeanL2 /= float64(attacked)
		p.MeanLInf /= float64(attacked)
	}
	return p
}

func frac(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
