package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"hesscope/data"
	"hesscope/experiment"
	"hesscope/hessian"
	"hesscope/models"
	"hesscope/tensor"
	"hesscope/train"
)

func init() {
	commands = append(commands, &command{
		name:        "train",
		usage:       "-model NAME -out DIR [-dataset NAME] [-epochs E] [-batch-size B] [-lr LR] [flags]",
		short:       "train a model by SGD at any batch size, with resumable checkpoints",
		distributed: true,
		long: `
Train trains a model of the zoo on a dataset by SGD with momentum (PyTorch's
torch.optim.SGD semantics: weight decay, dampening, Nesterov), with a
constant, step or cosine learning-rate schedule, an optional linear warm-up,
and the large-batch linear scaling rule (-lr is the rate at -base-batch
images; with -lr-scaling linear the rate is lr·B/base-batch).

Any batch size works, up to the whole training set: a batch is cut into
micro-batches of at most -micro-batch images whose gradients are averaged,
weighted by size, so memory is that of one micro-batch. BatchNorm
semantics: in training, each micro-batch is normalised with its own
statistics and the running statistics are updated once per micro-batch
(momentum 0.1), as PyTorch does with gradient accumulation; evaluation and
curvature tracking use eval mode (running statistics). For models without
BatchNorm the micro-batch size only changes rounding.

The epoch's data order is a permutation fixed by -seed and the epoch; CIFAR
augmentation (random crop with 4-pixel padding, horizontal flip) is on by
default for CIFAR; -normalize normalises each channel with the dataset's
standard mean and standard deviation (stored in the model file, which eval
reads).

The run folder -out receives config.json (configuration, version,
BatchNorm semantics, threads), metrics.jsonl and metrics.csv (one line per
epoch: step, lr, train/test loss and accuracy, validation with
-val-fraction, gradient norm, seconds, and with -track-every the top Hessian
eigenvalue and -track-trace the trace on a fixed subset of -track-samples
training images), state.safetensors (checkpoint: exact weights, momentum,
counters), model.safetensors (the PyTorch state_dict, float32, loadable with
strict=True) and, once finished, final.json. Every write is atomic.

A checkpoint is written after every epoch, every -checkpoint-every steps and
on interrupt (Ctrl-C). -resume continues the run in -out from its last
checkpoint (or starts it); the settings come from its config.json, and flags
given must agree with it. A resumed run ends with exactly the weights and
metrics of an uninterrupted one, with the same thread count, even after
kill -9. A finished run is left alone (a sweep can pass -resume always).

Built with MPI (CC=mpicc go build -tags mpi) and started as several ranks
(mpirun -np N, srun -n N), train is data-parallel: -batch-size is the
global batch, split into one share per rank, each cut into micro-batches;
the gradients are summed by one all-reduce per step, so the weights are the
same on every rank; rank 0 alone prints and writes -out (on a file system
all ranks see), and -resume needs the same number of ranks. BatchNorm's
running statistics are rank 0's.

A NaN or infinite loss stops the run with exit status 1, keeping the last
good checkpoint.

-schedule absa is ABSA, adaptive batch size with adversarial training (Yao,
Gholami, Arfeen, Liaw, Gonzalez, Keutzer & Mahoney, arXiv:1810.01021): the
run starts at -batch-size (default 128) with the rate of that batch size.
After every epoch it computes the top Hessian eigenvalue of the training
loss on a random batch of -absa-eigen-samples training images, drawn anew
each epoch (BatchNorm in eval mode; Lanczos, at most -absa-eigen-iters
products); the first value after a change is the reference. When the
eigenvalue falls below half its reference, or after -absa-patience epochs
without a change, the batch size doubles, and the learning rate with it, up
to -absa-max-batch. A fraction -absa-adv-fraction of every batch is replaced
by FGSM examples (L-infinity, radius -absa-adv-eps in pixel units, BatchNorm
in eval mode), a fraction that halves with every doubling. -milestones and
-gamma decay the rate on top, as with -schedule step. The metrics record
the batch size, adversarial fraction, eigenvalue and reference every epoch,
and all of it resumes bit for bit. -adv cannot be combined with it.`,
		flags: trainFlags,
	})
}

type trainCLI struct {
	cfg         train.Config
	augment     triBool
	milestones  intsFlag
	json, quiet bool
}

// triBool is a boolean flag with a third value, auto (nil).
type triBool struct{ v **bool }

func (b triBool) String() string {
	if b.v == nil || *b.v == nil {
		return "auto"
	}
	return strconv.FormatBool(**b.v)
}

func (b triBool) Set(s string) error {
	if s == "auto" {
		*b.v = nil
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true, false or auto")
	}
	*b.v = &v
	return nil
}

func (b triBool) IsBoolFlag() bool { return true }

// intsFlag is a comma-separated list of integers.
type intsFlag struct{ v *[]int }

func (f intsFlag) String() string {
	if f.v == nil {
		return ""
	}
	s := make([]string, len(*f.v))
	for i, x := range *f.v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func (f intsFlag) Set(s string) error {
	*f.v = nil
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("want comma-separated integers")
		}
		*f.v = append(*f.v, x)
	}
	return nil
}

// bindTrainFlags declares the flags that set c.
func bindTrainFlags(fs *flag.FlagSet, c *train.Config) {
	fs.StringVar(&c.Model, "model", "", "model `name`: mlp, lenet5, c1, c2, resnet20, resnet18 (required)")
	fs.StringVar(&c.Activation, "activation", "relu", "activation: relu, or tanh/softplus for smooth variants")
	fs.StringVar(&c.Dataset, "dataset", "mnist", "dataset `name`: mnist, fashion-mnist, cifar10, cifar100")
	fs.StringVar(&c.DataDir, "data-dir", "", "existing `folder` of the dataset files, where missing ones are downloaded (default: found or downloaded automatically)")
	fs.IntVar(&c.TrainSamples, "train-samples", 0, "use the first `N` training images (0: all)")
	fs.IntVar(&c.TestSamples, "test-samples", 0, "use the first `N` test images (0: all)")
	fs.Float64Var(&c.ValFraction, "val-fraction", 0, "hold out this `fraction` of the training images (drawn from -seed) for validation")
	fs.BoolVar(&c.Normalize, "normalize", false, "normalise each channel with the dataset's standard mean and std")
	fs.Var(triBool{&c.Augment}, "augment", "CIFAR augmentation: random crop (padding 4) and horizontal flip; true, false or auto (on for CIFAR)")
	fs.StringVar(&c.Precision, "precision", "float32", "arithmetic: float32 or float64")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the initialisation, data order, split and augmentation")
	fs.IntVar(&c.Epochs, "epochs", 1, "number of epochs")
	fs.IntVar(&c.BatchSize, "batch-size", 128, "images per SGD step (up to the whole training set)")
	fs.BoolVar(&c.DropLast, "drop-last", false, "drop the last, incomplete batch of each epoch")
	fs.IntVar(&c.MicroBatch, "micro-batch", 256, "most images per forward/backward pass; BatchNorm statistics are per micro-batch")
	fs.Float64Var(&c.LR, "lr", 0.05, "learning `rate` at -base-batch images")
	fs.IntVar(&c.BaseBatch, "base-batch", 128, "the batch size -lr refers to")
	fs.StringVar(&c.LRScaling, "lr-scaling", "none", "none, or linear: rate lr·batch-size/base-batch")
	fs.Float64Var(&c.Momentum, "momentum", 0.9, "momentum (0: plain SGD)")
	fs.Float64Var(&c.Dampening, "dampening", 0, "momentum dampening")
	fs.Float64Var(&c.WeightDecay, "weight-decay", 0, "L2 weight decay, added to the gradient")
	fs.BoolVar(&c.Nesterov, "nesterov", false, "Nesterov momentum")
	fs.StringVar(&c.Schedule, "schedule", "constant", "learning-rate schedule: constant, step, cosine (per step, to -min-lr), or absa (adaptive batch size with adversarial training, see above)")
	fs.Var(intsFlag{&c.Milestones}, "milestones", "`epochs` after which -schedule step (or absa) multiplies the rate by -gamma, e.g. 30,60")
	fs.Float64Var(&c.Gamma, "gamma", 0.1, "factor of -schedule step (or absa with -milestones)")
	fs.Float64Var(&c.MinLR, "min-lr", 0, "final rate of -schedule cosine")
	fs.Float64Var(&c.WarmupEpochs, "warmup", 0, "linear warm-up over this many `epochs`, at most -epochs")
	fs.IntVar(&c.WarmupSteps, "warmup-steps", 0, "linear warm-up over this many steps (instead of -warmup)")
	fs.IntVar(&c.TrackEvery, "track-every", 0, "every `N` epochs, compute the top Hessian eigenvalue of the training loss (0: never)")
	fs.IntVar(&c.TrackSamples, "track-samples", 1000, "training images (a fixed random subset) for -track-every")
	fs.IntVar(&c.TrackIters, "track-iters", 50, "most Hessian-vector products (Lanczos steps; fewer once converged) per tracked eigenvalue")
	fs.BoolVar(&c.TrackTrace, "track-trace", false, "with -track-every, also estimate the Hessian trace (Hutchinson)")
	fs.IntVar(&c.TrackProbes, "track-probes", 20, "Hessian-vector products of the trace estimate")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", 0, "also write a checkpoint every `N` steps (0: after each epoch only)")
	fs.StringVar(&c.Out, "out", "", "run `folder` (required)")
	fs.BoolVar(&c.Resume, "resume", false, "continue the run in -out from its last checkpoint (or start it)")
	absa := func(name, usage string, i func(*train.ABSAConfig) *int, f func(*train.ABSAConfig) *float64) {
		fs.Var(absaFlag{&c.ABSA, i, f}, name, usage)
	}
	absa("absa-max-batch", "largest batch size (`images`) of -schedule absa", func(a *train.ABSAConfig) *int { return &a.MaxBatch }, nil)
	absa("absa-patience", "`epochs` at one batch size after which -schedule absa doubles it anyway", func(a *train.ABSAConfig) *int { return &a.Patience }, nil)
	absa("absa-eigen-samples", "`images` in the random training batch of -schedule absa's eigenvalue", func(a *train.ABSAConfig) *int { return &a.EigenSamples }, nil)
	absa("absa-eigen-iters", "most Hessian-vector `products` (Lanczos steps) per eigenvalue of -schedule absa", func(a *train.ABSAConfig) *int { return &a.EigenIters }, nil)
	absa("absa-adv-eps", "FGSM `radius` of -schedule absa, L-infinity in pixel units", nil, func(a *train.ABSAConfig) *float64 { return &a.AdvEps })
	absa("absa-adv-fraction", "initial `fraction` of every batch replaced by FGSM examples in -schedule absa, halved at every doubling (0: none)", nil,
		func(a *train.ABSAConfig) *float64 { return a.AdvFraction })
}

// absaFlag is a flag setting one field of the ABSA settings *p, which it
// starts from the defaults when nil; it changes a copy, never the settings
// it was given (a resumed run's, compared afterwards).
type absaFlag struct {
	p *(*train.ABSAConfig)
	i func(*train.ABSAConfig) *int
	f func(*train.ABSAConfig) *float64
}

func (a absaFlag) String() string {
	if a.p == nil {
		return ""
	}
	def := train.ABSAConfig{}.Defaults()
	c := *a.p
	if c == nil || c.AdvFraction == nil {
		c = &def
	}
	if a.i != nil {
		return strconv.Itoa(*a.i(c))
	}
	return strconv.FormatFloat(*a.f(c), 'g', -1, 64)
}

func (a absaFlag) Set(s string) error {
	c := train.ABSAConfig{}.Defaults()
	if *a.p != nil {
		c = **a.p
		v := *train.ABSAConfig{}.Defaults().AdvFraction
		if c.AdvFraction != nil {
			v = *c.AdvFraction
		}
		c.AdvFraction = &v
	}
	if a.i != nil {
		v, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		*a.i(&c) = v
	} else {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		*a.f(&c) = v
	}
	*a.p = &c
	return nil
}

func trainFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &trainCLI{}
	bindTrainFlags(fs, &o.cfg)
	adv := bindAdvFlags(fs) // adversarial training, in attack.go
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	return func(ctx context.Context, e *env) error {
		cfg := o.cfg
		if cfg.Out == "" {
			return usagef("-out is required (the run folder)")
		}
		set := givenFlags(fs)
		info, err := train.ReadRunInfo(cfg.Out)
		hasRun := err == nil
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if !hasRun {
			if _, err := os.Stat(filepath.Join(cfg.Out, train.StateFile)); err == nil {
				hasRun = true
			}
		}
		if _, err := os.Stat(filepath.Join(cfg.Out, experiment.SweepFile)); err == nil {
			return usagef("-out %s holds a sweep (%s): a run's files would mix with its own; choose another folder", cfg.Out, experiment.SweepFile)
		}
		if hasRun && !cfg.Resume {
			return usagef("-out %s already holds a run: pass -resume to continue it, or choose another folder", cfg.Out)
		}
		if cfg.Resume && info != nil {
			// The saved settings, overridden by the flags given, which
			// must then agree with them.
			saved := info.Config
			again := flag.NewFlagSet("train", flag.ContinueOnError)
			again.SetOutput(io.Discard)
			bindTrainFlags(again, &saved)
			saved = info.Config // bindTrainFlags set the defaults
			saved.Out, saved.Resume = cfg.Out, true
			var setErr error
			fs.Visit(func(f *flag.Flag) {
				if g := again.Lookup(f.Name); g != nil && setErr == nil {
					setErr = again.Set(f.Name, f.Value.String())
				}
			})
			if setErr != nil {
				return setErr
			}
			if diff := train.Diff(info.Config, saved); len(diff) > 0 {
				return usagef("-resume: the run in %s was started with other settings (%s differ; see its config.json)", cfg.Out, strings.Join(diff, ", "))
			}
			cfg = saved
		} else if !set["model"] {
			return usagef("-model is required (%s)", "mlp, lenet5, c1, c2, resnet20, resnet18")
		}
		if cfg.Schedule == "absa" && set["adv"] {
			return usagef("-adv with -schedule absa: ABSA does its own FGSM training (-absa-adv-eps, -absa-adv-fraction)")
		}
		// Flags these settings do not use (a flag silently ignored reads
		// as a setting of the run).
		if err := checkUnused(fs,
			notUsed{cfg.Schedule != "step" && !(cfg.Schedule == "absa" && len(cfg.Milestones) > 0),
				"with -schedule " + cfg.Schedule + " (only step, or absa with -milestones, multiplies the rate by it)", []string{"gamma"}},
			notUsed{cfg.TrackEvery == 0, "without -track-every", []string{"track-samples", "track-iters", "track-trace", "track-probes"}},
			notUsed{!cfg.TrackTrace, "without -track-trace (the probes are the trace estimate's)", []string{"track-probes"}},
		); err != nil {
			return err
		}
		// The flags have their defaults: an explicit zero is an error,
		// not a request for the default.
		if err := cfg.Validate(); err != nil {
			return usagef("%s", strings.TrimPrefix(err.Error(), "train: "))
		}
		perturb, err := adv.apply(&cfg, set)
		if err != nil {
			return err
		}
		step, hvp := trainPassImages(cfg)
		if err := checkTrainMemory(cfg, step, hvp, "-micro-batch, -track-samples or -absa-eigen-samples"); err != nil {
			return err
		}
		var prog io.Writer = e.stderr
		if o.quiet {
			prog = nil
		}
		keep := keepTrainPasses(cfg, step, hvp)
		sum, err := train.Run(ctx, cfg, train.Options{Progress: prog, Version: version, Perturb: perturb, Comm: e.comm, KeepPasses: keep})
		if err != nil {
			return err
		}
		if o.json {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(sum)
		}
		printTrainSummary(e.stdout, sum)
		return nil
	}
}

// trainPassImages returns the images per pass of a training run: its
// steps' (the micro-batch, at most the batch, which ABSA grows up to its
// largest) and its Hessian-vector products' (0: none; the curvature
// tracking's and ABSA's eigenvalues, over micro-batches of their samples),
// neither more than the training images of a dataset it knows.
func trainPassImages(c train.Config) (step, hvp int) {
	c = c.Defaults()
	batch := c.BatchSize
	if c.Schedule == "absa" {
		batch = max(batch, c.ABSA.MaxBatch)
		hvp = min(c.MicroBatch, c.ABSA.EigenSamples)
	}
	if c.TrackEvery > 0 {
		hvp = max(hvp, min(c.MicroBatch, c.TrackSamples))
	}
	step = min(c.MicroBatch, batch)
	if info, err := data.Describe(c.Dataset); err == nil {
		n := info.Train
		if c.TrainSamples > 0 {
			n = min(n, c.TrainSamples)
		}
		step, hvp = min(step, n), min(hvp, n)
	}
	return step, hvp
}

// checkTrainMemory refuses a run of cfg's model whose passes cannot fit
// (checkPasses): training steps over step images and, if hvp > 0,
// Hessian-vector products over hvp images (lower: what to lower for
// those). The probes run on a model of their own, so the run's
// initialisation is untouched.
func checkTrainMemory(cfg train.Config, step, hvp int, lower string) error {
	if cfg.Precision == "float64" {
		return checkTrainPasses[float64](cfg, step, hvp, lower)
	}
	return checkTrainPasses[float32](cfg, step, hvp, lower)
}

func checkTrainPasses[T tensor.Float](cfg train.Config, step, hvp int, lower string) error {
	net, err := probeNet[T](cfg)
	if err != nil {
		return err
	}
	if err := checkPasses(net, hessian.TrainPass, step, 1, 0, "-micro-batch"); err != nil {
		return err
	}
	if hvp > 0 {
		return checkPasses(net, hessian.HVPPass, hvp, 1, 0, lower)
	}
	return nil
}

// probeNet returns a model of cfg's for the memory probes, apart from the
// run's.
func probeNet[T tensor.Float](cfg train.Config) (*models.Net[T], error) {
	classes := 10 // a dataset file of its own: its classes barely move the estimate
	if info, err := data.Describe(cfg.Dataset); err == nil {
		classes = info.Classes
	}
	net, err := models.New[T](cfg.Model, models.Config{Classes: classes, Activation: cfg.Activation, Seed: 1})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return net, nil
}

// keepTrainPasses reports whether the curvature tracking's and ABSA's
// eigensolvers may keep every micro-batch's pass between their products
// (train.Options.KeepPasses, keepTrainChunks).
func keepTrainPasses(cfg train.Config, step, hvp int) bool {
	return keepTrainChunks(cfg, step, hvp, trainHVPChunks(cfg, hvp))
}

// trainHVPChunks returns the micro-batches of hvp images (trainPassImages)
// that the curvature tracking's and ABSA's samples take (0: none).
func trainHVPChunks(cfg train.Config, hvp int) int {
	if hvp == 0 {
		return 0
	}
	c := cfg.Defaults()
	samples := 0
	if c.TrackEvery > 0 {
		samples = c.TrackSamples
	}
	if c.Schedule == "absa" {
		samples = max(samples, c.ABSA.EigenSamples)
	}
	return (samples + hvp - 1) / hvp
}

// keepTrainChunks reports whether chunks kept passes of hvp images each may
// be held beside a training step over step images (keepChunks): never for
// one chunk, which is kept anyway (decided before the probes).
func keepTrainChunks(cfg train.Config, step, hvp, chunks int) bool {
	if chunks <= 1 {
		return false
	}
	if cfg.Precision == "float64" {
		return keepTrain[float64](cfg, step, hvp, chunks)
	}
	return keepTrain[float32](cfg, step, hvp, chunks)
}

func keepTrain[T tensor.Float](cfg train.Config, step, hvp, chunks int) bool {
	net, err := probeNet[T](cfg)
	if err != nil {
		return false
	}
	input := [3]int{net.Input[0], net.Input[1], net.Input[2]}
	return keepChunks(net, hvp, chunks*hvp, 1, hessian.WorkingSetBound[T](net, input, hessian.TrainPass, step))
}

func printTrainSummary(w io.Writer, s train.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	state := "finished"
	switch {
	case s.AlreadyDone:
		state = "already finished (nothing done)"
	case s.Resumed:
		state = "finished (resumed)"
	}
	fmt.Fprintf(tw, "run\t%s, %s\n", s.Dir, state)
	fmt.Fprintf(tw, "model\t%s on %s (%d parameters)\n", s.Model, s.Dataset, s.Params)
	fmt.Fprintf(tw, "epochs, steps\t%d, %d\n", s.Epochs, s.Steps)
	fmt.Fprintf(tw, "train loss, accuracy\t%.4f, %.2f%%\n", s.TrainLoss, 100*s.TrainAcc)
	if s.ValLoss != nil {
		fmt.Fprintf(tw, "validation loss, accuracy\t%.4f, %.2f%%\n", *s.ValLoss, 100**s.ValAcc)
	}
	fmt.Fprintf(tw, "test loss, accuracy\t%.4f, %.2f%%\n", s.TestLoss, 100*s.TestAcc)
	if sched := batchSchedule(s.Dir); sched != "" {
		fmt.Fprintf(tw, "batch sizes (ABSA)\t%s\n", sched)
	}
	fmt.Fprintf(tw, "training time\t%.1f s\n", s.Seconds)
	fmt.Fprintf(tw, "model file\t%s\n", s.ModelFile)
	fmt.Fprintf(tw, "metrics\t%s\n", s.MetricsCSV)
	tw.Flush()
}

// batchSchedule describes the batch sizes of an ABSA run's epochs, such as
// "128 (epochs 1-3), 256 (4-5)", or is "" for other runs.
func batchSchedule(dir string) string {
	ms, err := train.ReadMetrics(dir)
	if err != nil {
		return ""
	}
	var parts []string
	for i := 0; i < len(ms); {
		j := i
		for j+1 < len(ms) && ms[j+1].BatchSize == ms[i].BatchSize {
			j++
		}
		if ms[i].BatchSize == 0 {
			return ""
		}
		ep := fmt.Sprintf("%d-%d", ms[i].Epoch, ms[j].Epoch)
		if i == j {
			ep = fmt.Sprint(ms[i].Epoch)
		}
		if len(parts) == 0 {
			ep = "epochs " + ep
			if i == j {
				ep = "epoch " + ep[len("epochs "):]
			}
		}
		parts = append(parts, fmt.Sprintf("%d (%s)", ms[i].BatchSize, ep))
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
