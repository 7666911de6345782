package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"hesscope/data"
	"hesscope/experiment"
	"hesscope/hessian"
	"hesscope/models"
	"hesscope/tensor"
	"hesscope/train"
)

func init() {
	commands = append(commands, &command{
		name:  "eval",
		usage: "-weights FILE [-model NAME] [-dataset NAME] [-split test|train] [flags]",
		short: "accuracy and loss of a model's weights on a dataset split",
		long: `
Eval computes the mean cross-entropy loss and the accuracy of a model on a
split of a dataset, BatchNorm in eval mode (running statistics).

-weights is a safetensors state dict: a training run's model.safetensors, or
any PyTorch state dict of a zoo model saved as safetensors. The model name,
activation and the per-channel normalisation a run trained with are read
from the file's metadata when present; -model and -activation override
them. -dataset also takes a safetensors file holding x [N,C,H,W] float32 in
[0,1] and y [N] int64.`,
		flags: evalFlags,
	})
}

type evalOptions struct {
	sourceFlags
	precision      string
	samples, chunk int
	json, quiet    bool
}

// EvalResult is the JSON output of hesscope eval.
type EvalResult struct {
	Version   string   `json:"version"`
	Weights   string   `json:"weights"`
	Model     string   `json:"model"`
	Dataset   string   `json:"dataset"`
	Split     string   `json:"split,omitempty"` // empty for a dataset file, which has none
	Samples   int      `json:"samples"`
	Normalize bool     `json:"normalize"`
	Precision string   `json:"precision"`
	Loss      float64  `json:"loss"`
	Accuracy  float64  `json:"accuracy"`
	Correct   int      `json:"correct"`
	Seconds   float64  `json:"seconds"`
	Warnings  []string `json:"warnings,omitempty"`
}

func evalFlags(fs *flag.FlagSet) func(context.Context, *env) error {
	o := &evalOptions{}
	o.sourceFlags.register(fs, "safetensors `file` of the model's weights (required)")
	fs.IntVar(&o.samples, "samples", 0, "evaluate the first `N` images (0: all)")
	fs.IntVar(&o.chunk, "batch-size", 256, "images per forward pass")
	fs.StringVar(&o.precision, "precision", "float32", "arithmetic: float32 or float64")
	fs.BoolVar(&o.json, "json", false, "print one JSON object")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	return func(ctx context.Context, e *env) error {
		switch {
		case o.weights == "":
			return usagef("-weights is required")
		case o.split != "test" && o.split != "train":
			return usagef("-split %q: want test or train", o.split)
		case o.samples < 0:
			return usagef("-samples %d: want 0 (all) or more", o.samples)
		case o.chunk < 1:
			return usagef("-batch-size %d: want at least 1", o.chunk)
		case o.activation != "" && o.activation != "relu" && o.activation != "tanh" && o.activation != "softplus":
			return usagef("-activation %q: want relu, tanh or softplus", o.activation)
		case o.model != "" && !slices.Contains(models.Names(), o.model):
			return usagef("-model %q: unknown model (want %s)", o.model, strings.Join(models.Names(), ", "))
		case o.dataset != "" && !strings.HasSuffix(o.dataset, ".safetensors") && !slices.Contains(data.Names(), o.dataset):
			return usagef("-dataset %q: unknown dataset (want %s, or a .safetensors file)", o.dataset, strings.Join(data.Names(), ", "))
		}
		switch o.precision {
		case "float32":
			return runEval[float32](ctx, e, o)
		case "float64":
			return runEval[float64](ctx, e, o)
		}
		return usagef("-precision %q: want float32 or float64", o.precision)
	}
}

func runEval[T tensor.Float](ctx context.Context, e *env, o *evalOptions) error {
	start := time.Now()
	var prog io.Writer = e.stderr
	if o.quiet {
		prog = nil
	}
	norm, err := o.fromWeights()
	if err != nil {
		return err
	}
	model, act := o.model, o.activation
	net, _, err := experiment.LoadModel[T](experiment.ModelSpec{Name: model, Weights: o.weights, Activation: act})
	if err != nil {
		return err
	}
	d, err := experiment.LoadData(experiment.DataSpec{Name: o.dataset, Split: o.split, Samples: o.samples, Dir: o.dataDir, Progress: prog})
	if err != nil {
		return err
	}
	if err := experiment.CheckData(d, net); err != nil {
		return err
	}
	if err := checkNorm(norm, o.weights, d); err != nil {
		return err
	}
	if norm != nil {
		d = d.Normalized(*norm)
	}
	if err := checkPasses(net, hessian.LossPass, min(o.chunk, d.N), 1, 0, "-batch-size"); err != nil {
		return err
	}
	loss, acc, err := train.Evaluate(ctx, net, d, o.chunk)
	if err != nil {
		return err
	}
	if !finite(loss) {
		return fmt.Errorf("%s: the loss on %s (%d images) is %v, not a finite number, in %s arithmetic: want weights whose loss is finite", o.weights, d.Name, d.N, loss, o.precision)
	}
	split := o.split
	if !slices.Contains(data.Names(), o.dataset) {
		split = "" // a file has no splits
	}
	res := EvalResult{Version: version, Weights: o.weights, Model: model, Dataset: o.dataset, Split: split,
		Samples: d.N, Normalize: norm != nil, Precision: o.precision, Loss: loss, Accuracy: acc,
		Correct: int(acc*float64(d.N) + 0.5), Seconds: time.Since(start).Seconds(), Warnings: o.warnings}
	defer printWarnings(e.stderr, res.Warnings)
	if o.json {
		return writeResult(e.stdout, true, "", res)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s)\n", model, o.weights)
	if split != "" {
		split = " " + split
	}
	fmt.Fprintf(tw, "data\t%s%s, %d images%s\n", o.dataset, split, d.N, map[bool]string{true: ", normalised", false: ""}[norm != nil])
	fmt.Fprintf(tw, "loss\t%.6f\n", loss)
	fmt.Fprintf(tw, "accuracy\t%.2f%% (%d/%d)\n", 100*acc, res.Correct, d.N)
	fmt.Fprintf(tw, "seconds\t%.2f\n", res.Seconds)
	return tw.Flush()
}
