package data

import (
	"slices"
	"testing"
)

func TestStandardNorm(t *testing.T) {
	for name, want := range map[string][2][]float32{
		"mnist":         {{0.1307}, {0.3081}},
		"fashion-mnist": {{0.2860}, {0.3530}},
		"cifar10":       {{0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}},
		"cifar100":      {{0.5071, 0.4865, 0.4409}, {0.2673, 0.2564, 0.2762}},
	} {
		m, err := StandardNorm(name)
		if err != nil || !slices.Equal(m.Mean, want[0]) || !slices.Equal(m.Std, want[1]) {
			t.Errorf("StandardNorm(%q) = %v, %v", name, m, err)
		}
		m.Mean[0] = 7 // a copy: the table is unchanged
	}
	if m, _ := StandardNorm("mnist"); m.Mean[0] != 0.1307 {
		t.Error("StandardNorm returned the table's slice")
	}
	if _, err := StandardNorm("svhn"); err == nil || err.Error() != `data: unknown dataset "svhn" (want mnist, fashion-mnist, cifar10, cifar100)` {
		t.Errorf("error %v", err)
	}
}

func TestNorm(t *testing.T) {
	// Two images of 2 channels × 2 pixels.
	d := &Dataset{Name: "t", N: 2, C: 2, H: 1, W: 2, Classes: 2,
		X: []float32{0.5, 1, 0, 0.25, 0, 0.5, 0.5, 0.75}, Y: []int{0, 1}}
	m := Norm{Mean: []float32{0.5, 0.25}, Std: []float32{0.5, 0.25}}
	nd := d.Normalized(m)
	if want := []float32{0, 1, -1, 0, -1, 0, 1, 2}; !slices.Equal(nd.X, want) {
		t.Errorf("Normalized = %v, want %v", nd.X, want)
	}
	if d.X[0] != 0.5 || &nd.Y[0] == &d.Y[0] {
		t.Error("Normalized changed or shares its input")
	}
	in := slices.Clone(d.X)
	m.ApplyTo(in, in, 2) // in place
	if !slices.Equal(in, nd.X) {
		t.Errorf("in place: %v", in)
	}
	// Channel 0 holds 0.5, 1, 0, 0.5: mean 0.5, std √(0.125); channel 1
	// holds 0, 0.25, 0.5, 0.75: mean 0.375, std √(0.078125).
	s := d.Stats()
	if !slices.Equal(s.Mean, []float32{0.5, 0.375}) || !slices.Equal(s.Std, []float32{0.35355339, 0.2795085}) {
		t.Errorf("Stats = %v", s)
	}
	if s := (&Dataset{C: 1, H: 2, W: 2}).Stats(); s.Mean[0] != 0 || s.Std[0] != 0 {
		t.Errorf("Stats of no images = %v", s)
	}
	panics(t, "not whole images of 2×3", func() { m.ApplyTo(in, in, 3) })
	panics(t, "Norm has 2 channels, dataset \"t\" 1", func() { (&Dataset{Name: "t", C: 1}).Normalized(m) })
	panics(t, "2 means and 1 standard deviations", func() { Norm{Mean: []float32{0, 0}, Std: []float32{1}}.ApplyTo(in, in, 2) })
}
