package analysis

import (
	"context"
	"fmt"
	"math"
	"time"

	"hesscope/data"
	"hesscope/hessian"
	"hesscope/landscape"
	"hesscope/linop"
	"hesscope/nn"
	"hesscope/tensor"
)

// LandscapeOptions configures Landscape. Zero fields take the defaults
// given, which are those of hesscope landscape.
type LandscapeOptions struct {
	// Direction is what the grid follows:
	//   - "eigen" (default): θ + α·v₁ (+ β·v₂), the top eigenvectors of the
	//     parameter Hessian (or of the Gauss-Newton matrix with Operator
	//     "ggn"), unit vectors;
	//   - "random": θ + α·d₁ (+ β·d₂), random directions normalised per
	//     filter to the weights' filter norms (Li et al. 2018), biases and
	//     BatchNorm parameters not moved unless KeepBiasBN;
	//   - "input": x + α·u₁ (+ β·u₂) for image Sample, the top eigenvectors
	//     of the Hessian of that image's loss with respect to the image.
	Direction string
	Operator  string
	Sample    int
	// InputScale, if not nil, holds one factor per channel: the input
	// directions and curvatures are then with respect to x for a model fed
	// z = InputScale·x + c per channel (as SpectrumOptions.InputScale):
	// with a model's reciprocal standard deviations, the pixels', while d
	// holds the normalised images.
	InputScale []float64
	KeepBiasBN bool
	// Directions, if not nil, are used instead of computing them (one, or
	// two with TwoD), for instance the eigenvectors of a Spectrum's Top;
	// Direction then only says what they are.
	Directions [][]float64
	// Range and Points: Points grid points from −Range to Range per axis
	// (defaults 1 and 21); TwoD makes a surface.
	Range  float64
	Points int
	TwoD   bool
	// MaxIter is the largest Krylov dimension of the eigenvectors (default
	// 100); Tol their relative tolerance (default 1e-4 in float32, 1e-6 in
	// float64).
	MaxIter int
	Tol     float64
	// Seed seeds the eigensolver and the random directions (Seed, Seed+1).
	Seed uint64
	// BatchSize is the number of images per forward pass (default 256).
	// Workers is the number of chunks processed at once by the operators
	// (0: 1) and of grid points evaluated at once (0: GOMAXPROCS); it does
	// not change the results.
	BatchSize, Workers int
	// KeepPasses keeps every chunk's pass between the eigensolver's
	// products, as SpectrumOptions.KeepPasses.
	KeepPasses bool
	// Backend is where the Hessian-vector products run (nil: CPU).
	Backend Backend
	// Progress, if not nil, receives progress reports.
	Progress func(Progress)
}

func (o LandscapeOptions) withDefaults() LandscapeOptions {
	if o.Direction == "" {
		o.Direction = "eigen"
	}
	if o.Operator == "" {
		o.Operator = "hessian"
	}
	if o.Range == 0 {
		o.Range = 1
	}
	if o.Points == 0 {
		o.Points = 21
	}
	if o.MaxIter == 0 {
		o.MaxIter = 100
	}
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	return o
}

func (o LandscapeOptions) validate(n int) error {
	switch {
	case o.Direction != "eigen" && o.Direction != "random" && o.Direction != "input":
		return fmt.Errorf("analysis: landscape: direction %q: want eigen, random or input", o.Direction)
	case o.Operator != "hessian" && o.Operator != "ggn":
		return fmt.Errorf("analysis: landscape: operator %q: want hessian or ggn", o.Operator)
	case !(o.Range > 0) || math.IsInf(o.Range, 0) || o.Points < 2:
		return fmt.Errorf("analysis: landscape: range %v and %d points: want a positive range and at least 2 points", o.Range, o.Points)
	case o.Direction == "input" && (o.Sample < 0 || o.Sample >= n):
		return fmt.Errorf("analysis: landscape: sample %d of %d images", o.Sample, n)
	case o.MaxIter < 2 || !(o.Tol >= 0) || o.Tol >= 1 || o.BatchSize < 1 || o.Workers < 0:
		return fmt.Errorf("analysis: landscape: max-iter %d, tol %v, batch size %d, workers %d", o.MaxIter, o.Tol, o.BatchSize, o.Workers)
	case o.Directions != nil && len(o.Directions) != map[bool]int{false: 1, true: 2}[o.TwoD]:
		return fmt.Errorf("analysis: landscape: %d directions for a %s grid", len(o.Directions), map[bool]string{false: "1-D", true: "2-D"}[o.TwoD])
	}
	return nil
}

// LandscapeResult is the result of Landscape, the JSON output of hesscope
// landscape.
type LandscapeResult struct {
	Header
	Direction  string  `json:"direction"`
	Operator   string  `json:"operator,omitempty"`
	Sample     *int    `json:"sample,omitempty"`
	Label      *int    `json:"label,omitempty"`
	KeepBiasBN bool    `json:"keep_biasbn,omitempty"`
	Range      float64 `json:"range"`
	Points     int     `json:"points"`
	Dim        int     `json:"dim"`
	// Loss and Accuracy are at the centre (α = β = 0).
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
	// Per direction: its norm, the curvature dᵀHd (λ for a unit
	// eigenvector) and the slope gᵀd of the loss along it.
	Norms     []float64    `json:"direction_norms"`
	Curvature []float64    `json:"curvature"`
	Slope     []float64    `json:"slope"`
	Eigen     *linop.Eigen `json:"eigen,omitempty"`
	// Quadratic is L₀ + ½·c·α² and QuadraticGrad L₀ + (gᵀd)·α + ½·c·α²
	// on the 1-D grid.
	Quadratic     []float64       `json:"quadratic,omitempty"`
	QuadraticGrad []float64       `json:"quadratic_grad,omitempty"`
	Grid          *landscape.Grid `json:"grid"`
	// Files lists the files the caller wrote.
	Files    []string `json:"files,omitempty"`
	HVPs     int      `json:"hvps"`
	Seconds  float64  `json:"seconds"`
	Warnings []string `json:"warnings,omitempty"`
}

// Landscape evaluates the mean loss and accuracy of m over the images of d
// on a grid around its weights θ (or around one image x), in BatchNorm's
// eval mode, along the directions of o.Direction. Grid points are evaluated
// in parallel, each worker on its own copy of the weights; the model is
// never modified. A 1-D result carries the quadratic models of the loss
// along the line.
func Landscape[T tensor.Float](ctx context.Context, m hessian.Model[T], d *data.Dataset, o LandscapeOptions) (*LandscapeResult, error) {
	start := time.Now()
	o = o.withDefaults()
	if err := o.validate(d.N); err != nil {
		return nil, err
	}
	eng, err := engine[T](o.Backend)
	if err != nil {
		return nil, err
	}
	prog := reporter(o.Progress)
	src := Source[T]{Model: m, Data: chunks[T](d, o.BatchSize), Mode: nn.Eval, Workers: o.Workers, KeepPasses: o.KeepPasses}
	res := &LandscapeResult{Header: header(m, d, o.Seed), Direction: o.Direction, Range: o.Range, Points: o.Points}
	ndir := 1
	if o.TwoD {
		ndir = 2
	}
	tol := o.Tol
	if tol == 0 {
		tol = 1e-4
		if precision[T]() == "float64" {
			tol = 1e-6
		}
	}
	eigen := func(label string, op linop.Operator) ([][]float64, error) {
		if o.Directions != nil {
			return o.Directions, nil
		}
		eig, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: ndir, MaxIter: min(o.MaxIter, op.Dim()), Tol: tol, Seed: o.Seed,
			Progress: prog.solver(label, "λ ≈ %.6g"), Context: ctx})
		if err != nil {
			if !notConverged(err) {
				return nil, err
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %v", label, err))
		}
		res.Eigen = &eig
		return eig.Vectors, nil
	}
	cancel, stop := cancelChan(ctx)
	defer stop()
	opts := landscape.Options{Mode: nn.Eval, Workers: o.Workers, Cancel: cancel}
	axis := landscape.Axis(-o.Range, o.Range, o.Points)
	var ys []float64
	if o.TwoD {
		ys = axis
	}
	var grid *landscape.Grid
	var dirs [][]float64
	var counter *linop.Counting
	gridStage := "landscape (grid points)"
	switch o.Direction {
	case "eigen", "random":
		res.Dim = nn.Size(nn.Trainable(m.Params()))
		var op linop.Operator
		if o.Operator == "ggn" && o.Direction == "eigen" {
			op = eng.GaussNewton(src, nil)
			res.Operator = "ggn"
		} else {
			op = eng.Params(src, nil)
			if o.Direction == "eigen" {
				res.Operator = "hessian"
			}
		}
		counter = linop.NewCounting(op)
		switch {
		case o.Direction == "eigen":
			if dirs, err = eigen("eigenvectors", counter); err != nil {
				return nil, err
			}
		case o.Directions != nil:
			dirs = o.Directions
		default:
			res.KeepBiasBN = o.KeepBiasBN
			for k := range ndir {
				dirs = append(dirs, landscape.FilterNormalized(m.Params(), o.Seed+uint64(k), o.KeepBiasBN))
			}
		}
		// The eigensolver's passes (kept ones, with KeepPasses, one per
		// chunk) are let go before the grid's evaluators take their memory.
		release(op)
		// Slope and curvature along each direction use the Hessian (also
		// for GGN eigenvectors: the quadratic model is of the loss), one
		// product each: not worth keeping passes for.
		hsrc := src
		hsrc.KeepPasses = false
		h := eng.Params(hsrc, nil)
		hc := linop.NewCounting(h)
		loss, g := h.Gradient()
		res.Loss = loss
		for _, dir := range dirs {
			hd := make([]float64, len(dir))
			hc.Apply(hd, dir)
			res.Norms = append(res.Norms, math.Sqrt(dot(dir, dir)))
			res.Curvature = append(res.Curvature, dot(dir, hd))
			res.Slope = append(res.Slope, dot(g, dir))
		}
		res.HVPs += hc.Count()
		var finish func(string)
		opts.Progress, finish = prog.counter(gridStage, len(axis)*max(1, len(ys)))
		grid, err = eng.LossGrid(src, dirs, axis, ys, opts)
		finish("")
	case "input":
		i := o.Sample
		res.Sample, res.Label = &i, &d.Y[i]
		per := d.SampleLen()
		x := tensor.FromSlice(toT[T](d.X[i*per:(i+1)*per]), 1, d.C, d.H, d.W)
		y := d.Y[i : i+1]
		res.Dim = per
		var h linop.Operator = eng.Input(m, x, y, nn.Eval)
		scale := inputDiag(o.InputScale, 1, d.C, d.H*d.W)
		if scale != nil {
			h = &linop.Congruent{Diag: scale, Op: h}
		}
		counter = linop.NewCounting(h)
		if dirs, err = eigen("input eigenvectors", counter); err != nil {
			return nil, err
		}
		r := hessian.NewEvaluator[T](m).Pass(x, y, hessian.Request[T]{Mode: nn.Eval, InputGrad: true})
		res.Loss = r.Loss
		for k, dir := range dirs {
			var slope float64
			if r.InputGrad != nil {
				for j, v := range r.InputGrad.Data {
					if scale != nil {
						v *= T(scale[j]) // the gradient with respect to x
					}
					slope += float64(v) * dir[j]
				}
			}
			res.Norms = append(res.Norms, 1)
			if res.Eigen != nil {
				res.Curvature = append(res.Curvature, res.Eigen.Values[k])
			} else {
				hd := make([]float64, len(dir))
				counter.Apply(hd, dir)
				res.Curvature = append(res.Curvature, dot(dir, hd))
			}
			res.Slope = append(res.Slope, slope)
		}
		var finish func(string)
		opts.Progress, finish = prog.counter(gridStage, len(axis)*max(1, len(ys)))
		if scale != nil {
			// x + α·u moves the model's input z by α·D·u.
			for k, dir := range dirs {
				dz := make([]float64, len(dir))
				for j := range dir {
					dz[j] = scale[j] * dir[j]
				}
				dirs[k] = dz
			}
		}
		grid, err = landscape.Input[T](m, x, y, dirs, axis, ys, opts)
		finish("")
	}
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	res.Grid = grid
	res.HVPs += counter.Count()
	mid := len(axis) / 2
	if axis[mid] == 0 {
		res.Accuracy = grid.Accuracy[len(grid.Loss)/2][mid]
		if res.Direction != "input" {
			res.Loss = grid.Loss[len(grid.Loss)/2][mid] // the grid's own value at θ
		}
	}
	if !o.TwoD {
		res.Quadratic = landscape.Quadratic(axis, res.Loss, 0, res.Curvature[0])
		res.QuadraticGrad = landscape.Quadratic(axis, res.Loss, res.Slope[0], res.Curvature[0])
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
