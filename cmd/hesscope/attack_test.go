package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hesscope/analysis"
	"hesscope/attack"
	"hesscope/checkpoint"
	"hesscope/experiment"
	"hesscope/models"
	"hesscope/tensor"
)

// labelledByModel writes n random MNIST-shaped images labelled with a fresh
// mlp's own predictions (so that its clean accuracy is 1) and the mlp's
// weights, and returns the two files.
func labelledByModel(t *testing.T, n int) (weights, dataset string) {
	t.Helper()
	dir := t.TempDir()
	net, err := models.New[float32]("mlp", models.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	weights = filepath.Join(dir, "mlp.safetensors")
	if err := experiment.SaveModel(weights, net, nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := tensor.New[float32](n, 1, 28, 28)
	for i := range x.Data {
		x.Data[i] = float32(rng.Float64())
	}
	pred, err := attack.Predict[float32](context.Background(), net, x, attack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	y := &checkpoint.Tensor{DType: checkpoint.I64, Shape: []int{n}, I64: make([]int64, n)}
	for i, p := range pred {
		y.I64[i] = int64(p)
	}
	dataset = filepath.Join(dir, "data.safetensors")
	f := &checkpoint.File{Tensors: map[string]*checkpoint.Tensor{"x": checkpoint.FromDense(checkpoint.F32, x), "y": y}}
	if err := checkpoint.WriteFile(dataset, f); err != nil {
		t.Fatal(err)
	}
	return weights, dataset
}

func TestAttackUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"attack", "-eps", "0.1"}, "-method is required"},
		{[]string{"attack", "-method", "cw", "-eps", "0.1"}, "-method \"cw\""},
		{[]string{"attack", "-method", "fgsm"}, "-eps is required"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1,x"}, "-eps"},
		{[]string{"attack", "-method", "pgd", "-eps", "-0.1"}, "-eps"},
		{[]string{"attack", "-method", "deepfool", "-norm", "linf"}, "L2 attack"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-norm", "l1"}, "-norm"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-samples", "none"}, "-samples"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-restarts", "0"}, "-restarts"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1", "-steps", "3"}, "-steps is not used with -method fgsm"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1", "-restarts", "2"}, "-restarts is not used with -method fgsm"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1", "-step-size", "0.1"}, "-step-size is not used with -method fgsm"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1", "-random-start=false"}, "-random-start is not used with -method fgsm"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1", "-overshoot", "0.1"}, "-overshoot is not used with -method fgsm"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-candidates", "3"}, "-candidates is not used with -method pgd"},
		{[]string{"attack", "-method", "deepfool", "-restarts", "2"}, "-restarts is not used with -method deepfool"},
		{[]string{"attack", "-method", "deepfool", "-step-size", "0.1"}, "-step-size is not used with -method deepfool"},
		{[]string{"attack", "-method", "deepfool", "-large-eps", "3"}, "-large-eps is not used with -method deepfool"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-checks=false", "-large-eps", "0.5"}, "-large-eps is not used with -checks=false"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-step-size", "1e300"}, "-step-size 1e+300: want a finite value from 0 (2.5·ε/steps) to 1000"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-plot", filepath.Join(dir, "c.gif")}, "-plot"},
		{[]string{"attack", "-method", "pgd", "-eps", "0.1", "-plot", filepath.Join(dir, "no", "c.png")}, "does not exist"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1", "-save-examples", filepath.Join(dir, "a.npz")}, "-save-examples"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1", "-activation", "gelu"}, "-activation"},
		{[]string{"attack", "-method", "fgsm", "-eps", "0.1"}, "-model is required"},
		{[]string{"attack", "-model", "lenet5", "-method", "fgsm", "-eps", "1e9"}, "-eps 1e+09: want at most 1 in L∞"},
		{[]string{"attack", "-model", "lenet5", "-method", "pgd", "-norm", "l2", "-eps", "0.5,100", "-samples", "5", "-quiet"}, "want at most √(C·H·W) = 28 in L2"},
		{[]string{"attack", "-model", "lenet5", "-method", "pgd", "-eps", "0.1", "-samples", "0"}, `-samples "0": want a positive number or all`},
		{[]string{"attack", "-model", "lenet5", "-method", "pgd", "-eps", "0.1", "-steps", "1000000"}, "-steps 1000000: want 1 to 100000"},
		{[]string{"attack", "-model", "lenet5", "-method", "pgd", "-eps", "0.1", "-restarts", "5000"}, "-restarts 5000"},
		{[]string{"attack", "-model", "lenet5", "-method", "pgd", "-eps", "0.1", "-batch-size", "1000000"}, "-batch-size 1000000"},
		{[]string{"saddle-check", "-eps", "0"}, "-eps"},
		{[]string{"saddle-check", "-eps", "5"}, "-eps 5: want at most 1 in L∞"},
		{[]string{"saddle-check", "-steps", "1001"}, "-steps 1001: want 1 to 1000"},
		{[]string{"saddle-check", "-tol", "2"}, "-tol"},
		{[]string{"saddle-check", "-precision", "float16"}, "-precision"},
		{[]string{"train", "-model", "mlp", "-out", dir, "-adv-eps", "0.1"}, "needs -adv"},
		{[]string{"train", "-model", "mlp", "-out", dir, "-adv", "deepfool", "-adv-eps", "0.1"}, "-adv \"deepfool\""},
		{[]string{"train", "-model", "mlp", "-out", dir, "-adv", "fgsm"}, "-adv-eps"},
		{[]string{"train", "-model", "mlp", "-out", dir, "-adv", "pgd", "-adv-eps", "0.1", "-adv-ratio", "1.5"}, "-adv-ratio"},
	} {
		code, _, stderr := hesscope(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

func TestAttackCommand(t *testing.T) {
	weights, dataset := labelledByModel(t, 24)
	dir := t.TempDir()
	png, adv := filepath.Join(dir, "curve.png"), filepath.Join(dir, "adv.safetensors")
	code, stdout, stderr := hesscope(t, "attack", "-weights", weights, "-dataset", dataset, "-method", "pgd", "-eps", "0.001,0.01",
		"-steps", "3", "-samples", "all", "-plot", png, "-save-examples", adv, "-json", "-quiet")
	if code != 0 {
		t.Fatalf("attack: exit %d: %s", code, stderr)
	}
	var r analysis.AttackResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.CleanAccuracy != 1 || len(r.Results) != 2 || len(r.FGSM) != 2 || r.LargeEps == nil || len(r.Checks) != 4 || len(r.Examples) != 2 {
		t.Fatalf("result %+v", r)
	}
	if r.Results[1].Accuracy > r.Results[0].Accuracy || r.Results[1].Accuracy == 1 {
		t.Errorf("curve %+v", r.Results)
	}
	for _, f := range append(r.Examples, png) {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if !strings.HasSuffix(r.Examples[0], "adv-eps0.001.safetensors") {
		t.Errorf("examples %v", r.Examples)
	}
	// The saved examples are a dataset.
	code, stdout, stderr = hesscope(t, "attack", "-weights", weights, "-dataset", r.Examples[1], "-method", "deepfool", "-json", "-quiet")
	if code != 0 {
		t.Fatalf("deepfool on saved examples: exit %d: %s", code, stderr)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatal(err)
	}
	if _, ok := d["rho_adv"].(float64); !ok {
		t.Errorf("deepfool JSON without rho_adv: %s", stdout)
	}
	if _, ok := d["results"].([]any); !ok {
		t.Errorf("deepfool JSON without a results list: %s", stdout)
	}
	code, stdout, stderr = hesscope(t, "attack", "-weights", weights, "-dataset", dataset, "-method", "fgsm", "-eps", "0.01", "-samples", "10", "-quiet")
	if code != 0 || !strings.Contains(stdout, "check large_eps") || !strings.Contains(stdout, "clean accuracy  100.00% (10/10)") {
		t.Errorf("table output: exit %d, %s %s", code, stdout, stderr)
	}
}

func TestSaddleCheckCommand(t *testing.T) {
	weights, dataset := labelledByModel(t, 2)
	for _, act := range []string{"relu", "softplus"} {
		code, stdout, stderr := hesscope(t, "saddle-check", "-weights", weights, "-dataset", dataset, "-activation", act,
			"-samples", "2", "-steps", "2", "-eps", "0.05", "-max-iter", "40", "-json", "-points", "-quiet")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", act, code, stderr)
		}
		var r analysis.SaddleResult
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		if r.Points != 6 || len(r.Trajectory) != 6 || len(r.PerStep) != 3 {
			t.Fatalf("%s: %+v", act, r.SaddleReport)
		}
		if (act == "relu") != (r.Negative == 0) {
			t.Errorf("%s: %d of %d points indefinite, min ratio %g", act, r.Negative, r.Points, r.MinRatio)
		}
	}
}

func TestTrainAdversarial(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "-model", "mlp", "-train-samples", "64", "-test-samples", "16", "-batch-size", "16", "-out", out, "-quiet",
		"-adv", "pgd", "-adv-eps", "0.1", "-adv-steps", "2", "-adv-ratio", "0.5"}
	if code, _, stderr := hesscope(t, args...); code != 0 {
		t.Fatalf("train -adv: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := "pgd linf eps=0.1 ratio=0.5 steps=2 step_size=0.125 random_start=true"
	if !strings.Contains(string(b), want) {
		t.Errorf("config.json does not record %q:\n%s", want, b)
	}
	// Resuming rebuilds the perturbation from config.json; other -adv
	// settings are refused.
	if code, _, stderr := hesscope(t, "train", "-out", out, "-resume", "-quiet"); code != 0 {
		t.Errorf("resume: exit %d: %s", code, stderr)
	}
	if code, _, stderr := hesscope(t, "train", "-out", out, "-resume", "-quiet", "-adv", "fgsm", "-adv-eps", "0.1"); code != 2 || !strings.Contains(stderr, "trains with -adv") {
		t.Errorf("resume with other -adv: exit %d: %s", code, stderr)
	}
}

// TestOutputsNeverReplaceInputs: an output that is an input (whatever the
// spelling of its path), or an existing file that -save-examples did not
// write (a model, a run's state), is refused before any work in one line,
// exit 2, and the file is left as it was; a previous examples file may be
// overwritten.
func TestOutputsNeverReplaceInputs(t *testing.T) {
	weights, ds := labelledByModel(t, 4)
	dir := filepath.Dir(weights)
	other := modelFile(t, "mlp", map[string]string{"model": "mlp"}, nil)
	asPlot := filepath.Join(dir, "weights.png")
	asJSON := filepath.Join(t.TempDir(), "spectrum.json")
	for _, p := range []string{asPlot, asJSON} {
		b, err := os.ReadFile(weights)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	examples := filepath.Join(t.TempDir(), "ex.safetensors")
	fgsm := []string{"attack", "-weights", weights, "-dataset", ds, "-method", "fgsm", "-eps", "0.1", "-samples", "4", "-quiet"}
	if code, _, stderr := hesscope(t, append(fgsm, "-save-examples", examples)...); code != 0 {
		t.Fatalf("first -save-examples: exit %d: %s", code, stderr)
	}
	for _, c := range []struct {
		args []string
		file string // must be left as it was
		want string
		code int
	}{
		{append(slices.Clone(fgsm), "-save-examples", weights), weights, "an output must never replace an input", 2},
		{append(slices.Clone(fgsm), "-save-examples", filepath.Join(dir, ".", "..", filepath.Base(dir), "mlp.safetensors")), weights, "an output must never replace an input", 2},
		{append(slices.Clone(fgsm), "-save-examples", ds), ds, "an output must never replace an input", 2},
		{append(slices.Clone(fgsm), "-save-examples", other), other, "not a previous run's adversarial examples", 2},
		// Two radii write other-eps0.1 and other-eps0.2, not other itself.
		{append(slices.Clone(fgsm), "-eps", "0.1,0.2", "-save-examples", other), other, "", 0},
		{append(slices.Clone(fgsm), "-save-examples", examples), "", "", 0},
		{[]string{"spectrum", "-weights", asJSON, "-dataset", ds, "-samples", "4", "-quiet", "-out", filepath.Dir(asJSON)}, asJSON, "an output must never replace an input", 2},
		{[]string{"landscape", "-weights", asPlot, "-dataset", ds, "-samples", "4", "-quiet", "-plot", asPlot}, asPlot, "an output must never replace an input", 2},
		{[]string{"sharpness", "-weights", weights, "-dataset", ds, "-samples", "4", "-quiet", "-out", weights}, weights, "is not a folder", 2},
	} {
		var before []byte
		if c.file != "" {
			before, _ = os.ReadFile(c.file)
		}
		code, _, stderr := hesscope(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || (c.code != 0 && strings.Count(stderr, "\n") != 1) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
		if c.file != "" {
			if after, _ := os.ReadFile(c.file); !bytes.Equal(before, after) {
				t.Errorf("%v: %s was changed", c.args, c.file)
			}
		}
	}
}
