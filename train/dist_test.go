package train

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"hesscope/dist"
	"hesscope/dist/disttest"
)

// paramValues returns the trainable parameters of a run's checkpoint.
func paramValues(t *testing.T, dir string) []float64 {
	t.Helper()
	f := readState(t, dir)
	var w []float64
	for _, name := range f.Names() {
		if strings.HasPrefix(name, "param.") {
			w = append(w, values(f.Tensors[name])...)
		}
	}
	return w
}

// TestDataParallel trains over 2 in-process ranks (disttest) and checks that
// the weights equal the one-process run's to rounding (the ranks' shares
// are whole micro-batches, so every micro-batch, augmentation included, is
// the one-process run's), that a second 2-rank run gives the same bits,
// that an interruption seen by one rank only stops both at the same step and
// the run resumes to the same bits, and that resuming on another number of
// ranks is refused.
func TestDataParallel(t *testing.T) {
	config := func(dir string) (Config, Options) {
		cfg, opt := resumeConfig(dir)
		cfg.Precision = "float64"
		// 32 training images (40 less a validation fifth) in batches of 8:
		// on 2 ranks 4 images each, 2 micro-batches of 2, as one process
		// cuts them.
		cfg.BatchSize, cfg.MicroBatch = 8, 2
		return cfg, opt
	}
	one := t.TempDir()
	cfg, opt := config(one)
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	ref := paramValues(t, one)
	refMetrics, _ := metricsWithoutTime(t, one)

	twoRanks := func(dir string, ctxOf func(rank int) context.Context) []error {
		errs := make([]error, 2)
		disttest.Run(2, func(c dist.Comm) {
			cfg, opt := config(dir)
			cfg.Resume = true
			opt.Comm = c
			_, errs[c.Rank()] = Run(ctxOf(c.Rank()), cfg, opt)
		})
		return errs
	}
	background := func(int) context.Context { return context.Background() }
	var got [][]float64
	for range 2 {
		dir := t.TempDir()
		for _, err := range twoRanks(dir, background) {
			if err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, paramValues(t, dir))
		ms, _ := metricsWithoutTime(t, dir)
		if len(ms) != len(refMetrics) {
			t.Fatalf("2 ranks: %d epochs of metrics, want %d", len(ms), len(refMetrics))
		}
		for i := range ms {
			if d := math.Abs(ms[i].TrainLoss-refMetrics[i].TrainLoss) / refMetrics[i].TrainLoss; d > 1e-12 {
				t.Errorf("epoch %d: train loss %v on 2 ranks, %v on one", i+1, ms[i].TrainLoss, refMetrics[i].TrainLoss)
			}
			if ms[i].TrainAcc != refMetrics[i].TrainAcc || ms[i].Step != refMetrics[i].Step {
				t.Errorf("epoch %d: accuracy or step differ: %+v vs %+v", i+1, ms[i], refMetrics[i])
			}
		}
	}
	var diff, scale float64
	for i := range ref {
		diff = max(diff, math.Abs(got[0][i]-ref[i]))
		scale = max(scale, math.Abs(ref[i]))
		if math.Float64bits(got[0][i]) != math.Float64bits(got[1][i]) {
			t.Fatalf("two 2-rank runs differ at parameter %d: %v, %v", i, got[0][i], got[1][i])
		}
	}
	t.Logf("2 ranks vs one process: max |Δθ| %.3g (largest |θ| %.3g)", diff, scale)
	if diff > 1e-12*scale {
		t.Errorf("2 ranks vs one process: weights differ by %.3g (scale %.3g)", diff, scale)
	}

	// Rank 1 alone is interrupted: both stop at the same step, the run
	// resumes to the same bits.
	dir := t.TempDir()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	errs := twoRanks(dir, func(rank int) context.Context {
		if rank == 1 {
			return cancelled
		}
		return context.Background()
	})
	for r, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("rank %d of an interrupted run: %v", r, err)
		}
	}
	for _, err := range twoRanks(dir, background) {
		if err != nil {
			t.Fatal(err)
		}
	}
	resumed := paramValues(t, dir)
	for i := range resumed {
		if math.Float64bits(resumed[i]) != math.Float64bits(got[0][i]) {
			t.Fatalf("interrupted and resumed on 2 ranks: parameter %d is %v, uninterrupted %v", i, resumed[i], got[0][i])
		}
	}

	// Resuming on one process a run of 2 ranks is refused.
	cfg, opt = config(dir)
	cfg.Resume = true
	if _, err := Run(context.Background(), cfg, opt); err == nil || !strings.Contains(err.Error(), "started on 2 rank(s), now 1") {
		t.Errorf("resuming a 2-rank run on one process: %v", err)
	}
}
