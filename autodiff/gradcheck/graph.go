package gradcheck

import (
	"hesscope/autodiff"
	"hesscope/tensor"
)

// Func builds a scalar computation from leaves on a tape and returns its Var.
type Func func(tp *autodiff.Tape[T], leaves []autodiff.Var) autodiff.Var

// Eval records f at x with tangents v (nil for none) and runs Backward. It
// returns the loss, the gradient and the Hessian-vector product per leaf.
func Eval(f Func, x, v []*tensor.Dense[T]) (loss float64, grad, hv []*tensor.Dense[T]) {
	tp := autodiff.NewTape[T]()
	leaves := make([]autodiff.Var, len(x))
	for i := range x {
		var d *tensor.Dense[T]
		if v != nil {
			d = v[i]
		}
		leaves[i] = tp.Leaf(x[i], d, true)
	}
	out := f(tp, leaves)
	tp.Backward(out)
	grad = make([]*tensor.Dense[T], len(x))
	hv = make([]*tensor.Dense[T], len(x))
	for i, l := range leaves {
		grad[i] = orZeros(tp.Grad(l), x[i].Shape).Clone()
		hv[i] = orZeros(tp.GradDot(l), x[i].Shape).Clone()
	}
	return tp.Value(out).Data[0], grad, hv
}

func orZeros(t *tensor.Dense[T], shape []int) *tensor.Dense[T] {
	if t == nil {
		return tensor.New[T](shape...)
	}
	return t
}

// Flatten concatenates the data of ts.
func Flatten(ts []*tensor.Dense[T]) []T {
	var out []T
	for _, t := range ts {
		out = append(out, t.Data...)
	}
	return out
}

// Unflatten splits flat into tensors shaped like ts.
func Unflatten(flat []T, like []*tensor.Dense[T]) []*tensor.Dense[T] {
	out := make([]*tensor.Dense[T], len(like))
	off := 0
	for i, t := range like {
		out[i] = tensor.FromSlice(append([]T(nil), flat[off:off+len(t.Data)]...), t.Shape...)
		off += len(t.Data)
	}
	return out
}

// DenseHessian builds the full Hessian of f at x column by column from
// Hessian-vector products with the unit vectors. It is for tiny nets.
func DenseHessian(f Func, x []*tensor.Dense[T]) [][]T {
	n := len(Flatten(x))
	h := make([][]T, n)
	for j := 0; j < n; j++ {
		e := make([]T, n)
		e[j] = 1
		_, _, hv := Eval(f, x, Unflatten(e, x))
		h[j] = Flatten(hv)
	}
	return h
}

// FDHessian builds the Hessian of f at x by central differences of the
// gradient, column by column: an independent reference for DenseHessian.
func FDHessian(f Func, x []*tensor.Dense[T]) [][]T {
	flat := Flatten(x)
	n := len(flat)
	h := make([][]T, n)
	for j := 0; j < n; j++ {
		p := append([]T(nil), flat...)
		m := append([]T(nil), flat...)
		p[j] += Step
		m[j] -= Step
		_, gp, _ := Eval(f, Unflatten(p, x), nil)
		_, gm, _ := Eval(f, Unflatten(m, x), nil)
		a, b := Flatten(gp), Flatten(gm)
		h[j] = make([]T, n)
		for i := range a {
			h[j][i] = (a[i] - b[i]) / (2 * Step)
		}
	}
	return h
}
