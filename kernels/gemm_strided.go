package kernels

import (
	"sync"
	"unsafe"

	"hesscope/internal/workers"
	"hesscope/tensor"
)

// The unpacked-B path for thin products C = alpha·op(A)·B + beta·C (Gemm
// without transB, and GemmRows) with few rows: a convolution's W·im2col(x),
// O output channels by many pixels. The packed driver copies every kc×nr
// block of B into a panel to be read by ⌈m/mr⌉ tiles only, so for thin
// products the copy costs about as much as the multiply-adds; here the
// micro-kernel reads B's rows where they lie (row p at a table's offset, so
// that they need not be evenly spaced: GemmRows reads a convolution's
// shifted image rows in place), masked at the right edge, and only the small
// op(A) is packed, into mr-row panels: mr = 8 with AVX-512 (output channel
// counts are multiples of 8, so no tile is padded), 6 with AVX2, whose 16
// registers hold no 8-row tile of two vectors per row.
//
// For each kc-deep slice, op(A) is packed whole and every nr-column block of
// B meets every A panel in turn (the block stays in L1 meanwhile). Every C
// element is summed in the same order (the slices in turn, each by one
// micro-kernel call) whichever goroutine computes it, so results are
// bit-identical for any number of goroutines.

// stridedKernel is a micro-kernel that reads B unpacked: microKernel's
// contract with row p of b at off[p] bytes from b's first element instead
// of b[p*nr:], for any 1 ≤ rows ≤ mr, 1 ≤ cols ≤ nr, reading no element of
// b past column cols of a row. off holds k+4 entries (the last four are
// only prefetched from).
type stridedKernel[T tensor.Float] struct {
	name   string
	mr, nr int
	kc     int
	micro  func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int, off *int)
	// wide, if non-nil, is the same kernel with an mr×wideNR tile, which
	// broadcasts each value of A to more columns (see useWide). Each
	// element is summed in the same order by both, so the bits agree.
	wide             func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int, off *int)
	wideNR, wideMinN int
	// edge, if non-nil, is the same kernel with an mr×edgeNR tile for the
	// right edge of a product where at most edgeNR columns are left: the
	// masked columns of an mr×nr tile cost their multiply-adds all the
	// same. Each element is summed in the same order, so the bits agree.
	edge   func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int, off *int)
	edgeNR int
	// short, if its mr is set, holds the kernels for the first short.mr
	// rows of a panel: the last panel of a product whose rows leave at
	// most short.mr there (LeNet-5's 50 and 20 channels, in 8- or 6-row panels)
	// costs about half a whole one.
	short stridedShort[T]
	// pageRows reports whether B's rows may lie a multiple of 4 KiB apart.
	// Such rows fall into the same few cache sets, so a kc×nr block of B
	// no longer stays in cache between the A panels that read it; the
	// AVX2 kernel then runs slower than the packed path (0.64–0.97× at
	// n = 1024 float32, against 1.0–1.8× at other widths).
	pageRows bool
}

// stridedShort are the kernels of a stridedKernel (micro, and wide and
// edge where it has them) for the first mr rows of its panels: they read
// the same panels and sum each element in the same order, so the bits
// agree.
type stridedShort[T tensor.Float] struct {
	mr                int
	micro, wide, edge func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int, off *int)
}

// kernelFor returns the kernel for a tile of rows×cols, wide if s's wide
// tiles are in use.
func (s *stridedKernel[T]) kernelFor(wide bool, rows, cols int) func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int, off *int) {
	short := rows <= s.short.mr
	switch {
	case wide && cols > s.nr:
		if short {
			return s.short.wide
		}
		return s.wide
	case s.edge != nil && cols <= s.edgeNR:
		if short {
			return s.short.edge
		}
		return s.edge
	case short:
		return s.short.micro
	}
	return s.micro
}

var (
	// stridedMaxM is the most rows of a product for the unpacked-B path.
	stridedMaxM = 128
	// stridedAlways, for tests, sends every product without transB down
	// the unpacked-B path (where the kernel has one).
	stridedAlways = false
	// stridedPacks keeps packed A buffers (*[]float32 or *[]float64).
	stridedPacks sync.Pool
)

// useStrided reports whether the unpacked-B path should compute an m×n×k
// product whose B has rows evenly step elements apart (0: unevenly): few
// rows, enough columns and depth to fill its tiles, and rows the kernel
// reads well.
func (s *stridedKernel[T]) useStrided(m, n, k, step int) bool {
	if s == nil {
		return false
	}
	if stridedAlways {
		return true
	}
	if !s.pageRows && step != 0 && step*int(unsafe.Sizeof(T(0)))%4096 == 0 {
		return false
	}
	return m <= stridedMaxM && n >= 2*s.nr && k >= 16
}

// useWide reports whether a product n columns wide, computed on procs
// goroutines, runs in s's wide tiles: when the wide tiles compute no more
// columns than the narrow ones (tiledCols) and, on several goroutines,
// the product has at least wideMinN columns, so that each still gets
// several tiles. Measured with AVX-512, float32: BenchmarkGemmStrided 2–20
// % faster than 8×32 tiles (its "narrow" path) on the zoo's wide
// products; BenchmarkConv2d C2's 30×30 layer's forward −9 %, ResNet-20's
// first stage's vjp-x −10 %, the narrower layers within the noise.
func (s *stridedKernel[T]) useWide(n, procs int) bool {
	if s == nil || s.wide == nil || procs > 1 && n < s.wideMinN {
		return false
	}
	return s.tiledCols(n, s.wideNR) <= s.tiledCols(n, s.nr)
}

// tiledCols returns the columns that tiles nr wide (s.nr or s.wideNR)
// compute for a product n columns wide: at the right edge, the narrowest
// of s's kernels that covers the columns left (a masked column costs its
// multiply-adds all the same).
func (s *stridedKernel[T]) tiledCols(n, nr int) int {
	cols := n / nr * nr
	switch rest := n - cols; {
	case rest == 0:
	case s.edge != nil && rest <= s.edgeNR:
		cols += s.edgeNR
	case rest <= s.nr:
		cols += s.nr
	default:
		cols += nr
	}
	return cols
}

// rowStep returns the distance between successive rows of B, or 0 if they
// are not evenly spaced.
func rowStep(rows []int) int {
	if len(rows) < 2 {
		return 0
	}
	step := rows[1] - rows[0]
	for p := 2; p < len(rows); p++ {
		if rows[p]-rows[p-1] != step {
			return 0
		}
	}
	return step
}

// gemmStrided computes C = alpha·op(A)·B + beta·C on procs goroutines,
// where row p of B is b[rows[p]:rows[p]+n] (the caller has checked that
// these lie in b).
func gemmStrided[T tensor.Float](s *stridedKernel[T], pre *panelSet[T], procs int, transA bool, m, n, k int, alpha T, a []T, lda int, b []T, rows []int, beta T, c []T, ldc int) {
	// The kernel's table: byte offsets, four more entries to prefetch.
	offBuf := getInts(k + 4)
	defer putInts(offBuf)
	off := *offBuf
	size := int(unsafe.Sizeof(T(0)))
	for p, r := range rows[:k] {
		off[p] = r * size
	}
	for p := k; p < k+4; p++ {
		off[p] = off[k-1]
	}
	wide := s.useWide(n, procs)
	nr := s.nr
	if wide {
		nr = s.wideNR
	}
	tm, tn := ceilDiv(m, s.mr), ceilDiv(n, nr)
	pm, pn := splitGrid(procs, tm, tn)
	if pm*pn == 1 {
		stridedSerial(s, wide, pre, 0, transA, m, n, k, alpha, a, lda, b, off, beta, c, ldc)
		return
	}
	workers.Run(pm*pn, pm*pn, func(t int) {
		r, q := t/pn, t%pn
		i0, i1 := r*tm/pm*s.mr, min((r+1)*tm/pm*s.mr, m)
		j0, j1 := q*tn/pn*nr, min((q+1)*tn/pn*nr, n)
		if i0 >= i1 || j0 >= j1 {
			return
		}
		aOff := i0 * lda
		if transA {
			aOff = i0
		}
		stridedSerial(s, wide, pre, i0/s.mr, transA, i1-i0, j1-j0, k, alpha, a[aOff:], lda, b[j0:], off, beta, c[i0*ldc+j0:], ldc)
	})
}

// intPool keeps offset tables.
var intPool sync.Pool

func getInts(n int) *[]int {
	b, _ := intPool.Get().(*[]int)
	if b == nil {
		b = new([]int)
	}
	if cap(*b) < n {
		*b = make([]int, n)
	}
	*b = (*b)[:n]
	return b
}

func putInts(b *[]int) { intPool.Put(b) }

// stridedSerial runs the unpacked-B loops on the calling goroutine, with
// row p of B at off[p] bytes from b's first element, in s's wide tiles if
// wide is set. If pre is non-nil, it holds op(A) packed whole and this
// block's rows start at its panel q0.
func stridedSerial[T tensor.Float](s *stridedKernel[T], wide bool, pre *panelSet[T], q0 int, transA bool, m, n, k int, alpha T, a []T, lda int, b []T, off []int, beta T, c []T, ldc int) {
	mr, nr := s.mr, s.nr
	if wide {
		nr = s.wideNR
	}
	panels := ceilDiv(m, mr)
	var buf *[]T
	if pre == nil {
		buf, _ = stridedPacks.Get().(*[]T)
		if buf == nil {
			buf = new([]T)
		}
		if need := panels * mr * s.kc; cap(*buf) < need {
			*buf = make([]T, need)
		}
		defer stridedPacks.Put(buf)
	}
	for pc := 0; pc < k; pc += s.kc {
		kb := min(s.kc, k-pc)
		betaP := beta
		if pc > 0 {
			betaP = 1
		}
		var aPack []T
		if pre != nil {
			aPack = pre.at(pc, kb, q0)[:panels*mr*kb]
		} else {
			aPack = (*buf)[:panels*mr*kb]
			packA(aPack, mr, transA, a, lda, 0, m, pc, kb, 0, panels)
		}
		for j := 0; j < n; j += nr {
			cols := min(nr, n-j)
			for pa := 0; pa < panels; pa++ {
				rows := min(mr, m-pa*mr)
				_ = c[(pa*mr+rows-1)*ldc+j+cols-1]
				micro := s.kernelFor(wide, rows, cols)
				micro(kb, aPack[pa*mr*kb:(pa+1)*mr*kb], b[j:], c[pa*mr*ldc+j:], ldc, alpha, betaP, rows, cols, &off[pc])
			}
		}
	}
}

// GemmRows computes C = alpha·op(A)·B + beta·C like Gemm without transB,
// where row p of the k×n matrix B is b[rows[p] : rows[p]+n]: rows may be
// spaced unevenly and overlap. A convolution with stride 1 reads its
// column matrix so from a zero-padded image, without building it (row
// (c, i, j) of the column matrix is the padded image shifted by (i, j)).
// Thin products run on the unpacked-B path; others, and machines without
// its kernel, gather B into a matrix and call Gemm. Results are
// bit-identical for any number of goroutines. GemmRows panics on bad sizes
// or rows outside b.
func GemmRows[T tensor.Float](transA bool, m, n, k int, alpha T, a []T, lda int, b []T, rows []int, beta T, c []T, ldc int) {
	checkRows(transA, m, n, k, len(a), lda, b, rows, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(beta, c, m, n, ldc)
		return
	}
	gemmRows(kernelOf[T](), nil, transA, m, n, k, alpha, a, lda, b, rows, beta, c, ldc)
}

// StridedRows reports whether GemmRows reads B's rows where they lie (its
// unpacked-B path) for an m×n×k product with unevenly spaced rows;
// otherwise it gathers them into a matrix first.
func StridedRows[T tensor.Float](m, n, k int) bool {
	return m > 0 && n > 0 && k > 0 && kernelOf[T]().strided.useStrided(m, n, k, 0)
}

// gemmRows is GemmRows on kernel g after the checks, for k > 0 and alpha ≠
// 0; pa, if non-nil, is op(A) already packed.
func gemmRows[T tensor.Float](g *gemmKernel[T], pa *PackedA[T], transA bool, m, n, k int, alpha T, a []T, lda int, b []T, rows []int, beta T, c []T, ldc int) {
	if s := g.strided; s.useStrided(m, n, k, rowStep(rows[:k])) {
		procs, done := gemmProcsFor(m, n, k)
		gemmStrided(s, pa.stridedPanels(), procs, transA, m, n, k, alpha, a, lda, b, rows, beta, c, ldc)
		done()
		return
	}
	bm := make([]T, k*n)
	for p, r := range rows[:k] {
		copy(bm[p*n:(p+1)*n], b[r:r+n])
	}
	gemmBlocked(g, pa, transA, false, m, n, k, alpha, a, lda, bm, n, beta, c, ldc)
}
