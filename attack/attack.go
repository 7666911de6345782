package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"hesscope/autodiff"
	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/tensor"
)

// Model is what an attack needs of a network: its parameters and a forward
// pass from images [N,C,H,W] to logits [N,classes]. Every net of package
// models is one.
type Model[T tensor.Float] = hessian.Model[T]

// Norm is the norm that bounds a perturbation.
type Norm int

// The norms of the threat models.
const (
	LInf Norm = iota // max |δᵢ|
	L2               // √Σ δᵢ²
)

// String returns "linf" or "l2".
func (n Norm) String() string {
	switch n {
	case LInf:
		return "linf"
	case L2:
		return "l2"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// MaxRadius is the radius of norm n within which every image of dim pixel
// values in [0, 1] lies of every other: 1 in L∞, the diameter √dim of the
// pixel cube in L2 (dim ≤ 0: unknown, +Inf). A larger radius only repeats
// its attacks. want says so, for an error: "at most …" and why.
func (n Norm) MaxRadius(dim int) (r float64, want string) {
	switch {
	case n == LInf:
		return 1, "at most 1 in L∞ (pixels lie in [0, 1]: ε = 1 reaches every image)"
	case dim > 0:
		r = math.Sqrt(float64(dim))
		return r, fmt.Sprintf("at most √(C·H·W) = %.4g in L2 (the diameter of the pixel cube)", r)
	}
	return math.Inf(1), ""
}

// ParseNorm reads "linf" or "l2" (also "inf", "Linf", "L2").
func ParseNorm(s string) (Norm, error) {
	switch strings.ToLower(s) {
	case "linf", "inf", "l∞":
		return LInf, nil
	case "l2", "2":
		return L2, nil
	}
	return 0, fmt.Errorf("attack: unknown norm %q (want linf or l2)", s)
}

// Method is an attack algorithm.
type Method int

// The attacks.
const (
	FGSM     Method = iota // one gradient step of size ε
	PGD                    // projected gradient ascent; iterative FGSM without random start
	DeepFool               // minimal L2 perturbation by iterated linearisation
)

// String returns "fgsm", "pgd" or "deepfool".
func (m Method) String() string {
	switch m {
	case FGSM:
		return "fgsm"
	case PGD:
		return "pgd"
	case DeepFool:
		return "deepfool"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ParseMethod reads "fgsm", "pgd" or "deepfool".
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(s) {
	case "fgsm":
		return FGSM, nil
	case "pgd":
		return PGD, nil
	case "deepfool":
		return DeepFool, nil
	}
	return 0, fmt.Errorf("attack: unknown method %q (want fgsm, pgd or deepfool)", s)
}

// Config says how to attack. The zero values of Steps, StepSize, Overshoot
// and Candidates select the defaults documented on each field.
type Config struct {
	Method Method
	// Norm bounds the perturbation of FGSM and PGD; DeepFool is L2 only.
	Norm Norm
	// Eps is the radius ε of the threat model (FGSM, PGD).
	Eps float64
	// Steps is the number of PGD steps (0: 10) or DeepFool's largest number
	// of iterations (0: 50).
	Steps int
	// StepSize is PGD's step α (0: 2.5·Eps/Steps, Madry et al.'s rule).
	StepSize float64
	// RandomStart starts PGD from a random point of the ε-ball.
	RandomStart bool
	// Restarts is the number of PGD runs (0 or 1: one).
	Restarts int
	// Overshoot is DeepFool's overshoot (0: 0.02).
	Overshoot float64
	// Candidates is the number of classes DeepFool considers, those of
	// largest clean logit, the true one included (0: 10, capped at the number
	// of classes).
	Candidates int
	// Seed seeds the random starts.
	Seed uint64
}

// Check returns an error describing the first invalid field of c.
func (c Config) Check() error {
	switch c.Method {
	case FGSM, PGD:
		if c.Norm != LInf && c.Norm != L2 {
			return fmt.Errorf("attack: unknown norm %d", int(c.Norm))
		}
		if !(c.Eps >= 0) || math.IsInf(c.Eps, 0) {
			return fmt.Errorf("attack: eps %v: want a finite value ≥ 0", c.Eps)
		}
	case DeepFool:
		if c.Norm != L2 {
			return fmt.Errorf("attack: DeepFool is an L2 attack, not %v", c.Norm)
		}
	default:
		return fmt.Errorf("attack: unknown method %d", int(c.Method))
	}
	if c.Steps < 0 || c.Restarts < 0 || c.Candidates < 0 || c.Candidates == 1 {
		return fmt.Errorf("attack: steps %d, restarts %d, candidates %d: want steps, restarts ≥ 0 and candidates 0 or ≥ 2", c.Steps, c.Restarts, c.Candidates)
	}
	if !(c.StepSize >= 0) || math.IsInf(c.StepSize, 0) || !(c.Overshoot >= 0) || math.IsInf(c.Overshoot, 0) {
		return fmt.Errorf("attack: step size %v, overshoot %v: want finite values ≥ 0", c.StepSize, c.Overshoot)
	}
	return nil
}

// WithDefaults returns c with its zero fields replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.Steps == 0 {
		c.Steps = 10
		if c.Method == DeepFool {
			c.Steps = 50
		}
	}
	if c.Method == FGSM {
		c.Steps, c.StepSize, c.RandomStart, c.Restarts = 1, c.Eps, false, 1
	}
	if c.StepSize == 0 {
		c.StepSize = 2.5 * c.Eps / float64(c.Steps)
	}
	if c.Restarts == 0 {
		c.Restarts = 1
	}
	if c.Overshoot == 0 {
		c.Overshoot = 0.02
	}
	if c.Candidates == 0 {
		c.Candidates = 10
	}
	return c
}

// Attacker generates adversarial examples against one model. It owns an
// evaluator and a tape, so it is not safe for concurrent use: make one per
// goroutine.
type Attacker[T tensor.Float] struct {
	model Model[T]
	eval  *hessian.Evaluator[T]
	tape  *autodiff.Tape[T]
	// Trace, if not nil, is called by PGD with each iterate of the first
	// run: step 0 is the start point (after the random start), step s the
	// point after s steps. x holds the iterates of the samples of the batch,
	// in order; it belongs to the attacker and is valid only during the call.
	Trace func(step int, x *tensor.Dense[T])
	// Context, if not nil, stops PGD and DeepFool between steps once it is
	// done; the examples are then unfinished, and the caller discards them.
	Context context.Context
}

// stopped reports whether the attacker's context is done.
func (a *Attacker[T]) stopped() bool { return a.Context != nil && a.Context.Err() != nil }

// NewAttacker returns an attacker of m.
func NewAttacker[T tensor.Float](m Model[T]) *Attacker[T] {
	return &Attacker[T]{model: m, eval: hessian.NewEvaluator(m), tape: autodiff.NewTape[T]()}
}

// Perturb writes to dst adversarial examples of every sample of the batch
// (x, y) under c: x is [N,C,H,W] with pixels in [0, 1], y holds N labels and
// dst has x's shape and must not share its memory. ids, if not nil, gives
// each sample's identity for the random start (nil: 0…N−1), so that a sample
// draws the same start in any batch. All samples are attacked, correctly
// classified or not, as adversarial training wants; Run attacks only the
// correctly classified ones. Perturb panics if c is invalid or the shapes do
// not fit.
func (a *Attacker[T]) Perturb(dst, x *tensor.Dense[T], y []int, c Config, ids []int) {
	if err := c.Check(); err != nil {
		panic(err.Error())
	}
	if len(x.Shape) < 2 || x.Shape[0] != len(y) || !tensor.SameShape(dst.Shape, x.Shape) {
		panic(fmt.Sprintf("attack: Perturb of x %s, dst %s with %d labels", tensor.ShapeString(x.Shape), tensor.ShapeString(dst.Shape), len(y)))
	}
	if ids != nil && len(ids) != len(y) {
		panic(fmt.Sprintf("attack: %d ids for %d samples", len(ids), len(y)))
	}
	if len(y) == 0 {
		return
	}
	if ids == nil {
		ids = make([]int, len(y))
		for i := range ids {
			ids[i] = i
		}
	}
	c = c.WithDefaults()
	switch c.Method {
	case FGSM:
		a.fgsm(dst, x, y, c)
	case PGD:
		a.pgd(dst, x, y, c, ids)
	case DeepFool:
		a.deepFool(dst, x, y, c, nil)
	}
}

// gradTo writes the per-sample loss gradients ∇ₓℓ(xᵢ, yᵢ) to g (shaped like
// x) and the per-sample losses to loss (if not nil), in eval mode.
func (a *Attacker[T]) gradTo(g *tensor.Dense[T], loss []float64, x *tensor.Dense[T], y []int) {
	r := a.eval.Pass(x, y, hessian.Request[T]{Mode: nn.Eval, InputGrad: true})
	if r.InputGrad == nil {
		g.Zero()
	} else {
		// The pass differentiates the batch mean: scale back to per-sample.
		n := T(len(y))
		for i, v := range r.InputGrad.Data {
			g.Data[i] = v * n
		}
	}
	if loss != nil {
		lossesTo(loss, r.Logits, y)
	}
}

// predict writes the predicted classes of x to pred and, if loss is not nil,
// the per-sample losses.
func (a *Attacker[T]) predict(pred []int, loss []float64, x *tensor.Dense[T], y []int) {
	if y == nil {
		y = make([]int, x.Shape[0])
	}
	r := a.eval.Pass(x, y, hessian.Request[T]{Mode: nn.Eval})
	argmaxTo(pred, r.Logits)
	if loss != nil {
		lossesTo(loss, r.Logits, y)
	}
}

// argmaxTo writes the index of the largest logit of every row to dst; the
// first wins ties, as torch.argmax on CPU.
func argmaxTo[T tensor.Float](dst []int, logits *tensor.Dense[T]) {
	k := logits.Shape[1]
	for i := range dst {
		dst[i] = hessian.Argmax(logits.Data[i*k : (i+1)*k])
	}
}

// lossesTo writes the cross-entropy of every row of logits to dst.
func lossesTo[T tensor.Float](dst []float64, logits *tensor.Dense[T], y []int) {
	k := logits.Shape[1]
	for i := range dst {
		row := logits.Data[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		dst[i] = m + math.Log(s) - float64(row[y[i]])
	}
}

// fgsm writes x + ε·sign(g) (L∞) or x + ε·g/(‖g‖+1e-10) (L2), clipped.
func (a *Attacker[T]) fgsm(dst, x *tensor.Dense[T], y []int, c Config) {
	a.gradTo(dst, nil, x, y)
	d := x.Len() / len(y)
	eps := T(c.Eps)
	for i := range y {
		g, xi, out := dst.Data[i*d:(i+1)*d], x.Data[i*d:(i+1)*d], dst.Data[i*d:(i+1)*d]
		switch c.Norm {
		case LInf:
			for j, v := range g {
				out[j] = clip01(xi[j] + eps*sign(v))
			}
		case L2:
			s := T(c.Eps / (norm2(g) + 1e-10))
			for j, v := range g {
				out[j] = clip01(xi[j] + s*v)
			}
		}
	}
}

// pgd runs c.Restarts runs of projected gradient ascent on the loss.
func (a *Attacker[T]) pgd(dst, x *tensor.Dense[T], y []int, c Config, ids []int) {
	n, d := len(y), x.Len()/len(y)
	shape := x.Shape[1:]
	bestLoss := make([]float64, n)
	fooled := make([]bool, n)
	active := make([]int, n) // indices into the batch of the samples attacked in this run
	for i := range active {
		active[i] = i
	}
	for run := 0; run < c.Restarts && len(active) > 0; run++ {
		m := len(active)
		xs := tensor.New[T](append([]int{m}, shape...)...)
		ys := make([]int, m)
		for j, i := range active {
			copy(xs.Data[j*d:(j+1)*d], x.Data[i*d:(i+1)*d])
			ys[j] = y[i]
		}
		adv := xs.Clone()
		if c.RandomStart {
			for j, i := range active {
				rng := rand.New(rand.NewPCG(c.Seed, uint64(ids[i])<<20|uint64(run)))
				randomStart(adv.Data[j*d:(j+1)*d], xs.Data[j*d:(j+1)*d], c, rng)
			}
		}
		g := tensor.New[T](adv.Shape...)
		for s := 0; s < c.Steps; s++ {
			if a.stopped() {
				return
			}
			if run == 0 && a.Trace != nil {
				a.Trace(s, adv)
			}
			a.gradTo(g, nil, adv, ys)
			for j := range ys {
				step(adv.Data[j*d:(j+1)*d], g.Data[j*d:(j+1)*d], xs.Data[j*d:(j+1)*d], c)
			}
		}
		if run == 0 && a.Trace != nil {
			a.Trace(c.Steps, adv)
		}
		pred := make([]int, m)
		loss := make([]float64, m)
		a.predict(pred, loss, adv, ys)
		next := active[:0]
		for j, i := range active {
			if run == 0 || pred[j] != ys[j] || loss[j] > bestLoss[i] {
				copy(dst.Data[i*d:(i+1)*d], adv.Data[j*d:(j+1)*d])
				bestLoss[i] = loss[j]
			}
			fooled[i] = pred[j] != ys[j]
			if !fooled[i] {
				next = append(next, i)
			}
		}
		active = next
	}
}

// randomStart writes a random point of the ε-ball around x, clipped, to dst.
func randomStart[T tensor.Float](dst, x []T, c Config, rng *rand.Rand) {
	switch c.Norm {
	case LInf:
		for j := range dst {
			dst[j] = clip01(x[j] + T((2*rng.Float64()-1)*c.Eps))
		}
	case L2:
		z := make([]float64, len(dst))
		var s float64
		for j := range z {
			z[j] = rng.NormFloat64()
			s += z[j] * z[j]
		}
		r := c.Eps * rng.Float64() / math.Sqrt(s)
		for j := range dst {
			dst[j] = clip01(x[j] + T(r*z[j]))
		}
	}
}

// step moves adv one PGD step along g and projects it onto the ε-ball
// around x and onto [0, 1].
func step[T tensor.Float](adv, g, x []T, c Config) {
	eps := T(c.Eps)
	switch c.Norm {
	case LInf:
		// A step longer than the ball's diameter 2ε lands where a step of
		// 2ε does (on the boundary, every coordinate that moves at all):
		// capping it keeps a huge finite α from overflowing T.
		alpha := T(min(c.StepSize, 2*c.Eps))
		for j, v := range g {
			a := adv[j] + alpha*sign(v)
			delta := min(max(a-x[j], -eps), eps)
			adv[j] = clip01(x[j] + delta)
		}
	case L2:
		s := T(c.StepSize / (norm2(g) + 1e-10))
		for j, v := range g {
			adv[j] += s * v
		}
		var dn float64
		for j := range adv {
			dv := float64(adv[j] - x[j])
			dn += dv * dv
		}
		f := T(1)
		if dn > 0 {
			f = T(min(1, c.Eps/math.Sqrt(dn)))
		}
		for j := range adv {
			adv[j] = clip01(x[j] + (adv[j]-x[j])*f)
		}
	}
}

func sign[T tensor.Float](v T) T {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func clip01[T tensor.Float](v T) T { return min(max(v, 0), 1) }

// norm2 is the Euclidean norm of v, accumulated in float64.
func norm2[T tensor.Float](v []T) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}
