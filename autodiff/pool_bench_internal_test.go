package autodiff

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPool3 times the window maxima of 64 planes of 32×32 random
// values (C1's first pooling, after BatchNorm), 3×3 at stride 2 with padding
// 1: branch-free (float32), unrolled with branches, and the reference loop.
func BenchmarkPool3(b *testing.B) {
	g := poolGeom{n: 1, c: 1, h: 32, w: 32, k: 3, s: 2, p: 1, oh: 16, ow: 16}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 1024*64)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y, am := make([]float32, 256), make([]int32, 256)
	b.Run("vector", func(b *testing.B) {
		for b.Loop() {
			for p := 0; p < 64; p++ {
				poolPlane(g, y, am, x[p*1024:(p+1)*1024])
			}
		}
	})
	b.Run("cmov", func(b *testing.B) {
		for b.Loop() {
			for p := 0; p < 64; p++ {
				poolPlane3x3f32(g, y, am, x[p*1024:(p+1)*1024])
			}
		}
	})
	b.Run("branch", func(b *testing.B) {
		for b.Loop() {
			for p := 0; p < 64; p++ {
				poolPlane3x3(g, y, am, x[p*1024:(p+1)*1024])
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			for p := 0; p < 64; p++ {
				poolPlaneGeneric(g, y, am, x[p*1024:(p+1)*1024])
			}
		}
	})
}
