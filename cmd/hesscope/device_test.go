package main

import (
	"strings"
	"testing"
)

// TestDeviceFlag: an unknown device is a usage error; -device cuda fails
// with one line, which in the default build says how to build with GPU
// support and in a cuda build without a driver names the missing library.
func TestDeviceFlag(t *testing.T) {
	code, _, stderr := hesscope(t, "bench", "-model", "mlp", "-batch", "2", "-reps", "1", "-device", "tpu")
	if code != 2 || !strings.Contains(stderr, `-device "tpu"`) {
		t.Errorf("-device tpu: exit %d, %q", code, stderr)
	}
	code, _, stderr = hesscope(t, "bench", "-model", "mlp", "-batch", "2", "-reps", "1", "-device", "cuda")
	if code == 0 {
		t.Skip("a GPU is here: -device cuda works")
	}
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, wantNoCUDA) {
		t.Errorf("-device cuda: exit %d, %q; want 1 and one line containing %q", code, stderr, wantNoCUDA)
	}
}

// TestSpectrumDevice: spectrum's -device is validated with the other flags
// and fails like bench's where there is no GPU.
func TestSpectrumDevice(t *testing.T) {
	weights, dataset := labelledByModel(t, 8)
	args := []string{"spectrum", "-weights", weights, "-dataset", dataset, "-top-k", "1", "-max-iter", "3", "-quiet"}
	for _, c := range []struct {
		extra []string
		code  int
		want  string
	}{
		{[]string{"-device", "tpu"}, 2, `-device "tpu"`},
		{[]string{"-device", "cuda", "-operator", "ggn"}, 2, "-operator ggn runs on the CPU only"},
		{[]string{"-device", "cuda"}, 1, wantNoCUDA},
	} {
		code, _, stderr := hesscope(t, append(args, c.extra...)...)
		if code == 0 && c.code == 1 {
			continue // a GPU is here
		}
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want %d and one line containing %q", c.extra, code, stderr, c.code, c.want)
		}
	}
}
