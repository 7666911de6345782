package autodiff_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// BenchmarkElementwise times the element-wise primitives on float32
// activations of ResNet-20's first stage at batch 128 ([128, 16, 32, 32],
// 8 MB a tensor, so every pass streams from memory), each path the tape
// takes: Forward, ForwardJVP, VJP and VJPPair (a parameter HVP: every
// cotangent and tangent present).
func BenchmarkElementwise(b *testing.B) {
	// ResNet-20's first and last stages: wide images, and many channels of
	// small ones (short per-channel segments); ResNet-18's first stage (a
	// tensor of 32 MiB).
	for _, shape := range [][]int{{128, 16, 32, 32}, {128, 64, 8, 8}, {128, 64, 32, 32}} {
		b.Run(fmt.Sprintf("%dx%dx%d", shape[1], shape[2], shape[3]), func(b *testing.B) { benchElementwise(b, shape) })
	}
}

func benchElementwise(b *testing.B, shape []int) {
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(shape ...int) *tensor.Dense[float32] {
		t := tensor.New[float32](shape...)
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64())
		}
		return t
	}
	c := shape[1]
	x, xd := randn(shape...), randn(shape...)
	gamma, beta, gd, bd := randn(c), randn(c), randn(c), randn(c)
	mean, vr := randn(c), randn(c)
	for i := range vr.Data {
		vr.Data[i] = 1 + vr.Data[i]*vr.Data[i]
	}
	type prim = autodiff.Primitive[float32]
	for _, p := range []struct {
		name string
		new  func() prim
		x    []*tensor.Dense[float32]
		xDot []*tensor.Dense[float32]
	}{
		{"relu", func() prim { return autodiff.ReLU[float32]{} }, []*tensor.Dense[float32]{x}, []*tensor.Dense[float32]{xd}},
		{"add", func() prim { return autodiff.Add[float32]{} }, []*tensor.Dense[float32]{x, xd}, []*tensor.Dense[float32]{xd, x}},
		{"bneval", func() prim {
			return autodiff.BatchNorm2dEval[float32]{RunningMean: mean.Data, RunningVar: vr.Data, Eps: 1e-5}
		}, []*tensor.Dense[float32]{x, gamma, beta}, []*tensor.Dense[float32]{xd, gd, bd}},
		{"bnevalrelu", func() prim {
			return autodiff.BatchNorm2dEvalReLU[float32]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float32]{RunningMean: mean.Data, RunningVar: vr.Data, Eps: 1e-5}}
		}, []*tensor.Dense[float32]{x, gamma, beta}, []*tensor.Dense[float32]{xd, gd, bd}},
		{"bnevaladdrelu", func() prim {
			return autodiff.BatchNorm2dEvalAddReLU[float32]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float32]{RunningMean: mean.Data, RunningVar: vr.Data, Eps: 1e-5}}
		}, []*tensor.Dense[float32]{x, gamma, beta, xd}, []*tensor.Dense[float32]{xd, gd, bd, x}},
		{"relubneval", func() prim {
			return autodiff.ReLUBatchNorm2dEval[float32]{BatchNorm2dEval: autodiff.BatchNorm2dEval[float32]{RunningMean: mean.Data, RunningVar: vr.Data, Eps: 1e-5}}
		}, []*tensor.Dense[float32]{x, gamma, beta}, []*tensor.Dense[float32]{xd, gd, bd}},
		{"bntrain", func() prim { return &autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5} },
			[]*tensor.Dense[float32]{x, gamma, beta}, []*tensor.Dense[float32]{xd, gd, bd}},
		{"bntrainrelu", func() prim {
			return &autodiff.BatchNorm2dTrainReLU[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}
		}, []*tensor.Dense[float32]{x, gamma, beta}, []*tensor.Dense[float32]{xd, gd, bd}},
		{"relubntrain", func() prim {
			return &autodiff.ReLUBatchNorm2dTrain[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}
		}, []*tensor.Dense[float32]{x, gamma, beta}, []*tensor.Dense[float32]{xd, gd, bd}},
		{"bntrainaddrelu", func() prim {
			return &autodiff.BatchNorm2dTrainAddReLU[float32]{BatchNorm2dTrain: autodiff.BatchNorm2dTrain[float32]{Eps: 1e-5}}
		}, []*tensor.Dense[float32]{x, gamma, beta, xd}, []*tensor.Dense[float32]{xd, gd, bd, x}},
		{"maxpool2", func() prim { return &autodiff.MaxPool2d[float32]{Kernel: 2} }, []*tensor.Dense[float32]{x}, []*tensor.Dense[float32]{xd}},
		{"maxpool3", func() prim { return &autodiff.MaxPool2d[float32]{Kernel: 3, Stride: 2, Padding: 1} }, []*tensor.Dense[float32]{x}, []*tensor.Dense[float32]{xd}},
		{"avgpool", func() prim { return autodiff.GlobalAvgPool[float32]{} }, []*tensor.Dense[float32]{x}, []*tensor.Dense[float32]{xd}},
	} {
		p0 := p.new()
		y := tensor.New[float32](p0.Shape(p.x)...)
		yDot := tensor.New[float32](y.Shape...)
		yBar, yBarDot := randn(y.Shape...), randn(y.Shape...)
		bars := func() (bar, barDot []*tensor.Dense[float32]) {
			for _, xi := range p.x {
				bar = append(bar, tensor.New[float32](xi.Shape...))
				barDot = append(barDot, tensor.New[float32](xi.Shape...))
			}
			return bar, barDot
		}
		bar, barDot := bars()
		p0.Forward(y, p.x)
		b.Run(fmt.Sprintf("%s/Forward", p.name), func(b *testing.B) {
			for b.Loop() {
				p0.Forward(y, p.x)
			}
		})
		if pj, ok := p0.(autodiff.PairJVP[float32]); ok {
			b.Run(fmt.Sprintf("%s/ForwardJVP", p.name), func(b *testing.B) {
				for b.Loop() {
					pj.ForwardJVP(y, yDot, p.x, p.xDot)
				}
			})
		} else {
			b.Run(fmt.Sprintf("%s/JVP", p.name), func(b *testing.B) {
				for b.Loop() {
					p0.JVP(yDot, p.x, p.xDot, y)
				}
			})
		}
		b.Run(fmt.Sprintf("%s/VJP", p.name), func(b *testing.B) {
			for b.Loop() {
				p0.VJP(bar, yBar, p.x, y)
			}
		})
		b.Run(fmt.Sprintf("%s/VJPPair", p.name), func(b *testing.B) {
			for b.Loop() {
				if pv, ok := p0.(autodiff.PairVJP[float32]); ok {
					pv.VJPPair(bar, barDot, yBar, yBarDot, p.x, p.xDot, y, yDot)
					continue
				}
				p0.VJP(bar, yBar, p.x, y)
				p0.VJP(barDot, yBarDot, p.x, y)
				if cv, ok := p0.(autodiff.Curved[float32]); ok {
					cv.CurvatureVJP(barDot, yBar, p.x, p.xDot, y, yDot)
				}
			}
		})
	}
}
