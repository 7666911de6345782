//go:build !amd64 || purego

package kernels

import "testing"

// withISAs runs f: this build has one set of kernels.
func withISAs(t *testing.T, f func(t *testing.T)) { t.Run("best", f) }
