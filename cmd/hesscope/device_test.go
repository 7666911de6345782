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
