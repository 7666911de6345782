package experiment

import (
	"context"
	"encoding/csv"
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
		{func(s *Sweep) { s.Model = "vgg" }, `unknown model "vgg"`},
		{func(s *Sweep) { s.Dataset = "imagenet" }, `unknown dataset "imagenet"`},
		{func(s *Sweep) { s.BatchSizes = []int{0} }, "batch size 0"},
		{func(s *Sweep) { s.Seeds = 0 }, "0 seeds"},
		{func(s *Sweep) { s.Adversary = "bogus" }, "adversary"},
	} {
		s := testSweep()
		c.edit(s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
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
	if err := RunUnit(context.Background(), s, out, u, nil, "test"); err != nil {
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
	if err := RunUnit(context.Background(), s, out, u, nil, "test"); err != nil {
		t.Fatal(err)
	}
	again, _ := os.Stat(filepath.Join(out, u.Dir, MeasureFile))
	if !again.ModTime().Equal(info.ModTime()) {
		t.Error("a finished unit was measured again")
	}
}
