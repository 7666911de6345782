//go:build !amd64 || purego

package kernels

// The element-wise kernels: pure Go.
var (
	vec32 = genericVec[float32]()
	vec64 = genericVec[float64]()
)

// vecBackends32 and vecBackends64 list every backend this machine can run,
// for tests and benchmarks.
func vecBackends32() []*vecKernels[float32] { return []*vecKernels[float32]{vec32} }
func vecBackends64() []*vecKernels[float64] { return []*vecKernels[float64]{vec64} }

// The affine kernels: pure Go.
var (
	affine32 = genericAffine[float32]()
	affine64 = genericAffine[float64]()
)

func affineBackends[F float32 | float64]() []*affineKernels[F] {
	return []*affineKernels[F]{genericAffine[F]()}
}

// No vector max-pooling or max-unpooling kernel.
var (
	pool32   poolRowFunc
	pool64   poolRowFunc64
	unpool32 unpoolFunc
	unpool64 unpoolFunc64
)

func poolBackends() map[string]poolRowFunc      { return map[string]poolRowFunc{} }
func poolBackends64() map[string]poolRowFunc64  { return map[string]poolRowFunc64{} }
func unpoolBackends() map[string]unpoolFunc     { return map[string]unpoolFunc{} }
func unpoolBackends64() map[string]unpoolFunc64 { return map[string]unpoolFunc64{} }
