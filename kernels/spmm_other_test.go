//go:build !amd64 || purego

package kernels

// spmmVectors lists no kernels: this build has none.
func spmmVectors[F float32 | float64]() []spmmVariant[F] { return nil }

// spmmWantVectors reports false: SpMM runs its Go loop.
func spmmWantVectors() bool { return false }
