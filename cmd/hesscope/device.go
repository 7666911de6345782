package main

import (
	"flag"

	"hesscope/analysis"
	"hesscope/hessian"
	"hesscope/models"
	"hesscope/tensor"
)

// deviceFlag registers -device, where the passes of a command run.
func deviceFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "device", "cpu", "where the passes run: cpu, or cuda (the first NVIDIA GPU; needs a binary built with -tags cuda)")
}

// engineFor returns the hessian.Engine of device for net: nil (the CPU
// engine) for cpu. A cuda device needs a build with the cuda tag, a driver
// and a GPU; without them the error is one line saying what is missing.
func engineFor[T tensor.Float](device string, net *models.Net[T]) (hessian.Engine[T], error) {
	switch device {
	case "cpu":
		return nil, nil
	case "cuda":
		return cudaEngine(net)
	default:
		return nil, usagef("-device %q: want cpu or cuda", device)
	}
}

// backendFor returns the analysis backend of device for net: nil (the CPU)
// for cpu; for cuda, the parameter Hessian and the loss run on the GPU, the
// rest (input Hessians) on the CPU.
func backendFor[T tensor.Float](device string, net *models.Net[T]) (analysis.Backend, error) {
	eng, err := engineFor(device, net)
	if err != nil || eng == nil {
		return nil, err
	}
	var p analysis.Passes
	switch e := any(eng).(type) {
	case hessian.Engine[float32]:
		p.Float32Engine = e
	case hessian.Engine[float64]:
		p.Float64Engine = e
	}
	return p, nil
}
