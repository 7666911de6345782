//go:build unix

package checkpoint

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadFifo: a fifo is refused, not opened (opening it would block
// until something writes to it).
func TestReadFifo(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, read := range []func(string) error{
		func(p string) error { _, err := ReadFile(p); return err },
		func(p string) error { _, _, err := ReadNames(p); return err },
	} {
		if err := read(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("fifo: got %v", err)
		}
	}
}
