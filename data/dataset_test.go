package data

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// idDataset returns n images of 1×1×2 whose values and labels are their
// index: image i is [i, -i] with label i.
func idDataset(n int) *Dataset {
	d := &Dataset{Name: "ids", N: n, C: 1, H: 1, W: 2, Classes: n, X: make([]float32, 2*n), Y: make([]int, n)}
	for i := range n {
		d.X[2*i], d.X[2*i+1], d.Y[i] = float32(i), -float32(i), i
	}
	return d
}

// panics reports whether f panics with a message containing want.
func panics(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if s, _ := r.(string); r == nil || !strings.Contains(s, want) {
			t.Errorf("panic %v, want one containing %q", r, want)
		}
	}()
	f()
}

func TestSampleBatch(t *testing.T) {
	d := idDataset(5)
	x, y := d.Sample(3)
	if !slices.Equal(x, []float32{3, -3}) || y != 3 || cap(x) != 2 {
		t.Errorf("Sample(3) = %v (cap %d), %d", x, cap(x), y)
	}
	dstX, dstY := make([]float32, 6), make([]int, 3)
	d.BatchTo(dstX, dstY, []int{4, 0, 4})
	if !slices.Equal(dstX, []float32{4, -4, 0, 0, 4, -4}) || !slices.Equal(dstY, []int{4, 0, 4}) {
		t.Errorf("BatchTo: %v %v", dstX, dstY)
	}
	d.BatchTo(dstX[:2], nil, []int{1})
	if dstX[0] != 1 {
		t.Errorf("BatchTo without labels: %v", dstX)
	}
	panics(t, "dstX has 6 values, want 2 images × 2", func() { d.BatchTo(dstX, nil, []int{1, 2}) })
	panics(t, "dstY has 3 labels, want 2", func() { d.BatchTo(dstX[:4], dstY, []int{1, 2}) })
	panics(t, "index 5 out of range [0, 5)", func() { d.BatchTo(dstX[:2], nil, []int{5}) })
	if tt := d.Tensor(); !slices.Equal(tt.Shape, []int{5, 1, 1, 2}) || &tt.Data[0] != &d.X[0] {
		t.Errorf("Tensor shape %v", tt.Shape)
	}
}

func TestSubsetSelect(t *testing.T) {
	d := idDataset(5)
	s := d.Subset(2)
	if s.N != 2 || !slices.Equal(s.Y, []int{0, 1}) || len(s.X) != 4 || cap(s.X) != 4 || &s.X[0] != &d.X[0] || d.N != 5 {
		t.Errorf("Subset(2): N %d Y %v X %v", s.N, s.Y, s.X)
	}
	if s := d.Subset(99); s.N != 5 || len(s.Y) != 5 {
		t.Errorf("Subset(99): N %d", s.N)
	}
	panics(t, "Subset(-1)", func() { d.Subset(-1) })
	sel := d.Select([]int{3, 1})
	if sel.N != 2 || !slices.Equal(sel.X, []float32{3, -3, 1, -1}) || !slices.Equal(sel.Y, []int{3, 1}) || sel.Name != "ids" || sel.Classes != 5 {
		t.Errorf("Select: %+v", sel)
	}
	panics(t, "data: Select: index -1 out of range [0, 5)", func() { d.Select([]int{-1}) })
	sel.X[0] = 99
	if d.X[6] != 3 {
		t.Error("Select shares memory")
	}
}

func TestSplit(t *testing.T) {
	d := idDataset(100)
	train, val := d.Split(0.2, 5)
	if train.N != 80 || val.N != 20 {
		t.Fatalf("sizes %d, %d", train.N, val.N)
	}
	all := append(append([]int(nil), train.Y...), val.Y...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("train ∪ val is not 0…99: %v", all)
		}
	}
	for _, part := range []*Dataset{train, val} {
		if !slices.IsSorted(part.Y) {
			t.Errorf("order not kept: %v", part.Y)
		}
		for i, y := range part.Y {
			if part.X[2*i] != float32(y) {
				t.Fatalf("image %d does not match its label %d", i, y)
			}
		}
	}
	train2, val2 := d.Split(0.2, 5)
	if !slices.Equal(val.Y, val2.Y) || !slices.Equal(train.Y, train2.Y) {
		t.Error("same seed, different split")
	}
	if _, val3 := d.Split(0.2, 6); slices.Equal(val.Y, val3.Y) {
		t.Error("different seeds, same split")
	}
	if tr, v := d.Split(0, 1); tr.N != 100 || v.N != 0 {
		t.Errorf("Split(0): %d, %d", tr.N, v.N)
	}
	if tr, v := d.Split(1, 1); tr.N != 0 || v.N != 100 {
		t.Errorf("Split(1): %d, %d", tr.N, v.N)
	}
	if _, v := d.Split(0.125, 1); v.N != 13 { // 12.5 rounds away from zero
		t.Errorf("Split(0.125): %d validation images", v.N)
	}
	panics(t, "validation fraction 1.5 outside [0, 1]", func() { d.Split(1.5, 1) })
	panics(t, "validation fraction NaN outside [0, 1]", func() { d.Split(math.NaN(), 1) })
}

func TestPermutation(t *testing.T) {
	// Golden values: the algorithm (PCG-DXSM, Lemire's bounded draw,
	// Fisher–Yates from the top) must never change, or old runs would not
	// reproduce.
	for _, tc := range []struct {
		n     int
		seed  uint64
		epoch int
		want  []int
	}{
		{10, 1, 0, []int{3, 4, 2, 0, 1, 9, 5, 7, 6, 8}},
		{10, 1, 1, []int{9, 8, 2, 6, 5, 3, 0, 4, 1, 7}},
		{10, 2, 0, []int{4, 1, 8, 6, 0, 9, 7, 2, 5, 3}},
		{1, 1, 0, []int{0}},
		{0, 1, 0, []int{}},
	} {
		if got := Permutation(tc.n, tc.seed, tc.epoch); !slices.Equal(got, tc.want) {
			t.Errorf("Permutation(%d, %d, %d) = %v, want %v", tc.n, tc.seed, tc.epoch, got, tc.want)
		}
	}
	p := Permutation(60000, 42, 3)
	if !slices.Equal(p, Permutation(60000, 42, 3)) {
		t.Error("not deterministic")
	}
	seen := make([]bool, len(p))
	for _, v := range p {
		if seen[v] {
			t.Fatalf("%d twice", v)
		}
		seen[v] = true
	}
	// Position 0 over many epochs is uniform over 10 values.
	counts := make([]int, 10)
	for e := range 20000 {
		counts[Permutation(10, 7, e)[0]]++
	}
	for v, c := range counts {
		if c < 2000-250 || c > 2000+250 { // ±5.9σ
			t.Errorf("value %d first in %d of 20000 epochs, want about 2000", v, c)
		}
	}
	panics(t, "Permutation(-1)", func() { Permutation(-1, 0, 0) })
}

func TestBounded(t *testing.T) {
	src := newPCG(1, 2)
	counts := make([]int, 9)
	for range 90000 {
		counts[bounded(src, 9)]++
	}
	for v, c := range counts {
		if c < 10000-400 || c > 10000+400 { // ±4.2σ
			t.Errorf("bounded(9) gave %d %d times in 90000, want about 10000", v, c)
		}
	}
	// n a power of two and n = 1 take the fast paths.
	for range 100 {
		if v := bounded(src, 1); v != 0 {
			t.Fatalf("bounded(1) = %d", v)
		}
		if v := bounded(src, 1<<63); v >= 1<<63 {
			t.Fatalf("bounded(2⁶³) = %d", v)
		}
	}
}
