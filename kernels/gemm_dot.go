package kernels

import (
	"sync"
	"unsafe"

	"hesscope/internal/workers"
	"hesscope/tensor"
)

// The unpacked path for C = alpha·A·Bᵀ + beta·C (Gemm with transB and not
// transA), where the rows of both A (m×k) and B (n×k) run along the inner
// dimension. The packed driver would have to transpose both operands into
// its panels, element by element; here a tile kernel reads mr rows of A and
// nr rows of B where they lie, a vector of each at a time, and keeps one
// vector of partial sums per element of its mr×nr tile, reduced to the sum
// at the end. Nothing is packed: the thin products of a convolution's weight
// gradient, ȳ·im2col(x)ᵀ with few rows (output channels) and a long inner
// dimension (pixels), spend their time in the FMAs instead of transposing.
//
// For each kc-deep slice of the inner dimension the driver walks B's rows nr
// at a time (kept in L1 for the slice) and, for each, A's rows mr at a time
// (streamed from L2), adding each tile's sums into C. The last k mod lanes
// columns are copied, zero-padded, into one vector's width and go through
// the same tile. Every element of C is thus summed in an order fixed by k,
// kc and the kernel alone; the parallel split (whole tiles per goroutine)
// never changes it, so results are bit-identical for any number of
// goroutines.

// dotTile computes the mr×nr sums s[j*4+i] = Σ_{p<steps·lanes} a_i[p]·b_j[p]
// for the row pointers a[:mr] and b[:nr], each row holding steps·lanes
// elements; s has room for four rows of every column.
type dotTile[T tensor.Float] func(steps int, a *[4]unsafe.Pointer, b *[6]unsafe.Pointer, s *[24]T)

// dotKernel is a dot-product tile kernel with its tile (mr×nr, mr ≤ 4,
// nr ≤ 6), the number of elements of a row that one step reads (lanes) and
// the depth of a slice (kc, a multiple of lanes).
type dotKernel[T tensor.Float] struct {
	name          string
	mr, nr, lanes int
	kc            int
	tile          dotTile[T]
}

// dotTails keeps the buffers of the zero-padded tails (*[]float32 or
// *[]float64) between calls.
var dotTails sync.Pool

// dotScratch is dotSerial's per-call state that the tile kernel receives
// by pointer: B's row pointers, the tile's sums and A's row pointers for
// up to 132 rows. dotScratches keeps them (*dotScratch[float32] or
// [float64]) between calls.
type dotScratch[T tensor.Float] struct {
	bp [6]unsafe.Pointer
	s  [24]T
	ap [132]unsafe.Pointer
}

var dotScratches sync.Pool

// dotTileGeneric is the pure-Go tile kernel for any mr ≤ 4, nr ≤ 6 and lanes:
// the twin of every assembly dot kernel, with the same lane-wise partial
// sums; the reduction of the lanes is sequential here (the assembly ones
// reduce pairwise, so the last bits may differ between the two).
func dotTileGeneric[T tensor.Float](mr, nr, lanes, steps int, a *[4]unsafe.Pointer, b *[6]unsafe.Pointer, s *[24]T) {
	n := steps * lanes
	for j := 0; j < nr; j++ {
		bj := unsafe.Slice((*T)(b[j]), n)
		for i := 0; i < mr; i++ {
			ai := unsafe.Slice((*T)(a[i]), n)
			var sum T
			for l := 0; l < lanes; l++ {
				var part T
				for p := l; p < n; p += lanes {
					part += ai[p] * bj[p]
				}
				sum += part
			}
			s[j*4+i] = sum
		}
	}
}

// dot4x4 is the pure-Go tile kernel: a 4×4 tile with one lane (sixteen
// plain sums, held in registers).
func dot4x4[T tensor.Float](steps int, a *[4]unsafe.Pointer, b *[6]unsafe.Pointer, s *[24]T) {
	a0, a1 := unsafe.Slice((*T)(a[0]), steps), unsafe.Slice((*T)(a[1]), steps)
	a2, a3 := unsafe.Slice((*T)(a[2]), steps), unsafe.Slice((*T)(a[3]), steps)
	b0, b1 := unsafe.Slice((*T)(b[0]), steps), unsafe.Slice((*T)(b[1]), steps)
	b2, b3 := unsafe.Slice((*T)(b[2]), steps), unsafe.Slice((*T)(b[3]), steps)
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	var c20, c21, c22, c23, c30, c31, c32, c33 T
	for p := range a0 {
		x0, x1, x2, x3 := a0[p], a1[p], a2[p], a3[p]
		y := b0[p]
		c00 += x0 * y
		c10 += x1 * y
		c20 += x2 * y
		c30 += x3 * y
		y = b1[p]
		c01 += x0 * y
		c11 += x1 * y
		c21 += x2 * y
		c31 += x3 * y
		y = b2[p]
		c02 += x0 * y
		c12 += x1 * y
		c22 += x2 * y
		c32 += x3 * y
		y = b3[p]
		c03 += x0 * y
		c13 += x1 * y
		c23 += x2 * y
		c33 += x3 * y
	}
	s[0], s[1], s[2], s[3] = c00, c10, c20, c30
	s[4], s[5], s[6], s[7] = c01, c11, c21, c31
	s[8], s[9], s[10], s[11] = c02, c12, c22, c32
	s[12], s[13], s[14], s[15] = c03, c13, c23, c33
}

func newGenericDot[T tensor.Float]() *dotKernel[T] {
	return &dotKernel[T]{name: "generic", mr: 4, nr: 4, lanes: 1, kc: 512, tile: dot4x4[T]}
}

// useDot reports whether the unpacked path should compute an m×n×k product
// C = A·Bᵀ: when it has few rows or columns (so that packing, which
// transposes both operands, would weigh as much as the multiply-adds) and
// is deep enough to fill the tile's vectors. With 97–128 rows or columns
// it is used only for deep products: the packed path's tiles are then as
// cheap to fill and it reduces no lanes. Measured on AVX-512: BenchmarkGemmDot
// puts the two paths within the noise of each other (±10 %) on 128-row
// products 128–600 deep, this one ahead on 96×864×512 (181 against 157–164
// GFLOP/s); on c2, whose 128-channel weight gradients are 288–600 deep,
// the packed path took BenchmarkModels from 0.385 to 0.36–0.37 cpu-s per
// gradient and from 1.00–1.09 to 0.91–0.97 per HVP.
func (d *dotKernel[T]) useDot(m, n, k int) bool {
	thin := min(m, n)
	return d != nil && (dotAlways || k >= 4*d.lanes && (thin <= dotMaxThin || thin <= 128 && k >= 1024))
}

var (
	// dotMaxThin is the largest min(m, n) of a product for the unpacked
	// path whatever its depth.
	dotMaxThin = 96
	// dotAlways, for tests, sends every A·Bᵀ down the unpacked path.
	dotAlways = false
)

// gemmDot computes C = alpha·A·Bᵀ + beta·C on procs goroutines. Row j of
// B starts at b[j·ldb], or at b[rows[j]] if rows is not nil.
func gemmDot[T tensor.Float](d *dotKernel[T], procs, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, rows []int, beta T, c []T, ldc int) {
	tm, tn := ceilDiv(m, d.mr), ceilDiv(n, d.nr)
	pm, pn := splitGrid(procs, tm, tn)
	if pm*pn == 1 {
		dotSerial(d, m, n, k, alpha, a, lda, b, ldb, rows, beta, c, ldc)
		return
	}
	workers.Run(pm*pn, pm*pn, func(t int) {
		r, s := t/pn, t%pn
		i0, i1 := r*tm/pm*d.mr, min((r+1)*tm/pm*d.mr, m)
		j0, j1 := s*tn/pn*d.nr, min((s+1)*tn/pn*d.nr, n)
		if i0 >= i1 || j0 >= j1 {
			return
		}
		if rows != nil {
			dotSerial(d, i1-i0, j1-j0, k, alpha, a[i0*lda:], lda, b, 0, rows[j0:], beta, c[i0*ldc+j0:], ldc)
			return
		}
		dotSerial(d, i1-i0, j1-j0, k, alpha, a[i0*lda:], lda, b[j0*ldb:], ldb, nil, beta, c[i0*ldc+j0:], ldc)
	})
}

// dotSerial runs the blocked loops on the calling goroutine (B's rows as
// gemmDot's).
func dotSerial[T tensor.Float](d *dotKernel[T], m, n, k int, alpha T, a []T, lda int, b []T, ldb int, rows []int, beta T, c []T, ldc int) {
	rowAt := func(j int) int {
		if rows != nil {
			return rows[j]
		}
		return j * ldb
	}
	mr, nr, lanes := d.mr, d.nr, d.lanes
	// The tile's row pointers and sums, which escape through the kernel's
	// function value: pooled, not allocated per call.
	sc, _ := dotScratches.Get().(*dotScratch[T])
	if sc == nil {
		sc = new(dotScratch[T])
	}
	defer dotScratches.Put(sc)
	bp, s := &sc.bp, &sc.s
	// A's row pointers for a slice, the last row repeated up to a whole
	// tile: set once per slice rather than per tile.
	ap := sc.ap[:]
	if mm := ceilDiv(m, mr) * mr; mm > len(ap) {
		ap = make([]unsafe.Pointer, mm)
	}
	// slice multiplies the rows of a and b from column p0 on, kb deep,
	// into C: the first slice scales C by beta, later ones add.
	slice := func(a []T, lda int, b []T, rowAt func(int) int, p0, kb int, first bool) {
		for i := 0; i < ceilDiv(m, mr)*mr; i++ {
			r := min(i, m-1) * lda
			ap[i] = unsafe.Pointer(unsafe.SliceData(a[r+p0 : r+p0+kb]))
		}
		// C += s needs neither alpha nor beta (same bits as the general
		// merge: 1·s is s, and s + 1·c is c + s).
		add := alpha == 1 && (!first || beta == 1)
		for j0 := 0; j0 < n; j0 += nr {
			cols := min(nr, n-j0)
			for j := 0; j < nr; j++ {
				r := rowAt(j0 + min(j, cols-1))
				row := b[r+p0 : r+p0+kb]
				bp[j] = unsafe.Pointer(unsafe.SliceData(row))
			}
			for i0 := 0; i0 < m; i0 += mr {
				rows := min(mr, m-i0)
				d.tile(kb/lanes, (*[4]unsafe.Pointer)(ap[i0:]), bp, s)
				switch {
				case add && rows == 4 && cols == 6:
					addDot4x6(c[i0*ldc+j0:], ldc, s)
					continue
				case add && rows == mr && cols == nr:
					addDotTile(c[i0*ldc+j0:], ldc, s, mr, nr)
					continue
				}
				mergeDot(c[i0*ldc+j0:], ldc, s, rows, cols, alpha, beta, first)
			}
		}
	}
	kMain := k - k%lanes
	for p0 := 0; p0 < kMain; p0 += d.kc {
		slice(a, lda, b, rowAt, p0, min(d.kc, kMain-p0), p0 == 0)
	}
	if tail := k - kMain; tail > 0 {
		buf, _ := dotTails.Get().(*[]T)
		if buf == nil {
			buf = new([]T)
		}
		need := (m + n) * lanes
		if cap(*buf) < need {
			*buf = make([]T, need)
		}
		at, bt := (*buf)[:m*lanes], (*buf)[m*lanes:need]
		clear(at)
		clear(bt)
		for i := 0; i < m; i++ {
			copy(at[i*lanes:i*lanes+tail], a[i*lda+kMain:i*lda+k])
		}
		for j := 0; j < n; j++ {
			copy(bt[j*lanes:j*lanes+tail], b[rowAt(j)+kMain:rowAt(j)+k])
		}
		slice(at, lanes, bt, func(j int) int { return j * lanes }, 0, lanes, kMain == 0)
		dotTails.Put(buf)
	}
}

// addDot4x6 adds a whole 4×6 tile's sums s (s[j*4+i]) to C, the common
// case of mergeDot.
func addDot4x6[T tensor.Float](c []T, ldc int, s *[24]T) {
	c0 := c[0*ldc : 0*ldc+6 : 0*ldc+6]
	c1 := c[1*ldc : 1*ldc+6 : 1*ldc+6]
	c2 := c[2*ldc : 2*ldc+6 : 2*ldc+6]
	c3 := c[3*ldc : 3*ldc+6 : 3*ldc+6]
	for j := range 6 {
		c0[j] += s[j*4]
		c1[j] += s[j*4+1]
		c2[j] += s[j*4+2]
		c3[j] += s[j*4+3]
	}
}

// addDotTile adds a whole mr×nr tile's sums s (s[j*4+i]) to C: the other
// kernels' (AVX2's 3×4) common case of mergeDot.
func addDotTile[T tensor.Float](c []T, ldc int, s *[24]T, mr, nr int) {
	for i := 0; i < mr; i++ {
		ci := c[i*ldc : i*ldc+nr]
		for j := range ci {
			ci[j] += s[j*4+i]
		}
	}
}

// mergeDot writes the rows×cols corner of the tile sums s (s[j*4+i]) into
// C: C = alpha·s + beta·C for the first slice (C not read when beta is 0),
// C += alpha·s after it.
func mergeDot[T tensor.Float](c []T, ldc int, s *[24]T, rows, cols int, alpha, beta T, first bool) {
	for i := 0; i < rows; i++ {
		ci := c[i*ldc : i*ldc+cols]
		for j := range ci {
			v := alpha * s[j*4+i]
			switch {
			case !first:
				ci[j] += v
			case beta == 0:
				ci[j] = v
			default:
				ci[j] = v + beta*ci[j]
			}
		}
	}
}
