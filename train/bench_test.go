package train

import (
	"context"
	"fmt"
	"testing"

	"hesscope/autodiff"
	"hesscope/dist"
)

// BenchmarkStep times one SGD step (forward, backward, update) of a batch,
// the unit of an epoch's cost: an MNIST epoch is 60000/batch steps.
func BenchmarkStep(b *testing.B) {
	for _, c := range []struct {
		model string
		batch int
	}{{"lenet5", 64}, {"lenet5", 128}, {"mlp", 128}} {
		b.Run(fmt.Sprintf("%s/batch=%d", c.model, c.batch), func(b *testing.B) {
			cfg := Config{Model: c.model, Dataset: "synthetic", BatchSize: c.batch, Momentum: 0.9, Out: b.TempDir()}.Defaults()
			t := &trainer[float32]{cfg: cfg, opt: Options{Train: mnistLike(c.batch, 1), Test: mnistLike(1, 2)},
				tape: autodiff.NewTape[float32](), checkpointed: -1, st: &state{}, comm: dist.Of(nil)}
			if err := t.setup(); err != nil {
				b.Fatal(err)
			}
			idx := make([]int, c.batch)
			for i := range idx {
				idx[i] = i
			}
			for b.Loop() {
				if _, _, _, err := t.step(context.Background(), idx, 0.01); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.batch)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkSGD times one SGD step (momentum 0.9, weight decay 5e-4) of
// float32 parameters the size of mlp's (670 thousand) and ResNet-18's (11.2
// million): the update a training step adds to its gradient pass.
func BenchmarkSGD(b *testing.B) {
	for _, n := range []int{669706, 11173962} {
		b.Run(fmt.Sprintf("params=%d", n), func(b *testing.B) {
			p, g := make([]float32, n), make([]float32, n)
			for i := range g {
				p[i], g[i] = float32(i%13)*0.01, float32(i%7)*0.001
			}
			opt := &SGD[float32]{Momentum: 0.9, WeightDecay: 5e-4}
			for b.Loop() {
				opt.Step([][]float32{p}, [][]float32{g}, 1e-6)
			}
			b.SetBytes(int64(n) * 4 * 5) // read p, g, buffer; write p, buffer
		})
	}
}
