package kernels

import (
	"fmt"
	"testing"
)

// convBenchShapes are the convolutions of the model zoo (one image).
var convBenchShapes = []struct {
	name string
	s    ConvShape
}{
	{"lenet5.conv1", ConvShape{C: 1, H: 28, W: 28, KH: 5, KW: 5, Stride: 1}},
	{"lenet5.conv2", ConvShape{C: 20, H: 12, W: 12, KH: 5, KW: 5, Stride: 1}},
	{"c1.conv1", ConvShape{C: 3, H: 32, W: 32, KH: 5, KW: 5, Stride: 1, Pad: 2}},
	{"c1.conv2", ConvShape{C: 64, H: 16, W: 16, KH: 5, KW: 5, Stride: 1, Pad: 2}},
	{"resnet20.layer1", ConvShape{C: 16, H: 32, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1}},
	{"resnet20.layer2.0", ConvShape{C: 16, H: 32, W: 32, KH: 3, KW: 3, Stride: 2, Pad: 1}},
	{"resnet20.layer3.0", ConvShape{C: 32, H: 16, W: 16, KH: 3, KW: 3, Stride: 2, Pad: 1}},
	{"resnet20.layer2", ConvShape{C: 32, H: 16, W: 16, KH: 3, KW: 3, Stride: 1, Pad: 1}},
	{"resnet20.layer3", ConvShape{C: 64, H: 8, W: 8, KH: 3, KW: 3, Stride: 1, Pad: 1}},
	{"c2.conv2", ConvShape{C: 64, H: 30, W: 30, KH: 3, KW: 3, Stride: 1}},
	{"c2.conv4", ConvShape{C: 128, H: 12, W: 12, KH: 3, KW: 3, Stride: 1}},
	{"resnet18.layer1", ConvShape{C: 64, H: 32, W: 32, KH: 3, KW: 3, Stride: 1, Pad: 1}},
	{"resnet18.layer4", ConvShape{C: 512, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}},
}

// BenchmarkIm2col times Im2col and Col2im of one float32 image for the
// convolutions of the model zoo:
//
//	go test -run '^$' -bench 'Im2col|Col2im' ./kernels
func BenchmarkIm2col(b *testing.B) {
	for _, c := range convBenchShapes {
		x := make([]float32, c.s.C*c.s.H*c.s.W)
		col := make([]float32, c.s.Rows()*c.s.Cols())
		for i := range x {
			x[i] = float32(i % 7)
		}
		b.Run(fmt.Sprintf("%s/Im2col", c.name), func(b *testing.B) {
			b.SetBytes(int64(4 * len(col)))
			for b.Loop() {
				Im2col(col, c.s.Cols(), x, c.s)
			}
		})
		b.Run(fmt.Sprintf("%s/Col2im", c.name), func(b *testing.B) {
			b.SetBytes(int64(4 * len(col)))
			for b.Loop() {
				Col2im(x, col, c.s.Cols(), c.s)
			}
		})
	}
}

// BenchmarkUnpitch times Unpitch with a bias on the output planes of an
// implicit convolution (64 channels, rows of W′ values Wp apart) and of a
// chunk's image (one contiguous plane per channel):
//
//	go test -run '^$' -bench Unpitch ./kernels
func BenchmarkUnpitch(b *testing.B) {
	for _, c := range []struct {
		name        string
		rows, w, ld int
	}{
		{"c2.conv1-30x30-pitch32", 30, 30, 32},
		{"lenet5.conv1-24x24-pitch28", 24, 24, 28},
		{"c2.conv4-10x10-chunk", 1, 100, 100},
	} {
		const planes = 64
		src := make([]float32, planes*c.rows*c.ld)
		dst := make([]float32, planes*c.rows*c.w)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(dst)))
			for b.Loop() {
				for o := 0; o < planes; o++ {
					Unpitch(dst[o*c.rows*c.w:], src[o*c.rows*c.ld:], c.ld, c.rows, c.w, float32(o), true)
				}
			}
		})
	}
}
