package experiment

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"

	"hesscope/chart"
	"hesscope/internal/stats"
	"hesscope/report"
)

// Axis labels with their units. λ₁ is an eigenvalue of the Hessian of the
// mean cross-entropy (in nats) with respect to the parameters or the
// input pixels (in [0, 1]).
const (
	batchAxis   = "batch size (images)"
	lambdaAxis  = "λ₁(θ) (nats/param²)"
	inputAxis   = "λ₁(x) (nats/pixel²)"
	rhoAxis     = "ρ_adv (DeepFool)"
	epsAxis     = "ε (L∞ radius, pixels in [0, 1])"
	lossAxis    = "training loss (nats)"
	epochAxis   = "epoch"
	densityAxis = "density"
)

// kinds are the training kinds in the order the figures show them.
var kinds = []string{"normal", "robust", "absa"}

// figures draws the report's plots into out/figures: each as SVG (embedded
// in the report) and PNG.
func figures(out string, res *report.Results, lands map[string]*Landscape, dens map[string]*Density) ([]report.Figure, error) {
	dir := filepath.Join(out, "figures")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var figs []report.Figure
	save := func(name, title, caption string, fig interface{ Save(string) error }) error {
		for _, ext := range []string{".svg", ".png"} {
			if err := fig.Save(filepath.Join(dir, name+ext)); err != nil {
				return fmt.Errorf("figure %s: %w", name, err)
			}
		}
		figs = append(figs, report.Figure{Title: title, File: filepath.Join("figures", name+".svg"), Caption: caption})
		return nil
	}
	runs := res.Runs
	// One colour per batch size, the same in every figure.
	var sizes []int
	for _, r := range runs {
		if r.Kind != "absa" && !slices.Contains(sizes, r.BatchSize) {
			sizes = append(sizes, r.BatchSize)
		}
	}
	slices.Sort(sizes)
	colour := func(b int) int { return slices.Index(sizes, b) }
	// The batch axes are logarithmic: a tick at a batch size ≤ 0 (of a
	// sweep.json from before Validate refused them) would panic in the
	// plotting library.
	var ticks []float64
	for _, b := range sizes {
		if b > 0 {
			ticks = append(ticks, float64(b))
		}
	}
	kindsIn := func() []string {
		var ks []string
		for _, k := range kinds {
			if slices.ContainsFunc(runs, func(r report.Run) bool { return r.Kind == k }) {
				ks = append(ks, k)
			}
		}
		return ks
	}()
	seeds := res.Uncertainty.SeedsMax
	spread := "mean ± standard deviation over seeds (error bars; none with one seed), individual runs as light points"

	// 1. λ₁(θ) and λ₁(x) against batch size.
	if len(ticks) > 0 {
		var panels []*chart.Line
		for _, q := range []struct {
			title, axis string
			stat        func(g report.Group) report.Stat
			value       func(r report.Run) float64
		}{
			{"Top eigenvalue, parameters", lambdaAxis, func(g report.Group) report.Stat { return g.TopEigenvalue }, func(r report.Run) float64 { return first(r.TopEigenvalues) }},
			{"Top eigenvalue, inputs", inputAxis, func(g report.Group) report.Stat { return g.InputTopEigenvalue }, func(r report.Run) float64 { return r.InputTopEigenvalue }},
		} {
			l := &chart.Line{Title: q.title, XLabel: batchAxis, YLabel: q.axis, LogX: true, LogY: true, XTicks: ticks}
			for ki, kind := range []string{"normal", "robust"} {
				gs := kindGroups(res.Groups, kind)
				if len(gs) == 0 {
					continue
				}
				// Normal and robust side by side at each batch size, each
				// run beside its mean.
				dodge := []float64{0.95, 1.05}[ki]
				l.Series = append(l.Series, meanSeries(kind+" training", gs, q.stat, chart.Palette(ki), kind == "robust", ki, dodge))
				l.Series = append(l.Series, runPoints(runs, kind, q.value, chart.Palette(ki), dodge*dodge*dodge))
			}
			panels = append(panels, l)
		}
		if err := save("eigenvalue_vs_batch", "Top Hessian eigenvalues against batch size",
			fmt.Sprintf("λ₁ of the Hessian of the training loss with respect to the parameters (a fixed subset of training images, the same for every run) and the mean over test images of λ₁ of the per-image Hessian with respect to the input, both axes logarithmic; %s.", spread),
			&chart.Panels{Plots: panels}); err != nil {
			return nil, err
		}
	}

	// 2. FGSM accuracy against ε, one curve per batch size.
	if len(res.Groups) > 0 && len(res.Groups[0].FGSM) > 0 {
		var panels []*chart.Line
		for _, kind := range []string{"normal", "robust"} {
			gs := kindGroups(res.Groups, kind)
			if len(gs) == 0 {
				continue
			}
			l := &chart.Line{Title: kind + " training", XLabel: epsAxis, YLabel: "FGSM accuracy (%)"}
			for _, g := range gs {
				var x, y, lo, hi []float64
				for _, e := range g.FGSM {
					m, sd := 100*e.Accuracy.Mean, 100*e.Accuracy.Std
					x, y, lo, hi = append(x, e.Eps), append(y, m), append(lo, m-sd), append(hi, m+sd)
				}
				l.Series = append(l.Series, chart.Series{Name: fmt.Sprintf("B = %d", g.BatchSize), X: x, Y: y, YLo: lo, YHi: hi, Points: true,
					Color: chart.Palette(colour(g.BatchSize)), Shape: colour(g.BatchSize)})
			}
			panels = append(panels, l)
		}
		if err := save("fgsm_vs_eps", "Robust accuracy against the attack radius",
			fmt.Sprintf("Test accuracy (%% of the attacked test images) under FGSM (L∞) at each radius ε, per batch size B; %s.", "mean ± standard deviation over seeds"),
			&chart.Panels{Plots: panels, SameY: true}); err != nil {
			return nil, err
		}
	}

	// 3. Loss along the top eigenvector, one curve per batch size.
	var lpanels []*chart.Line
	for _, kind := range kindsIn {
		l := &chart.Line{Title: kind + " training", XLabel: "step t along v₁ (‖v₁‖ = 1)", YLabel: lossAxis, LogY: true}
		for _, b := range append([]int{0}, sizes...) {
			var curves [][]float64
			var x []float64
			for _, r := range runs {
				ld := lands[r.Name]
				if r.Kind != kind || (kind != "absa" && r.BatchSize != b) || (kind == "absa" && b != 0) || ld == nil || ld.Grid == nil || len(ld.Grid.Loss) == 0 {
					continue
				}
				if x == nil {
					x = ld.Grid.X
				}
				if len(ld.Grid.Loss[0]) == len(x) {
					curves = append(curves, ld.Grid.Loss[0])
				}
			}
			if len(curves) == 0 {
				continue
			}
			name, col := "ABSA", chart.Palette(len(sizes))
			if kind != "absa" {
				name, col = fmt.Sprintf("B = %d", b), chart.Palette(colour(b))
			}
			l.Series = append(l.Series, band(name, x, curves, col))
		}
		if len(l.Series) > 0 {
			lpanels = append(lpanels, l)
		}
	}
	if len(lpanels) > 0 {
		if err := save("landscape_top_eigenvector", "Loss along the top eigenvector",
			"Training loss (the fixed subset of the Hessian; logarithmic axis, so that every batch size shows) at θ + t·v₁, v₁ the unit top eigenvector of each network's own Hessian: mean over seeds, shaded from the lowest to the highest seed.",
			&chart.Panels{Plots: lpanels, SameY: true}); err != nil {
			return nil, err
		}
	}

	// 4. Spectral densities, seed 1 of every configuration, overlaid.
	var dpanels []*chart.Line
	for _, kind := range kindsIn {
		l := &chart.Line{Title: kind + " training", XLabel: "eigenvalue / λ₁ of the same network", YLabel: densityAxis, LogY: true}
		peak := 0.0
		for _, r := range runs {
			d := dens[r.Name]
			if r.Kind != kind || d == nil || r.Seed != 1 || len(r.TopEigenvalues) == 0 || !(r.TopEigenvalues[0] > 0) {
				continue
			}
			l1 := r.TopEigenvalues[0]
			name, col := fmt.Sprintf("ABSA (λ₁ %.3g)", l1), chart.Palette(len(sizes))
			if kind != "absa" {
				name, col = fmt.Sprintf("B = %d (λ₁ %.3g)", r.BatchSize, l1), chart.Palette(colour(r.BatchSize))
			}
			// The density of λ/λ₁ is λ₁ times that of λ.
			x, y := make([]float64, len(d.Grid)), make([]float64, len(d.Density))
			for i := range d.Grid {
				x[i] = d.Grid[i] / l1
			}
			for i := range d.Density {
				y[i] = d.Density[i] * l1
				peak = math.Max(peak, y[i])
			}
			l.Series = append(l.Series, chart.Series{Name: name, X: x, Y: y, Color: col})
		}
		if len(l.Series) > 0 {
			l.YMin, l.YMax = peak*1e-8, peak*2
			dpanels = append(dpanels, l)
		}
	}
	if len(dpanels) > 0 {
		if err := save("spectral_density", "Spectral density of the parameter Hessian",
			"Stochastic Lanczos quadrature estimate of the eigenvalue density (Gaussian broadening σ² = 10⁻⁴), seed 1 of every configuration, against eigenvalue / λ₁ of the same network so that spectra of different scales overlay (the legend gives each λ₁), logarithmic density axis cut at 10⁻⁸ of the peak.",
			&chart.Panels{Plots: dpanels}); err != nil {
			return nil, err
		}
	}

	// 5. Robust against normal, paired by seed.
	var rx, ry, mx, my, mlo, mhi []float64
	for _, b := range sizes {
		var ratios []float64
		for _, r := range runs {
			if r.Kind != "robust" || r.BatchSize != b {
				continue
			}
			for _, n := range runs {
				if n.Kind == "normal" && n.BatchSize == b && n.Seed == r.Seed {
					v := first(r.TopEigenvalues) / first(n.TopEigenvalues)
					ratios = append(ratios, v)
					rx, ry = append(rx, 1.1*float64(b)), append(ry, v)
				}
			}
		}
		if len(ratios) > 0 {
			m, sd := meanStd(ratios)
			mx, my, mlo, mhi = append(mx, float64(b)), append(my, m), append(mlo, m-sd), append(mhi, m+sd)
		}
	}
	if len(mx) > 0 && len(ticks) > 0 {
		lo, hi := math.Min(0.9, slices.Min(append(ry, mlo...))*0.95), math.Max(1.1, slices.Max(append(ry, mhi...))*1.05)
		l := &chart.Line{Title: "Robust against normal training", XLabel: batchAxis, YLabel: "λ₁(θ) robust / normal (same seed)", LogX: true, XTicks: ticks,
			YMin: lo, YMax: hi, Legend: chart.LegendRight, Width: chart.Width * 5 / 4,
			Series: []chart.Series{
				{Name: "equal", X: []float64{ticks[0], ticks[len(ticks)-1]}, Y: []float64{1, 1}, Dashed: true, Color: chart.Palette(6)},
				{Name: "mean ± s.d.", X: mx, Y: my, YLo: mlo, YHi: mhi, Points: true, Color: chart.Palette(1)},
				{Name: "one seed pair", X: rx, Y: ry, NoLine: true, Faint: true, Color: chart.Palette(1)},
			}}
		if err := save("robust_vs_normal", "Robust against normal training, paired by seed",
			"Ratio of the top eigenvalue of the robustly trained network to that of the normally trained one of the same seed and batch size (below 1: robust training is flatter), logarithmic batch axis; claim 4 tests the difference robust − normal of the same pairs.",
			l); err != nil {
			return nil, err
		}
	}

	// 6. λ₁ during training, mean over seeds with a band.
	var cpanels []*chart.Line
	for _, kind := range kindsIn {
		l := &chart.Line{Title: kind + " training", XLabel: epochAxis, YLabel: lambdaAxis, LogY: true}
		for _, b := range append([]int{0}, sizes...) {
			var curves [][]float64
			var x []float64
			for _, r := range runs {
				if r.Kind != kind || (kind != "absa" && r.BatchSize != b) || (kind == "absa" && b != 0) || len(r.Curvature) == 0 {
					continue
				}
				var xs, ys []float64
				for _, c := range r.Curvature {
					xs, ys = append(xs, float64(c.Epoch)), append(ys, c.Value)
				}
				if x == nil {
					x = xs
				}
				if slices.Equal(xs, x) {
					curves = append(curves, ys)
				}
			}
			if len(curves) == 0 {
				continue
			}
			name, col := "ABSA", chart.Palette(len(sizes))
			if kind != "absa" {
				name, col = fmt.Sprintf("B = %d", b), chart.Palette(colour(b))
			}
			s := band(name, x, curves, col)
			s.Points = true
			l.Series = append(l.Series, s)
		}
		if len(l.Series) > 0 {
			cpanels = append(cpanels, l)
		}
	}
	if len(cpanels) > 0 {
		if err := save("eigenvalue_vs_epoch", "Top eigenvalue during training",
			fmt.Sprintf("λ₁ of the parameter Hessian on a random subset of training images (fixed for each run, of the size the training's track_samples gives), tracked at the end of every epoch while training (logarithmic axis): mean over seeds, shaded from the lowest to the highest seed (%d seed(s)). A smaller subset gives a larger λ₁ (a few high-curvature images weigh more), so this level is not that of the table's λ₁ on the fixed measurement subset; compare the curves with each other.", seeds),
			&chart.Panels{Plots: cpanels, SameY: true}); err != nil {
			return nil, err
		}
	}

	// 7. Robustness against λ₁, one point per run (on a logarithmic axis:
	// none if no λ₁ is positive).
	if slices.ContainsFunc(runs, func(r report.Run) bool { return len(r.TopEigenvalues) > 0 && r.TopEigenvalues[0] > 0 }) {
		var panels []*chart.Line
		for _, q := range []struct {
			axis string
			f    func(r report.Run) float64
		}{
			{rhoAxis, func(r report.Run) float64 { return r.RhoAdv }},
			{"", func(r report.Run) float64 { _, a := fgsmMiddle(r); return 100 * a }},
		} {
			axis := q.axis
			if axis == "" {
				e, _ := fgsmMiddle(runs[0])
				axis = fmt.Sprintf("FGSM accuracy at ε = %g (%%)", e)
			}
			l := &chart.Line{XLabel: lambdaAxis, YLabel: axis, LogX: true}
			for ki, kind := range kinds {
				for _, b := range append([]int{0}, sizes...) {
					var x, y []float64
					for _, r := range runs {
						if r.Kind == kind && (kind == "absa" && b == 0 || kind != "absa" && r.BatchSize == b) && len(r.TopEigenvalues) > 0 {
							x, y = append(x, r.TopEigenvalues[0]), append(y, q.f(r))
						}
					}
					if len(x) == 0 {
						continue
					}
					name, col := "ABSA", chart.Palette(len(sizes))
					if kind != "absa" {
						name, col = fmt.Sprintf("%s, B = %d", kind, b), chart.Palette(colour(b))
					}
					l.Series = append(l.Series, chart.Series{Name: name, X: x, Y: y, NoLine: true, Color: col, Shape: ki})
				}
			}
			panels = append(panels, l)
		}
		if err := save("robustness_vs_eigenvalue", "Robustness against the top eigenvalue",
			"DeepFool's ρ_adv = mean ‖r‖₂/‖x‖₂ over correctly classified test images (higher is more robust) and FGSM accuracy against λ₁(θ) (logarithmic axis), one point per run: colour gives the batch size, shape the training (disc normal, square robust); claim 3 tests their rank correlations.",
			&chart.Panels{Plots: panels}); err != nil {
			return nil, err
		}
	}
	return figs, nil
}

// meanSeries is the mean ± standard deviation of stat over the groups,
// against batch size (times dodge, to set series side by side on a log
// axis).
func meanSeries(name string, gs []report.Group, stat func(report.Group) report.Stat, col color.Color, dashed bool, shape int, dodge float64) chart.Series {
	s := chart.Series{Name: name, Points: true, Dashed: dashed, Color: col, Shape: shape}
	for _, g := range gs {
		st := stat(g)
		s.X, s.Y = append(s.X, dodge*float64(g.BatchSize)), append(s.Y, st.Mean)
		s.YLo, s.YHi = append(s.YLo, st.Mean-st.Std), append(s.YHi, st.Mean+st.Std)
	}
	return s
}

// runPoints are the individual runs of a kind, faint, without a legend
// entry, at batch size × dodge.
func runPoints(runs []report.Run, kind string, f func(report.Run) float64, col color.Color, dodge float64) chart.Series {
	s := chart.Series{NoLine: true, Faint: true, Color: col}
	for _, r := range runs {
		if r.Kind == kind {
			s.X, s.Y = append(s.X, dodge*float64(r.BatchSize)), append(s.Y, f(r))
		}
	}
	return s
}

// band is the mean of curves (same x) with a band from their pointwise
// least to greatest value.
func band(name string, x []float64, curves [][]float64, col color.Color) chart.Series {
	s := chart.Series{Name: name, X: x, Color: col}
	for k := range x {
		var v []float64
		for _, c := range curves {
			v = append(v, c[k])
		}
		s.Y, s.YLo, s.YHi = append(s.Y, stats.Mean(v)), append(s.YLo, slices.Min(v)), append(s.YHi, slices.Max(v))
	}
	if len(curves) > 1 {
		s.Band = true
	} else {
		s.YLo, s.YHi = nil, nil
	}
	return s
}
