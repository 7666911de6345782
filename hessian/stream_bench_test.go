package hessian

import (
	"fmt"
	"runtime"
	"testing"

	"hesscope/autodiff/gradcheck"
	"hesscope/models"
	"hesscope/nn"
)

// BenchmarkParamsWorkers times one Hessian-vector product of LeNet-5 in
// float32 over 512 random images in chunks of 32 and 128, with one worker
// and with GOMAXPROCS workers (chunks in parallel):
//
//	go test -run '^$' -bench ParamsWorkers -benchtime 5x ./hessian
func BenchmarkParamsWorkers(b *testing.B) {
	net, err := models.New[float32]("lenet5", models.Config{Classes: 10, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	x, y := benchBatch(net, 512)
	v := gradcheck.Randn(9, net.NumParams()).Data
	dst := make([]float64, len(v))
	for _, chunk := range []int{32, 128} {
		for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("chunk=%d/workers=%d", chunk, w), func(b *testing.B) {
				op := NewParams[float32](net, NewFloat32Data[float32](x.Data, y, [3]int{1, 28, 28}, chunk), nn.Eval, nil)
				op.Workers = w
				op.Apply(dst, v) // warm the buffers
				for b.Loop() {
					op.Apply(dst, v)
				}
			})
		}
	}
}
