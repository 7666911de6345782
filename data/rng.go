package data

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// The random streams used here are defined in terms of PCG's Uint64 output
// alone (PCG-DXSM is fixed by its specification). The bounded draws and the
// shuffle are written out below rather than taken from math/rand/v2, whose
// algorithms for IntN and Shuffle may change between Go releases: a seed must
// give the same permutation and the same augmentation forever.

// splitStream is the PCG stream that Dataset.Split draws from.
const splitStream = 0x5eed5b117c0ffee5

// Permutation returns a random permutation of [0, n), fixed by seed and
// epoch: the order in which an epoch visits the training set. Different
// epochs of one seed give independent permutations. It panics if n < 0.
func Permutation(n int, seed uint64, epoch int) []int {
	if n < 0 {
		panic(fmt.Sprintf("data: Permutation(%d): negative length", n))
	}
	return permutation(n, newPCG(seed, mix64(uint64(epoch))))
}

// newPCG returns the PCG generator seeded with (seed, stream).
func newPCG(seed, stream uint64) *rand.PCG { return rand.NewPCG(seed, stream) }

// permutation is the Fisher–Yates shuffle of 0, 1, …, n-1 driven by src.
func permutation(n int, src rand.Source) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	// Invariant: p[i+1:] is final; p[:i+1] holds the values left to place.
	for i := n - 1; i > 0; i-- {
		j := int(bounded(src, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// bounded returns a uniform integer in [0, n), n > 0, by Lemire's
// multiply-and-reject method (“Fast random integer generation in an
// interval”, 2019).
func bounded(src rand.Source, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// mix64 is SplitMix64's finaliser: it turns nearby integers (epoch numbers)
// into unrelated PCG stream selectors.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
