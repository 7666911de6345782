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

	"hesscope/attack"
	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/hessian"
	"hesscope/landscape"
	"hesscope/linop"
	"hesscope/nn"
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

func (m MeasureConfig) validate() error {
	for _, v := range []int{m.HessianSamples, m.TopK, m.LanczosIters, m.InputSamples, m.AttackSamples, m.DeepFoolSamples, m.SaddleSamples, m.SaddleSteps, m.LandscapePoints} {
		if v < 0 {
			return fmt.Errorf("measure: negative sizes are not allowed (%+v)", m)
		}
	}
	if !(m.LanczosTol >= 0 && m.LanczosTol < 1) {
		return fmt.Errorf("measure: lanczos_tol %v: want in [0, 1) (0: the default)", m.LanczosTol)
	}
	for _, e := range m.FGSMEps {
		if !(e > 0) {
			return fmt.Errorf("measure: FGSM radius %v: want > 0", e)
		}
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

func measureRun[T tensor.Float](ctx context.Context, s *Sweep, cfg train.Config, u Unit, w io.Writer, version string) error {
	start := time.Now()
	m := s.Measure.WithDefaults(s.Dataset)
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
	r := report.Run{Name: u.Name, Dir: u.Dir, Kind: u.Kind, BatchSize: u.BatchSize, Seed: u.Seed}
	var sum train.Summary
	if err := readJSON(filepath.Join(cfg.Out, train.FinalFile), &sum); err != nil {
		return err
	}
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

	step := func(what string) {
		if w != nil {
			fmt.Fprintf(w, "%s: %s (%.0f s)\n", u.Name, what, time.Since(start).Seconds())
		}
	}
	cancelled := func(linop.Progress) { StopIfDone(ctx) }
	chunk := 250
	sub := fixedSubset(trainSet, m.HessianSamples)
	hd := hessian.NewFloat32Data[T](sub.X, sub.Y, [3]int{sub.C, sub.H, sub.W}, chunk)
	op := hessian.NewParams[T](model, hd, nn.Eval, nil)
	var top, bottom linop.Eigen
	err = Interruptible(func() error {
		step("top eigenvalues of the parameter Hessian")
		var err error
		top, err = linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: m.TopK, MaxIter: m.LanczosIters, Tol: m.LanczosTol, Seed: 1, Progress: cancelled})
		if err = notConverged(err); err != nil {
			return err
		}
		step("smallest eigenvalue")
		bottom, err = linop.Lanczos(op, linop.Smallest, linop.LanczosOptions{K: 1, MaxIter: m.LanczosIters, Tol: m.LanczosTol, Seed: 2, Progress: cancelled})
		if err = notConverged(err); err != nil {
			return err
		}
		r.TopEigenvalues, r.MinEigenvalue = top.Values, bottom.Values[0]
		r.Residuals = append(append([]float64(nil), top.Residuals...), bottom.Residuals...)
		if m.TraceProbes > 0 {
			step("trace")
			tr, err := linop.Hutchinson(op, linop.TraceOptions{MatVecs: m.TraceProbes, Seed: 3, Progress: cancelled})
			if err = notConverged(err); err != nil {
				return err
			}
			r.Trace, r.TraceStdErr = tr.Estimate, tr.StdErr
		}
		if m.DensityProbes > 0 {
			step("spectral density")
			sp, err := linop.SLQ(op, linop.SLQOptions{Probes: m.DensityProbes, Steps: m.DensitySteps, Seed: 4, Progress: cancelled, Context: ctx})
			if err != nil {
				return err
			}
			grid, dens := sp.Density(linop.DensityOptions{Bins: 1000, SigmaSquared: 1e-4})
			if err := writeJSON(filepath.Join(cfg.Out, DensityFile), Density{grid, dens}); err != nil {
				return err
			}
		}
		if m.FullHessian {
			step("top eigenvalue on the whole training set")
			full := hessian.NewParams[T](model, hessian.NewFloat32Data[T](trainSet.X, trainSet.Y, [3]int{trainSet.C, trainSet.H, trainSet.W}, chunk), nn.Eval, nil)
			e, err := linop.Lanczos(full, linop.Largest, linop.LanczosOptions{MaxIter: m.LanczosIters, Tol: m.LanczosTol, Seed: 1, Progress: cancelled})
			if err = notConverged(err); err != nil {
				return err
			}
			r.FullTopEigenvalue = &e.Values[0]
		}
		return nil
	})
	if err != nil {
		return err
	}

	step("loss along the top eigenvector")
	grid, err := landscape.Params[T](model, hd, nil, [][]float64{top.Vectors[0]}, landscape.Axis(-m.LandscapeRange, m.LandscapeRange, m.LandscapePoints), nil, landscape.Options{Mode: nn.Eval, Cancel: ctx.Done()})
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(cfg.Out, LandscapeFile), Landscape{Lambda: top.Values[0], Grid: grid}); err != nil {
		return err
	}

	step("per-sample input Hessians")
	in := testSet.Subset(m.InputSamples)
	eig, err := hessian.SampleInputEigen[T](model, hessian.NewFloat32Data[T](in.X, in.Y, [3]int{in.C, in.H, in.W}, 1),
		hessian.SampleInputOptions{Mode: nn.Eval, Lanczos: linop.LanczosOptions{MaxIter: 60, Tol: m.LanczosTol, Seed: 5}, Cancel: ctx.Done()})
	if err != nil {
		return err
	}
	var vals []float64
	for _, e := range eig {
		vals = append(vals, e.Top.Values[0])
	}
	r.InputTopEigenvalue, r.InputTopEigenvalueStd = meanStd(vals)

	toT := func(d *data.Dataset) *tensor.Dense[T] { return tensor.Convert[T](d.Tensor()) }
	step("FGSM")
	at := testSet.Subset(m.AttackSamples)
	rep, err := attack.Robustness[T](ctx, model, toT(at), at.Y, attack.Study{Config: attack.Config{Method: attack.FGSM, Norm: attack.LInf}, Eps: m.FGSMEps}, attack.Options{}, nil)
	if err != nil {
		return err
	}
	for _, p := range rep.Results {
		r.FGSM = append(r.FGSM, report.EpsAccuracy{Eps: p.Eps, Accuracy: p.Accuracy})
	}
	step("DeepFool")
	df := testSet.Subset(m.DeepFoolSamples)
	drep, err := attack.Robustness[T](ctx, model, toT(df), df.Y, attack.Study{Config: attack.Config{Method: attack.DeepFool, Norm: attack.L2}, Eps: nil}, attack.Options{}, nil)
	if err != nil {
		return err
	}
	if drep.DeepFool != nil {
		r.RhoAdv = drep.DeepFool.RhoAdv
	}
	step("saddle check along PGD trajectories")
	sd := testSet.Subset(m.SaddleSamples)
	srep, err := attack.SaddleCheck[T](ctx, model, toT(sd), sd.Y, attack.Config{Method: attack.PGD, Norm: attack.LInf, Eps: m.SaddleEps, Steps: m.SaddleSteps, RandomStart: true, Seed: 6}, attack.SaddleOptions{})
	if err != nil {
		return err
	}
	r.SaddleFraction, r.SaddlePoints, r.SaddleMinRatio = srep.Fraction, srep.Points, srep.MinRatio
	r.MeasureSeconds = time.Since(start).Seconds()
	step("done")
	return writeJSON(filepath.Join(cfg.Out, MeasureFile), r)
}

// notConverged lets an unconverged solver's estimate through (its
// residuals are recorded) and returns other errors.
func notConverged(err error) error {
	if _, ok := err.(*linop.NotConvergedError); ok {
		return nil
	}
	return err
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
