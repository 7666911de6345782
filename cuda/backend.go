//go:build cuda

package cuda

import (
	"runtime"
	"unsafe"
)

// backend is what an Evaluator needs of a device: memory, the kernels of
// kernels.cu, matrix products and convolutions. gpu is the CUDA one; the
// tests substitute a host emulation that runs the same kernels compiled for
// the CPU, so that the evaluator's algebra is checked where no GPU is.
// Every method panics on a device failure.
type backend interface {
	// enter prepares the calling goroutine for calls (locks it to its OS
	// thread and makes the context current) and returns the function that
	// undoes it.
	enter() (leave func())
	alloc(bytes int) buffer
	free(b *buffer)
	upload(dst devptr, src unsafe.Pointer, bytes int)
	download(dst unsafe.Pointer, src devptr, bytes int)
	zero(p devptr, bytes int)
	// launch runs kernel name on blocks blocks of threads threads; args
	// are int (a C int) or devptr.
	launch(name string, blocks int, args ...any)
	// gemm computes C = α·op(A)·op(B) + β·C for row-major matrices of
	// data type dtype (dnnFloat or dnnDouble): C is [m, n], op(A) [m, k]
	// (A stored [k, m] if ta), op(B) [k, n] (B stored [n, k] if tb).
	gemm(dtype int32, ta, tb bool, m, n, k int, alpha float64, a, b devptr, beta float64, c devptr)
	// conv returns the convolution y [n, o, oh, ow] = x [n, c, h, w] ⋆
	// W [o, c, k, k] (cross-correlation) with the given stride and padding.
	conv(dtype int32, g convShape) convOps
	// close releases the backend's handles and workspace.
	close()
}

// convShape is the geometry of a convolution.
type convShape struct{ n, c, h, w, o, k, stride, pad, oh, ow int }

// convOps are the three products of a convolution, on buffers of its
// shapes. Every one accumulates or overwrites as its comment says.
type convOps interface {
	forward(beta float64, x, w, y devptr) // y = conv(x, w) + β·y
	backwardData(w, dy, dx devptr)        // dx += convᵀ(w, dy)
	backwardFilter(x, dy, dw devptr)      // dw += Σ x ⋆ dy
}

// uploadSlice copies src to the device at dst.
func uploadSlice[E any](b backend, dst devptr, src []E) {
	if len(src) > 0 {
		b.upload(dst, unsafe.Pointer(&src[0]), len(src)*int(unsafe.Sizeof(src[0])))
	}
}

// downloadSlice copies len(dst) elements from the device at src.
func downloadSlice[E any](b backend, dst []E, src devptr) {
	if len(dst) > 0 {
		b.download(unsafe.Pointer(&dst[0]), src, len(dst)*int(unsafe.Sizeof(dst[0])))
	}
}

// gpu is the CUDA backend of one evaluator: the device, its cuBLAS and
// cuDNN handles (made on first use) and the convolution workspace.
type gpu struct {
	dev  *Device
	blas uintptr
	dnn  uintptr
	ws   buffer
}

func (g *gpu) enter() func() {
	runtime.LockOSThread()
	if err := g.dev.setCurrent(); err != nil {
		runtime.UnlockOSThread()
		panic(err)
	}
	return runtime.UnlockOSThread
}

func (g *gpu) alloc(bytes int) buffer { return alloc(bytes) }
func (g *gpu) free(b *buffer)         { synchronize(); b.free() }

func (g *gpu) upload(dst devptr, src unsafe.Pointer, bytes int) {
	must(drv(cuMemcpyHtoD(uint64(dst), src, uint64(bytes)), "cuMemcpyHtoD"))
}

func (g *gpu) download(dst unsafe.Pointer, src devptr, bytes int) {
	must(drv(cuMemcpyDtoH(dst, uint64(src), uint64(bytes)), "cuMemcpyDtoH"))
}

func (g *gpu) zero(p devptr, bytes int) { zero(p, bytes) }

func (g *gpu) launch(name string, blocks int, args ...any) { g.dev.launch(name, blocks, args...) }

func (g *gpu) gemm(dtype int32, ta, tb bool, m, n, k int, alpha float64, a, b devptr, beta float64, c devptr) {
	if g.blas == 0 {
		h, err := newBLAS()
		must(err)
		g.blas = h
	}
	gemm(g.blas, dtype, ta, tb, m, n, k, alpha, a, b, beta, c)
}

func (g *gpu) conv(dtype int32, s convShape) convOps {
	if g.dnn == 0 {
		h, err := newDNN()
		must(err)
		g.dnn = h
	}
	p, err := newConvPlan(g.dnn, dtype, s)
	must(err)
	if p.workspace > g.ws.bytes {
		g.free(&g.ws)
		g.ws = alloc(p.workspace)
	}
	return &gpuConv{g: g, p: p}
}

func (g *gpu) close() {
	g.free(&g.ws)
	if g.blas != 0 {
		cublasDestroy(g.blas)
		g.blas = 0
	}
	if g.dnn != 0 {
		cudnnDestroy(g.dnn)
		g.dnn = 0
	}
}

// gpuConv runs a convPlan with the backend's handle and workspace (the
// workspace may grow after the plan is made: it is read at each call).
type gpuConv struct {
	g *gpu
	p *convPlan
}

func (c *gpuConv) forward(beta float64, x, w, y devptr) {
	c.p.forward(c.g.dnn, 1, beta, x, w, y, c.g.ws)
}

func (c *gpuConv) backwardData(w, dy, dx devptr) { c.p.backwardData(c.g.dnn, 1, 1, w, dy, dx, c.g.ws) }

func (c *gpuConv) backwardFilter(x, dy, dw devptr) {
	c.p.backwardFilter(c.g.dnn, 1, 1, x, dy, dw, c.g.ws)
}
