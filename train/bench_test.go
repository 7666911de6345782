package train

import (
	"context"
	"fmt"
	"testing"

	"hesscope/autodiff"
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
				tape: autodiff.NewTape[float32](), checkpointed: -1, st: &state{}}
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
