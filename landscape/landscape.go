// Package landscape evaluates the loss (and accuracy) of a model on 1-D and
// 2-D grids around a point, θ + α·d₁ (+ β·d₂) in parameter space or
// x + α·d₁ (+ β·d₂) in input space, as in Li et al., "Visualizing the Loss
// Landscape of Neural Nets" (NeurIPS 2018) and Yao et al. (NeurIPS 2018),
// who perturb along the top Hessian eigenvectors.
//
// Directions are plain flattened vectors: Hessian eigenvectors from package
// linop, random filter-normalised directions from FilterNormalized, or
// anything else. Grid points are evaluated in parallel, each worker on its
// own copy of the weights (or input) and its own Evaluator, so the model is
// never modified; each point's value is a sequential sum over the data
// chunks, so the grid is the same bit for bit for any number of workers.
// Quadratic gives the second-order model to overlay on a 1-D curve, and
// Grid writes CSV and PNG/SVG plots.
package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"hesscope/hessian"
	"hesscope/internal/parallel"
	"hesscope/nn"
	"hesscope/tensor"
)

// Options configures a grid evaluation.
type Options struct {
	// Mode is the BatchNorm mode (Eval for analysis).
	Mode nn.Mode
	// Workers is the number of grid points evaluated at once, each with its
	// own copy of the weights; 0 means GOMAXPROCS.
	Workers int
	// Progress, if not nil, is called after every grid point with the
	// number done, one call at a time.
	Progress func(done, total int)
	// Cancel, if not nil, stops the work when closed: no further point is
	// started and the evaluation returns context.Canceled.
	Cancel <-chan struct{}
}

// Grid holds a loss surface on a rectangular grid.
type Grid struct {
	// X are the coordinates along the first direction; Y along the second
	// (nil for a 1-D line).
	X []float64 `json:"x"`
	Y []float64 `json:"y,omitempty"`
	// Loss[j][i] and Accuracy[j][i] are the mean loss and the fraction of
	// correct predictions at (X[i], Y[j]); a 1-D line has one row.
	Loss     [][]float64 `json:"loss"`
	Accuracy [][]float64 `json:"accuracy"`
	// Evals is the number of grid points evaluated (each a pass over all
	// the data); Seconds the wall time.
	Evals   int     `json:"evals"`
	Seconds float64 `json:"seconds"`
}

// Axis returns n equally spaced points from lo to hi inclusive, with the
// middle point exactly 0 when the range is symmetric and n odd.
func Axis(lo, hi float64, n int) []float64 {
	if n < 1 {
		return nil
	}
	if n == 1 {
		return []float64{(lo + hi) / 2}
	}
	a := make([]float64, n)
	for i := range a {
		a[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	if lo == -hi && n%2 == 1 {
		a[n/2] = 0
	}
	return a
}

// Params evaluates the mean loss and accuracy of m over data at
// θ + x·dirs[0] (+ y·dirs[1]) for every grid point, where θ is theta or, if
// theta is nil, the model's trainable parameters, all flattened in
// nn.Trainable order. dirs has one direction (y must be nil) or two.
func Params[T tensor.Float](m hessian.Model[T], data hessian.Data[T], theta []float64, dirs [][]float64, x, y []float64, o Options) (*Grid, error) {
	ps := nn.Trainable(m.Params())
	dim := nn.Size(ps)
	if theta == nil {
		theta = make([]float64, dim)
		nn.Gather(theta, ps)
	}
	if err := checkDirs(dim, theta, dirs, x, y); err != nil {
		return nil, err
	}
	if data.Len() == 0 {
		return nil, fmt.Errorf("landscape: no data")
	}
	reader := hessian.Concurrent(data)
	n := float64(data.Len())
	type state struct {
		eval *hessian.Evaluator[T]
		at   []*tensor.Dense[T]
		buf  *tensor.Dense[T]
		w    []float64
	}
	newState := func() *state {
		return &state{eval: hessian.NewEvaluator(m), at: nn.Like(ps), w: make([]float64, dim)}
	}
	eval := func(s *state, a, b float64) (float64, float64) {
		point(s.w, theta, dirs, a, b)
		nn.Scatter(s.at, s.w)
		var loss float64
		var correct int
		for c := 0; c < reader.Chunks(); c++ {
			xc, yc := reader.ChunkTo(s.buf, c)
			s.buf = xc
			r := s.eval.Pass(xc, yc, hessian.Request[T]{Mode: o.Mode, At: s.at})
			loss += float64(len(yc)) / n * r.Loss
			correct += hessian.Correct(r.Logits, yc)
		}
		return loss, float64(correct) / n
	}
	return run(x, y, o, newState, eval)
}

// Input evaluates the batch-mean loss and accuracy of m on the batch (x, y)
// with the inputs moved to x + a·dirs[0] (+ b·dirs[1]) for every grid point
// (a, b) of xs × ys; each direction has x.Len() entries. For one sample
// ([1, C, H, W]) this is the loss of that sample along input-space
// directions such as the eigenvectors of its input Hessian.
func Input[T tensor.Float](m hessian.Model[T], x *tensor.Dense[T], y []int, dirs [][]float64, xs, ys []float64, o Options) (*Grid, error) {
	center := make([]float64, x.Len())
	for i, v := range x.Data {
		center[i] = float64(v)
	}
	if err := checkDirs(x.Len(), center, dirs, xs, ys); err != nil {
		return nil, err
	}
	if len(y) != x.Shape[0] || len(y) == 0 {
		return nil, fmt.Errorf("landscape: %d labels for a batch of %d", len(y), x.Shape[0])
	}
	type state struct {
		eval *hessian.Evaluator[T]
		in   *tensor.Dense[T]
		w    []float64
	}
	newState := func() *state {
		return &state{eval: hessian.NewEvaluator(m), in: tensor.New[T](x.Shape...), w: make([]float64, x.Len())}
	}
	eval := func(s *state, a, b float64) (float64, float64) {
		point(s.w, center, dirs, a, b)
		for i, v := range s.w {
			s.in.Data[i] = T(v)
		}
		r := s.eval.Pass(s.in, y, hessian.Request[T]{Mode: o.Mode})
		return r.Loss, float64(hessian.Correct(r.Logits, y)) / float64(len(y))
	}
	return run(xs, ys, o, newState, eval)
}

func checkDirs(dim int, center []float64, dirs [][]float64, x, y []float64) error {
	if len(center) != dim {
		return fmt.Errorf("landscape: centre has %d entries, want %d", len(center), dim)
	}
	if len(dirs) != 1 && len(dirs) != 2 {
		return fmt.Errorf("landscape: %d directions, want 1 or 2", len(dirs))
	}
	for k, d := range dirs {
		if len(d) != dim {
			return fmt.Errorf("landscape: direction %d has %d entries, want %d", k+1, len(d), dim)
		}
	}
	if len(x) == 0 {
		return fmt.Errorf("landscape: no grid points")
	}
	if (len(dirs) == 2) != (y != nil) {
		return fmt.Errorf("landscape: %d directions with %d y coordinates", len(dirs), len(y))
	}
	return nil
}

// point writes c + a·dirs[0] + b·dirs[1] to dst.
func point(dst, c []float64, dirs [][]float64, a, b float64) {
	d1 := dirs[0]
	if len(dirs) == 1 {
		for i := range dst {
			dst[i] = c[i] + a*d1[i]
		}
		return
	}
	d2 := dirs[1]
	for i := range dst {
		dst[i] = c[i] + a*d1[i] + b*d2[i]
	}
}

// run evaluates every grid point on Workers goroutines, each with its own
// state, and stores the results by index.
func run[S any](x, y []float64, o Options, newState func() S, eval func(S, float64, float64) (float64, float64)) (*Grid, error) {
	start := time.Now()
	rows := max(1, len(y))
	g := &Grid{X: x, Y: y, Loss: make([][]float64, rows), Accuracy: make([][]float64, rows)}
	for j := range rows {
		g.Loss[j] = make([]float64, len(x))
		g.Accuracy[j] = make([]float64, len(x))
	}
	total := rows * len(x)
	states := make([]S, parallel.Workers(o.Workers, total))
	made := make([]bool, len(states))
	err := parallel.For(total, o.Workers, o.Cancel, o.Progress, func(w, k int) {
		if !made[w] {
			states[w], made[w] = newState(), true
		}
		j, i := k/len(x), k%len(x)
		b := 0.0
		if y != nil {
			b = y[j]
		}
		g.Loss[j][i], g.Accuracy[j][i] = eval(states[w], x[i], b)
	})
	if err != nil {
		return nil, err
	}
	g.Evals = total
	g.Seconds = time.Since(start).Seconds()
	return g, nil
}

// FilterNormalized returns a random direction in the space of the trainable
// parameters of ps (flattened in nn.Trainable order) normalised per filter as
// in Li et al. 2018: Gaussian entries drawn from seed; for a tensor of two or
// more dimensions (a convolution or linear weight) each filter — the slice
// along the first, output, dimension — is rescaled to the norm of the
// weight's filter, d ← d·‖w‖/(‖d‖ + 1e-10); one-dimensional tensors (biases,
// BatchNorm weights and biases) get zero, unless keepBiasBN is set, in
// which case their direction is the weight itself. This is Li et al.'s
// reference code with norm 'filter' and ignore 'biasbn' (or, with
// keepBiasBN, no ignore).
func FilterNormalized[T tensor.Float](ps []*nn.Param[T], seed uint64, keepBiasBN bool) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x6c616e64))
	var out []float64
	for _, p := range nn.Trainable(ps) {
		w := p.Value
		d := make([]float64, w.Len())
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		if len(w.Shape) <= 1 {
			for i := range d {
				d[i] = 0
				if keepBiasBN {
					d[i] = float64(w.Data[i])
				}
			}
			out = append(out, d...)
			continue
		}
		per := w.Len() / w.Shape[0]
		for f := range w.Shape[0] {
			var wn, dn float64
			for i := f * per; i < (f+1)*per; i++ {
				wn += float64(w.Data[i]) * float64(w.Data[i])
				dn += d[i] * d[i]
			}
			s := math.Sqrt(wn) / (math.Sqrt(dn) + 1e-10)
			for i := f * per; i < (f+1)*per; i++ {
				d[i] *= s
			}
		}
		out = append(out, d...)
	}
	return out
}

// Quadratic returns the second-order model f0 + slope·a + ½·curvature·a² at
// each a of x. Along a unit eigenvector v of the Hessian with eigenvalue λ,
// curvature = vᵀHv = λ and slope = gᵀv; along any direction d, curvature
// = dᵀHd and slope = gᵀd. With slope 0 it is the pure ½λε² model of Yao et
// al.
func Quadratic(x []float64, f0, slope, curvature float64) []float64 {
	out := make([]float64, len(x))
	for i, a := range x {
		out[i] = f0 + slope*a + 0.5*curvature*a*a
	}
	return out
}
