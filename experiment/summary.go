package experiment

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"hesscope/chart"
	"hesscope/checkpoint"
	"hesscope/report"
)

// Summarize reads the measured runs of the sweep in out — and only files —
// and writes results.json, results.csv, the figures and report.html there.
// Units not yet measured are listed as missing; it fails only if none is.
func Summarize(out, version string) (*report.Results, []string, error) {
	s, err := ReadSweep(out)
	if err != nil {
		return nil, nil, err
	}
	res := &report.Results{Version: version, Created: time.Now().UTC().Format(time.RFC3339)}
	if res.Config, err = json.Marshal(s); err != nil {
		return nil, nil, err
	}
	var missing []string
	lands := map[string]*Landscape{}
	dens := map[string]*Density{}
	for _, u := range s.Units() {
		var r report.Run
		dir := filepath.Join(out, u.Dir)
		if err := readJSON(filepath.Join(dir, MeasureFile), &r); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, u.Name)
				continue
			}
			return nil, nil, err
		}
		res.Runs = append(res.Runs, r)
		res.Seconds += r.TrainSeconds + r.MeasureSeconds
		var l Landscape
		if readJSON(filepath.Join(dir, LandscapeFile), &l) == nil {
			lands[u.Name] = &l
		}
		var d Density
		if readJSON(filepath.Join(dir, DensityFile), &d) == nil {
			dens[u.Name] = &d
		}
	}
	if len(res.Runs) == 0 {
		return nil, missing, fmt.Errorf("%s: no run is measured yet (run the units first)", out)
	}
	res.Groups = groups(res.Runs)
	res.Claims = claims(res.Runs)
	res.Uncertainty = report.Uncertainty{Method: bootstrapMethod, Resamples: Uncertainty.Resamples, Level: Uncertainty.Level, Seed: Uncertainty.Seed}
	for i, g := range res.Groups {
		if i == 0 || g.TopEigenvalue.N < res.Uncertainty.SeedsMin {
			res.Uncertainty.SeedsMin = g.TopEigenvalue.N
		}
		res.Uncertainty.SeedsMax = max(res.Uncertainty.SeedsMax, g.TopEigenvalue.N)
	}
	figs, err := figures(out, s, res, lands, dens)
	if err != nil {
		return nil, missing, err
	}
	res.Figures = figs
	if err := writeJSON(filepath.Join(out, "results.json"), res); err != nil {
		return nil, missing, err
	}
	if err := writeCSV(filepath.Join(out, "results.csv"), res); err != nil {
		return nil, missing, err
	}
	err = checkpoint.WriteFileAtomic(filepath.Join(out, "report.html"), func(w io.Writer) error {
		return report.Render(w, res, out)
	})
	return res, missing, err
}

// groups aggregates runs over seeds by (kind, batch size).
func groups(runs []report.Run) []report.Group {
	type key struct {
		kind string
		bs   int
	}
	by := map[key][]report.Run{}
	var keys []key
	for _, r := range runs {
		k := key{r.Kind, r.BatchSize}
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	order := map[string]int{"normal": 0, "robust": 1, "absa": 2}
	slices.SortFunc(keys, func(a, b key) int {
		if order[a.kind] != order[b.kind] {
			return order[a.kind] - order[b.kind]
		}
		return a.bs - b.bs
	})
	var gs []report.Group
	for _, k := range keys {
		rs := by[k]
		stat := func(f func(r report.Run) float64) report.Stat {
			var v []float64
			for _, r := range rs {
				v = append(v, f(r))
			}
			m, sd := meanStd(v)
			return report.Stat{Mean: m, Std: sd, N: len(v)}
		}
		g := report.Group{Kind: k.kind, BatchSize: k.bs,
			TestAccuracy:       stat(func(r report.Run) float64 { return r.TestAccuracy }),
			TrainAccuracy:      stat(func(r report.Run) float64 { return r.TrainAccuracy }),
			TopEigenvalue:      stat(func(r report.Run) float64 { return first(r.TopEigenvalues) }),
			MinEigenvalue:      stat(func(r report.Run) float64 { return r.MinEigenvalue }),
			Trace:              stat(func(r report.Run) float64 { return r.Trace }),
			InputTopEigenvalue: stat(func(r report.Run) float64 { return r.InputTopEigenvalue }),
			RhoAdv:             stat(func(r report.Run) float64 { return r.RhoAdv }),
		}
		for i, e := range rs[0].FGSM {
			g.FGSM = append(g.FGSM, report.EpsStat{Eps: e.Eps, Accuracy: stat(func(r report.Run) float64 {
				if i < len(r.FGSM) {
					return r.FGSM[i].Accuracy
				}
				return math.NaN()
			})})
		}
		gs = append(gs, g)
	}
	return gs
}

func first(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	return v[0]
}

func kindGroups(gs []report.Group, kind string) []report.Group {
	var out []report.Group
	for _, g := range gs {
		if g.Kind == kind {
			out = append(out, g)
		}
	}
	return out
}

// figures draws the report's plots into out/figures.
func figures(out string, s *Sweep, res *report.Results, lands map[string]*Landscape, dens map[string]*Density) ([]report.Figure, error) {
	dir := filepath.Join(out, "figures")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var figs []report.Figure
	save := func(name, title, caption string, draw func(path string) error) error {
		for _, ext := range []string{".svg", ".png"} {
			if err := draw(filepath.Join(dir, name+ext)); err != nil {
				return fmt.Errorf("figure %s: %w", name, err)
			}
		}
		figs = append(figs, report.Figure{Title: title, File: filepath.Join("figures", name+".svg"), Caption: caption})
		return nil
	}
	label := func(r report.Run) string {
		if r.Kind == "absa" {
			return fmt.Sprintf("ABSA seed %d", r.Seed)
		}
		return fmt.Sprintf("%s B=%d seed %d", r.Kind, r.BatchSize, r.Seed)
	}
	// Eigenvalue against epoch.
	var curv []chart.Series
	for _, r := range res.Runs {
		if len(r.Curvature) == 0 {
			continue
		}
		var x, y []float64
		for _, c := range r.Curvature {
			x, y = append(x, float64(c.Epoch)), append(y, c.Value)
		}
		curv = append(curv, chart.Series{Name: label(r), X: x, Y: y, Points: true, Dashed: r.Kind != "normal"})
	}
	if len(curv) > 0 {
		if err := save("eigenvalue_vs_epoch", "Top eigenvalue during training", "λ₁ of the parameter Hessian on a fixed training subset, tracked every epoch while training.", func(p string) error {
			return (&chart.Line{Title: "Top Hessian eigenvalue during training", XLabel: "epoch", YLabel: "λ₁(θ)", Series: curv, LogY: true}).Save(p)
		}); err != nil {
			return nil, err
		}
	}
	// Landscapes along the top eigenvector, seed 1 of every configuration.
	var ls []chart.Series
	for _, r := range res.Runs {
		l := lands[r.Name]
		if l == nil || r.Seed != 1 || l.Grid == nil || len(l.Grid.Loss) == 0 {
			continue
		}
		ls = append(ls, chart.Series{Name: fmt.Sprintf("%s (λ₁=%.3g)", label(r), l.Lambda), X: l.Grid.X, Y: l.Grid.Loss[0], Dashed: r.Kind != "normal"})
	}
	if len(ls) > 0 {
		if err := save("landscape_top_eigenvector", "Loss along the top eigenvector", "Training loss (fixed subset) at θ + ε·v₁, v₁ the unit top eigenvector of each network's own Hessian; the legend gives each λ₁.", func(p string) error {
			return (&chart.Line{Title: "Loss along the top eigenvector", XLabel: "ε", YLabel: "loss", Series: ls}).Save(p)
		}); err != nil {
			return nil, err
		}
	}
	// Robustness against the top eigenvalue.
	var rob []chart.Series
	for _, kind := range []string{"normal", "robust", "absa"} {
		var x, yr []float64
		for _, r := range res.Runs {
			if r.Kind == kind && len(r.TopEigenvalues) > 0 {
				x, yr = append(x, r.TopEigenvalues[0]), append(yr, r.RhoAdv)
			}
		}
		if len(x) > 0 {
			idx := sortedIndex(x)
			rob = append(rob, chart.Series{Name: kind + " training", X: permute(x, idx), Y: permute(yr, idx), Points: true, Dashed: true})
		}
	}
	if len(rob) > 0 {
		if err := save("robustness_vs_eigenvalue", "Robustness against the top eigenvalue", "DeepFool's ρ_adv (higher is more robust) against λ₁(θ), one point per run.", func(p string) error {
			return (&chart.Line{Title: "Robustness vs top eigenvalue", XLabel: "λ₁(θ)", YLabel: "ρ_adv", Series: rob}).Save(p)
		}); err != nil {
			return nil, err
		}
	}
	// Spectral densities, seed 1.
	var ds []chart.Series
	peak := 0.0
	for _, r := range res.Runs {
		d := dens[r.Name]
		if d == nil || r.Seed != 1 {
			continue
		}
		ds = append(ds, chart.Series{Name: label(r), X: d.Grid, Y: d.Density, Dashed: r.Kind != "normal"})
		for _, v := range d.Density {
			peak = math.Max(peak, v)
		}
	}
	if len(ds) > 0 {
		if err := save("spectral_density", "Spectral density", "Stochastic Lanczos quadrature estimate of the eigenvalue density of the parameter Hessian (Gaussian broadening), log scale, cut at 10⁻⁸ of the peak.", func(p string) error {
			return (&chart.Line{Title: "Hessian spectral density", XLabel: "eigenvalue", YLabel: "density", Series: ds, LogY: true, YMin: peak * 1e-8, YMax: peak * 2}).Save(p)
		}); err != nil {
			return nil, err
		}
	}
	// Robust against normal: λ₁ by batch size.
	var rn []chart.Series
	for _, kind := range []string{"normal", "robust"} {
		var x, y []float64
		for _, g := range kindGroups(res.Groups, kind) {
			x, y = append(x, float64(g.BatchSize)), append(y, g.TopEigenvalue.Mean)
		}
		if len(x) > 0 {
			rn = append(rn, chart.Series{Name: kind + " training", X: x, Y: y, Points: true, Dashed: kind == "robust"})
		}
	}
	if len(rn) > 1 {
		if err := save("robust_vs_normal", "Robust against normal training", "Mean λ₁(θ) over seeds by batch size, normal and adversarial training.", func(p string) error {
			return (&chart.Line{Title: "Top eigenvalue: normal vs robust training", XLabel: "batch size", YLabel: "λ₁(θ)", Series: rn, LogY: true}).Save(p)
		}); err != nil {
			return nil, err
		}
	}
	return figs, nil
}

func sortedIndex(x []float64) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if x[a] < x[b] {
			return -1
		}
		if x[a] > x[b] {
			return 1
		}
		return 0
	})
	return idx
}

func permute(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = v[j]
	}
	return out
}

// writeCSV writes one row per run.
func writeCSV(path string, res *report.Results) error {
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"name", "kind", "batch_size", "seed", "epochs", "train_accuracy", "test_accuracy", "train_loss", "test_loss",
			"top_eigenvalue", "min_eigenvalue", "trace", "trace_std_err", "input_top_eigenvalue", "input_top_eigenvalue_std", "rho_adv",
			"saddle_fraction", "saddle_points"}
		var eps []float64
		if len(res.Runs) > 0 {
			for _, e := range res.Runs[0].FGSM {
				eps = append(eps, e.Eps)
				head = append(head, "fgsm_"+strconv.FormatFloat(e.Eps, 'g', -1, 64))
			}
		}
		head = append(head, "train_seconds", "measure_seconds")
		if err := cw.Write(head); err != nil {
			return err
		}
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
		for _, r := range res.Runs {
			row := []string{r.Name, r.Kind, strconv.Itoa(r.BatchSize), strconv.FormatUint(r.Seed, 10), strconv.Itoa(r.Epochs),
				f(r.TrainAccuracy), f(r.TestAccuracy), f(r.TrainLoss), f(r.TestLoss), f(first(r.TopEigenvalues)), f(r.MinEigenvalue),
				f(r.Trace), f(r.TraceStdErr), f(r.InputTopEigenvalue), f(r.InputTopEigenvalueStd), f(r.RhoAdv),
				f(r.SaddleFraction), strconv.Itoa(r.SaddlePoints)}
			for i := range eps {
				v := math.NaN()
				if i < len(r.FGSM) {
					v = r.FGSM[i].Accuracy
				}
				row = append(row, f(v))
			}
			row = append(row, f(r.TrainSeconds), f(r.MeasureSeconds))
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}
