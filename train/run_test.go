package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"hesscope/data"
	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// TestAccumulation checks that a batch processed in k micro-batches gives
// the update of the whole batch at once, for models without BatchNorm, in
// float64: two steps of 60 images with momentum and weight decay, as 1, 4
// (uneven: 15 each) and 7 (8 or 9 each) micro-batches.
func TestAccumulation(t *testing.T) {
	train, test := mnistLike(120, 1), mnistLike(20, 2)
	for _, model := range []string{"mlp", "lenet5"} {
		var ref, start []float64
		for _, micro := range []int{60, 15, 9} {
			dir := t.TempDir()
			cfg := Config{Model: model, Dataset: "synthetic", Precision: "float64", BatchSize: 60, MicroBatch: micro,
				LR: 0.1, Momentum: 0.9, WeightDecay: 1e-3, Out: dir}
			if _, err := Run(context.Background(), cfg, Options{Train: train, Test: test}); err != nil {
				t.Fatal(err)
			}
			f := readState(t, dir)
			var w []float64
			for _, name := range f.Names() {
				if strings.HasPrefix(name, "param.") {
					w = append(w, values(f.Tensors[name])...)
				}
			}
			if ref == nil {
				ref = w
				net, _ := models.New[float64](model, models.Config{Seed: 1})
				for _, p := range net.Params() {
					start = append(start, p.Value.Data...)
				}
				// The parameters are stored sorted by name; so sort the
				// initial values the same way.
				start = sortedLike(net.Params(), start)
				continue
			}
			var maxDiff, update float64
			for i := range w {
				maxDiff = max(maxDiff, math.Abs(w[i]-ref[i]))
				update = max(update, math.Abs(ref[i]-start[i]))
			}
			t.Logf("%s: %d micro-batches of ≤%d: max |Δθ| %.3g vs the whole batch (largest update %.3g)", model, (60+micro-1)/micro, micro, maxDiff, update)
			if update == 0 || maxDiff > 1e-12*update {
				t.Errorf("%s, micro-batch %d: weights differ by %.3g from the whole batch's (update %.3g)", model, micro, maxDiff, update)
			}
		}
	}
}

// sortedLike reorders flat values of params (in model order) into the
// order of their names.
func sortedLike[T tensor.Float](params []*nn.Param[T], flat []float64) []float64 {
	type block struct {
		name string
		v    []float64
	}
	var bs []block
	off := 0
	for _, p := range params {
		bs = append(bs, block{"param." + p.Name, flat[off : off+p.Value.Len()]})
		off += p.Value.Len()
	}
	slices.SortFunc(bs, func(a, b block) int { return strings.Compare(a.name, b.name) })
	var out []float64
	for _, b := range bs {
		out = append(out, b.v...)
	}
	return out
}

// resumeConfig is a small run that exercises everything a checkpoint must
// restore: momentum, a cosine schedule with warm-up, augmentation,
// normalisation, a validation split, curvature tracking and mid-epoch
// checkpoints.
func resumeConfig(dir string) (Config, Options) {
	on := true
	cfg := Config{Model: "mlp", Dataset: "synthetic", Epochs: 2, BatchSize: 8, MicroBatch: 3,
		LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, Schedule: "cosine", WarmupSteps: 3,
		Augment: &on, Normalize: true, ValFraction: 0.2, TrackEvery: 2, TrackSamples: 8, TrackIters: 3, TrackTrace: true, TrackProbes: 2,
		CheckpointEvery: 3, Out: dir, Seed: 5}
	return cfg, Options{Train: mnistLike(40, 3), Test: mnistLike(12, 4), Version: "test"}
}

// TestResumeAfterAnyWrite simulates a kill before each write of a run (and a
// torn metrics line after it), resumes, and checks that the final weights,
// momentum buffers, model file and metrics equal the uninterrupted run's bit
// for bit, with no epoch duplicated.
func TestResumeAfterAnyWrite(t *testing.T) {
	refDir := t.TempDir()
	var writes []string
	writeHook = func(path string) error { writes = append(writes, filepath.Base(path)); return nil }
	defer func() { writeHook = nil }()
	cfg, opt := resumeConfig(refDir)
	sum, err := Run(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Epochs != 2 || sum.Steps != 8 || !(sum.TestAcc >= 0) {
		t.Fatalf("summary %+v: want 2 epochs of 4 steps", sum)
	}
	t.Logf("%d writes: %v", len(writes), writes)
	refState := readState(t, refDir)
	refModel, _ := os.ReadFile(filepath.Join(refDir, ModelFile))
	refMetrics, refCSV := metricsWithoutTime(t, refDir)
	if len(refMetrics) != 2 || refMetrics[1].TopEigenvalue == nil || refMetrics[1].Trace == nil || refMetrics[0].TopEigenvalue != nil || refMetrics[0].ValAcc == nil {
		t.Fatalf("metrics %+v: want 2 epochs, curvature in epoch 2, validation in both", refMetrics)
	}

	errKill := errors.New("killed")
	cases := len(writes)
	if testing.Short() {
		cases = min(cases, 8)
	}
	for k := range cases {
		dir := t.TempDir()
		n := 0
		writeHook = func(string) error {
			if n == k {
				return errKill
			}
			n++
			return nil
		}
		cfg, opt := resumeConfig(dir)
		if _, err := Run(context.Background(), cfg, opt); !errors.Is(err, errKill) {
			t.Fatalf("kill before write %d (%s): Run returned %v", k+1, writes[k], err)
		}
		// A kill in the middle of appending a metrics line leaves part of it.
		for _, f := range []string{MetricsJSONLFile, MetricsCSVFile} {
			if fh, err := os.OpenFile(filepath.Join(dir, f), os.O_APPEND|os.O_WRONLY, 0); err == nil {
				fh.WriteString(`{"epoch":9,"tor`)
				fh.Close()
			}
		}
		writeHook = nil
		cfg.Resume = true
		sum, err := Run(context.Background(), cfg, opt)
		if err != nil {
			t.Fatalf("resume after a kill before write %d (%s): %v", k+1, writes[k], err)
		}
		if sum.Epochs != 2 || sum.Steps != 8 {
			t.Fatalf("resume after write %d: summary %+v", k+1, sum)
		}
		if name := sameBits(readState(t, dir), refState); name != "" {
			t.Errorf("kill before write %d (%s): resumed checkpoint differs from the uninterrupted run's in %s", k+1, writes[k], name)
		}
		model, _ := os.ReadFile(filepath.Join(dir, ModelFile))
		if string(model) != string(refModel) {
			t.Errorf("kill before write %d (%s): model.safetensors differs from the uninterrupted run's", k+1, writes[k])
		}
		ms, csv := metricsWithoutTime(t, dir)
		if !reflect.DeepEqual(ms, refMetrics) {
			t.Errorf("kill before write %d (%s): metrics.jsonl\n%+v\nwant\n%+v", k+1, writes[k], ms, refMetrics)
		}
		if !reflect.DeepEqual(csv, refCSV) {
			t.Errorf("kill before write %d (%s): metrics.csv\n%q\nwant\n%q", k+1, writes[k], csv, refCSV)
		}
	}

	// Resuming a finished run does nothing.
	cfg.Resume = true
	sum, err = Run(context.Background(), cfg, opt)
	if err != nil || !sum.AlreadyDone {
		t.Fatalf("resuming a finished run: %+v, %v; want AlreadyDone", sum, err)
	}
}

// TestInterrupt cancels a run in the middle of an epoch, while a batch is
// perturbed (as Ctrl-C during an adversarial attack): it writes a checkpoint
// there, and resuming ends where an uninterrupted run does.
func TestInterrupt(t *testing.T) {
	refDir, dir := t.TempDir(), t.TempDir()
	cfg, opt := resumeConfig(refDir)
	cfg.CheckpointEvery = 0
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	perturb := PerturbFunc[float32](func(c context.Context, _ *models.Net[float32], x *tensor.Dense[float32], _ []int, _ *rand.Rand) *tensor.Dense[float32] {
		if n++; n == 11 { // in the middle of step 4 (3 micro-batches each)
			cancel()
			if c.Err() == nil {
				t.Error("the perturbation's context is not the run's: an attack could not stop on it")
			}
		}
		return x
	})
	cfg.Out = dir
	cfg.Perturb = "identity, cancels"
	opt.Perturb = perturb
	if _, err := Run(ctx, cfg, opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	f := readState(t, dir)
	if !strings.Contains(f.Metadata[stateKey], `"step":3,`) {
		t.Errorf("checkpoint after the interrupt: %s; want step 3", f.Metadata[stateKey])
	}
	cfg.Resume = true
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	if name := sameBits(readState(t, dir), readState(t, refDir)); name != "" {
		t.Errorf("interrupted and resumed run differs from the uninterrupted one in %s", name)
	}
}

// TestNonFinite makes the loss diverge with a learning rate that grows at
// every step (a warm-up over the whole run to a huge rate: s + 1 at step
// s): the run stops with an error naming the epoch and step, and the last
// checkpoint still loads.
func TestNonFinite(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Model: "mlp", Dataset: "synthetic", Epochs: 1, BatchSize: 4, LR: 100, WarmupSteps: 100,
		CheckpointEvery: 1, Out: dir}
	_, err := Run(context.Background(), cfg, Options{Train: mnistLike(400, 1), Test: mnistLike(8, 2)})
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("Run returned %v, want a NonFiniteError", err)
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.Contains(msg, fmt.Sprintf("at epoch 1, step %d ", nf.Step)) || strings.Contains(msg, "\n") || nf.Step < 2 {
		t.Errorf("message %q: want one line naming epoch 1 and a step after the first", msg)
	}
	if !strings.Contains(msg, fmt.Sprintf("after step %d", nf.Step-1)) {
		t.Errorf("message %q: want the last good checkpoint, after step %d", msg, nf.Step-1)
	}
	net, _ := models.New[float32]("mlp", models.Config{})
	st, err := loadState(filepath.Join(dir, StateFile), net, &SGD[float32]{})
	if err != nil {
		t.Fatalf("last checkpoint: %v", err)
	}
	if st.Step != nf.Step-1 {
		t.Errorf("last checkpoint at step %d, want %d", st.Step, nf.Step-1)
	}
}

// TestRunFolder checks the rules of the run folder.
func TestRunFolder(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Model: "mlp", Dataset: "synthetic", BatchSize: 16, Out: dir}
	opt := Options{Train: mnistLike(32, 1), Test: mnistLike(8, 2)}
	sum, err := Run(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ConfigFile, MetricsJSONLFile, MetricsCSVFile, StateFile, ModelFile, FinalFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	if sum.Steps != 2 || sum.Epochs != 1 {
		t.Errorf("summary %+v", sum)
	}
	info, err := ReadRunInfo(dir)
	if err != nil || info.BatchNorm != BatchNormSemantics || info.Config.LR != 0.05 || info.Threads < 1 || info.StepsPerEpoch != 2 {
		t.Errorf("config.json: %+v, %v", info, err)
	}
	if _, err := Run(context.Background(), cfg, opt); err == nil || !strings.Contains(err.Error(), "already holds a run") {
		t.Errorf("second run into the same folder: %v, want an error", err)
	}
	cfg.Resume, cfg.LR = true, 0.1
	if _, err := Run(context.Background(), cfg, opt); err == nil || !strings.Contains(err.Error(), "lr") {
		t.Errorf("resume with another lr: %v, want an error naming lr", err)
	}
	cfg.LR = 0
	cfg.Perturb = "x"
	if _, err := Run(context.Background(), cfg, opt); err == nil {
		t.Errorf("Config.Perturb without Options.Perturb: no error")
	}
	cfg.Perturb = ""
	opt.Perturb = PerturbFunc[float64](nil)
	cfg.Perturb = "wrong precision"
	if _, err := Run(context.Background(), cfg, opt); err == nil || !strings.Contains(err.Error(), "PerturbFunc[float32]") {
		t.Errorf("a float64 perturbation for a float32 run: %v", err)
	}
}

// TestResumeChecksFolder: a resume refuses a checkpoint copied from another
// run or written under settings since edited in config.json, and a finished
// run whose model file or final.json is damaged writes them again from its
// checkpoint instead of reporting itself finished.
func TestResumeChecksFolder(t *testing.T) {
	opt := Options{Train: mnistLike(32, 1), Test: mnistLike(8, 2)}
	run := func(cfg Config) (Summary, error) { return Run(context.Background(), cfg, opt) }
	a := Config{Model: "mlp", Dataset: "synthetic", BatchSize: 16, Seed: 1, Out: filepath.Join(t.TempDir(), "a")}
	b := a
	b.Seed, b.Out = 2, filepath.Join(t.TempDir(), "b")
	for _, c := range []Config{a, b} {
		if _, err := run(c); err != nil {
			t.Fatal(err)
		}
	}
	model, err := os.ReadFile(filepath.Join(a.Out, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	a.Resume = true

	// A finished run's damaged outputs are written again, the same bits.
	for _, f := range []string{ModelFile, FinalFile} {
		if err := os.Truncate(filepath.Join(a.Out, f), 100); err != nil {
			t.Fatal(err)
		}
		sum, err := run(a)
		if err != nil || sum.AlreadyDone {
			t.Errorf("resume with %s damaged: %v, already done %v; want its outputs written again", f, err, sum.AlreadyDone)
		}
		if got, _ := os.ReadFile(filepath.Join(a.Out, ModelFile)); !bytes.Equal(got, model) {
			t.Errorf("resume with %s damaged: the model file written again differs", f)
		}
	}
	if sum, err := run(a); err != nil || !sum.AlreadyDone {
		t.Errorf("resume of an intact finished run: %v, already done %v", err, sum.AlreadyDone)
	}

	// Another run's checkpoint.
	state, _ := os.ReadFile(filepath.Join(a.Out, StateFile))
	other, _ := os.ReadFile(filepath.Join(b.Out, StateFile))
	if err := os.WriteFile(filepath.Join(a.Out, StateFile), other, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(a); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("resume with another run's checkpoint: %v, want an error", err)
	}
	os.WriteFile(filepath.Join(a.Out, StateFile), state, 0o644)

	// Settings edited in config.json (and given to match, as the command
	// line does on -resume).
	info, err := ReadRunInfo(a.Out)
	if err != nil {
		t.Fatal(err)
	}
	info.Config.LR = 0.07
	if err := writeJSON(filepath.Join(a.Out, ConfigFile), info); err != nil {
		t.Fatal(err)
	}
	a.LR = 0.07
	if _, err := run(a); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("resume after config.json was edited: %v, want an error", err)
	}
}

// TestRunRefusesSchedules: settings that only the training set's size shows
// to be impossible are refused before the run folder is made.
func TestRunRefusesSchedules(t *testing.T) {
	for _, c := range []struct {
		set  func(c *Config)
		want string
	}{
		{func(c *Config) { c.WarmupSteps = 3 }, "-warmup-steps 3 is longer than the run's 2 steps"},
		{func(c *Config) { c.Schedule, c.MinLR = "cosine", 1 }, "-min-lr 1 is above the base rate 0.05"},
	} {
		dir := filepath.Join(t.TempDir(), "run")
		cfg := Config{Model: "mlp", Dataset: "synthetic", BatchSize: 16, Out: dir}
		c.set(&cfg)
		_, err := Run(context.Background(), cfg, Options{Train: mnistLike(32, 1), Test: mnistLike(8, 2)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v; want an error with %q", err, c.want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q: the run folder was made (%v)", c.want, err)
		}
	}
}

// TestPerturb checks that the hook's output is what the model trains on.
func TestPerturb(t *testing.T) {
	train, test := mnistLike(32, 1), mnistLike(8, 2)
	run := func(p PerturbFunc[float32]) *Summary {
		cfg := Config{Model: "mlp", Dataset: "synthetic", BatchSize: 16, Out: t.TempDir()}
		opt := Options{Train: train, Test: test}
		if p != nil {
			cfg.Perturb, opt.Perturb = "test", p
		}
		s, err := Run(context.Background(), cfg, opt)
		if err != nil {
			t.Fatal(err)
		}
		return &s
	}
	plain := run(nil)
	calls := 0
	same := run(func(_ context.Context, _ *models.Net[float32], x *tensor.Dense[float32], y []int, rng *rand.Rand) *tensor.Dense[float32] {
		calls++
		if len(y) != x.Shape[0] || rng == nil {
			t.Errorf("perturb called with %d labels for %v images", len(y), x.Shape)
		}
		return x
	})
	if calls != 2 || sameBits(readState(t, plain.Dir), readState(t, same.Dir)) != "" {
		t.Errorf("identity perturbation: %d calls (want 2), or the weights differ from the plain run's", calls)
	}
	zero := run(func(_ context.Context, _ *models.Net[float32], x *tensor.Dense[float32], _ []int, _ *rand.Rand) *tensor.Dense[float32] {
		return tensor.New[float32](x.Shape...)
	})
	if sameBits(readState(t, plain.Dir), readState(t, zero.Dir)) == "" {
		t.Errorf("training on blank images gave the plain run's weights")
	}
}

// TestNonFiniteWeights makes the first step overflow the float32 weights
// (the rate itself is +Inf in float32):
// whichever check fires, no checkpoint with non-finite weights is written.
func TestNonFiniteWeights(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Model: "mlp", Dataset: "synthetic", Epochs: 1, BatchSize: 4, LR: 1e39, CheckpointEvery: 1, Out: dir}
	_, err := Run(context.Background(), cfg, Options{Train: mnistLike(40, 1), Test: mnistLike(8, 2)})
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("Run returned %v, want a NonFiniteError", err)
	}
	t.Log(err)
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		net, _ := models.New[float32]("mlp", models.Config{})
		if _, err := loadState(filepath.Join(dir, StateFile), net, &SGD[float32]{}); err != nil {
			t.Errorf("checkpoint left behind: %v", err)
		}
	}
}

// TestTracking checks that the tracked top eigenvalue is Lanczos' on the
// final weights and the fixed subset in eval mode, converged.
func TestTracking(t *testing.T) {
	dir := t.TempDir()
	train := mnistLike(64, 1)
	cfg := Config{Model: "mlp", Dataset: "synthetic", BatchSize: 16, LR: 0.1, Momentum: 0.9,
		TrackEvery: 1, TrackSamples: 16, TrackTrace: true, TrackProbes: 4, Out: dir, Seed: 2}
	if _, err := Run(context.Background(), cfg, Options{Train: train, Test: mnistLike(8, 2)}); err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMetrics(dir)
	if err != nil || len(ms) != 1 || ms[0].TopEigenvalue == nil || ms[0].Trace == nil || ms[0].TraceStdErr == nil {
		t.Fatalf("metrics %+v, %v: want one epoch with curvature", ms, err)
	}
	net, _ := models.New[float32]("mlp", models.Config{})
	if _, err := loadState(filepath.Join(dir, StateFile), net, &SGD[float32]{}); err != nil {
		t.Fatal(err)
	}
	sub := train.Select(data.Permutation(train.N, cfg.Seed, -1)[:16])
	op := hessian.NewParams[float32](net, hessian.NewFloat32Data[float32](sub.X, sub.Y, [3]int{1, 28, 28}, 0), nn.Eval, nil)
	eig, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 1, MaxIter: 50, Tol: 1e-4, Seed: 2, EstimatedResiduals: true})
	if err != nil {
		t.Fatal(err)
	}
	got, res := *ms[0].TopEigenvalue, *ms[0].EigenResidual
	t.Logf("tracked λmax %.8g (residual %.2g after %d products); trace %.4g ± %.2g", got, res, eig.MatVecs, *ms[0].Trace, *ms[0].TraceStdErr)
	if got != eig.Values[0] || res != eig.Residuals[0] || res > 1e-4*got {
		t.Errorf("tracked λmax %.10g (residual %.2g); Lanczos on the final weights gives %.10g (%.2g)", got, res, eig.Values[0], eig.Residuals[0])
	}
	b, _ := os.ReadFile(filepath.Join(dir, MetricsCSVFile))
	if !strings.HasPrefix(string(b), "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,grad_norm,seconds,top_eigenvalue,eigen_residual,trace,trace_stderr\n") {
		t.Errorf("metrics.csv header: %q", strings.SplitN(string(b), "\n", 2)[0])
	}
}

// TestTrackingKeepPasses: the curvature tracking's eigensolvers keeping
// every micro-batch's pass (Options.KeepPasses) record the same bits:
// eigenvalue, residual, trace and its standard error, and the same weights.
func TestTrackingKeepPasses(t *testing.T) {
	run := func(keep bool) ([]Metrics, []byte) {
		dir := t.TempDir()
		// Tracking over 24 images in micro-batches of 8: three chunks.
		cfg := Config{Model: "mlp", Dataset: "synthetic", BatchSize: 8, MicroBatch: 8, LR: 0.1, Momentum: 0.9,
			TrackEvery: 1, TrackSamples: 24, TrackTrace: true, TrackProbes: 3, Out: dir, Seed: 2}
		if _, err := Run(context.Background(), cfg, Options{Train: mnistLike(32, 1), Test: mnistLike(8, 2), KeepPasses: keep}); err != nil {
			t.Fatal(err)
		}
		ms, err := ReadMetrics(dir)
		if err != nil || len(ms) != 1 || ms[0].TopEigenvalue == nil || ms[0].Trace == nil {
			t.Fatalf("metrics %+v, %v: want one epoch with curvature", ms, err)
		}
		model, err := os.ReadFile(filepath.Join(dir, ModelFile))
		if err != nil {
			t.Fatal(err)
		}
		return ms, model
	}
	whole, wm := run(false)
	kept, km := run(true)
	w, k := whole[0], kept[0]
	if *k.TopEigenvalue != *w.TopEigenvalue || *k.EigenResidual != *w.EigenResidual || *k.Trace != *w.Trace || *k.TraceStdErr != *w.TraceStdErr {
		t.Errorf("kept passes: λ %v (residual %v), trace %v ± %v; whole passes: λ %v (%v), %v ± %v",
			*k.TopEigenvalue, *k.EigenResidual, *k.Trace, *k.TraceStdErr, *w.TopEigenvalue, *w.EigenResidual, *w.Trace, *w.TraceStdErr)
	}
	if !bytes.Equal(km, wm) {
		t.Error("the model files differ")
	}
}
