package attack

import (
	"fmt"
	"strconv"

	"hesscope/checkpoint"
	"hesscope/tensor"
)

// SaveExamples writes the adversarial examples of out (which Run must have
// kept, Options.Keep) to path as a safetensors file, atomically:
//
//	x           F32 [N,C,H,W]  the adversarial examples (clean images for
//	                           samples not attacked)
//	y           I64 [N]        the true labels
//	pred        I64 [N]        the predictions on x
//	clean_pred  I64 [N]        the predictions on the clean images
//	x_clean     F32 [N,C,H,W]  the clean images (when clean is not nil)
//
// with the attack's settings, and meta, as metadata. The file is a dataset
// for any command that reads x and y (-data FILE).
func SaveExamples[T tensor.Float](path string, out *Outcome[T], clean *tensor.Dense[T], meta map[string]string) error {
	if out.Adv == nil {
		return fmt.Errorf("attack: %s: the outcome holds no examples (run with Options.Keep)", path)
	}
	ints := func(v []int) *checkpoint.Tensor {
		t := &checkpoint.Tensor{DType: checkpoint.I64, Shape: []int{len(v)}, I64: make([]int64, len(v))}
		for i, x := range v {
			t.I64[i] = int64(x)
		}
		return t
	}
	c := out.Config
	md := map[string]string{
		"method": c.Method.String(), "norm": c.Norm.String(), "eps": strconv.FormatFloat(c.Eps, 'g', -1, 64),
		"steps": strconv.Itoa(c.Steps), "step_size": strconv.FormatFloat(c.StepSize, 'g', -1, 64),
		"random_start": strconv.FormatBool(c.RandomStart), "restarts": strconv.Itoa(c.Restarts),
		"seed": strconv.FormatUint(c.Seed, 10), "range": "[0, 1]",
	}
	if c.Method == DeepFool {
		md["overshoot"] = strconv.FormatFloat(c.Overshoot, 'g', -1, 64)
		md["candidates"] = strconv.Itoa(c.Candidates)
		delete(md, "eps")
		delete(md, "step_size")
		delete(md, "random_start")
		delete(md, "restarts")
	}
	for k, v := range meta {
		md[k] = v
	}
	f := &checkpoint.File{Metadata: md, Tensors: map[string]*checkpoint.Tensor{
		"x":          checkpoint.FromDense(checkpoint.F32, out.Adv),
		"y":          ints(out.Labels),
		"pred":       ints(out.Pred),
		"clean_pred": ints(out.Clean),
	}}
	if clean != nil {
		f.Tensors["x_clean"] = checkpoint.FromDense(checkpoint.F32, clean)
	}
	return checkpoint.WriteFile(path, f)
}
