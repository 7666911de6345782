package main

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"

	"hesscope/kernels"
)

// TestBench runs hesscope bench on the MLP with a small batch and checks the
// JSON fields, the FLOP count and the usage errors.
func TestBench(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) }) // -threads 1 below sets it
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "-model is required"},
		{[]string{"bench", "-model", "vgg"}, `-model "vgg"`},
		{[]string{"bench", "-model", "mlp", "-batch", "0"}, "-batch 0"},
		{[]string{"bench", "-model", "mlp", "-reps", "0"}, "-reps 0"},
		{[]string{"bench", "-model", "mlp", "-reps", "100000000000"}, "-reps 100000000000: want at most 1000"},
		{[]string{"bench", "-model", "mlp", "-precision", "float16"}, "-precision"},
		// An HVP of 10⁹ MLP images (a few KiB each) cannot fit.
		{[]string{"bench", "-model", "mlp", "-batch", "1000000000"}, "a Hessian-vector product of 1000000000 images needs about"},
	} {
		if code, _, stderr := hesscope(t, c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	for _, prec := range []string{"float32", "float64"} {
		code, stdout, stderr := hesscope(t, "bench", "-model", "mlp", "-batch", "4", "-reps", "3", "-threads", "1", "-precision", prec, "-json")
		if code != 0 {
			t.Fatalf("bench: exit %d: %s", code, stderr)
		}
		var r BenchResult
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		// mlp: 784·512 + 512·512 + 512·10 multiply-adds per image.
		if want := 2.0 * 4 * (784*512 + 512*512 + 512*10); r.ForwardFLOPs != want {
			t.Errorf("%s: forward FLOPs %g, want %g", prec, r.ForwardFLOPs, want)
		}
		if r.Model != "mlp" || r.Batch != 4 || r.Threads != 1 || r.Precision != prec || r.Reps != 3 || r.Params != 669706 ||
			r.Kernels != kernels.InstructionSet() || !slices.Contains([]string{"avx512", "avx2", "generic"}, r.Kernels) {
			t.Errorf("%s: result %+v", prec, r)
		}
		for name, s := range map[string]float64{"forward": r.ForwardSeconds, "grad": r.GradSeconds, "hvp": r.HVPSeconds,
			"hv": r.HvSeconds, "hv_retained": r.HvRetainedSeconds, "hv_retained_gflops": r.HvRetainedGFLOPS, "train_step": r.TrainStepSeconds, "hvp_gflops": r.HVPGFLOPS, "hv_gflops": r.HvGFLOPS} {
			if !(s > 0) {
				t.Errorf("%s: %s = %g, want > 0", prec, name, s)
			}
		}
	}
	code, stdout, _ := hesscope(t, "bench", "-model", "lenet5", "-batch", "2", "-reps", "1")
	if code != 0 || !strings.Contains(stdout, "HVP") || !strings.Contains(stdout, " Hv ") || !strings.Contains(stdout, "GFLOP/s") ||
		!strings.Contains(stdout, kernels.InstructionSet()+" kernels") {
		t.Errorf("bench text output: exit %d:\n%s", code, stdout)
	}
}
