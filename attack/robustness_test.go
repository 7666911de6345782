package attack

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hesscope/checkpoint"
	"hesscope/tensor"
)

func TestRobustnessPGD(t *testing.T) {
	m, x, y := trainedMLP[float32](t, "relu")
	ctx := context.Background()
	var kept []float64
	s := Study{
		Config:    Config{Method: PGD, Steps: 10, RandomStart: true, Seed: 1},
		Eps:       []float64{0, 0.02, 0.05, 0.1},
		FGSMCheck: true, LargeEpsCheck: true,
	}
	r, err := Robustness[float32](ctx, m, x, y, s, Options{Workers: 2}, func(o *Outcome[float32]) error {
		kept = append(kept, o.Config.Eps)
		if o.Adv == nil {
			t.Error("kept outcome without examples")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("clean %.3f, curve %+v, fgsm %+v, large %+v", r.CleanAccuracy, r.Results, r.FGSM, r.LargeEps)
	if len(kept) != 4 || len(r.Results) != 4 || len(r.FGSM) != 4 || r.LargeEps == nil || r.LargeEps.Eps != 1 {
		t.Fatalf("kept %v, %d points, %d FGSM points, large ε %+v", kept, len(r.Results), len(r.FGSM), r.LargeEps)
	}
	if r.Results[0].Accuracy != r.CleanAccuracy || r.Results[0].MaxNorm != 0 {
		t.Errorf("ε = 0: accuracy %g (clean %g), max norm %g", r.Results[0].Accuracy, r.CleanAccuracy, r.Results[0].MaxNorm)
	}
	if r.Results[3].Accuracy >= r.Results[1].Accuracy {
		t.Errorf("the attack does not hurt: %+v", r.Results)
	}
	for _, c := range r.Checks {
		if !c.Pass {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
	}
	if len(r.Checks) != 4 || len(r.Warnings) != 0 {
		t.Errorf("checks %+v, warnings %v", r.Checks, r.Warnings)
	}
	stop := errors.New("stop")
	if _, err := Robustness[float32](ctx, m, x, y, s, Options{}, func(*Outcome[float32]) error { return stop }); err != stop {
		t.Errorf("keep's error: got %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Robustness[float32](cctx, m, x, y, s, Options{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}

func TestRobustnessDeepFool(t *testing.T) {
	m, x, y := trainedMLP[float64](t, "relu")
	s := Study{Config: Config{Method: DeepFool, Norm: L2}, Eps: []float64{0.2, 0.5, 1, 3}, LargeEpsCheck: true}
	r, err := Robustness[float64](context.Background(), m, x, y, s, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	df := r.DeepFool
	t.Logf("%+v %+v %+v", df, r.Results, r.Checks)
	if df == nil || !(df.RhoAdv > 0) || df.RhoAdvAll > df.RhoAdv || df.Failures != 0 {
		t.Fatalf("DeepFool stats %+v", df)
	}
	if r.LargeEps != nil {
		t.Error("DeepFool ran a large-ε point")
	}
	for i := 1; i < len(r.Results); i++ {
		if r.Results[i].Accuracy > r.Results[i-1].Accuracy {
			t.Errorf("DeepFool curve rises: %+v", r.Results)
		}
	}
	if r.Results[3].Accuracy != 0 {
		t.Errorf("accuracy %g at ε = 3, beyond every DeepFool perturbation (mean %g)", r.Results[3].Accuracy, df.MeanL2)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %v", r.Warnings)
	}
}

func TestSanityChecks(t *testing.T) {
	base := func() *Report {
		return &Report{Method: "pgd", Norm: "linf", Samples: 100, Dim: 784, CleanAccuracy: 0.9,
			Results:  []Point{{Eps: 0.1, Accuracy: 0.6, MaxNorm: 0.1}, {Eps: 0.2, Accuracy: 0.3, MaxNorm: 0.2}},
			FGSM:     []Point{{Eps: 0.1, Accuracy: 0.7, MaxNorm: 0.1}, {Eps: 0.2, Accuracy: 0.5, MaxNorm: 0.2}},
			LargeEps: &Point{Eps: 1, Accuracy: 0, MaxNorm: 1}}
	}
	failed := func(r *Report) []string {
		checks, warnings := SanityChecks(r)
		var names []string
		for _, c := range checks {
			if !c.Pass && !c.Info {
				names = append(names, c.Name)
			}
		}
		if len(warnings) != len(names) {
			t.Errorf("%d warnings for %d failed checks", len(warnings), len(names))
		}
		return names
	}
	if f := failed(base()); len(f) != 0 {
		t.Errorf("good report fails %v", f)
	}
	for _, c := range []struct {
		want   string
		break_ func(r *Report)
	}{
		{"monotone", func(r *Report) { r.Results[1].Accuracy = 0.65 }},
		{"monotone", func(r *Report) { r.LargeEps.Accuracy = 0.35; r.LargeEps.Eps = 1 }},
		{"pgd_vs_fgsm", func(r *Report) { r.FGSM[1].Accuracy = 0.25 }},
		{"large_eps", func(r *Report) { r.LargeEps.Accuracy = 0.05 }},
		{"within_eps", func(r *Report) { r.Results[0].MaxNorm = 0.1001 }},
		// A NaN comparison must not pass (NaN pixels: NaN norms).
		{"within_eps", func(r *Report) { r.Results[0].MaxNorm = math.NaN() }},
		{"within_eps", func(r *Report) { r.Results[1].MeanL2 = math.NaN() }},
		{"monotone", func(r *Report) { r.Results[1].Accuracy = math.NaN() }},
		{"pgd_vs_fgsm", func(r *Report) { r.FGSM[0].Accuracy = math.NaN() }},
		{"large_eps", func(r *Report) { r.LargeEps.Accuracy = math.NaN() }},
	} {
		r := base()
		c.break_(r)
		f := failed(r)
		if !strings.Contains(strings.Join(f, " "), c.want) {
			t.Errorf("breaking %s: failed checks %v", c.want, f)
		}
	}
	// One sample of slack: 0.01 with 100 samples.
	r := base()
	r.FGSM[1].Accuracy = 0.29
	if f := failed(r); len(f) != 0 {
		t.Errorf("one sample of slack: failed %v", f)
	}
	// A single step is not expected to be monotone or complete: FGSM (or
	// one-step PGD) failing those checks gets information, not a warning;
	// within_eps still warns.
	for _, single := range []*Report{
		{Method: "fgsm", Norm: "linf", Samples: 100, Dim: 784},
		{Method: "pgd", Norm: "linf", Samples: 100, Dim: 784, Config: Config{Steps: 1}},
	} {
		single.Results = []Point{{Eps: 0.1, Accuracy: 0.3, MaxNorm: 0.1}, {Eps: 0.3, Accuracy: 0.35, MaxNorm: 0.3}}
		single.LargeEps = &Point{Eps: 1, Accuracy: 0.187, MaxNorm: 1}
		checks, warnings := SanityChecks(single)
		info := 0
		for _, c := range checks {
			if c.Info {
				info++
				if c.Pass || !strings.Contains(c.Detail, "information, not a failure") {
					t.Errorf("%s %s: %+v", single.Method, c.Name, c)
				}
			}
		}
		if info != 2 || len(warnings) != 0 {
			t.Errorf("%s: %d information checks, warnings %v", single.Method, info, warnings)
		}
		single.Results[0].MaxNorm = 0.2
		if _, warnings := SanityChecks(single); len(warnings) != 1 || !strings.Contains(warnings[0], "within_eps") {
			t.Errorf("%s: a perturbation past ε gives warnings %v", single.Method, warnings)
		}
	}
	r = &Report{Method: "deepfool", Norm: "l2", Samples: 100, Correct: 90, DeepFool: &DeepFoolStats{Failures: 2}}
	if f := failed(r); len(f) != 1 || f[0] != "deepfool_success" {
		t.Errorf("DeepFool failures: failed %v", f)
	}
}

func TestPlotAndSave(t *testing.T) {
	m, x, y := trainedMLP[float32](t, "relu")
	dir := t.TempDir()
	s := Study{Config: Config{Method: PGD, Norm: L2, Steps: 3}, Eps: []float64{0.2, 0.5}, FGSMCheck: true}
	var out *Outcome[float32]
	r, err := Robustness[float32](context.Background(), m, x, y, s, Options{}, func(o *Outcome[float32]) error { out = o; return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"curve.png", "curve.svg"} {
		path := filepath.Join(dir, name)
		if err := WritePlot(path, r, "test"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG")) && !bytes.Contains(b[:min(len(b), 200)], []byte("<svg")) {
			t.Errorf("%s: neither PNG nor SVG: %q", name, b[:min(len(b), 16)])
		}
	}
	if err := WritePlot(filepath.Join(dir, "curve.gif"), r, ""); err == nil {
		t.Error("gif plot: no error")
	}
	path := filepath.Join(dir, "adv.safetensors")
	if err := SaveExamples(path, out, x, map[string]string{"model": "mlp"}); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["eps"] != "0.5" || f.Metadata["norm"] != "l2" || f.Metadata["model"] != "mlp" {
		t.Errorf("metadata %v", f.Metadata)
	}
	adv, err := checkpoint.ToDense[float32](f.Tensors["x"])
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(adv.Shape, x.Shape) || maxAbsDiff(adv.Data, out.Adv.Data) != 0 {
		t.Errorf("saved x differs from the examples")
	}
	for i, v := range f.Tensors["pred"].I64 {
		if int(v) != out.Pred[i] || int(f.Tensors["y"].I64[i]) != y[i] {
			t.Fatalf("saved pred/y %d differ", i)
		}
	}
	out.Adv = nil
	if err := SaveExamples(path, out, nil, nil); err == nil {
		t.Error("saving an outcome without examples: no error")
	}
}
