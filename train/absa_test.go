package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hesscope/checkpoint"
	"hesscope/data"
)

func ptr[V any](v V) *V { return &v }

// TestABSARule feeds ABSA's rule sequences of eigenvalues: the batch size
// doubles exactly after an epoch whose eigenvalue is below half the first
// one measured at the current batch size, or after Patience epochs at it,
// never beyond MaxBatch; the adversarial fraction halves with it.
func TestABSARule(t *testing.T) {
	a := ABSAConfig{MaxBatch: 48, Patience: 3, AdvFraction: ptr(0.25)}.Defaults()
	cases := []struct {
		name   string
		lams   []float64
		batch  []int    // the batch size of each epoch
		change []string // the reason of the doubling after each epoch
		refs   []float64
	}{
		{"eigenvalue halves", []float64{10, 6, 4.99, 3, 1.4, 9},
			[]int{6, 6, 6, 12, 12, 24}, []string{"", "", "eigenvalue", "", "eigenvalue", ""}, []float64{10, 10, 10, 3, 3, 9}},
		{"exactly half is not below", []float64{10, 5, 5, 20},
			[]int{6, 6, 6, 12}, []string{"", "", "patience", ""}, []float64{10, 10, 10, 20}},
		{"patience, then the cap", []float64{1, 2, 3, 1, 1, 1, 1, 1, 1, 1, 0.1, 0.01, 1, 1},
			[]int{6, 6, 6, 12, 12, 12, 24, 24, 24, 48, 48, 48, 48, 48},
			[]string{"", "", "patience", "", "", "patience", "", "", "patience", "", "", "", "", ""},
			[]float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"a rising eigenvalue keeps its reference", []float64{2, 8, 0.9},
			[]int{6, 6, 6}, []string{"", "", "eigenvalue"}, []float64{2, 2, 2}},
	}
	for _, c := range cases {
		s := newABSAState(Config{BatchSize: 6, ABSA: &a})
		frac := 0.25
		for i, lam := range c.lams {
			if s.BatchSize != c.batch[i] || s.AdvFraction != frac {
				t.Fatalf("%s: epoch %d at batch %d, fraction %g; want %d, %g", c.name, i+1, s.BatchSize, s.AdvFraction, c.batch[i], frac)
			}
			ref, change := s.observe(lam, a)
			if ref != c.refs[i] || change != c.change[i] {
				t.Errorf("%s: epoch %d, λ %g: reference %g, change %q; want %g, %q", c.name, i+1, lam, ref, change, c.refs[i], c.change[i])
			}
			if change != "" {
				frac /= 2
			}
		}
	}
}

// absaTestConfig is a small ABSA run of the MLP on synthetic images: 64
// images in batches of 8 doubling up to 32.
func absaTestConfig(dir string) (Config, Options) {
	cfg := Config{Model: "mlp", Dataset: "synthetic", Epochs: 8, BatchSize: 8, MicroBatch: 16, LR: 0.02, Momentum: 0.9,
		Schedule: "absa", ABSA: &ABSAConfig{MaxBatch: 32, Patience: 3, AdvEps: 0.05, AdvFraction: ptr(0.5)},
		Out: dir, Seed: 4}
	return cfg, Options{Train: mnistLike(64, 7), Test: mnistLike(16, 8), Version: "test"}
}

// TestABSASchedule runs ABSA with a forced eigenvalue sequence and checks
// the metrics: batch size, learning rate and adversarial fraction of every
// epoch, the reasons of the doublings and the steps.
func TestABSASchedule(t *testing.T) {
	dir := t.TempDir()
	cfg, opt := absaTestConfig(dir)
	lams := []float64{10, 6, 4.9, 100, 80, 70, 1, 0.1}
	opt.absaEigen = func(epoch int) float64 { return lams[epoch-1] }
	sum, err := Run(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMetrics(dir)
	if err != nil || len(ms) != 8 {
		t.Fatalf("metrics: %d epochs, %v", len(ms), err)
	}
	batch := []int{8, 8, 8, 16, 16, 16, 32, 32}
	change := []string{"", "", "eigenvalue", "", "", "patience", "", ""}
	step := 0
	for i, m := range ms {
		step += (64 + batch[i] - 1) / batch[i]
		lr := 0.02 * float64(batch[i]) / 8
		frac := 0.5 * 8 / float64(batch[i])
		if m.BatchSize != batch[i] || m.LR != lr || m.AdvFraction == nil || *m.AdvFraction != frac || m.ABSAChange != change[i] || m.Step != step ||
			m.ABSAEigenvalue == nil || *m.ABSAEigenvalue != lams[i] {
			t.Errorf("epoch %d: batch %d, lr %g, fraction %v, change %q, step %d, λ %v; want %d, %g, %g, %q, %d, %g",
				i+1, m.BatchSize, m.LR, m.AdvFraction, m.ABSAChange, m.Step, m.ABSAEigenvalue, batch[i], lr, frac, change[i], step, lams[i])
		}
	}
	if sum.Steps != step {
		t.Errorf("summary: %d steps, want %d", sum.Steps, step)
	}
	b, _ := os.ReadFile(filepath.Join(dir, MetricsCSVFile))
	lines := strings.Split(string(b), "\n")
	if !strings.HasSuffix(lines[0], ",batch_size,adv_fraction,absa_eigenvalue,absa_residual,absa_reference,absa_change") ||
		!strings.HasSuffix(lines[3], ",8,0.5,4.9,0,10,eigenvalue") {
		t.Errorf("metrics.csv: %q, …, %q", lines[0], lines[3])
	}
	info, err := ReadRunInfo(dir)
	if err != nil || info.Config.ABSA == nil || info.Config.ABSA.EigenSamples != 128 || *info.Config.ABSA.AdvFraction != 0.5 {
		t.Errorf("config.json: %+v, %v: want the ABSA settings with defaults", info, err)
	}
}

// TestABSAConstant checks that an ABSA run whose batch size never changes
// and that has no adversarial examples is, bit for bit, the constant
// schedule at that batch size.
func TestABSAConstant(t *testing.T) {
	cfg, opt := absaTestConfig(t.TempDir())
	cfg.Epochs = 2
	cfg.ABSA.Patience, cfg.ABSA.AdvFraction = 5, ptr(0.0)
	opt.absaEigen = func(int) float64 { return 1 }
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	plain := cfg
	plain.Schedule, plain.ABSA, plain.Out = "", nil, t.TempDir()
	if _, err := Run(context.Background(), plain, opt); err != nil {
		t.Fatal(err)
	}
	if name := sameBits(readState(t, cfg.Out), readState(t, plain.Out)); name != "" {
		t.Errorf("ABSA without changes differs from the constant schedule in %s", name)
	}
}

// absaResumeConfig is an ABSA run with real eigenvalues whose batch size
// doubles after every epoch (patience 1), with FGSM examples and mid-epoch
// checkpoints.
func absaResumeConfig(dir string) (Config, Options) {
	cfg := Config{Model: "mlp", Dataset: "synthetic", Epochs: 3, BatchSize: 8, MicroBatch: 5, LR: 0.05, Momentum: 0.9,
		Normalize: true, Schedule: "absa",
		ABSA:            &ABSAConfig{MaxBatch: 32, Patience: 1, EigenSamples: 12, EigenIters: 3, AdvEps: 0.05, AdvFraction: ptr(0.5)},
		CheckpointEvery: 3, Out: dir, Seed: 6}
	return cfg, Options{Train: mnistLike(40, 9), Test: mnistLike(8, 10), Version: "test"}
}

// TestABSAResume kills an ABSA run before each of its writes, resumes it,
// and checks that the weights, model file and metrics are the
// uninterrupted run's bit for bit, through the doublings.
func TestABSAResume(t *testing.T) {
	refDir := t.TempDir()
	var writes []string
	writeHook = func(path string) error { writes = append(writes, filepath.Base(path)); return nil }
	defer func() { writeHook = nil }()
	cfg, opt := absaResumeConfig(refDir)
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	refState := readState(t, refDir)
	refModel, _ := os.ReadFile(filepath.Join(refDir, ModelFile))
	refMetrics, refCSV := metricsWithoutTime(t, refDir)
	var batches []int
	for _, m := range refMetrics {
		batches = append(batches, m.BatchSize)
		if m.ABSAEigenvalue == nil || !(*m.ABSAEigenvalue > 0) || m.ABSAResidual == nil {
			t.Errorf("epoch %d: eigenvalue %v, residual %v", m.Epoch, m.ABSAEigenvalue, m.ABSAResidual)
		}
	}
	if !reflect.DeepEqual(batches, []int{8, 16, 32}) {
		t.Fatalf("batch sizes %v, want 8, 16, 32", batches)
	}

	// A plain run with the same settings but without FGSM ends elsewhere.
	plain, _ := absaResumeConfig(t.TempDir())
	plain.ABSA.AdvFraction = ptr(0.0)
	writeHook = nil
	if _, err := Run(context.Background(), plain, opt); err != nil {
		t.Fatal(err)
	}
	if sameBits(readState(t, plain.Out), refState) == "" {
		t.Errorf("the FGSM examples changed nothing")
	}

	// Killed before a model file is written, the run resumes from the
	// checkpoint just written, at every one of them (mid-epoch ones at the
	// doubled batch sizes included); killed before a metrics.csv line, from
	// the one before, with a metrics.jsonl line to discard (at the end of
	// the second epoch).
	errKill := errors.New("killed")
	t.Logf("%d writes: %v", len(writes), writes)
	for k := range writes {
		if w := writes[k]; w != ModelFile && (w != MetricsCSVFile || k < 9 || k > 12) || k == len(writes)-2 || testing.Short() && k%2 == 0 {
			continue
		}
		dir := t.TempDir()
		n := 0
		writeHook = func(string) error {
			if n == k {
				return errKill
			}
			n++
			return nil
		}
		cfg, opt := absaResumeConfig(dir)
		if _, err := Run(context.Background(), cfg, opt); !errors.Is(err, errKill) {
			t.Fatalf("kill before write %d (%s): Run returned %v", k+1, writes[k], err)
		}
		writeHook = nil
		cfg.Resume = true
		if _, err := Run(context.Background(), cfg, opt); err != nil {
			t.Fatalf("resume after a kill before write %d (%s): %v", k+1, writes[k], err)
		}
		if name := sameBits(readState(t, dir), refState); name != "" {
			t.Errorf("kill before write %d (%s): the weights differ from the uninterrupted run's in %s", k+1, writes[k], name)
		}
		if model, _ := os.ReadFile(filepath.Join(dir, ModelFile)); string(model) != string(refModel) {
			t.Errorf("kill before write %d (%s): model.safetensors differs", k+1, writes[k])
		}
		ms, csv := metricsWithoutTime(t, dir)
		if !reflect.DeepEqual(ms, refMetrics) || !reflect.DeepEqual(csv, refCSV) {
			t.Errorf("kill before write %d (%s): metrics differ:\n%q\nwant\n%q", k+1, writes[k], csv, refCSV)
		}
		if st, want := absaOf(t, readState(t, dir)), absaOf(t, refState); !reflect.DeepEqual(st, want) {
			t.Errorf("kill before write %d (%s): ABSA state %+v, want %+v", k+1, writes[k], st, want)
		}
	}
}

// absaOf returns the ABSA state of a checkpoint.
func absaOf(t *testing.T, f *checkpoint.File) absaState {
	t.Helper()
	var st state
	if err := json.Unmarshal([]byte(f.Metadata[stateKey]), &st); err != nil || st.ABSA == nil {
		t.Fatalf("checkpoint state %s: %v, want an ABSA state", f.Metadata[stateKey], err)
	}
	return *st.ABSA
}

// TestABSAMNIST trains the MLP with ABSA on 1000 MNIST images for three
// epochs, doubling after each (patience 1), and checks what the metrics
// record.
func TestABSAMNIST(t *testing.T) {
	tr, err := data.Load("mnist", "train", data.Options{})
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	te, err := data.Load("mnist", "test", data.Options{})
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	dir := t.TempDir()
	cfg := Config{Model: "mlp", Dataset: "mnist", TrainSamples: 1000, TestSamples: 500, Epochs: 3, BatchSize: 32, LR: 0.05, Momentum: 0.9,
		Normalize: true, Schedule: "absa", ABSA: &ABSAConfig{MaxBatch: 128, Patience: 1, EigenSamples: 64, EigenIters: 8}, Out: dir, Seed: 1}
	sum, err := Run(context.Background(), cfg, Options{Train: tr, Test: te})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMetrics(dir)
	if err != nil || len(ms) != 3 {
		t.Fatalf("metrics: %d epochs, %v", len(ms), err)
	}
	for i, m := range ms {
		want := 32 << i
		frac := 0.2 / float64(int(1)<<i)
		t.Logf("epoch %d: batch %d, lr %g, adversarial %g, λ %.5g (residual %.2g, reference %.5g, change %q), test acc %.2f%%",
			m.Epoch, m.BatchSize, m.LR, *m.AdvFraction, *m.ABSAEigenvalue, *m.ABSAResidual, *m.ABSAReference, m.ABSAChange, 100*m.TestAcc)
		if m.BatchSize != want || *m.AdvFraction != frac || m.LR != 0.05*float64(want)/32 {
			t.Errorf("epoch %d: batch %d, fraction %g, lr %g; want %d, %g, %g", m.Epoch, m.BatchSize, *m.AdvFraction, m.LR, want, frac, 0.05*float64(want)/32)
		}
		if lam := *m.ABSAEigenvalue; !(lam > 0) || math.IsInf(lam, 0) || !(*m.ABSAResidual < 0.1*lam) {
			t.Errorf("epoch %d: eigenvalue %g with residual %g", m.Epoch, lam, *m.ABSAResidual)
		}
	}
	if sum.TestAcc < 0.7 {
		t.Errorf("test accuracy %.2f%%, want above 70%%", 100*sum.TestAcc)
	}
}

// TestABSAValidate checks the errors of bad ABSA settings.
func TestABSAValidate(t *testing.T) {
	ok := Config{Model: "lenet5", Out: "dir", Schedule: "absa"}
	if err := ok.Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if d := ok.Defaults(); d.ABSA.MaxBatch != 4096 || d.ABSA.Patience != 10 || d.ABSA.AdvEps != 0.005 || *d.ABSA.AdvFraction != 0.2 || d.BatchSize != 128 {
		t.Errorf("defaults %+v", *d.ABSA)
	}
	mine := &ABSAConfig{Patience: 2}
	if d := (Config{Schedule: "absa", ABSA: mine}).Defaults(); d.ABSA == mine || mine.MaxBatch != 0 {
		t.Errorf("Defaults changed the caller's ABSAConfig")
	}
	cases := []struct {
		set  func(c *Config)
		flag string
	}{
		{func(c *Config) { c.Schedule = "constant"; c.ABSA = &ABSAConfig{} }, "-schedule"},
		{func(c *Config) { c.ABSA = &ABSAConfig{MaxBatch: 64} }, "-absa-max-batch"},
		{func(c *Config) { c.ABSA = &ABSAConfig{Patience: -1} }, "-absa-patience"},
		{func(c *Config) { c.ABSA = &ABSAConfig{EigenIters: 1} }, "-absa-eigen-iters"},
		{func(c *Config) { c.ABSA = &ABSAConfig{EigenSamples: -1} }, "-absa-eigen-samples"},
		{func(c *Config) { c.ABSA = &ABSAConfig{AdvEps: math.Inf(1)} }, "-absa-adv-eps"},
		{func(c *Config) { c.ABSA = &ABSAConfig{AdvFraction: ptr(1.5)} }, "-absa-adv-fraction"},
		{func(c *Config) { c.Perturb = "fgsm linf eps=0.1 ratio=0.5" }, "-adv"},
		{func(c *Config) { c.Schedule = "absa"; c.Milestones = []int{2}; c.Gamma = 2 }, "-gamma"},
	}
	for _, c := range cases {
		cfg := ok
		c.set(&cfg)
		err := cfg.Defaults().Validate()
		if err == nil {
			t.Errorf("%+v: no error, want one naming %s", cfg, c.flag)
		} else if msg := err.Error(); !strings.Contains(msg, c.flag) || !strings.HasPrefix(msg, "train: ") {
			t.Errorf("error %q: want one beginning train: and naming %s", msg, c.flag)
		}
	}
	cfg := ok
	cfg.Milestones = []int{2}
	if err := cfg.Defaults().Validate(); err != nil || cfg.Defaults().Gamma != 0.1 {
		t.Errorf("absa with milestones: %v", err)
	}
}
