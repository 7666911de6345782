package models

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"hesscope/nn"
	"hesscope/tensor"
)

// spec parses the parameter tables of testdata/models.md (a copy of the
// team's model-zoo specification): name → list of "param [shape]" lines,
// and the stated parameter counts.
func spec(t *testing.T) (map[string][]string, map[string]int) {
	f, err := os.Open("testdata/models.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	params := map[string][]string{}
	counts := map[string]int{}
	head := regexp.MustCompile(`^### (\w+) .*?([\d,]+) parameters`)
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := head.FindStringSubmatch(line); m != nil {
			cur = m[1]
			n, _ := strconv.Atoi(strings.ReplaceAll(m[2], ",", ""))
			counts[cur] = n
			continue
		}
		if cur != "" && strings.HasPrefix(line, "    ") {
			fields := strings.Fields(line)
			params[cur] = append(params[cur], fields[0]+" "+strings.Join(fields[1:], " "))
		}
	}
	return params, counts
}

func TestZooMatchesSpecification(t *testing.T) {
	want, counts := spec(t)
	if len(want) != 6 {
		t.Fatalf("parsed %d models from the specification, want 6", len(want))
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			net, err := New[float32](name, Config{Classes: 10, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range net.Params() {
				dims := make([]string, len(p.Value.Shape))
				for i, d := range p.Value.Shape {
					dims[i] = strconv.Itoa(d)
				}
				got = append(got, fmt.Sprintf("%s [%s]", p.Name, strings.Join(dims, ", ")))
			}
			if strings.Join(got, "\n") != strings.Join(want[name], "\n") {
				t.Errorf("parameters differ from the specification:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want[name], "\n"))
			}
			if n := net.NumParams(); n != counts[name] {
				t.Errorf("%d trainable parameters, specification says %d", n, counts[name])
			}
		})
	}
}

func TestHundredClassesChangesOnlyLastLayer(t *testing.T) {
	for _, name := range Names() {
		a, _ := New[float32](name, Config{Classes: 10})
		b, _ := New[float32](name, Config{Classes: 100})
		pa, pb := a.Params(), b.Params()
		if len(pa) != len(pb) {
			t.Fatalf("%s: %d vs %d tensors", name, len(pa), len(pb))
		}
		for i := range pa {
			same := fmt.Sprint(pa[i].Value.Shape) == fmt.Sprint(pb[i].Value.Shape)
			last := i >= len(pa)-2
			if same == last {
				t.Errorf("%s: %s shape %v with 10 classes, %v with 100", name, pa[i].Name, pa[i].Value.Shape, pb[i].Value.Shape)
			}
		}
	}
}

func TestInitialisationIsPyTorchDefault(t *testing.T) {
	net, _ := New[float64]("lenet5", Config{Seed: 7})
	for _, p := range nn.Trainable(net.Params()) {
		fanIn := 1
		for _, d := range p.Value.Shape[1:] {
			fanIn *= d
		}
		if len(p.Value.Shape) == 1 { // bias: fan_in of its weight
			continue
		}
		bound := 1 / math.Sqrt(float64(fanIn))
		var lo, hi float64
		for _, v := range p.Value.Data {
			lo, hi = min(lo, v), max(hi, v)
		}
		// U(−b, b): the extremes of thousands of draws lie within 2% of ±b.
		if hi > bound || lo < -bound || hi < 0.98*bound || lo > -0.98*bound {
			t.Errorf("%s: values in [%g, %g], want U(±%g)", p.Name, lo, hi, bound)
		}
	}
	again, _ := New[float64]("lenet5", Config{Seed: 7})
	other, _ := New[float64]("lenet5", Config{Seed: 8})
	if again.Params()[0].Value.Data[0] != net.Params()[0].Value.Data[0] {
		t.Error("same seed gave different weights")
	}
	if other.Params()[0].Value.Data[0] == net.Params()[0].Value.Data[0] {
		t.Error("different seeds gave the same weights")
	}
}

func TestUnknownNames(t *testing.T) {
	if _, err := New[float32]("vgg", Config{}); err == nil || !strings.Contains(err.Error(), `unknown model "vgg"`) {
		t.Errorf("got %v", err)
	}
	if _, err := New[float32]("mlp", Config{Activation: "gelu"}); err == nil || !strings.Contains(err.Error(), "gelu") {
		t.Errorf("got %v", err)
	}
}

// TestForwardCost checks the FLOPs of a forward pass, worked out by hand
// per image (2 per multiply-add of the convolutions and linear layers),
// and the first such layer's, for models whose convolutions run alone
// (C1) and fused with their pooling (LeNet-5, autodiff.Conv2dMaxPool).
func TestForwardCost(t *testing.T) {
	for _, c := range []struct {
		name         string
		flops, first float64 // per image
	}{
		// conv1 2·20·24²·25, conv2 2·50·8²·500, fc1 2·500·800, fc2 2·10·500.
		{"lenet5", 576000 + 3200000 + 800000 + 10000, 576000},
		// conv1 2·64·32²·75, conv2 2·64·16²·1600, fc 2·(384·4096 + 192·384 + 10·192).
		{"c1", 9830400 + 52428800 + 3145728 + 147456 + 3840, 9830400},
	} {
		net, err := New[float32](c.name, Config{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		const n = 3
		x := tensor.New[float32](n, net.Input[0], net.Input[1], net.Input[2])
		got := net.ForwardCost(x)
		if got.FLOPs != n*c.flops || got.First != n*c.first {
			t.Errorf("%s: FLOPs %g, first %g; want %g, %g", c.name, got.FLOPs, got.First, n*c.flops, n*c.first)
		}
	}
}
