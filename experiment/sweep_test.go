package experiment

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hesscope/report"
	"hesscope/train"
)

func testSweep() *Sweep {
	return &Sweep{Model: "lenet5", Dataset: "mnist", BatchSizes: []int{64, 1024}, Seeds: 2,
		Train:  train.Config{Epochs: 1, LR: 0.05},
		Robust: true, Adversary: "fgsm linf eps=0.1 ratio=0.5", RobustBatchSizes: []int{1024}}
}

func TestUnits(t *testing.T) {
	s := testSweep()
	var names []string
	for i, u := range s.Units() {
		if u.Index != i {
			t.Errorf("unit %d has index %d", i, u.Index)
		}
		names = append(names, u.Name)
	}
	want := "normal-bs64-seed1 normal-bs64-seed2 normal-bs1024-seed1 normal-bs1024-seed2 robust-bs1024-seed1 robust-bs1024-seed2"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("units %s, want %s", got, want)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("valid sweep: %v", err)
	}
	for _, c := range []struct {
		edit func(s *Sweep)
		want string
	}{
		{func(s *Sweep) { s.Model = "vgg" }, `model "vgg": want one of`},
		{func(s *Sweep) { s.Dataset = "imagenet" }, `dataset "imagenet": want one of`},
		{func(s *Sweep) { s.BatchSizes = []int{0} }, "batch_sizes 0: want batch sizes of at least 1"},
		{func(s *Sweep) { s.BatchSizes = []int{64, 1024, 64} }, "batch_sizes 64: given twice"},
		{func(s *Sweep) { s.RobustBatchSizes = []int{0} }, "robust_batch_sizes 0: want batch sizes of at least 1"},
		{func(s *Sweep) { s.RobustBatchSizes = []int{-3} }, "robust_batch_sizes -3: want batch sizes of at least 1"},
		{func(s *Sweep) { s.RobustBatchSizes = []int{64, 64} }, "robust_batch_sizes 64: given twice"},
		{func(s *Sweep) { s.Seeds = 0 }, "seeds 0: want at least 1"},
		{func(s *Sweep) { s.Adversary = "bogus" }, `adversary "bogus"`},
		{func(s *Sweep) { s.Adversary = "fgsm linf" }, "want the radius eps=E"},
		{func(s *Sweep) { s.Robust = false }, `adversary "fgsm linf eps=0.1 ratio=0.5": only with robust`},
		{func(s *Sweep) { s.Robust, s.Adversary = false, "" }, "robust_batch_sizes 1024: only with robust"},
		{func(s *Sweep) { s.Train.Epochs = 0 }, "train.epochs 0: want at least 1"},
		{func(s *Sweep) { s.Train.LR = 0 }, "train.lr 0: want a finite learning rate > 0"},
		{func(s *Sweep) { s.Train.MicroBatch = -1 }, "train.micro_batch -1"},
		{func(s *Sweep) { s.Train.BaseBatch = -1 }, "train.base_batch -1"},
		{func(s *Sweep) { s.Measure.TopK = -5 }, "measure.top_k -5: want 0 (the default) or more"},
		{func(s *Sweep) { s.Measure.HessianSamples = -1 }, "measure.hessian_samples -1"},
		{func(s *Sweep) { s.Measure.AttackSamples = -1 }, "measure.attack_samples -1"},
		{func(s *Sweep) { s.Measure.InputSamples = -1 }, "measure.input_samples -1"},
		{func(s *Sweep) { s.Measure.TopK = 100 }, "measure.top_k 100: want at most lanczos_iters (80)"},
		{func(s *Sweep) { s.Measure.LandscapePoints = 1 }, "measure.landscape_points 1: want at least 2"},
		{func(s *Sweep) { s.Measure.DensitySteps = 1 }, "measure.density_steps 1: want at least 2"},
		{func(s *Sweep) { s.Measure.SaddleEps = 5 }, "measure.saddle_eps 5: want a radius in (0, 1]"},
		{func(s *Sweep) { s.Measure.FGSMEps = []float64{0.1, 2} }, "measure.fgsm_eps 2: want FGSM radii in (0, 1]"},
		{func(s *Sweep) { s.Measure.LandscapeRange = math.Inf(1) }, "measure.landscape_range +Inf"},
		{func(s *Sweep) { s.Measure.LandscapeRange = -1 }, "measure.landscape_range -1"},
	} {
		s := testSweep()
		c.edit(s)
		err := s.Validate()
		var fe *FieldError
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &fe) {
			t.Errorf("got %v, want a *FieldError containing %q", err, c.want)
		}
	}
	// Zero measurement settings are their defaults; a negative number of
	// trace or density probes means none.
	s = testSweep()
	s.Measure = MeasureConfig{TraceProbes: -1, DensityProbes: -1, DensitySteps: 1}
	if err := s.Validate(); err != nil {
		t.Errorf("valid measurements: %v", err)
	}
}

// TestParseAdversary: the spec of the robust runs has train's -adv checks.
func TestParseAdversary(t *testing.T) {
	for _, ok := range []string{"fgsm linf eps=0.1 ratio=0.5", "pgd linf eps=0.3 ratio=1 steps=10 step_size=0.075 random_start=true",
		"fgsm l2 eps=28 ratio=0.5", "pgd l2 eps=2 ratio=0.25"} {
		if _, err := ParseAdversary(ok, "mnist"); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, c := range []struct{ spec, want string }{
		{"fgsm linf", "want the radius eps=E"},
		{"fgsm linf ratio=0.5", "want the radius eps=E"},
		{"fgsm linf eps=0 ratio=0.5", "eps=0: want a finite radius > 0"},
		{"fgsm linf eps=0.1", "want the fraction ratio=R"},
		{"fgsm linf eps=0.1 ratio=0", "ratio=0: want a fraction in (0, 1]"},
		{"fgsm linf eps=0.1 ratio=0.5 steps=5", "pgd's"},
		{"fgsm linf eps=0.1 ratio=0.5 step_size=0.1", "pgd's"},
		{"pgd linf eps=0.1 ratio=0.5 steps=0", "steps=0: want at least 1"},
		{"fgsm linf eps=0.1 eps=0.2 ratio=0.5", "eps= given twice"},
		{"fgsm linf eps=5 ratio=0.5", "eps=5: want at most 1 in L∞"},
		{"fgsm l2 eps=30 ratio=0.5", "eps=30: want at most √(C·H·W) = 28 in L2"},
		{"deepfool l2 eps=1 ratio=0.5", "want fgsm or pgd"},
	} {
		if _, err := ParseAdversary(c.spec, "mnist"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.spec, err, c.want)
		}
	}
}

// fakeRun writes the measure.json a measured unit would have.
func fakeRun(t *testing.T, out string, u Unit, lambda, lmin, inLambda, rho, fgsm float64) {
	r := report.Run{Name: u.Name, Dir: u.Dir, Kind: u.Kind, BatchSize: u.BatchSize, Seed: u.Seed, Epochs: 1,
		TestAccuracy: 0.9, TopEigenvalues: []float64{lambda, lambda / 2}, MinEigenvalue: lmin, InputTopEigenvalue: inLambda,
		RhoAdv: rho, FGSM: []report.EpsAccuracy{{Eps: 0.1, Accuracy: fgsm}, {Eps: 0.2, Accuracy: fgsm / 2}},
		SaddlePoints: 100, Curvature: []report.EpochValue{{Epoch: 1, Value: lambda}}}
	dir := filepath.Join(out, u.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(filepath.Join(dir, MeasureFile), r); err != nil {
		t.Fatal(err)
	}
}

func TestSummarizeVerdicts(t *testing.T) {
	out := t.TempDir()
	s := testSweep()
	s.BatchSizes, s.Seeds = []int{64, 256, 1024}, 3
	if err := WriteSweep(out, s); err != nil {
		t.Fatal(err)
	}
	// Large batch: 3× larger spectrum, less robust; robust runs flatter.
	for _, u := range s.Units() {
		off := float64(u.Seed) * 0.1
		switch {
		case u.Kind == "normal" && u.BatchSize == 64:
			fakeRun(t, out, u, 10+off, -0.01, 1, 0.3, 0.8)
		case u.Kind == "normal" && u.BatchSize == 256:
			fakeRun(t, out, u, 20+off, -0.1, 2, 0.2, 0.6)
		case u.Kind == "normal":
			fakeRun(t, out, u, 30+off, -0.2, 4, 0.1, 0.4)
		default:
			fakeRun(t, out, u, 12+off, -0.05, 2, 0.25, 0.7)
		}
	}
	res, missing, err := Summarize(out, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 0 || len(res.Runs) != 12 || len(res.Groups) != 4 {
		t.Fatalf("missing %v, %d runs, %d groups", missing, len(res.Runs), len(res.Groups))
	}
	g := res.Groups[0]
	if g.Kind != "normal" || g.BatchSize != 64 || g.TopEigenvalue.N != 3 || math.Abs(g.TopEigenvalue.Mean-10.2) > 1e-12 {
		t.Errorf("first group %+v", g)
	}
	for i, want := range []string{report.Held, report.Held, report.Held, report.Held, report.Held} {
		if res.Claims[i].Verdict != want {
			t.Errorf("claim %d: %s (%s), want %s", i+1, res.Claims[i].Verdict, res.Claims[i].Evidence, want)
		}
	}
	for _, f := range []string{"results.json", "results.csv", "report.html", "figures/eigenvalue_vs_epoch.svg", "figures/robust_vs_normal.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	f, _ := os.Open(filepath.Join(out, "results.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 13 || rows[0][9] != "top_eigenvalue" || rows[1][9] != "10.1" {
		t.Errorf("results.csv: %v %v", err, rows)
	}

	// A sweep where large batch is flatter: claim 1 and 3 fail, and a
	// missing unit is reported, not fatal.
	out2 := t.TempDir()
	if err := WriteSweep(out2, s); err != nil {
		t.Fatal(err)
	}
	for _, u := range s.Units()[:9] {
		l := 10.0
		if u.BatchSize > 64 {
			l = 5
		}
		fakeRun(t, out2, u, l, -3, 1, 0.3, 0.8)
	}
	res, missing, err = Summarize(out2, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 3 {
		t.Errorf("missing %v, want the three robust units", missing)
	}
	if res.Claims[0].Verdict != report.NotHeld || res.Claims[1].Verdict != report.NotHeld || res.Claims[3].Verdict != report.Insufficient {
		t.Errorf("verdicts %+v", res.Claims)
	}
}

func TestWriteSweepRefusesAnother(t *testing.T) {
	out := t.TempDir()
	if err := WriteSweep(out, testSweep()); err != nil {
		t.Fatal(err)
	}
	if err := WriteSweep(out, testSweep()); err != nil {
		t.Errorf("same sweep again: %v", err)
	}
	other := testSweep()
	other.Seeds = 5
	if err := WriteSweep(out, other); err == nil || !strings.Contains(err.Error(), "holds another sweep") {
		t.Errorf("got %v", err)
	}
}

// TestRunUnitEndToEnd trains and measures one tiny unit on real MNIST and
// checks that a second call skips the finished work.
func TestRunUnitEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	out := t.TempDir()
	s := &Sweep{Model: "mlp", Dataset: "mnist", BatchSizes: []int{50}, Seeds: 1,
		Train: train.Config{Epochs: 1, LR: 0.1, Momentum: 0.9, TrainSamples: 500, TestSamples: 200},
		Measure: MeasureConfig{HessianSamples: 100, TopK: 1, LanczosIters: 15, TraceProbes: 3, DensityProbes: 1, DensitySteps: 8,
			InputSamples: 3, AttackSamples: 50, DeepFoolSamples: 20, SaddleSamples: 2, SaddleSteps: 1, LandscapePoints: 5}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := WriteSweep(out, s); err != nil {
		t.Fatal(err)
	}
	u := s.Units()[0]
	if err := RunUnit(context.Background(), s, out, u, UnitOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	var r report.Run
	if err := readJSON(filepath.Join(out, u.Dir, MeasureFile), &r); err != nil {
		t.Fatal(err)
	}
	if r.TestAccuracy < 0.3 || len(r.TopEigenvalues) != 1 || r.TopEigenvalues[0] <= 0 || r.RhoAdv <= 0 || len(r.FGSM) != 3 || r.SaddlePoints != 4 {
		t.Errorf("implausible measurement %+v", r)
	}
	// The ReLU mlp's input Hessian is PSD along the trajectories.
	if r.SaddleFraction != 0 {
		t.Errorf("saddle fraction %g for a ReLU net", r.SaddleFraction)
	}
	info, _ := os.Stat(filepath.Join(out, u.Dir, MeasureFile))
	if err := RunUnit(context.Background(), s, out, u, UnitOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	again, _ := os.Stat(filepath.Join(out, u.Dir, MeasureFile))
	if !again.ModTime().Equal(info.ModTime()) {
		t.Error("a finished unit was measured again")
	}
}

// TestSummarizeNonPositive: figures on logarithmic axes do not panic on a
// batch size or an eigenvalue that is not positive (a sweep.json written
// before Validate refused batch size 0, networks with λ₁ ≤ 0).
func TestSummarizeNonPositive(t *testing.T) {
	for k, bs := range [][2][]int{{{64, 1024}, {0}}, {{0}, {0}}, {{-8, 64}, {-8, 64}}, {{64, 1024}, {64}}} {
		out := t.TempDir()
		s := testSweep()
		s.BatchSizes, s.RobustBatchSizes = bs[0], bs[1]
		if err := WriteSweep(out, s); err != nil {
			t.Fatal(err)
		}
		for i, u := range s.Units() {
			lambda := float64(i) - 1
			if k == 3 {
				lambda = -float64(i) // no positive λ₁ at all
			}
			fakeRun(t, out, u, lambda, -0.1, 0, 0.2, 0.5)
		}
		if _, _, err := Summarize(out, "test"); err != nil {
			t.Errorf("batch sizes %v: %v", bs, err)
		}
	}
}
