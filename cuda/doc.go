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
// library path, then in the folder named by HESSCOPE_CUDA_LIB_DIR, then in
// the nvidia wheels of the Python that holds PyTorch.
//
// The element-wise kernels (ReLU, max-pool, BatchNorm in eval mode, the
// softmax cross-entropy, bias adds, global average pooling) are CUDA C in
// kernels/kernels.cu, compiled to PTX by kernels/gen.py and embedded;
// matrix products are cuBLAS GEMMs and convolutions cuDNN's, with
// deterministic algorithms and without tensor cores (no TF32), so that
// results are reproducible bit for bit and float32 is true float32.
package cuda
