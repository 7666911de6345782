package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"hesscope/tensor"
)

// The state dict of PyTorch's Sequential(Linear(3, 2), BatchNorm1d(2)).
var bnNames = []string{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"}

// TestTorchWritten reads testdata/pyref_bn.safetensors, the state dict of
// Sequential(Linear(3, 2), BatchNorm1d(2)) after one training step, written
// from torch 1.13 by testdata/torch_crosscheck.py (see there).
func TestTorchWritten(t *testing.T) {
	path := filepath.Join("testdata", "pyref_bn.safetensors")
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	if nb := f.Tensors["1.num_batches_tracked"]; nb == nil || nb.DType != I64 || len(nb.Shape) != 0 || nb.I64[0] != 1 {
		t.Errorf("num_batches_tracked = %+v, want I64 scalar 1", nb)
	}
	var dst []Named[float64]
	for _, name := range bnNames {
		n := 2
		if name == "0.weight" {
			n = 6
		}
		dst = append(dst, Named[float64]{name, tensor.New[float64](n)})
	}
	dst[0].Value = dst[0].Value.Reshape(2, 3)
	if err := LoadInto(f, dst); err != nil {
		t.Fatal(err)
	}
	// Values as PyTorch printed them (float32 widened to float64).
	if got, want := dst[0].Value.Data[0], -0.004322517663240433; got != want {
		t.Errorf("0.weight[0] = %v, want %v", got, want)
	}
	if got, want := dst[5].Value.Data[1], 0.9192675352096558; got != want {
		t.Errorf("1.running_var[1] = %v, want %v", got, want)
	}
	// Writing it again gives PyTorch's bytes.
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(path)
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Error("writing the PyTorch file back changes its bytes")
	}
}

// TestTorchReadable writes testdata/go_bn.safetensors, a state dict for
// Sequential(Linear(3, 2), BatchNorm1d(2)) plus an F64 extra, which
// testdata/torch_crosscheck.py loads into PyTorch with strict=True.
func TestTorchReadable(t *testing.T) {
	values := [][]float32{{1, 2, 3, 4, 5, 6}, {0.5, -0.5}, {1.25, 0.75}, {0.1, 0.2}, {0.3, 0.4}, {2, 3}}
	var named []Named[float32]
	for i, name := range bnNames {
		named = append(named, Named[float32]{name, tensor.FromSlice(values[i], len(values[i]))})
	}
	named[0].Value = named[0].Value.Reshape(2, 3)
	f := FromStateDict(named, map[string]string{"format": "pt"})
	f.Tensors["1.num_batches_tracked"] = &Tensor{DType: I64, Shape: []int{}, I64: []int64{42}}
	f.Tensors["extra.f64"] = &Tensor{DType: F64, Shape: []int{1, 2}, F64: []float64{0.1, 1e300}}

	path := filepath.Join("testdata", "go_bn.safetensors")
	if *update {
		if err := WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), disk) {
		t.Errorf("%s differs from what Write produces; run go test -update", path)
	}
}
