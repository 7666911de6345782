package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"hesscope/attack"
	"hesscope/data"
	"hesscope/models"
	"hesscope/tensor"
)

// ABSAConfig configures the "absa" schedule: adaptive batch size with
// adversarial training (Yao, Gholami, Arfeen, Liaw, Gonzalez, Keutzer &
// Mahoney, "Large Batch Size Training of Neural Networks with Adversarial
// Training and Second-Order Information", arXiv:1810.01021).
//
// The run starts at Config.BatchSize. At the end of every epoch the top
// eigenvalue λ of the Hessian of the training loss is computed on a random
// batch of EigenSamples training images, drawn afresh every epoch from the
// seed and the epoch (BatchNorm in eval mode, no augmentation; Lanczos with
// at most EigenIters Hessian-vector products, stopping at a relative
// residual of 1e-3). The first λ measured at a batch size is its reference
// λ_ref. The batch size doubles after an epoch in which λ < λ_ref/2, or
// after Patience epochs at the same batch size, as long as it is below
// MaxBatch (it is capped there). With every doubling the learning rate
// doubles (the rate at batch B is the starting rate times B/BatchSize, then
// Gamma for every one of Config.Milestones passed and the warm-up, as with
// "step"), and the fraction of every batch replaced by FGSM examples (L∞,
// radius AdvEps in pixel units, against the current weights, BatchNorm in
// eval mode; attack.TrainingPerturbation) halves.
//
// The reference implementation (HessianFlow's absa) differs in details: it
// takes the eigenvalue that triggered a doubling as the next reference, and
// it stops adversarial training at the largest batch and in the second half
// of the run; here the reference is the first value measured after a
// change and the fraction only halves.
type ABSAConfig struct {
	// MaxBatch is the largest batch size (default 4096).
	MaxBatch int `json:"max_batch"`
	// Patience is the number of epochs at one batch size after which it
	// doubles even if the eigenvalue has not halved (default 10).
	Patience int `json:"patience"`
	// EigenSamples is the size of the random training batch on which the
	// eigenvalue is computed (default 128, HessianFlow's).
	EigenSamples int `json:"eigen_samples"`
	// EigenIters is the largest number of Lanczos steps (Hessian-vector
	// products) per eigenvalue (default 20).
	EigenIters int `json:"eigen_iters"`
	// AdvEps is the FGSM radius, L∞ in pixel units (default 0.005).
	AdvEps float64 `json:"adv_eps"`
	// AdvFraction is the fraction of every batch replaced by FGSM examples
	// at the start (nil: 0.2, as in HessianFlow's ABSA driver); 0 trains
	// without adversarial examples (ABS).
	AdvFraction *float64 `json:"adv_fraction"`
}

// The defaults of ABSAConfig.
const (
	absaMaxBatch     = 4096
	absaPatience     = 10
	absaEigenSamples = 128
	absaEigenIters   = 20
	absaAdvEps       = 0.005
	absaAdvFraction  = 0.2
	// absaTol is the relative residual at which Lanczos stops.
	absaTol = 1e-3
)

// Defaults returns a with every zero field (nil AdvFraction) set to its
// default.
func (a ABSAConfig) Defaults() ABSAConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&a.MaxBatch, absaMaxBatch)
	def(&a.Patience, absaPatience)
	def(&a.EigenSamples, absaEigenSamples)
	def(&a.EigenIters, absaEigenIters)
	if a.AdvEps == 0 {
		a.AdvEps = absaAdvEps
	}
	if a.AdvFraction == nil {
		f := absaAdvFraction
		a.AdvFraction = &f
	} else {
		f := *a.AdvFraction
		a.AdvFraction = &f
	}
	return a
}

// validateABSA checks the ABSA settings of a configuration after Defaults.
func (c Config) validateABSA() error {
	bad := func(flag string, v any, want string) error {
		return &SettingError{Flag: "absa-" + flag, Value: v, Want: want}
	}
	a := c.ABSA
	maxEps, wantEps := attack.LInf.MaxRadius(0)
	switch {
	case c.Schedule != "absa" && a != nil:
		return fmt.Errorf("train: ABSA settings (-absa-*) are only for -schedule absa, not %s", c.Schedule)
	case a == nil:
		return nil
	case c.Perturb != "":
		return fmt.Errorf("train: -adv %q with -schedule absa: ABSA does its own FGSM training (-absa-adv-eps, -absa-adv-fraction)", c.Perturb)
	case a.MaxBatch < c.BatchSize:
		return bad("max-batch", a.MaxBatch, fmt.Sprintf("want at least -batch-size %d, where ABSA starts", c.BatchSize))
	case a.Patience < 1:
		return bad("patience", a.Patience, "want at least 1 epoch")
	case a.EigenSamples < 1:
		return bad("eigen-samples", a.EigenSamples, "want at least 1")
	case a.EigenIters < 2:
		return bad("eigen-iters", a.EigenIters, "want at least 2")
	case a.EigenIters > MaxSolverIters:
		return bad("eigen-iters", a.EigenIters, fmt.Sprintf("want at most %d", MaxSolverIters))
	case !(a.AdvEps > 0) || math.IsInf(a.AdvEps, 0):
		return bad("adv-eps", a.AdvEps, "want a finite radius > 0")
	case a.AdvEps > maxEps: // ABSA's FGSM is in L∞
		return bad("adv-eps", a.AdvEps, "want "+wantEps)
	case a.AdvFraction == nil || !(*a.AdvFraction >= 0 && *a.AdvFraction <= 1):
		v := any(nil)
		if a.AdvFraction != nil {
			v = *a.AdvFraction
		}
		return bad("adv-fraction", v, "want a fraction in [0, 1]")
	}
	return nil
}

// absaState is where an ABSA run is: part of the checkpoint.
type absaState struct {
	// BatchSize and AdvFraction are those of the current epoch.
	BatchSize   int     `json:"batch_size"`
	AdvFraction float64 `json:"adv_fraction"`
	// Reference is the eigenvalue the next one is compared with; nil until
	// the first one after a change.
	Reference *float64 `json:"reference,omitempty"`
	// SinceChange counts the epochs finished at BatchSize.
	SinceChange int `json:"since_change"`
	// Doublings counts the changes so far.
	Doublings int `json:"doublings"`
}

// newABSAState is the state of an ABSA run before its first epoch.
func newABSAState(c Config) *absaState {
	return &absaState{BatchSize: c.BatchSize, AdvFraction: *c.ABSA.AdvFraction}
}

// The reasons for a doubling, recorded in Metrics.ABSAChange.
const (
	absaByEigenvalue = "eigenvalue"
	absaByPatience   = "patience"
)

// observe applies ABSA's rule to the eigenvalue lam measured at the end of
// an epoch trained at s.BatchSize: it returns the reference lam was compared
// with (lam itself when it becomes the reference) and why the batch size
// doubles for the next epoch ("" if it does not), and updates s.
func (s *absaState) observe(lam float64, a ABSAConfig) (ref float64, change string) {
	s.SinceChange++
	if s.Reference == nil {
		s.Reference = &lam
	} else if lam < *s.Reference/2 {
		change = absaByEigenvalue
	}
	ref = *s.Reference
	if change == "" && s.SinceChange >= a.Patience {
		change = absaByPatience
	}
	if s.BatchSize >= a.MaxBatch {
		return ref, ""
	}
	if change != "" {
		s.BatchSize = min(2*s.BatchSize, a.MaxBatch)
		s.AdvFraction /= 2
		s.Reference = nil
		s.SinceChange = 0
		s.Doublings++
	}
	return ref, change
}

// streamABSA is the random stream of the eigenvalue batches.
const streamABSA = 0xab5a

// batchSize is the batch size of the current epoch.
func (t *trainer[T]) batchSize() int {
	if t.st.ABSA != nil {
		return t.st.ABSA.BatchSize
	}
	return t.cfg.BatchSize
}

// epochSteps is the number of steps of the current epoch.
func (t *trainer[T]) epochSteps() int {
	if t.st.ABSA != nil {
		return stepsPerEpoch(t.train.N, t.st.ABSA.BatchSize, t.cfg.DropLast)
	}
	return t.spe
}

// rate is the learning rate of step (from 0 over the run), a step of the
// current epoch for ABSA runs.
func (t *trainer[T]) rate(step int) float64 {
	a := t.st.ABSA
	if a == nil {
		return t.sched.At(step)
	}
	s := t.sched
	lr := s.Base * (float64(a.BatchSize) / float64(t.cfg.BatchSize))
	for _, m := range s.Milestones {
		if t.st.Epoch >= m {
			lr *= s.Gamma
		}
	}
	if step < s.WarmupSteps {
		lr *= float64(step+1) / float64(s.WarmupSteps)
	}
	return lr
}

// absaPerturb makes t.perturb the FGSM perturbation of the current
// adversarial fraction (nil at 0).
func (t *trainer[T]) absaPerturb() {
	a := t.st.ABSA
	if t.absaBuilt && t.absaFrac == a.AdvFraction {
		return
	}
	t.absaBuilt, t.absaFrac, t.perturb = true, a.AdvFraction, nil
	if a.AdvFraction == 0 {
		return
	}
	tr := attack.Training{Config: attack.Config{Method: attack.FGSM, Norm: attack.LInf, Eps: t.cfg.ABSA.AdvEps}, Ratio: a.AdvFraction}
	if t.norm != nil {
		for c := range t.norm.Mean {
			tr.Mean = append(tr.Mean, float64(t.norm.Mean[c]))
			tr.Std = append(tr.Std, float64(t.norm.Std[c]))
		}
	}
	f := attack.TrainingPerturbation[T](tr)
	t.perturb = func(ctx context.Context, net *models.Net[T], x *tensor.Dense[T], y []int, rng *rand.Rand) *tensor.Dense[T] {
		return f(ctx, net, x, y, rng)
	}
}

// absaEndEpoch records the epoch's batch size and adversarial fraction in
// m, computes the eigenvalue ABSA reads and applies its rule.
func (t *trainer[T]) absaEndEpoch(ctx context.Context, m *Metrics) error {
	a := t.st.ABSA
	c := *t.cfg.ABSA
	frac := a.AdvFraction
	m.BatchSize, m.AdvFraction = a.BatchSize, &frac
	var lam, res float64
	if t.opt.absaEigen != nil {
		lam = t.opt.absaEigen(m.Epoch)
	} else {
		rng := rand.New(rand.NewPCG(t.cfg.Seed, mix64(streamABSA^uint64(t.st.Epoch)<<16)))
		n := t.train.N
		d := t.train.Select(rng.Perm(n)[:min(c.EigenSamples, n)])
		if t.norm != nil {
			d = d.Normalized(data.Norm{Mean: t.norm.Mean, Std: t.norm.Std})
		}
		var err error
		if lam, res, err = t.topEigen(ctx, d, c.EigenIters, absaTol); err != nil {
			return err
		}
	}
	if math.IsNaN(lam) || math.IsInf(lam, 0) {
		return fmt.Errorf("train: ABSA: the top Hessian eigenvalue after epoch %d is %v", m.Epoch, lam)
	}
	ref, change := a.observe(lam, c)
	m.ABSAEigenvalue, m.ABSAResidual, m.ABSAReference, m.ABSAChange = &lam, &res, &ref, change
	return nil
}
