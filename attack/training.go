package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"

	"hesscope/tensor"
)

// Training is the perturbation of adversarial training (Goodfellow et al.
// 2015 with FGSM, Madry et al. 2018 with PGD): in every batch a fraction
// Ratio of the images is replaced by adversarial examples of the current
// weights.
type Training struct {
	// Config is the attack: FGSM or PGD, with its Eps in pixel units.
	Config Config
	// Ratio is the fraction of every batch replaced, in [0, 1].
	Ratio float64
	// Mean and Std, if not nil, are the per-channel normalisation of the
	// batches the model sees; the attack then works on the pixels
	// x·Std + Mean in [0, 1], and the examples are normalised back.
	Mean, Std []float64
}

// Check returns an error unless t describes an FGSM or PGD perturbation
// with a ratio in [0, 1].
func (t Training) Check() error {
	if t.Config.Method != FGSM && t.Config.Method != PGD {
		return fmt.Errorf("attack: adversarial training with %v: want fgsm or pgd", t.Config.Method)
	}
	if !(t.Ratio >= 0 && t.Ratio <= 1) {
		return fmt.Errorf("attack: adversarial ratio %v: want a fraction in [0, 1]", t.Ratio)
	}
	if len(t.Mean) != len(t.Std) {
		return fmt.Errorf("attack: %d means and %d standard deviations", len(t.Mean), len(t.Std))
	}
	return t.Config.Check()
}

// String describes t in the form ParseTraining reads, such as
// "pgd linf eps=0.3 ratio=0.5 steps=10 step_size=0.075 random_start=true"
// (the normalisation is not part of it).
func (t Training) String() string {
	c := t.Config.WithDefaults()
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	s := fmt.Sprintf("%v %v eps=%s ratio=%s", c.Method, c.Norm, f(c.Eps), f(t.Ratio))
	if c.Method == PGD {
		s += fmt.Sprintf(" steps=%d step_size=%s random_start=%v", c.Steps, f(c.StepSize), c.RandomStart)
	}
	return s
}

// ParseTraining reads what Training.String writes.
func ParseTraining(s string) (Training, error) {
	var t Training
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return t, fmt.Errorf("attack: adversarial training %q: want \"<method> <norm> key=value…\"", s)
	}
	var err error
	if t.Config.Method, err = ParseMethod(fields[0]); err != nil {
		return t, err
	}
	if t.Config.Norm, err = ParseNorm(fields[1]); err != nil {
		return t, err
	}
	for _, kv := range fields[2:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "eps":
			t.Config.Eps, err = strconv.ParseFloat(v, 64)
		case "ratio":
			t.Ratio, err = strconv.ParseFloat(v, 64)
		case "steps":
			t.Config.Steps, err = strconv.Atoi(v)
		case "step_size":
			t.Config.StepSize, err = strconv.ParseFloat(v, 64)
		case "random_start":
			t.Config.RandomStart, err = strconv.ParseBool(v)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return t, fmt.Errorf("attack: adversarial training %q: %v", s, err)
		}
	}
	return t, t.Check()
}

// TrainingPerturbation returns the function that adversarial training
// applies to every (micro-)batch x with labels y, drawing its random numbers
// from rng, its attacks' iterations stopped once ctx is done (the batch is
// then unfinished, and the caller discards it): it returns a copy of x in which floor(Ratio·N + u) images, u
// uniform in [0, 1) (so Ratio·N on average, exactly when it is whole), chosen
// at random, are replaced by adversarial examples against m's current
// weights, generated with BatchNorm in eval mode (running statistics, which
// the attack does not change). The random start of PGD is seeded from rng,
// so the perturbation is fixed by rng's state. x is not modified. The
// function keeps one Attacker per model between calls and is safe for
// concurrent use (calls are serialised). It panics if t is invalid.
func TrainingPerturbation[T tensor.Float](t Training) func(ctx context.Context, m Model[T], x *tensor.Dense[T], y []int, rng *rand.Rand) *tensor.Dense[T] {
	if err := t.Check(); err != nil {
		panic(err.Error())
	}
	var (
		mu    sync.Mutex
		last  Model[T]
		att   *Attacker[T]
		mean  = make([]T, len(t.Mean))
		std   = make([]T, len(t.Std))
		cfg   = t.Config.WithDefaults()
		ratio = t.Ratio
	)
	for c := range mean {
		mean[c], std[c] = T(t.Mean[c]), T(t.Std[c])
	}
	return func(ctx context.Context, m Model[T], x *tensor.Dense[T], y []int, rng *rand.Rand) *tensor.Dense[T] {
		checkBatch(x, y)
		out := x.Clone()
		n := len(y)
		k := min(n, int(math.Floor(ratio*float64(n)+rng.Float64())))
		if k == 0 {
			return out
		}
		idx := rng.Perm(n)[:k]
		slices.Sort(idx)
		c := cfg
		c.Seed = rng.Uint64()

		mu.Lock()
		defer mu.Unlock()
		if att == nil || last != m {
			model := m
			if len(t.Mean) > 0 {
				model = Normalized(m, t.Mean, t.Std)
			}
			att, last = NewAttacker(model), m
		}
		xs, ys := gather(x, y, idx)
		d := x.Len() / n
		hw := 1
		if len(mean) > 0 {
			if x.Shape[1] != len(mean) {
				panic(fmt.Sprintf("attack: normalisation of %d channels for images %s", len(mean), tensor.ShapeString(x.Shape)))
			}
			hw = d / len(mean)
			for i := range xs.Data {
				ch := (i % d) / hw
				xs.Data[i] = min(max(xs.Data[i]*std[ch]+mean[ch], 0), 1)
			}
		}
		adv := tensor.New[T](xs.Shape...)
		att.Context = ctx
		att.Perturb(adv, xs, ys, c, nil)
		for j, i := range idx {
			dst, src := out.Data[i*d:(i+1)*d], adv.Data[j*d:(j+1)*d]
			if len(mean) == 0 {
				copy(dst, src)
				continue
			}
			for q, v := range src {
				ch := q / hw
				dst[q] = (v - mean[ch]) / std[ch]
			}
		}
		return out
	}
}
