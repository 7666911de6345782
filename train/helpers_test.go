package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hesscope/checkpoint"
	"hesscope/data"
)

// synthetic returns n images of c×h×w pixels in [0, 1] whose labels (of 10
// classes) can be learnt: each class brightens its own band of rows.
func synthetic(n, c, h, w int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	d := &data.Dataset{Name: "synthetic", N: n, C: c, H: h, W: w, Classes: 10, X: make([]float32, n*c*h*w), Y: make([]int, n)}
	for i := range n {
		y := rng.IntN(10)
		d.Y[i] = y
		for ch := range c {
			for r := range h {
				for col := range w {
					v := 0.3 * rng.Float32()
					if r*10/h == y {
						v += 0.6
					}
					d.X[((i*c+ch)*h+r)*w+col] = v
				}
			}
		}
	}
	return d
}

// mnistLike is a small synthetic stand-in for MNIST.
func mnistLike(n int, seed uint64) *data.Dataset { return synthetic(n, 1, 28, 28, seed) }

// readState returns the tensors of a run's state.safetensors.
func readState(t *testing.T, dir string) *checkpoint.File {
	t.Helper()
	f, err := checkpoint.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// values returns a stored tensor's elements as float64.
func values(tt *checkpoint.Tensor) []float64 {
	switch tt.DType {
	case checkpoint.F32:
		out := make([]float64, len(tt.F32))
		for i, v := range tt.F32 {
			out[i] = float64(v)
		}
		return out
	case checkpoint.F64:
		return tt.F64
	}
	return nil
}

// sameBits reports the first tensor whose values differ in any bit between
// two checkpoint files, or "" if they hold the same tensors bit for bit.
func sameBits(a, b *checkpoint.File) string {
	if !reflect.DeepEqual(a.Names(), b.Names()) {
		return "tensor names differ"
	}
	for _, name := range a.Names() {
		x, y := a.Tensors[name], b.Tensors[name]
		if x.DType != y.DType || !reflect.DeepEqual(x.Shape, y.Shape) {
			return name + ": dtype or shape differs"
		}
		for i := range x.F32 {
			if math.Float32bits(x.F32[i]) != math.Float32bits(y.F32[i]) {
				return name
			}
		}
		for i := range x.F64 {
			if math.Float64bits(x.F64[i]) != math.Float64bits(y.F64[i]) {
				return name
			}
		}
		if !reflect.DeepEqual(x.I64, y.I64) {
			return name
		}
	}
	return ""
}

// metricsWithoutTime reads a run's metrics.jsonl and metrics.csv, checks
// that they agree on the epochs, which must be 1, 2, …, each once, and
// returns them with the wall times removed.
func metricsWithoutTime(t *testing.T, dir string) ([]Metrics, []string) {
	t.Helper()
	ms, err := ReadMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ms {
		if ms[i].Epoch != i+1 {
			t.Fatalf("%s: metrics line %d is epoch %d: duplicated or missing epochs", dir, i+1, ms[i].Epoch)
		}
		ms[i].Seconds = 0
	}
	b, err := os.ReadFile(filepath.Join(dir, MetricsCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(ms)+1 {
		t.Fatalf("%s: metrics.csv has %d lines for %d epochs (want a header and one line each)", dir, len(lines), len(ms))
	}
	col := -1
	for i, c := range strings.Split(lines[0], ",") {
		if c == "seconds" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("%s: metrics.csv header %q has no seconds column", dir, lines[0])
	}
	for i := range lines {
		f := strings.Split(lines[i], ",")
		f[col] = ""
		lines[i] = strings.Join(f, ",")
	}
	return ms, lines
}
