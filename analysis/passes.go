package analysis

import (
	"hesscope/hessian"
	"hesscope/nn"
	"hesscope/tensor"
)

// Passes is a Backend whose parameter Hessians and objectives — the
// operators and loss evaluations over a dataset — run their passes on
// other hessian.Engines, one per precision (nil: the backend has none):
// a GPU evaluator (package cuda, in a build with the cuda tag) plugs in
// here. It keeps the CPU engine's chunk streaming, weighting and ordered
// reduction, so the guarantees of Backend hold if the passes' do. The
// Gauss-Newton matrix, the input Hessian and loss grids run on the CPU
// engine.
type Passes struct {
	Float32Engine hessian.Engine[float32]
	Float64Engine hessian.Engine[float64]
}

// Float32 returns the float32 engine, or nil.
func (p Passes) Float32() Engine[float32] {
	if p.Float32Engine == nil {
		return nil
	}
	return passEngine[float32]{eng: p.Float32Engine}
}

// Float64 returns the float64 engine, or nil.
func (p Passes) Float64() Engine[float64] {
	if p.Float64Engine == nil {
		return nil
	}
	return passEngine[float64]{eng: p.Float64Engine}
}

// passEngine is the CPU engine with Params and Objective on eng.
type passEngine[T tensor.Float] struct {
	cpuEngine[T]
	eng hessian.Engine[T]
}

func (p passEngine[T]) Params(s Source[T], params []*nn.Param[T]) ParamOperator {
	h := hessian.NewParams(s.Model, s.Data, s.Mode, params)
	h.Workers, h.Engine = s.Workers, p.eng
	return h
}

func (p passEngine[T]) Objective(s Source[T]) Objective {
	o := hessian.NewObjective(s.Model, s.Data, s.Mode)
	o.Workers, o.Engine = s.Workers, p.eng
	return cpuObjective[T]{o}
}
