package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"hesscope/attack"
	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/dist"
	"hesscope/models"
	"hesscope/tensor"
	"hesscope/train"
)

// Sweep is a batch-size study: every batch size × seed trained normally,
// and with Robust also adversarially, and with ABSA once per seed with the
// adaptive schedule; then each trained network is measured (Measure).
type Sweep struct {
	Model   string `json:"model"`
	Dataset string `json:"dataset"`
	// BatchSizes are the fixed batch sizes compared.
	BatchSizes []int `json:"batch_sizes"`
	// Seeds is the number of seeds per configuration (seeds 1…Seeds).
	Seeds int `json:"seeds"`
	// Train is the training recipe shared by every run: epochs, learning
	// rate at BaseBatch and its scaling rule, momentum, schedule, warm-up,
	// curvature tracking, subsets. Model, Dataset, BatchSize, Seed, Out and
	// Perturb are set per run.
	Train train.Config `json:"train"`
	// Robust adds adversarially trained runs with the Adversary (a
	// perturbation spec of attack.ParseTraining, such as
	// "fgsm linf eps=0.1 ratio=0.5").
	Robust    bool   `json:"robust"`
	Adversary string `json:"adversary,omitempty"`
	// RobustBatchSizes are the batch sizes of the robust runs (default:
	// BatchSizes).
	RobustBatchSizes []int `json:"robust_batch_sizes,omitempty"`
	// ABSA adds runs with the adaptive batch-size schedule of Yao et al.
	// (2018b), one per seed.
	ABSA    bool          `json:"absa"`
	Measure MeasureConfig `json:"measure"`
	// Precision is "float32" (default) or "float64".
	Precision string `json:"precision"`
}

// Unit is one independent piece of work of a sweep: train one network and
// measure it, in its own run folder.
type Unit struct {
	Index     int    `json:"index"`
	Name      string `json:"name"`
	Kind      string `json:"kind"` // "normal", "robust" or "absa"
	BatchSize int    `json:"batch_size"`
	Seed      uint64 `json:"seed"`
	Dir       string `json:"dir"` // relative to the sweep folder
}

// Units lists the sweep's units in a fixed order: kind, batch size, seed.
func (s *Sweep) Units() []Unit {
	var us []Unit
	add := func(kind string, bs int) {
		for seed := 1; seed <= s.Seeds; seed++ {
			name := fmt.Sprintf("%s-bs%d-seed%d", kind, bs, seed)
			if kind == "absa" {
				name = fmt.Sprintf("absa-seed%d", seed)
			}
			us = append(us, Unit{Index: len(us), Name: name, Kind: kind, BatchSize: bs, Seed: uint64(seed), Dir: filepath.Join("runs", name)})
		}
	}
	for _, bs := range s.BatchSizes {
		add("normal", bs)
	}
	if s.Robust {
		bss := s.RobustBatchSizes
		if len(bss) == 0 {
			bss = s.BatchSizes
		}
		for _, bs := range bss {
			add("robust", bs)
		}
	}
	if s.ABSA {
		add("absa", 128)
	}
	return us
}

// A FieldError is a setting of a sweep that Validate refuses: Field is its
// name in the sweep's JSON (such as "measure.top_k"), Value the value
// refused and Want what is expected, so that the sweep command can name the
// flag or the configuration file and field that set it.
type FieldError struct {
	Field, Value, Want string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s %s: %s", e.Field, e.Value, e.Want) }

func fieldErr(field string, value any, format string, args ...any) error {
	return &FieldError{Field: field, Value: fmt.Sprint(value), Want: fmt.Sprintf(format, args...)}
}

// Validate checks the sweep before any work starts. The settings it
// refuses are reported as a *FieldError.
func (s *Sweep) Validate() error {
	if !slices.Contains(models.Names(), s.Model) {
		return fieldErr("model", strconv.Quote(s.Model), "want one of %s", strings.Join(models.Names(), ", "))
	}
	if !slices.Contains(data.Names(), s.Dataset) {
		return fieldErr("dataset", strconv.Quote(s.Dataset), "want one of %s", strings.Join(data.Names(), ", "))
	}
	if len(s.BatchSizes) == 0 && !s.ABSA {
		return fieldErr("batch_sizes", "[]", "want at least one batch size (or absa)")
	}
	if err := checkBatchSizes("batch_sizes", s.BatchSizes); err != nil {
		return err
	}
	if s.Seeds < 1 {
		return fieldErr("seeds", s.Seeds, "want at least 1")
	}
	if s.Robust {
		if err := checkBatchSizes("robust_batch_sizes", s.RobustBatchSizes); err != nil {
			return err
		}
		if _, err := ParseAdversary(s.Adversary, s.Dataset); err != nil {
			return fieldErr("adversary", strconv.Quote(s.Adversary), "%v", err)
		}
	} else {
		// Settings of the robust runs without robust runs would be ignored.
		if s.Adversary != "" {
			return fieldErr("adversary", strconv.Quote(s.Adversary), "only with robust (adversarially trained runs)")
		}
		if len(s.RobustBatchSizes) > 0 {
			return fieldErr("robust_batch_sizes", strings.Trim(fmt.Sprint(s.RobustBatchSizes), "[]"), "only with robust (adversarially trained runs)")
		}
	}
	// Zeros here would be replaced by train's defaults, not the ones
	// recorded: refused (micro_batch and base_batch document 0 as their
	// default).
	if s.Train.Epochs < 1 {
		return fieldErr("train.epochs", s.Train.Epochs, "want at least 1")
	}
	if !(s.Train.LR > 0) || math.IsInf(s.Train.LR, 0) {
		return fieldErr("train.lr", s.Train.LR, "want a finite learning rate > 0")
	}
	if s.Train.MicroBatch < 0 {
		return fieldErr("train.micro_batch", s.Train.MicroBatch, "want at least 1 (0: the default, 256)")
	}
	if s.Train.BaseBatch < 0 {
		return fieldErr("train.base_batch", s.Train.BaseBatch, "want at least 1 (0: the default, 128)")
	}
	for _, u := range s.Units() {
		if err := s.TrainConfig(u, "").Validate(); err != nil {
			// A training setting is named by its field of the sweep's
			// JSON (train.…), which its -config or flag set.
			if se := (*train.SettingError)(nil); errors.As(err, &se) {
				return fieldErr("train."+se.Field(), se.Value, "%s (unit %s)", se.Want, u.Name)
			}
			return fmt.Errorf("%s: %w", u.Name, err)
		}
	}
	return s.Measure.validate(s.Dataset)
}

// checkBatchSizes refuses a batch size below 1 and a repeated one (its
// units would share a folder and count twice).
func checkBatchSizes(field string, bs []int) error {
	for i, b := range bs {
		if b < 1 {
			return fieldErr(field, b, "want batch sizes of at least 1")
		}
		if slices.Contains(bs[:i], b) {
			return fieldErr(field, b, "given twice (each batch size once)")
		}
	}
	return nil
}

// ParseAdversary reads the adversarial training of a robust run (the spec
// of attack.ParseTraining, such as "fgsm linf eps=0.1 ratio=0.5") with the
// checks of train's -adv flags: eps and ratio are required, ε > 0 (at most 1
// in L∞ and the diameter √(C·H·W) of the dataset's pixel cube in L2, as the
// attack command), ratio in (0, 1], steps and step_size only with pgd, and
// each key once.
func ParseAdversary(spec, dataset string) (attack.Training, error) {
	t, err := attack.ParseTraining(spec)
	if err != nil {
		return t, err
	}
	keys := map[string]bool{}
	for _, kv := range strings.Fields(spec)[2:] {
		k, _, _ := strings.Cut(kv, "=")
		if keys[k] {
			return t, fmt.Errorf("%s= given twice", k)
		}
		keys[k] = true
	}
	c := t.Config
	switch {
	case !keys["eps"]:
		return t, errors.New("want the radius eps=E (in pixel units)")
	case !(c.Eps > 0) || math.IsInf(c.Eps, 0):
		return t, fmt.Errorf("eps=%v: want a finite radius > 0", c.Eps)
	case !keys["ratio"]:
		return t, errors.New("want the fraction ratio=R of every batch replaced, in (0, 1]")
	case !(t.Ratio > 0 && t.Ratio <= 1):
		return t, fmt.Errorf("ratio=%v: want a fraction in (0, 1]", t.Ratio)
	case c.Method == attack.FGSM && (keys["steps"] || keys["step_size"] || keys["random_start"]):
		return t, errors.New("steps, step_size and random_start are pgd's: fgsm takes one step of ε")
	case c.Method == attack.PGD && keys["steps"] && c.Steps < 1:
		return t, fmt.Errorf("steps=%d: want at least 1", c.Steps)
	case c.Method == attack.PGD && keys["step_size"] && !(c.StepSize > 0):
		return t, fmt.Errorf("step_size=%v: want a finite value > 0", c.StepSize)
	}
	info, _ := data.Describe(dataset) // the sweep's dataset is one Describe knows
	if r, want := c.Norm.MaxRadius(info.SampleLen()); c.Eps > r {
		return t, fmt.Errorf("eps=%v: want %s", c.Eps, want)
	}
	return t, nil
}

// TrainConfig is the training configuration of unit u in the sweep folder
// out (the sweep command sizes its passes by it).
func (s *Sweep) TrainConfig(u Unit, out string) train.Config {
	c := s.Train
	c.Model, c.Dataset, c.Seed, c.Precision = s.Model, s.Dataset, u.Seed, s.Precision
	c.BatchSize = u.BatchSize
	c.Out = filepath.Join(out, u.Dir)
	c.Resume = true
	c.ABSA = nil
	switch u.Kind {
	case "robust":
		c.Perturb = s.Adversary
	case "absa":
		// From the unit's batch size up to the largest of the sweep, with
		// Train.ABSA's other settings (defaults if nil).
		var a train.ABSAConfig
		if s.Train.ABSA != nil {
			a = *s.Train.ABSA
		}
		if a.MaxBatch == 0 {
			a.MaxBatch = max(u.BatchSize, slices.Max(append([]int{0}, s.BatchSizes...)))
		}
		c.Schedule, c.MinLR, c.ABSA = "absa", 0, &a
	}
	return c.Defaults()
}

// SweepFile is the name of the sweep's configuration in its folder.
const SweepFile = "sweep.json"

// WriteSweep records the sweep's configuration in out, or checks that the
// one already there is the same (a sweep folder holds one sweep).
func WriteSweep(out string, s *Sweep) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(out, SweepFile)
	if old, err := os.ReadFile(path); err == nil {
		if string(old) != string(b)+"\n" {
			return fmt.Errorf("%s holds another sweep (see %s); choose another -out or delete it", out, path)
		}
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// ReadSweep reads the configuration of the sweep in out.
func ReadSweep(out string) (*Sweep, error) {
	return ReadSweepFile(filepath.Join(out, SweepFile))
}

// ReadSweepFile reads a sweep configuration (the JSON of a sweep.json) from
// path; unknown fields are an error.
func ReadSweepFile(path string) (*Sweep, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var s Sweep
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// UnitOptions is what running a unit needs besides the sweep.
type UnitOptions struct {
	// Progress receives progress lines (nil: none); Version is the program
	// version recorded in the run.
	Progress io.Writer
	Version  string
	// Comm, if not nil and of several ranks, runs the unit over the ranks
	// of an MPI job: data-parallel training (train.Options.Comm) and the
	// parameter-Hessian measurements on shards (analysis.Sharded); every
	// rank calls RunUnit alike, and rank 0 alone writes.
	Comm dist.Comm
	// KeepPasses lets the training's curvature tracking and the
	// measurements' parameter Hessian keep every chunk's pass between
	// their products (train.Options.KeepPasses,
	// MeasureConfig.KeepPasses): the same results, faster, where the
	// caller has checked that a kept pass per chunk fits.
	KeepPasses bool
}

// RunUnit trains unit u of the sweep in out (resuming it if it was
// interrupted, skipping the training if it is done) and measures it
// (skipping that too if measure.json is there).
func RunUnit(ctx context.Context, s *Sweep, out string, u Unit, o UnitOptions) error {
	w, version := o.Progress, o.Version
	if !dist.IsRoot(o.Comm) {
		w = nil
	}
	cfg := s.TrainConfig(u, out)
	perturb, err := Perturbation(cfg)
	if err != nil {
		return err
	}
	if w != nil {
		fmt.Fprintf(w, "== unit %d: %s\n", u.Index, u.Name)
	}
	if _, err := train.Run(ctx, cfg, train.Options{Progress: w, Version: version, Perturb: perturb, Comm: o.Comm, KeepPasses: o.KeepPasses}); err != nil {
		return fmt.Errorf("%s: %w", u.Name, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, MeasureFile)); err == nil {
		return nil
	}
	if o.Comm != nil && o.Comm.Size() > 1 {
		// Rank 0 may have written measure.json already: all ranks measure
		// or none does.
		done := []byte{0}
		if _, err := os.Stat(filepath.Join(cfg.Out, MeasureFile)); err == nil {
			done[0] = 1
		}
		o.Comm.Bcast(done, 0)
		if done[0] == 1 {
			return nil
		}
	}
	if s.Precision == "float64" {
		return measureRun[float64](ctx, s, cfg, u, w, version, o.Comm, o.KeepPasses)
	}
	return measureRun[float32](ctx, s, cfg, u, w, version, o.Comm, o.KeepPasses)
}

// Perturbation builds the adversarial-training perturbation that cfg.Perturb
// describes (nil if none), for train.Options.Perturb, attacking the pixels
// under the dataset's standard normalisation when cfg.Normalize is set.
func Perturbation(cfg train.Config) (any, error) {
	if cfg.Perturb == "" {
		return nil, nil
	}
	t, err := attack.ParseTraining(cfg.Perturb)
	if err != nil {
		return nil, fmt.Errorf("%s: perturb: %w", cfg.Out, err)
	}
	if cfg.Normalize {
		n, err := data.StandardNorm(cfg.Dataset)
		if err != nil {
			return nil, err
		}
		for c := range n.Mean {
			t.Mean, t.Std = append(t.Mean, float64(n.Mean[c])), append(t.Std, float64(n.Std[c]))
		}
	}
	if cfg.Precision == "float64" {
		f := attack.TrainingPerturbation[float64](t)
		return train.PerturbFunc[float64](func(ctx context.Context, net *models.Net[float64], x *tensor.Dense[float64], y []int, rng *rand.Rand) *tensor.Dense[float64] {
			return f(ctx, net, x, y, rng)
		}), nil
	}
	f := attack.TrainingPerturbation[float32](t)
	return train.PerturbFunc[float32](func(ctx context.Context, net *models.Net[float32], x *tensor.Dense[float32], y []int, rng *rand.Rand) *tensor.Dense[float32] {
		return f(ctx, net, x, y, rng)
	}), nil
}

// ParseInts parses a comma-separated list of integers such as "64,4096".
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// ParseFloats parses a comma-separated list of numbers such as "0.1,0.2".
func ParseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}
