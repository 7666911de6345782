package autodiff_test

import (
	"math"
	"slices"
	"testing"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// TestMaxPool2dTies checks PyTorch's CPU tie rule with hand-written values:
// the window is scanned row by row and a value wins only if it is greater
// (or NaN), so the first of equal maxima is selected, and the gradient goes
// to that pixel only (summed where overlapping windows select the same one).
func TestMaxPool2dTies(t *testing.T) {
	inf := math.Inf(-1)
	for _, c := range []struct {
		name                string
		kernel, stride, pad int
		x                   []T // one 4×4 (or 2×4) image, row-major
		h, w                int
		wantY               []T
		wantArgmax          []int32
		yBar, wantXBar      []T
	}{
		{
			name: "k2s2p0", kernel: 2, stride: 2, h: 4, w: 4,
			x: []T{
				1, 3, 3, 0,
				2, 3, 1, 3,
				5, 5, 0, 0,
				5, 4, 0, 0,
			},
			wantY:      []T{3, 3, 5, 0},
			wantArgmax: []int32{1, 2, 8, 10},
			yBar:       []T{1, 2, 3, 4},
			wantXBar: []T{
				0, 1, 2, 0,
				0, 0, 0, 0,
				3, 0, 4, 0,
				0, 0, 0, 0,
			},
		},
		{
			// Overlapping windows with −∞ padding; windows (0,1) and (1,1)
			// both select pixel 6, whose gradient is the sum.
			name: "k3s2p1", kernel: 3, stride: 2, pad: 1, h: 4, w: 4,
			x: []T{
				2, 1, 1, 0,
				2, 1, 3, 2,
				0, 2, 2, 1,
				1, 1, 1, 2,
			},
			wantY:      []T{2, 3, 2, 3},
			wantArgmax: []int32{0, 6, 4, 6},
			yBar:       []T{1, 10, 100, 1000},
			wantXBar: []T{
				1, 0, 0, 0,
				100, 0, 1010, 0,
				0, 0, 0, 0,
				0, 0, 0, 0,
			},
		},
		{
			// A NaN wins over any number and the last NaN is selected; a
			// window of −∞ selects its first pixel.
			name: "nan", kernel: 2, stride: 2, h: 2, w: 4,
			x: []T{
				1, math.NaN(), inf, inf,
				5, math.NaN(), inf, inf,
			},
			wantY:      []T{math.NaN(), inf},
			wantArgmax: []int32{5, 2},
			yBar:       []T{1, 2},
			wantXBar: []T{
				0, 0, 2, 0,
				0, 1, 0, 0,
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &autodiff.MaxPool2d[T]{Kernel: c.kernel, Stride: c.stride, Padding: c.pad}
			x := []*tensor.Dense[T]{tensor.FromSlice(slices.Clone(c.x), 1, 1, c.h, c.w)}
			y := tensor.New[T](p.Shape(x)...)
			p.Forward(y, x)
			for i := range c.wantY {
				if y.Data[i] != c.wantY[i] && !(math.IsNaN(y.Data[i]) && math.IsNaN(c.wantY[i])) {
					t.Errorf("y = %v, want %v", y.Data, c.wantY)
					break
				}
			}
			if !slices.Equal(p.Argmax(), c.wantArgmax) {
				t.Errorf("argmax = %v, want %v", p.Argmax(), c.wantArgmax)
			}
			xBar := tensor.New[T](x[0].Shape...)
			p.VJP([]*tensor.Dense[T]{xBar}, tensor.FromSlice(slices.Clone(c.yBar), y.Shape...), x, y)
			if !slices.Equal(xBar.Data, c.wantXBar) {
				t.Errorf("x̄ = %v, want %v", xBar.Data, c.wantXBar)
			}
			// The tangent is gathered from the same pixels.
			xDot := tensor.New[T](x[0].Shape...)
			for i := range xDot.Data {
				xDot.Data[i] = T(i + 1)
			}
			yDot := tensor.New[T](y.Shape...)
			p.JVP(yDot, x, []*tensor.Dense[T]{xDot}, y)
			for i, a := range c.wantArgmax {
				if yDot.Data[i] != T(a+1) {
					t.Errorf("ẏ = %v, want ẋ at %v", yDot.Data, c.wantArgmax)
					break
				}
			}
		})
	}
}

// TestMaxPool2dForward compares with the definition on distinct values.
func TestMaxPool2dForward(t *testing.T) {
	x := distinct(5, 2, 3, 7, 6)
	for _, k := range [][3]int{{2, 2, 0}, {3, 2, 1}, {2, 2, 1}, {3, 1, 1}, {3, 3, 0}} {
		kernel, stride, pad := k[0], k[1], k[2]
		p := &autodiff.MaxPool2d[T]{Kernel: kernel, Stride: stride, Padding: pad}
		y := tensor.New[T](p.Shape([]*tensor.Dense[T]{x})...)
		p.Forward(y, []*tensor.Dense[T]{x})
		oh, ow := y.Shape[2], y.Shape[3]
		if want := (7+2*pad-kernel)/stride + 1; oh != want {
			t.Fatalf("%v: output height %d, want %d", k, oh, want)
		}
		for pl := 0; pl < 6; pl++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					m := math.Inf(-1)
					for u := 0; u < kernel; u++ {
						for v := 0; v < kernel; v++ {
							iy, ix := i*stride-pad+u, j*stride-pad+v
							if iy >= 0 && iy < 7 && ix >= 0 && ix < 6 {
								m = max(m, x.Data[(pl*7+iy)*6+ix])
							}
						}
					}
					if got := y.Data[(pl*oh+i)*ow+j]; got != m {
						t.Fatalf("%v: y[%d,%d,%d] = %g, want %g", k, pl, i, j, got, m)
					}
				}
			}
		}
	}
}
