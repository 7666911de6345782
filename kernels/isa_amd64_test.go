//go:build amd64 && !purego

package kernels

import "testing"

// withISAs runs f with the kernels of the widest instruction set this
// machine has and, where that is AVX-512, again with the AVX2 ones (the
// dispatchers read hasAVX512 at every call).
func withISAs(t *testing.T, f func(t *testing.T)) {
	t.Run("best", f)
	if hasAVX512 && hasAVX2 {
		hasAVX512 = false
		defer func() { hasAVX512 = true }()
		t.Run("avx2", f)
	}
}
