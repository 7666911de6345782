package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Metrics is one line of metrics.jsonl and metrics.csv: the state of a run at
// the end of an epoch. Accuracies are fractions in [0, 1]. Train loss,
// accuracy and gradient norm are averaged over the epoch's batches as they
// were trained (train mode, augmented); test and validation numbers are
// measured after the epoch in eval mode.
type Metrics struct {
	// Epoch counts from 1; Step is the number of optimiser steps so far.
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
	// LR is the learning rate of the epoch's last step.
	LR        float64 `json:"lr"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
	// ValLoss and ValAcc are set when a validation split is held out.
	ValLoss *float64 `json:"val_loss,omitempty"`
	ValAcc  *float64 `json:"val_acc,omitempty"`
	// GradNorm is the mean over the epoch's steps of the Euclidean norm of
	// the batch gradient of the loss (weight decay not included).
	GradNorm float64 `json:"grad_norm"`
	// Seconds is the wall time of the epoch, evaluations included.
	Seconds float64 `json:"seconds"`
	// TopEigenvalue and EigenResidual (Lanczos' estimate of ‖Hv − λv‖) are
	// set in tracked epochs; Trace and TraceStdErr too with trace tracking.
	TopEigenvalue *float64 `json:"top_eigenvalue,omitempty"`
	EigenResidual *float64 `json:"eigen_residual,omitempty"`
	Trace         *float64 `json:"trace,omitempty"`
	TraceStdErr   *float64 `json:"trace_stderr,omitempty"`
	// With the "absa" schedule, BatchSize and AdvFraction are the batch
	// size and the fraction of FGSM examples of the epoch; ABSAEigenvalue
	// and ABSAResidual the top Hessian eigenvalue on the epoch's random
	// batch that ABSA's rule reads, and Lanczos' estimate of ‖Hv − λv‖;
	// ABSAReference the reference it was compared with (itself when it
	// becomes the reference); ABSAChange "eigenvalue" or "patience" when
	// the batch size doubles for the next epoch, for that reason.
	BatchSize      int      `json:"batch_size,omitempty"`
	AdvFraction    *float64 `json:"adv_fraction,omitempty"`
	ABSAEigenvalue *float64 `json:"absa_eigenvalue,omitempty"`
	ABSAResidual   *float64 `json:"absa_residual,omitempty"`
	ABSAReference  *float64 `json:"absa_reference,omitempty"`
	ABSAChange     string   `json:"absa_change,omitempty"`
}

// csvColumns lists the columns of metrics.csv for a run: the optional ones
// only when the configuration produces them, so every row is complete
// except for curvature columns in untracked epochs, which are empty.
func csvColumns(c Config) []string {
	cols := []string{"epoch", "step", "lr", "train_loss", "train_acc", "test_loss", "test_acc"}
	if c.ValFraction > 0 {
		cols = append(cols, "val_loss", "val_acc")
	}
	cols = append(cols, "grad_norm", "seconds")
	if c.Schedule == "absa" {
		cols = append(cols, "batch_size", "adv_fraction", "absa_eigenvalue", "absa_residual", "absa_reference", "absa_change")
	}
	if c.TrackEvery > 0 {
		cols = append(cols, "top_eigenvalue", "eigen_residual")
		if c.TrackTrace {
			cols = append(cols, "trace", "trace_stderr")
		}
	}
	return cols
}

// csvRow formats m under the given columns.
func csvRow(m Metrics, cols []string) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	p := func(v *float64) string {
		if v == nil {
			return ""
		}
		return f(*v)
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		switch c {
		case "epoch":
			out[i] = strconv.Itoa(m.Epoch)
		case "step":
			out[i] = strconv.Itoa(m.Step)
		case "lr":
			out[i] = f(m.LR)
		case "train_loss":
			out[i] = f(m.TrainLoss)
		case "train_acc":
			out[i] = f(m.TrainAcc)
		case "test_loss":
			out[i] = f(m.TestLoss)
		case "test_acc":
			out[i] = f(m.TestAcc)
		case "val_loss":
			out[i] = p(m.ValLoss)
		case "val_acc":
			out[i] = p(m.ValAcc)
		case "grad_norm":
			out[i] = f(m.GradNorm)
		case "seconds":
			out[i] = f(m.Seconds)
		case "top_eigenvalue":
			out[i] = p(m.TopEigenvalue)
		case "eigen_residual":
			out[i] = p(m.EigenResidual)
		case "trace":
			out[i] = p(m.Trace)
		case "trace_stderr":
			out[i] = p(m.TraceStdErr)
		case "batch_size":
			out[i] = strconv.Itoa(m.BatchSize)
		case "adv_fraction":
			out[i] = p(m.AdvFraction)
		case "absa_eigenvalue":
			out[i] = p(m.ABSAEigenvalue)
		case "absa_residual":
			out[i] = p(m.ABSAResidual)
		case "absa_reference":
			out[i] = p(m.ABSAReference)
		case "absa_change":
			out[i] = m.ABSAChange
		}
	}
	return strings.Join(out, ",") + "\n"
}

// appendAt makes the file at path exactly its first size bytes followed by
// text, and syncs it: the append of a metrics line, which first discards
// anything a killed run wrote after the last checkpoint. It returns the new
// size.
func appendAt(path string, size int64, text string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	if err := checkLen(f, path, size); err != nil {
		return 0, err
	}
	if err := f.Truncate(size); err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	return size + int64(len(text)), nil
}

// truncateTo cuts the file at path back to size bytes (creating it empty
// when size is 0), the length a checkpoint recorded.
func truncateTo(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	if err := checkLen(f, path, size); err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return f.Close()
}

func checkLen(f *os.File, path string, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if fi.Size() < size {
		return fmt.Errorf("train: %s has %d bytes but the checkpoint counts %d: the file was cut or replaced", path, fi.Size(), size)
	}
	return nil
}

// ReadMetrics reads the metrics.jsonl of a run folder.
func ReadMetrics(dir string) ([]Metrics, error) {
	b, err := os.ReadFile(dir + "/" + MetricsJSONLFile)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var out []Metrics
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m Metrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("train: %s/%s line %d: %w", dir, MetricsJSONLFile, i+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}
