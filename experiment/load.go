// Package experiment holds what the commands share: loading a model with its
// weights and a dataset with validation before any work starts, saving
// results atomically, and the study pipelines built on train and analysis
// (a sweep's measurements, Measure, are calls of package analysis with
// options chosen here).
package experiment

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"hesscope/checkpoint"
	"hesscope/data"
	"hesscope/models"
	"hesscope/tensor"
)

// ModelSpec names a model and where its weights come from.
type ModelSpec struct {
	Name       string // a model of the zoo
	Weights    string // a safetensors file; empty: fresh initialisation from Seed
	Classes    int    // 0: from the weights, or the dataset, or 10
	Activation string // "" or "relu"; "tanh" or "softplus" for smooth variants
	Seed       uint64
}

// LoadModel builds the model of spec in precision T and loads its weights.
// The number of classes comes from spec, else from the weights file (its
// last layer), else 10.
func LoadModel[T tensor.Float](spec ModelSpec) (*models.Net[T], map[string]string, error) {
	var f *checkpoint.File
	if spec.Weights != "" {
		var err error
		if f, err = checkpoint.ReadFile(spec.Weights); err != nil {
			return nil, nil, err
		}
		if spec.Classes == 0 {
			spec.Classes = classesOf(f)
		}
	}
	net, err := models.New[T](spec.Name, models.Config{Classes: spec.Classes, Activation: spec.Activation, Seed: spec.Seed})
	if err != nil {
		return nil, nil, err
	}
	if f == nil {
		return net, nil, nil
	}
	if err := checkpoint.LoadInto(f, StateDict(net)); err != nil {
		var ve *checkpoint.ValueError
		if errors.As(err, &ve) { // the right tensors, unusable values
			ve.Path = spec.Weights
			return nil, nil, ve
		}
		return nil, nil, fmt.Errorf("%s is not a %s checkpoint: %w", spec.Weights, spec.Name, err)
	}
	if m := f.Metadata["model"]; m != "" && m != spec.Name {
		return nil, nil, fmt.Errorf("%s holds a %s model, not %s", spec.Weights, m, spec.Name)
	}
	return net, f.Metadata, nil
}

// classesOf reads the number of classes from the bias of the last layer of
// a state dict (fc, fc3 or fc2 in the zoo's names), 0 if it has none.
func classesOf(f *checkpoint.File) int {
	for _, name := range []string{"fc.bias", "fc3.bias", "fc2.bias"} {
		if t, ok := f.Tensors[name]; ok {
			if len(t.Shape) != 1 {
				return 0
			}
			return t.Shape[0]
		}
	}
	return 0
}

// StateDict lists the model's tensors under their PyTorch names.
func StateDict[T tensor.Float](net *models.Net[T]) []checkpoint.Named[T] {
	var out []checkpoint.Named[T]
	for _, p := range net.Params() {
		out = append(out, checkpoint.Named[T]{Name: p.Name, Value: p.Value})
	}
	return out
}

// SaveModel writes the model's state dict as float32 safetensors (the dtype
// of PyTorch models), atomically, with the model name and any metadata.
func SaveModel[T tensor.Float](path string, net *models.Net[T], meta map[string]string) error {
	md := map[string]string{"model": net.Name, "classes": fmt.Sprint(net.Classes), "format": "pt", "normalization": "none (pixels in [0, 1])"}
	for k, v := range meta {
		md[k] = v
	}
	f := checkpoint.FromStateDictAs(checkpoint.F32, StateDict(net), md)
	// PyTorch's BatchNorm2d also keeps num_batches_tracked (unused with a
	// momentum); load_state_dict(strict=True) wants it present.
	for _, p := range net.Params() {
		if prefix, ok := strings.CutSuffix(p.Name, ".running_mean"); ok {
			f.Tensors[prefix+".num_batches_tracked"] = &checkpoint.Tensor{DType: checkpoint.I64, Shape: []int{}, I64: []int64{0}}
		}
	}
	return checkpoint.WriteFile(path, f)
}

// DataSpec names a dataset: a name Load knows, or a safetensors file holding
// x [N,C,H,W] float32 in [0, 1] and y [N] int64.
type DataSpec struct {
	Name     string
	Split    string // "train" or "test"
	Samples  int    // the first Samples images; 0 or negative: all
	Dir      string // --data-dir
	Progress io.Writer
}

// LoadData reads the data of spec.
func LoadData(spec DataSpec) (*data.Dataset, error) {
	var d *data.Dataset
	var err error
	if strings.HasSuffix(spec.Name, ".safetensors") {
		d, err = loadTensorFile(spec.Name)
	} else {
		split := spec.Split
		if split == "" {
			split = "test"
		}
		d, err = data.Load(spec.Name, split, data.Options{Dir: spec.Dir, Progress: spec.Progress})
	}
	if err != nil {
		return nil, err
	}
	if spec.Samples > 0 {
		if spec.Samples > d.N {
			return nil, fmt.Errorf("-samples %d: %s has only %d images", spec.Samples, spec.Name, d.N)
		}
		d = d.Subset(spec.Samples)
	}
	return d, nil
}

func loadTensorFile(path string) (*data.Dataset, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	xt, ok := f.Tensors["x"]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor named x (want x [N,C,H,W] float32 and y [N] int64)", path)
	}
	yt, ok := f.Tensors["y"]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor named y (want y [N] int64)", path)
	}
	if len(xt.Shape) != 4 {
		return nil, fmt.Errorf("%s: x has shape %s, want [N, C, H, W]", path, tensor.ShapeString(xt.Shape))
	}
	if yt.DType != checkpoint.I64 || len(yt.Shape) != 1 || yt.Shape[0] != xt.Shape[0] {
		return nil, fmt.Errorf("%s: y is %s %s, want I64 [%d]", path, yt.DType, tensor.ShapeString(yt.Shape), xt.Shape[0])
	}
	x, err := checkpoint.ToDense[float32](xt)
	if err != nil {
		return nil, fmt.Errorf("%s: x: %w", path, err)
	}
	d := &data.Dataset{Name: filepath.Base(path), X: x.Data, N: xt.Shape[0], C: xt.Shape[1], H: xt.Shape[2], W: xt.Shape[3]}
	d.Y = make([]int, len(yt.I64))
	for i, v := range yt.I64 {
		if v < 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("%s: label y[%d] = %d is negative or too large", path, i, v)
		}
		d.Y[i] = int(v)
		d.Classes = max(d.Classes, int(v)+1)
	}
	return d, nil
}

// CheckData validates d against the model before any work starts: the image
// shape, labels in [0, classes), and finite pixel values.
func CheckData[T tensor.Float](d *data.Dataset, net *models.Net[T]) error {
	if d.N == 0 {
		return fmt.Errorf("%s: no images", d.Name)
	}
	if err := net.CheckInput([]int{d.N, d.C, d.H, d.W}); err != nil {
		return fmt.Errorf("%s: images are %d×%d×%d but %w", d.Name, d.C, d.H, d.W, err)
	}
	for i, y := range d.Y {
		if y < 0 || y >= net.Classes {
			return fmt.Errorf("%s: label %d of image %d is outside [0, %d) for a %d-class %s", d.Name, y, i, net.Classes, net.Classes, net.Name)
		}
	}
	if i := tensor.Finite(d.X); i >= 0 {
		return fmt.Errorf("%s: image %d has a non-finite pixel (%v)", d.Name, i/(d.C*d.H*d.W), d.X[i])
	}
	return nil
}

// CheckWeights returns an error naming the first parameter with a NaN or Inf.
func CheckWeights[T tensor.Float](net *models.Net[T]) error {
	for _, p := range net.Params() {
		if i := tensor.Finite(p.Value.Data); i >= 0 {
			return fmt.Errorf("weights: %s has a non-finite value at %d", p.Name, i)
		}
	}
	return nil
}
