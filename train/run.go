package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"hesscope/autodiff"
	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/dist"
	"hesscope/hessian"
	"hesscope/kernels"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/progress"
	"hesscope/tensor"
)

// PerturbFunc is the hook for adversarial training: called on every
// micro-batch x (as the model sees it: augmented and normalised) with its
// labels y, it returns the images to train on instead, such as x plus an
// adversarial perturbation, of x's shape. It may run forward and backward
// passes of net (through its own tape, hessian.Evaluator for instance) but
// must not change the parameters or the BatchNorm statistics, and must not
// keep x or the result after it returns. rng is its own random stream,
// fixed by the seed, step and micro-batch, so a resumed run draws the same
// numbers. Returning x itself is allowed.
type PerturbFunc[T tensor.Float] func(ctx context.Context, net *models.Net[T], x *tensor.Dense[T], y []int, rng *rand.Rand) *tensor.Dense[T]

// Options is what a run needs besides its Config.
type Options struct {
	// Progress receives a progress bar per epoch (plain lines when it is not
	// a terminal) and one line of metrics per epoch; nil is silent.
	Progress io.Writer
	// Version is the program version recorded in config.json.
	Version string
	// Train and Test, if not nil, are used instead of loading the splits of
	// Config.Dataset (TrainSamples, TestSamples and ValFraction still
	// apply). The run records Config.Dataset, so name them there.
	Train, Test *data.Dataset
	// Perturb, if not nil, is a PerturbFunc[float32] or PerturbFunc[float64]
	// matching Config.Precision, applied to every micro-batch before its
	// gradient; Config.Perturb must then describe it.
	Perturb any
	// Comm, if not nil and of more than one rank, trains data-parallel:
	// every rank runs Run with the same Config on the same data; each step's
	// batch (BatchSize, the global batch) is split into one contiguous share
	// per rank (dist.Shard), each share cut into micro-batches as usual, and
	// the gradients, losses and counts are summed with one all-reduce per
	// step, so the weights stay identical on every rank. BatchNorm's running
	// statistics are rank 0's (as PyTorch DDP's broadcast_buffers). The
	// curvature tracking is sharded too. Rank 0 alone writes the run
	// folder; the others read it when resuming, which needs the same number
	// of ranks. Results are the same bits for a given number of ranks and
	// threads; with shares that are whole micro-batches they equal the
	// one-process run's to rounding.
	Comm dist.Comm
	// KeepPasses lets the curvature tracking's and ABSA's eigensolvers keep
	// every micro-batch's pass between their products
	// (hessian.Params.KeepChunks): the same bits, faster, and a kept
	// pass's working set per micro-batch of their samples while they run,
	// which the caller has checked fits beside the training's passes.
	KeepPasses bool

	// absaEigen, if not nil, replaces the eigenvalue that the "absa"
	// schedule computes after each epoch (from 1): tests use it.
	absaEigen func(epoch int) float64
}

// Summary is the outcome of a run.
type Summary struct {
	// Dir is the run folder; ModelFile, StateFile, MetricsJSONL, MetricsCSV
	// and ConfigFile are the paths of its files.
	Dir          string `json:"dir"`
	ModelFile    string `json:"model_file"`
	StateFile    string `json:"state_file"`
	MetricsJSONL string `json:"metrics_jsonl"`
	MetricsCSV   string `json:"metrics_csv"`
	ConfigFile   string `json:"config_file"`

	Model   string `json:"model"`
	Dataset string `json:"dataset"`
	Params  int    `json:"params"`
	// Epochs and Steps are the epochs and optimiser steps done.
	Epochs int `json:"epochs"`
	Steps  int `json:"steps"`
	// The metrics of the last epoch.
	TrainLoss float64  `json:"train_loss"`
	TrainAcc  float64  `json:"train_acc"`
	TestLoss  float64  `json:"test_loss"`
	TestAcc   float64  `json:"test_acc"`
	ValLoss   *float64 `json:"val_loss,omitempty"`
	ValAcc    *float64 `json:"val_acc,omitempty"`
	// Seconds is the training time summed over all sessions of the run.
	Seconds float64 `json:"seconds"`
	// Resumed says that this call continued from a checkpoint; AlreadyDone
	// that the run had finished before it.
	Resumed     bool `json:"resumed"`
	AlreadyDone bool `json:"already_done"`
}

// NonFiniteError reports a NaN or infinite loss (or gradient, or weights
// after a step), which stops a run. Nothing is written after it, so the last
// checkpoint in the run folder is the last good state.
type NonFiniteError struct {
	// What is "loss", "gradient" or "weights".
	What string
	// Value is the offending loss or squared gradient norm (NaN or ±Inf);
	// for weights, the first non-finite value.
	Value float64
	// Epoch counts from 1; Step is the step that failed, from 1 over the run.
	Epoch, Step int
	LR          float64
	// Checkpoint says where the last good checkpoint is.
	Checkpoint string
}

// Error is one line naming the epoch, the step and what was not finite.
func (e *NonFiniteError) Error() string {
	v := fmt.Sprintf("is %v", e.Value)
	if e.What == "weights" {
		v = fmt.Sprintf("became %v", e.Value)
	}
	return fmt.Sprintf("train: %s %s at epoch %d, step %d (lr %g); stopped, %s", e.What, v, e.Epoch, e.Step, e.LR, e.Checkpoint)
}

// Run trains the model of cfg as the package documentation describes and
// returns the summary of the run. If ctx is cancelled it writes a checkpoint
// at the step it is at and returns ctx's error; the run can be resumed.
func Run(ctx context.Context, cfg Config, opt Options) (Summary, error) {
	cfg = cfg.Defaults()
	if err := cfg.validate(opt.Train == nil); err != nil {
		return Summary{}, err
	}
	if (opt.Perturb == nil) != (cfg.Perturb == "") {
		return Summary{}, fmt.Errorf("train: Config.Perturb (%q) must name the perturbation exactly when Options.Perturb is set", cfg.Perturb)
	}
	switch cfg.Precision {
	case "float64":
		return run[float64](ctx, cfg, opt)
	default:
		return run[float32](ctx, cfg, opt)
	}
}

// trainer is one run in progress.
type trainer[T tensor.Float] struct {
	cfg       Config
	opt       Options
	net       *models.Net[T]
	params    [][]T // views of the trainable tensors
	grads     [][]T
	gradsView [][]T // the step's gradients, wherever they are
	acc       [][]float64
	buffers   []*nn.Param[T]
	saved     [][]T // buffer values at the start of a step
	sgd       *SGD[T]
	sched     Schedule
	spe       int
	perturb   PerturbFunc[T]
	// absaBuilt says that perturb is ABSA's FGSM at fraction absaFrac.
	absaBuilt bool
	absaFrac  float64

	train, test, val, track *data.Dataset
	norm                    *NormInfo
	st                      *state
	checkpointed            int // the step of the last checkpoint, -1 if none
	info                    *RunInfo
	dir                     string
	cols                    []string

	comm       dist.Comm
	accFlat    []float64 // acc's tensors, one after the other
	red        []float64 // the all-reduce buffer of a data-parallel step
	tape       *autodiff.Tape[T]
	xraw, xaug []float32
	ybuf       []int
	xT         *tensor.Dense[T]
}

func run[T tensor.Float](ctx context.Context, cfg Config, opt Options) (Summary, error) {
	t := &trainer[T]{cfg: cfg, opt: opt, dir: cfg.Out, checkpointed: -1, tape: autodiff.NewTape[T](), cols: csvColumns(cfg), comm: dist.Of(opt.Comm)}
	if !t.root() {
		t.opt.Progress = nil // rank 0 reports
	}
	if opt.Perturb != nil {
		f, ok := opt.Perturb.(PerturbFunc[T])
		if !ok {
			return Summary{}, fmt.Errorf("train: Options.Perturb is a %T, want a train.PerturbFunc[%s] for -precision %s", opt.Perturb, cfg.Precision, cfg.Precision)
		}
		t.perturb = f
	}
	if err := t.setup(); err != nil {
		return Summary{}, err
	}
	var resumed bool
	var err error
	if t.root() {
		resumed, err = t.openFolder()
	}
	if t.comm.Size() > 1 {
		// Rank 0 prepares the folder, then tells the others whether it
		// failed (0), started afresh (1) or resumed (2).
		how := []byte{0}
		if err == nil {
			how[0] = 1
			if resumed {
				how[0] = 2
			}
		}
		t.comm.Bcast(how, 0)
		if !t.root() {
			if how[0] == 0 {
				return Summary{}, fmt.Errorf("train: rank 0 could not open the run folder %s", t.dir)
			}
			resumed, err = t.readFolder(how[0] == 2)
		}
	}
	if err != nil {
		return Summary{}, err
	}
	if cfg.Schedule == "absa" && t.st.ABSA == nil {
		t.st.ABSA = newABSAState(cfg)
	}
	sum := t.summary()
	sum.Resumed = resumed
	if t.st.Done {
		if ok, err := exists(filepath.Join(t.dir, FinalFile)); err != nil {
			return sum, err
		} else if ok {
			if bad := t.damagedOutputs(); bad != "" {
				t.logf("note: %s: writing the run's outputs again from %s\n", bad, t.path(StateFile))
				return t.finish(resumed)
			}
			sum.AlreadyDone = true
			return sum, nil
		}
		return t.finish(resumed)
	}
	if err := t.loop(ctx); err != nil {
		return t.summary(), err
	}
	return t.finish(resumed)
}

// setup loads the data, builds the model and the schedule.
func (t *trainer[T]) setup() error {
	c := t.cfg
	tr, te := t.opt.Train, t.opt.Test
	var err error
	if tr == nil {
		if tr, err = data.Load(c.Dataset, "train", data.Options{Dir: c.DataDir, Progress: t.opt.Progress}); err != nil {
			return err
		}
	}
	if te == nil {
		if te, err = data.Load(c.Dataset, "test", data.Options{Dir: c.DataDir, Progress: t.opt.Progress}); err != nil {
			return err
		}
	}
	if c.TrainSamples > 0 {
		if c.TrainSamples > tr.N {
			return fmt.Errorf("train: -train-samples %d: %s has %d training images", c.TrainSamples, c.Dataset, tr.N)
		}
		tr = tr.Subset(c.TrainSamples)
	}
	if c.TestSamples > 0 {
		if c.TestSamples > te.N {
			return fmt.Errorf("train: -test-samples %d: %s has %d test images", c.TestSamples, c.Dataset, te.N)
		}
		te = te.Subset(c.TestSamples)
	}
	if c.ValFraction > 0 {
		tr, t.val = tr.Split(c.ValFraction, c.Seed)
		if t.val.N == 0 {
			return fmt.Errorf("train: -val-fraction %g of %d images holds out none", c.ValFraction, tr.N)
		}
	}
	if tr.N == 0 {
		return fmt.Errorf("train: no training images")
	}
	if tr.N < c.BatchSize && c.DropLast {
		return fmt.Errorf("train: -batch-size %d with -drop-last: the training set has only %d images", c.BatchSize, tr.N)
	}
	if c.ABSA != nil && tr.N < c.ABSA.MaxBatch && c.DropLast {
		return fmt.Errorf("train: -absa-max-batch %d with -drop-last: the training set has only %d images", c.ABSA.MaxBatch, tr.N)
	}
	if tr.N < c.BatchSize {
		scaled := ""
		if c.LRScaling == "linear" {
			scaled = ", and -lr-scaling linear scales the rate by that batch"
		}
		t.logf("note: -batch-size %d is more than the %d training images: every step takes all of them%s\n", c.BatchSize, tr.N, scaled)
	}
	classes := max(tr.Classes, te.Classes)
	t.net, err = models.New[T](c.Model, models.Config{Classes: classes, Activation: c.Activation, Seed: c.Seed})
	if err != nil {
		return err
	}
	for _, d := range []*data.Dataset{tr, te} {
		if err := t.net.CheckInput([]int{1, d.C, d.H, d.W}); err != nil {
			return fmt.Errorf("train: %s images are %d×%d×%d: %w", c.Dataset, d.C, d.H, d.W, err)
		}
	}
	if c.Normalize {
		n, err := data.StandardNorm(c.Dataset)
		if err != nil {
			n = tr.Stats()
		}
		t.norm = &NormInfo{Mean: n.Mean, Std: n.Std}
		te = te.Normalized(n)
		if t.val != nil {
			t.val = t.val.Normalized(n)
		}
	}
	t.train, t.test = tr, te
	if c.TrackEvery > 0 {
		k := min(c.TrackSamples, tr.N)
		if k < c.TrackSamples {
			t.logf("note: -track-samples %d is more than the %d training images: the curvature is tracked on all of them\n", c.TrackSamples, tr.N)
		}
		idx := data.Permutation(tr.N, c.Seed, -1)[:k]
		t.track = tr.Select(idx)
		if t.norm != nil {
			t.track = t.track.Normalized(data.Norm{Mean: t.norm.Mean, Std: t.norm.Std})
		}
	}

	trainables := trainable(t.net)
	t.accFlat = make([]float64, nn.Size(trainables)) // one vector, for the all-reduce
	acc := t.accFlat
	for _, p := range trainables {
		t.params = append(t.params, p.Value.Data)
		t.grads = append(t.grads, make([]T, p.Value.Len()))
		t.acc = append(t.acc, acc[:p.Value.Len():p.Value.Len()])
		acc = acc[p.Value.Len():]
	}
	t.gradsView = make([][]T, len(trainables))
	for _, p := range t.net.Params() {
		if p.Buffer {
			t.buffers = append(t.buffers, p)
			t.saved = append(t.saved, make([]T, p.Value.Len()))
		}
	}
	t.sgd = &SGD[T]{Momentum: c.Momentum, Dampening: c.Dampening, WeightDecay: c.WeightDecay, Nesterov: c.Nesterov}
	t.sched = NewSchedule(c, tr.N)
	t.spe = t.sched.StepsPerEpoch
	if c.Schedule != "absa" && c.WarmupSteps > t.sched.TotalSteps {
		return fmt.Errorf("train: -warmup-steps %d is longer than the run's %d steps: the learning rate would never reach -lr", c.WarmupSteps, t.sched.TotalSteps)
	}
	if c.Schedule == "cosine" && c.MinLR > t.sched.Base {
		return fmt.Errorf("train: -min-lr %g is above the base rate %g: -schedule cosine decays from the base rate to -min-lr", c.MinLR, t.sched.Base)
	}

	t.info = &RunInfo{Config: c, Version: t.opt.Version, GoVersion: runtime.Version(), Threads: runtime.GOMAXPROCS(0),
		BatchNorm: BatchNormSemantics, Normalization: t.norm, TrainImages: tr.N, TestImages: te.N, Classes: classes,
		Params: t.net.NumParams(), StepsPerEpoch: t.spe, BaseLR: t.sched.Base, WarmupSteps: t.sched.WarmupSteps,
		Started: time.Now().UTC().Format(time.RFC3339)}
	if t.comm.Size() > 1 {
		t.info.Ranks = t.comm.Size()
	}
	if t.val != nil {
		t.info.ValImages = t.val.N
	}
	return nil
}

func trainable[T tensor.Float](net *models.Net[T]) []*nn.Param[T] { return nn.Trainable(net.Params()) }

func (t *trainer[T]) path(name string) string { return filepath.Join(t.dir, name) }

// root says whether this rank writes the run folder: rank 0, or the only one.
func (t *trainer[T]) root() bool { return t.comm.Rank() == 0 }

// openFolder prepares the run folder: a fresh run writes config.json and
// empties the metrics files; a resumed one checks config.json, loads the
// checkpoint and cuts the metrics files back to it. It reports whether it
// resumed from a checkpoint.
func (t *trainer[T]) openFolder() (bool, error) {
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return false, fmt.Errorf("train: -out: %w", err)
	}
	hasConfig, err := exists(t.path(ConfigFile))
	if err != nil {
		return false, err
	}
	hasState, err := exists(t.path(StateFile))
	if err != nil {
		return false, err
	}
	if !t.cfg.Resume && (hasConfig || hasState) {
		return false, fmt.Errorf("train: -out %s already holds a run; pass -resume to continue it, or choose another folder", t.dir)
	}
	// A run killed while writing a file leaves its temporary file behind.
	for _, f := range []string{ConfigFile, StateFile, ModelFile, FinalFile} {
		tmps, _ := filepath.Glob(filepath.Join(t.dir, "."+f+".tmp*"))
		for _, tmp := range tmps {
			os.Remove(tmp)
		}
	}
	if hasConfig {
		old, err := ReadRunInfo(t.dir)
		if err != nil {
			return false, err
		}
		if diff := Diff(old.Config, t.cfg); len(diff) > 0 {
			return false, fmt.Errorf("train: -resume: the run in %s was started with other settings (%v differ; see %s)", t.dir, diff, t.path(ConfigFile))
		}
		if err := t.sameRanks(old); err != nil {
			return false, err
		}
		if old.Threads != t.info.Threads {
			t.logf("warning: the run was started with %d threads, now %d: results may differ in the last bits\n", old.Threads, t.info.Threads)
		}
		t.info.Started = old.Started
	}
	if hasState && hasConfig {
		st, err := loadState(t.path(StateFile), t.net, t.sgd)
		if err != nil {
			return false, err
		}
		fp := t.cfg.fingerprint()
		if st.Config != "" && st.Config != fp {
			return false, fmt.Errorf("train: -resume: %s was written by a run with other settings than %s's (copied from another run, or the settings edited since)", t.path(StateFile), t.path(ConfigFile))
		}
		st.Config = fp // a checkpoint from before fingerprints gets one
		t.st = st
		t.checkpointed = st.Step
		if err := truncateTo(t.path(MetricsJSONLFile), st.MetricsJSONL); err != nil {
			return false, err
		}
		if err := truncateTo(t.path(MetricsCSVFile), st.MetricsCSV); err != nil {
			return false, err
		}
		t.logf("resuming %s at epoch %d, step %d\n", t.dir, st.Epoch+1, st.Step)
		return true, nil
	}
	// A fresh start (also when a run was killed before its first checkpoint).
	t.st = &state{Config: t.cfg.fingerprint()}
	if err := writeJSON(t.path(ConfigFile), t.info); err != nil {
		return false, err
	}
	for _, f := range []string{MetricsJSONLFile, MetricsCSVFile} {
		if err := truncateTo(t.path(f), 0); err != nil {
			return false, err
		}
	}
	return false, nil
}

// readFolder is openFolder on a rank other than 0, once rank 0 has opened
// the folder: it loads the checkpoint if rank 0 resumed, and writes nothing.
func (t *trainer[T]) readFolder(resumed bool) (bool, error) {
	if !resumed {
		t.st = &state{}
		return false, nil
	}
	st, err := loadState(t.path(StateFile), t.net, t.sgd)
	if err != nil {
		return false, err
	}
	t.st, t.checkpointed = st, st.Step
	return true, nil
}

// sameRanks checks that a run is resumed on as many ranks as it started:
// the split of every batch, and so the sums, depend on it.
func (t *trainer[T]) sameRanks(old *RunInfo) error {
	if was, now := max(old.Ranks, 1), t.comm.Size(); was != now {
		return fmt.Errorf("train: -resume: the run in %s was started on %d rank(s), now %d: resume it on %d (see %s)", t.dir, was, now, was, t.path(ConfigFile))
	}
	return nil
}

func (t *trainer[T]) logf(format string, args ...any) {
	if t.opt.Progress != nil && t.root() {
		fmt.Fprintf(t.opt.Progress, format, args...)
	}
}

// loop trains from the checkpointed position to the end.
func (t *trainer[T]) loop(ctx context.Context) error {
	c := t.cfg
	for t.st.Epoch < c.Epochs {
		epoch := t.st.Epoch // from 0
		perm := data.Permutation(t.train.N, c.Seed, epoch)
		bs, spe := t.batchSize(), t.epochSteps()
		if t.st.ABSA != nil {
			t.absaPerturb()
		}
		bar := progress.New(t.opt.Progress, fmt.Sprintf("epoch %d/%d", epoch+1, c.Epochs), spe)
		bar.Add(t.st.EpochStep, "")
		start := time.Now()
		for t.st.EpochStep < spe {
			if err := ctx.Err(); err != nil && t.comm.Size() == 1 { // several ranks agree in step

				bar.Finish("interrupted")
				return t.interrupt(err, start)
			}
			s := t.st.EpochStep
			idx := perm[s*bs : min((s+1)*bs, t.train.N)]
			lr := t.rate(t.st.Step)
			loss, correct, gnorm, err := t.step(ctx, idx, lr)
			if err != nil {
				bar.Finish("stopped")
				if ctx.Err() != nil {
					return t.interrupt(ctx.Err(), start)
				}
				return err
			}
			a := &t.st.Acc
			a.LossSum += loss * float64(len(idx))
			a.Correct += correct
			a.Seen += len(idx)
			a.GradNormSum += gnorm
			a.Steps++
			t.st.EpochStep++
			t.st.Step++
			bar.Add(1, fmt.Sprintf("loss %.4f acc %.2f%% lr %.4g", a.LossSum/float64(a.Seen), 100*float64(a.Correct)/float64(a.Seen), lr))
			if c.CheckpointEvery > 0 && t.st.Step%c.CheckpointEvery == 0 && t.st.EpochStep < spe {
				t.addTime(start)
				start = time.Now()
				if err := t.checkpoint(); err != nil {
					return err
				}
			}
		}
		bar.Finish("")
		m, err := t.endEpoch(ctx, start)
		if err != nil {
			if ctx.Err() != nil {
				return t.interrupt(ctx.Err(), start)
			}
			return err
		}
		t.logf("%s\n", formatMetrics(m, c.Epochs))
	}
	return nil
}

// addTime adds the time since start to the epoch's and the run's seconds.
func (t *trainer[T]) addTime(start time.Time) {
	d := time.Since(start).Seconds()
	t.st.Acc.Seconds += d
	t.st.Seconds += d
}

// interrupt writes a checkpoint at the current step boundary and returns err.
func (t *trainer[T]) interrupt(err error, start time.Time) error {
	t.addTime(start)
	if cerr := t.checkpoint(); cerr != nil {
		return fmt.Errorf("%w (and the checkpoint failed: %v)", err, cerr)
	}
	t.logf("interrupted at epoch %d, step %d; checkpoint written, continue with -resume\n", t.st.Epoch+1, t.st.Step)
	return err
}

// checkpoint writes the state, then the model file, unless a weight is not
// finite: then the run stops with the last good checkpoint kept.
func (t *trainer[T]) checkpoint() error {
	for _, p := range t.params {
		if i := tensor.Finite(p); i >= 0 {
			return t.nonFinite("weights", float64(p[i]), t.rate(max(t.st.Step-1, 0)), t.st.Step)
		}
	}
	if !t.root() {
		t.checkpointed = t.st.Step
		return nil
	}
	if err := saveState(t.path(StateFile), t.net, t.sgd, t.st); err != nil {
		return err
	}
	t.checkpointed = t.st.Step
	return writeModel(t.path(ModelFile), t.net, t.st.BatchesTracked, t.norm, t.modelMeta())
}

func (t *trainer[T]) modelMeta() map[string]string {
	return map[string]string{"dataset": t.cfg.Dataset, "activation": t.cfg.Activation, "epoch": fmt.Sprint(t.st.Epoch), "step": fmt.Sprint(t.st.Step),
		"version": t.opt.Version, "precision": t.cfg.Precision}
}

// step does one optimiser step on the training images idx at rate lr and
// returns the batch's mean loss, the number it classified right and the norm
// of its gradient. On error (a non-finite loss, or ctx cancelled between
// micro-batches) nothing has changed: the BatchNorm statistics are restored.
func (t *trainer[T]) step(ctx context.Context, idx []int, lr float64) (loss float64, correct int, gnorm float64, err error) {
	for i, b := range t.buffers {
		copy(t.saved[i], b.Value.Data)
	}
	tracked := t.st.BatchesTracked
	restore := func() {
		for i, b := range t.buffers {
			copy(b.Value.Data, t.saved[i])
		}
		t.st.BatchesTracked = tracked
	}
	n := len(idx)
	ranks, rank := t.comm.Size(), t.comm.Rank()
	// This rank's share of the batch, and the index of its first
	// micro-batch among all ranks' (the random streams are numbered by it).
	lo, hi := dist.Shard(n, rank, ranks)
	mb := t.cfg.MicroBatch
	first, total := 0, 0
	for r := range ranks {
		l, h := dist.Shard(n, r, ranks)
		if r == rank {
			first = total
		}
		total += (h - l + mb - 1) / mb
	}
	share := idx[lo:hi]
	ns := len(share)
	k := (ns + mb - 1) / mb
	trainables := trainable(t.net)
	grads := t.grads
	single := k == 1 && ranks == 1
	for m := range k {
		if m > 0 && ranks == 1 && ctx.Err() != nil {
			restore()
			return 0, 0, 0, ctx.Err()
		}
		a, b := lo+m*ns/k, lo+(m+1)*ns/k
		x, y := t.batch(ctx, idx[a:b], first+m)
		if ranks == 1 && ctx.Err() != nil {
			// Interrupted while the batch was attacked (adversarial
			// training stops its attacks' iterations on ctx): the step
			// is redone from the checkpoint on -resume.
			restore()
			return 0, 0, 0, ctx.Err()
		}
		tp := t.tape
		tp.Reset()
		g := nn.NewGraph(tp, nn.Train)
		g.UpdateStats = true
		g.ParamGrads = true
		logits := t.net.Forward(g, tp.Leaf(x, nil, false))
		lv := g.CrossEntropy(logits, y)
		tp.Backward(lv)
		l := float64(tp.Value(lv).Data[0])
		if ranks == 1 && (math.IsNaN(l) || math.IsInf(l, 0)) {
			restore()
			return 0, 0, 0, t.nonFinite("loss", l, lr)
		}
		w := float64(b-a) / float64(n)
		loss += w * l
		correct += hessian.Correct(tp.Value(logits), y)
		if single {
			// One micro-batch: its gradient is the step's, used where the
			// tape keeps it (valid until the next Reset).
			t.st.BatchesTracked++
			grads = t.gradsView
			for i, p := range trainables {
				if gr := g.Grad(p); gr != nil {
					grads[i] = gr.Data
				} else {
					clear(t.grads[i])
					grads[i] = t.grads[i]
				}
			}
			break
		}
		// Accumulate Σ (size/n)·gradient in float64.
		for i, p := range trainables {
			a := t.acc[i]
			gr := g.Grad(p)
			switch {
			case gr == nil && m == 0:
				clear(a)
			case gr == nil:
			case m == 0:
				for j, v := range gr.Data {
					a[j] = w * float64(v)
				}
			default:
				for j, v := range gr.Data {
					a[j] += w * float64(v)
				}
			}
		}
	}
	if ranks > 1 {
		// One all-reduce: the gradient, the loss, the count and whether a
		// rank was interrupted, so that all stop at the same step.
		if k == 0 {
			clear(t.accFlat)
		}
		stop := 0.0
		if ctx.Err() != nil {
			stop = 1
		}
		flat := t.accFlat
		t.red = append(append(t.red[:0], flat...), loss, float64(correct), stop)
		t.comm.AllreduceFloat64(t.red)
		copy(flat, t.red)
		loss, correct, stop = t.red[len(flat)], int(t.red[len(flat)+1]), t.red[len(flat)+2]
		t.st.BatchesTracked += int64(total)
		if stop > 0 {
			restore()
			if err := ctx.Err(); err != nil {
				return 0, 0, 0, err
			}
			return 0, 0, 0, context.Canceled
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			restore()
			return 0, 0, 0, t.nonFinite("loss", loss, lr)
		}
	} else if !single {
		t.st.BatchesTracked += int64(k)
	}
	// The squared norm, in float64 over eight lanes (kernels.Dot): one
	// chain of dependent additions took 0.75 ms of mlp's 5 ms step.
	var lanes kernels.Lanes
	if single {
		for _, gr := range grads {
			kernels.Dot(&lanes, gr, gr)
		}
	} else {
		for i, a := range t.acc {
			gr := t.grads[i]
			kernels.Dot(&lanes, a, a)
			for j, v := range a {
				gr[j] = T(v)
			}
		}
	}
	sq := lanes.Sum()
	if math.IsNaN(sq) || math.IsInf(sq, 0) {
		restore()
		return 0, 0, 0, t.nonFinite("gradient", sq, lr)
	}
	t.sgd.Step(t.params, grads, lr)
	if ranks > 1 {
		// BatchNorm's running statistics: rank 0's.
		for _, b := range t.buffers {
			dist.BcastFloats(t.comm, b.Value.Data, 0)
		}
	}
	return loss, correct, math.Sqrt(sq), nil
}

// nonFinite returns the error for a non-finite value at step (from 1; the
// current step if omitted).
func (t *trainer[T]) nonFinite(what string, v, lr float64, step ...int) error {
	s := t.st.Step + 1
	if len(step) > 0 {
		s = step[0]
	}
	cp := "no checkpoint was written yet"
	if t.checkpointed >= 0 {
		cp = fmt.Sprintf("the last good checkpoint (after step %d) is kept in %s", t.checkpointed, t.dir)
	}
	epoch := (s-1)/max(t.spe, 1) + 1
	if t.st.ABSA != nil { // steps per epoch vary
		epoch = t.st.Epoch + 1
		if s == t.st.Step && t.st.EpochStep == 0 {
			epoch = t.st.Epoch
		}
	}
	return &NonFiniteError{What: what, Value: v, Epoch: epoch, Step: s, LR: lr, Checkpoint: cp}
}

// batch returns the model's input for the training images idx, micro-batch
// m of the current step: gathered, augmented, normalised, converted and
// perturbed.
func (t *trainer[T]) batch(ctx context.Context, idx []int, m int) (*tensor.Dense[T], []int) {
	d := t.train
	n, size := len(idx), d.SampleLen()
	t.xraw = grow(t.xraw, n*size)
	t.ybuf = grow(t.ybuf, n)
	d.BatchTo(t.xraw, t.ybuf, idx)
	x := t.xraw
	if *t.cfg.Augment {
		t.xaug = grow(t.xaug, n*size)
		data.Augment(t.xaug, t.xraw, n, d.C, d.H, d.W, t.rng(streamAugment, m))
		x = t.xaug
	}
	if t.norm != nil {
		data.Norm{Mean: t.norm.Mean, Std: t.norm.Std}.ApplyTo(x, x, d.H*d.W)
	}
	var xt *tensor.Dense[T]
	if xs, ok := any(x).([]T); ok {
		xt = tensor.FromSlice(xs, n, d.C, d.H, d.W)
	} else {
		if t.xT == nil || t.xT.Len() != len(x) {
			t.xT = tensor.New[T](n, d.C, d.H, d.W)
		}
		for i, v := range x {
			t.xT.Data[i] = T(v)
		}
		xt = t.xT
	}
	if t.perturb != nil {
		xt = t.perturb(ctx, t.net, xt, t.ybuf, t.rng(streamPerturb, m))
	}
	return xt, t.ybuf
}

func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

// Random streams: every draw comes from a PCG generator seeded with the
// run's seed and a stream fixed by purpose, step and micro-batch.
const (
	streamAugment = 0xa06e
	streamPerturb = 0x9e27
)

func (t *trainer[T]) rng(purpose uint64, micro int) *rand.Rand {
	stream := mix64(mix64(purpose^uint64(t.st.Step)<<16) + uint64(micro))
	return rand.New(rand.NewPCG(t.cfg.Seed, stream))
}

// mix64 is SplitMix64's finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// endEpoch evaluates, tracks curvature, appends the metrics and writes the
// checkpoint of a finished epoch.
func (t *trainer[T]) endEpoch(ctx context.Context, start time.Time) (Metrics, error) {
	c := t.cfg
	a := t.st.Acc
	m := Metrics{Epoch: t.st.Epoch + 1, Step: t.st.Step, LR: t.rate(t.st.Step - 1)}
	if a.Seen > 0 {
		m.TrainLoss, m.TrainAcc = a.LossSum/float64(a.Seen), float64(a.Correct)/float64(a.Seen)
	}
	if a.Steps > 0 {
		m.GradNorm = a.GradNormSum / float64(a.Steps)
	}
	var err error
	if m.TestLoss, m.TestAcc, err = Evaluate(ctx, t.net, t.test, c.MicroBatch); err != nil {
		return m, err
	}
	if t.val != nil {
		vl, va, err := Evaluate(ctx, t.net, t.val, c.MicroBatch)
		if err != nil {
			return m, err
		}
		m.ValLoss, m.ValAcc = &vl, &va
	}
	if c.TrackEvery > 0 && m.Epoch%c.TrackEvery == 0 {
		if err := t.trackCurvature(ctx, &m); err != nil {
			return m, err
		}
	}
	if t.st.ABSA != nil {
		if err := t.absaEndEpoch(ctx, &m); err != nil {
			return m, err
		}
	}
	t.addTime(start)
	m.Seconds = t.st.Acc.Seconds

	if t.root() {
		if err := t.appendMetrics(m); err != nil {
			return m, err
		}
	}
	t.st.Epoch++
	t.st.EpochStep = 0
	t.st.Acc = epochAcc{}
	t.st.Last = &m
	t.st.Done = t.st.Epoch >= c.Epochs
	return m, t.checkpoint()
}

// appendMetrics appends m to the metrics files at the offsets of the
// state, and records the new offsets.
func (t *trainer[T]) appendMetrics(m Metrics) error {
	js, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := hook(t.path(MetricsJSONLFile)); err != nil {
		return err
	}
	nj, err := appendAt(t.path(MetricsJSONLFile), t.st.MetricsJSONL, string(js)+"\n")
	if err != nil {
		return err
	}
	row := csvRow(m, t.cols)
	if t.st.MetricsCSV == 0 {
		row = strings.Join(t.cols, ",") + "\n" + row
	}
	if err := hook(t.path(MetricsCSVFile)); err != nil {
		return err
	}
	nc, err := appendAt(t.path(MetricsCSVFile), t.st.MetricsCSV, row)
	if err != nil {
		return err
	}
	t.st.MetricsJSONL, t.st.MetricsCSV = nj, nc
	return nil
}

// formatMetrics is the line printed after an epoch.
func formatMetrics(m Metrics, epochs int) string {
	s := fmt.Sprintf("epoch %d/%d  step %d  lr %.4g  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%",
		m.Epoch, epochs, m.Step, m.LR, m.TrainLoss, 100*m.TrainAcc, m.TestLoss, 100*m.TestAcc)
	if m.ValLoss != nil {
		s += fmt.Sprintf("  val loss %.4f acc %.2f%%", *m.ValLoss, 100**m.ValAcc)
	}
	s += fmt.Sprintf("  |g| %.4g", m.GradNorm)
	if m.TopEigenvalue != nil {
		s += fmt.Sprintf("  λmax %.5g", *m.TopEigenvalue)
	}
	if m.Trace != nil {
		s += fmt.Sprintf("  tr %.5g±%.2g", *m.Trace, *m.TraceStdErr)
	}
	if m.ABSAEigenvalue != nil {
		s += fmt.Sprintf("  batch %d adv %.4g  λB %.5g (ref %.5g)", m.BatchSize, *m.AdvFraction, *m.ABSAEigenvalue, *m.ABSAReference)
		if m.ABSAChange != "" {
			s += fmt.Sprintf(", doubling (%s)", m.ABSAChange)
		}
	}
	return s + fmt.Sprintf("  %.1fs", m.Seconds)
}

// finish writes final.json, the mark of a finished run.
func (t *trainer[T]) finish(resumed bool) (Summary, error) {
	sum := t.summary()
	sum.Resumed = resumed
	if !t.root() {
		return sum, nil
	}
	// The model file may be older than the final state if a kill came
	// between the two writes of the last checkpoint.
	if err := writeModel(t.path(ModelFile), t.net, t.st.BatchesTracked, t.norm, t.modelMeta()); err != nil {
		return sum, err
	}
	if err := writeJSON(t.path(FinalFile), sum); err != nil {
		return sum, err
	}
	return sum, nil
}

// damagedOutputs describes the first of a finished run's outputs (the model
// file and final.json, which finish writes from the checkpoint) that cannot
// be read back, or returns "" if both can.
func (t *trainer[T]) damagedOutputs() string {
	if _, err := checkpoint.ReadFile(t.path(ModelFile)); err != nil {
		return fmt.Sprintf("%s is unreadable (%v)", t.path(ModelFile), err)
	}
	var s Summary
	if b, err := os.ReadFile(t.path(FinalFile)); err != nil {
		return fmt.Sprintf("%s is unreadable (%v)", t.path(FinalFile), err)
	} else if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Sprintf("%s is unreadable (%v)", t.path(FinalFile), err)
	}
	return ""
}

func (t *trainer[T]) summary() Summary {
	s := Summary{Dir: t.dir, ModelFile: t.path(ModelFile), StateFile: t.path(StateFile),
		MetricsJSONL: t.path(MetricsJSONLFile), MetricsCSV: t.path(MetricsCSVFile), ConfigFile: t.path(ConfigFile),
		Model: t.cfg.Model, Dataset: t.cfg.Dataset, Params: t.net.NumParams()}
	if t.st == nil {
		return s
	}
	s.Epochs, s.Steps, s.Seconds = t.st.Epoch, t.st.Step, t.st.Seconds
	if m := t.st.Last; m != nil {
		s.TrainLoss, s.TrainAcc, s.TestLoss, s.TestAcc, s.ValLoss, s.ValAcc = m.TrainLoss, m.TrainAcc, m.TestLoss, m.TestAcc, m.ValLoss, m.ValAcc
	}
	return s
}
