package analysis

import (
	"context"
	"errors"
	"math"
	"slices"

	"hesscope/data"
	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/models"
	"hesscope/tensor"
)

// Header is what every analysis result records first: the program, the
// model and the data it was computed on. An analysis fills Model (for a
// model of the zoo), Samples, Precision and Seed; the caller the rest.
type Header struct {
	Version       string `json:"version"`
	Model         string `json:"model"`
	Weights       string `json:"weights,omitempty"`
	Activation    string `json:"activation"`
	Data          string `json:"data"`
	Split         string `json:"split"`
	Normalization string `json:"normalization"`
	Samples       int    `json:"samples"`
	Precision     string `json:"precision"`
	Seed          uint64 `json:"seed"`
}

// header is the part of a Header an analysis of m on d knows.
func header[T tensor.Float](m hessian.Model[T], d *data.Dataset, seed uint64) Header {
	h := Header{Samples: d.N, Precision: precision[T](), Seed: seed}
	if net, ok := m.(*models.Net[T]); ok {
		h.Model = net.Name
	}
	return h
}

// Progress reports the advance of one stage of an analysis, for a progress
// display: Stage names what is computed and in which unit ("top eigenvalues
// (HVPs)"), Done counts the units done so far out of Total, Status is the
// current estimate if any, with how far it is from converging ("λ ≈ 12.3,
// residual 3e-04 > 1e-05"). When Capped is set, Total is only a cap — an
// iterative solver stops as soon as it converges, often long before — and
// a display must not turn it into a percentage or an ETA. The last report
// of a stage has Final set, and its Status, if any, is the stage's
// outcome. Stages follow each other; reports come one at a time.
type Progress struct {
	Stage       string
	Done, Total int
	Capped      bool
	Status      string
	Final       bool
}

// reporter sends Progress reports to a callback, nil for none.
type reporter func(Progress)

func (r reporter) report(p Progress) {
	if r != nil {
		r(p)
	}
}

// counter returns a func(done, total) progress callback (the one of
// landscape, sharpness and hessian.SampleInputEigen) reporting stage, and a
// function that ends the stage.
func (r reporter) counter(stage string, total int) (func(done, total int), func(status string)) {
	done := 0
	return func(d, _ int) {
			done = d
			r.report(Progress{Stage: stage, Done: d, Total: total})
		}, func(status string) {
			r.report(Progress{Stage: stage, Done: done, Total: total, Status: status, Final: true})
		}
}

// solver returns a linop progress callback for a solver stage reporting
// the matvecs done against the solver's budget (a cap when the solver
// stops on a tolerance) and the first current estimate in format with its
// residual against its bound (linop.Progress.Status); nil when there is no
// callback.
func (r reporter) solver(label string, format string) func(linop.Progress) {
	if r == nil {
		return nil
	}
	return func(p linop.Progress) {
		status := ""
		if format != "" {
			status = p.Status(format)
		}
		r(Progress{Stage: label + " (HVPs)", Done: p.MatVecs, Total: p.MaxMatVecs, Capped: p.Tol > 0, Status: status, Final: p.Final})
	}
}

// cancelChan returns a channel closed when ctx is done, for the packages
// that take one, and the function that releases it.
func cancelChan(ctx context.Context) (<-chan struct{}, func() bool) {
	c := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(c) })
	return c, stop
}

// ctxErr returns ctx's error if it is done, else err: the error of a
// computation stopped through a cancel channel.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// notConverged reports whether err is a solver's NotConvergedError, whose
// estimate callers keep with a warning.
func notConverged(err error) bool {
	var nc *linop.NotConvergedError
	return errors.As(err, &nc)
}

// toT converts float32 images to T, sharing memory for float32.
func toT[T tensor.Float](x []float32) []T {
	if v, ok := any(x).([]T); ok {
		return v
	}
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = T(v)
	}
	return out
}

// images returns the images of d as a tensor of T, sharing memory for
// float32.
func images[T tensor.Float](d *data.Dataset) *tensor.Dense[T] {
	return tensor.FromSlice(toT[T](d.X), d.N, d.C, d.H, d.W)
}

// chunks returns d as chunks of n images for the hessian operators.
func chunks[T tensor.Float](d *data.Dataset, n int) *hessian.Float32Data[T] {
	return hessian.NewFloat32Data[T](d.X, d.Y, [3]int{d.C, d.H, d.W}, n)
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Distribution summarises a set of values.
type Distribution struct {
	Mean   float64   `json:"mean"`
	Std    float64   `json:"std"`
	Min    float64   `json:"min"`
	Median float64   `json:"median"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

func distribution(v []float64) Distribution {
	d := Distribution{Values: v}
	if len(v) == 0 {
		return d
	}
	s := slices.Clone(v)
	slices.Sort(s)
	d.Min, d.Max = s[0], s[len(s)-1]
	d.Median = s[len(s)/2]
	if len(s)%2 == 0 {
		d.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	for _, x := range v {
		d.Mean += x
	}
	d.Mean /= float64(len(v))
	if len(v) > 1 {
		for _, x := range v {
			d.Std += (x - d.Mean) * (x - d.Mean)
		}
		d.Std = math.Sqrt(d.Std / float64(len(v)-1))
	}
	return d
}
