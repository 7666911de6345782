package data_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"hesscope/data"
)

// Load the MNIST test set, hold out a validation split, normalise it with
// the standard constants and walk it in a seeded order.
func ExampleLoad() {
	test, err := data.Load("mnist", "test", data.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d images of %d×%d×%d, %d classes, first label %d\n",
		test.Name, test.N, test.C, test.H, test.W, test.Classes, test.Y[0])

	rest, val := test.Split(0.1, 1)
	norm, _ := data.StandardNorm("mnist")
	rest = rest.Normalized(norm)
	fmt.Printf("split: %d + %d\n", rest.N, val.N)

	order := data.Permutation(rest.N, 1, 0) // epoch 0
	x := make([]float32, 32*rest.SampleLen())
	y := make([]int, 32)
	rest.BatchTo(x, y, order[:32])
	fmt.Println("first batch:", len(y), "images")
	// Output:
	// mnist: 10000 images of 1×28×28, 10 classes, first label 7
	// split: 9000 + 1000
	// first batch: 32 images
}

func ExamplePermutation() {
	for epoch := range 3 {
		fmt.Println(data.Permutation(8, 42, epoch))
	}
	// Output:
	// [0 6 5 3 2 7 1 4]
	// [7 3 2 0 6 1 5 4]
	// [2 0 5 4 3 6 7 1]
}

// Augment a batch of CIFAR images before normalising it.
func ExampleAugment() {
	const n, c, h, w = 2, 3, 32, 32
	src := make([]float32, n*c*h*w)
	for i := range src {
		src[i] = 1 // two white images
	}
	dst := make([]float32, len(src))
	data.Augment(dst, src, n, c, h, w, rand.New(rand.NewPCG(1, 2)))
	black := 0
	for _, v := range dst {
		if v == 0 {
			black++
		}
	}
	fmt.Println("padding pixels in the crops:", black)
	// Output:
	// padding pixels in the crops: 744
}
