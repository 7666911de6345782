package main

import (
	"bytes"
	"fmt"
)

// emitOuter16 writes the four kernels of GemmInPlace (../gemm_outer.go),
// C = op(A)·B (set) or C += op(A)·B for 16 rows of C and a number of
// blocks of 16 columns, one after the other, with both factors read where
// they lie: a block's sums in 16 registers, from zero, stored
// to C's rows at the end (or added to them); each step p loads row p of B
// (16 values, one vector) and multiplies it by the 16 values of op(A)'s
// column p, each broadcast from memory as the operand of its FMA. Without
// transA they lie in A's 16 rows, lda bytes apart, reached from six base
// registers (rows 0, 3, 6, 9, 12 and 15) plus lda scaled by 1, 2, 4 or 8,
// the bases advancing 4 bytes a step; with transA they are 16 consecutive
// values of A's row p, lda bytes after row p − 1.
func emitOuter16(w *bytes.Buffer) {
	for _, transA := range []bool{false, true} {
		for _, set := range []bool{false, true} {
			emitOuter16Kernel(w, transA, set)
		}
	}
}

func emitOuter16Kernel(w *bytes.Buffer, transA, set bool) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	name := "sOuter16"
	if transA {
		name += "T"
	}
	if set {
		name += "Set"
	}
	name += "AVX512"
	// AX counts the blocks, DX points at the current block of C; a and
	// steps are read again for each block, b's block is kept in its
	// argument slot.
	fmt.Fprintf(w, `
// func %[1]s(steps int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc, blocks int)
TEXT ·%[1]s(SB), NOSPLIT, $0-64
	MOVQ lda+16(FP), R15
	MOVQ ldb+32(FP), R14
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), SI
	MOVQ blocks+56(FP), AX
%[1]sblock:
	MOVQ steps+0(FP), CX
	MOVQ a+8(FP), R8
	MOVQ b+24(FP), BX
`, name)
	bases := []string{"R8"}
	if !transA {
		// R9 = a + 3·lda, R10 = + 6, R11 = + 9, R12 = + 12, R13 = + 15.
		prev := "R8"
		for _, r := range []string{"R9", "R10", "R11", "R12", "R13"} {
			p("LEAQ (%s)(R15*2), %s", prev, r)
			p("ADDQ R15, %s", r)
			prev = r
		}
		bases = []string{"R8", "R9", "R10", "R11", "R12", "R13"}
	}
	for i := 0; i < 16; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	// Element i of op(A)'s column p.
	row := [16]string{
		"(R8)", "(R8)(R15*1)", "(R8)(R15*2)", "(R9)", "(R8)(R15*4)", "(R9)(R15*2)", "(R10)", "(R9)(R15*4)",
		"(R8)(R15*8)", "(R11)", "(R10)(R15*4)", "(R9)(R15*8)", "(R12)", "(R12)(R15*1)", "(R10)(R15*8)", "(R13)",
	}
	if transA {
		for i := range row {
			row[i] = fmt.Sprintf("%d(R8)", 4*i)
		}
	}
	fmt.Fprintf(w, "%sloop:\n", name)
	p("VMOVUPS (BX), Z16")
	for i, a := range row {
		p("VFMADD231PS.BCST %s, Z16, Z%d", a, i)
	}
	if transA {
		p("ADDQ R15, R8")
	} else {
		for _, r := range bases {
			p("ADDQ $4, %s", r)
		}
	}
	p("ADDQ R14, BX")
	p("DECQ CX")
	p("JNZ %sloop", name)
	p("MOVQ DX, DI")
	for i := 0; i < 16; i++ {
		if !set {
			p("VADDPS (DI), Z%d, Z%d", i, i)
		}
		p("VMOVUPS Z%d, (DI)", i)
		if i < 15 {
			p("ADDQ SI, DI")
		}
	}
	// The next block: 16 columns on in B and C.
	p("ADDQ $64, DX")
	p("MOVQ b+24(FP), BX")
	p("ADDQ $64, BX")
	p("MOVQ BX, b+24(FP)")
	p("DECQ AX")
	p("JNZ %sblock", name)
	p("VZEROUPPER")
	p("RET")
}
