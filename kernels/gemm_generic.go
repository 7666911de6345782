package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"

	"hesscope/internal/workers"
	"hesscope/tensor"
)

// This file holds the blocked GEMM driver that every backend shares, the
// packing routines and the pure-Go micro-kernels. The scheme is Goto's (as in
// BLIS and OpenBLAS): for each kc-deep slice of the product, op(B) is packed
// into kc×nr column panels and op(A) into mr×kc row panels, both zero-padded
// to whole panels, and a register-blocked micro-kernel computes each mr×nr
// tile of C from one A panel and one B panel:
//
//	for jc over n by nc:
//		for pc over k by kc:
//			pack B[pc:pc+kc, jc:jc+nc]                  (kept in L2)
//			for ic over m by mc:
//				pack A[ic:ic+mc, pc:pc+kc]
//				for each A panel:                       (kept in L1)
//					for each B panel:                   (streamed from L2)
//						micro-kernel: C tile = alpha·Ap·Bp + beta'·C tile
//
// beta' is the caller's beta for the first kc slice and 1 after it.
//
// Parallel calls split C into one block per goroutine, on panel boundaries,
// and each goroutine runs the loops above on its block with its own buffers:
// no barriers, at the price of packing some of A or B twice. Every tile is
// computed by the same kernel from the same panels in the same order whoever
// computes it, so the result does not depend on the number of goroutines.

// microKernel computes the mr×nr tile
//
//	C[i*ldc+j] = alpha·Σ_p a[p*mr+i]·b[p*nr+j] + beta·C[i*ldc+j]
//
// for i < rows ≤ mr, j < cols ≤ nr, with the sum taken in order p = 0, 1,
// …, k-1 (starting from zero). With beta = 0, C is only written. a holds k·mr
// and b k·nr elements; c holds the rows×cols corner. mr and nr are fixed for
// each kernel; one without masking (gemmKernel.masked false) requires
// rows = mr and cols = nr.
type microKernel[T tensor.Float] func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int)

// gemmKernel is a micro-kernel with its register tile (mr×nr) and cache
// blocking (kc, mc, nc).
type gemmKernel[T tensor.Float] struct {
	name    string
	mr, nr  int
	kc      int  // depth of a packed slice: an mr×kc A panel fits L1
	mc      int  // rows of A packed at once (multiple of mr)
	nc      int  // columns of a packed B block (multiple of nr): kc×nc fits L2
	masked  bool // micro writes partial tiles itself (else via a temporary tile)
	micro   microKernel[T]
	pools   *gemmPools[T]
	dot     *dotKernel[T]     // the unpacked path for thin A·Bᵀ (nil: none)
	strided *stridedKernel[T] // the unpacked-B path for thin op(A)·B (nil: none)
}

// gemmPools keeps packing buffers between calls.
type gemmPools[T tensor.Float] struct {
	ws sync.Pool // *gemmWorkspace[T]
}

type gemmWorkspace[T tensor.Float] struct {
	aPack, bPack []T
	tile         []T // mr×nr, for edge tiles
}

// workspace returns buffers for g from the pool; put them back with
// g.pools.ws.Put.
func (g *gemmKernel[T]) workspace() *gemmWorkspace[T] {
	w, _ := g.pools.ws.Get().(*gemmWorkspace[T])
	if w == nil {
		w = &gemmWorkspace[T]{
			aPack: make([]T, g.mc*g.kc),
			bPack: make([]T, g.kc*g.nc),
			tile:  make([]T, g.mr*g.nr),
		}
	}
	return w
}

// Tuning knobs shared by all kernels.
var (
	// gemmParallelMin is the m·n·k below which Gemm runs on the calling
	// goroutine only.
	gemmParallelMin = 1 << 20
	// gemmProcs, if positive, fixes the number of goroutines (for tests).
	gemmProcs = 0
	// gemmFanOut counts the large calls in flight.
	gemmFanOut atomic.Int32
)

// gemmBlocked is Gemm on kernel g. If pa is non-nil, it is op(A) (a, lda
// and transA are its), already packed for the paths that pack A.
func gemmBlocked[T tensor.Float](g *gemmKernel[T], pa *PackedA[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	procs, done := gemmProcsFor(m, n, k)
	defer done()
	if !transA && transB && g.dot.useDot(m, n, k) {
		gemmDot(g.dot, procs, m, n, k, alpha, a, lda, b, ldb, nil, beta, c, ldc)
		return
	}
	if !transB && g.strided.useStrided(m, n, k, ldb) {
		rows := getInts(k)
		for p := range *rows {
			(*rows)[p] = p * ldb
		}
		gemmStrided(g.strided, pa.stridedPanels(), procs, transA, m, n, k, alpha, a, lda, b, *rows, beta, c, ldc)
		putInts(rows)
		return
	}
	pre := pa.blockedPanels()
	panM, panN := ceilDiv(m, g.mr), ceilDiv(n, g.nr)
	pm, pn := splitGrid(procs, panM, panN)
	if pm*pn == 1 {
		w := g.workspace()
		gemmSerial(g, w, pre, 0, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		g.pools.ws.Put(w)
		return
	}
	workers.Run(pm*pn, pm*pn, func(t int) {
		r, s := t/pn, t%pn
		i0, i1 := r*panM/pm*g.mr, min((r+1)*panM/pm*g.mr, m)
		j0, j1 := s*panN/pn*g.nr, min((s+1)*panN/pn*g.nr, n)
		if i0 >= i1 || j0 >= j1 {
			return
		}
		aOff, bOff := i0*lda, j0
		if transA {
			aOff = i0
		}
		if transB {
			bOff = j0 * ldb
		}
		w := g.workspace()
		gemmSerial(g, w, pre, i0/g.mr, transA, transB, i1-i0, j1-j0, k, alpha, a[aOff:], lda, b[bOff:], ldb, beta, c[i0*ldc+j0:], ldc)
		g.pools.ws.Put(w)
	})
}

// gemmProcsFor returns the number of goroutines for an m×n×k product and
// the function to call when it is done. Calls from several goroutines at
// once (a layer that is itself parallel) would oversubscribe the CPUs: only
// one large call at a time fans out, and none while a caller holds Busy.
// The split never changes the results.
func gemmProcsFor(m, n, k int) (procs int, done func()) {
	procs, done = 1, func() {}
	if m*n*k >= gemmParallelMin {
		procs = runtime.GOMAXPROCS(0)
		if gemmFanOut.Add(1) > 1 {
			procs = 1
		}
		done = func() { gemmFanOut.Add(-1) }
	}
	if gemmProcs > 0 {
		procs = gemmProcs
	}
	return procs, done
}

// Busy tells the products that the caller keeps every CPU busy with its own
// goroutines (a loop over a batch with one worker per CPU): until release is
// called, products run on their calling goroutine instead of fanning out.
// A fan-out there finds no idle CPU; its helpers only cost hand-offs and
// cut the product into smaller, slower pieces (measured on ResNet-20's
// gradient at 2 threads: 4 % of the wall time and 5 % of the CPU time).
// Calls nest; results are the same bits either way.
func Busy() (release func()) {
	gemmFanOut.Add(1)
	return func() { gemmFanOut.Add(-1) }
}

// splitGrid chooses how many blocks of panels to cut C's rows (pm) and
// columns (pn) into for procs goroutines: as many blocks as possible (at most
// procs, at most one per panel), then the least packing, which is about
// rows/pm + cols/pn.
func splitGrid(procs, panM, panN int) (pm, pn int) {
	pm, pn = 1, 1
	best := -1.0
	for i := 1; i <= procs && i <= panM; i++ {
		j := min(procs/i, panN)
		cost := float64(panM)/float64(i) + float64(panN)/float64(j)
		if i*j > pm*pn || i*j == pm*pn && (best < 0 || cost < best) {
			pm, pn, best = i, j, cost
		}
	}
	return pm, pn
}

// gemmSerial runs the blocked loops on the calling goroutine. If pre is
// non-nil, it holds op(A) packed whole and this block's rows start at its
// panel q0; A is then not packed again.
func gemmSerial[T tensor.Float](g *gemmKernel[T], w *gemmWorkspace[T], pre *panelSet[T], q0 int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	mr, nr := g.mr, g.nr
	for jc := 0; jc < n; jc += g.nc {
		nb := min(g.nc, n-jc)
		nPanB := ceilDiv(nb, nr)
		for pc := 0; pc < k; pc += g.kc {
			kb := min(g.kc, k-pc)
			betaP := beta
			if pc > 0 {
				betaP = 1
			}
			packB(w.bPack, nr, transB, b, ldb, pc, kb, jc, nb, 0, nPanB)
			for ic := 0; ic < m; ic += g.mc {
				mb := min(g.mc, m-ic)
				nPanA := ceilDiv(mb, mr)
				aPack := w.aPack
				if pre != nil {
					aPack = pre.at(pc, kb, q0+ic/mr)
				} else {
					packA(aPack, mr, transA, a, lda, ic, mb, pc, kb, 0, nPanA)
				}
				for pa := 0; pa < nPanA; pa++ {
					i := pa * mr
					mrr := min(mr, mb-i)
					ap := aPack[pa*mr*kb : (pa+1)*mr*kb]
					for pb := 0; pb < nPanB; pb++ {
						j := pb * nr
						nrr := min(nr, nb-j)
						bp := w.bPack[pb*nr*kb : (pb+1)*nr*kb]
						off := (ic+i)*ldc + jc + j
						if g.masked || mrr == mr && nrr == nr {
							g.micro(kb, ap, bp, c[off:], ldc, alpha, betaP, mrr, nrr)
							continue
						}
						g.micro(kb, ap, bp, w.tile, nr, alpha, 0, mr, nr)
						mergeTile(c[off:], ldc, w.tile, nr, mrr, nrr, betaP)
					}
				}
			}
		}
	}
}

// mergeTile computes C = T + beta·C on the top-left mr×nr corner of a tile,
// where C is only written when beta is 0.
func mergeTile[T tensor.Float](c []T, ldc int, t []T, ldt, mr, nr int, beta T) {
	for i := 0; i < mr; i++ {
		ci := c[i*ldc : i*ldc+nr]
		ti := t[i*ldt : i*ldt+nr]
		switch beta {
		case 0:
			copy(ci, ti)
		case 1:
			for j, v := range ti {
				ci[j] += v
			}
		default:
			for j, v := range ti {
				ci[j] = v + beta*ci[j]
			}
		}
	}
}

// packA packs panels q0…q1-1 of rows i0…i0+rows-1, columns p0…p0+kb-1 of
// op(A): panel q holds rows i0+q·mr … i0+q·mr+mr-1 as
//
//	dst[q·mr·kb + p·mr + i] = op(A)[i0+q·mr+i, p0+p]
//
// with rows past i0+rows zero.
func packA[T tensor.Float](dst []T, mr int, trans bool, a []T, lda, i0, rows, p0, kb, q0, q1 int) {
	if trans {
		// op(A)[i, p] = a[p*lda+i]: each p is a contiguous run of a panel.
		for q := q0; q < q1; q++ {
			r := min(mr, rows-q*mr)
			copyPanel(dst[q*mr*kb:(q+1)*mr*kb], mr, a[p0*lda+i0+q*mr:], lda, kb, r)
		}
		return
	}
	// op(A)[i, p] = a[i*lda+p]: rows of A become columns of a panel.
	for q := q0; q < q1; q++ {
		r := min(mr, rows-q*mr)
		transPanel(dst[q*mr*kb:(q+1)*mr*kb], mr, a[(i0+q*mr)*lda+p0:], lda, kb, r)
	}
}

// packB packs panels q0…q1-1 of rows p0…p0+kb-1, columns j0…j0+cols-1 of
// op(B): panel q holds columns j0+q·nr … j0+q·nr+nr-1 as
//
//	dst[q·nr·kb + p·nr + j] = op(B)[p0+p, j0+q·nr+j]
//
// with columns past j0+cols zero.
func packB[T tensor.Float](dst []T, nr int, trans bool, b []T, ldb, p0, kb, j0, cols, q0, q1 int) {
	if !trans {
		// op(B)[p, j] = b[p*ldb+j]: each p is a contiguous run of a panel.
		for q := q0; q < q1; q++ {
			c := min(nr, cols-q*nr)
			copyPanel(dst[q*nr*kb:(q+1)*nr*kb], nr, b[p0*ldb+j0+q*nr:], ldb, kb, c)
		}
		return
	}
	// op(B)[p, j] = b[j*ldb+p]: rows of B become columns of a panel.
	for q := q0; q < q1; q++ {
		c := min(nr, cols-q*nr)
		transPanel(dst[q*nr*kb:(q+1)*nr*kb], nr, b[(j0+q*nr)*ldb+p0:], ldb, kb, c)
	}
}

// transPanelGeneric writes the transpose of rows×kb of src (row stride ld)
// to dst as kb rows of w elements, zero past rows:
//
//	dst[p*w+i] = src[i*ld+p] for i < rows, 0 for rows ≤ i < w.
//
// It is the Go twin of gatherPanelAVX512.
func transPanelGeneric[T tensor.Float](dst []T, w int, src []T, ld, kb, rows int) {
	dst = dst[:kb*w]
	i := 0
	for ; i+4 <= rows; i += 4 { // four rows at a time, for speed
		s0 := src[i*ld : i*ld+kb]
		s1 := src[(i+1)*ld : (i+1)*ld+kb]
		s2 := src[(i+2)*ld : (i+2)*ld+kb]
		s3 := src[(i+3)*ld : (i+3)*ld+kb]
		for p := range s0 {
			d := dst[p*w+i : p*w+i+4 : p*w+i+4]
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; i < rows; i++ {
		s := src[i*ld : i*ld+kb]
		for p, v := range s {
			dst[p*w+i] = v
		}
	}
	for ; i < w; i++ {
		for p := 0; p < kb; p++ {
			dst[p*w+i] = 0
		}
	}
}

// copyPanelS2Generic copies every other element of rows rows of src (row
// stride ld) to dst as rows of w elements, zero past cols:
//
//	dst[r*w+j] = src[r*ld+2*j] for j < cols, 0 for cols ≤ j < w.
//
// It is the Go twin of copyPanelS2AVX512 (the rows of a stride-2 im2col).
func copyPanelS2Generic[T tensor.Float](dst []T, w int, src []T, ld, rows, cols int) {
	for r := 0; r < rows; r++ {
		d := dst[r*w : r*w+w]
		s := src[r*ld : r*ld+2*cols-1]
		for j := range d[:cols] {
			d[j] = s[2*j]
		}
		clear(d[cols:])
	}
}

// addWindowsGeneric adds, for each of rows rows and each window j < kw in
// turn, the source elements under mask j to the destination row:
//
//	dst[r*ldDst+l] += src[r*ldSrc+offs[j]+l] for every bit l of masks[j],
//
// windows in order, so that each element gets its terms in the order of
// one addPanel call per window. It is the Go twin of addWindowsAVX512 (the
// rows of a stride-1 col2im, a window row's kw columns at once: window j
// reaches the image row at its own shift).
func addWindowsGeneric[T tensor.Float](dst, src []T, offs *[8]int, masks *[8]uint16, rows, ldDst, ldSrc, kw, w int) {
	for r := 0; r < rows; r++ {
		d := dst[r*ldDst : r*ldDst+w]
		for j, m := range masks[:kw] {
			for l := range d {
				if m>>l&1 != 0 {
					d[l] += src[r*ldSrc+offs[j]+l]
				}
			}
		}
	}
}

// addPanelGeneric adds n elements of each of rows rows of src (row stride
// ldSrc) to those of dst (row stride ldDst):
//
//	dst[r*ldDst+k] += src[r*ldSrc+k] for k < n.
//
// It is the Go twin of addPanelAVX512 (the rows of a col2im).
func addPanelGeneric[T tensor.Float](dst []T, ldDst int, src []T, ldSrc, rows, n int) {
	addPanelStrided(dst, ldDst, src, ldSrc, rows, n, 1)
}

// addPanelS2Generic adds n elements of each of rows rows of src (row stride
// ldSrc) to every other element of the rows of dst (row stride ldDst):
//
//	dst[r*ldDst+2*k] += src[r*ldSrc+k] for k < n.
//
// It is the Go twin of addPanelS2AVX512 (the rows of a stride-2 col2im).
func addPanelS2Generic[T tensor.Float](dst []T, ldDst int, src []T, ldSrc, rows, n int) {
	addPanelStrided(dst, ldDst, src, ldSrc, rows, n, 2)
}

// addPanelStrided adds n elements of each of rows rows of src (row stride
// ldSrc) to every stride-th element of the rows of dst (row stride ldDst):
//
//	dst[r*ldDst+stride*k] += src[r*ldSrc+k] for k < n.
//
// It is the rows of a col2im at any stride, in Go.
func addPanelStrided[T tensor.Float](dst []T, ldDst int, src []T, ldSrc, rows, n, stride int) {
	for r := 0; r < rows; r++ {
		d := dst[r*ldDst : r*ldDst+stride*(n-1)+1]
		for k, v := range src[r*ldSrc : r*ldSrc+n] {
			d[stride*k] += v
		}
	}
}

// copyPanelGeneric copies rows×cols of src (row stride ld) to dst as rows
// of w elements, zero past cols:
//
//	dst[r*w+j] = src[r*ld+j] for j < cols, 0 for cols ≤ j < w.
//
// It is the Go twin of copyPanelAVX512.
func copyPanelGeneric[T tensor.Float](dst []T, w int, src []T, ld, rows, cols int) {
	for r := 0; r < rows; r++ {
		d := dst[r*w : r*w+w]
		copy(d, src[r*ld:r*ld+cols])
		clear(d[cols:])
	}
}

// biasPanelGeneric writes rows rows of w values of src (row stride ld)
// plus b to dst, back to back:
//
//	dst[r*w+j] = src[r*ld+j] + b.
//
// It is the Go twin of biasPanelAVX512.
func biasPanelGeneric[T tensor.Float](dst, src []T, ld, rows, w int, b T) {
	for r := 0; r < rows; r++ {
		d, s := dst[r*w:r*w+w], src[r*ld:r*ld+w]
		for j, v := range s {
			d[j] = v + b
		}
	}
}

// microGeneric is the reference micro-kernel for any mr×nr: the Go twin of
// every assembly micro-kernel (see microKernel).
func microGeneric[T tensor.Float](mr, nr, k int, a, b, c []T, ldc int, alpha, beta T, rows, cols int) {
	a, b = a[:k*mr], b[:k*nr]
	for i := 0; i < rows; i++ {
		ci := c[i*ldc : i*ldc+cols]
		for j := range ci {
			var s T
			for p := 0; p < k; p++ {
				s += a[p*mr+i] * b[p*nr+j]
			}
			if beta == 0 {
				ci[j] = alpha * s
			} else {
				ci[j] = alpha*s + beta*ci[j]
			}
		}
	}
}

// micro4x4 is the pure-Go micro-kernel: microGeneric with mr = nr = 4
// (rows and cols must be 4), its sixteen sums held in registers.
func micro4x4[T tensor.Float](k int, a, b, c []T, ldc int, alpha, beta T, _, _ int) {
	a, b = a[:4*k], b[:4*k]
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	var c20, c21, c22, c23, c30, c31, c32, c33 T
	for p := 0; p < k; p++ {
		ap := a[4*p : 4*p+4 : 4*p+4]
		bp := b[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	store4(c[0*ldc:0*ldc+4], c00, c01, c02, c03, alpha, beta)
	store4(c[1*ldc:1*ldc+4], c10, c11, c12, c13, alpha, beta)
	store4(c[2*ldc:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	store4(c[3*ldc:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

func store4[T tensor.Float](c []T, s0, s1, s2, s3, alpha, beta T) {
	c = c[:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
	c[3] = alpha*s3 + beta*c[3]
}

// newGenericKernel returns the pure-Go kernel for T.
func newGenericKernel[T tensor.Float]() *gemmKernel[T] {
	return &gemmKernel[T]{
		name: "generic", mr: 4, nr: 4,
		kc: 256, mc: 64, nc: 2048,
		micro: micro4x4[T],
		pools: new(gemmPools[T]),
		dot:   newGenericDot[T](),
	}
}

var (
	genericF32 = newGenericKernel[float32]()
	genericF64 = newGenericKernel[float64]()
	genericMu  sync.Mutex
	genericAny = map[any]any{} // kernels for named float types
)

// genericKernel returns the shared pure-Go kernel for T.
func genericKernel[T tensor.Float]() *gemmKernel[T] {
	switch g := any(genericF32).(type) {
	case *gemmKernel[T]:
		return g
	}
	switch g := any(genericF64).(type) {
	case *gemmKernel[T]:
		return g
	}
	genericMu.Lock()
	defer genericMu.Unlock()
	var zero T
	g, ok := genericAny[zero].(*gemmKernel[T])
	if !ok {
		g = newGenericKernel[T]()
		genericAny[zero] = g
	}
	return g
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
