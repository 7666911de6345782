package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Validate checks the sweep before any work starts.
func (s *Sweep) Validate() error {
	if !slices.Contains(models.Names(), s.Model) {
		return fmt.Errorf("unknown model %q (want %s)", s.Model, strings.Join(models.Names(), ", "))
	}
	if !slices.Contains(data.Names(), s.Dataset) {
		return fmt.Errorf("unknown dataset %q (want %s)", s.Dataset, strings.Join(data.Names(), ", "))
	}
	if len(s.BatchSizes) == 0 && !s.ABSA {
		return errors.New("no batch sizes")
	}
	for _, b := range s.BatchSizes {
		if b < 1 {
			return fmt.Errorf("batch size %d: want at least 1", b)
		}
	}
	if s.Seeds < 1 {
		return fmt.Errorf("%d seeds: want at least 1", s.Seeds)
	}
	if s.Robust {
		if _, err := attack.ParseTraining(s.Adversary); err != nil {
			return fmt.Errorf("adversary %q: %w", s.Adversary, err)
		}
	}
	for _, u := range s.Units() {
		if err := s.TrainConfig(u, "").Validate(); err != nil {
			return fmt.Errorf("%s: %w", u.Name, err)
		}
	}
	return s.Measure.validate()
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
	if _, err := train.Run(ctx, cfg, train.Options{Progress: w, Version: version, Perturb: perturb, Comm: o.Comm}); err != nil {
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
		return measureRun[float64](ctx, s, cfg, u, w, version, o.Comm)
	}
	return measureRun[float32](ctx, s, cfg, u, w, version, o.Comm)
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
		return train.PerturbFunc[float64](func(net *models.Net[float64], x *tensor.Dense[float64], y []int, rng *rand.Rand) *tensor.Dense[float64] {
			return f(net, x, y, rng)
		}), nil
	}
	f := attack.TrainingPerturbation[float32](t)
	return train.PerturbFunc[float32](func(net *models.Net[float32], x *tensor.Dense[float32], y []int, rng *rand.Rand) *tensor.Dense[float32] {
		return f(net, x, y, rng)
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
