package data

import (
	"fmt"
	"math"
	"slices"

	"hesscope/tensor"
)

// Dataset is a labelled set of N images of C channels of H×W pixels.
//
// A Dataset is plain data. Methods never modify their receiver; Sample and
// Subset return views that share its memory, Select and Split copy.
type Dataset struct {
	// Name is the dataset's name as given to Load: "mnist", "fashion-mnist",
	// "cifar10" or "cifar100".
	Name string
	// X holds the images in NCHW order with pixels scaled to [0, 1]:
	// pixel (n, c, h, w) is X[((n·C+c)·H+h)·W+w].
	X []float32
	// Y holds the N labels, each in [0, Classes).
	Y []int
	// N is the number of images, C, H and W the channels, height and width
	// of each.
	N, C, H, W int
	// Classes is the number of classes.
	Classes int
}

// SampleLen is the number of values of one image, C·H·W.
func (d *Dataset) SampleLen() int { return d.C * d.H * d.W }

// Sample returns image i (a view of X of length SampleLen, not a copy) and
// its label.
func (d *Dataset) Sample(i int) (x []float32, y int) {
	s := d.SampleLen()
	return d.X[i*s : (i+1)*s : (i+1)*s], d.Y[i]
}

// BatchTo copies the images and labels at indices into dstX and dstY, in
// order: dstX must have len(indices)·SampleLen values and dstY, unless nil,
// len(indices). It panics otherwise, or if an index is out of range.
func (d *Dataset) BatchTo(dstX []float32, dstY []int, indices []int) {
	d.gather("BatchTo", dstX, dstY, indices)
}

// gather is BatchTo; op names the caller in panics.
func (d *Dataset) gather(op string, dstX []float32, dstY []int, indices []int) {
	s := d.SampleLen()
	if len(dstX) != len(indices)*s {
		panic(fmt.Sprintf("data: %s: dstX has %d values, want %d images × %d", op, len(dstX), len(indices), s))
	}
	if dstY != nil && len(dstY) != len(indices) {
		panic(fmt.Sprintf("data: %s: dstY has %d labels, want %d", op, len(dstY), len(indices)))
	}
	for k, i := range indices {
		if i < 0 || i >= d.N {
			panic(fmt.Sprintf("data: %s: index %d out of range [0, %d)", op, i, d.N))
		}
		copy(dstX[k*s:(k+1)*s], d.X[i*s:(i+1)*s])
		if dstY != nil {
			dstY[k] = d.Y[i]
		}
	}
}

// Tensor returns the images as a tensor of shape [N, C, H, W] sharing X.
func (d *Dataset) Tensor() *tensor.Dense[float32] {
	return tensor.FromSlice(d.X, d.N, d.C, d.H, d.W)
}

// Subset returns the first n images (all of them if n ≥ N) as a Dataset that
// shares d's memory. It panics if n is negative.
func (d *Dataset) Subset(n int) *Dataset {
	if n < 0 {
		panic(fmt.Sprintf("data: Subset(%d): negative size", n))
	}
	n = min(n, d.N)
	s := d.SampleLen()
	sub := *d
	sub.N = n
	sub.X = d.X[: n*s : n*s]
	sub.Y = d.Y[:n:n]
	return &sub
}

// Select returns a new Dataset holding copies of the images and labels at
// indices, in that order. It panics if an index is out of range.
func (d *Dataset) Select(indices []int) *Dataset {
	sel := *d
	sel.N = len(indices)
	sel.X = make([]float32, len(indices)*d.SampleLen())
	sel.Y = make([]int, len(indices))
	d.gather("Select", sel.X, sel.Y, indices)
	return &sel
}

// Split divides d into a training part and a held-out validation part of
// round(valFraction·N) images, drawn at random as fixed by seed: the same
// seed always gives the same split. Both parts keep d's order and are
// copies. It panics unless 0 ≤ valFraction ≤ 1.
func (d *Dataset) Split(valFraction float64, seed uint64) (train, val *Dataset) {
	if !(valFraction >= 0 && valFraction <= 1) {
		panic(fmt.Sprintf("data: Split: validation fraction %v outside [0, 1]", valFraction))
	}
	nVal := int(math.Round(valFraction * float64(d.N)))
	// A stream of its own, so that the split is independent of the
	// per-epoch shuffles Permutation(N, seed, epoch) of the same seed.
	perm := permutation(d.N, newPCG(seed, splitStream))
	valIdx, trainIdx := perm[:nVal], perm[nVal:]
	slices.Sort(valIdx)
	slices.Sort(trainIdx)
	return d.Select(trainIdx), d.Select(valIdx)
}
