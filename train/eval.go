package train

import (
	"context"

	"hesscope/data"
	"hesscope/hessian"
	"hesscope/models"
	"hesscope/nn"
	"hesscope/tensor"
)

// Evaluate returns the mean cross-entropy loss and the accuracy (a fraction)
// of net on d in eval mode (BatchNorm with running statistics), feeding
// chunk images at a time; the images are used as they are (normalise them
// first if the model expects it). It stops early with ctx's error if ctx is
// cancelled. The result does not depend on chunk but for rounding.
func Evaluate[T tensor.Float](ctx context.Context, net *models.Net[T], d *data.Dataset, chunk int) (loss, acc float64, err error) {
	if d.N == 0 {
		return 0, 0, nil
	}
	ev := hessian.NewEvaluator[T](net)
	src := hessian.NewFloat32Data[T](d.X, d.Y, [3]int{d.C, d.H, d.W}, chunk)
	correct := 0
	for c := range src.Chunks() {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		x, y := src.Chunk(c)
		r := ev.Pass(x, y, hessian.Request[T]{Mode: nn.Eval})
		loss += r.Loss * float64(len(y))
		correct += hessian.Correct(r.Logits, y)
	}
	return loss / float64(d.N), float64(correct) / float64(d.N), nil
}
