package main

import (
	"context"
	"fmt"
	"hesscope/train"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSweepRefusesBadSettings: a bad flag or -config field of sweep is
// refused with one line that names it, exit status 2, before anything is
// written.
func TestSweepRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	base := []string{"-model", "mlp", "-dataset", "mnist", "-batch-sizes", "64", "-seeds", "1", "-epochs", "1", "-train-samples", "256"}
	n := 0
	config := func(measure string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("c%d.json", n))
		if err := os.WriteFile(p, []byte(`{"model": "mlp", "dataset": "mnist", "batch_sizes": [64], "seeds": 1,
			"train": {"epochs": 1, "lr": 0.05}, "measure": {`+measure+`}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trainConfig := func(train string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("c%d.json", n))
		if err := os.WriteFile(p, []byte(`{"model": "mlp", "dataset": "mnist", "batch_sizes": [64], "seeds": 1,
			"train": {"epochs": 1, "lr": 0.05, `+train+`}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-robust", "-robust-batch-sizes", "0"}, "-robust-batch-sizes 0: want batch sizes of at least 1"},
		{[]string{"-robust", "-robust-batch-sizes", "-4"}, "-robust-batch-sizes -4: want batch sizes of at least 1"},
		{[]string{"-robust", "-robust-batch-sizes", "64,64"}, "-robust-batch-sizes 64: given twice"},
		{[]string{"-batch-sizes", "64,64"}, "-batch-sizes 64: given twice"},
		{[]string{"-robust", "-adversary", "fgsm linf"}, `-adversary "fgsm linf": want the radius eps=E`},
		{[]string{"-robust", "-adversary", "fgsm linf eps=0.1 ratio=0"}, "ratio=0: want a fraction in (0, 1]"},
		{[]string{"-robust", "-adversary", "fgsm linf eps=0.1 ratio=0.5 steps=5"}, "pgd's"},
		{[]string{"-robust", "-adversary", "fgsm linf eps=0.1 eps=0.2 ratio=0.5"}, "eps= given twice"},
		{[]string{"-robust", "-adversary", "fgsm linf eps=5 ratio=0.5"}, "eps=5: want at most 1 in L∞"},
		{[]string{"-robust", "-adversary", "pgd linf eps=0.1 ratio=0.5 steps=200000"}, "steps=200000: want at most 100000"},
		{[]string{"-adversary", "bogus"}, "-adversary: only with -robust"},
		{[]string{"-robust-batch-sizes", "64"}, "-robust-batch-sizes: only with -robust"},
		{[]string{"-robust=false", "-adversary", "fgsm linf eps=0.1 ratio=0.5"}, "-adversary: only with -robust"},
		{[]string{"-fgsm-eps", "0.1,2"}, "-fgsm-eps 2: want FGSM radii in (0, 1]"},
		{[]string{"-summarize", "-list"}, "-summarize with -list or -only: give one"},
		{[]string{"-summarize", "-only", "0"}, "-summarize with -list or -only: give one"},
		{[]string{"-epochs", "0"}, "-epochs 0: want at least 1"},
		{[]string{"-lr", "0"}, "-lr 0: want a finite learning rate > 0"},
		{[]string{"-micro-batch", "0"}, "-micro-batch 0: want at least 1"},
		{[]string{"-base-batch", "0"}, "-base-batch 0: want at least 1"},
		{[]string{"-top-k", "0"}, "-top-k 0: want at least 1"},
		{[]string{"-hessian-samples", "0"}, "-hessian-samples 0: want at least 1"},
		{[]string{"-attack-samples", "0"}, "-attack-samples 0: want at least 1"},
		{[]string{"-top-k", "-1"}, "-top-k -1: want at least 1"},
		{[]string{"-hessian-samples", "-1"}, "-hessian-samples -1: want at least 1"},
		{[]string{"-attack-samples", "-1"}, "-attack-samples -1: want at least 1"},
		{[]string{"-input-samples", "-1"}, "-input-samples -1: want at least 1"},
		{[]string{"-config", config(`"top_k": -5`)}, ".json: measure.top_k -5: want 0 (the default) or more"},
		{[]string{"-config", config(`"landscape_points": 1`)}, ".json: measure.landscape_points 1: want at least 2"},
		{[]string{"-config", config(`"landscape_points": 5000`)}, ".json: measure.landscape_points 5000: want 2 to 1001"},
		{[]string{"-config", config(`"density_steps": 1`)}, ".json: measure.density_steps 1: want at least 2"},
		{[]string{"-config", config(`"density_probes": 1000, "density_steps": 10000`)}, ".json: measure.density_probes 1000"},
		{[]string{"-config", config(`"trace_probes": 2000000`)}, ".json: measure.trace_probes 2000000"},
		{[]string{"-config", config(`"saddle_steps": 100000`)}, ".json: measure.saddle_steps 100000: want 1 to 1000"},
		{[]string{"-config", config(`"saddle_eps": 5`)}, ".json: measure.saddle_eps 5: want a radius in (0, 1]"},
		{[]string{"-config", config(`"landscape_range": 1e300`)}, ".json: measure.landscape_range 1e+300: want at most 1000"},
		{[]string{"-config", config(`"top_k": 100`)}, ".json: measure.top_k 100: want at most lanczos_iters (80)"},
		// A training setting of the file is named by its field.
		{[]string{"-config", trainConfig(`"momentum": -5`)}, ".json: train.momentum -5: want a value in [0, 1) (unit normal-bs64-seed1)"},
		{[]string{"-config", trainConfig(`"warmup_epochs": -1`)}, ".json: train.warmup_epochs -1: want 0 or more epochs"},
		// A flag that sets the field is named instead of the file.
		{[]string{"-config", config(`"top_k": 2`), "-top-k", "-3"}, "-top-k -3: want at least 1"},
	} {
		args := append([]string{"sweep", "-out", out}, c.args...)
		if !strings.HasPrefix(c.args[0], "-config") {
			args = append(append([]string{"sweep", "-out", out}, base...), c.args...)
		}
		code, _, stderr := runCLI(context.Background(), args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		es, _ := os.ReadDir(out)
		t.Errorf("a refused sweep wrote its folder: %v", es)
	}
	// A training run's folder: the sweep's files and the run's would mix.
	runDir := filepath.Join(dir, "run")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir, train.ConfigFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(context.Background(), append([]string{"sweep", "-out", runDir}, base...)...)
	if code != 2 || !strings.Contains(stderr, "holds a training run") {
		t.Errorf("a sweep into a run's folder: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(runDir, "sweep.json")); err == nil {
		t.Errorf("a sweep refused in a run's folder wrote sweep.json")
	}
	// -summarize in a folder without a sweep says so.
	code, _, stderr = runCLI(context.Background(), "sweep", "-out", empty, "-summarize")
	if code != 2 || !strings.Contains(stderr, "-summarize: no sweep in "+empty+" (no sweep.json there)") {
		t.Errorf("-summarize in an empty folder: exit %d, stderr %q", code, stderr)
	}
	if es, _ := os.ReadDir(empty); len(es) != 0 {
		t.Errorf("-summarize in an empty folder wrote %v", es)
	}
}
