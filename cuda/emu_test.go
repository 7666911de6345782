//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"hesscope/autodiff"
	"hesscope/tensor"
)

// emu is a backend on the host: memory is Go memory, the kernels are
// kernels.cu compiled for the CPU with g++ (kernels/emu.h) and called
// through purego, matrix products are loops and convolutions autodiff's
// Conv2d. It runs the evaluator's whole algebra and the kernels' arithmetic
// where there is no GPU; what it cannot check is the CUDA side: the
// bindings, cuBLAS's and cuDNN's conventions, the kernels' parallel
// schedule.
type emu struct {
	lib  uintptr
	grid uintptr
	fns  map[string]uintptr
	mem  map[devptr][]uint64
}

var (
	emuOnce sync.Once
	emuLib  uintptr
	emuErr  error
)

// newEmu returns an emulated backend, compiling the kernels once per test
// process; it skips the test if there is no g++.
func newEmu(t testing.TB) *emu {
	t.Helper()
	emuOnce.Do(func() {
		gxx, err := exec.LookPath("g++")
		if err != nil {
			emuErr = fmt.Errorf("no g++ to compile the kernels for the CPU")
			return
		}
		dir, err := os.MkdirTemp("", "hesscope-emu")
		if err != nil {
			emuErr = err
			return
		}
		so := filepath.Join(dir, "kernels_emu.so")
		cmd := exec.Command(gxx, "-x", "c++", "-O1", "-shared", "-fPIC", "-include", "emu.h", "kernels.cu", "-o", so)
		cmd.Dir = "kernels"
		if out, err := cmd.CombinedOutput(); err != nil {
			emuErr = fmt.Errorf("g++: %v\n%s", err, out)
			return
		}
		emuLib, emuErr = purego.Dlopen(so, purego.RTLD_NOW|purego.RTLD_LOCAL)
	})
	if emuErr != nil {
		t.Skipf("no host emulation of the kernels: %v", emuErr)
	}
	grid, err := purego.Dlsym(emuLib, "emu_grid")
	if err != nil {
		t.Fatal(err)
	}
	return &emu{lib: emuLib, grid: grid, fns: map[string]uintptr{}, mem: map[devptr][]uint64{}}
}

func (m *emu) enter() func() { return func() {} }

func (m *emu) alloc(bytes int) buffer {
	s := make([]uint64, (bytes+7)/8+1)
	p := devptr(uintptr(unsafe.Pointer(&s[0])))
	m.mem[p] = s
	return buffer{ptr: p, bytes: bytes}
}

func (m *emu) free(b *buffer) {
	delete(m.mem, b.ptr)
	b.ptr, b.bytes = 0, 0
}

// bytesOf returns the n bytes at p, which must lie in one allocation.
func (m *emu) bytesOf(p devptr, n int) []byte {
	for base, s := range m.mem {
		if p >= base && int(p-base)+n <= 8*len(s) {
			b := unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 8*len(s))
			return b[p-base : int(p-base)+n]
		}
	}
	panic(fmt.Sprintf("emu: %d bytes at %#x: not in an allocation", n, p))
}

func (m *emu) upload(dst devptr, src unsafe.Pointer, bytes int) {
	copy(m.bytesOf(dst, bytes), unsafe.Slice((*byte)(src), bytes))
}

func (m *emu) download(dst unsafe.Pointer, src devptr, bytes int) {
	copy(unsafe.Slice((*byte)(dst), bytes), m.bytesOf(src, bytes))
}

func (m *emu) zero(p devptr, bytes int) { clear(m.bytesOf(p, bytes)) }

func (m *emu) launch(name string, blocks int, args ...any) {
	f, ok := m.fns[name]
	if !ok {
		var err error
		if f, err = purego.Dlsym(m.lib, name); err != nil {
			panic(fmt.Sprintf("emu: no kernel %s", name))
		}
		m.fns[name] = f
	}
	a := make([]uintptr, len(args))
	for i, v := range args {
		switch v := v.(type) {
		case int:
			a[i] = uintptr(uint32(int32(v)))
		case devptr:
			if v != 0 {
				m.bytesOf(v, 1) // panics unless v is in an allocation
			}
			a[i] = uintptr(v)
		default:
			panic(fmt.Sprintf("emu: kernel argument of type %T", v))
		}
	}
	for b := 0; b < blocks; b++ {
		purego.SyscallN(m.grid, uintptr(b), uintptr(blocks))
		purego.SyscallN(f, a...)
	}
}

// view returns the n elements of type E at p.
func view[E any](m *emu, p devptr, n int) []E {
	var z E
	b := m.bytesOf(p, n*int(unsafe.Sizeof(z)))
	return unsafe.Slice((*E)(unsafe.Pointer(&b[0])), n)
}

func (m *emu) gemm(dtype int32, ta, tb bool, rows, cols, k int, alpha float64, a, b devptr, beta float64, c devptr) {
	if dtype == dnnFloat {
		emuGemm[float32](m, ta, tb, rows, cols, k, alpha, a, b, beta, c)
	} else {
		emuGemm[float64](m, ta, tb, rows, cols, k, alpha, a, b, beta, c)
	}
}

// emuGemm runs the call that gemm makes to cuBLAS (toColMajor) as cuBLAS
// defines it, column-major: the mapping is checked along with the rest.
func emuGemm[T tensor.Float](m *emu, ta, tb bool, rows, cols, k int, alpha float64, a, b devptr, beta float64, c devptr) {
	g := toColMajor(ta, tb, rows, cols, k, a, b)
	A, B, C := view[T](m, g.a, g.m*g.k), view[T](m, g.b, g.k*g.n), view[T](m, c, g.m*g.n)
	// element (i, j) of a column-major matrix with leading dimension ld
	at := func(x []T, ld, i, j int) float64 { return float64(x[i+j*ld]) }
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var s float64
			for l := 0; l < g.k; l++ {
				av, bv := 0.0, 0.0
				if g.opA == cublasOpN {
					av = at(A, g.lda, i, l)
				} else {
					av = at(A, g.lda, l, i)
				}
				if g.opB == cublasOpN {
					bv = at(B, g.ldb, l, j)
				} else {
					bv = at(B, g.ldb, j, l)
				}
				s += av * bv
			}
			v := alpha * s
			if beta != 0 {
				v += beta * float64(C[i+j*g.ldc])
			}
			C[i+j*g.ldc] = T(v)
		}
	}
}

func (m *emu) conv(dtype int32, s convShape) convOps {
	if dtype == dnnFloat {
		return &emuConv[float32]{m: m, s: s}
	}
	return &emuConv[float64]{m: m, s: s}
}

func (m *emu) close() {}

// emuConv is a convolution by autodiff's Conv2d on the emulated memory.
type emuConv[T tensor.Float] struct {
	m *emu
	s convShape
}

func (c *emuConv[T]) tensors(x, w, y devptr) (xt, wt, yt *tensor.Dense[T]) {
	s := c.s
	if x != 0 {
		xt = tensor.FromSlice(view[T](c.m, x, s.n*s.c*s.h*s.w), s.n, s.c, s.h, s.w)
	}
	if w != 0 {
		wt = tensor.FromSlice(view[T](c.m, w, s.o*s.c*s.k*s.k), s.o, s.c, s.k, s.k)
	}
	if y != 0 {
		yt = tensor.FromSlice(view[T](c.m, y, s.n*s.o*s.oh*s.ow), s.n, s.o, s.oh, s.ow)
	}
	return
}

func (c *emuConv[T]) prim() *autodiff.Conv2d[T] {
	return &autodiff.Conv2d[T]{Stride: c.s.stride, Padding: c.s.pad}
}

func (c *emuConv[T]) forward(beta float64, x, w, y devptr) {
	xt, wt, yt := c.tensors(x, w, y)
	out := tensor.New[T](yt.Shape...)
	c.prim().Forward(out, []*tensor.Dense[T]{xt, wt})
	for i, v := range out.Data {
		yt.Data[i] = T(float64(v) + beta*float64(yt.Data[i]))
	}
}

func (c *emuConv[T]) backwardData(w, dy, dx devptr) {
	xt, wt, yt := c.tensors(dx, w, dy)
	c.prim().VJP([]*tensor.Dense[T]{xt, nil}, yt, []*tensor.Dense[T]{tensor.New[T](xt.Shape...), wt}, nil)
}

func (c *emuConv[T]) backwardFilter(x, dy, dw devptr) {
	xt, wt, yt := c.tensors(x, dw, dy)
	c.prim().VJP([]*tensor.Dense[T]{nil, wt}, yt, []*tensor.Dense[T]{xt, wt}, nil)
}
