//go:build cuda

package cuda

import (
	"fmt"
	"sync"
	"unsafe"
)

// cuDNN functions (the legacy convolution API of cuDNN 9), bound by loadDNN.
var (
	cudnnCreate                     func(h *uintptr) int32
	cudnnDestroy                    func(h uintptr) int32
	cudnnGetErrorString             func(s int32) *byte
	cudnnCreateTensorDescriptor     func(d *uintptr) int32
	cudnnSetTensor4dDescriptor      func(d uintptr, format, dtype, n, c, h, w int32) int32
	cudnnCreateFilterDescriptor     func(d *uintptr) int32
	cudnnSetFilter4dDescriptor      func(d uintptr, dtype, format, k, c, h, w int32) int32
	cudnnCreateConvolutionDesc      func(d *uintptr) int32
	cudnnSetConvolution2dDescriptor func(d uintptr, padH, padW, u, v, dilH, dilW, mode, computeType int32) int32
	cudnnSetConvolutionMathType     func(d uintptr, mathType int32) int32
	cudnnGetConvFwdAlgo             func(h, xd, wd, cd, yd uintptr, req int32, got *int32, perf *algoPerf) int32
	cudnnGetConvBwdDataAlgo         func(h, wd, dyd, cd, dxd uintptr, req int32, got *int32, perf *algoPerf) int32
	cudnnGetConvBwdFilterAlgo       func(h, xd, dyd, cd, dwd uintptr, req int32, got *int32, perf *algoPerf) int32
	cudnnGetConvFwdWorkspace        func(h, xd, wd, cd, yd uintptr, algo int32, size *uint64) int32
	cudnnGetConvBwdDataWorkspace    func(h, wd, dyd, cd, dxd uintptr, algo int32, size *uint64) int32
	cudnnGetConvBwdFilterWorkspace  func(h, xd, dyd, cd, dwd uintptr, algo int32, size *uint64) int32
	cudnnConvolutionForward         func(h uintptr, alpha unsafe.Pointer, xd uintptr, x uint64, wd uintptr, w uint64, cd uintptr, algo int32, ws uint64, wsSize uint64, beta unsafe.Pointer, yd uintptr, y uint64) int32
	cudnnConvolutionBackwardData    func(h uintptr, alpha unsafe.Pointer, wd uintptr, w uint64, dyd uintptr, dy uint64, cd uintptr, algo int32, ws uint64, wsSize uint64, beta unsafe.Pointer, dxd uintptr, dx uint64) int32
	cudnnConvolutionBackwardFilter  func(h uintptr, alpha unsafe.Pointer, xd uintptr, x uint64, dyd uintptr, dy uint64, cd uintptr, algo int32, ws uint64, wsSize uint64, beta unsafe.Pointer, dwd uintptr, dw uint64) int32
)

// algoPerf is cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t (the three
// have the same layout).
type algoPerf struct {
	Algo        int32
	Status      int32
	Time        float32
	Memory      uint64
	Determinism int32
	MathType    int32
	Reserved    [3]int32
}

const (
	dnnNCHW               = 0
	dnnFloat              = 0
	dnnDouble             = 1
	dnnCrossCorrelation   = 1
	dnnDeterministic      = 1
	dnnFMAMath            = 3 // no tensor cores: float32 stays float32 (no TF32)
	dnnTensorOpMath       = 1
	dnnTensorOpMathAllowC = 2
)

var (
	dnnOnce sync.Once
	dnnErr  error
)

// loadDNN loads cuDNN 9 once per process.
func loadDNN() error {
	dnnOnce.Do(func() {
		lib, err := openLib("cuDNN", []string{"libcudnn.so.9"})
		if err != nil {
			dnnErr = err
			return
		}
		dnnErr = bind(lib, "cuDNN", map[string]any{
			"cudnnCreate": &cudnnCreate, "cudnnDestroy": &cudnnDestroy,
			"cudnnGetErrorString":                            &cudnnGetErrorString,
			"cudnnCreateTensorDescriptor":                    &cudnnCreateTensorDescriptor,
			"cudnnSetTensor4dDescriptor":                     &cudnnSetTensor4dDescriptor,
			"cudnnCreateFilterDescriptor":                    &cudnnCreateFilterDescriptor,
			"cudnnSetFilter4dDescriptor":                     &cudnnSetFilter4dDescriptor,
			"cudnnCreateConvolutionDescriptor":               &cudnnCreateConvolutionDesc,
			"cudnnSetConvolution2dDescriptor":                &cudnnSetConvolution2dDescriptor,
			"cudnnSetConvolutionMathType":                    &cudnnSetConvolutionMathType,
			"cudnnGetConvolutionForwardAlgorithm_v7":         &cudnnGetConvFwdAlgo,
			"cudnnGetConvolutionBackwardDataAlgorithm_v7":    &cudnnGetConvBwdDataAlgo,
			"cudnnGetConvolutionBackwardFilterAlgorithm_v7":  &cudnnGetConvBwdFilterAlgo,
			"cudnnGetConvolutionForwardWorkspaceSize":        &cudnnGetConvFwdWorkspace,
			"cudnnGetConvolutionBackwardDataWorkspaceSize":   &cudnnGetConvBwdDataWorkspace,
			"cudnnGetConvolutionBackwardFilterWorkspaceSize": &cudnnGetConvBwdFilterWorkspace,
			"cudnnConvolutionForward":                        &cudnnConvolutionForward,
			"cudnnConvolutionBackwardData":                   &cudnnConvolutionBackwardData,
			"cudnnConvolutionBackwardFilter":                 &cudnnConvolutionBackwardFilter,
		})
	})
	return dnnErr
}

func dnnCheck(s int32, call string) error {
	if s == 0 {
		return nil
	}
	msg := ""
	if cudnnGetErrorString != nil {
		msg = goString(cudnnGetErrorString(s))
	}
	return fmt.Errorf("cuda: cuDNN %s: %s (status %d)", call, msg, s)
}

// newDNN creates a cuDNN handle on the current context.
func newDNN() (uintptr, error) {
	if err := loadDNN(); err != nil {
		return 0, err
	}
	var h uintptr
	return h, dnnCheck(cudnnCreate(&h), "cudnnCreate")
}

// convPlan is one convolution at one batch size: descriptors, the
// deterministic algorithms chosen for its three products and the
// workspace they need.
type convPlan struct {
	x, y, w, conv         uintptr // descriptors of x, y, the filter and the convolution
	fwd, bwdData, bwdFilt int32
	workspace             int
	dtype                 int32
}

// newConvPlan describes the convolution s for data type dtype.
func newConvPlan(h uintptr, dtype int32, s convShape) (*convPlan, error) {
	n, c, hh, ww, o, k, stride, pad, oh, ow := s.n, s.c, s.h, s.w, s.o, s.k, s.stride, s.pad, s.oh, s.ow
	p := &convPlan{dtype: dtype}
	steps := []struct {
		r    int32
		call string
	}{
		{cudnnCreateTensorDescriptor(&p.x), "cudnnCreateTensorDescriptor"},
		{cudnnCreateTensorDescriptor(&p.y), "cudnnCreateTensorDescriptor"},
		{cudnnCreateFilterDescriptor(&p.w), "cudnnCreateFilterDescriptor"},
		{cudnnCreateConvolutionDesc(&p.conv), "cudnnCreateConvolutionDescriptor"},
	}
	for _, s := range steps {
		if err := dnnCheck(s.r, s.call); err != nil {
			return nil, err
		}
	}
	for _, s := range []struct {
		r    int32
		call string
	}{
		{cudnnSetTensor4dDescriptor(p.x, dnnNCHW, dtype, int32(n), int32(c), int32(hh), int32(ww)), "cudnnSetTensor4dDescriptor x"},
		{cudnnSetTensor4dDescriptor(p.y, dnnNCHW, dtype, int32(n), int32(o), int32(oh), int32(ow)), "cudnnSetTensor4dDescriptor y"},
		{cudnnSetFilter4dDescriptor(p.w, dtype, dnnNCHW, int32(o), int32(c), int32(k), int32(k)), "cudnnSetFilter4dDescriptor"},
		{cudnnSetConvolution2dDescriptor(p.conv, int32(pad), int32(pad), int32(stride), int32(stride), 1, 1, dnnCrossCorrelation, dtype), "cudnnSetConvolution2dDescriptor"},
	} {
		if err := dnnCheck(s.r, s.call); err != nil {
			return nil, err
		}
	}
	// float32 convolutions use no tensor cores, which would round the
	// operands to TF32 (float64 keeps cuDNN's default math).
	if dtype == dnnFloat {
		if err := dnnCheck(cudnnSetConvolutionMathType(p.conv, dnnFMAMath), "cudnnSetConvolutionMathType"); err != nil {
			return nil, err
		}
	}
	// cuDNN ranks the algorithms by its heuristics; take the first that
	// works, is deterministic and has the descriptor's math (a tensor-core
	// entry would need another math type).
	pick := func(get func(req int32, got *int32, perf *algoPerf) int32, fallback int32, call string) (int32, error) {
		var perf [16]algoPerf
		var got int32
		if err := dnnCheck(get(int32(len(perf)), &got, &perf[0]), call); err != nil {
			return 0, err
		}
		for _, q := range perf[:got] {
			if q.Status == 0 && q.Determinism == dnnDeterministic && q.MathType != dnnTensorOpMath && q.MathType != dnnTensorOpMathAllowC {
				return q.Algo, nil
			}
		}
		return fallback, nil
	}
	var err error
	if p.fwd, err = pick(func(req int32, got *int32, perf *algoPerf) int32 {
		return cudnnGetConvFwdAlgo(h, p.x, p.w, p.conv, p.y, req, got, perf)
	}, 0, "cudnnGetConvolutionForwardAlgorithm_v7"); err != nil { // 0: IMPLICIT_GEMM
		return nil, err
	}
	if p.bwdData, err = pick(func(req int32, got *int32, perf *algoPerf) int32 {
		return cudnnGetConvBwdDataAlgo(h, p.w, p.y, p.conv, p.x, req, got, perf)
	}, 1, "cudnnGetConvolutionBackwardDataAlgorithm_v7"); err != nil { // 1: ALGO_1, deterministic
		return nil, err
	}
	if p.bwdFilt, err = pick(func(req int32, got *int32, perf *algoPerf) int32 {
		return cudnnGetConvBwdFilterAlgo(h, p.x, p.y, p.conv, p.w, req, got, perf)
	}, 1, "cudnnGetConvolutionBackwardFilterAlgorithm_v7"); err != nil { // 1: ALGO_1, deterministic
		return nil, err
	}
	var a, b, c2 uint64
	if err := dnnCheck(cudnnGetConvFwdWorkspace(h, p.x, p.w, p.conv, p.y, p.fwd, &a), "cudnnGetConvolutionForwardWorkspaceSize"); err != nil {
		return nil, err
	}
	if err := dnnCheck(cudnnGetConvBwdDataWorkspace(h, p.w, p.y, p.conv, p.x, p.bwdData, &b), "cudnnGetConvolutionBackwardDataWorkspaceSize"); err != nil {
		return nil, err
	}
	if err := dnnCheck(cudnnGetConvBwdFilterWorkspace(h, p.x, p.y, p.conv, p.w, p.bwdFilt, &c2), "cudnnGetConvolutionBackwardFilterWorkspaceSize"); err != nil {
		return nil, err
	}
	p.workspace = int(max(a, b, c2))
	return p, nil
}

// scalar returns a pointer to v for cuDNN's scaling factors: a double for
// float64 data, a float otherwise.
func (p *convPlan) scalar(v float64) unsafe.Pointer {
	if p.dtype == dnnDouble {
		return unsafe.Pointer(&v)
	}
	f := float32(v)
	return unsafe.Pointer(&f)
}

// forward computes y = α·conv(x, w) + β·y.
func (p *convPlan) forward(h uintptr, alpha, beta float64, x, w, y devptr, ws buffer) {
	must(dnnCheck(cudnnConvolutionForward(h, p.scalar(alpha), p.x, uint64(x), p.w, uint64(w), p.conv, p.fwd, uint64(ws.ptr), uint64(ws.bytes), p.scalar(beta), p.y, uint64(y)), "cudnnConvolutionForward"))
}

// backwardData adds the x-cotangent of ȳ: dx += convᵀ(w, dy).
func (p *convPlan) backwardData(h uintptr, alpha, beta float64, w, dy, dx devptr, ws buffer) {
	must(dnnCheck(cudnnConvolutionBackwardData(h, p.scalar(alpha), p.w, uint64(w), p.y, uint64(dy), p.conv, p.bwdData, uint64(ws.ptr), uint64(ws.bytes), p.scalar(beta), p.x, uint64(dx)), "cudnnConvolutionBackwardData"))
}

// backwardFilter adds the filter cotangent: dw += Σ x ⋆ dy.
func (p *convPlan) backwardFilter(h uintptr, alpha, beta float64, x, dy, dw devptr, ws buffer) {
	must(dnnCheck(cudnnConvolutionBackwardFilter(h, p.scalar(alpha), p.x, uint64(x), p.y, uint64(dy), p.conv, p.bwdFilt, uint64(ws.ptr), uint64(ws.bytes), p.scalar(beta), p.w, uint64(dw)), "cudnnConvolutionBackwardFilter"))
}
