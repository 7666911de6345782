package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"hesscope/dist"
	"hesscope/experiment"
	"hesscope/report"
	"hesscope/train"
)

func init() {
	commands = append(commands, &command{
		name:        "sweep",
		usage:       "-out DIR [-preset NAME | -model NAME -dataset NAME -batch-sizes B1,B2,… ] [flags]",
		short:       "batch-size study: train, measure Hessians and robustness, write the report",
		distributed: true,
		long: `
Sweep reproduces the study of Yao et al. (2018) on a model and dataset:
it trains the network at every batch size of -batch-sizes with -seeds seeds
(and with -robust also adversarially, with -absa also with the adaptive
batch-size schedule), then measures every trained network: train and test
accuracy, the top eigenvalues and the smallest eigenvalue of the parameter
Hessian on a fixed training subset (the same images for every run), its
trace and spectral density, the loss along the top eigenvector, the top
eigenvalue of the per-sample input Hessian, FGSM accuracy at the dataset's
standard radii, DeepFool's ρ_adv, and the definiteness of the input Hessian
along PGD trajectories. It finally writes results.json, results.csv, the
figures (PNG and SVG) and report.html — a self-contained page with the
paper's table, the five claims with their verdicts and the numbers behind
each, and the configuration.

Each claim's verdict is held, not held, inconclusive (the statistic's
interval straddles the threshold) or insufficient evidence (too few runs for
the statistic); the intervals are 95 % percentile bootstrap intervals over
seeds (10 000 resamples, seeded), the eigenvalues' residual bounds or exact
binomial bounds, and results.json holds every number behind them.

Each configuration is an independent unit of work in its own run folder
(-out/runs/NAME, the format of 'hesscope train'): -list prints the units,
-only INDEX runs one (train and measure, no summary), and -summarize only
reads the run folders and writes the results, so units can run on many
machines and one command collects them. A sweep is resumable: finished
units are skipped, interrupted ones resume from their last checkpoint.

-emit slurm writes OUT/sweep.json and, in OUT/slurm, array.sbatch (a job
array with one unit per task, -only $SLURM_ARRAY_TASK_ID, at most -parallel
at once, logs in OUT/slurm/logs/unit-INDEX.log, re-queued tasks resuming),
summary.sbatch (-summarize) and submit.sh, which submits the array and the
summary with --dependency=afterok on it; -submit runs sbatch itself and
prints the job ids. Cores, memory and time limit per unit are estimated from
the configuration (the model's FLOPs and activations per image, the dataset,
epochs and measurements; the time limit is twice the estimate plus ten
minutes) unless -cpus, -mem or -time set them; -sbatch adds #SBATCH options
such as --partition=NAME or --account=NAME. Build hesscope first and point
-binary at it when the jobs should not run this program.

Built with MPI (CC=mpicc go build -tags mpi) and started as several ranks
(mpirun, srun), sweep trains every unit it runs data-parallel and measures
its parameter Hessian on shards of the data (see 'hesscope help train');
rank 0 alone writes.

Presets: demo (lenet5 on MNIST, batch sizes 64 and 4096, a robust run,
one seed; about three minutes on 2 cores), repro-mnist and repro-fashion
(lenet5, batch sizes 64 to 4096, 3 seeds, normal and robust at every batch
size; about half an hour each on 2 idle cores), paper-mnist, paper-cifar10 (-model c1, c2 or
resnet18), paper-cifar100. Flags given after -preset override it.`,
		flags: sweepFlags,
	})
	commands = append(commands, &command{
		name:  "demo",
		usage: "[-out DIR]",
		short: "the paper's study at CPU scale on real MNIST (about three minutes)",
		long: `
Demo runs 'hesscope sweep -preset demo': LeNet-5 on MNIST at batch sizes
64 and 4096 and an FGSM-adversarially trained run at batch 4096, measures
the Hessian spectra and robustness of each, and ends by printing the table
of the paper's claims and the path of report.html. It resumes where it
stopped if run again with the same -out.

Its evidence is one seed per configuration: too little to tell an effect
from seed-to-seed variation, so its verdicts mostly read "insufficient
evidence". 'hesscope sweep -preset repro-mnist' is the multi-seed study
(about half an hour on 2 idle cores).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env) error {
			out := fs.String("out", "hesscope-demo", "sweep `folder`")
			quiet := fs.Bool("quiet", false, "no progress output")
			return func(ctx context.Context, e *env) error {
				s := presets["demo"]()
				return runSweep(ctx, e, s, &sweepCLI{out: *out, quiet: *quiet, only: -1})
			}
		},
	})
}

// presets are the sweeps of the paper's settings and of the demo. As in the
// paper, every batch size trains with the same learning rate and number of
// epochs (no linear scaling), so a larger batch takes fewer steps; the
// epochs and rates themselves are hesscope's choices.
var presets = map[string]func() *experiment.Sweep{
	"demo": func() *experiment.Sweep {
		return &experiment.Sweep{Model: "lenet5", Dataset: "mnist", BatchSizes: []int{64, 4096}, Seeds: 1,
			Train: train.Config{Epochs: 3, LR: 0.05, LRScaling: "none", Momentum: 0.9,
				TrackEvery: 1, TrackSamples: 500, TrackIters: 20},
			Robust: true, Adversary: "fgsm linf eps=0.1 ratio=0.5", RobustBatchSizes: []int{4096},
			Measure: experiment.MeasureConfig{HessianSamples: 500, TopK: 2, LanczosIters: 40, TraceProbes: 10, DensityProbes: 1, DensitySteps: 30,
				InputSamples: 50, AttackSamples: 500, DeepFoolSamples: 200, SaddleSamples: 5, SaddleSteps: 3, LandscapePoints: 15}}
	},
	// The reproduction presets: the demo's recipe (same learning rate and
	// epochs at every batch size) at four batch sizes with three seeds,
	// normal and FGSM-adversarial training at every batch size, so that
	// every claim has enough runs for its statistic (12 normal runs for the
	// rank correlations, 3 seed pairs per batch size for robust − normal).
	// The measurements use 1000 training images for the Hessian and 1000
	// test images for FGSM (the defaults), more than the demo. About 40 min
	// on 2 idle cores per dataset (24 units; README, Reproduction).
	"repro-mnist":   func() *experiment.Sweep { return repro("mnist") },
	"repro-fashion": func() *experiment.Sweep { return repro("fashion-mnist") },
	"paper-mnist": func() *experiment.Sweep {
		return &experiment.Sweep{Model: "lenet5", Dataset: "mnist", BatchSizes: []int{64, 256, 1024, 4096}, Seeds: 3,
			Train:  train.Config{Epochs: 20, LR: 0.05, LRScaling: "none", Momentum: 0.9, Schedule: "step", Milestones: []int{10, 15}, Gamma: 0.1, TrackEvery: 1},
			Robust: true, Adversary: "fgsm linf eps=0.1 ratio=0.5", ABSA: true}
	},
	"paper-cifar10": func() *experiment.Sweep {
		return &experiment.Sweep{Model: "c1", Dataset: "cifar10", BatchSizes: []int{128, 512, 2048, 8192}, Seeds: 3,
			Train:  train.Config{Epochs: 90, LR: 0.05, LRScaling: "none", Momentum: 0.9, WeightDecay: 5e-4, Schedule: "step", Milestones: []int{30, 60, 80}, Gamma: 0.1, TrackEvery: 5},
			Robust: true, Adversary: "fgsm linf eps=0.0078431 ratio=0.5", ABSA: true}
	},
	"paper-cifar100": func() *experiment.Sweep {
		return &experiment.Sweep{Model: "resnet18", Dataset: "cifar100", BatchSizes: []int{128, 512, 2048, 8192}, Seeds: 3,
			Train:  train.Config{Epochs: 90, LR: 0.05, LRScaling: "none", Momentum: 0.9, WeightDecay: 5e-4, Schedule: "step", Milestones: []int{30, 60, 80}, Gamma: 0.1, TrackEvery: 5},
			Robust: true, Adversary: "fgsm linf eps=0.0078431 ratio=0.5", ABSA: true}
	},
}

// repro is the reproduction preset on an MNIST-sized dataset.
func repro(dataset string) *experiment.Sweep {
	return &experiment.Sweep{Model: "lenet5", Dataset: dataset, BatchSizes: []int{64, 256, 1024, 4096}, Seeds: 3,
		Train: train.Config{Epochs: 3, LR: 0.05, LRScaling: "none", Momentum: 0.9,
			TrackEvery: 1, TrackSamples: 500, TrackIters: 20},
		Robust: true, Adversary: "fgsm linf eps=0.1 ratio=0.5",
		Measure: experiment.MeasureConfig{HessianSamples: 1000, TopK: 2, LanczosIters: 40, TraceProbes: 10, DensityProbes: 1, DensitySteps: 30,
			InputSamples: 100, AttackSamples: 1000, DeepFoolSamples: 500, SaddleSamples: 10, SaddleSteps: 5, LandscapePoints: 21}}
}

type sweepCLI struct {
	out             string
	list, summarize bool
	only            int
	quiet, json     bool

	// -emit slurm and its settings.
	emit, binary, timeLimit string
	submit                  bool
	parallel, cpus, memMB   int
	sbatch                  listFlag
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func sweepFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	c := &sweepCLI{}
	var (
		preset, configFile, model, dataset, batchSizes, robustBatches, adversary, schedule, fgsmEps, precision string
		seeds, epochs, microBatch, trainSamples, trackEvery, hessianSamples, topK, inputSamples, attackSamples int
		lr, momentum, weightDecay, warmup                                                                      float64
		baseBatch                                                                                              int
		lrScaling                                                                                              string
		robust, absa, full                                                                                     bool
	)
	fs.StringVar(&c.out, "out", "", "sweep `folder` (required)")
	fs.StringVar(&preset, "preset", "", "start from a preset: demo, repro-mnist, repro-fashion, paper-mnist, paper-cifar10, paper-cifar100")
	fs.StringVar(&configFile, "config", "", "start from the sweep configuration in `file` (the JSON of a sweep.json)")
	fs.StringVar(&model, "model", "", "model `name`")
	fs.StringVar(&dataset, "dataset", "", "dataset `name`")
	fs.StringVar(&batchSizes, "batch-sizes", "", "comma-separated batch `sizes`, each once, e.g. 128,512,2048")
	fs.IntVar(&seeds, "seeds", 0, "seeds per configuration (seeds 1…N)")
	fs.IntVar(&epochs, "epochs", 0, "epochs of every run")
	fs.Float64Var(&lr, "lr", 0, "learning `rate` at -base-batch")
	fs.IntVar(&baseBatch, "base-batch", 0, "the batch size -lr refers to")
	fs.StringVar(&lrScaling, "lr-scaling", "", "the learning-rate rule across batch sizes: linear (lr·B/base-batch) or none")
	fs.Float64Var(&momentum, "momentum", -1, "SGD momentum")
	fs.Float64Var(&weightDecay, "weight-decay", -1, "weight decay")
	fs.Float64Var(&warmup, "warmup", -1, "linear warm-up `epochs`")
	fs.StringVar(&schedule, "schedule", "", "learning-rate schedule: constant, step or cosine")
	fs.IntVar(&microBatch, "micro-batch", 0, "most images per forward/backward pass")
	fs.IntVar(&trainSamples, "train-samples", -1, "train on the first `N` training images (0: all)")
	fs.IntVar(&trackEvery, "track-every", -1, "track the top eigenvalue every `N` epochs while training (0: never)")
	fs.BoolVar(&robust, "robust", false, "add adversarially trained runs")
	fs.StringVar(&adversary, "adversary", "", "with -robust: adversarial training `spec` with its radius eps= and fraction ratio= (train's -adv checks), e.g. \"fgsm linf eps=0.1 ratio=0.5\" (the default)")
	fs.StringVar(&robustBatches, "robust-batch-sizes", "", "with -robust: batch sizes of the robust runs, each once (default: all of -batch-sizes)")
	fs.BoolVar(&absa, "absa", false, "add runs with the adaptive batch-size schedule (ABSA)")
	fs.IntVar(&hessianSamples, "hessian-samples", 0, "training images of the parameter Hessian (a fixed subset)")
	fs.BoolVar(&full, "full-hessian", false, "also compute λ₁ over the whole training set")
	fs.IntVar(&topK, "top-k", 0, "number of top eigenvalues")
	fs.IntVar(&inputSamples, "input-samples", 0, "test images of the per-sample input Hessian")
	fs.IntVar(&attackSamples, "attack-samples", 0, "test images attacked")
	fs.StringVar(&fgsmEps, "fgsm-eps", "", "FGSM radii in (0, 1] (default: the dataset's standard ones)")
	fs.StringVar(&precision, "precision", "", "float32 or float64")
	fs.BoolVar(&c.list, "list", false, "list the units of work and stop")
	fs.IntVar(&c.only, "only", -1, "run only the unit with this `index` (see -list), without the summary")
	fs.BoolVar(&c.summarize, "summarize", false, "only collect the measured runs into results and the report")
	fs.BoolVar(&c.json, "json", false, "print the results as JSON (or, with -list, the units)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress output")
	fs.StringVar(&c.emit, "emit", "", "write the scripts of a scheduler instead of running: slurm (OUT/slurm/array.sbatch, summary.sbatch, submit.sh)")
	fs.BoolVar(&c.submit, "submit", false, "with -emit slurm: submit the array and its summary with sbatch and print the job ids")
	fs.Var(&c.sbatch, "sbatch", "with -emit slurm: an extra #SBATCH `option` such as --partition=cpu (repeatable)")
	fs.IntVar(&c.parallel, "parallel", 0, "with -emit slurm: most units running at once (0: no limit)")
	fs.IntVar(&c.cpus, "cpus", 0, "with -emit slurm: cores per unit, at most 4096 (default: estimated from the configuration)")
	fs.IntVar(&c.memMB, "mem", 0, "with -emit slurm: memory per unit in `MiB`, at most 64 TiB (default: estimated)")
	fs.StringVar(&c.timeLimit, "time", "", "with -emit slurm: time limit per unit, e.g. 2h30m (default: estimated)")
	fs.StringVar(&c.binary, "binary", "", "with -emit slurm: the hesscope `program` the jobs run (default: this one)")
	return func(ctx context.Context, e *env) error {
		if c.out == "" {
			return usagef("-out is required (the sweep folder)")
		}
		set := givenFlags(fs)
		if c.emit == "" {
			for _, name := range []string{"submit", "sbatch", "parallel", "cpus", "mem", "time", "binary"} {
				if set[name] {
					return usagef("-%s: only with -emit slurm", name)
				}
			}
		}
		switch {
		case c.summarize && (c.list || set["only"]):
			return usagef("-summarize with -list or -only: give one")
		}
		// Zeros these flags' help does not give a meaning (the sweep's
		// JSON takes 0 as the default).
		for _, f := range []struct {
			name string
			v    int
		}{{"micro-batch", microBatch}, {"base-batch", baseBatch}, {"hessian-samples", hessianSamples}, {"top-k", topK},
			{"input-samples", inputSamples}, {"attack-samples", attackSamples}} {
			if set[f.name] && f.v < 1 {
				return usagef("-%s %d: want at least 1", f.name, f.v)
			}
		}
		var s *experiment.Sweep
		// source names where the settings not given by flags come from.
		source := ""
		switch {
		case preset != "" && configFile != "":
			return usagef("-preset and -config: give one")
		case configFile != "":
			var err error
			if s, err = experiment.ReadSweepFile(configFile); err != nil {
				return usagef("-config: %v", err)
			}
			source = "-config " + configFile
		case preset != "":
			p, ok := presets[preset]
			if !ok {
				names := make([]string, 0, len(presets))
				for n := range presets {
					names = append(names, n)
				}
				sort.Strings(names)
				return usagef("-preset %q: want one of %s", preset, strings.Join(names, ", "))
			}
			s = p()
			source = "-preset " + preset
		default:
			prev, err := experiment.ReadSweep(c.out)
			switch {
			case err == nil:
				s = prev // an existing sweep: -list, -only, -summarize or resume
				source = filepath.Join(c.out, experiment.SweepFile)
			case !errors.Is(err, os.ErrNotExist):
				return usagef("-out: %v", err)
			case c.summarize:
				return usagef("-summarize: no sweep in %s (no %s there)", c.out, experiment.SweepFile)
			default:
				s = &experiment.Sweep{Seeds: 1, Train: train.Config{Epochs: 1, LR: 0.05, LRScaling: "none", Momentum: 0.9}}
			}
		}
		if set["model"] {
			s.Model = model
		}
		if set["dataset"] {
			s.Dataset = dataset
		}
		if set["batch-sizes"] {
			b, err := experiment.ParseInts(batchSizes)
			if err != nil {
				return usagef("-batch-sizes: %v", err)
			}
			s.BatchSizes = b
		}
		if set["robust-batch-sizes"] {
			b, err := experiment.ParseInts(robustBatches)
			if err != nil {
				return usagef("-robust-batch-sizes: %v", err)
			}
			s.RobustBatchSizes = b
		}
		setInt := func(name string, dst *int, v int) {
			if set[name] {
				*dst = v
			}
		}
		setFloat := func(name string, dst *float64, v float64) {
			if set[name] {
				*dst = v
			}
		}
		setInt("seeds", &s.Seeds, seeds)
		setInt("epochs", &s.Train.Epochs, epochs)
		setInt("base-batch", &s.Train.BaseBatch, baseBatch)
		setInt("micro-batch", &s.Train.MicroBatch, microBatch)
		setInt("train-samples", &s.Train.TrainSamples, trainSamples)
		setInt("track-every", &s.Train.TrackEvery, trackEvery)
		setInt("hessian-samples", &s.Measure.HessianSamples, hessianSamples)
		setInt("top-k", &s.Measure.TopK, topK)
		setInt("input-samples", &s.Measure.InputSamples, inputSamples)
		setInt("attack-samples", &s.Measure.AttackSamples, attackSamples)
		setFloat("lr", &s.Train.LR, lr)
		setFloat("momentum", &s.Train.Momentum, momentum)
		setFloat("weight-decay", &s.Train.WeightDecay, weightDecay)
		setFloat("warmup", &s.Train.WarmupEpochs, warmup)
		if set["lr-scaling"] {
			s.Train.LRScaling = lrScaling
		}
		if set["schedule"] {
			s.Train.Schedule = schedule
		}
		if set["precision"] {
			s.Precision = precision
		}
		if set["robust"] {
			s.Robust = robust
			if !robust {
				s.Adversary, s.RobustBatchSizes = "", nil
			}
		}
		if set["adversary"] {
			s.Adversary = adversary
		}
		for _, f := range []string{"adversary", "robust-batch-sizes"} {
			if set[f] && !s.Robust {
				return usagef("-%s: only with -robust (the settings of the adversarially trained runs)", f)
			}
		}
		if s.Robust && s.Adversary == "" {
			s.Adversary = "fgsm linf eps=0.1 ratio=0.5"
		}
		if set["absa"] {
			s.ABSA = absa
		}
		if set["full-hessian"] {
			s.Measure.FullHessian = full
		}
		if set["fgsm-eps"] {
			v, err := experiment.ParseFloats(fgsmEps)
			if err != nil {
				return usagef("-fgsm-eps: %v", err)
			}
			s.Measure.FGSMEps = v
		}
		if s.Model == "" || s.Dataset == "" {
			return usagef("-model and -dataset are required without -preset")
		}
		if err := s.Validate(); err != nil {
			return sweepSettingError(err, set, source)
		}
		if err := checkSweepLimits(s); err != nil {
			return sweepSettingError(err, set, source)
		}
		return runSweep(ctx, e, s, c)
	}
}

// sweepFlagOf is the flag of each field of a sweep's JSON that has one.
var sweepFlagOf = map[string]string{
	"model": "model", "dataset": "dataset", "batch_sizes": "batch-sizes", "robust_batch_sizes": "robust-batch-sizes",
	"seeds": "seeds", "adversary": "adversary", "train.epochs": "epochs", "train.lr": "lr", "train.micro_batch": "micro-batch",
	"train.base_batch": "base-batch", "measure.hessian_samples": "hessian-samples", "measure.top_k": "top-k",
	"measure.input_samples": "input-samples", "measure.attack_samples": "attack-samples", "measure.fgsm_eps": "fgsm-eps",
}

// sweepSettingError is the usage error of a refused setting of the sweep:
// it names the flag that set it, or else where it came from (source: the
// -config file, the preset or the folder's sweep.json) and its field.
func sweepSettingError(err error, set map[string]bool, source string) error {
	var fe *experiment.FieldError
	if !errors.As(err, &fe) {
		return usagef("%v", err)
	}
	if f := sweepFlagOf[fe.Field]; set[f] {
		return usagef("-%s %s: %s", f, fe.Value, fe.Want)
	}
	if source != "" {
		return usagef("%s: %v", source, fe)
	}
	return usagef("%v", fe)
}

// maxLandscapeRange bounds measure.landscape_range, the largest step along
// the unit top eigenvector: far beyond any local picture of the loss, and
// steps of 1e300 overflow the weights (the losses are NaN).
const maxLandscapeRange = 1000

// checkSweepLimits applies the standalone commands' upper bounds (limits.go)
// to the sweep's measurements and adversary, with their defaults filled in,
// as *experiment.FieldError.
func checkSweepLimits(s *experiment.Sweep) error {
	m := s.Measure.WithDefaults(s.Dataset)
	bad := func(field string, v any, format string, args ...any) error {
		return &experiment.FieldError{Field: field, Value: fmt.Sprint(v), Want: fmt.Sprintf(format, args...)}
	}
	switch {
	case m.LandscapePoints > maxPoints:
		return bad("measure.landscape_points", m.LandscapePoints, "want 2 to %d (as landscape's -points)", maxPoints)
	case m.LandscapeRange > maxLandscapeRange:
		return bad("measure.landscape_range", m.LandscapeRange, "want at most %d (a step along the unit top eigenvector)", maxLandscapeRange)
	case m.SaddleSteps > maxSaddleSteps:
		return bad("measure.saddle_steps", m.SaddleSteps, "want 1 to %d (as saddle-check's -steps: every iterate is kept and gets two Lanczos runs)", maxSaddleSteps)
	case m.TraceProbes > maxProducts:
		return bad("measure.trace_probes", m.TraceProbes, "want at most %d Hessian-vector products (as spectrum's -trace-matvecs)", maxProducts)
	case m.DensityProbes > 0 && (m.DensitySteps > maxProducts || m.DensityProbes > maxProducts/m.DensitySteps):
		return bad("measure.density_probes", m.DensityProbes, "× density_steps %d: want at most %d Hessian-vector products (as spectrum's)", m.DensitySteps, maxProducts)
	}
	if s.Robust {
		if t, err := experiment.ParseAdversary(s.Adversary, s.Dataset); err == nil && t.Config.Steps > maxIterations {
			return bad("adversary", strconv.Quote(s.Adversary), "steps=%d: want at most %d (as attack's -steps)", t.Config.Steps, maxIterations)
		}
	}
	return nil
}

// checkSweepMemory refuses a sweep whose units' passes cannot fit
// (checkTrainMemory), before anything is written: the largest training
// steps and Hessian-vector products of the units to run, the latter at
// least the measurements' over experiment.HessianBatch images. keep
// reports whether a kept pass per chunk of the measurements' parameter
// Hessian and of the curvature tracking fits too
// (experiment.UnitOptions.KeepPasses).
func checkSweepMemory(s *experiment.Sweep, units []experiment.Unit, only int) (keep bool, err error) {
	step, hvp, track := 0, experiment.HessianBatch, 0
	var c train.Config
	for _, u := range units {
		if only >= 0 && u.Index != only {
			continue
		}
		c = s.TrainConfig(u, "")
		st, h := trainPassImages(c)
		step, hvp = max(step, st), max(hvp, h)
		track = max(track, trainHVPChunks(c, h))
	}
	if err := checkTrainMemory(c, step, hvp, "-micro-batch, or -precision float32"); err != nil {
		return false, err
	}
	// Every chunk's pass kept (UnitOptions.KeepPasses) where one per chunk
	// of the measurements' parameter Hessian and of the tracking fits.
	m := s.Measure.WithDefaults(s.Dataset)
	chunks := max(track, (m.HessianSamples+experiment.HessianBatch-1)/experiment.HessianBatch)
	return keepTrainChunks(c, step, hvp, chunks), nil
}

func runSweep(ctx context.Context, e *env, s *experiment.Sweep, c *sweepCLI) error {
	start := time.Now()
	if err := s.Validate(); err != nil {
		return err
	}
	for _, f := range []string{train.ConfigFile, train.StateFile} {
		if _, err := os.Stat(filepath.Join(c.out, f)); err == nil {
			return usagef("-out %s holds a training run (%s): a sweep's files would mix with its own; choose another folder", c.out, f)
		}
	}
	units := s.Units()
	// On several ranks (an MPI build under mpirun or srun) every unit is
	// trained data-parallel and measured on shards; rank 0 alone writes
	// the sweep's own files.
	root := dist.IsRoot(e.comm)
	if c.emit != "" {
		if !root {
			return nil
		}
		return emitSweep(e, s, c)
	}
	if c.list {
		if c.json {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(units)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "index\tname\tstatus\tfolder")
		for _, u := range units {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", u.Index, u.Name, unitStatus(filepath.Join(c.out, u.Dir)), filepath.Join(c.out, u.Dir))
		}
		return tw.Flush()
	}
	keep := false // every chunk's pass kept (checkSweepMemory)
	if !c.summarize {
		// Checked before anything is written.
		if c.only < -1 || c.only >= len(units) {
			return usagef("-only %d: the sweep has units 0 to %d (see -list)", c.only, len(units)-1)
		}
		var err error
		if keep, err = checkSweepMemory(s, units, c.only); err != nil {
			return err
		}
	}
	if root {
		if err := experiment.WriteSweep(c.out, s); err != nil {
			return err
		}
	}
	var prog io.Writer = e.stderr
	if c.quiet {
		prog = nil
	}
	if !c.summarize {
		for _, u := range units {
			if c.only >= 0 && u.Index != c.only {
				continue
			}
			if err := experiment.RunUnit(ctx, s, c.out, u, experiment.UnitOptions{Progress: prog, Version: version, Comm: e.comm, KeepPasses: keep}); err != nil {
				return err
			}
		}
		if c.only >= 0 {
			fmt.Fprintf(e.stdout, "unit %d (%s) done in %s\n", c.only, units[c.only].Name, time.Since(start).Round(time.Second))
			return nil
		}
	}
	if !root {
		return nil
	}
	res, missing, err := experiment.Summarize(c.out, version)
	if err != nil {
		return err
	}
	if c.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printClaims(e.stdout, res)
	if len(missing) > 0 {
		fmt.Fprintf(e.stdout, "\nnot yet measured: %s\n", strings.Join(missing, ", "))
	}
	fmt.Fprintf(e.stdout, "\nreport: %s\nresults: %s, %s\nwall time: %s\n", filepath.Join(c.out, "report.html"),
		filepath.Join(c.out, "results.json"), filepath.Join(c.out, "results.csv"), time.Since(start).Round(time.Second))
	return nil
}

func unitStatus(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, experiment.MeasureFile)); err == nil {
		return "measured"
	}
	if _, err := os.Stat(filepath.Join(dir, train.FinalFile)); err == nil {
		return "trained"
	}
	if _, err := os.Stat(filepath.Join(dir, train.StateFile)); err == nil {
		return "started"
	}
	return "to do"
}

func printClaims(w io.Writer, r *report.Results) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "training\tbatch\ttest acc %\tλ₁(θ)\tλ_min(θ)\tλ₁(x)\tρ_adv\tFGSM acc % (ε)")
	// pm is a mean, with ± the standard deviation over seeds when there
	// are several.
	pm := func(s report.Stat, scale float64, format string) string {
		if s.N > 1 {
			return fmt.Sprintf(format+" ± %.2g", scale*s.Mean, scale*s.Std)
		}
		return fmt.Sprintf(format, scale*s.Mean)
	}
	for _, g := range r.Groups {
		var fg []string
		for _, f := range g.FGSM {
			fg = append(fg, fmt.Sprintf("%s (%g)", pm(f.Accuracy, 100, "%.1f"), f.Eps))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Kind, g.BatchSize, pm(g.TestAccuracy, 100, "%.2f"), pm(g.TopEigenvalue, 1, "%.4g"),
			pm(g.MinEigenvalue, 1, "%.3g"), pm(g.InputTopEigenvalue, 1, "%.4g"), pm(g.RhoAdv, 1, "%.3g"), strings.Join(fg, " "))
	}
	tw.Flush()
	fmt.Fprintln(w)
	u := r.Uncertainty
	seeds := fmt.Sprint(u.SeedsMax)
	if u.SeedsMin != u.SeedsMax {
		seeds = fmt.Sprintf("%d to %d", u.SeedsMin, u.SeedsMax)
	}
	fmt.Fprintf(w, "evidence: %d runs, %s seed(s) per configuration; intervals: %g %% %s (%d resamples, seed %d)\n",
		len(r.Runs), seeds, 100*u.Level, u.Method, u.Resamples, u.Seed)
	if u.SeedsMax == 1 {
		fmt.Fprintln(w, "one seed per configuration: too few runs to separate an effect from seed-to-seed variation (see the README's reproduction)")
	}
	for _, c := range r.Claims {
		fmt.Fprintf(w, "\nclaim %d: %s\n  %s\n", c.ID, c.Text, strings.ToUpper(c.Verdict))
		for _, st := range c.Statistics {
			fmt.Fprintf(w, "  - %s\n", st)
		}
	}
}

// Bounds of -cpus and -mem: one unit runs on one node.
const (
	maxUnitCPUs  = 4096
	maxUnitMemMB = 64 << 20
)

// emitSweep writes (and with -submit submits) the sweep's Slurm scripts.
func emitSweep(e *env, s *experiment.Sweep, c *sweepCLI) error {
	if c.emit != "slurm" {
		return usagef("-emit %q: want slurm", c.emit)
	}
	if c.only >= 0 || c.list || c.summarize {
		return usagef("-emit cannot be combined with -only, -list or -summarize")
	}
	if c.parallel < 0 || c.cpus < 0 || c.memMB < 0 {
		return usagef("-parallel, -cpus and -mem: want 0 (default) or more")
	}
	if err := atMost("-cpus", c.cpus, maxUnitCPUs, "cores of one node"); err != nil {
		return err
	}
	if err := atMost("-mem", c.memMB, maxUnitMemMB, "64 TiB in MiB: one unit runs on one node"); err != nil {
		return err
	}
	out, err := filepath.Abs(c.out)
	if err != nil {
		return err
	}
	bin := c.binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("sweep: -binary: cannot find this program (%v); name it with -binary", err)
		}
		if strings.Contains(bin, "go-build") {
			fmt.Fprintf(e.stderr, "warning: %s is a temporary 'go run' binary that will be gone when the jobs start; build hesscope and pass -binary\n", bin)
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	r, err := s.Estimate()
	if err != nil {
		return err
	}
	if c.cpus > 0 {
		r.CPUs = c.cpus
	}
	if c.memMB > 0 {
		r.MemoryMB = c.memMB
	}
	if c.timeLimit != "" {
		d, err := time.ParseDuration(c.timeLimit)
		if err != nil || d < time.Minute {
			return usagef("-time %q: want a duration of at least a minute, such as 90m or 12h", c.timeLimit)
		}
		r.Seconds = d.Seconds()
	}
	opts := experiment.SlurmOptions{Binary: bin, Parallel: c.parallel, Resources: r, Extra: c.sbatch}
	// The scripts' options checked before anything is written.
	if _, _, err := experiment.SlurmScripts(s, out, opts); err != nil {
		return usagef("%v", err)
	}
	if err := experiment.WriteSweep(out, s); err != nil {
		return err
	}
	paths, err := experiment.WriteSlurm(s, out, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d units, each %d cores, %d MiB, time limit %s (estimated %s)\n", len(s.Units()), r.CPUs, r.MemoryMB,
		(time.Duration(r.Seconds) * time.Second).Round(time.Minute), (time.Duration(r.Estimate) * time.Second).Round(time.Minute))
	fmt.Fprintf(e.stdout, "wrote %s\n", strings.Join(paths, ", "))
	if !c.submit {
		fmt.Fprintf(e.stdout, "submit with: sh %s\n", paths[2])
		return nil
	}
	sbatch := func(args ...string) (string, error) {
		cmd := exec.Command("sbatch", append([]string{"--parsable"}, args...)...)
		cmd.Stderr = e.stderr
		b, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("sweep: -submit: sbatch %s: %w", strings.Join(args, " "), err)
		}
		id, _, _ := strings.Cut(strings.TrimSpace(string(b)), ";")
		return id, nil
	}
	array, err := sbatch(paths[0])
	if err != nil {
		return err
	}
	summary, err := sbatch("--dependency=afterok:"+array, paths[1])
	if err != nil {
		return fmt.Errorf("%w (the array job %s was submitted)", err, array)
	}
	fmt.Fprintf(e.stdout, "array job %s, summary job %s\nwatch: squeue -j %s,%s   logs: %s   progress: hesscope sweep -out %s -list\n",
		array, summary, array, summary, filepath.Join(out, experiment.SlurmDir, "logs"), out)
	return nil
}
