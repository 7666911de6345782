package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/experiment"
	"hesscope/models"
)

// modelFile writes a fresh model as a safetensors file with the given
// metadata, after letting edit change its state dict.
func modelFile(t *testing.T, name string, meta map[string]string, edit func(f *checkpoint.File)) string {
	t.Helper()
	net, err := models.New[float32](name, models.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	f := checkpoint.FromStateDict(experiment.StateDict(net), meta)
	if edit != nil {
		edit(f)
	}
	path := filepath.Join(t.TempDir(), name+".safetensors")
	if err := checkpoint.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFromWeights: the dataset comes from the model file's metadata when
// -dataset is absent; a different one is kept with a warning; a file that
// records none, or no file, means mnist.
func TestFromWeights(t *testing.T) {
	fashion := modelFile(t, "mlp", map[string]string{"model": "mlp", "dataset": "fashion-mnist"}, nil)
	plain := modelFile(t, "mlp", nil, nil)
	synthetic := modelFile(t, "mlp", map[string]string{"model": "mlp", "dataset": "synthetic"}, nil)
	for _, c := range []struct {
		src     sourceFlags
		dataset string
		warning string // in the one warning, if any
		err     string
	}{
		{sourceFlags{weights: fashion}, "fashion-mnist", "", ""},
		{sourceFlags{weights: fashion, dataset: "mnist", datasetFlag: "dataset"}, "mnist", fashion + " was trained on fashion-mnist, but -dataset asks for mnist", ""},
		{sourceFlags{weights: fashion, dataset: "mnist", datasetFlag: "data"}, "mnist", "-data asks for mnist", ""},
		{sourceFlags{weights: fashion, dataset: "x.safetensors", datasetFlag: "dataset"}, "x.safetensors", "", ""},
		{sourceFlags{weights: plain, model: "mlp"}, "mnist", "", ""},
		{sourceFlags{model: "mlp"}, "mnist", "", ""},
		{sourceFlags{model: "mlp", dataset: "cifar10", datasetFlag: "dataset"}, "cifar10", "", ""},
		{sourceFlags{weights: synthetic}, "", "", `-dataset is required: ` + synthetic + ` was trained on "synthetic"`},
	} {
		src := c.src
		_, err := src.fromWeights()
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: error %v, want %q", c.src, err, c.err)
			}
		case err != nil:
			t.Errorf("%+v: %v", c.src, err)
		case src.dataset != c.dataset || (c.warning == "") != (len(src.warnings) == 0) ||
			c.warning != "" && (len(src.warnings) != 1 || !strings.Contains(src.warnings[0], c.warning)):
			t.Errorf("%+v: dataset %q, warnings %q; want %q and %q", c.src, src.dataset, src.warnings, c.dataset, c.warning)
		}
	}
}

// TestDatasetFromMetadata runs eval and spectrum on a model file that
// records Fashion-MNIST: without -dataset they use Fashion-MNIST, with
// -dataset mnist they use MNIST and warn on standard error and in the JSON.
func TestDatasetFromMetadata(t *testing.T) {
	if _, err := data.Load("fashion-mnist", "test", data.Options{}); err != nil {
		t.Skipf("Fashion-MNIST is not available: %v", err)
	}
	w := modelFile(t, "mlp", map[string]string{"model": "mlp", "dataset": "fashion-mnist"}, nil)
	for _, cmd := range [][]string{
		{"eval", "-weights", w, "-samples", "20", "-json", "-quiet"},
		{"spectrum", "-weights", w, "-samples", "20", "-max-iter", "5", "-tol", "0.5", "-json", "-quiet"},
	} {
		code, stdout, stderr := hesscope(t, cmd...)
		var r struct {
			Dataset, Data string
			Warnings      []string
		}
		if err := json.Unmarshal([]byte(stdout), &r); code != 0 || err != nil || r.Dataset+r.Data != "fashion-mnist" || len(r.Warnings) != 0 {
			t.Errorf("%s without -dataset: exit %d, %+v, stderr %q", cmd[0], code, r, stderr)
		}
		code, stdout, stderr = hesscope(t, append(cmd, "-dataset", "mnist")...)
		r.Warnings = nil
		if err := json.Unmarshal([]byte(stdout), &r); code != 0 || err != nil || r.Dataset+r.Data != "mnist" || len(r.Warnings) != 1 ||
			!strings.Contains(stderr, "warning: "+w+" was trained on fashion-mnist, but -dataset asks for mnist") {
			t.Errorf("%s -dataset mnist: exit %d, %+v, stderr %q", cmd[0], code, r, stderr)
		}
	}
}

// TestBadModelFiles: a file of another format and a state dict with NaN
// weights are reported as such.
func TestBadModelFiles(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "picture.safetensors")
	if err := os.WriteFile(png, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10"), 0o644); err != nil {
		t.Fatal(err)
	}
	nan := modelFile(t, "lenet5", map[string]string{"model": "lenet5"}, func(f *checkpoint.File) {
		f.Tensors["conv2.weight"].F32[7] = float32(math.NaN())
	})
	bogus := modelFile(t, "lenet5", map[string]string{"model": "bogus"}, nil)
	gelu := modelFile(t, "lenet5", map[string]string{"model": "lenet5", "activation": "gelu"}, nil)
	fifo := filepath.Join(dir, "fifo.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "-weights", bogus}, bogus + `: its metadata names the model "bogus", which is not one of`},
		{[]string{"spectrum", "-weights", bogus}, bogus + `: its metadata names the model "bogus"`},
		{[]string{"eval", "-weights", gelu}, gelu + `: its metadata names the activation "gelu"`},
		{[]string{"attack", "-weights", gelu, "-method", "fgsm", "-eps", "0.1"}, gelu + `: its metadata names the activation "gelu"`},
		{[]string{"eval", "-weights", fifo}, "-weights " + fifo + ": not a regular file"},
		{[]string{"eval", "-weights", nan, "-dataset", fifo}, "-dataset " + fifo + ": not a regular file"},
		{[]string{"eval", "-weights", png, "-model", "lenet5"}, "checkpoint: " + png + ": not a safetensors file: a PNG image"},
		{[]string{"spectrum", "-weights", png, "-model", "lenet5"}, "not a safetensors file: a PNG image"},
		{[]string{"eval", "-weights", nan}, "checkpoint: " + nan + `: holds NaN at index 7 in tensor "conv2.weight"`},
		{[]string{"attack", "-weights", nan, "-method", "fgsm", "-eps", "0.1"}, `holds NaN at index 7 in tensor "conv2.weight"`},
	} {
		code, stdout, stderr := hesscope(t, append(c.args, "-quiet")...)
		if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 1 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// TestNonFiniteLoss: weights that are finite but whose loss is not (it
// overflows in float32) are refused up front by every command, in one
// line naming the file, exit 1 — not a NaN result, a panic or a bare
// JSON error.
func TestNonFiniteLoss(t *testing.T) {
	huge := modelFile(t, "lenet5", map[string]string{"model": "lenet5"}, func(f *checkpoint.File) {
		for i := range f.Tensors["fc2.weight"].F32 {
			f.Tensors["fc2.weight"].F32[i] = 3e38
		}
	})
	ds := writeImages(t, t.TempDir(), 8, 1, 28, 28, nil)
	src := []string{"-weights", huge, "-dataset", ds, "-quiet"}
	for _, args := range [][]string{
		{"eval"},
		{"eval", "-json"},
		{"spectrum", "-samples", "8"},
		{"spectrum", "-samples", "8", "-top-k", "0", "-density", "-density-steps", "3", "-density-probes", "1"},
		{"landscape", "-samples", "8", "-points", "3", "-max-iter", "3"},
		{"sharpness", "-samples", "8", "-iterations", "1", "-m", "4"},
		{"attack", "-method", "fgsm", "-eps", "0.1", "-samples", "8"},
		{"attack", "-method", "deepfool", "-steps", "3", "-samples", "8"},
		{"saddle-check", "-samples", "2", "-steps", "2", "-max-iter", "5", "-precision", "float32"},
	} {
		code, stdout, stderr := hesscope(t, append(args, src...)...)
		want := huge + ": the loss on "
		if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "not a finite number") || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and one line with %q", args, code, stdout, stderr, want)
		}
	}
}
