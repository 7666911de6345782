package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"

	"hesscope/tensor"
)

// This file holds the blocked GEMM driver that every backend shares, the
// packing routines and the pure-Go micro-kernels. The scheme is Goto's (as in
// BLIS and OpenBLAS): for each kc-deep slice of the product, op(B) is packed
// into kc×nr column panels and op(A) into mr×kc row panels, both zero-padded
// to whole panels, and a register-blocked micro-kernel computes each mr×nr
// tile of C from one A panel and one B panel.
//
// Loop nest (jc over n by nc, pc over k by kc, is over m by ms):
//
//	pack B[pc:pc+kc, jc:jc+nc] and A[is:is+ms, pc:pc+kc]   (in parallel)
//	for each unit (an mc-row block × a run of nr-column panels, in parallel):
//		for jr over the unit's B panels:           B panel stays in L1
//			for ir over the unit's A panels:       A block stays in L2
//				micro-kernel: C tile = alpha·Ap·Bp + beta'·C tile
//
// beta' is the caller's beta for the first kc slice and 1 after it. A tile is
// always computed by the same kernel from the same panels in the same order,
// whoever computes it, so the result does not depend on the schedule.

// microKernel computes the mr×nr tile
//
//	C[i*ldc+j] = alpha·Σ_p a[p*mr+i]·b[p*nr+j] + beta·C[i*ldc+j]
//
// for i < mr, j < nr, with the sum taken in order p = 0, 1, …, k-1 (starting
// from zero). With beta = 0, C is only written. a holds k·mr and b k·nr
// elements; c holds the tile. mr and nr are fixed for each kernel.
type microKernel[T tensor.Float] func(k int, a, b, c []T, ldc int, alpha, beta T)

// gemmKernel is a micro-kernel with its register tile (mr×nr) and cache
// blocking (kc, mc, nc).
type gemmKernel[T tensor.Float] struct {
	name   string
	mr, nr int
	kc     int // depth of a packed slice: a kc×nr B panel fits L1
	mc     int // rows of an A block (multiple of mr): mc×kc fits L2
	nc     int // columns of a packed B block (multiple of nr)
	ms     int // rows of A packed at once (multiple of mc); bounds the buffer
	micro  microKernel[T]
	pools  *gemmPools[T]
}

// gemmPools keeps packing buffers between calls.
type gemmPools[T tensor.Float] struct {
	ws sync.Pool // *gemmWorkspace[T]
}

type gemmWorkspace[T tensor.Float] struct {
	aPack, bPack []T
	tiles        []T // one mr×nr edge tile per worker
}

func (w *gemmWorkspace[T]) reserve(na, nb, nt int) {
	if cap(w.aPack) < na {
		w.aPack = make([]T, na)
	}
	if cap(w.bPack) < nb {
		w.bPack = make([]T, nb)
	}
	if cap(w.tiles) < nt {
		w.tiles = make([]T, nt)
	}
	w.aPack, w.bPack, w.tiles = w.aPack[:na], w.bPack[:nb], w.tiles[:nt]
}

// Tuning knobs shared by all kernels.
var (
	// gemmParallelMin is the m·n·k below which Gemm runs on the calling
	// goroutine only.
	gemmParallelMin = 64 * 64 * 64
	// gemmProcs, if positive, fixes the number of goroutines (for tests).
	gemmProcs = 0
)

func gemmBlocked[T tensor.Float](g *gemmKernel[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	mr, nr := g.mr, g.nr
	kc := min(g.kc, k)
	ncb := min(g.nc, roundUp(n, nr))
	msb := min(g.ms, roundUp(m, mr))

	procs := 1
	if m*n*k >= gemmParallelMin {
		procs = runtime.GOMAXPROCS(0)
	}
	if gemmProcs > 0 {
		procs = gemmProcs
	}

	w, _ := g.pools.ws.Get().(*gemmWorkspace[T])
	if w == nil {
		w = new(gemmWorkspace[T])
	}
	w.reserve(msb*kc, kc*ncb, procs*mr*nr)
	defer g.pools.ws.Put(w)

	for jc := 0; jc < n; jc += g.nc {
		nb := min(g.nc, n-jc)
		nPanB := ceilDiv(nb, nr)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			betaP := beta
			if pc > 0 {
				betaP = 1
			}
			for is := 0; is < m; is += msb {
				mb := min(msb, m-is)
				nPanA := ceilDiv(mb, mr)

				// Pack: B (only once per (jc, pc)) and A, split into
				// tasks of whole panels.
				tasksB := 0
				if is == 0 {
					tasksB = min(nPanB, 2*procs)
				}
				tasksA := min(nPanA, 2*procs)
				parallelFor(procs, tasksB+tasksA, func(_, t int) {
					if t < tasksB {
						q0, q1 := t*nPanB/tasksB, (t+1)*nPanB/tasksB
						packB(w.bPack, nr, transB, b, ldb, pc, kb, jc, nb, q0, q1)
						return
					}
					t -= tasksB
					q0, q1 := t*nPanA/tasksA, (t+1)*nPanA/tasksA
					packA(w.aPack, mr, transA, a, lda, is, mb, pc, kb, q0, q1)
				})

				// Compute: units are (mc-row block) × (run of B panels).
				// Split the columns only when there are too few row
				// blocks to keep every goroutine busy.
				rowBlocks := ceilDiv(mb, g.mc)
				colSplit := 1
				if procs > 1 && rowBlocks < 4*procs {
					colSplit = min(nPanB, ceilDiv(4*procs, rowBlocks))
				}
				panPerUnit := ceilDiv(nPanB, colSplit)
				colSplit = ceilDiv(nPanB, panPerUnit)
				parallelFor(procs, rowBlocks*colSplit, func(wid, u int) {
					rb, cs := u/colSplit, u%colSplit
					i0 := rb * g.mc
					i1 := min(i0+g.mc, mb)
					q0 := cs * panPerUnit
					q1 := min(q0+panPerUnit, nPanB)
					tile := w.tiles[wid*mr*nr : (wid+1)*mr*nr]
					for q := q0; q < q1; q++ {
						j := q * nr
						nrr := min(nr, nb-j)
						bp := w.bPack[q*nr*kb : (q+1)*nr*kb]
						for i := i0; i < i1; i += mr {
							mrr := min(mr, mb-i)
							ap := w.aPack[(i/mr)*mr*kb : (i/mr+1)*mr*kb]
							off := (is+i)*ldc + jc + j
							if mrr == mr && nrr == nr {
								g.micro(kb, ap, bp, c[off:], ldc, alpha, betaP)
								continue
							}
							g.micro(kb, ap, bp, tile, nr, alpha, 0)
							mergeTile(c[off:], ldc, tile, nr, mrr, nrr, betaP)
						}
					}
				})
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
		// op(A)[i, p] = a[p*lda+i]: walk A's rows, each feeding every
		// panel an mr-run.
		r0, r1 := q0*mr, min(q1*mr, rows)
		for p := 0; p < kb; p++ {
			src := a[(p0+p)*lda+i0+r0 : (p0+p)*lda+i0+r1]
			for q := q0; q < q1; q++ {
				d := dst[q*mr*kb+p*mr : q*mr*kb+p*mr+mr]
				n := copy(d, src[(q-q0)*mr:])
				clear(d[n:])
			}
		}
		return
	}
	// op(A)[i, p] = a[i*lda+p]: rows of A become columns of a panel.
	for q := q0; q < q1; q++ {
		pan := dst[q*mr*kb : (q+1)*mr*kb]
		r := min(mr, rows-q*mr)
		for i := 0; i < r; i++ {
			off := (i0+q*mr+i)*lda + p0
			src := a[off : off+kb]
			d := pan[i:]
			for p, v := range src {
				d[p*mr] = v
			}
		}
		for i := r; i < mr; i++ {
			for p := 0; p < kb; p++ {
				pan[p*mr+i] = 0
			}
		}
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
		// op(B)[p, j] = b[p*ldb+j]: walk B's rows, each feeding every
		// panel an nr-run.
		c0, c1 := q0*nr, min(q1*nr, cols)
		for p := 0; p < kb; p++ {
			src := b[(p0+p)*ldb+j0+c0 : (p0+p)*ldb+j0+c1]
			for q := q0; q < q1; q++ {
				d := dst[q*nr*kb+p*nr : q*nr*kb+p*nr+nr]
				n := copy(d, src[(q-q0)*nr:])
				clear(d[n:])
			}
		}
		return
	}
	// op(B)[p, j] = b[j*ldb+p]: rows of B become columns of a panel.
	for q := q0; q < q1; q++ {
		pan := dst[q*nr*kb : (q+1)*nr*kb]
		c := min(nr, cols-q*nr)
		for j := 0; j < c; j++ {
			off := (j0+q*nr+j)*ldb + p0
			src := b[off : off+kb]
			d := pan[j:]
			for p, v := range src {
				d[p*nr] = v
			}
		}
		for j := c; j < nr; j++ {
			for p := 0; p < kb; p++ {
				pan[p*nr+j] = 0
			}
		}
	}
}

// microGeneric is the reference micro-kernel for any mr×nr: the Go twin of
// every assembly micro-kernel (see microKernel).
func microGeneric[T tensor.Float](mr, nr, k int, a, b, c []T, ldc int, alpha, beta T) {
	a, b = a[:k*mr], b[:k*nr]
	for i := 0; i < mr; i++ {
		ci := c[i*ldc : i*ldc+nr]
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

// micro4x4 is the pure-Go micro-kernel: microGeneric with mr = nr = 4, its
// sixteen sums held in registers.
func micro4x4[T tensor.Float](k int, a, b, c []T, ldc int, alpha, beta T) {
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
		kc: 256, mc: 64, nc: 2048, ms: 1024,
		micro: micro4x4[T],
		pools: new(gemmPools[T]),
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

// parallelFor runs f(worker, i) for i in [0, n) on up to procs goroutines,
// the caller included, and returns when all calls have returned. worker is in
// [0, procs) and no two concurrent calls share it. Helpers come from a fixed
// pool; when it is busy (nested or concurrent Gemms) the caller does the work.
func parallelFor(procs, n int, f func(worker, i int)) {
	if n <= 0 {
		return
	}
	helpers := min(procs, n) - 1
	if helpers <= 0 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	startPool()
	j := &poolJob{f: f, n: int64(n)}
	for h := 1; h <= helpers; h++ {
		j.wg.Add(1)
		select {
		case poolJobs <- poolTask{j, h}:
		default:
			j.wg.Done()
		}
	}
	j.run(0)
	j.wg.Wait()
}

type poolJob struct {
	f    func(worker, i int)
	n    int64
	next atomic.Int64
	wg   sync.WaitGroup
}

type poolTask struct {
	job    *poolJob
	worker int
}

func (j *poolJob) run(worker int) {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.f(worker, int(i))
	}
}

var (
	poolOnce sync.Once
	poolJobs chan poolTask
)

// startPool starts one helper goroutine per CPU (GOMAXPROCS at first use);
// helpers block on an unbuffered channel, so a send succeeds only when one is
// idle.
func startPool() {
	poolOnce.Do(func() {
		poolJobs = make(chan poolTask)
		for i := 0; i < max(runtime.GOMAXPROCS(0), runtime.NumCPU()); i++ {
			go func() {
				for t := range poolJobs {
					t.job.run(t.worker)
					t.job.wg.Done()
				}
			}()
		}
	})
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }
