//go:build cuda

package cuda

import (
	_ "embed"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// The CUDA driver API functions used, bound by loadDriver.
var (
	cuInit                   func(flags uint32) int32
	cuDriverGetVersion       func(v *int32) int32
	cuDeviceGetCount         func(n *int32) int32
	cuDeviceGet              func(d *int32, ordinal int32) int32
	cuDeviceGetName          func(name *byte, n int32, dev int32) int32
	cuDevicePrimaryCtxRetain func(ctx *uintptr, dev int32) int32
	cuCtxSetCurrent          func(ctx uintptr) int32
	cuCtxSynchronize         func() int32
	cuModuleLoadData         func(mod *uintptr, image *byte) int32
	cuModuleGetFunction      func(f *uintptr, mod uintptr, name *byte) int32
	cuMemAlloc               func(p *uint64, size uint64) int32
	cuMemFree                func(p uint64) int32
	cuMemcpyHtoD             func(dst uint64, src unsafe.Pointer, n uint64) int32
	cuMemcpyDtoH             func(dst unsafe.Pointer, src uint64, n uint64) int32
	cuMemsetD8               func(dst uint64, v uint8, n uint64) int32
	cuLaunchKernel           func(f uintptr, gx, gy, gz, bx, by, bz, shmem uint32, stream uintptr, params, extra unsafe.Pointer) int32
	cuGetErrorString         func(r int32, s **byte) int32
)

//go:embed kernels/kernels.ptx
var kernelsPTX string

// Device is the first GPU, with the primary context and the module of
// hesscope's kernels loaded. It is shared by every evaluator of the
// process; Open returns it.
type Device struct {
	Name          string // as the driver names it, e.g. "NVIDIA H200"
	DriverVersion int    // CUDA version of the driver, 1000·major + 10·minor
	ctx           uintptr
	mod           uintptr
	mu            sync.Mutex
	kernels       map[string]uintptr
}

var (
	openOnce sync.Once
	device   *Device
	openErr  error
)

// Open loads the CUDA driver, initialises the first GPU and loads the
// kernels, once per process. Without a driver or a GPU it returns a
// one-line error naming what is missing.
func Open() (*Device, error) {
	openOnce.Do(func() { device, openErr = open() })
	return device, openErr
}

func open() (*Device, error) {
	lib, err := openLib("the CUDA driver", []string{"libcuda.so.1", "libcuda.so"})
	if err != nil {
		return nil, err
	}
	if err := bind(lib, "libcuda", map[string]any{
		"cuInit": &cuInit, "cuDriverGetVersion": &cuDriverGetVersion,
		"cuDeviceGetCount": &cuDeviceGetCount, "cuDeviceGet": &cuDeviceGet,
		"cuDeviceGetName": &cuDeviceGetName, "cuDevicePrimaryCtxRetain": &cuDevicePrimaryCtxRetain,
		"cuCtxSetCurrent": &cuCtxSetCurrent, "cuCtxSynchronize": &cuCtxSynchronize,
		"cuModuleLoadData": &cuModuleLoadData, "cuModuleGetFunction": &cuModuleGetFunction,
		"cuMemAlloc_v2": &cuMemAlloc, "cuMemFree_v2": &cuMemFree,
		"cuMemcpyHtoD_v2": &cuMemcpyHtoD, "cuMemcpyDtoH_v2": &cuMemcpyDtoH,
		"cuMemsetD8_v2": &cuMemsetD8, "cuLaunchKernel": &cuLaunchKernel,
		"cuGetErrorString": &cuGetErrorString,
	}); err != nil {
		return nil, err
	}
	if err := drv(cuInit(0), "cuInit"); err != nil {
		return nil, err
	}
	var n, ver int32
	if err := drv(cuDeviceGetCount(&n), "cuDeviceGetCount"); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errNoDevice
	}
	cuDriverGetVersion(&ver)
	var dev int32
	if err := drv(cuDeviceGet(&dev, 0), "cuDeviceGet"); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	cuDeviceGetName(&name[0], int32(len(name)), dev)
	d := &Device{Name: goString(&name[0]), DriverVersion: int(ver), kernels: map[string]uintptr{}}
	if err := drv(cuDevicePrimaryCtxRetain(&d.ctx, dev), "cuDevicePrimaryCtxRetain"); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.setCurrent(); err != nil {
		return nil, err
	}
	image := append([]byte(kernelsPTX), 0)
	if err := drv(cuModuleLoadData(&d.mod, &image[0]), "cuModuleLoadData (the embedded PTX)"); err != nil {
		return nil, fmt.Errorf("%w (driver CUDA %d.%d; the PTX needs 12.9 or later)", err, ver/1000, ver%1000/10)
	}
	return d, nil
}

// setCurrent makes the device's context current on the calling OS thread,
// which the caller has locked.
func (d *Device) setCurrent() error { return drv(cuCtxSetCurrent(d.ctx), "cuCtxSetCurrent") }

// drv turns a CUresult into an error naming the call.
func drv(r int32, call string) error {
	if r == 0 {
		return nil
	}
	var s *byte
	msg := "unknown error"
	if cuGetErrorString != nil && cuGetErrorString(r, &s) == 0 && s != nil {
		msg = goString(s)
	}
	return fmt.Errorf("cuda: %s: %s (CUresult %d)", call, msg, r)
}

// must panics with err unless it is nil: a failure of the device in the
// middle of a pass, which no caller can repair.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// kernel returns the function name of the module.
func (d *Device) kernel(name string) uintptr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.kernels[name]; ok {
		return f
	}
	var f uintptr
	cname := append([]byte(name), 0)
	must(drv(cuModuleGetFunction(&f, d.mod, &cname[0]), "cuModuleGetFunction "+name))
	d.kernels[name] = f
	return f
}

// devptr is an address in GPU memory.
type devptr uint64

// buffer is a block of GPU memory.
type buffer struct {
	ptr   devptr
	bytes int
}

func alloc(bytes int) buffer {
	var p uint64
	must(drv(cuMemAlloc(&p, uint64(max(bytes, 1))), fmt.Sprintf("cuMemAlloc of %d bytes", bytes)))
	return buffer{ptr: devptr(p), bytes: bytes}
}

func (b *buffer) free() {
	if b.ptr != 0 {
		cuMemFree(uint64(b.ptr))
		b.ptr, b.bytes = 0, 0
	}
}

// zero clears bytes bytes at p.
func zero(p devptr, bytes int) {
	if bytes > 0 {
		must(drv(cuMemsetD8(uint64(p), 0, uint64(bytes)), "cuMemsetD8"))
	}
}

// launchArgs holds the parameters of one kernel launch: each value in
// vals, and in ptrs the address of each, as cuLaunchKernel reads them.
type launchArgs struct {
	vals [16]uint64
	ptrs [16]unsafe.Pointer
}

// threads is the block size of every kernel launch (the reductions rely on
// it: RED_THREADS in kernels.cu).
const threads = 256

// launch runs kernel name on blocks blocks of threads threads with args:
// int (passed as a C int), float64 (double) or devptr (a pointer).
func (d *Device) launch(name string, blocks int, args ...any) {
	if blocks <= 0 {
		return
	}
	a := new(launchArgs)
	if len(args) > len(a.vals) {
		panic(fmt.Sprintf("cuda: %d kernel arguments", len(args)))
	}
	for i, v := range args {
		switch v := v.(type) {
		case int:
			if v < math.MinInt32 || v > math.MaxInt32 {
				panic(fmt.Sprintf("cuda: kernel %s argument %d = %d does not fit a C int", name, i, v))
			}
			a.vals[i] = uint64(uint32(int32(v)))
		case float64:
			a.vals[i] = math.Float64bits(v)
		case devptr:
			a.vals[i] = uint64(v)
		default:
			panic(fmt.Sprintf("cuda: kernel argument of type %T", v))
		}
		a.ptrs[i] = unsafe.Pointer(&a.vals[i])
	}
	f := d.kernel(name)
	must(drv(cuLaunchKernel(f, uint32(blocks), 1, 1, threads, 1, 1, 0, 0, unsafe.Pointer(&a.ptrs[0]), nil), "cuLaunchKernel "+name))
	runtime.KeepAlive(a)
}

// blocksFor returns the number of blocks of a grid-stride loop over n
// elements.
func blocksFor(n int) int { return min((n+threads-1)/threads, 1<<20) }

// synchronize waits for the device to finish.
func synchronize() { must(drv(cuCtxSynchronize(), "cuCtxSynchronize")) }
