//go:build unix

package kernels

import (
	"sync"
	"syscall"
	"testing"
	"unsafe"
)

// guardRegion is memory handed out by guardedTail (and guardedTail2):
// guardBytes readable bytes followed by an unreadable page, mapped once.
type guardRegion struct {
	once sync.Once
	mem  []byte
	err  error
}

var guards [2]guardRegion

const guardBytes = 1 << 20

// guardedTail returns a slice of n zero elements that ends where an
// unreadable page begins, so that an assembly kernel reading past its end
// faults (which the Go bounds checks, blind to assembly, would not catch).
// Every call returns the same memory: a test uses one such slice at a time,
// and no test using it runs in parallel.
func guardedTail[T any](t *testing.T, n int) []T {
	t.Helper()
	return guarded[T](t, &guards[0], n)
}

// guardedTail2 is guardedTail from a second region, for a kernel's second
// operand.
func guardedTail2[T any](t *testing.T, n int) []T {
	t.Helper()
	return guarded[T](t, &guards[1], n)
}

func guarded[T any](t *testing.T, g *guardRegion, n int) []T {
	t.Helper()
	g.once.Do(func() {
		page := syscall.Getpagesize()
		g.mem, g.err = syscall.Mmap(-1, 0, guardBytes+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if g.err == nil {
			g.err = syscall.Mprotect(g.mem[guardBytes:], syscall.PROT_NONE)
		}
	})
	if g.err != nil {
		t.Fatalf("guard page: %v", g.err)
	}
	size := int(unsafe.Sizeof(*new(T)))
	if n*size > guardBytes {
		t.Fatalf("guardedTail(%d): more than %d bytes", n, guardBytes)
	}
	s := unsafe.Slice((*T)(unsafe.Pointer(&g.mem[guardBytes-n*size])), n)
	clear(s)
	return s
}
