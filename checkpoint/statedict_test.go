package checkpoint

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"hesscope/tensor"
)

// model returns a small state dict: a linear layer and a BatchNorm's
// running statistics, all filled with fill.
func model[T tensor.Float](fill T) []Named[T] {
	named := []Named[T]{
		{"fc.weight", tensor.New[T](2, 3)},
		{"fc.bias", tensor.New[T](2)},
		{"bn.running_mean", tensor.New[T](2)},
	}
	for _, nv := range named {
		for i := range nv.Value.Data {
			nv.Value.Data[i] = fill
		}
	}
	return named
}

func TestFromStateDictLoadInto(t *testing.T) {
	src := model[float64](0)
	for i := range src[0].Value.Data {
		src[0].Value.Data[i] = float64(i) + 0.1 // 0.1 is not a float32
	}
	f64 := FromStateDict(src, map[string]string{"epoch": "3"})
	f32 := FromStateDictAs(F32, src, nil)
	if f64.Tensors["fc.weight"].DType != F64 || f32.Tensors["fc.weight"].DType != F32 {
		t.Fatalf("dtypes %s and %s, want F64 and F32", f64.Tensors["fc.weight"].DType, f32.Tensors["fc.weight"].DType)
	}
	if f := FromStateDict(model[float32](1), nil); f.Tensors["fc.bias"].DType != F32 {
		t.Errorf("float32 state dict stored as %s, want F32", f.Tensors["fc.bias"].DType)
	}
	src[0].Value.Data[0] = -1 // the File holds a copy
	if got := f64.Tensors["fc.weight"].F64[0]; got != 0.1 {
		t.Errorf("File aliases the model: fc.weight[0] = %v", got)
	}
	if f64.Metadata["epoch"] != "3" {
		t.Errorf("metadata %v", f64.Metadata)
	}

	dst := model[float64](math.NaN())
	if err := LoadInto(f64, dst); err != nil {
		t.Fatal(err)
	}
	if got := dst[0].Value.Data[1]; got != 1.1 {
		t.Errorf("F64 into float64: fc.weight[1] = %v, want 1.1", got)
	}
	dst32 := model[float32](0)
	if err := LoadInto(f64, dst32); err != nil {
		t.Fatal(err)
	}
	if got := dst32[0].Value.Data[1]; got != float32(1.1) {
		t.Errorf("F64 into float32: fc.weight[1] = %v, want %v", got, float32(1.1))
	}
	if err := LoadInto(f32, dst); err != nil {
		t.Fatal(err)
	}
	if got := dst[0].Value.Data[1]; got != float64(float32(1.1)) {
		t.Errorf("F32 into float64: fc.weight[1] = %v, want %v", got, float64(float32(1.1)))
	}

	// BatchNorm's num_batches_tracked (I64) is ignored; other extras are not.
	f64.Tensors["bn.num_batches_tracked"] = &Tensor{DType: I64, Shape: []int{}, I64: []int64{100}}
	if err := LoadInto(f64, dst); err != nil {
		t.Errorf("with num_batches_tracked: %v", err)
	}
}

func TestLoadIntoErrors(t *testing.T) {
	base := func() *File { return FromStateDict(model[float32](1), nil) }
	scalar := func(dt DType, v float64) *Tensor {
		t := &Tensor{DType: dt, Shape: []int{}}
		switch dt {
		case F32:
			t.F32 = []float32{float32(v)}
		case F64:
			t.F64 = []float64{v}
		case I64:
			t.I64 = []int64{int64(v)}
		}
		return t
	}
	cases := []struct {
		name   string
		change func(f *File)
		want   string
	}{
		{"missing", func(f *File) { delete(f.Tensors, "fc.bias"); delete(f.Tensors, "bn.running_mean") },
			`cannot load state dict: missing tensors "fc.bias", "bn.running_mean"`},
		{"unexpected", func(f *File) { f.Tensors["fc2.weight"] = scalar(F32, 1); f.Tensors["a"] = scalar(F64, 1) },
			`cannot load state dict: unexpected tensors "a", "fc2.weight"`},
		{"missing and unexpected", func(f *File) {
			f.Tensors["fc.Weight"] = f.Tensors["fc.weight"]
			delete(f.Tensors, "fc.weight")
		}, `missing tensors "fc.weight"; unexpected tensors "fc.Weight"`},
		{"num_batches_tracked not I64", func(f *File) { f.Tensors["bn.num_batches_tracked"] = scalar(F32, 0) },
			`unexpected tensors "bn.num_batches_tracked"`},
		{"shape", func(f *File) { f.Tensors["fc.weight"].Shape = []int{3, 2} },
			`tensor "fc.weight": shape [3, 2] in file, [2, 3] expected`},
		{"rank", func(f *File) { f.Tensors["fc.bias"].Shape = []int{1, 2} },
			`tensor "fc.bias": shape [1, 2] in file, [2] expected`},
		{"dtype", func(f *File) { f.Tensors["fc.bias"] = &Tensor{DType: I64, Shape: []int{2}, I64: []int64{1, 2}} },
			`tensor "fc.bias": dtype I64, want F32 or F64`},
		{"NaN", func(f *File) { f.Tensors["fc.bias"].F32[1] = float32(math.NaN()) },
			`holds NaN at index 1 in tensor "fc.bias"`},
		{"Inf", func(f *File) { f.Tensors["fc.weight"].F32[4] = float32(math.Inf(-1)) },
			`holds -Inf at index 4 in tensor "fc.weight"`},
		{"overflow", func(f *File) { f.Tensors["fc.bias"] = &Tensor{DType: F64, Shape: []int{2}, F64: []float64{0, 1e300}} },
			`holds value 1e+300 at index 1 (overflows float32) in tensor "fc.bias"`},
		{"length", func(f *File) { f.Tensors["fc.bias"].F32 = f.Tensors["fc.bias"].F32[:1] },
			`tensor "fc.bias": 1 values for shape [2]`},
		{"several", func(f *File) {
			f.Tensors["fc.bias"].F32[0] = float32(math.NaN())
			f.Tensors["fc.weight"].Shape = []int{6}
		}, `cannot load state dict: tensor "fc.weight": shape [6] in file, [2, 3] expected; tensor "fc.bias": NaN at index 0`},
		{"many", func(f *File) {
			for i := range 13 {
				f.Tensors[fmt.Sprintf("extra%02d", i)] = scalar(F32, 0)
			}
		}, `"extra08", "extra09" (and 3 more)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			c.change(f)
			dst := model[float32](7)
			err := LoadInto(f, dst)
			prefix := "checkpoint: cannot load state dict: "
			if strings.HasPrefix(c.want, "holds ") {
				prefix = "checkpoint: holds " // values only: a *ValueError
				if !errors.As(err, new(*ValueError)) {
					t.Errorf("%v is not a *ValueError", err)
				}
			}
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %s", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has more than one line: %q", err)
			}
			for _, nv := range dst {
				if slices.ContainsFunc(nv.Value.Data, func(v float32) bool { return v != 7 }) {
					t.Errorf("failed LoadInto changed %s", nv.Name)
				}
			}
		})
	}
}

func TestToDense(t *testing.T) {
	d, err := ToDense[float64](&Tensor{DType: F32, Shape: []int{2, 1}, F32: []float32{1.5, -2}})
	if err != nil || !slices.Equal(d.Shape, []int{2, 1}) || !slices.Equal(d.Data, []float64{1.5, -2}) {
		t.Errorf("ToDense = %v, %v", d, err)
	}
	if _, err := ToDense[float32](&Tensor{DType: I64, Shape: []int{1}, I64: []int64{1}}); err == nil || !strings.Contains(err.Error(), "dtype I64 is not F32 or F64") {
		t.Errorf("I64: got %v", err)
	}
	if _, err := ToDense[float32](&Tensor{DType: F64, Shape: []int{3}, F64: []float64{1}}); err == nil || !strings.Contains(err.Error(), "1 F64 elements do not fit shape [3]") {
		t.Errorf("short: got %v", err)
	}
	back := FromDense(F64, d)
	if back.DType != F64 || !slices.Equal(back.F64, []float64{1.5, -2}) || back.F32 != nil {
		t.Errorf("FromDense = %+v", back)
	}
}

func TestStateDictPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	dup := []Named[float32]{{"a", tensor.New[float32](1)}, {"a", tensor.New[float32](1)}}
	mustPanic("FromStateDict with duplicate names", func() { FromStateDict(dup, nil) })
	mustPanic("LoadInto with duplicate names", func() { LoadInto(&File{}, dup) })
	mustPanic("LoadInto with nil Value", func() { LoadInto(&File{}, []Named[float32]{{"a", nil}}) })
	mustPanic("FromStateDictAs I64", func() { FromStateDictAs(I64, model[float32](0), nil) })
}
