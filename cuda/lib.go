//go:build cuda

package cuda

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibDirEnv names the environment variable holding the folders (separated
// by colons) searched for the CUDA libraries after the system library path.
const LibDirEnv = "HESSCOPE_CUDA_LIB_DIR"

// wheelDirs are the folders, relative to a site-packages/nvidia folder,
// where PyTorch's CUDA wheels put their libraries (CUDA 13 wheels share
// cu13/lib; CUDA 12 wheels have one folder per library).
var wheelDirs = []string{"cu13/lib", "cublas/lib", "cudnn/lib", "cuda_runtime/lib"}

// openLib loads the first of names (sonames, in order of preference) found
// on the system library path, then in $HESSCOPE_CUDA_LIB_DIR, then in the
// nvidia wheels of the Python on PATH. deps are loaded first from the same
// folder when the library comes from a folder (cuBLAS needs cuBLASLt). The
// error is one line naming the library and where it was looked for.
func openLib(what string, names []string, deps ...string) (uintptr, error) {
	var first error
	try := func(path string) (uintptr, bool) {
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			if first == nil {
				first = err
			}
			return 0, false
		}
		return h, true
	}
	for _, n := range names {
		if h, ok := try(n); ok {
			return h, nil
		}
	}
	dirs := []string{}
	for _, d := range filepath.SplitList(os.Getenv(LibDirEnv)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, nv := range nvidiaWheelRoots() {
		for _, w := range wheelDirs {
			dirs = append(dirs, filepath.Join(nv, w))
		}
	}
	for _, d := range dirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			for _, dep := range deps {
				if dp := filepath.Join(d, dep); fileExists(dp) {
					try(dp)
				}
			}
			if h, ok := try(p); ok {
				return h, nil
			}
		}
	}
	msg := "no such file"
	if first != nil {
		msg = strings.TrimSpace(first.Error())
	}
	return 0, fmt.Errorf("cuda: cannot load %s (%s; looked on the system library path, in $%s and in PyTorch's nvidia wheels): %s",
		what, strings.Join(names, " or "), LibDirEnv, msg)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// nvidiaWheelRoots returns the site-packages/nvidia folders of the python3
// on PATH (the namespace package of PyTorch's CUDA wheels), or nil.
func nvidiaWheelRoots() []string {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", "import nvidia\nfor p in nvidia.__path__: print(p)").Output()
	if err != nil {
		return nil
	}
	var roots []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			roots = append(roots, l)
		}
	}
	return roots
}

// bind registers the C functions of lib named by the keys of fns into the
// function variables they point to; a missing symbol is an error naming it.
func bind(lib uintptr, what string, fns map[string]any) error {
	for name, fptr := range fns {
		sym, err := purego.Dlsym(lib, name)
		if err != nil || sym == 0 {
			return fmt.Errorf("cuda: %s has no function %s (too old a version?)", what, name)
		}
		purego.RegisterFunc(fptr, sym)
	}
	return nil
}

// goString copies the NUL-terminated C string at p.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for i := 0; ; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			return string(b)
		}
		b = append(b, c)
	}
}

// errNoDevice is returned when the driver loads but finds no GPU.
var errNoDevice = errors.New("cuda: the CUDA driver found no GPU")
