package main

// What spectrum, landscape and sharpness share: the model and data flags,
// loading and validating both before any work starts, and writing results.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"hesscope/analysis"
	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/dist"
	"hesscope/experiment"
	"hesscope/hessian"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/progress"
	"hesscope/tensor"
	"hesscope/train"
)

// sourceFlags choose a model file and a dataset: the flags that every
// command reading a model shares.
type sourceFlags struct {
	weights, model, activation, dataset, dataDir, split string
	splitSet                                            bool // -split was given
	// datasetFlag is the name under which the dataset was given
	// ("dataset" or its alias "data"), "" if it was not.
	datasetFlag string
	// warnings are fromWeights': printed on standard error and recorded
	// in the result.
	warnings []string
}

// register declares the flags; weightsHelp is the help of -weights, which
// says whether the command can start from a fresh initialisation.
func (s *sourceFlags) register(fs *flag.FlagSet, weightsHelp string) {
	fs.StringVar(&s.weights, "weights", "", weightsHelp)
	fs.StringVar(&s.model, "model", "", "model `name`: "+strings.Join(models.Names(), ", ")+" (default: from the -weights metadata)")
	fs.StringVar(&s.activation, "activation", "", "activation: relu, tanh or softplus (default: from the -weights metadata, else relu)")
	fs.Var(datasetValue{s, "dataset"}, "dataset", "dataset `name` ("+strings.Join(data.Names(), ", ")+
		") or safetensors file with x [N,C,H,W] float32 and y [N] int64 (default: the dataset the -weights were trained on, as their metadata records, else mnist; a different one gets a warning)")
	fs.StringVar(&s.dataDir, "data-dir", "", "existing `folder` of the dataset files, where missing ones are downloaded (default: found or downloaded automatically)")
	s.split = "test"
	fs.Var(splitValue{s}, "split", "dataset split `name`: test or train (the first -samples images; not with a -dataset file, which has no splits)")
}

// splitValue is -split, recording that it was given: a -dataset file has
// no splits, and an explicit -split with one is refused rather than
// reported as if it had been used.
type splitValue struct{ s *sourceFlags }

func (v splitValue) String() string {
	if v.s == nil {
		return ""
	}
	return v.s.split
}

func (v splitValue) Set(x string) error {
	v.s.split, v.s.splitSet = x, true
	return nil
}

// freshOrFile is the -weights help of the commands that can start from a
// fresh initialisation.
const freshOrFile = "safetensors `file` of the model's weights (default: fresh initialisation from -seed)"

// analysisFlags are the flags of the analysis commands that choose the
// model, the data and the output.
type analysisFlags struct {
	sourceFlags
	samplesSet              bool // -samples was given
	samples, precision      string
	out, format             string
	chunk, classes, workers int
	seed                    uint64
	json, quiet             bool
	// owned are the files the command may write in -out (checkOut's
	// names): those a run did not write are a previous run's, removed
	// once it has written its own.
	owned []string
}

func (a *analysisFlags) register(fs *flag.FlagSet, samples string) {
	a.sourceFlags.register(fs, freshOrFile)
	fs.Var(datasetValue{&a.sourceFlags, "data"}, "data", "alias of -dataset (giving both with different values is an error)")
	a.samples = samples
	fs.Var(&samplesValue{a}, "samples", "number of images `N` (the first ones; at least 1, at most the split's), or all; the default is a cap, not a requirement")
	fs.IntVar(&a.chunk, "batch-size", 256, fmt.Sprintf("images per forward pass (chunk), at most %d; results are exact averages over all chunks", maxChunk))
	fs.IntVar(&a.classes, "classes", 0, "number of classes (default: from the weights or the data)")
	fs.StringVar(&a.precision, "precision", "float32", "arithmetic: float32 or float64")
	fs.Uint64Var(&a.seed, "seed", 1, "seed of the initialisation and of every random choice")
	fs.IntVar(&a.workers, "workers", 0, "data chunks, grid points, images or sub-batches processed at once, each on its own copy of the working state, at most max(256, 4 × cores) (default: 1 for chunks, whose passes are parallel inside; -threads otherwise)")
	fs.StringVar(&a.out, "out", "", "`folder` for the JSON result, CSV files and plots (created if missing)")
	fs.StringVar(&a.format, "format", "png", "plot format in -out: png or svg")
	fs.BoolVar(&a.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&a.quiet, "quiet", false, "no progress output")
}

// datasetValue is -dataset or its alias -data, recording which one was
// given: the two with different values are an error naming both, not the
// last one silently winning.
type datasetValue struct {
	s    *sourceFlags
	name string
}

func (v datasetValue) String() string {
	if v.s == nil {
		return ""
	}
	return v.s.dataset
}

func (v datasetValue) Set(x string) error {
	if f := v.s.datasetFlag; f != "" && f != v.name && v.s.dataset != x {
		return fmt.Errorf("conflicts with -%s %s: give one of -data and -dataset", f, v.s.dataset)
	}
	v.s.dataset, v.s.datasetFlag = x, v.name
	return nil
}

// samplesValue is -samples, recording whether it was given: the default is
// a cap, an explicit count a requirement.
type samplesValue struct{ a *analysisFlags }

func (v *samplesValue) String() string {
	if v.a == nil {
		return ""
	}
	return v.a.samples
}

func (v *samplesValue) Set(s string) error {
	v.a.samples, v.a.samplesSet = s, true
	return nil
}

// validate checks the shared flags and returns the number of samples (0: all).
func (a *analysisFlags) validate() (int, error) {
	n, err := parseSamples(a.samples)
	if err != nil {
		return 0, err
	}
	if a.chunk < 1 || a.chunk > maxChunk {
		return 0, usagef("-batch-size %d: want 1 to %d", a.chunk, maxChunk)
	}
	if a.workers < 0 || a.workers > maxThreads() {
		return 0, usagef("-workers %d: want 0 (-threads) to %d", a.workers, maxThreads())
	}
	if a.classes < 0 {
		return 0, usagef("-classes %d: want at least 2", a.classes)
	}
	if a.split != "test" && a.split != "train" {
		return 0, usagef("-split %q: want test or train", a.split)
	}
	if a.precision != "float32" && a.precision != "float64" {
		return 0, usagef("-precision %q: want float32 or float64", a.precision)
	}
	switch a.activation {
	case "", "relu", "tanh", "softplus":
	default:
		return 0, usagef("-activation %q: want relu, tanh or softplus", a.activation)
	}
	if a.format != "png" && a.format != "svg" {
		return 0, usagef("-format %q: want png or svg", a.format)
	}
	if a.model == "" && a.weights == "" {
		return 0, usagef("-model is required without -weights")
	}
	return n, nil
}

// load reads the weights' metadata, the data and the model, and checks
// them against each other: image shape, labels, finite pixels and weights.
// A normalisation recorded by a training run (norm_mean, norm_std) is
// applied to the images, so that the model sees what it was trained on.
func (a *analysisFlags) load(samples int, stderr io.Writer) (*analysisSetup, error) {
	s := &analysisSetup{}
	if !a.quiet {
		s.prog = stderr
	}
	var err error
	if s.norm, err = a.fromWeights(); err != nil {
		return nil, err
	}
	s.model, s.activation = a.model, a.activation
	if s.activation == "" {
		s.activation = "relu"
	}
	spec := experiment.DataSpec{Name: a.dataset, Split: a.split, Samples: samples, Dir: a.dataDir, Progress: s.prog}
	if !a.samplesSet {
		spec.Samples = 0
	}
	d, err := experiment.LoadData(spec)
	if err != nil {
		return nil, err
	}
	if !a.samplesSet && samples > 0 && samples < d.N {
		d = d.Subset(samples)
	}
	if err := checkNorm(s.norm, a.weights, d); err != nil {
		return nil, err
	}
	if s.norm != nil {
		d = d.Normalized(*s.norm)
	}
	s.d = d
	return s, nil
}

// fromWeights completes the flags from the metadata of the weights file
// and reads the normalisation its training run recorded (nil if none):
// what every command that reads a model file needs to know before building
// the model and loading the data. An empty -model or -activation takes the
// recorded one; an empty -dataset takes the recorded dataset, so that a
// model is analysed on the data it was trained on, else mnist (a file that
// records none, or no file). A -dataset naming another dataset than the
// recorded one is kept — evaluating a model on other data is a legitimate
// experiment, and the flag says it is meant — but adds a warning to
// s.warnings, which the commands print on standard error and record in
// their results.
func (s *sourceFlags) fromWeights() (norm *data.Norm, err error) {
	var meta map[string]string
	// A fifo or a device would block or never end: only regular files
	// are opened.
	for _, f := range []output{{"-weights", s.weights}, {"-dataset", s.dataset}} {
		if st, err := os.Stat(f.path); err == nil && !st.Mode().IsRegular() && (f.flag == "-weights" || !st.IsDir()) {
			return nil, fmt.Errorf("%s %s: not a regular file", f.flag, f.path)
		}
	}
	if s.splitSet && s.dataset != "" && !slices.Contains(data.Names(), s.dataset) {
		return nil, usagef("-split %s: -dataset %s is a file, which has no splits: drop -split", s.split, s.dataset)
	}
	if s.weights == "" {
		if s.model == "" {
			return nil, usagef("-model is required without -weights")
		}
	} else {
		f, err := checkpoint.ReadFile(s.weights)
		if err != nil {
			return nil, err
		}
		meta = f.Metadata
		if s.model == "" {
			if s.model = meta["model"]; s.model == "" {
				return nil, usagef("-model is required: %s names no model in its metadata", s.weights)
			}
		}
		if !slices.Contains(models.Names(), s.model) {
			if meta["model"] == s.model {
				return nil, fmt.Errorf("%s: its metadata names the model %q, which is not one of %s (give -model)", s.weights, s.model, strings.Join(models.Names(), ", "))
			}
			return nil, usagef("-model %q: unknown model (want %s)", s.model, strings.Join(models.Names(), ", "))
		}
		if s.activation == "" {
			s.activation = meta["activation"]
			if err := checkActivation(s.activation); err != nil {
				return nil, fmt.Errorf("%s: its metadata names the activation %q, which is not relu, tanh or softplus (give -activation)", s.weights, s.activation)
			}
		}
		if norm, err = train.ModelNorm(meta); err != nil {
			return nil, fmt.Errorf("%s: %w", s.weights, err)
		}
	}
	trained := meta["dataset"]
	switch {
	case s.dataset == "" && trained == "":
		s.dataset = "mnist"
	case s.dataset == "" && !slices.Contains(data.Names(), trained):
		return nil, usagef("-dataset is required: %s was trained on %q, which is not a dataset name (%s)", s.weights, trained, strings.Join(data.Names(), ", "))
	case s.dataset == "":
		s.dataset = trained
	case trained != "" && s.dataset != trained && slices.Contains(data.Names(), s.dataset):
		s.warnings = append(s.warnings, fmt.Sprintf("%s was trained on %s, but -%s asks for %s: results are for data the model has not seen", s.weights, trained, s.datasetFlag, s.dataset))
	}
	return norm, nil
}

// inputScale returns the factors per channel that take input Hessians
// through norm to the pixels (the reciprocal standard deviations; nil
// without a normalisation): the data are normalised (load), the Hessians
// reported with respect to the pixels, as saddle-check's and the sweep's.
func inputScale(norm *data.Norm) []float64 {
	if norm == nil {
		return nil
	}
	s := make([]float64, len(norm.Std))
	for c, v := range norm.Std {
		s[c] = 1 / float64(v)
	}
	return s
}

// checkNorm returns an error unless norm (if any) has one mean per channel of d.
func checkNorm(norm *data.Norm, weights string, d *data.Dataset) error {
	if norm != nil && len(norm.Mean) != d.C {
		return fmt.Errorf("%s: normalisation for %d channels, but %s has %d", weights, len(norm.Mean), d.Name, d.C)
	}
	return nil
}

// analysisSetup is what load found before the model is built in T.
type analysisSetup struct {
	d          *data.Dataset
	model      string
	activation string
	norm       *data.Norm // the normalisation applied to the data, from the weights
	prog       io.Writer  // progress output, nil when quiet
}

// header is the analysis.Header of an analysis of s with these flags.
func (a *analysisFlags) header(s *analysisSetup) analysis.Header {
	return analysis.Header{Version: version, Model: s.model, Weights: a.weights, Activation: s.activation, Data: a.dataset,
		Split: a.split, Normalization: normName(s.norm), Samples: s.d.N, Precision: a.precision, Seed: a.seed}
}

// bars returns an analysis progress callback drawing one progress bar per
// stage on prog (nil when prog is nil: no progress).
func bars(prog io.Writer) func(analysis.Progress) {
	if prog == nil {
		return nil
	}
	var bar *progress.Bar
	stage, done := "", 0
	return func(p analysis.Progress) {
		if bar == nil || p.Stage != stage {
			if p.Capped {
				bar = progress.NewCapped(prog, p.Stage, p.Total)
			} else {
				bar = progress.New(prog, p.Stage, p.Total)
			}
			stage, done = p.Stage, 0
		}
		if !p.Final {
			bar.Add(p.Done-done, p.Status)
			done = p.Done
			return
		}
		if p.Done != done {
			bar.Add(p.Done-done, "")
		}
		bar.Finish(p.Status)
		bar = nil
	}
}

// loaded is a loaded and validated model with its data.
type loaded[T tensor.Float] struct {
	*analysisSetup
	net    *models.Net[T]
	chunks *hessian.Float32Data[T]
}

// loadAnalysis builds the model in T and validates it against the data:
// on several ranks each checks that the loss of its own shard is finite
// (a rank that fails aborts the job), not every rank the whole dataset.
func loadAnalysis[T tensor.Float](e *env, a *analysisFlags, s *analysisSetup) (*loaded[T], error) {
	classes := a.classes
	if classes == 0 && a.weights == "" {
		classes = max(s.d.Classes, 10)
	}
	net, _, err := experiment.LoadModel[T](experiment.ModelSpec{Name: s.model, Weights: a.weights, Classes: classes, Activation: s.activation, Seed: a.seed})
	if err != nil {
		return nil, err
	}
	if err := experiment.CheckWeights(net); err != nil {
		return nil, err
	}
	if err := experiment.CheckData(s.d, net); err != nil {
		return nil, err
	}
	_, shard := a.distribute(e, s)
	if err := checkFinite(net, shard, a.chunk, a.chunkWorkers(shard.N), a.weights, a.precision, true); err != nil {
		return nil, err
	}
	d := s.d
	return &loaded[T]{analysisSetup: s, net: net, chunks: hessian.NewFloat32Data[T](d.X, d.Y, [3]int{d.C, d.H, d.W}, a.chunk)}, nil
}

// chunkWorkers is the number of evaluators that work through n images in
// chunks at once: -workers (0: 1), at most one per chunk.
func (a *analysisFlags) chunkWorkers(n int) int {
	return min(max(a.workers, 1), (n+a.chunk-1)/a.chunk)
}

// taskWorkers is the number of evaluators that work through tasks (grid
// points, sub-batches) at once: -workers (0: GOMAXPROCS), at most one per
// task.
func (a *analysisFlags) taskWorkers(tasks int) int {
	w := a.workers
	if w == 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return max(1, min(w, tasks))
}

// distribute returns the backend of the analysis and this rank's images:
// for one process the CPU engine and all of s.d; on several ranks (a build
// with -tags mpi started by mpirun or srun) the Sharded backend and this
// rank's shard of whole chunks of -batch-size images. Every rank computes;
// rank 0 alone prints and writes (see runIn and root).
func (a *analysisFlags) distribute(e *env, s *analysisSetup) (analysis.Backend, *data.Dataset) {
	if e.comm == nil || e.comm.Size() == 1 {
		return nil, s.d
	}
	return analysis.Sharded{Comm: e.comm}, analysis.ShardOf(s.d, a.chunk, e.comm)
}

// firstImages checks, on several ranks, that the first n images an option
// names (flag) are all in rank 0's shard, which holds the dataset's first
// images and computes the per-image work rank 0 reports.
func (a *analysisFlags) firstImages(e *env, s *analysisSetup, flag string, n int) error {
	if e.comm == nil || e.comm.Size() == 1 || n == 0 {
		return nil
	}
	if have := analysis.ShardOf(s.d, a.chunk, rank0Of(e.comm)).N; n > have {
		return usagef("%s %d: on %d ranks rank 0 holds the first %d images, and per-image work runs there; ask for at most %d or use fewer ranks", flag, n, e.comm.Size(), have, have)
	}
	return nil
}

// rank0Of is the view of c from its rank 0, for computing rank 0's shard.
func rank0Of(c dist.Comm) dist.Comm { return rank0{c} }

type rank0 struct{ dist.Comm }

func (rank0) Rank() int { return 0 }

// root says whether this rank prints and writes the results.
func root(e *env) bool { return dist.IsRoot(e.comm) }

// normName describes the normalisation applied to the data, for the record.
func normName(n *data.Norm) string {
	if n == nil {
		return "none (pixels in [0, 1])"
	}
	return fmt.Sprintf("per channel (x - mean) / std, mean %v, std %v", n.Mean, n.Std)
}

// outPath is the path of a file named name in the -out folder, creating the
// folder if needed; "" when there is no -out.
func (a *analysisFlags) outPath(name string) (string, error) {
	if a.out == "" {
		return "", nil
	}
	if err := os.MkdirAll(a.out, 0o755); err != nil {
		return "", fmt.Errorf("-out %s: %w", a.out, err)
	}
	return filepath.Join(a.out, name), nil
}

// checkPlotPath checks a -plot file name before any work starts.
func checkPlotPath(flagName, path string) error {
	if path == "" {
		return nil
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".png" && ext != ".svg" {
		return usagef("%s %s: want a .png or .svg file", flagName, path)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return usagef("%s %s: folder %s does not exist", flagName, path, filepath.Dir(path))
	}
	return nil
}

// finish delivers an analysis result: written atomically as name in the -out
// folder (its path added to *files first, so that the file lists itself),
// printed as JSON on standard output with -json, and otherwise as the table
// print writes; the warnings (the source flags' first) are added to
// *warnings and go to standard error in either mode.
func (a *analysisFlags) finish(e *env, name string, res any, files, warnings *[]string, print func(io.Writer)) error {
	*warnings = append(slices.Clone(a.warnings), *warnings...)
	path, err := a.outPath(name)
	if err != nil {
		return err
	}
	written := slices.Clone(*files)
	if path != "" {
		*files = append(*files, path)
	}
	if err := writeResult(e.stdout, a.json, path, res); err != nil {
		return abandon(written, err)
	}
	if err := a.removeStale(*files); err != nil {
		return err
	}
	if !a.json {
		print(e.stdout)
	}
	printWarnings(e.stderr, *warnings)
	return nil
}

// printWarnings writes one "warning: ..." line per warning: on standard
// error, so that standard output holds only the result.
func printWarnings(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

// writeResult prints v as indented JSON to w when asJSON, and writes it to
// path (if not empty) atomically.
func writeResult(w io.Writer, asJSON bool, path string, v any) error {
	b, err := jsonResult(v)
	if err != nil {
		return err
	}
	if path != "" {
		if err := checkpoint.WriteFileAtomic(path, func(f io.Writer) error {
			_, err := f.Write(b)
			return err
		}); err != nil {
			return err
		}
	}
	if asJSON {
		_, err = w.Write(b)
	}
	return err
}

// checkFinite refuses weights whose mean loss on d (or, with grad, whose
// gradient) is not finite: every analysis of them — an attack's gradient
// steps, a Hessian's spectrum, a landscape, a sharpness — would be NaN
// and silently wrong. weights names the file ("" for a fresh
// initialisation); d is the data as the model sees it (normalised).
func checkFinite[T tensor.Float](net *models.Net[T], d *data.Dataset, chunk, workers int, weights, precision string, grad bool) error {
	if d.N == 0 {
		return nil
	}
	what := weights
	if what == "" {
		what = "the initialised weights (-model, -seed)"
	}
	op := hessian.NewParams[T](net, hessian.NewFloat32Data[T](d.X, d.Y, [3]int{d.C, d.H, d.W}, min(chunk, d.N)), nn.Eval, nil)
	op.Workers = max(1, workers)
	loss, g := op.Gradient()
	if !finite(loss) {
		return fmt.Errorf("%s: the loss on %s (%d images) is %v, not a finite number, in %s arithmetic: want weights whose loss is finite", what, d.Name, d.N, loss, precision)
	}
	if grad {
		for _, v := range g {
			if !finite(v) {
				return fmt.Errorf("%s: the gradient of the loss on %s (%d images) has a component %v, not a finite number, in %s arithmetic: want weights whose gradient is finite", what, d.Name, d.N, v, precision)
			}
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// jsonResult is v as indented JSON. A value JSON cannot hold (NaN, ±Inf)
// is an error saying so, not encoding/json's bare "unsupported value".
func jsonResult(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if uv := (*json.UnsupportedValueError)(nil); errors.As(err, &uv) {
		return nil, fmt.Errorf("the result holds %s, not a finite number: a loss or curvature overflowed (nothing was written)", uv.Str)
	}
	return append(b, '\n'), err
}

// output is a file a command may write, and the flag that names it.
type output struct{ flag, path string }

// checkOutputs refuses, before any work, an output that would replace one
// of the inputs (the same file, whatever the spelling of its path: a
// link, "./", another folder path), and one that exists but is not a
// regular file. An output that does not exist yet is fine.
func checkOutputs(inputs []string, outputs ...output) error {
	for _, out := range outputs {
		if out.path == "" {
			continue
		}
		ost, err := os.Stat(out.path)
		if err != nil {
			continue
		}
		for _, in := range inputs {
			if in == "" {
				continue
			}
			if ist, err := os.Stat(in); err == nil && os.SameFile(ist, ost) {
				return usagef("%s %s: is the input %s: an output must never replace an input", out.flag, out.path, in)
			}
		}
		if !ost.Mode().IsRegular() {
			return usagef("%s %s: exists and is not a regular file", out.flag, out.path)
		}
	}
	return nil
}

// inputs are the files the source flags read: -weights and a -dataset
// file.
func (s *sourceFlags) inputs() []string {
	in := []string{s.weights}
	if s.dataset != "" && !slices.Contains(data.Names(), s.dataset) {
		in = append(in, s.dataset)
	}
	return in
}

// checkOut checks -out before any work: a folder (or nothing yet), none
// of whose files that the command may write (names) is an input.
func (a *analysisFlags) checkOut(names ...string) error {
	if a.out == "" {
		return nil
	}
	a.owned = names
	if st, err := os.Stat(a.out); err == nil && !st.IsDir() {
		return usagef("-out %s: exists and is not a folder", a.out)
	}
	var outs []output
	for _, n := range names {
		outs = append(outs, output{"-out", filepath.Join(a.out, n)})
	}
	return checkOutputs(a.inputs(), outs...)
}

// notUsed names flags that a mode of a command does not use: when the
// mode is chosen (when), giving one of them explicitly is refused in one
// line naming the flag and the mode (mode, as written: "with -method
// fgsm", "without -density"), instead of the flag being silently ignored.
type notUsed struct {
	when  bool
	mode  string
	flags []string
}

// checkUnused refuses a flag given explicitly on the command line
// (givenFlags) that a rule says the chosen mode does not use.
func checkUnused(fs *flag.FlagSet, rules ...notUsed) error {
	set := givenFlags(fs)
	for _, r := range rules {
		if !r.when {
			continue
		}
		for _, f := range r.flags {
			if set[f] {
				return usagef("-%s is not used %s: drop it", f, r.mode)
			}
		}
	}
	return nil
}

// givenFlags is the set of the flags given explicitly on the command line
// (flag.FlagSet.Visit), by name.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// removeStale removes from -out the files of the command that this run did
// not write (written): a previous run's density plot must not sit beside
// a new spectrum.json as if it were its own.
func (a *analysisFlags) removeStale(written []string) error {
	if a.out == "" {
		return nil
	}
	for _, name := range a.owned {
		p := filepath.Join(a.out, name)
		if slices.ContainsFunc(written, func(w string) bool { return filepath.Clean(w) == p }) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("-out %s: removing the previous run's %s: %w", a.out, name, err)
		}
	}
	return nil
}

// abandon removes the files a failed run has written (its CSV and plots,
// written before its JSON result) and returns err: a run that fails
// leaves no part of its outputs.
func abandon(written []string, err error) error {
	for _, f := range written {
		os.Remove(f)
	}
	return err
}
