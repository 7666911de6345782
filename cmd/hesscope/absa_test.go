package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hesscope/train"
)

// TestTrainABSAUsage checks the usage errors of -schedule absa's flags.
func TestTrainABSAUsage(t *testing.T) {
	dir := t.TempDir()
	base := []string{"train", "-model", "mlp", "-out", dir}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-absa-max-batch", "256"}, "-schedule absa"},
		{[]string{"-schedule", "absa", "-absa-patience", "0"}, "-absa-patience 0"},
		{[]string{"-schedule", "absa", "-absa-max-batch", "64"}, "-absa-max-batch 64"},
		{[]string{"-schedule", "absa", "-absa-adv-fraction", "2"}, "-absa-adv-fraction 2"},
		{[]string{"-schedule", "absa", "-absa-adv-eps", "0"}, "-absa-adv-eps 0"},
		{[]string{"-schedule", "absa", "-absa-eigen-iters", "x"}, "-absa-eigen-iters"},
		{[]string{"-schedule", "absa", "-adv", "fgsm", "-adv-eps", "0.1"}, "-adv with -schedule absa"},
	}
	for _, c := range cases {
		args := append(append([]string(nil), base...), c.args...)
		code, _, stderr := hesscope(t, args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("usage errors wrote to the run folder: %v", entries)
	}
}

// TestTrainABSA trains with -schedule absa through the command line on 512
// MNIST images for two epochs, doubling after each, and resumes it with
// the same and with other ABSA settings.
func TestTrainABSA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "-model", "mlp", "-train-samples", "512", "-test-samples", "100", "-epochs", "2", "-batch-size", "64",
		"-schedule", "absa", "-absa-patience", "1", "-absa-max-batch", "256", "-absa-eigen-samples", "32", "-absa-eigen-iters", "4",
		"-absa-adv-fraction", "0.5", "-out", dir, "-quiet"}
	code, stdout, stderr := hesscope(t, args...)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "64 (epoch 1), 128 (2)\n") {
		t.Errorf("summary without the batch sizes:\n%s", stdout)
	}
	info, err := train.ReadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a := info.Config.ABSA; a == nil || a.Patience != 1 || a.MaxBatch != 256 || *a.AdvFraction != 0.5 || a.AdvEps != 0.005 {
		t.Errorf("config.json ABSA settings %+v", info.Config.ABSA)
	}
	ms, err := train.ReadMetrics(dir)
	if err != nil || len(ms) != 2 || ms[1].BatchSize != 128 || *ms[1].AdvFraction != 0.25 || ms[1].ABSAEigenvalue == nil {
		t.Fatalf("metrics %+v, %v", ms, err)
	}
	code, _, stderr = hesscope(t, "train", "-out", dir, "-resume", "-absa-patience", "3")
	if code != 2 || !strings.Contains(stderr, "absa") {
		t.Errorf("resume with another -absa-patience: exit %d, %q; want a usage error naming absa", code, stderr)
	}
	code, stdout, stderr = hesscope(t, "train", "-out", dir, "-resume", "-absa-patience", "1", "-schedule", "absa")
	if code != 0 || !strings.Contains(stdout, "already finished") {
		t.Errorf("resume with the same settings: exit %d, %s%s", code, stdout, stderr)
	}
}
