package analysis

import (
	"context"
	"fmt"
	"math"
	"time"

	"hesscope/data"
	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/sharpness"
	"hesscope/tensor"
)

// SharpnessOptions configures Sharpness. Zero fields take the defaults
// given, which are those of hesscope sharpness.
type SharpnessOptions struct {
	// Metric is "epsilon" (Keskar et al.'s ε-sharpness), "m" (SAM's
	// m-sharpness) or "both" (default).
	Metric string
	// Epsilons are the box sizes ε of ε-sharpness (default 1e-3), each
	// maximised by Iterations projected-ascent iterations (default 10).
	Epsilons   []float64
	Iterations int
	// M is the sub-batch size of m-sharpness (default 128), Rho the ball
	// radius (default 0.05), Steps the ascent steps per sub-batch (default
	// 1: SAM's ε*).
	M     int
	Rho   float64
	Steps int
	// BatchSize is the number of images per forward pass of the full loss
	// (default 256). Workers is the number of chunks (ε-sharpness; 0: 1) or
	// sub-batches (m-sharpness; 0: GOMAXPROCS) processed at once; it does
	// not change the results.
	BatchSize, Workers int
	// Seed is recorded in the result.
	Seed uint64
	// Backend is where the loss evaluations of ε-sharpness run (nil: CPU).
	Backend Backend
	// Progress, if not nil, receives progress reports.
	Progress func(Progress)
}

func (o SharpnessOptions) withDefaults() SharpnessOptions {
	if o.Metric == "" {
		o.Metric = "both"
	}
	if len(o.Epsilons) == 0 {
		o.Epsilons = []float64{1e-3}
	}
	if o.Iterations == 0 {
		o.Iterations = 10
	}
	if o.M == 0 {
		o.M = 128
	}
	if o.Rho == 0 {
		o.Rho = 0.05
	}
	if o.Steps == 0 {
		o.Steps = 1
	}
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	return o
}

func (o SharpnessOptions) validate() error {
	switch {
	case o.Metric != "epsilon" && o.Metric != "m" && o.Metric != "both":
		return fmt.Errorf("analysis: sharpness: metric %q: want epsilon, m or both", o.Metric)
	case o.Iterations < 1 || o.M < 1 || o.Steps < 1 || o.BatchSize < 1 || o.Workers < 0:
		return fmt.Errorf("analysis: sharpness: iterations %d, m %d, steps %d, batch size %d, workers %d: want positive counts", o.Iterations, o.M, o.Steps, o.BatchSize, o.Workers)
	case !(o.Rho > 0) || math.IsInf(o.Rho, 0):
		return fmt.Errorf("analysis: sharpness: rho %v: want a positive radius", o.Rho)
	}
	for _, e := range o.Epsilons {
		if !(e > 0) || math.IsInf(e, 0) {
			return fmt.Errorf("analysis: sharpness: epsilon %v: want a positive number", e)
		}
	}
	return nil
}

// SharpnessResult is the result of Sharpness, the JSON output of hesscope
// sharpness.
type SharpnessResult struct {
	Header
	Params   int                       `json:"params"`
	Loss     float64                   `json:"loss"`
	Accuracy float64                   `json:"accuracy"`
	Epsilon  []sharpness.EpsilonResult `json:"epsilon_sharpness,omitempty"`
	M        *sharpness.MResult        `json:"m_sharpness,omitempty"`
	// Files lists the files the caller wrote.
	Files    []string `json:"files,omitempty"`
	Seconds  float64  `json:"seconds"`
	Warnings []string `json:"warnings,omitempty"`
}

// Sharpness measures how much the mean loss of m over the images of d can
// rise near its weights θ, in BatchNorm's eval mode: Keskar et al.'s
// ε-sharpness over the whole data (a lower bound, by projected gradient
// ascent) and Foret et al.'s m-sharpness over consecutive sub-batches (see
// package sharpness).
func Sharpness[T tensor.Float](ctx context.Context, m hessian.Model[T], d *data.Dataset, o SharpnessOptions) (*SharpnessResult, error) {
	start := time.Now()
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	eng, err := engine[T](o.Backend)
	if err != nil {
		return nil, err
	}
	prog := reporter(o.Progress)
	res := &SharpnessResult{Header: header(m, d, o.Seed), Params: nn.Size(nn.Trainable(m.Params()))}
	obj := eng.Objective(Source[T]{Model: m, Data: chunks[T](d, o.BatchSize), Mode: nn.Eval, Workers: o.Workers})
	f, theta := obj.Eval, obj.Theta()
	res.Loss = f(nil, theta)
	res.Accuracy = obj.Accuracy()
	if o.Metric != "m" {
		for _, eps := range o.Epsilons {
			stage := fmt.Sprintf("ε-sharpness ε=%g (iterations)", eps)
			done := 0
			r, err := sharpness.Epsilon(f, theta, sharpness.EpsilonOptions{Epsilon: eps, Iterations: o.Iterations, Context: ctx,
				Progress: func(iter int, best float64) {
					done++
					prog.report(Progress{Stage: stage, Done: done, Total: o.Iterations, Status: fmt.Sprintf("loss %.6g", best)})
				}})
			if err != nil {
				return nil, ctxErr(ctx, err)
			}
			prog.report(Progress{Stage: stage, Done: done, Total: o.Iterations, Status: fmt.Sprintf("sharpness %.4g", r.Sharpness), Final: true})
			res.Epsilon = append(res.Epsilon, r)
		}
	}
	if o.Metric != "epsilon" {
		mdata := chunks[T](d, o.M)
		progress, finish := prog.counter("m-sharpness (sub-batches)", mdata.Chunks())
		cancel, stop := cancelChan(ctx)
		defer stop()
		r, err := sharpness.MSharpness[T](m, mdata, sharpness.MOptions{SAM: sharpness.SAMOptions{Rho: o.Rho, Steps: o.Steps},
			Mode: nn.Eval, Workers: o.Workers, Cancel: cancel, Progress: progress})
		finish("")
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		res.M = &r
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
