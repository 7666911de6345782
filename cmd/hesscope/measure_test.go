package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"hesscope/analysis"
	"hesscope/experiment"
)

// TestSweepMeasuresLikeTheCommands: the measurements of a sweep
// (experiment.Measure) and the commands spectrum, landscape, attack and
// saddle-check with the same network, data and options give the same bits,
// because both call package analysis.
func TestSweepMeasuresLikeTheCommands(t *testing.T) {
	weights, dataset := labelledByModel(t, 8)
	net, _, err := experiment.LoadModel[float32](experiment.ModelSpec{Name: "mlp", Weights: weights})
	if err != nil {
		t.Fatal(err)
	}
	d, err := experiment.LoadData(experiment.DataSpec{Name: dataset})
	if err != nil {
		t.Fatal(err)
	}
	m := experiment.MeasureConfig{HessianSamples: 8, TopK: 1, LanczosIters: 15, TraceProbes: 4, DensityProbes: 1, DensitySteps: 8,
		InputSamples: 2, AttackSamples: 6, DeepFoolSamples: 5, SaddleSamples: 2, SaddleSteps: 1, LandscapePoints: 3}
	ms, err := experiment.Measure[float32](context.Background(), net, d, d, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := ms.Run

	cli := func(args ...string) string {
		t.Helper()
		args = append(args, "-weights", weights, "-dataset", dataset, "-precision", "float32", "-json", "-quiet")
		code, stdout, stderr := runCLI(context.Background(), args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	// The options experiment.MeasureConfig.SpectrumOptions chooses, as flags.
	hessianFlags := []string{"-samples", "all", "-batch-size", "250", "-seed", "1", "-max-iter", "15", "-tol", "1e-3"}
	sp := decode[analysis.SpectrumResult](t, cli(append([]string{"spectrum", "-top-k", "1", "-min",
		"-trace", "-trace-method", "hutchinson", "-trace-matvecs", "4",
		"-density", "-density-probes", "1", "-density-steps", "8", "-density-bins", "1000", "-density-sigma2", "1e-4"}, hessianFlags...)...))
	if !slices.Equal(r.TopEigenvalues, sp.TopEigen) || r.MinEigenvalue != *sp.MinEigen || !slices.Equal(r.Residuals, []float64{sp.Residuals[0], *sp.MinResid}) {
		t.Errorf("eigenvalues: sweep %v, %v (residuals %v); spectrum %v, %v", r.TopEigenvalues, r.MinEigenvalue, r.Residuals, sp.TopEigen, *sp.MinEigen)
	}
	if tr := sp.Trace.Hutchinson; r.Trace != tr.Estimate || r.TraceStdErr != tr.StdErr {
		t.Errorf("trace: sweep %v ± %v, spectrum %v ± %v", r.Trace, r.TraceStdErr, tr.Estimate, tr.StdErr)
	}
	if !slices.Equal(ms.Density.Grid, sp.Density.Grid) || !slices.Equal(ms.Density.Density, sp.Density.Density) {
		t.Error("the sweep's spectral density differs from spectrum's")
	}

	ls := decode[analysis.LandscapeResult](t, cli(append([]string{"landscape", "-direction", "eigen", "-points", "3", "-range", "1"}, hessianFlags...)...))
	if ms.Landscape.Lambda != sp.TopEigen[0] || !slices.Equal(ms.Landscape.Grid.X, ls.Grid.X) || !slices.Equal(ms.Landscape.Grid.Loss[0], ls.Grid.Loss[0]) ||
		!slices.Equal(ms.Landscape.Grid.Accuracy[0], ls.Grid.Accuracy[0]) {
		t.Errorf("landscape: sweep %v, command %v", ms.Landscape.Grid.Loss, ls.Grid.Loss)
	}

	in := decode[analysis.SpectrumResult](t, cli("spectrum", "-top-k", "0", "-input-samples", "2", "-max-iter", "60", "-tol", "1e-3", "-seed", "1"))
	if r.InputTopEigenvalue != in.InputSamples.Top.Mean || r.InputTopEigenvalueStd != in.InputSamples.Top.Std {
		t.Errorf("input eigenvalue: sweep %v ± %v, spectrum %v ± %v", r.InputTopEigenvalue, r.InputTopEigenvalueStd, in.InputSamples.Top.Mean, in.InputSamples.Top.Std)
	}

	fgsm := decode[analysis.AttackResult](t, cli("attack", "-method", "fgsm", "-eps", "0.1,0.2,0.3", "-checks=false", "-samples", "6"))
	if len(r.FGSM) != 3 || len(fgsm.Results) != 3 {
		t.Fatalf("FGSM: sweep %v, attack %v", r.FGSM, fgsm.Results)
	}
	for i, p := range fgsm.Results {
		if r.FGSM[i].Eps != p.Eps || r.FGSM[i].Accuracy != p.Accuracy {
			t.Errorf("FGSM at %v: sweep %v, attack %v", p.Eps, r.FGSM[i].Accuracy, p.Accuracy)
		}
	}
	df := decode[analysis.AttackResult](t, cli("attack", "-method", "deepfool", "-checks=false", "-samples", "5"))
	if r.RhoAdv != *df.RhoAdv || r.RhoAdv <= 0 {
		t.Errorf("ρ_adv: sweep %v, attack %v", r.RhoAdv, *df.RhoAdv)
	}

	sd := decode[analysis.SaddleResult](t, cli("saddle-check", "-samples", "2", "-steps", "1", "-eps", "0.2", "-seed", "6"))
	if r.SaddlePoints != sd.Points || r.SaddleFraction != sd.Fraction || r.SaddleMinRatio != sd.MinRatio || sd.Points != 4 {
		t.Errorf("saddle check: sweep %v %v %v, saddle-check %v %v %v", r.SaddlePoints, r.SaddleFraction, r.SaddleMinRatio, sd.Points, sd.Fraction, sd.MinRatio)
	}
}
