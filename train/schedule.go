package train

import "math"

// Schedule gives the learning rate of every step of a run.
type Schedule struct {
	// Base is the rate before the schedule's factors: LR, or
	// LR·B/BaseBatch with linear scaling, B the batch a step takes
	// (BatchSize, or the whole training set where that is smaller).
	Base float64
	// Kind is "constant", "step", "cosine" or "absa".
	Kind string
	// Milestones (epochs) and Gamma define the "step" schedule.
	Milestones []int
	Gamma      float64
	// MinLR is the final rate of the "cosine" schedule.
	MinLR float64
	// StepsPerEpoch and TotalSteps give the run's length in steps.
	StepsPerEpoch, TotalSteps int
	// WarmupSteps is the length of the linear warm-up.
	WarmupSteps int
}

// NewSchedule returns the schedule of a validated configuration (with
// defaults) for a training set of n images.
func NewSchedule(c Config, n int) Schedule {
	spe := stepsPerEpoch(n, c.BatchSize, c.DropLast)
	s := Schedule{Base: c.LR, Kind: c.Schedule, Milestones: c.Milestones, Gamma: c.Gamma, MinLR: c.MinLR,
		StepsPerEpoch: spe, TotalSteps: spe * c.Epochs, WarmupSteps: c.WarmupSteps}
	if c.LRScaling == "linear" {
		// The batch a step takes: a batch larger than the training set
		// is the whole set.
		b := c.BatchSize
		if n > 0 {
			b = min(b, n)
		}
		s.Base = c.LR * float64(b) / float64(c.BaseBatch)
	}
	if c.WarmupEpochs > 0 {
		s.WarmupSteps = int(math.Ceil(c.WarmupEpochs * float64(spe)))
	}
	return s
}

// stepsPerEpoch is the number of batches of b images in n.
func stepsPerEpoch(n, b int, dropLast bool) int {
	if dropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// At returns the learning rate of step s (counting from 0 over the whole
// run). "step" multiplies Base by Gamma once for every milestone m ≤ the
// epoch of s (counting from 0), as PyTorch's MultiStepLR stepped once per
// epoch; "cosine" is MinLR + (Base − MinLR)·(1 + cos(π·s/TotalSteps))/2;
// during the warm-up (s < WarmupSteps) the rate is further multiplied by
// (s+1)/WarmupSteps. For "absa", whose rate depends on the batch sizes the
// run chooses (see ABSAConfig), At gives the rate at the starting batch
// before any milestone.
func (s Schedule) At(step int) float64 {
	lr := s.Base
	switch s.Kind {
	case "step":
		epoch := 0
		if s.StepsPerEpoch > 0 {
			epoch = step / s.StepsPerEpoch
		}
		for _, m := range s.Milestones {
			if epoch >= m {
				lr *= s.Gamma
			}
		}
	case "cosine":
		if s.TotalSteps > 0 {
			lr = s.MinLR + (s.Base-s.MinLR)*(1+math.Cos(math.Pi*float64(step)/float64(s.TotalSteps)))/2
		}
	}
	if step < s.WarmupSteps {
		lr *= float64(step+1) / float64(s.WarmupSteps)
	}
	return lr
}
