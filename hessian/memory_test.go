package hessian

import (
	"fmt"
	"slices"
	"testing"

	"hesscope/models"
)

// TestWorkingSet: the estimate from the probe passes (32 and 64 images) is
// within 10 % (and 4 MB) of the memory a pass over 128 images allocates,
// and WorkingSetBound is not below it, for every kind of pass on a dense
// model and some on a convolutional and a residual one (the counts are the
// race detector's own under -race: skipped there); and the probes leave the
// model's parameters (BatchNorm's running statistics, which a pass in train
// mode updates, included) as they were.
func TestWorkingSet(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates, and drops pooled buffers, on its own")
	}
	const n = 128
	for _, c := range []struct {
		name  string
		kinds []PassKind
	}{
		{"mlp", []PassKind{LossPass, GradientPass, TrainPass, HVPPass, InputGradientPass, InputHVPPass}},
		{"c2", []PassKind{HVPPass}},
		{"resnet20", []PassKind{TrainPass, InputHVPPass}},
	} {
		name := c.name
		net, err := models.New[float32](name, models.Config{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		before := make([][]float32, 0)
		for _, p := range net.Params() {
			before = append(before, slices.Clone(p.Value.Data))
		}
		input := [3]int{net.Input[0], net.Input[1], net.Input[2]}
		for _, kind := range c.kinds {
			est := WorkingSet(net, input, kind, n)
			got := probePass(net, input, kind, n)
			// Within 10 %, and 4 MB: the pools' first fill of a small pass
			// moves by a few MB.
			if d := float64(est) - float64(got); d > 0.1*float64(got)+4<<20 || -d > 0.1*float64(got)+4<<20 {
				t.Errorf("%s, kind %d: estimated %.1f MB for %d images, a pass allocated %.1f MB", name, kind, float64(est)/(1<<20), n, float64(got)/(1<<20))
			}
			if b := WorkingSetBound(net, input, kind, n); float64(b) < 0.95*float64(est) {
				t.Errorf("%s, kind %d: the one-probe bound for %d images, %.1f MB, is below the estimate, %.1f MB", name, kind, n, float64(b)/(1<<20), float64(est)/(1<<20))
			}
			if kind == HVPPass && est < 2<<20 {
				t.Errorf("%s: an HVP of %d images estimated at %d bytes", name, n, est)
			}
		}
		// probePass in train mode moved the running statistics; WorkingSet
		// must not have: restore them as the comparison passes left them,
		// then check WorkingSet and WorkingSetBound alone.
		for i, p := range net.Params() {
			copy(p.Value.Data, before[i])
		}
		WorkingSet(net, input, TrainPass, n)
		WorkingSetBound(net, input, TrainPass, n)
		for i, p := range net.Params() {
			if !slices.Equal(p.Value.Data, before[i]) {
				t.Errorf("%s: WorkingSet or WorkingSetBound changed parameter %s", name, p.Name)
			}
		}
	}
	if got := WorkingSet(mustNet(t, "mlp"), [3]int{1, 28, 28}, HVPPass, 0); got != 0 {
		t.Errorf("WorkingSet of 0 images: %d bytes, want 0", got)
	}
}

func mustNet(t *testing.T, name string) *models.Net[float32] {
	net, err := models.New[float32](name, models.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// ExampleWorkingSet sizes a pass before running it: one HVP of 1024 CIFAR
// images through ResNet-20, in float32.
func ExampleWorkingSet() {
	net, err := models.New[float32]("resnet20", models.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	need := WorkingSet(net, [3]int{3, 32, 32}, HVPPass, 1024)
	fmt.Println(need > 2<<30) // about 4 GB with the vector kernels: 2× a gradient's
	// Output: true
}
