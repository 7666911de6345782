package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hesscope/experiment"
	"hesscope/train"
)

// hesscope runs the command line args and returns the exit status and output.
func hesscope(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTrainUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string // in the one-line message
	}{
		{[]string{"train", "-model", "mlp"}, "-out is required"},
		{[]string{"train", "-out", dir}, "-model is required"},
		{[]string{"train", "-model", "vgg", "-out", dir}, "-model vgg"},
		{[]string{"train", "-model", "mlp", "-dataset", "imagenet", "-out", dir}, "-dataset imagenet"},
		{[]string{"train", "-model", "mlp", "-batch-size", "0", "-out", dir}, "-batch-size 0"},
		{[]string{"train", "-model", "mlp", "-lr", "-1", "-out", dir}, "-lr -1"},
		{[]string{"train", "-model", "mlp", "-schedule", "poly", "-out", dir}, "-schedule poly"},
		{[]string{"train", "-model", "mlp", "-schedule", "step", "-out", dir}, "-milestones"},
		{[]string{"train", "-model", "mlp", "-milestones", "a,b", "-out", dir}, "-milestones"},
		{[]string{"train", "-model", "mlp", "-augment=maybe", "-out", dir}, "-augment"},
		{[]string{"train", "-model", "mlp", "-nesterov", "-momentum", "0", "-out", dir}, "-nesterov"},
		{[]string{"train", "-model", "mlp", "-precision", "float16", "-out", dir}, "-precision float16"},
		{[]string{"train", "-model", "mlp", "-warmup", "5", "-epochs", "1", "-out", dir}, "-warmup 5 is longer than -epochs 1"},
		{[]string{"train", "-model", "mlp", "-threads", "100000", "-out", dir}, "-threads 100000: want 1 to"},
		// Radii beyond the pixel cube, and PGD without an end.
		{[]string{"train", "-model", "mlp", "-adv", "fgsm", "-adv-eps", "2", "-out", dir}, "-adv-eps 2: want at most 1 in L∞"},
		{[]string{"train", "-model", "mlp", "-adv", "fgsm", "-adv-norm", "l2", "-adv-eps", "30", "-out", dir}, "-adv-eps 30: want at most √(C·H·W) = 28 in L2"},
		{[]string{"train", "-model", "mlp", "-schedule", "absa", "-absa-adv-eps", "2", "-out", dir}, "-absa-adv-eps 2: want at most 1"},
		{[]string{"train", "-model", "mlp", "-adv", "pgd", "-adv-eps", "0.1", "-adv-steps", "1000000", "-out", dir}, "-adv-steps 1000000: want at most 100000"},
		// Flags the run would not use, and zeros that are no default.
		{[]string{"train", "-model", "mlp", "-gamma", "0.5", "-out", dir}, "-gamma is not used with -schedule constant"},
		{[]string{"train", "-model", "mlp", "-gamma", "NaN", "-out", dir}, "-gamma is not used with -schedule constant"},
		{[]string{"train", "-model", "mlp", "-track-samples", "100", "-out", dir}, "-track-samples is not used without -track-every"},
		{[]string{"train", "-model", "mlp", "-track-trace", "-out", dir}, "-track-trace is not used without -track-every"},
		{[]string{"train", "-model", "mlp", "-track-every", "1", "-track-probes", "5", "-out", dir}, "-track-probes is not used without -track-trace"},
		{[]string{"train", "-model", "mlp", "-track-every", "1", "-track-samples", "0", "-out", dir}, "-track-samples 0: want at least 1"},
		{[]string{"train", "-model", "mlp", "-track-every", "1", "-track-iters", "100000000", "-out", dir}, "-track-iters 100000000: want at most 100000"},
		{[]string{"train", "-model", "mlp", "-schedule", "absa", "-absa-eigen-iters", "100000000", "-out", dir}, "-absa-eigen-iters 100000000: want at most 100000"},
		{[]string{"train", "-model", "mlp", "-track-every", "1", "-track-trace", "-track-probes", "0", "-out", dir}, "-track-probes 0: want at least 1"},
		// Passes that cannot fit, refused before anything is written:
		// ResNet-18 takes about 8 MiB per image in a training step.
		{[]string{"train", "-model", "resnet18", "-dataset", "cifar10", "-batch-size", "50000", "-micro-batch", "50000", "-out", dir}, "a training step of 50000 images needs about"},
		{[]string{"train", "-model", "resnet18", "-dataset", "cifar10", "-batch-size", "50000", "-micro-batch", "50000", "-out", dir}, "(lower -micro-batch)"},
		{[]string{"eval", "-weights", "x", "-threads", "99999999"}, "-threads 99999999: want 1 to"},
		{[]string{"eval", "-weights", "x", "-threads", "0"}, "-threads 0"},
		{[]string{"eval"}, "-weights is required"},
		{[]string{"eval", "-weights", "x", "-split", "val"}, "-split"},
		{[]string{"eval", "-weights", "x", "-batch-size", "0"}, "-batch-size 0"},
	}
	// A sweep's folder: its files and a run's would mix.
	sweepDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(sweepDir, experiment.SweepFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		args []string
		want string
	}{[]string{"train", "-model", "mlp", "-out", sweepDir}, "holds a sweep"})
	for _, c := range cases {
		code, _, stderr := hesscope(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("usage errors wrote to the run folder: %v", entries)
	}
}

// TestTrainEval trains a small MLP on the first MNIST images through the
// command line, evaluates its model file with eval, and exercises -resume.
func TestTrainEval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "-model", "mlp", "-train-samples", "512", "-test-samples", "200", "-batch-size", "64",
		"-lr", "0.1", "-normalize", "-out", dir, "-json", "-quiet"}
	code, stdout, stderr := hesscope(t, args...)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	var sum train.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("train -json: %v\n%s", err, stdout)
	}
	if sum.Steps != 8 || sum.Epochs != 1 || sum.TestAcc < 0.5 {
		t.Errorf("summary %+v: want 8 steps and a test accuracy above 50%%", sum)
	}

	code, stdout, stderr = hesscope(t, "eval", "-weights", sum.ModelFile, "-samples", "200", "-json", "-quiet")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	var ev EvalResult
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Accuracy != sum.TestAcc || ev.Loss != sum.TestLoss || !ev.Normalize || ev.Model != "mlp" {
		t.Errorf("eval %+v; want the run's test accuracy %v and loss %v, normalised", ev, sum.TestAcc, sum.TestLoss)
	}

	if code, _, stderr = hesscope(t, args...); code != 2 || !strings.Contains(stderr, "already holds a run") {
		t.Errorf("train into a used folder: exit %d, %q", code, stderr)
	}
	if code, _, stderr = hesscope(t, "train", "-out", dir, "-resume", "-lr", "0.2"); code != 2 || !strings.Contains(stderr, "lr") {
		t.Errorf("resume with another -lr: exit %d, %q", code, stderr)
	}
	code, stdout, stderr = hesscope(t, "train", "-out", dir, "-resume", "-lr", "0.1", "-json")
	if code != 0 || !strings.Contains(stdout, `"already_done": true`) {
		t.Errorf("resume of a finished run: exit %d, %s %s", code, stdout, stderr)
	}

	// The same checkpoint in PyTorch, when it is installed.
	py := "/usr/bin/python3"
	if testing.Short() || exec.Command(py, "-c", "import torch").Run() != nil {
		return
	}
	out, err := exec.Command(py, "../../scripts/torch_eval.py", "--weights", sum.ModelFile, "--samples", "200", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("torch_eval.py: %v\n%s", err, out)
	}
	var te struct{ Accuracy, Loss float64 }
	if err := json.Unmarshal(out, &te); err != nil {
		t.Fatalf("torch_eval.py: %v\n%s", err, out)
	}
	if te.Accuracy != sum.TestAcc || abs(te.Loss-sum.TestLoss) > 1e-5 {
		t.Errorf("PyTorch: accuracy %v loss %v; hesscope: %v, %v", te.Accuracy, te.Loss, sum.TestAcc, sum.TestLoss)
	}
}

func abs(x float64) float64 { return max(x, -x) }

// TestTrainNaN checks that a diverging run fails with exit status 1 and a
// one-line message. The warm-up makes the rate at step s about s + 1 (64
// steps of 4 images): the loss diverges within the epoch.
func TestTrainNaN(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := hesscope(t, "train", "-model", "mlp", "-train-samples", "256", "-test-samples", "16", "-batch-size", "4",
		"-lr", "64", "-warmup-steps", "64", "-checkpoint-every", "1", "-out", dir, "-quiet")
	if code != 1 || !strings.Contains(stderr, "at epoch 1, step") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want 1 and one line naming the epoch and step", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, train.StateFile)); err != nil {
		t.Errorf("no checkpoint kept: %v", err)
	}
}
