package main

import (
	"bytes"
	"fmt"
	"log"
)

// dotKernel describes one dot-product tile kernel: the unpacked path for
// products C = A·Bᵀ whose operands both run along the inner dimension
// (../gemm_dot.go). It computes the mr×nr sums
//
//	s[j*4+i] = Σ_{p<steps·lanes} a_i[p]·b_j[p]
//
// from mr row pointers of A and nr of B, reading each row as vectors. The
// tile is held in mr·nr accumulators, one vector of partial sums each (lane
// l sums the p ≡ l mod lanes); each step loads the mr vectors of A, then one
// vector of B at a time and issues its mr FMAs. At the end every accumulator
// is reduced to its sum in a fixed order (so results depend on the shapes
// only), four rows of a column stored side by side. The Go twin is dotTileGeneric.
type dotKernel struct {
	name   string
	zmm    bool
	f64    bool
	mr, nr int
}

var dotKernels = []dotKernel{
	{name: "sdotAVX512", zmm: true, mr: 4, nr: 6},
	{name: "ddotAVX512", zmm: true, f64: true, mr: 4, nr: 6},
	{name: "sdotAVX2", mr: 3, nr: 4},
	{name: "ddotAVX2", f64: true, mr: 3, nr: 4},
}

func (k dotKernel) emit(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	size, sfx := 4, "S"
	if k.f64 {
		size, sfx = 8, "D"
	}
	vbytes, reg := 32, "Y"
	if k.zmm {
		vbytes, reg = 64, "Z"
	}
	nacc := k.mr * k.nr
	acc := func(i, j int) string { return fmt.Sprintf("%s%d", reg, i*k.nr+j) }
	aReg := func(i int) string { return fmt.Sprintf("%s%d", reg, nacc+i) }
	bReg := fmt.Sprintf("%s%d", reg, nacc+k.mr)
	gpr := []string{"R8", "R9", "R10", "R11", "R12", "R13", "SI", "DI", "BX", "DX"}
	if k.zmm && k.mr != 4 || !k.zmm && k.mr != 3 || k.nr > 6 {
		log.Fatalf("%s: the reduction handles 4 (AVX-512) or 3 (AVX2) rows and at most 6 columns", k.name)
	}
	if k.mr+k.nr > len(gpr) || (!k.zmm && nacc+k.mr+1 > 16) || (k.zmm && nacc+k.mr+1 > 32) {
		log.Fatalf("%s: tile too large", k.name)
	}
	aPtr := func(i int) string { return gpr[i] }
	bPtr := func(j int) string { return gpr[k.mr+j] }
	typ := "float32"
	if k.f64 {
		typ = "float64"
	}
	fmt.Fprintf(w, "\n// func %s(steps int, a *[4]unsafe.Pointer, b *[6]unsafe.Pointer, s *[24]%s)\n", k.name, typ)
	fmt.Fprintf(w, "//\n// %d×%d dot-product tile, %d %s accumulators.\n", k.mr, k.nr, nacc, reg)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-32\n", k.name)
	p("MOVQ steps+0(FP), CX")
	p("MOVQ a+8(FP), AX")
	for i := 0; i < k.mr; i++ {
		p("MOVQ %d(AX), %s", 8*i, aPtr(i))
	}
	p("MOVQ b+16(FP), AX")
	for j := 0; j < k.nr; j++ {
		p("MOVQ %d(AX), %s", 8*j, bPtr(j))
	}
	for i := 0; i < k.mr; i++ {
		for j := 0; j < k.nr; j++ {
			if k.zmm {
				p("VPXORD %s, %s, %s", acc(i, j), acc(i, j), acc(i, j))
			} else {
				p("VXORPS %s, %s, %s", acc(i, j), acc(i, j), acc(i, j))
			}
		}
	}
	p("XORQ AX, AX")
	p("TESTQ CX, CX")
	p("JZ %s_reduce", k.name)
	fmt.Fprintf(w, "%s_loop:\n", k.name)
	mov := "VMOVUP" + sfx
	fma := "VFMADD231P" + sfx
	for i := 0; i < k.mr; i++ {
		p("%s (%s)(AX*1), %s", mov, aPtr(i), aReg(i))
	}
	for j := 0; j < k.nr; j++ {
		p("%s (%s)(AX*1), %s", mov, bPtr(j), bReg)
		for i := 0; i < k.mr; i++ {
			p("%s %s, %s, %s", fma, bReg, aReg(i), acc(i, j))
		}
	}
	p("ADDQ $%d, AX", vbytes)
	p("DECQ CX")
	p("JNZ %s_loop", k.name)

	fmt.Fprintf(w, "%s_reduce:\n", k.name)
	p("MOVQ s+24(FP), AX")
	add := "VADDP" + sfx
	if k.zmm {
		// Four accumulators (rows 0…3 of column j) to one vector holding
		// each row's total in every lane of its 128-bit quarter, then
		// compressed to four elements.
		shuf := "VSHUFF32X4"
		perm, permImm, kmask := "VPERMILPS", []string{"$0x4e", "$0xb1"}, 0x1111
		if k.f64 {
			shuf, perm, permImm, kmask = "VSHUFF64X2", "VPERMILPD", []string{"$0x55"}, 0x55
		}
		p("MOVQ $%#x, BX", kmask)
		p("KMOVW BX, K1")
		t1, t2 := "Z28", "Z29"
		for j := 0; j < k.nr; j++ {
			a0, a1, a2, a3 := acc(0, j), acc(1, j), acc(2, j), acc(3, j)
			// [A.q0+A.q2, A.q1+A.q3, B.q0+B.q2, B.q1+B.q3], likewise CD.
			p("%s $0x44, %s, %s, %s", shuf, a1, a0, t1)
			p("%s $0xee, %s, %s, %s", shuf, a1, a0, t2)
			p("%s %s, %s, %s", add, t2, t1, a0)
			p("%s $0x44, %s, %s, %s", shuf, a3, a2, t1)
			p("%s $0xee, %s, %s, %s", shuf, a3, a2, t2)
			p("%s %s, %s, %s", add, t2, t1, a2)
			// [A, B, C, D], a quarter each.
			p("%s $0x88, %s, %s, %s", shuf, a2, a0, t1)
			p("%s $0xdd, %s, %s, %s", shuf, a2, a0, t2)
			p("%s %s, %s, %s", add, t2, t1, a0)
			for _, imm := range permImm {
				p("%s %s, %s, %s", perm, imm, a0, t1)
				p("%s %s, %s, %s", add, t1, a0, a0)
			}
			p("VCOMPRESSP%s %s, K1, %d(AX)", sfx, a0, j*4*size)
		}
	} else {
		x := func(r string) string { return "X" + r[1:] }
		tx := "X" + bReg[1:]
		hadd := "VHADDP" + sfx
		for j := 0; j < k.nr; j++ {
			for i := 0; i < k.mr; i++ {
				p("VEXTRACTF128 $1, %s, %s", acc(i, j), tx)
				p("%s %s, %s, %s", add, tx, x(acc(i, j)), x(acc(i, j)))
			}
			r0, r1, r2 := x(acc(0, j)), x(acc(1, j)), x(acc(2, j))
			if k.f64 {
				p("%s %s, %s, %s", hadd, r1, r0, r0)
				p("%s %s, %s, %s", hadd, r2, r2, r2)
				p("VMOVUPD %s, %d(AX)", r0, j*4*size)
				p("VMOVUPD %s, %d(AX)", r2, j*4*size+16)
			} else {
				p("%s %s, %s, %s", hadd, r1, r0, r0)
				p("%s %s, %s, %s", hadd, r2, r2, r2)
				p("%s %s, %s, %s", hadd, r2, r0, r0)
				p("VMOVUPS %s, %d(AX)", r0, j*4*size)
			}
		}
	}
	p("VZEROUPPER")
	p("RET")
}
