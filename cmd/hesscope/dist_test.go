package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hesscope/analysis"
	"hesscope/dist"
	"hesscope/dist/disttest"
)

// runRanks runs the command line on p in-process ranks (disttest) and
// returns each rank's exit status, standard output and standard error.
func runRanks(p int, args ...string) (codes []int, stdout, stderr []string) {
	codes, stdout, stderr = make([]int, p), make([]string, p), make([]string, p)
	disttest.Run(p, func(c dist.Comm) {
		var out, errOut bytes.Buffer
		codes[c.Rank()] = runIn(context.Background(), c, args, &out, &errOut)
		stdout[c.Rank()], stderr[c.Rank()] = out.String(), errOut.String()
	})
	return
}

// TestCommandsOnRanks: spectrum on 2 and 3 ranks prints, on rank 0 only,
// the one-process result to rounding and writes its file from rank 0; a command that does not split its work refuses several
// ranks, and spectrum -input too.
func TestCommandsOnRanks(t *testing.T) {
	dir := t.TempDir()
	data := writeImages(t, dir, 24, 1, 28, 28, nil)
	args := []string{"spectrum", "-model", "mlp", "-dataset", data, "-precision", "float64", "-batch-size", "4",
		"-top-k", "2", "-min", "-max-iter", "10", "-trace", "-trace-matvecs", "6", "-json", "-quiet", "-threads", "1"}
	code, stdout, stderr := runCLI(context.Background(), args...)
	if code != 0 {
		t.Fatalf("one process: exit %d: %s", code, stderr)
	}
	ref := decode[analysis.SpectrumResult](t, stdout)
	for _, p := range []int{2, 3} {
		out := filepath.Join(dir, "out"+string(rune('0'+p)))
		codes, stdout, stderr := runRanks(p, append(args, "-out", out)...)
		for r := range p {
			if codes[r] != 0 {
				t.Fatalf("%d ranks: rank %d exit %d: %s", p, r, codes[r], stderr[r])
			}
			if r > 0 && stdout[r] != "" {
				t.Errorf("%d ranks: rank %d printed %q", p, r, stdout[r])
			}
		}
		got := decode[analysis.SpectrumResult](t, stdout[0])
		vals := func(r *analysis.SpectrumResult) []float64 {
			return append([]float64{r.Loss, r.Accuracy, r.GradNorm, *r.MinEigen, r.Trace.HutchPP.Estimate, float64(r.Samples), float64(r.HVPs)}, r.TopEigen...)
		}
		g, w := vals(got), vals(ref)
		for i := range w {
			if math.Abs(g[i]-w[i]) > 1e-10*math.Abs(w[i]) {
				t.Errorf("%d ranks: value %d is %v, one process %v", p, i, g[i], w[i])
			}
		}
		if _, err := os.Stat(filepath.Join(out, "spectrum.json")); err != nil {
			t.Errorf("%d ranks: %v", p, err)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "-model", "mlp", "-dataset", data}, "started as 2 MPI ranks, but eval runs as one process"},
		{append(append([]string(nil), args...), "-input"), "-input: the Hessian with respect to the whole input batch is not split across ranks"},
		{[]string{"sharpness", "-model", "mlp", "-dataset", data, "-metric", "m"}, "m-sharpness works on sub-batches"},
	} {
		codes, _, stderr := runRanks(2, c.args...)
		if codes[0] != 2 || codes[1] != 2 || !strings.Contains(stderr[0], c.want) {
			t.Errorf("%v on 2 ranks: exit %v, stderr %q; want 2 and %q", c.args[0], codes, stderr[0], c.want)
		}
	}
}

// TestSweepEmitSlurm: sweep -config -emit slurm writes the three scripts
// for the configuration's units with the flags' resources.
func TestSweepEmitSlurm(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.json")
	if err := os.WriteFile(cfg, []byte(`{"model": "mlp", "dataset": "mnist", "batch_sizes": [32, 64, 128], "seeds": 1,
		"train": {"epochs": 1, "lr": 0.05, "lr_scaling": "none", "train_samples": 256}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "study")
	code, stdout, stderr := runCLI(context.Background(), "sweep", "-config", cfg, "-out", out, "-emit", "slurm", "-cpus", "3",
		"-time", "90m", "-sbatch", "--partition=cpu", "-binary", "/opt/hesscope")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "3 units, each 3 cores") {
		t.Errorf("stdout %q", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "slurm", "array.sbatch"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--array=0-2\n", "--cpus-per-task=3\n", "--time=0-01:30:00\n", "--partition=cpu\n", "exec /opt/hesscope sweep -out " + out + " -only"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("array.sbatch lacks %q", want)
		}
	}
	for _, f := range []string{"summary.sbatch", "submit.sh", "../sweep.json"} {
		if _, err := os.Stat(filepath.Join(out, "slurm", f)); err != nil {
			t.Error(err)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-emit", "pbs"}, `-emit "pbs": want slurm`},
		{[]string{"-emit", "slurm", "-time", "5s"}, "-time \"5s\""},
		{[]string{"-emit", "slurm", "-only", "1"}, "cannot be combined"},
		{[]string{"-emit", "slurm", "-sbatch", "rm -rf /"}, "want an option"},
		{[]string{"-preset", "demo"}, "-preset and -config: give one"},
		{[]string{"-submit"}, "-submit: only with -emit slurm"},
		{[]string{"-cpus", "4"}, "-cpus: only with -emit slurm"},
		{[]string{"-emit", "slurm", "-cpus", "100000"}, "-cpus 100000: want at most 4096"},
		{[]string{"-emit", "slurm", "-mem", "99999999999"}, "-mem 99999999999: want at most 67108864"},
		{[]string{"-emit", "slurm", "-cpus", "-3"}, "want 0 (default) or more"},
		// Units whose passes cannot fit are refused before anything is
		// written (a folder x would fail the next cases' -preset check).
		// ResNet-18 takes about 8 MiB per image in a training step; the
		// passes never hold more images than the training set has.
		{[]string{"-model", "resnet18", "-dataset", "cifar10", "-batch-sizes", "1000000000", "-micro-batch", "1000000000", "-train-samples", "50000"}, "a training step of 50000 images needs about"},
		{[]string{"-only", "99"}, "-only 99: the sweep has units 0 to 2"},
		{[]string{"-only", "-5"}, "-only -5: the sweep has units 0 to 2"},
	} {
		code, _, stderr := runCLI(context.Background(), append([]string{"sweep", "-config", cfg, "-out", filepath.Join(dir, "x")}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		es, _ := os.ReadDir(filepath.Join(dir, "x"))
		t.Errorf("a refused sweep wrote its folder: %v", es)
	}
}
