package main

import (
	"bytes"
	"fmt"
	"log"
)

// The kernels of SpMM (../spmm.go, driven by ../spmm_amd64.go), written to
// ../spmm_amd64.s (-spmm) with their Go declarations and tables
// (-spmmdecl, ../spmm_kernels_amd64.go).
//
// Each kernel computes one block of nv vectors of columns (the last one
// cut to tail lanes) of all m rows of C = S·B (+ S₂·B₂), B, B₂ and C
// offset by the block's first column by the caller:
//
//	for each row r: acc = 0 (set) or C's row; for i in [ptr[r], ptr[r+1]):
//		acc = fma(val[i], B[idx[i]], acc) (; acc = fma(val2[i], B₂[idx[i]], acc))
//	C's row = acc
//
// the sums in nv vector registers per row, from zero or from C, one fused
// multiply-add per element and entry, in the order of i, val's term before
// val2's: the bits of an element do not depend on the block it is in.
// An entry loads idx[i], multiplies it by ldb (bytes) for the offset of
// B's row, broadcasts val[i] and issues nv FMAs, each reading its vector
// of B as its memory operand (B's rows are random: nothing to reuse).
//
// A sum's FMAs depend on each other (4 cycles each), so a narrow block
// (case c of the benchmark: 25 columns, 2 vectors) would wait on that
// latency: the kernels for few vectors run rows in groups of rows (2 to
// 4), the entries of the group's rows interleaved as long as every row
// has one (the shortest row's count), then the rest of each row alone.
// The last vector of a row is read and written under a lane mask: an
// opmask (K1) with AVX-512 (the masked FMA reads no B past the tail),
// VMASKMOVPS/PD into a scratch register with AVX2 (the mask from
// stridedMasks in Y15).

// spmmTarget is one instruction set and element type (vecTarget's) and
// form: S·B, or S·B + S₂·B₂ (pair).
type spmmTarget struct {
	vecTarget
	pair bool
}

// maxVecs is the widest block: 16 zmm (the rest for up to 4-row groups'
// broadcasts) or 12 ymm (of 16: the two broadcasts, the scratch vector
// and the mask).
func (t spmmTarget) maxVecs() int {
	if t.zmm {
		return 16
	}
	return 12
}

// maxAcc is the accumulator registers a kernel may use.
func (t spmmTarget) maxAcc() int {
	if t.zmm {
		return 28
	}
	return 12
}

// spmmGroup is the rows a kernel of nv vectors runs together: enough for
// about 10 independent sums (FMA latency 4 × 2 ports = 8 in flight), at
// most 4 (the general registers) and as the registers allow.
func (t spmmTarget) spmmGroup(nv int) int {
	return min(4, (10+nv-1)/nv, t.maxAcc()/nv)
}

func (t spmmTarget) name(nv int) string {
	s := "s"
	if t.f64 {
		s = "d"
	}
	s += "Spmm"
	if t.pair {
		s += "Pair"
	}
	s += fmt.Sprint(nv)
	if t.zmm {
		return s + "AVX512"
	}
	return s + "AVX2"
}

var spmmTargets = func() []spmmTarget {
	var ts []spmmTarget
	for _, zmm := range []bool{true, false} {
		for _, f64 := range []bool{false, true} {
			for _, pair := range []bool{false, true} {
				ts = append(ts, spmmTarget{vecTarget{zmm, f64}, pair})
			}
		}
	}
	return ts
}()

// spmmSig is the Go signature of every kernel; the offsets below are its
// arguments' in the frame.
const spmmSig = "(m int, ptr, idx, val, b, val2, b2 unsafe.Pointer, ldb int, c unsafe.Pointer, ldc, tail, set int)"

// emitSpmm writes every kernel.
func emitSpmm(w *bytes.Buffer) {
	for _, t := range spmmTargets {
		for nv := 1; nv <= t.maxVecs(); nv++ {
			t.emit(w, nv)
		}
	}
}

// emitSpmmDecls writes the kernels' Go declarations and the tables
// spmm<S|D><AVX512|AVX2> of them by vectors.
func emitSpmmDecls(w *bytes.Buffer) {
	for _, zmm := range []bool{true, false} {
		for _, f64 := range []bool{false, true} {
			t := spmmTarget{vecTarget: vecTarget{zmm, f64}}
			isa, typ, lanes := "AVX2", t.sfx(), t.lanes()
			if zmm {
				isa = "AVX512"
			}
			fmt.Fprintf(w, "\n// spmm%s%s holds the %s kernels of %s, by vectors − 1.\n", typ, isa, isa, map[bool]string{false: "float32", true: "float64"}[f64])
			fmt.Fprintf(w, "var spmm%s%s = spmmKernels{\n\tlanes: %d,\n", typ, isa, lanes)
			for _, pair := range []bool{false, true} {
				t.pair = pair
				fmt.Fprintf(w, "\t%s: []spmmKernel{", map[bool]string{false: "one", true: "pair"}[pair])
				for nv := 1; nv <= t.maxVecs(); nv++ {
					fmt.Fprintf(w, "%s, ", t.name(nv))
				}
				fmt.Fprintf(w, "},\n")
			}
			fmt.Fprintf(w, "}\n")
		}
	}
	for _, t := range spmmTargets {
		for nv := 1; nv <= t.maxVecs(); nv++ {
			what := "S·B"
			if t.pair {
				what = "S·B + S₂·B₂"
			}
			fmt.Fprintf(w, "\n// %s is SpMM's %s for a block of %d vectors, %d-row groups (_asm/spmm.go).\n//\n//go:noescape\nfunc %s%s\n",
				t.name(nv), what, nv, t.spmmGroup(nv), t.name(nv), spmmSig)
		}
	}
}

// emit writes the kernel of nv vectors.
func (t spmmTarget) emit(w *bytes.Buffer, nv int) {
	name := t.name(nv)
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	label := func(s string) { fmt.Fprintf(w, "%s_%s:\n", name, s) }
	sfx, vbytes := t.sfx(), t.vbytes()
	size := vbytes / t.lanes() // of an element
	group := t.spmmGroup(nv)
	if group*nv > t.maxAcc() || group < 1 {
		log.Fatalf("%s: %d rows of %d vectors", name, group, nv)
	}
	acc := func(r, v int) string { return t.reg(r*nv + v) }
	// The broadcasts of val and val2: two registers each with AVX-512
	// (alternating rows), one with AVX2; Y14 the scratch vector of the
	// masked loads, Y15 their mask.
	bval := func(r int, second bool) string {
		if !t.zmm {
			if second {
				return "Y13"
			}
			return "Y12"
		}
		i := 28 + r%2
		if second {
			i += 2
		}
		return fmt.Sprintf("Z%d", i)
	}
	mov, fma, bcast, mmov := "VMOVUP"+sfx, "VFMADD231P"+sfx, "VBROADCASTS"+sfx, "VMASKMOVP"+sfx
	// Registers: SI &ptr[row], DI idx, R8 val, R9 val2, R10 b, R11 b2, R12
	// ldb (bytes), AX the offset of B's row (and C's rows), BX a count of
	// entries, CX, DX, R13, R14 the entries i of the group's rows. The rows
	// left (m) and the C pointer stay in their argument slots.
	ireg := []string{"CX", "DX", "R13", "R14"}

	what := "S·B"
	if t.pair {
		what = "S·B + S₂·B₂"
	}
	fmt.Fprintf(w, "\n// func %s%s\n//\n// C = %s (+ C unless set) for a block of %d vectors of %d bytes, the last one cut to tail lanes; rows in groups of %d.\n",
		name, spmmSig, what, nv, vbytes, group)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-96\n", name)
	p("MOVQ ptr+8(FP), SI")
	p("MOVQ idx+16(FP), DI")
	p("MOVQ val+24(FP), R8")
	p("MOVQ b+32(FP), R10")
	if t.pair {
		p("MOVQ val2+40(FP), R9")
		p("MOVQ b2+48(FP), R11")
	}
	p("MOVQ ldb+56(FP), R12")
	p("MOVQ tail+80(FP), CX")
	if t.zmm {
		// K1: the low tail lanes.
		p("MOVQ $1, AX")
		p("SHLQ CX, AX")
		p("DECQ AX")
		p("KMOVW AX, K1")
	} else {
		// Y15: the tail·size bytes of ones before stridedMasks' zeros.
		p("SHLQ $%d, CX", map[int]int{4: 2, 8: 3}[size])
		p("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
		p("SUBQ CX, AX")
		p("VMOVDQU (AX), Y15")
	}

	// fmaRow issues row r's FMAs of one entry: B's row at base + AX.
	fmaRow := func(r int, base, bv string) {
		for v := 0; v < nv; v++ {
			switch {
			case v < nv-1:
				p("%s %d(%s)(AX*1), %s, %s", fma, v*vbytes, base, bv, acc(r, v))
			case t.zmm:
				p("%s %d(%s)(AX*1), %s, K1, %s", fma, v*vbytes, base, bv, acc(r, v))
			default:
				p("%s %d(%s)(AX*1), Y15, Y14", mmov, v*vbytes, base)
				p("%s Y14, %s, %s", fma, bv, acc(r, v))
			}
		}
	}
	// entry adds row r's entry i (in ireg[r]) to its sums and steps i.
	entry := func(r int) {
		i := ireg[r]
		p("MOVLQSX (DI)(%s*4), AX", i)
		p("IMULQ R12, AX")
		p("%s (R8)(%s*%d), %s", bcast, i, size, bval(r, false))
		fmaRow(r, "R10", bval(r, false))
		if t.pair {
			p("%s (R9)(%s*%d), %s", bcast, i, size, bval(r, true))
			fmaRow(r, "R11", bval(r, true))
		}
		p("INCQ %s", i)
	}
	// cRows sets AX to C's row r of the group, in turn (r = 0, 1, …).
	cRow := func(r int) {
		if r == 0 {
			p("MOVQ c+64(FP), AX")
		} else {
			p("ADDQ ldc+72(FP), AX")
		}
	}
	// body writes the rows of one group of g rows (SI at its ptr).
	body := func(g int, l string) {
		for r := 0; r < g; r++ {
			p("MOVLQSX %d(SI), %s", 4*r, ireg[r])
		}
		// BX: the entries of the shortest row.
		p("MOVLQSX %d(SI), BX", 4)
		p("SUBQ CX, BX")
		for r := 1; r < g; r++ {
			p("MOVLQSX %d(SI), AX", 4*(r+1))
			p("SUBQ %s, AX", ireg[r])
			p("CMPQ AX, BX")
			p("CMOVQLT AX, BX")
		}
		// The sums from zero, or from C.
		p("CMPQ set+88(FP), $0")
		p("JNE %s_%szero", name, l)
		for r := 0; r < g; r++ {
			cRow(r)
			for v := 0; v < nv; v++ {
				switch {
				case v < nv-1:
					p("%s %d(AX), %s", mov, v*vbytes, acc(r, v))
				case t.zmm:
					p("%s.Z %d(AX), K1, %s", mov, v*vbytes, acc(r, v))
				default:
					p("%s %d(AX), Y15, %s", mmov, v*vbytes, acc(r, v))
				}
			}
		}
		p("JMP %s_%sloaded", name, l)
		label(l + "zero")
		for r := 0; r < g; r++ {
			for v := 0; v < nv; v++ {
				if t.zmm {
					p("VPXORD %[1]s, %[1]s, %[1]s", acc(r, v))
				} else {
					p("VXORPS %[1]s, %[1]s, %[1]s", acc(r, v))
				}
			}
		}
		label(l + "loaded")
		p("TESTQ BX, BX")
		p("JZ %s_%srest", name, l)
		label(l + "loop")
		for r := 0; r < g; r++ {
			entry(r)
		}
		p("DECQ BX")
		p("JNZ %s_%sloop", name, l)
		label(l + "rest")
		if g > 1 {
			// The entries of each row past the shortest row's.
			for r := 0; r < g; r++ {
				rl := fmt.Sprintf("%srest%d", l, r)
				p("MOVLQSX %d(SI), BX", 4*(r+1))
				p("SUBQ %s, BX", ireg[r])
				p("JZ %s_%sdone", name, rl)
				label(rl)
				entry(r)
				p("DECQ BX")
				p("JNZ %s_%s", name, rl)
				label(rl + "done")
			}
		}
		// The sums to C, and C on to the next group.
		for r := 0; r < g; r++ {
			cRow(r)
			for v := 0; v < nv; v++ {
				switch {
				case v < nv-1:
					p("%s %s, %d(AX)", mov, acc(r, v), v*vbytes)
				case t.zmm:
					p("%s %s, K1, %d(AX)", mov, acc(r, v), v*vbytes)
				default:
					p("%s %s, Y15, %d(AX)", mmov, acc(r, v), v*vbytes)
				}
			}
		}
		p("ADDQ ldc+72(FP), AX")
		p("MOVQ AX, c+64(FP)")
		p("ADDQ $%d, SI", 4*g)
	}
	if group > 1 {
		label("groups")
		p("CMPQ m+0(FP), $%d", group)
		p("JLT %s_single", name)
		body(group, "g")
		p("SUBQ $%d, m+0(FP)", group)
		p("JMP %s_groups", name)
	}
	label("single")
	p("CMPQ m+0(FP), $0")
	p("JLE %s_done", name)
	body(1, "s")
	p("DECQ m+0(FP)")
	p("JMP %s_single", name)
	label("done")
	p("VZEROUPPER")
	p("RET")
}
