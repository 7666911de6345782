package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"hesscope/tensor"
)

// PackedA is the left factor op(A) of products C = alpha·op(A)·op(B) +
// beta·C kept packed in the micro-kernels' panels, for many products with
// the same A: a convolution multiplies its weights by every chunk of the
// batch, and packing W (a transpose, element by element) once per chunk
// costs as much as the multiply-adds when the chunks are narrow. The
// panels are packed on first use, once for each path that packs A, exactly
// as Gemm would pack them, so products through a PackedA give the same bits
// as Gemm and GemmRows with the same A.
//
// A PackedA may be used by several goroutines at once. A must not change
// while it is in use; Release returns its buffers when it is no longer
// needed.
type PackedA[T tensor.Float] struct {
	g       *gemmKernel[T]
	transA  bool
	m, k    int
	a       []T
	lda     int
	blocked panelSet[T] // for the blocked driver (gemmSerial)
	strided panelSet[T] // for the unpacked-B path (stridedSerial)
	columns panelSet[T] // op(A)'s columns, for GemmInPlace
}

// PackA returns op(A), m×k, for products; A is a (row-major, leading
// dimension lda), transposed if transA. It panics on bad sizes, as Gemm.
func PackA[T tensor.Float](transA bool, m, k int, a []T, lda int) *PackedA[T] {
	checkGemm(transA, false, m, 1, k, len(a), lda, k, 1, m, 1)
	return &PackedA[T]{g: kernelOf[T](), transA: transA, m: m, k: k, a: a, lda: lda}
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C as Gemm(transA, transB, m,
// n, k, …) with this A does, with the same bits.
func (p *PackedA[T]) Gemm(transB bool, n int, alpha T, b []T, ldb int, beta T, c []T, ldc int) {
	m, k := p.m, p.k
	checkGemm(p.transA, transB, m, n, k, len(p.a), p.lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(beta, c, m, n, ldc)
		return
	}
	gemmBlocked(p.g, p, p.transA, transB, m, n, k, alpha, p.a, p.lda, b, ldb, beta, c, ldc)
}

// GemmRows computes C = alpha·op(A)·B + beta·C as GemmRows(transA, m, n,
// k, …) with this A does, with the same bits: row p of B is
// b[rows[p] : rows[p]+n].
func (p *PackedA[T]) GemmRows(n int, alpha T, b []T, rows []int, beta T, c []T, ldc int) {
	m, k := p.m, p.k
	checkRows(p.transA, m, n, k, len(p.a), p.lda, b, rows, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(beta, c, m, n, ldc)
		return
	}
	gemmRows(p.g, p, p.transA, m, n, k, alpha, p.a, p.lda, b, rows, beta, c, ldc)
}

// GemmInPlace computes C = op(A)·B + beta·C as GemmInPlace(transA, m, n,
// k, …) with this A does, with the same bits, and reports false where
// that does for any m ≥ 16: A is read where it lies, or, where
// GemmInPlace would decline it (A as it lies, m not a multiple of 16),
// from op(A)'s columns copied once, on first use, as one panel of m rows
// (op(A)ᵀ, k×m) for the transposed form.
func (p *PackedA[T]) GemmInPlace(n int, b []T, ldb int, beta T, c []T, ldc int) bool {
	if p.transA || p.m%16 == 0 || p.m < 16 || !GemmInPlaceFast[T]() || beta != 0 && beta != 1 {
		return GemmInPlace(p.transA, p.m, n, p.k, p.a, p.lda, b, ldb, beta, c, ldc)
	}
	p.columns.fill(p.m, p.k, false, p.a, p.lda, p.m, p.k)
	return GemmInPlace(true, p.m, n, p.k, *p.columns.buf, p.m, b, ldb, beta, c, ldc)
}

// Release returns the panels' buffers for reuse; p must not be used after.
func (p *PackedA[T]) Release() {
	p.blocked.release()
	p.strided.release()
	p.columns.release()
}

// blockedPanels returns op(A) packed for the blocked driver, packing it on
// first use; nil for a nil p.
func (p *PackedA[T]) blockedPanels() *panelSet[T] {
	if p == nil {
		return nil
	}
	p.blocked.fill(p.g.mr, p.g.kc, p.transA, p.a, p.lda, p.m, p.k)
	return &p.blocked
}

// stridedPanels returns op(A) packed for the unpacked-B path, packing it
// on first use; nil for a nil p.
func (p *PackedA[T]) stridedPanels() *panelSet[T] {
	if p == nil {
		return nil
	}
	p.strided.fill(p.g.strided.mr, p.g.strided.kc, p.transA, p.a, p.lda, p.m, p.k)
	return &p.strided
}

// panelSet is an m×k op(A) packed whole for a kernel with mr-row panels and
// kc-deep slices: slice pc's panels start at pc·panels·mr and its panel q
// at q·mr·kb after that (kb = min(kc, k−pc)), laid out as packA writes
// them.
type panelSet[T tensor.Float] struct {
	state      atomic.Int32 // panelsEmpty, panelsPacking or panelsReady
	buf        *[]T
	mr, panels int
}

// A panelSet's states: the first user packs it while the others wait.
const (
	panelsEmpty = iota
	panelsPacking
	panelsReady
)

// panelBufs keeps panel buffers (*[]float32 or *[]float64) between uses.
var panelBufs sync.Pool

// fill packs the panels on first use. Users that come while the first
// packs wait by yielding (runtime.Gosched) rather than parking as a
// sync.Once's do: the packing takes tens of microseconds, and a parked
// thread took up to 0.1 ms to wake (a chunk's products in parallel parts
// of a layer share one PackedA; LeNet-5's second layer's input
// cotangents).
func (s *panelSet[T]) fill(mr, kc int, transA bool, a []T, lda, m, k int) {
	if s.state.Load() == panelsReady {
		return
	}
	if !s.state.CompareAndSwap(panelsEmpty, panelsPacking) {
		for s.state.Load() != panelsReady {
			runtime.Gosched()
		}
		return
	}
	s.mr, s.panels = mr, ceilDiv(m, mr)
	need := s.panels * mr * k
	buf, _ := panelBufs.Get().(*[]T)
	if buf == nil {
		buf = new([]T)
	}
	if cap(*buf) < need {
		*buf = make([]T, need)
	}
	*buf = (*buf)[:need]
	s.buf = buf
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		packA((*buf)[pc*s.panels*mr:], mr, transA, a, lda, 0, m, pc, kb, 0, s.panels)
	}
	s.state.Store(panelsReady)
}

// at returns slice pc (depth kb) from its panel q on.
func (s *panelSet[T]) at(pc, kb, q int) []T {
	return (*s.buf)[pc*s.panels*s.mr+q*s.mr*kb:]
}

func (s *panelSet[T]) release() {
	if s.buf != nil {
		panelBufs.Put(s.buf)
		s.buf = nil
	}
}

// checkRows panics unless GemmRows's sizes, offsets and slices are valid.
func checkRows[T tensor.Float](transA bool, m, n, k, lenA, lda int, b []T, rows []int, lenC, ldc int) {
	if len(rows) < k {
		panic(fmt.Sprintf("kernels: GemmRows with %d row offsets for k=%d", len(rows), k))
	}
	checkGemm(transA, false, m, n, k, lenA, lda, k*max(n, 1), max(n, 1), lenC, ldc)
	if n > 0 {
		for p, r := range rows[:k] {
			if r < 0 || r+n > len(b) {
				panic(fmt.Sprintf("kernels: GemmRows row %d at %d, want 0…%d", p, r, len(b)-n))
			}
		}
	}
}
