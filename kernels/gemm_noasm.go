//go:build !amd64 || purego

package kernels

import (
	"unsafe"

	"hesscope/tensor"
)

// The kernels Gemm uses: pure Go.
var (
	kernelF32 = genericF32
	kernelF64 = genericF64
)

// gemmKernelsF32 and gemmKernelsF64 list every kernel this machine can run,
// for tests and benchmarks.
func gemmKernelsF32() []*gemmKernel[float32] { return []*gemmKernel[float32]{genericF32} }
func gemmKernelsF64() []*gemmKernel[float64] { return []*gemmKernel[float64]{genericF64} }

// copyPanel is copyPanelGeneric.
func copyPanel[T tensor.Float](dst []T, w int, src []T, ld, rows, cols int) {
	copyPanelGeneric(dst, w, src, ld, rows, cols)
}

// im2colPerm reports false: no permute kernel.
func im2colPerm[T tensor.Float](dst []T, ld int, x []T, s ConvShape) bool { return false }

// col2imPerm reports false: no permute kernel.
func col2imPerm[T tensor.Float](dst, col []T, ld int, s ConvShape) bool { return false }

// biasPanel is biasPanelGeneric.
func biasPanel[T tensor.Float](dst, src []T, ld, rows, w int, b T) {
	biasPanelGeneric(dst, src, ld, rows, w, b)
}

// copyPanelS2 is copyPanelS2Generic.
func copyPanelS2[T tensor.Float](dst []T, w int, src []T, ld, rows, cols int) {
	copyPanelS2Generic(dst, w, src, ld, rows, cols)
}

// addPanelS2 is addPanelS2Generic.
func addPanelS2[T tensor.Float](dst []T, ldDst int, src []T, ldSrc, rows, n int) {
	addPanelS2Generic(dst, ldDst, src, ldSrc, rows, n)
}

// addPanel is addPanelGeneric.
func addPanel[T tensor.Float](dst []T, ldDst int, src []T, ldSrc, rows, n int) {
	addPanelGeneric(dst, ldDst, src, ldSrc, rows, n)
}

// addWindows is addWindowsGeneric.
func addWindows[T tensor.Float](dst, src []T, offs *[8]int, masks *[8]uint16, rows, ldDst, ldSrc, kw, w int) {
	addWindowsGeneric(dst, src, offs, masks, rows, ldDst, ldSrc, kw, w)
}

// transPanel is transPanelGeneric.
func transPanel[T tensor.Float](dst []T, w int, src []T, ld, kb, rows int) {
	transPanelGeneric(dst, w, src, ld, kb, rows)
}

// winogradAsm reports false: no assembly transforms.
func winogradAsm() bool { return false }

func winogradIn32(dst []float32, ld, xiStride int, x []float32, s ConvShape) {
	winogradInGeneric(dst, ld, xiStride, x, s)
}

func winogradOut32(y, m []float32, ld, xiStride, o, oh, ow int, bias []float32, add bool) {
	winogradOutGeneric(y, m, ld, xiStride, o, oh, ow, bias, add)
}

// winogradOutT32 reports false: no assembly transform.
func winogradOutT32(dst []float32, ld, xiStride int, y []float32, o, oh, ow int) bool { return false }

// winogradWeights32 reports false: no assembly transform.
func winogradWeights32(dst, w []float32, count, n int) bool { return false }

// winogradWeightsAdd32 reports false: no assembly transform.
func winogradWeightsAdd32(wBar, m []float32, count, n int) bool { return false }

// channelsLastRow reports false: no transpose kernel.
func channelsLastRow[T tensor.Float](dst, x []T, c, plane, w int) bool { return false }

// winoVertLanes reports 0: no assembly transforms.
func winoVertLanes() int { return 0 }

// winoVertAsm is never called without assembly.
func winoVertAsm(op int, dst, src unsafe.Pointer, n, count, srcStep, dstStep, srcStride, dstStride int) int {
	panic("kernels: no assembly Winograd transforms")
}

// wino6RowTiles reports 0: no assembly transform.
func wino6RowTiles() int { return 0 }

// wino6Rows32 reports false: no assembly transform.
func wino6Rows32(dst []float32, ld int, x []float32, s ConvShape, step int) bool { return false }

// winoBlocks32 reports false: no assembly transform.
func winoBlocks32(blk, y []float32, ld, ty, tx int) bool { return false }

func outerAsm() bool { return false }

func outerStrip(transA bool, rows int, set bool, k, n int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	panic("kernels: outerStrip without assembly")
}
