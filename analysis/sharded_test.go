package analysis_test

import (
	"context"
	"math"
	"testing"

	"hesscope/analysis"
	"hesscope/dist"
	"hesscope/dist/disttest"
)

// TestSharded: Spectrum, Landscape and Sharpness with the Sharded backend
// over 1 to 4 in-process ranks (disttest), each holding its shard, give the
// same bits on every rank and agree with one process to rounding.
func TestSharded(t *testing.T) {
	d := synthetic(23, 8)
	so := analysis.SpectrumOptions{TopK: 2, BottomK: 1, Trace: true, TraceMatVecs: 9, Density: true, DensityProbes: 1, DensitySteps: 6, BatchSize: 4, Seed: 2}
	lo := analysis.LandscapeOptions{Points: 5, BatchSize: 4, Seed: 3}
	ho := analysis.SharpnessOptions{Metric: "epsilon", Iterations: 3, BatchSize: 4}
	run := func(c dist.Comm) []float64 {
		net, dd := newTiny(5), d
		so, lo, ho := so, lo, ho
		if c != nil {
			dd = analysis.ShardOf(d, 4, c)
			so.Backend, lo.Backend, ho.Backend = analysis.Sharded{Comm: c}, analysis.Sharded{Comm: c}, analysis.Sharded{Comm: c}
		}
		s, err := analysis.Spectrum[float64](context.Background(), net, dd, so)
		if err != nil {
			t.Fatal(err)
		}
		l, err := analysis.Landscape[float64](context.Background(), net, dd, lo)
		if err != nil {
			t.Fatal(err)
		}
		h, err := analysis.Sharpness[float64](context.Background(), net, dd, ho)
		if err != nil {
			t.Fatal(err)
		}
		v := append([]float64{s.Loss, s.Accuracy, s.GradNorm, *s.MinEigen, s.Trace.HutchPP.Estimate}, s.TopEigen...)
		v = append(v, s.Density.Density...)
		v = append(v, l.Loss, l.Accuracy)
		v = append(v, l.Grid.Loss[0]...)
		v = append(v, l.Grid.Accuracy[0]...)
		v = append(v, h.Loss, h.Epsilon[0].Sharpness)
		return v
	}
	ref := run(nil)
	for _, p := range []int{1, 2, 3, 4} {
		got := make([][]float64, p)
		disttest.Run(p, func(c dist.Comm) { got[c.Rank()] = run(c) })
		var worst float64
		for i, want := range ref {
			for r := range p {
				if math.Float64bits(got[r][i]) != math.Float64bits(got[0][i]) {
					t.Fatalf("%d ranks: value %d is %v on rank %d, %v on rank 0", p, i, got[r][i], r, got[0][i])
				}
			}
			if want != 0 {
				worst = max(worst, math.Abs(got[0][i]-want)/math.Abs(want))
			} else {
				worst = max(worst, math.Abs(got[0][i]))
			}
		}
		t.Logf("%d ranks: %d values, largest relative difference from one process %.3g", p, len(ref), worst)
		if worst > 1e-10 {
			t.Errorf("%d ranks: relative difference %.3g from one process", p, worst)
		}
	}
}
