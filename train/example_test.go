package train_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"

	"hesscope/data"
	"hesscope/train"
)

// stripes is a toy dataset: the label of an image is the band of rows
// that is bright.
func stripes(n int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 0))
	d := &data.Dataset{Name: "stripes", N: n, C: 1, H: 28, W: 28, Classes: 10, X: make([]float32, n*784), Y: make([]int, n)}
	for i := range n {
		d.Y[i] = rng.IntN(10)
		for p := range 784 {
			d.X[i*784+p] = 0.3 * rng.Float32()
			if p/28*10/28 == d.Y[i] {
				d.X[i*784+p] += 0.6
			}
		}
	}
	return d
}

// Run trains the MLP for two epochs in batches of 32 (micro-batches of 16)
// with a cosine schedule, on in-memory data, into a run folder that a
// second call with Resume would continue.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "hesscope-run")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := train.Config{
		Model: "mlp", Dataset: "stripes", Epochs: 2, BatchSize: 32, MicroBatch: 16,
		LR: 0.2, Momentum: 0.9, Schedule: "cosine", Out: dir,
	}
	sum, err := train.Run(context.Background(), cfg, train.Options{Train: stripes(256, 1), Test: stripes(64, 2)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d epochs, %d steps\n", sum.Epochs, sum.Steps)
	fmt.Println("test accuracy above 90%:", sum.TestAcc > 0.9)
	ms, _ := train.ReadMetrics(dir)
	fmt.Printf("metrics of %d epochs, last lr %.4f\n", len(ms), ms[len(ms)-1].LR)
	// Output:
	// 2 epochs, 16 steps
	// test accuracy above 90%: true
	// metrics of 2 epochs, last lr 0.0019
}
