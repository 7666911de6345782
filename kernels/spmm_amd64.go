//go:build amd64 && !purego

package kernels

import "unsafe"

//go:generate go -C _asm run . -spmm -out ../spmm_amd64.s
//go:generate go -C _asm run . -spmmdecl -out ../spmm_kernels_amd64.go

// spmmKernel is one of SpMM's assembly kernels (spmm_amd64.s, written by
// _asm/spmm.go): C = S·B (+ S₂·B₂), from zero where set is non-zero and
// from C's values otherwise, for one block of columns of all m rows, nv
// vectors of lanes (the kernel's place in its table), the last one cut to
// tail lanes (1 to lanes). ptr points at ptr[0] of m + 1 row pointers,
// idx, val and val2 at element 0 (the entries of row r at ptr[r] …
// ptr[r+1] − 1), b, b2 and c at the block's first column of row 0; ldb
// and ldc are in bytes. val2 and b2 are read by the pair kernels only. The
// caller has checked every index and length: the assembly checks nothing.
type spmmKernel func(m int, ptr, idx, val, b, val2, b2 unsafe.Pointer, ldb int, c unsafe.Pointer, ldc, tail, set int)

// spmmKernels is one instruction set's kernels for one element type: one
// (S·B) and pair (S·B + S₂·B₂) by vectors − 1, of lanes elements each.
type spmmKernels struct {
	lanes     int
	one, pair []spmmKernel
}

func init() {
	if !hasAVX512 && !hasAVX2 {
		return
	}
	spmmF32 = spmmDispatch[float32](&spmmSAVX512, &spmmSAVX2)
	spmmF64 = spmmDispatch[float64](&spmmDAVX512, &spmmDAVX2)
}

// spmmDispatch returns SpMM's vector kernel for F: avx512's kernels where
// the machine has AVX-512, else avx2's. It reads hasAVX512 at every call,
// as the other kernels' dispatchers do (withISAs turns it off to test the
// AVX2 kernels).
func spmmDispatch[F float32 | float64](avx512, avx2 *spmmKernels) spmmOf[F] {
	return func(m, n int, ptr, idx []int32, val, b []F, ldb int, val2, b2 []F, set bool, c []F, ldc int) {
		k := avx2
		if hasAVX512 {
			k = avx512
		}
		spmmRun(k, m, n, ptr, idx, val, b, ldb, val2, b2, set, c, ldc)
	}
}

// spmmBlockBytes bounds the bytes of B's (and B₂'s) rows that a block of
// columns reads (see spmmRun).
var spmmBlockBytes = 128 << 10

// spmmRun is SpMM on checked arguments with the kernels k: the
// ⌈n/lanes⌉ vectors of a row cut into as few blocks as the widest block
// allows, as even as possible, each run by one call over all rows. The
// widest block is k's widest kernel, or narrower so that the block's
// columns of B's rows (and B₂'s) fit spmmBlockBytes, the kernels' reads
// of B then staying in L1 and L2. BenchmarkSpMM, whose B rows lie 500
// float32 values apart (most vectors straddle two cache lines), measured
// 32 KB 1.3–1.7 times faster than the widest blocks on LeNet-5's conv2
// shapes; with the rows 64-byte aligned, as autodiff's Conv2dMaxPool
// lays them, image by image (B of 64 or 50 rows), the widest blocks
// measured 0.94 of 32 KB's time in LeNet-5's HVP (in one process, 8
// alternations), and 128 KB gives them those shapes. A block's columns
// take no part in another's sums, so the cut changes no element's bits.
func spmmRun[F float32 | float64](k *spmmKernels, m, n int, ptr, idx []int32, val, b []F, ldb int, val2, b2 []F, set bool, c []F, ldc int) {
	size := int(unsafe.Sizeof(F(0)))
	tab := k.one
	var pv2, pb2 unsafe.Pointer
	if val2 != nil {
		tab = k.pair
		pv2, pb2 = unsafe.Pointer(unsafe.SliceData(val2)), unsafe.Pointer(unsafe.SliceData(b2))
	}
	pb, pc := unsafe.Pointer(unsafe.SliceData(b)), unsafe.Pointer(unsafe.SliceData(c))
	s := 0
	if set {
		s = 1
	}
	// At least two vectors: a row of one would wait on the FMAs' latency.
	vbytes := k.lanes * size
	rowsB := ceilDiv(len(b), ldb)
	if val2 != nil {
		rowsB *= 2
	}
	widest := min(len(tab), max(2, spmmBlockBytes/(rowsB*vbytes)))
	vecs := ceilDiv(n, k.lanes)
	blocks := ceilDiv(vecs, widest)
	for blk := 0; blk < blocks; blk++ {
		v0, v1 := blk*vecs/blocks, (blk+1)*vecs/blocks
		j0 := v0 * k.lanes
		tail := min(v1*k.lanes, n) - (v1-1)*k.lanes
		off := uintptr(j0 * size)
		var bb2 unsafe.Pointer
		if pb2 != nil {
			bb2 = unsafe.Add(pb2, off)
		}
		tab[v1-v0-1](m, unsafe.Pointer(unsafe.SliceData(ptr)), unsafe.Pointer(unsafe.SliceData(idx)),
			unsafe.Pointer(unsafe.SliceData(val)), unsafe.Add(pb, off), pv2, bb2,
			ldb*size, unsafe.Add(pc, off), ldc*size, tail, s)
	}
}
