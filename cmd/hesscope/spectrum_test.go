package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hesscope/analysis"
	"hesscope/checkpoint"
)

// runCLI runs the command line in-process and returns the exit status and
// the output.
func runCLI(ctx context.Context, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeImages writes a synthetic dataset of n images of shape [c, h, w]
// (pixels in [0, 1]) with labels i mod 10 as a safetensors file, after
// letting edit change the pixels and labels.
func writeImages(t *testing.T, dir string, n, c, h, w int, edit func(x []float32, y []int64)) string {
	t.Helper()
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32((i*7919)%256) / 255
	}
	y := make([]int64, n)
	for i := range y {
		y[i] = int64(i % 10)
	}
	if edit != nil {
		edit(x, y)
	}
	f := &checkpoint.File{Tensors: map[string]*checkpoint.Tensor{
		"x": {DType: checkpoint.F32, Shape: []int{n, c, h, w}, F32: x},
		"y": {DType: checkpoint.I64, Shape: []int{n}, I64: y},
	}}
	path := filepath.Join(dir, "data.safetensors")
	if _, err := os.Stat(path); err == nil {
		path = filepath.Join(t.TempDir(), "data.safetensors")
	}
	if err := checkpoint.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAnalysisUsage: bad flags and bad data fail before any work with one
// line on standard error: exit 2 for usage errors, 1 for bad data.
func TestAnalysisUsage(t *testing.T) {
	dir := t.TempDir()
	good := writeImages(t, dir, 6, 1, 28, 28, nil)
	badLabel := writeImages(t, dir, 6, 1, 28, 28, func(_ []float32, y []int64) { y[4] = 12 })
	nan := writeImages(t, dir, 6, 1, 28, 28, func(x []float32, _ []int64) { x[800] = float32(math.NaN()) })
	shape := writeImages(t, dir, 6, 1, 20, 20, nil)
	negative := writeImages(t, dir, 6, 1, 28, 28, func(_ []float32, y []int64) { y[0] = -1 })
	base := []string{"-dataset", good, "-quiet"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"spectrum"}, 2, "-model is required"},
		{[]string{"spectrum", "-model", "mlp", "-operator", "fisher"}, 2, "-operator"},
		{[]string{"spectrum", "-model", "mlp", "-samples", "-3"}, 2, "-samples"},
		{[]string{"spectrum", "-model", "mlp", "-samples", "some"}, 2, "-samples"},
		{[]string{"spectrum", "-model", "mlp", "-trace-method", "exact"}, 2, "-trace-method"},
		{[]string{"spectrum", "-model", "mlp", "-top-k", "-1"}, 2, "-top-k"},
		{[]string{"spectrum", "-model", "mlp", "-top-k", "5", "-max-iter", "3"}, 2, "-max-iter"},
		{[]string{"spectrum", "-model", "mlp", "-plot", "d.png"}, 2, "-density"},
		// A flag that the chosen mode does not use is refused, naming both.
		{[]string{"spectrum", "-model", "mlp", "-tol", "0"}, 2, "-tol 0: want 0 < -tol < 1"},
		{[]string{"landscape", "-model", "mlp", "-tol", "0"}, 2, "-tol 0: want 0 < -tol < 1"},
		{[]string{"spectrum", "-model", "mlp", "-density-bins", "10"}, 2, "-density-bins is not used without -density"},
		{[]string{"spectrum", "-model", "mlp", "-density-sigma2", "1e-3"}, 2, "-density-sigma2 is not used without -density"},
		{[]string{"spectrum", "-model", "mlp", "-density-steps", "5"}, 2, "-density-steps is not used without -density"},
		{[]string{"spectrum", "-model", "mlp", "-trace-matvecs", "9"}, 2, "-trace-matvecs is not used without -trace"},
		{[]string{"spectrum", "-model", "mlp", "-trace-method", "both"}, 2, "-trace-method is not used without -trace"},
		{[]string{"spectrum", "-model", "mlp", "-format", "svg"}, 2, "-format is not used without -out"},
		{[]string{"spectrum", "-model", "mlp", "-density", "-out", dir, "-plot", filepath.Join(dir, "d.png"), "-format", "svg"}, 2, "-format is not used with -plot"},
		{[]string{"landscape", "-model", "mlp", "-keep-biasbn"}, 2, "-keep-biasbn is not used with -direction eigen"},
		{[]string{"landscape", "-model", "mlp", "-direction", "input", "-keep-biasbn"}, 2, "-keep-biasbn is not used with -direction input"},
		{[]string{"landscape", "-model", "mlp", "-sample", "1"}, 2, "-sample is not used with -direction eigen"},
		{[]string{"landscape", "-model", "mlp", "-direction", "random", "-tol", "1e-3"}, 2, "-tol is not used with -direction random"},
		{[]string{"landscape", "-model", "mlp", "-direction", "random", "-max-iter", "5"}, 2, "-max-iter is not used with -direction random"},
		{[]string{"sharpness", "-model", "mlp", "-metric", "epsilon", "-rho", "0.1"}, 2, "-rho is not used with -metric epsilon"},
		{[]string{"sharpness", "-model", "mlp", "-metric", "epsilon", "-m", "4"}, 2, "-m is not used with -metric epsilon"},
		{[]string{"sharpness", "-model", "mlp", "-metric", "epsilon", "-steps", "2"}, 2, "-steps is not used with -metric epsilon"},
		{[]string{"sharpness", "-model", "mlp", "-metric", "m", "-epsilon", "1e-3"}, 2, "-epsilon is not used with -metric m"},
		{[]string{"sharpness", "-model", "mlp", "-metric", "m", "-iterations", "3"}, 2, "-iterations is not used with -metric m"},
		{[]string{"saddle-check", "-model", "mlp", "-points"}, 2, "-points is not used without -json"},
		{[]string{"saddle-check", "-model", "mlp", "-samples", "2", "-norm", "l2", "-eps", "30"}, 2, "-eps 30: want at most √(C·H·W) = 28 in L2"},
		{[]string{"eval", "-weights", modelFile(t, "mlp", map[string]string{"model": "mlp"}, nil), "-split", "train"}, 2, "-split train: -dataset " + good + " is a file, which has no splits"},
		{[]string{"spectrum", "-model", "mlp", "-split", "train"}, 2, "-split train: -dataset " + good + " is a file, which has no splits"},
		{[]string{"spectrum", "-model", "mlp", "-density", "-plot", "d.pdf"}, 2, "-plot"},
		{[]string{"spectrum", "-model", "mlp", "-density", "-plot", "/no/such/dir/d.png"}, 2, "does not exist"},
		{[]string{"spectrum", "-model", "mlp", "-samples", "4", "-input-samples", "5"}, 2, "-input-samples"},
		{[]string{"spectrum", "-model", "mlp", "-input-samples", "7"}, 2, "-input-samples 7"},
		{[]string{"spectrum", "-model", "mlp", "-layer", "conv9"}, 2, "conv9"},
		{[]string{"spectrum", "-model", "mlp", "-precision", "float16"}, 2, "-precision"},
		{[]string{"spectrum", "-model", "mlp", "-split", "val"}, 2, "-split"},
		{[]string{"spectrum", "-model", "mlp", "-activation", "gelu"}, 2, "-activation"},
		{[]string{"spectrum", "-model", "mlp", "-format", "jpg"}, 2, "-format"},
		{[]string{"spectrum", "-model", "mlp", "-density-sigma2", "0"}, 2, "-density-sigma2"},
		{[]string{"spectrum", "-model", "mlp", "-bogus"}, 2, "bogus"},
		{[]string{"spectrum", "-model", "vgg16"}, 1, "unknown model"},
		{[]string{"spectrum", "-model", "lenet5", "-classes", "10", "-dataset", badLabel}, 1, "label 12 of image 4"},
		{[]string{"spectrum", "-model", "lenet5", "-dataset", negative}, 1, "negative"},
		{[]string{"spectrum", "-model", "lenet5", "-dataset", nan}, 1, "non-finite"},
		{[]string{"spectrum", "-model", "lenet5", "-dataset", shape}, 1, "20×20"},
		{[]string{"spectrum", "-model", "lenet5", "-dataset", filepath.Join(dir, "missing.safetensors")}, 1, "missing.safetensors"},
		{[]string{"spectrum", "-model", "lenet5", "-samples", "7"}, 1, "only 6 images"},
		{[]string{"spectrum", "-model", "lenet5", "-weights", good}, 1, "not a lenet5 checkpoint"},
		{[]string{"spectrum", "-model", "lenet5", "-top-k", "1000000", "-samples", "4"}, 2, "-top-k 1000000: want at most 431080"},
		{[]string{"spectrum", "-model", "lenet5", "-bottom-k", "431081", "-samples", "4"}, 2, "-bottom-k 431081: want at most 431080"},
		{[]string{"spectrum", "-model", "lenet5", "-top-k", "431080", "-samples", "4"}, 2, "spectrum needs about 2.7 TiB of memory, but only"},
		{[]string{"spectrum", "-model", "mlp", "-density", "-density-bins", "1000000000"}, 2, "-density-bins 1000000000: want at most 1000000"},
		{[]string{"spectrum", "-model", "mlp", "-density", "-density-probes", "100000", "-density-steps", "100"}, 2, "-density-probes 100000 × -density-steps 100"},
		{[]string{"spectrum", "-model", "mlp", "-trace", "-trace-matvecs", "2000000"}, 2, "-trace-matvecs 2000000: want 3 to 1000000"},
		{[]string{"spectrum", "-model", "mlp", "-min", "-bottom-k", "3"}, 2, "-min and -bottom-k 3"},
		{[]string{"spectrum", "-model", "mlp", "-samples", "0"}, 2, `-samples "0": want a positive number or all`},
		{[]string{"spectrum", "-model", "mlp", "-batch-size", "100000"}, 2, "-batch-size 100000: want 1 to 65536"},
		{[]string{"spectrum", "-model", "mlp", "-workers", "100000"}, 2, "-workers 100000"},
		{[]string{"spectrum", "-model", "mlp", "-tol", "1"}, 2, "-tol 1"},
		{[]string{"spectrum", "-model", "mlp", "-threads", "100000"}, 2, "-threads 100000: want 1 to"},
		{[]string{"landscape", "-model", "mlp", "-direction", "random", "-operator", "ggn"}, 2, "-operator ggn with -direction random"},
		{[]string{"landscape", "-model", "mlp", "-direction", "input", "-operator", "ggn"}, 2, "-operator ggn with -direction input"},
		{[]string{"landscape", "-model", "mlp", "-points", "5000"}, 2, "-points 5000: want 2 to 1001"},
		{[]string{"landscape", "-model", "lenet5", "-max-iter", "1000000"}, 2, "landscape needs about"},
		{[]string{"sharpness", "-model", "mlp", "-iterations", "1000000"}, 2, "-iterations 1000000"},
		{[]string{"landscape", "-model", "mlp", "-direction", "hessian"}, 2, "-direction"},
		{[]string{"landscape", "-model", "mlp", "-points", "1"}, 2, "-points"},
		{[]string{"landscape", "-model", "mlp", "-range", "0"}, 2, "-range"},
		{[]string{"landscape", "-model", "mlp", "-range", "NaN"}, 2, "-range"},
		{[]string{"landscape", "-model", "mlp", "-direction", "input", "-sample", "6"}, 2, "-sample 6"},
		{[]string{"landscape", "-model", "mlp", "-plot", "x.gif"}, 2, "-plot"},
		{[]string{"landscape", "-model", "lenet5", "-dataset", nan}, 1, "non-finite"},
		{[]string{"sharpness", "-model", "mlp", "-metric", "fisher"}, 2, "-metric"},
		{[]string{"sharpness", "-model", "mlp", "-epsilon", "1e-3,-1"}, 2, "-epsilon"},
		{[]string{"sharpness", "-model", "mlp", "-m", "0"}, 2, "-m 0"},
		{[]string{"sharpness", "-model", "mlp", "-rho", "0"}, 2, "-rho"},
		{[]string{"sharpness", "-model", "mlp", "-steps", "0"}, 2, "-steps"},
		{[]string{"sharpness", "-model", "lenet5", "-classes", "10", "-dataset", badLabel}, 1, "label 12"},
	}
	// Cases of the dataset flags themselves, without base's -dataset.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"spectrum", "-model", "mlp", "-data", "mnist", "-dataset", "fashion-mnist"}, 2, "-dataset: conflicts with -data mnist"},
		{[]string{"spectrum", "-model", "mlp", "-dataset", "fashion-mnist", "-data", "mnist"}, 2, "-data: conflicts with -dataset fashion-mnist"},
		{[]string{"landscape", "-model", "mlp", "-data", good, "-dataset", "mnist"}, 2, "-dataset: conflicts with -data " + good},
		{[]string{"spectrum", "-model", "mlp", "-data-dir", filepath.Join(dir, "no", "such")}, 1, "folder " + filepath.Join(dir, "no", "such") + " does not exist"},
		{[]string{"eval", "-model", "mlp", "-weights", modelFile(t, "mlp", nil, nil), "-data-dir", filepath.Join(dir, "no", "such")}, 1, "does not exist"},
	} {
		code, stdout, stderr := runCLI(context.Background(), append(c.args, "-quiet")...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and one line with %q", c.args, code, stderr, stdout, c.code, c.want)
		}
	}
	for _, c := range cases {
		args := append(slices.Clone(c.args[:1]), append(slices.Clone(base), c.args[1:]...)...)
		code, stdout, stderr := runCLI(context.Background(), args...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and one line with %q", c.args, code, stderr, stdout, c.code, c.want)
		}
	}
}

func decode[R any](t *testing.T, s string) *R {
	t.Helper()
	r := new(R)
	if err := json.Unmarshal([]byte(s), r); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, s)
	}
	return r
}

// TestSpectrumCommand runs every analysis of spectrum on an MLP in float64
// and checks the record: the legacy flat fields, residuals and converged
// flags, counts, files, and agreement between -layer and -per-layer; and
// that the number of workers changes no bit.
func TestSpectrumCommand(t *testing.T) {
	dir := t.TempDir()
	data := writeImages(t, dir, 6, 1, 28, 28, nil)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(context.Background(), "spectrum", "-model", "mlp", "-dataset", data, "-precision", "float64",
		"-batch-size", "4", "-top-k", "2", "-min", "-max-iter", "30", "-tol", "1e-3", "-trace", "-trace-method", "both", "-trace-matvecs", "12",
		"-density", "-density-probes", "2", "-density-steps", "12", "-density-bins", "200", "-per-layer", "-input",
		"-input-samples", "3", "-out", out, "-format", "svg", "-json", "-quiet", "-threads", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decode[analysis.SpectrumResult](t, stdout)
	if len(r.TopEigen) != 2 || len(r.Residuals) != 2 || len(r.Converged) != 2 || r.TopEigen[0] < r.TopEigen[1] {
		t.Errorf("top eigenvalues %v residuals %v converged %v", r.TopEigen, r.Residuals, r.Converged)
	}
	if r.Top == nil || r.Top.MatVecs == 0 || r.Top.Seed != 1 || r.Top.Seconds <= 0 || !slices.Equal(r.Top.Values, r.TopEigen) {
		t.Errorf("top record %+v", r.Top)
	}
	if r.MinEigen == nil || r.Bottom == nil || *r.MinEigen != r.Bottom.Values[0] || *r.MinEigen > r.TopEigen[1] {
		t.Errorf("min eigenvalue %v, bottom %+v", r.MinEigen, r.Bottom)
	}
	if r.Trace == nil || r.Trace.Hutchinson == nil || r.Trace.HutchPP == nil || r.Trace.HutchPP.MatVecs != 12 || r.Trace.Hutchinson.StdErr <= 0 {
		t.Errorf("trace %+v", r.Trace)
	}
	if d := r.Density; d == nil || len(d.Grid) != 200 || len(d.Density) != 200 || d.Quadrature.MatVecs != 24 || d.Plot != filepath.Join(out, "density.svg") {
		t.Errorf("density %+v", r.Density)
	}
	if len(r.PerLayer) != 3 || r.PerLayer[2].Name != "fc3" || r.PerLayer[2].Dim != 512*10+10 || r.PerLayer[0].Trace == nil || r.PerLayer[0].Bottom == nil {
		t.Errorf("per-layer %+v", r.PerLayer)
	}
	if r.InputTop == nil || r.InputMin == nil || len(r.InputResid) != 2 || r.InputBatch == nil {
		t.Errorf("input batch %v %v %v", r.InputTop, r.InputMin, r.InputResid)
	}
	s := r.InputSamples
	if s == nil || s.Samples != 3 || len(s.Top.Values) != 3 || len(s.Bottom.Values) != 3 || s.HVPs == 0 || s.Unconverged != 0 {
		t.Fatalf("input samples %+v", s)
	}
	if h := s.Histogram; h == nil || len(h.Edges) != 41 || len(h.Top) != 40 || len(h.Bottom) != 40 {
		t.Errorf("histogram %+v", s.Histogram)
	}
	for i := range 3 {
		// A ReLU network: every image's input Hessian is PSD.
		if s.Bottom.Values[i] < -1e-10*s.Top.Values[i] || s.Top.Values[i] <= 0 {
			t.Errorf("image %d: input eigenvalues [%g, %g]", i, s.Bottom.Values[i], s.Top.Values[i])
		}
	}
	if r.HVPs <= r.Top.MatVecs || r.Seconds <= 0 || r.Samples != 6 || r.Dim != r.Params || r.Params != 784*512+512+512*512+512+5130 {
		t.Errorf("hvps %d seconds %v samples %d dim %d params %d", r.HVPs, r.Seconds, r.Samples, r.Dim, r.Params)
	}
	for _, f := range []string{"spectrum.json", "density.svg", "density.csv", "input_eigenvalues.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	saved, _ := os.ReadFile(filepath.Join(out, "spectrum.json"))
	if !bytes.Equal(saved, []byte(stdout)) {
		t.Error("spectrum.json differs from the printed JSON")
	}

	// -layer fc3 is the fc3 block -per-layer analysed, with two workers or one.
	var one *analysis.SpectrumResult
	for _, w := range []string{"1", "3"} {
		code, stdout, stderr = runCLI(context.Background(), "spectrum", "-model", "mlp", "-dataset", data, "-precision", "float64",
			"-batch-size", "2", "-top-k", "2", "-min", "-max-iter", "30", "-tol", "1e-3", "-layer", "fc3", "-json", "-quiet", "-workers", w)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		l := decode[analysis.SpectrumResult](t, stdout)
		if l.Dim != 5130 || !slices.Equal(l.LayerParams, []string{"fc3.weight", "fc3.bias"}) {
			t.Errorf("-layer fc3: dim %d, params %v", l.Dim, l.LayerParams)
		}
		if d := math.Abs(l.TopEigen[0] - r.PerLayer[2].Top.Values[0]); d > 1e-9*l.TopEigen[0] {
			t.Errorf("-layer fc3 λ1 %v, -per-layer %v", l.TopEigen[0], r.PerLayer[2].Top.Values[0])
		}
		if w == "1" {
			one = l
		} else if !slices.Equal(l.TopEigen, one.TopEigen) || !slices.Equal(l.Bottom.Values, one.Bottom.Values) || l.Loss != one.Loss {
			t.Errorf("3 workers: %v %v, 1 worker: %v %v", l.TopEigen, l.Bottom.Values, one.TopEigen, one.Bottom.Values)
		}
	}

	// GGN: positive semi-definite, and the table output.
	code, stdout, stderr = runCLI(context.Background(), "spectrum", "-model", "mlp", "-dataset", data, "-precision", "float64",
		"-operator", "ggn", "-min", "-max-iter", "20", "-quiet")
	if code != 0 || !strings.Contains(stdout, "operator                 ggn") || !strings.Contains(stdout, "λmin") {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
}

// TestLandscapeCommand: the three kinds of direction, 1-D and 2-D, with
// their files; the loss at the centre of the eigen line is the spectrum's.
func TestLandscapeCommand(t *testing.T) {
	dir := t.TempDir()
	data := writeImages(t, dir, 6, 1, 28, 28, nil)
	common := []string{"-model", "mlp", "-dataset", data, "-precision", "float64", "-max-iter", "30", "-tol", "1e-3", "-json", "-quiet"}
	out := filepath.Join(dir, "eigen")
	code, stdout, stderr := runCLI(context.Background(), append([]string{"landscape", "-points", "5", "-range", "0.5", "-out", out}, common...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decode[analysis.LandscapeResult](t, stdout)
	g := r.Grid
	if len(g.X) != 5 || g.Y != nil || len(g.Loss) != 1 || g.X[2] != 0 || r.Eigen == nil || len(r.Quadratic) != 5 || len(r.QuadraticGrad) != 5 {
		t.Fatalf("grid %+v", g)
	}
	if r.Quadratic[2] != r.Loss || g.Loss[0][2] != r.Loss || math.Abs(r.Curvature[0]-r.Eigen.Values[0]) > 1e-9*r.Eigen.Values[0] {
		t.Errorf("centre loss %v, grid %v, quadratic %v; curvature %v, λ %v", r.Loss, g.Loss[0][2], r.Quadratic[2], r.Curvature[0], r.Eigen.Values[0])
	}
	code, stdout, _ = runCLI(context.Background(), "spectrum", "-model", "mlp", "-dataset", data, "-precision", "float64", "-top-k", "0", "-json", "-quiet")
	if sp := decode[analysis.SpectrumResult](t, stdout); code != 0 || sp.Loss != r.Loss || sp.Tol != 1e-6 {
		t.Errorf("spectrum loss %v, landscape centre %v; tolerance recorded %v, want float64's default 1e-6", sp.Loss, r.Loss, sp.Tol)
	}
	for _, f := range []string{"landscape.json", "landscape.csv", "landscape.png", "landscape_accuracy.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, "landscape.csv"))
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 6 || lines[0] != "alpha,loss,accuracy,quadratic,quadratic_grad" {
		t.Errorf("CSV:\n%s", csv)
	}

	// Random directions have no eigenvectors: no -max-iter, -tol.
	code, stdout, stderr = runCLI(context.Background(), "landscape", "-direction", "random", "-2d", "-points", "3", "-model", "mlp", "-dataset", data, "-precision", "float64", "-json", "-quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r = decode[analysis.LandscapeResult](t, stdout)
	if len(r.Grid.Y) != 3 || len(r.Grid.Loss) != 3 || len(r.Norms) != 2 || r.Grid.Loss[1][1] != r.Loss {
		t.Errorf("random 2-D: %+v", r)
	}

	code, stdout, stderr = runCLI(context.Background(), append([]string{"landscape", "-direction", "input", "-sample", "2", "-points", "3", "-range", "5"}, common...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r = decode[analysis.LandscapeResult](t, stdout)
	if r.Sample == nil || *r.Sample != 2 || *r.Label != 2 || r.Dim != 784 || r.Eigen.Values[0] <= 0 || r.Grid.Loss[0][1] != r.Loss {
		t.Errorf("input: %+v", r)
	}
}

// TestSharpnessCommand: both metrics, with their parameters recorded.
func TestSharpnessCommand(t *testing.T) {
	dir := t.TempDir()
	data := writeImages(t, dir, 6, 1, 28, 28, nil)
	code, stdout, stderr := runCLI(context.Background(), "sharpness", "-model", "mlp", "-dataset", data, "-precision", "float64",
		"-epsilon", "1e-3,5e-4", "-iterations", "3", "-m", "4", "-rho", "0.1", "-steps", "2", "-json", "-quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decode[analysis.SharpnessResult](t, stdout)
	if len(r.Epsilon) != 2 || r.Epsilon[0].Epsilon != 1e-3 || r.Epsilon[1].Epsilon != 5e-4 || r.Epsilon[0].Sharpness <= r.Epsilon[1].Sharpness || r.Epsilon[1].Sharpness <= 0 {
		t.Errorf("ε-sharpness %+v", r.Epsilon)
	}
	if e := r.Epsilon[0]; e.Loss != r.Loss || e.Iterations > 3 || e.Evals < 2 {
		t.Errorf("ε-sharpness record %+v (loss %v)", e, r.Loss)
	}
	m := r.M
	if m == nil || m.M != 4 || m.Batches != 2 || m.Rho != 0.1 || m.Steps != 2 || m.Sharpness <= 0 || len(m.PerBatch) != 2 || m.Evals != 6 {
		t.Errorf("m-sharpness %+v", m)
	}
	// -out with -format: the plots.
	out := filepath.Join(dir, "out")
	code, stdout, stderr = runCLI(context.Background(), "sharpness", "-model", "mlp", "-dataset", data, "-epsilon", "1e-3,5e-4",
		"-iterations", "2", "-m", "4", "-out", out, "-format", "svg", "-quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"m_sharpness.svg", "epsilon_sharpness.svg", "sharpness.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 || !strings.Contains(stdout, "wrote "+filepath.Join(out, f)) {
			t.Errorf("%s: %v\n%s", f, err, stdout)
		}
	}
}

// TestResidualsAgree: a solver that does not converge is reported with one
// residual per eigenvalue, the same number in the table, the per-layer
// lines and the warning, which goes to standard error; the progress shows
// the products done and the residual against its bound, no ETA.
func TestResidualsAgree(t *testing.T) {
	dir := t.TempDir()
	data := writeImages(t, dir, 6, 1, 28, 28, nil)
	code, stdout, stderr := runCLI(context.Background(), "spectrum", "-model", "mlp", "-dataset", data, "-precision", "float64",
		"-top-k", "1", "-max-iter", "3", "-tol", "1e-9", "-per-layer")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	table := regexp.MustCompile(`(?m)^λ1 +\S+ +residual (\S+) +converged false$`).FindStringSubmatch(stdout)
	warning := regexp.MustCompile(`(?m)^warning: top eigenvalues: linop: Lanczos did not converge after \d+ matvecs: 1 unconverged, worst λ1 = \S+ with residual (\S+) > `).FindStringSubmatch(stderr)
	if table == nil || warning == nil || table[1] != warning[1] {
		t.Errorf("table residual %q, warning residual %q\nstdout:\n%s\nstderr:\n%s", table, warning, stdout, stderr)
	}
	if strings.Contains(stdout, "warning") {
		t.Errorf("a warning on standard output:\n%s", stdout)
	}
	if n := regexp.MustCompile(`(?m)^layer fc\d .*λ1 \S+ \(residual \S+, not converged\)$`).FindAllString(stdout, -1); len(n) != 3 {
		t.Errorf("per-layer lines without residuals:\n%s", stdout)
	}
	if !regexp.MustCompile(`(?m)^top eigenvalues \(HVPs\) 4 done in \d+s  λ ≈ \S+, residual \S+ > \S+$`).MatchString(stderr) ||
		regexp.MustCompile(`(?m)^top eigenvalues.*(ETA|%)`).MatchString(stderr) {
		t.Errorf("progress:\n%s", stderr)
	}
}

// TestInterruptPrompt: a command cancelled while it works (Ctrl-C) exits
// with 130 within a second or two.
func TestInterruptPrompt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs commands for a second each")
	}
	dir := t.TempDir()
	data := writeImages(t, dir, 64, 1, 28, 28, nil)
	w := modelFile(t, "lenet5", map[string]string{"model": "lenet5"}, nil)
	for _, args := range [][]string{
		{"spectrum", "-model", "lenet5", "-top-k", "60", "-max-iter", "400", "-tol", "1e-12"},
		{"spectrum", "-model", "lenet5", "-top-k", "0", "-density", "-density-steps", "400"},
		{"landscape", "-model", "lenet5", "-direction", "random", "-2d", "-points", "200"},
		{"sharpness", "-model", "lenet5", "-iterations", "100000", "-metric", "epsilon"},
		{"attack", "-weights", w, "-method", "pgd", "-eps", "0.1", "-steps", "100000", "-samples", "all"},
		{"saddle-check", "-weights", w, "-steps", "1000", "-samples", "64"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		code, _, stderr := runCLI(ctx, append(args, "-dataset", data, "-quiet")...)
		late := time.Since(start) - time.Second
		if code != 130 || late > 2*time.Second {
			t.Errorf("%v: exit %d %v after the interrupt: %s", args, code, late, stderr)
		}
		t.Logf("%s: exit %d %v after the interrupt", args[0], code, late.Round(time.Millisecond))
		cancel()
	}
}

// TestAnalysisInterrupted: a cancelled context ends every command with 130.
func TestAnalysisInterrupted(t *testing.T) {
	dir := t.TempDir()
	data := writeImages(t, dir, 6, 1, 28, 28, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"spectrum", "-model", "mlp", "-dataset", data, "-quiet"},
		{"spectrum", "-model", "mlp", "-dataset", data, "-quiet", "-top-k", "0", "-input-samples", "3"},
		{"landscape", "-model", "mlp", "-dataset", data, "-quiet", "-direction", "random"},
		{"sharpness", "-model", "mlp", "-dataset", data, "-quiet"},
		{"sharpness", "-model", "mlp", "-dataset", data, "-quiet", "-metric", "m"},
	} {
		code, _, stderr := runCLI(ctx, args...)
		if code != 130 || !strings.Contains(stderr, "interrupted") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}

// TestOverflowIsAnError: a radius so large that the perturbed loss
// overflows is an error naming the flag to lower, exit 1, and -out is left
// without any file (not a sharpness of 0, nor NaN rows and plots).
func TestOverflowIsAnError(t *testing.T) {
	ds := writeImages(t, t.TempDir(), 8, 1, 28, 28, nil)
	src := []string{"-model", "lenet5", "-dataset", ds, "-samples", "8", "-quiet"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sharpness", "-metric", "epsilon", "-iterations", "2", "-epsilon", "1e10"}, "lower -epsilon"},
		{[]string{"sharpness", "-metric", "m", "-m", "4", "-rho", "1e300"}, "lower -rho"},
		{[]string{"sharpness", "-metric", "m", "-m", "4", "-rho", "1e20"}, "lower -rho"},
		{[]string{"landscape", "-points", "3", "-max-iter", "3", "-range", "1e300"}, "lower -range"},
		{[]string{"landscape", "-points", "3", "-direction", "random", "-range", "1e300"}, "lower -range"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runCLI(context.Background(), append(append(c.args, src...), "-out", out)...)
		if code != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "not a finite number") || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 1 and one line with %q", c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: left %s", c.args, out)
		}
	}
}

// TestRerunReplacesOutputs: a rerun into the same -out leaves only its own
// files there, not the previous run's density next to its spectrum.json;
// files the command does not own stay.
func TestRerunReplacesOutputs(t *testing.T) {
	ds := writeImages(t, t.TempDir(), 6, 1, 28, 28, nil)
	out := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(out, "notes.txt")
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := []string{"-model", "mlp", "-dataset", ds, "-samples", "6", "-quiet", "-out", out}
	if code, _, stderr := runCLI(context.Background(), append([]string{"spectrum", "-density", "-density-steps", "4", "-density-probes", "1"}, src...)...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "density.csv")); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if code, _, stderr := runCLI(context.Background(), append([]string{"spectrum", "-seed", "2"}, src...)...); code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"notes.txt", "spectrum.json"}) {
		t.Errorf("after the rerun -out holds %v, want [notes.txt spectrum.json]", names)
	}
}

// TestAbandon: a run that fails after writing some of its files removes
// them and returns its error.
func TestAbandon(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"landscape.csv", "landscape.png"} {
		files = append(files, filepath.Join(dir, n))
		if err := os.WriteFile(files[len(files)-1], []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := errors.New("plot failed")
	if err := abandon(files, want); err != want {
		t.Errorf("abandon returned %v, want %v", err, want)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}

// TestInputHessianPixels: for a model trained with -normalize, spectrum's
// per-image input eigenvalues are with respect to the pixels, as
// saddle-check's (they had been with respect to the normalised inputs,
// 1/std² = 10.5 times smaller on MNIST, with nothing saying so).
func TestInputHessianPixels(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if code, _, stderr := hesscope(t, "train", "-model", "mlp", "-epochs", "1", "-batch-size", "64", "-train-samples", "512",
		"-test-samples", "16", "-normalize", "-out", run, "-quiet"); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	weights := filepath.Join(run, "model.safetensors")
	code, stdout, stderr := hesscope(t, "spectrum", "-weights", weights, "-samples", "4", "-top-k", "1", "-input-samples", "4",
		"-precision", "float64", "-json", "-quiet")
	if code != 0 {
		t.Fatalf("spectrum: exit %d: %s", code, stderr)
	}
	var sp struct {
		InputSamples struct {
			Top struct {
				Mean   float64
				Values []float64
			}
		} `json:"input_samples"`
	}
	if err := json.Unmarshal([]byte(stdout), &sp); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = hesscope(t, "saddle-check", "-weights", weights, "-samples", "4", "-eps", "0.1", "-steps", "1",
		"-random-start=false", "-precision", "float64", "-json", "-quiet")
	if code != 0 {
		t.Fatalf("saddle-check: exit %d: %s", code, stderr)
	}
	var sd struct {
		PerStep []struct {
			MeanLambdaMax float64 `json:"mean_lambda_max"`
		} `json:"per_step"`
	}
	if err := json.Unmarshal([]byte(stdout), &sd); err != nil || len(sd.PerStep) == 0 {
		t.Fatalf("saddle-check JSON: %v", err)
	}
	if a, b := sp.InputSamples.Top.Mean, sd.PerStep[0].MeanLambdaMax; !(math.Abs(a-b) <= 1e-5*math.Abs(b)) {
		t.Errorf("mean top input eigenvalue: spectrum %v, saddle-check %v (pixels)", a, b)
	}
	// landscape -direction input: the same curvature, and a grid in
	// pixels whose central difference is the slope (a second difference
	// would cross the ReLUs' kinks).
	code, stdout, stderr = hesscope(t, "landscape", "-weights", weights, "-samples", "4", "-direction", "input", "-sample", "0",
		"-points", "3", "-range", "0.01", "-precision", "float64", "-json", "-quiet")
	if code != 0 {
		t.Fatalf("landscape: exit %d: %s", code, stderr)
	}
	var ls struct {
		Curvature, Slope []float64
		Grid             struct{ Loss [][]float64 }
	}
	if err := json.Unmarshal([]byte(stdout), &ls); err != nil || len(ls.Curvature) == 0 || len(ls.Slope) == 0 || len(ls.Grid.Loss) == 0 {
		t.Fatalf("landscape JSON: %v", err)
	}
	want := sp.InputSamples.Top.Values[0]
	if c := ls.Curvature[0]; !(math.Abs(c-want) <= 1e-5*want) {
		t.Errorf("landscape's input curvature %v, spectrum's top eigenvalue of image 0 %v", c, want)
	}
	l := ls.Grid.Loss[0]
	if fd := (l[2] - l[0]) / 0.02; !(math.Abs(fd-ls.Slope[0]) <= 0.1*math.Abs(ls.Slope[0])) {
		t.Errorf("central difference of landscape's grid %v, slope %v", fd, ls.Slope[0])
	}
}
