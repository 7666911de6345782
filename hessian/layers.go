package hessian

import (
	"fmt"
	"strings"

	"hesscope/nn"
	"hesscope/tensor"
)

// Layer is a module's trainable parameter tensors: those whose names share
// the prefix Name before the last dot (conv1 for conv1.weight and
// conv1.bias, layer1.0.bn1 for layer1.0.bn1.weight and .bias).
type Layer[T tensor.Float] struct {
	Name   string
	Params []*nn.Param[T]
}

// Layers groups the trainable parameters of ps by module, in state_dict
// order: the blocks of a per-layer (block-diagonal) Hessian analysis.
func Layers[T tensor.Float](ps []*nn.Param[T]) []Layer[T] {
	var out []Layer[T]
	for _, p := range nn.Trainable(ps) {
		name := p.Name
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[:i]
		}
		if len(out) > 0 && out[len(out)-1].Name == name {
			out[len(out)-1].Params = append(out[len(out)-1].Params, p)
			continue
		}
		out = append(out, Layer[T]{Name: name, Params: []*nn.Param[T]{p}})
	}
	return out
}

// Select returns the trainable parameters of ps that spec names, in
// state_dict order, each once: spec is a comma-separated list of items, each
// a full tensor name (fc1.weight) or a module prefix that selects every
// tensor under it (conv1 selects conv1.weight and conv1.bias; layer2.0
// selects every tensor of that residual block). An item that selects
// nothing, or names a buffer, is an error that lists the layers.
func Select[T tensor.Float](ps []*nn.Param[T], spec string) ([]*nn.Param[T], error) {
	trainable := nn.Trainable(ps)
	chosen := map[*nn.Param[T]]bool{}
	items := strings.Split(spec, ",")
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("hessian: empty item in parameter selection %q", spec)
		}
		found := false
		for _, p := range trainable {
			if p.Name == item || strings.HasPrefix(p.Name, item+".") {
				chosen[p] = true
				found = true
			}
		}
		if !found {
			var names []string
			for _, l := range Layers(ps) {
				names = append(names, l.Name)
			}
			return nil, fmt.Errorf("hessian: %q names no trainable parameter (layers: %s)", item, strings.Join(names, ", "))
		}
	}
	var out []*nn.Param[T]
	for _, p := range trainable {
		if chosen[p] {
			out = append(out, p)
		}
	}
	return out, nil
}
