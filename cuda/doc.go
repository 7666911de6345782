// Package cuda runs hesscope's forward-over-reverse passes on an NVIDIA GPU:
// loss, gradient and Hessian-vector product with respect to the parameters
// of a zoo model, in float32 or float64, behind hessian's operators (an
// Engine), so that every solver works unchanged.
//
// It needs no cgo. The CUDA driver (libcuda.so.1), cuBLAS and cuDNN are
// loaded at run time with github.com/ebitengine/purego, so the package is
// built only with the build tag cuda (go build -tags cuda); a binary built
// that way links libc dynamically, while the default build stays one static
// binary without this package's code. Libraries are searched on the system
// library path, then in the folders listed in HESSCOPE_CUDA_LIB_DIR, then
// in the nvidia wheels of the python3 on PATH (PyTorch's CUDA libraries).
//
// Without a GPU the package's tests run the evaluator on a host emulation
// (the same kernels compiled for the CPU with g++), which checks its algebra
// against the CPU engine; the tests that need a GPU skip with a message.
//
// The element-wise kernels (ReLU, max-pool, BatchNorm in eval mode, the
// softmax cross-entropy, bias adds, global average pooling) are CUDA C in
// kernels/kernels.cu, compiled to PTX by kernels/gen.py and embedded;
// matrix products are cuBLAS GEMMs and convolutions cuDNN's, with
// deterministic algorithms and without tensor cores (no TF32), so that
// results are reproducible bit for bit and float32 is true float32.
package cuda
