package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"hesscope/checkpoint"
	"hesscope/experiment"
	"hesscope/models"
)

// TestEval evaluates a state dict without hesscope's metadata, as PyTorch
// would save it: -model is then required, and the numbers do not depend on
// -batch-size.
func TestEval(t *testing.T) {
	net, err := models.New[float32]("lenet5", models.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plain.safetensors")
	if err := checkpoint.WriteFile(path, checkpoint.FromStateDict(experiment.StateDict(net), nil)); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := hesscope(t, "eval", "-weights", path); code != 2 || !strings.Contains(stderr, "-model is required") {
		t.Errorf("eval without a model name: exit %d, %q", code, stderr)
	}
	if code, _, stderr := hesscope(t, "eval", "-weights", path, "-model", "vgg"); code != 2 || !strings.Contains(stderr, "-model \"vgg\"") {
		t.Errorf("eval with an unknown model: exit %d, %q", code, stderr)
	}
	if code, _, stderr := hesscope(t, "eval", "-weights", path, "-model", "lenet5", "-dataset", "imagenet"); code != 2 || !strings.Contains(stderr, "-dataset") {
		t.Errorf("eval on an unknown dataset: exit %d, %q", code, stderr)
	}
	if code, _, stderr := hesscope(t, "eval", "-weights", path, "-model", "mlp"); code != 1 || !strings.Contains(stderr, "not a mlp checkpoint") {
		t.Errorf("eval with the wrong model: exit %d, %q", code, stderr)
	}
	var res []EvalResult
	for _, chunk := range []string{"256", "7"} {
		code, stdout, stderr := hesscope(t, "eval", "-weights", path, "-model", "lenet5", "-split", "train", "-samples", "100",
			"-batch-size", chunk, "-precision", "float64", "-json", "-quiet")
		if code != 0 {
			t.Fatalf("eval: exit %d: %s", code, stderr)
		}
		var r EvalResult
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	if res[0].Samples != 100 || res[0].Split != "train" || res[0].Normalize || res[0].Accuracy != res[1].Accuracy ||
		abs(res[0].Loss-res[1].Loss) > 1e-12 || !(res[0].Loss > 2 && res[0].Loss < 2.6) {
		t.Errorf("eval of a fresh LeNet-5 in chunks of 256 and 7: %+v, %+v; want equal losses near ln 10", res[0], res[1])
	}
}
