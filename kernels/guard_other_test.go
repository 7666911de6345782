//go:build !unix

package kernels

import "testing"

// guardedTail returns a slice of n elements; without mmap, reads past its
// end go unnoticed.
func guardedTail[T any](t *testing.T, n int) []T { return make([]T, n) }

// guardedTail2 is guardedTail.
func guardedTail2[T any](t *testing.T, n int) []T { return make([]T, n) }
