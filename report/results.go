// Package report renders the results of a batch-size sweep — the numbers of
// results.json and the figures beside it — as report.html: one
// self-contained file (figures embedded, no network access needed) with the
// table layout of Yao et al. (2018), the paper's claims each marked held or
// not held with the numbers behind the verdict, and the exact configuration
// and program version. It reads result files only and imports no engine
// package.
package report

import (
	"encoding/json"
	"fmt"
)

// Results is the content of a sweep's results.json.
type Results struct {
	// Version is the hesscope version that measured the runs.
	Version string `json:"version"`
	// Created is when the summary was made (RFC 3339).
	Created string `json:"created"`
	// Config is the sweep's configuration, as given.
	Config json.RawMessage `json:"config"`
	// Runs has one entry per trained configuration and seed.
	Runs []Run `json:"runs"`
	// Groups aggregates runs over seeds: one per (kind, batch size).
	Groups []Group `json:"groups"`
	// Claims are the paper's claims with their verdicts; Uncertainty
	// describes the intervals behind them.
	Claims      []Claim     `json:"claims"`
	Uncertainty Uncertainty `json:"uncertainty"`
	// Figures are the plots, relative to the folder of results.json.
	Figures []Figure `json:"figures"`
	// Seconds is the total wall time of the measured runs.
	Seconds float64 `json:"seconds"`
}

// Run is what was measured on one trained network.
type Run struct {
	Name      string `json:"name"`
	Dir       string `json:"dir"`
	Kind      string `json:"kind"` // "normal", "robust" or "absa"
	BatchSize int    `json:"batch_size"`
	Seed      uint64 `json:"seed"`
	Epochs    int    `json:"epochs"`

	TrainAccuracy float64 `json:"train_accuracy"`
	TestAccuracy  float64 `json:"test_accuracy"`
	TrainLoss     float64 `json:"train_loss"`
	TestLoss      float64 `json:"test_loss"`

	// TopEigenvalues are the largest eigenvalues of the parameter Hessian
	// on the fixed training subset, descending; MinEigenvalue the smallest.
	TopEigenvalues []float64 `json:"top_eigenvalues"`
	MinEigenvalue  float64   `json:"min_eigenvalue"`
	// Residuals of the eigenpairs above, top ones first, then the minimum.
	Residuals []float64 `json:"residuals"`
	// FullTopEigenvalue is λ₁ over the whole training set, when measured.
	FullTopEigenvalue *float64 `json:"full_top_eigenvalue,omitempty"`
	Trace             float64  `json:"trace"`
	TraceStdErr       float64  `json:"trace_std_err"`
	// InputTopEigenvalue is the mean over samples of the top eigenvalue of
	// the per-sample input Hessian; InputTopEigenvalueStd its spread.
	InputTopEigenvalue    float64 `json:"input_top_eigenvalue"`
	InputTopEigenvalueStd float64 `json:"input_top_eigenvalue_std"`
	// FGSM is the robust accuracy per ε.
	FGSM []EpsAccuracy `json:"fgsm"`
	// RhoAdv is DeepFool's ρ_adv = mean ‖r‖₂/‖x‖₂.
	RhoAdv float64 `json:"rho_adv"`
	// SaddleFraction is the fraction of PGD-trajectory points whose input
	// Hessian has λ_min < −tol·λ_max; SaddlePoints how many were checked;
	// SaddleMinRatio the most negative λ_min/λ_max seen.
	SaddleFraction float64 `json:"saddle_fraction"`
	SaddlePoints   int     `json:"saddle_points"`
	SaddleMinRatio float64 `json:"saddle_min_ratio"`
	// Curvature is the top eigenvalue tracked during training, per epoch.
	Curvature []EpochValue `json:"curvature,omitempty"`
	// BatchSchedule is the batch size per epoch (ABSA), when it changed.
	BatchSchedule []EpochValue `json:"batch_schedule,omitempty"`
	// TrainSeconds and MeasureSeconds are the wall times.
	TrainSeconds   float64 `json:"train_seconds"`
	MeasureSeconds float64 `json:"measure_seconds"`
}

// EpsAccuracy is the accuracy under attack at one ε.
type EpsAccuracy struct {
	Eps      float64 `json:"eps"`
	Accuracy float64 `json:"accuracy"`
}

// EpochValue is a value recorded at the end of an epoch.
type EpochValue struct {
	Epoch int     `json:"epoch"`
	Value float64 `json:"value"`
}

// Stat is a mean and sample standard deviation over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

// Group aggregates the runs of one kind and batch size over seeds.
type Group struct {
	Kind               string `json:"kind"`
	BatchSize          int    `json:"batch_size"`
	TestAccuracy       Stat   `json:"test_accuracy"`
	TrainAccuracy      Stat   `json:"train_accuracy"`
	TopEigenvalue      Stat   `json:"top_eigenvalue"`
	MinEigenvalue      Stat   `json:"min_eigenvalue"`
	Trace              Stat   `json:"trace"`
	InputTopEigenvalue Stat   `json:"input_top_eigenvalue"`
	RhoAdv             Stat   `json:"rho_adv"`
	// FGSM is the accuracy per ε, in the order of the runs' FGSM lists.
	FGSM []EpsStat `json:"fgsm"`
}

// EpsStat is an accuracy statistic at one ε.
type EpsStat struct {
	Eps      float64 `json:"eps"`
	Accuracy Stat    `json:"accuracy"`
}

// Claim is one claim of the paper and what the sweep says of it.
type Claim struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	// Verdict is one of Held, NotHeld, Inconclusive and Insufficient.
	Verdict string `json:"verdict"`
	// Rule says in one sentence how the verdict follows from the
	// statistics.
	Rule string `json:"rule"`
	// Statistics are the numbers behind the verdict, each with its
	// uncertainty and its own outcome; the verdict combines them: not held
	// if any is not held, else insufficient evidence if any is, else
	// inconclusive if any is, else held.
	Statistics []Statistic `json:"statistics"`
	// Evidence states the numbers behind the verdict in words.
	Evidence string `json:"evidence"`
}

// Statistic is one number behind a verdict with its uncertainty interval.
type Statistic struct {
	// Name says what was computed, e.g. "λ₁(θ) ratio, batch 4096 / 64".
	Name string `json:"name"`
	// Value is absent when there are too few runs to compute it.
	Value *float64 `json:"value,omitempty"`
	// Lo and Hi bound the value (absent when they cannot be computed);
	// Interval says how: "bootstrap" (percentile interval over seeds, see
	// Results.Uncertainty), "residual" (the eigenvalues' Lanczos residual
	// bounds) or "binomial" (exact one-sided upper bound of a rate).
	Lo       *float64 `json:"lo,omitempty"`
	Hi       *float64 `json:"hi,omitempty"`
	Interval string   `json:"interval,omitempty"`
	// The statistic supports the claim when its interval lies above
	// (Direction "above") or below ("below") Threshold.
	Threshold float64 `json:"threshold"`
	Direction string  `json:"direction"`
	// Runs is the number of runs it was computed from.
	Runs    int    `json:"runs"`
	Outcome string `json:"outcome"`
	// Note says why the outcome is insufficient evidence, when it is.
	Note string `json:"note,omitempty"`
}

// String writes the statistic in one phrase, e.g. "λ₁(θ) ratio, batch
// 4096 / 64 = 31.9 [28.1, 35.6] (bootstrap), wanted > 1.2, 6 runs: held".
func (s Statistic) String() string {
	if s.Value == nil {
		return fmt.Sprintf("%s: %s (%s)", s.Name, s.Outcome, s.Note)
	}
	iv := ""
	switch {
	case s.Lo != nil && s.Hi != nil:
		iv = fmt.Sprintf(" [%.3g, %.3g] (%s)", *s.Lo, *s.Hi, s.Interval)
	case s.Hi != nil:
		iv = fmt.Sprintf(" (≤ %.3g, %s)", *s.Hi, s.Interval)
	}
	side := ">"
	if s.Direction == "below" {
		side = "<"
	}
	out := fmt.Sprintf("%s = %.3g%s, wanted %s %.3g, %d runs: %s", s.Name, *s.Value, iv, side, s.Threshold, s.Runs, s.Outcome)
	if s.Note != "" {
		out += " (" + s.Note + ")"
	}
	return out
}

// Uncertainty describes the bootstrap behind the claims' intervals.
type Uncertainty struct {
	Method    string  `json:"method"`
	Resamples int     `json:"resamples"`
	Level     float64 `json:"level"`
	Seed      uint64  `json:"seed"`
	// SeedsMin and SeedsMax are the fewest and most runs (seeds) of any
	// configuration (training kind × batch size).
	SeedsMin int `json:"seeds_min"`
	SeedsMax int `json:"seeds_max"`
}

// Figure is a plot file beside results.json.
type Figure struct {
	Title   string `json:"title"`
	File    string `json:"file"`
	Caption string `json:"caption"`
}

// Outcomes of a claim or statistic.
const (
	Held         = "held"
	NotHeld      = "not held"
	Inconclusive = "inconclusive"
	Insufficient = "insufficient evidence"
)
