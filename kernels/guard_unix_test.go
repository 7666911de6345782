//go:build unix

package kernels

import (
	"syscall"
	"testing"
	"unsafe"
)

// guardedTail returns a slice of n elements that ends where an unreadable
// page begins, so that an assembly kernel reading past its end faults
// (which the Go bounds checks, blind to assembly, would not catch). The
// memory is unmapped when the test ends.
func guardedTail[T any](t *testing.T, n int) []T {
	t.Helper()
	page := syscall.Getpagesize()
	size := int(unsafe.Sizeof(*new(T)))
	bytes := (n*size + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, bytes+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[bytes:], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	s := unsafe.Slice((*T)(unsafe.Pointer(&mem[bytes-n*size])), n)
	clear(s)
	return s
}
