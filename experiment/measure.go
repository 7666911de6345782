package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"hesscope/analysis"
	"hesscope/attack"
	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/dist"
	"hesscope/hessian"
	"hesscope/landscape"
	"hesscope/report"
	"hesscope/tensor"
	"hesscope/train"
)

// MeasureConfig says what is measured on each trained network of a sweep.
// Zero fields take the defaults given.
type MeasureConfig struct {
	// HessianSamples is the size of the fixed training subset (the same
	// images for every run) of the parameter Hessian (default 1000).
	HessianSamples int `json:"hessian_samples"`
	// FullHessian also computes λ₁ over the whole training set.
	FullHessian bool `json:"full_hessian"`
	// TopK is the number of top eigenvalues (default 3); LanczosIters the
	// largest Krylov dimension (default 80); LanczosTol the relative
	// residual (default 1e-3).
	TopK         int     `json:"top_k"`
	LanczosIters int     `json:"lanczos_iters"`
	LanczosTol   float64 `json:"lanczos_tol"`
	// TraceProbes is the Hutchinson budget (default 30; negative: no trace).
	TraceProbes int `json:"trace_probes"`
	// DensityProbes and DensitySteps configure the SLQ spectral density
	// (default 2 probes of 40 steps; negative probes: none).
	DensityProbes int `json:"density_probes"`
	DensitySteps  int `json:"density_steps"`
	// InputSamples is the number of test images of the per-sample input
	// Hessian (default 100).
	InputSamples int `json:"input_samples"`
	// AttackSamples is the number of test images attacked (default 1000);
	// FGSMEps the radii (default: 0.1, 0.2, 0.3 for MNIST and
	// Fashion-MNIST, 2/255, 4/255, 8/255 for CIFAR); DeepFoolSamples the
	// images of ρ_adv (default 500).
	AttackSamples   int       `json:"attack_samples"`
	FGSMEps         []float64 `json:"fgsm_eps"`
	DeepFoolSamples int       `json:"deepfool_samples"`
	// SaddleSamples test images are followed along SaddleSteps PGD steps of
	// radius SaddleEps (defaults 10, 5, the middle FGSM radius).
	SaddleSamples int     `json:"saddle_samples"`
	SaddleSteps   int     `json:"saddle_steps"`
	SaddleEps     float64 `json:"saddle_eps"`
	// LandscapePoints points in [−LandscapeRange, LandscapeRange] along the
	// top eigenvector (defaults 21 and 1).
	LandscapePoints int     `json:"landscape_points"`
	LandscapeRange  float64 `json:"landscape_range"`
	// KeepPasses lets the parameter Hessian's spectrum keep every chunk's
	// pass (analysis.SpectrumOptions.KeepPasses). It changes no result, so
	// it is not part of a sweep's definition (not in sweep.json): a run
	// sets it where the memory was checked (UnitOptions.KeepPasses).
	KeepPasses bool `json:"-"`
}

// WithDefaults fills in the zero fields for the dataset.
func (m MeasureConfig) WithDefaults(dataset string) MeasureConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&m.HessianSamples, 1000)
	def(&m.TopK, 3)
	def(&m.LanczosIters, 80)
	def(&m.TraceProbes, 30)
	def(&m.DensityProbes, 2)
	def(&m.DensitySteps, 40)
	def(&m.InputSamples, 100)
	def(&m.AttackSamples, 1000)
	def(&m.DeepFoolSamples, 500)
	def(&m.SaddleSamples, 10)
	def(&m.SaddleSteps, 5)
	def(&m.LandscapePoints, 21)
	if m.LanczosTol == 0 {
		m.LanczosTol = 1e-3
	}
	if m.LandscapeRange == 0 {
		m.LandscapeRange = 1
	}
	if len(m.FGSMEps) == 0 {
		m.FGSMEps = []float64{0.1, 0.2, 0.3}
		if dataset == "cifar10" || dataset == "cifar100" {
			m.FGSMEps = []float64{2.0 / 255, 4.0 / 255, 8.0 / 255}
		}
	}
	if m.SaddleEps == 0 {
		m.SaddleEps = m.FGSMEps[len(m.FGSMEps)/2]
	}
	return m
}

// validate checks m before any work (zero fields are their defaults),
// naming the field refused in a *FieldError. The upper bounds of the
// standalone commands are the sweep command's (checkSweepLimits).
func (m MeasureConfig) validate(dataset string) error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"hessian_samples", m.HessianSamples}, {"top_k", m.TopK}, {"lanczos_iters", m.LanczosIters},
		{"input_samples", m.InputSamples}, {"attack_samples", m.AttackSamples}, {"deepfool_samples", m.DeepFoolSamples},
		{"saddle_samples", m.SaddleSamples}, {"saddle_steps", m.SaddleSteps}, {"landscape_points", m.LandscapePoints},
	} {
		if f.v < 0 {
			return fieldErr("measure."+f.name, f.v, "want 0 (the default) or more")
		}
	}
	if !(m.LanczosTol >= 0 && m.LanczosTol < 1) {
		return fieldErr("measure.lanczos_tol", m.LanczosTol, "want in [0, 1) (0: the default)")
	}
	for _, e := range m.FGSMEps {
		if !(e > 0) || e > 1 {
			return fieldErr("measure.fgsm_eps", e, "want FGSM radii in (0, 1] (L∞ in pixel units; pixels lie in [0, 1])")
		}
	}
	if !(m.SaddleEps >= 0 && m.SaddleEps <= 1) {
		return fieldErr("measure.saddle_eps", m.SaddleEps, "want a radius in (0, 1] (L∞ in pixel units; 0: the middle FGSM radius)")
	}
	if !(m.LandscapeRange >= 0) || math.IsInf(m.LandscapeRange, 0) {
		return fieldErr("measure.landscape_range", m.LandscapeRange, "want a finite range > 0 (0: the default, 1)")
	}
	d := m.WithDefaults(dataset)
	switch {
	case d.LandscapePoints < 2:
		return fieldErr("measure.landscape_points", m.LandscapePoints, "want at least 2 (0: the default, 21)")
	case d.DensityProbes > 0 && d.DensitySteps < 2:
		return fieldErr("measure.density_steps", m.DensitySteps, "want at least 2 (0: the default, 40)")
	case d.TopK > d.LanczosIters:
		return fieldErr("measure.top_k", d.TopK, "want at most lanczos_iters (%d)", d.LanczosIters)
	}
	return nil
}

// File names in a measured run folder.
const (
	MeasureFile   = "measure.json"
	LandscapeFile = "landscape.json"
	DensityFile   = "density.json"
)

// Density is a broadened spectral density on a grid.
type Density struct {
	Grid    []float64 `json:"grid"`
	Density []float64 `json:"density"`
}

// Landscape is the 1-D loss along the top eigenvector.
type Landscape struct {
	Lambda float64         `json:"lambda"`
	Grid   *landscape.Grid `json:"grid"`
}

// fixedSubset is the same random subset of n training images for every run
// of every sweep (a fixed seed, independent of the run's).
func fixedSubset(d *data.Dataset, n int) *data.Dataset {
	if n >= d.N {
		return d
	}
	return d.Select(data.Permutation(d.N, 0x5eed, 0)[:n])
}

func measureRun[T tensor.Float](ctx context.Context, s *Sweep, cfg train.Config, u Unit, w io.Writer, version string, comm dist.Comm, keep bool) error {
	start := time.Now()
	m := s.Measure.WithDefaults(s.Dataset)
	m.KeepPasses = keep
	net, _, err := LoadModel[T](ModelSpec{Name: s.Model, Weights: filepath.Join(cfg.Out, train.ModelFile), Activation: cfg.Activation})
	if err != nil {
		return err
	}
	var model hessian.Model[T] = net
	if cfg.Normalize {
		n, err := data.StandardNorm(s.Dataset)
		if err != nil {
			return err
		}
		var mean, std []float64
		for c := range n.Mean {
			mean, std = append(mean, float64(n.Mean[c])), append(std, float64(n.Std[c]))
		}
		model = attack.Normalized[T](net, mean, std)
	}
	load := func(split string, n int) (*data.Dataset, error) {
		d, err := data.Load(s.Dataset, split, data.Options{Dir: cfg.DataDir, Progress: w})
		if err != nil {
			return nil, err
		}
		if split == "train" && cfg.TrainSamples > 0 {
			d = d.Subset(cfg.TrainSamples)
		}
		return d.Subset(n), nil
	}
	trainSet, err := load("train", math.MaxInt)
	if err != nil {
		return err
	}
	testSet, err := load("test", max(m.AttackSamples, m.InputSamples, m.DeepFoolSamples, m.SaddleSamples))
	if err != nil {
		return err
	}
	var sum train.Summary
	if err := readJSON(filepath.Join(cfg.Out, train.FinalFile), &sum); err != nil {
		return err
	}
	step := func(what string) {
		if w != nil {
			fmt.Fprintf(w, "%s: %s (%.0f s)\n", u.Name, what, time.Since(start).Seconds())
		}
	}
	ms, err := Measure[T](ctx, model, trainSet, testSet, m, step, comm)
	if err != nil {
		return err
	}
	if !dist.IsRoot(comm) {
		return nil
	}
	if ms.Density != nil {
		if err := writeJSON(filepath.Join(cfg.Out, DensityFile), ms.Density); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(cfg.Out, LandscapeFile), ms.Landscape); err != nil {
		return err
	}
	r := &ms.Run
	r.Name, r.Dir, r.Kind, r.BatchSize, r.Seed = u.Name, u.Dir, u.Kind, u.BatchSize, u.Seed
	r.Epochs, r.TrainAccuracy, r.TestAccuracy, r.TrainLoss, r.TestLoss, r.TrainSeconds = sum.Epochs, sum.TrainAcc, sum.TestAcc, sum.TrainLoss, sum.TestLoss, sum.Seconds
	if ms, err := train.ReadMetrics(cfg.Out); err == nil {
		for _, e := range ms {
			if e.TopEigenvalue != nil {
				r.Curvature = append(r.Curvature, report.EpochValue{Epoch: e.Epoch, Value: *e.TopEigenvalue})
			}
			if e.BatchSize > 0 { // ABSA
				r.BatchSchedule = append(r.BatchSchedule, report.EpochValue{Epoch: e.Epoch, Value: float64(e.BatchSize)})
			}
		}
	}
	r.MeasureSeconds = time.Since(start).Seconds()
	step("done")
	return writeJSON(filepath.Join(cfg.Out, MeasureFile), r)
}

// A Measurement is what Measure finds on one network: the measured fields
// of its report.Run, and the spectral density (nil if none was asked) and
// the loss along the top eigenvector that go to their own files.
type Measurement struct {
	Run       report.Run
	Density   *Density
	Landscape Landscape
}

// HessianBatch is the number of images per forward pass of the
// measurements (the sweep command sizes their memory by it).
const HessianBatch = 250

// Measure takes the measurements of m (zero fields: their defaults for
// trainSet's dataset) on a trained model: the spectrum of the parameter
// Hessian on the fixed training subset (and optionally its top eigenvalue
// on the whole training set), the loss along the top eigenvector, the
// per-sample input Hessians, FGSM and DeepFool robustness and the saddle
// check on the first images of testSet. Each is one call of package
// analysis with the options chosen here, so that the numbers are the ones
// hesscope spectrum, landscape, attack and saddle-check print for the same
// network, data and options. step, if not nil, is told each stage.
//
// comm, if not nil and of several ranks, splits the parameter-Hessian
// measurements (spectrum, whole-set eigenvalue, landscape) across its ranks
// (analysis.Sharded), every rank calling Measure alike; the per-image ones
// run on every rank.
func Measure[T tensor.Float](ctx context.Context, model hessian.Model[T], trainSet, testSet *data.Dataset, m MeasureConfig, step func(string), comm dist.Comm) (*Measurement, error) {
	if err := m.validate(trainSet.Name); err != nil {
		return nil, err
	}
	m = m.WithDefaults(trainSet.Name)
	if step == nil {
		step = func(string) {}
	}
	ms := &Measurement{}
	r := &ms.Run
	step("spectrum of the parameter Hessian")
	sub := fixedSubset(trainSet, m.HessianSamples)
	opt := m.SpectrumOptions()
	// shard is a dataset's part on this rank, with the backend that sums the
	// ranks' parts.
	shard := func(d *data.Dataset) *data.Dataset { return d }
	var backend analysis.Backend
	if comm != nil && comm.Size() > 1 {
		backend = analysis.Sharded{Comm: comm}
		shard = func(d *data.Dataset) *data.Dataset { return analysis.ShardOf(d, HessianBatch, comm) }
	}
	opt.Backend = backend
	sp, err := analysis.Spectrum[T](ctx, model, shard(sub), opt)
	if err != nil {
		return nil, err
	}
	r.TopEigenvalues, r.MinEigenvalue = sp.TopEigen, *sp.MinEigen
	r.Residuals = append(append([]float64(nil), sp.Residuals...), *sp.MinResid)
	if sp.Trace != nil {
		r.Trace, r.TraceStdErr = sp.Trace.Hutchinson.Estimate, sp.Trace.Hutchinson.StdErr
	}
	if sp.Density != nil {
		ms.Density = &Density{sp.Density.Grid, sp.Density.Density}
	}
	if m.FullHessian {
		step("top eigenvalue on the whole training set")
		full, err := analysis.Spectrum[T](ctx, model, shard(trainSet), analysis.SpectrumOptions{TopK: 1, MaxIter: opt.MaxIter, Tol: opt.Tol, Seed: opt.Seed, BatchSize: opt.BatchSize, Backend: backend})
		if err != nil {
			return nil, err
		}
		r.FullTopEigenvalue = &full.TopEigen[0]
	}

	step("loss along the top eigenvector")
	lo := m.LandscapeOptions(sp.Top.Vectors[0])
	lo.Backend = backend
	ls, err := analysis.Landscape[T](ctx, model, shard(sub), lo)
	if err != nil {
		return nil, err
	}
	ms.Landscape = Landscape{Lambda: sp.TopEigen[0], Grid: ls.Grid}

	step("per-sample input Hessians")
	in, err := analysis.Spectrum[T](ctx, model, testSet.Subset(m.InputSamples), m.InputOptions())
	if err != nil {
		return nil, err
	}
	r.InputTopEigenvalue, r.InputTopEigenvalueStd = meanStd(in.InputSamples.Top.Values)

	step("FGSM")
	fgsm, err := analysis.Attack[T](ctx, model, testSet.Subset(m.AttackSamples), m.FGSMOptions())
	if err != nil {
		return nil, err
	}
	for _, p := range fgsm.Results {
		r.FGSM = append(r.FGSM, report.EpsAccuracy{Eps: p.Eps, Accuracy: p.Accuracy})
	}
	step("DeepFool")
	df, err := analysis.Attack[T](ctx, model, testSet.Subset(m.DeepFoolSamples), m.DeepFoolOptions())
	if err != nil {
		return nil, err
	}
	if df.DeepFool != nil {
		r.RhoAdv = df.DeepFool.RhoAdv
	}
	step("saddle check along PGD trajectories")
	sd, err := analysis.SaddleCheck[T](ctx, model, testSet.Subset(m.SaddleSamples), m.SaddleOptions())
	if err != nil {
		return nil, err
	}
	r.SaddleFraction, r.SaddlePoints, r.SaddleMinRatio = sd.Fraction, sd.Points, sd.MinRatio
	return ms, nil
}

// SpectrumOptions are the options of the measurement of the parameter
// Hessian on the fixed training subset: TopK eigenvalues and the smallest,
// by Lanczos of LanczosIters steps to LanczosTol, the Hutchinson trace of
// TraceProbes products and the SLQ density of DensityProbes probes of
// DensitySteps steps on 1000 points with σ² = 1e-4, all seeded 1. m has its
// defaults filled in.
func (m MeasureConfig) SpectrumOptions() analysis.SpectrumOptions {
	return analysis.SpectrumOptions{TopK: m.TopK, BottomK: 1, MaxIter: m.LanczosIters, Tol: m.LanczosTol,
		Trace: m.TraceProbes > 0, TraceMethod: "hutchinson", TraceMatVecs: max(m.TraceProbes, 1),
		Density: m.DensityProbes > 0, DensityProbes: max(m.DensityProbes, 1), DensitySteps: m.DensitySteps, DensityBins: 1000, DensitySigma2: 1e-4,
		Seed: 1, BatchSize: HessianBatch, KeepPasses: m.KeepPasses}
}

// LandscapeOptions are those of the loss along the top eigenvector v.
func (m MeasureConfig) LandscapeOptions(v []float64) analysis.LandscapeOptions {
	return analysis.LandscapeOptions{Direction: "eigen", Directions: [][]float64{v}, Range: m.LandscapeRange, Points: m.LandscapePoints,
		Seed: 1, BatchSize: HessianBatch}
}

// InputOptions are those of the per-sample input Hessians of the first
// InputSamples test images.
func (m MeasureConfig) InputOptions() analysis.SpectrumOptions {
	return analysis.SpectrumOptions{InputSamples: m.InputSamples, MaxIter: 60, Tol: m.LanczosTol, Seed: 1, BatchSize: HessianBatch}
}

// FGSMOptions are those of the FGSM curve at FGSMEps (L∞, no extra checks).
func (m MeasureConfig) FGSMOptions() analysis.AttackOptions {
	return analysis.AttackOptions{Attack: attack.Config{Method: attack.FGSM, Norm: attack.LInf}, Eps: m.FGSMEps}
}

// DeepFoolOptions are those of DeepFool's ρ_adv.
func (m MeasureConfig) DeepFoolOptions() analysis.AttackOptions {
	return analysis.AttackOptions{Attack: attack.Config{Method: attack.DeepFool, Norm: attack.L2}}
}

// SaddleOptions are those of the saddle check: SaddleSteps L∞ PGD steps of
// radius SaddleEps from a random start seeded 6.
func (m MeasureConfig) SaddleOptions() analysis.SaddleOptions {
	return analysis.SaddleOptions{Attack: attack.Config{Method: attack.PGD, Norm: attack.LInf, Eps: m.SaddleEps, Steps: m.SaddleSteps, RandomStart: true, Seed: 6}}
}

func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
