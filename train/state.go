package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/models"
	"hesscope/tensor"
)

// The files of a run folder.
const (
	ConfigFile       = "config.json"
	MetricsJSONLFile = "metrics.jsonl"
	MetricsCSVFile   = "metrics.csv"
	StateFile        = "state.safetensors"
	ModelFile        = "model.safetensors"
	FinalFile        = "final.json"
)

// stateKey is the metadata key of state.safetensors holding the counters.
const stateKey = "hesscope.train.state"

// stateFormat is the version of the checkpoint layout.
const stateFormat = 1

// BatchNormSemantics is recorded in config.json and printed in the help.
const BatchNormSemantics = "train mode: each micro-batch (at most micro_batch images) is normalised with its own statistics, " +
	"and the running statistics are updated once per micro-batch (momentum 0.1, unbiased variance), " +
	"as PyTorch with gradient accumulation; eval mode (running statistics) for test, validation and curvature"

// state is the checkpoint beyond the tensors: where the run is.
type state struct {
	Format int `json:"format"`
	// Epoch is the number of finished epochs; EpochStep the steps done in
	// the current one; Step the steps done in all.
	Epoch     int `json:"epoch"`
	EpochStep int `json:"epoch_step"`
	Step      int `json:"step"`
	// BatchesTracked counts train-mode forward passes (micro-batches): the
	// num_batches_tracked of every BatchNorm layer.
	BatchesTracked int64 `json:"batches_tracked"`
	// Momentum says whether the momentum buffers exist (after a first step).
	Momentum bool `json:"momentum"`
	// MetricsJSONL and MetricsCSV are the lengths of the metrics files.
	MetricsJSONL int64 `json:"metrics_jsonl_bytes"`
	MetricsCSV   int64 `json:"metrics_csv_bytes"`
	// Acc accumulates the current epoch's training statistics.
	Acc epochAcc `json:"epoch_acc"`
	// Seconds is the training time of all sessions.
	Seconds float64 `json:"seconds"`
	// ABSA is the state of the "absa" schedule.
	ABSA *absaState `json:"absa,omitempty"`
	// Last is the metrics of the last finished epoch.
	Last *Metrics `json:"last,omitempty"`
	// Done is set once every epoch is finished.
	Done bool `json:"done"`
	// Config is the fingerprint of the run's settings (Config.fingerprint;
	// empty in checkpoints written before it was recorded).
	Config string `json:"config,omitempty"`
}

// epochAcc sums the statistics of the batches of an epoch.
type epochAcc struct {
	LossSum     float64 `json:"loss_sum"` // Σ images·loss
	Correct     int     `json:"correct"`
	Seen        int     `json:"seen"`
	GradNormSum float64 `json:"grad_norm_sum"`
	Steps       int     `json:"steps"`
	Seconds     float64 `json:"seconds"`
}

// RunInfo is the content of config.json.
type RunInfo struct {
	Config    Config `json:"config"`
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	// Threads is GOMAXPROCS: results are reproducible bit for bit with the
	// same seed and thread count.
	Threads int `json:"threads"`
	// Ranks is the number of data-parallel ranks (absent: one process); a
	// run resumes only on as many.
	Ranks     int    `json:"ranks,omitempty"`
	BatchNorm string `json:"batchnorm"`
	// Normalization holds the per-channel constants when Normalize is set.
	Normalization *NormInfo `json:"normalization,omitempty"`
	// The sizes the configuration came to.
	TrainImages   int     `json:"train_images"`
	ValImages     int     `json:"val_images,omitempty"`
	TestImages    int     `json:"test_images"`
	Classes       int     `json:"classes"`
	Params        int     `json:"params"`
	StepsPerEpoch int     `json:"steps_per_epoch"` // of the first epoch for "absa"
	BaseLR        float64 `json:"base_lr"`
	WarmupSteps   int     `json:"warmup_steps,omitempty"`
	Started       string  `json:"started"`
}

// NormInfo is a per-channel normalisation x′ = (x − Mean)/Std.
type NormInfo struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// ReadRunInfo reads the config.json of a run folder.
func ReadRunInfo(dir string) (*RunInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var ri RunInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		return nil, fmt.Errorf("train: %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return &ri, nil
}

// writeJSON writes v as indented JSON to path, atomically.
func writeJSON(path string, v any) error {
	if err := hook(path); err != nil {
		return err
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// writeHook, when not nil, is called before every write to a run folder;
// an error stops the run there, as a kill would. Tests use it.
var writeHook func(path string) error

func hook(path string) error {
	if writeHook != nil {
		return writeHook(path)
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("train: %w", err)
}

// saveState writes state.safetensors: every tensor of the state dict in the
// run's precision under "param.<name>", the momentum buffers under
// "momentum.<name>", and st as JSON metadata.
func saveState[T tensor.Float](path string, net *models.Net[T], sgd *SGD[T], st *state) error {
	var named []checkpoint.Named[T]
	for _, p := range net.Params() {
		named = append(named, checkpoint.Named[T]{Name: "param." + p.Name, Value: p.Value})
	}
	if sgd.Buffers != nil {
		for i, p := range trainable(net) {
			named = append(named, checkpoint.Named[T]{Name: "momentum." + p.Name, Value: tensor.FromSlice(sgd.Buffers[i], p.Value.Shape...)})
		}
	}
	st.Momentum = sgd.Buffers != nil
	st.Format = stateFormat
	js, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := hook(path); err != nil {
		return err
	}
	return checkpoint.WriteFile(path, checkpoint.FromStateDict(named, map[string]string{stateKey: string(js)}))
}

// loadState reads state.safetensors into net and sgd and returns the
// counters.
func loadState[T tensor.Float](path string, net *models.Net[T], sgd *SGD[T]) (*state, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal([]byte(f.Metadata[stateKey]), &st); err != nil {
		return nil, fmt.Errorf("train: %s: no readable training state (%v)", path, err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("train: %s: checkpoint format %d, want %d", path, st.Format, stateFormat)
	}
	var want []checkpoint.Named[T]
	for _, p := range net.Params() {
		want = append(want, checkpoint.Named[T]{Name: "param." + p.Name, Value: p.Value})
	}
	sgd.Buffers = nil
	if st.Momentum {
		sgd.Buffers = make([][]T, 0)
		for _, p := range trainable(net) {
			b := make([]T, p.Value.Len())
			sgd.Buffers = append(sgd.Buffers, b)
			want = append(want, checkpoint.Named[T]{Name: "momentum." + p.Name, Value: tensor.FromSlice(b, p.Value.Shape...)})
		}
	}
	if err := checkpoint.LoadInto(f, want); err != nil {
		return nil, fmt.Errorf("train: %s does not match this run: %w", path, err)
	}
	return &st, nil
}

// writeModel writes the model's PyTorch state dict as float32 safetensors,
// num_batches_tracked included, with metadata saying how to feed it.
func writeModel[T tensor.Float](path string, net *models.Net[T], batches int64, norm *NormInfo, meta map[string]string) error {
	md := map[string]string{"model": net.Name, "classes": fmt.Sprint(net.Classes), "format": "pt",
		"normalization": "none (pixels in [0, 1])"}
	if norm != nil {
		md["normalization"] = fmt.Sprintf("per channel (x - mean) / std, mean %v, std %v", norm.Mean, norm.Std)
		m, _ := json.Marshal(norm.Mean)
		s, _ := json.Marshal(norm.Std)
		md["norm_mean"], md["norm_std"] = string(m), string(s)
	}
	for k, v := range meta {
		md[k] = v
	}
	var named []checkpoint.Named[T]
	for _, p := range net.Params() {
		named = append(named, checkpoint.Named[T]{Name: p.Name, Value: p.Value})
	}
	f := checkpoint.FromStateDictAs(checkpoint.F32, named, md)
	for _, p := range net.Params() {
		if prefix, ok := strings.CutSuffix(p.Name, ".running_mean"); ok {
			f.Tensors[prefix+".num_batches_tracked"] = &checkpoint.Tensor{DType: checkpoint.I64, Shape: []int{}, I64: []int64{batches}}
		}
	}
	if err := hook(path); err != nil {
		return err
	}
	return checkpoint.WriteFile(path, f)
}

// ModelNorm returns the normalisation recorded in the metadata of a model
// file written by a training run, or nil if it has none.
func ModelNorm(meta map[string]string) (*data.Norm, error) {
	ms, ss := meta["norm_mean"], meta["norm_std"]
	if ms == "" && ss == "" {
		// A file that says it was normalised but lost its statistics
		// would otherwise be evaluated on raw pixels.
		if d, ok := meta["normalization"]; ok && strings.HasPrefix(d, "per channel") {
			return nil, fmt.Errorf("train: model metadata: normalization %q without norm_mean and norm_std", d)
		}
		return nil, nil
	}
	var n data.Norm
	if err := json.Unmarshal([]byte(ms), &n.Mean); err != nil {
		return nil, fmt.Errorf("train: model metadata norm_mean %q: %v", ms, err)
	}
	if err := json.Unmarshal([]byte(ss), &n.Std); err != nil {
		return nil, fmt.Errorf("train: model metadata norm_std %q: %v", ss, err)
	}
	if len(n.Mean) != len(n.Std) || len(n.Mean) == 0 {
		return nil, fmt.Errorf("train: model metadata has %d means and %d standard deviations", len(n.Mean), len(n.Std))
	}
	for _, s := range n.Std {
		if !(s > 0) {
			return nil, fmt.Errorf("train: model metadata norm_std %q: want positive values", ss)
		}
	}
	return &n, nil
}
