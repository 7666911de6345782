//go:build cuda

package cuda

import (
	"strings"
	"testing"

	"hesscope/models"
)

// TestRecordZoo records every zoo model and checks the plan's shape: one
// leaf per trainable parameter, then the input, the loss last, and every
// primitive one the GPU evaluator has kernels for. It needs no GPU.
func TestRecordZoo(t *testing.T) {
	for _, name := range models.Names() {
		net, err := models.New[float32](name, models.Config{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := record(net, net.Input)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		count := map[kind]int{}
		for i, nd := range pl.nodes {
			count[nd.kind]++
			for _, j := range nd.in {
				if j >= i {
					t.Fatalf("%s: node %d reads node %d", name, i, j)
				}
			}
		}
		if count[kParam] != len(pl.params) || count[kInput] != 1 || count[kLoss] != 1 || pl.nodes[len(pl.nodes)-1].kind != kLoss {
			t.Errorf("%s: %v", name, count)
		}
		if pl.classes != net.Classes {
			t.Errorf("%s: %d classes, want %d", name, pl.classes, net.Classes)
		}
		if got, want := pl.needsConv, name != "mlp"; got != want {
			t.Errorf("%s: needsConv %v", name, got)
		}
		t.Logf("%s: %d nodes %v", name, len(pl.nodes), count)
	}
}

// TestRecordUnsupported: a smooth activation has no GPU kernel; the error
// names it.
func TestRecordUnsupported(t *testing.T) {
	net, err := models.New[float64]("mlp", models.Config{Activation: "tanh"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = record(net, net.Input)
	if err == nil || !strings.Contains(err.Error(), "Tanh") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want one line naming Tanh", err)
	}
}

// TestOpenError: on a machine without a driver, Open fails with one line
// naming libcuda.so.1; with a GPU it names the device.
func TestOpenError(t *testing.T) {
	d, err := Open()
	if err == nil {
		t.Logf("GPU %s, driver CUDA %d", d.Name, d.DriverVersion)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "cuda: ") {
		t.Fatalf("error %q is not one line starting cuda:", msg)
	}
	if strings.Contains(msg, "cannot load") && !strings.Contains(msg, "libcuda.so.1") {
		t.Fatalf("error %q does not name libcuda.so.1", msg)
	}
	t.Logf("no GPU here: %v", err)
}

// TestLoadLibraries loads cuBLAS and cuDNN and binds every function the
// evaluator calls; it needs no GPU, only the libraries (PyTorch's wheels
// have them: point HESSCOPE_CUDA_LIB_DIR at their lib folders, or have
// python3 on PATH import them). It skips when they are not found.
func TestLoadLibraries(t *testing.T) {
	if err := loadBLAS(); err != nil {
		t.Skipf("no cuBLAS: %v", err)
	}
	if err := loadDNN(); err != nil {
		t.Skipf("no cuDNN: %v", err)
	}
	if cublasSgemm == nil || cudnnConvolutionBackwardFilter == nil {
		t.Fatal("functions not bound")
	}
}
