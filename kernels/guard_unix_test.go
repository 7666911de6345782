//go:build unix

package kernels

import (
	"sync"
	"syscall"
	"testing"
	"unsafe"
)

// guardMem is the memory guardedTail hands out: guardBytes readable bytes
// followed by an unreadable page, mapped once.
var (
	guardOnce sync.Once
	guardMem  []byte
	guardErr  error
)

const guardBytes = 1 << 20

// guardedTail returns a slice of n zero elements that ends where an
// unreadable page begins, so that an assembly kernel reading past its end
// faults (which the Go bounds checks, blind to assembly, would not catch).
// Every call returns the same memory: a test uses one such slice at a time,
// and no test using it runs in parallel.
func guardedTail[T any](t *testing.T, n int) []T {
	t.Helper()
	guardOnce.Do(func() {
		page := syscall.Getpagesize()
		guardMem, guardErr = syscall.Mmap(-1, 0, guardBytes+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if guardErr == nil {
			guardErr = syscall.Mprotect(guardMem[guardBytes:], syscall.PROT_NONE)
		}
	})
	if guardErr != nil {
		t.Fatalf("guard page: %v", guardErr)
	}
	size := int(unsafe.Sizeof(*new(T)))
	if n*size > guardBytes {
		t.Fatalf("guardedTail(%d): more than %d bytes", n, guardBytes)
	}
	s := unsafe.Slice((*T)(unsafe.Pointer(&guardMem[guardBytes-n*size])), n)
	clear(s)
	return s
}
