package kernels

import (
	"sync"

	"hesscope/tensor"
)

// The unpacked-B path for thin products C = alpha·op(A)·B + beta·C (Gemm
// without transB) with few rows: a convolution's W·im2col(x), O output
// channels by many pixels. The packed driver copies every kc×nr block of B
// into a panel to be read by ⌈m/mr⌉ tiles only, so for thin products the
// copy costs about as much as the multiply-adds; here the micro-kernel reads
// B's rows where they lie (row p of a tile at b[p*ldb:], masked at the right
// edge), and only the small op(A) is packed, into mr-row panels of mr = 8
// (output channel counts are multiples of 8, so no tile is padded).
//
// For each kc-deep slice, op(A) is packed whole and every nr-column block of
// B meets every A panel in turn (the block stays in L1 meanwhile). Every C
// element is summed in the same order (the slices in turn, each by one
// micro-kernel call) whichever goroutine computes it, so results are
// bit-identical for any number of goroutines.

// stridedKernel is a micro-kernel that reads B unpacked: microKernel's
// contract with b row p at b[p*ldb:] instead of b[p*nr:], for any 1 ≤ rows ≤
// mr, 1 ≤ cols ≤ nr, reading no element of b past column cols of a row.
type stridedKernel[T tensor.Float] struct {
	name   string
	mr, nr int
	kc     int
	micro  func(k int, a, b, c []T, ldc int, alpha, beta T, rows, cols, ldb int)
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
// product: few rows and enough columns and depth to fill its tiles.
func (s *stridedKernel[T]) useStrided(m, n, k int) bool {
	return s != nil && (stridedAlways || m <= stridedMaxM && n >= 2*s.nr && k >= 16)
}

// gemmStrided computes C = alpha·op(A)·B + beta·C on procs goroutines.
func gemmStrided[T tensor.Float](s *stridedKernel[T], procs int, transA bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	tm, tn := ceilDiv(m, s.mr), ceilDiv(n, s.nr)
	pm, pn := splitGrid(procs, tm, tn)
	if pm*pn == 1 {
		stridedSerial(s, transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	parallelFor(pm*pn, pm*pn, func(t int) {
		r, q := t/pn, t%pn
		i0, i1 := r*tm/pm*s.mr, min((r+1)*tm/pm*s.mr, m)
		j0, j1 := q*tn/pn*s.nr, min((q+1)*tn/pn*s.nr, n)
		if i0 >= i1 || j0 >= j1 {
			return
		}
		aOff := i0 * lda
		if transA {
			aOff = i0
		}
		stridedSerial(s, transA, i1-i0, j1-j0, k, alpha, a[aOff:], lda, b[j0:], ldb, beta, c[i0*ldc+j0:], ldc)
	})
}

// stridedSerial runs the unpacked-B loops on the calling goroutine.
func stridedSerial[T tensor.Float](s *stridedKernel[T], transA bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	mr, nr := s.mr, s.nr
	panels := ceilDiv(m, mr)
	buf, _ := stridedPacks.Get().(*[]T)
	if buf == nil {
		buf = new([]T)
	}
	if need := panels * mr * s.kc; cap(*buf) < need {
		*buf = make([]T, need)
	}
	for pc := 0; pc < k; pc += s.kc {
		kb := min(s.kc, k-pc)
		betaP := beta
		if pc > 0 {
			betaP = 1
		}
		aPack := (*buf)[:panels*mr*kb]
		packA(aPack, mr, transA, a, lda, 0, m, pc, kb, 0, panels)
		for j := 0; j < n; j += nr {
			cols := min(nr, n-j)
			off := pc*ldb + j
			_ = b[off+(kb-1)*ldb+cols-1] // the last element the kernel reads
			for pa := 0; pa < panels; pa++ {
				rows := min(mr, m-pa*mr)
				_ = c[(pa*mr+rows-1)*ldc+j+cols-1]
				s.micro(kb, aPack[pa*mr*kb:(pa+1)*mr*kb], b[off:], c[pa*mr*ldc+j:], ldc, alpha, betaP, rows, cols, ldb)
			}
		}
	}
	stridedPacks.Put(buf)
}
