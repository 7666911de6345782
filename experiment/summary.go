package experiment

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"time"

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
	figs, err := figures(out, res, lands, dens)
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
