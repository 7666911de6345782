package main

import (
	"bytes"
	"fmt"
)

// emitOuter16 writes sOuter16AVX512, a 16×16 block of C += A·B with both
// factors read where they lie (../gemm_outer.go): the block's sums in 16
// registers, from zero, added to C's rows at the end; each step p loads row p of B (16 values, one vector) and
// multiplies it by the 16 values of A's column p, each broadcast from its
// row (rows lda bytes apart) as the memory operand of its FMA. A's rows
// are reached from six base registers, at 0, 3, 6, 9, 12 and 15 rows, plus
// lda scaled by 1, 2, 4 or 8, the bases advancing 4 bytes a step.
func emitOuter16(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	w.WriteString(`
// func sOuter16AVX512(steps int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc int)
TEXT ·sOuter16AVX512(SB), NOSPLIT, $0-56
	MOVQ steps+0(FP), CX
	MOVQ a+8(FP), R8
	MOVQ lda+16(FP), R15
	MOVQ b+24(FP), BX
	MOVQ ldb+32(FP), R14
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), SI
`)
	// The bases: R9 = a + 3·lda, R10 = + 6, R11 = + 9, R12 = + 12, R13 = + 15.
	prev := "R8"
	for _, r := range []string{"R9", "R10", "R11", "R12", "R13"} {
		p("LEAQ (%s)(R15*2), %s", prev, r)
		p("ADDQ R15, %s", r)
		prev = r
	}
	for i := 0; i < 16; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	// Row i of A at base + scale·lda.
	row := [16]string{
		"(R8)", "(R8)(R15*1)", "(R8)(R15*2)", "(R9)", "(R8)(R15*4)", "(R9)(R15*2)", "(R10)", "(R9)(R15*4)",
		"(R8)(R15*8)", "(R11)", "(R10)(R15*4)", "(R9)(R15*8)", "(R12)", "(R12)(R15*1)", "(R10)(R15*8)", "(R13)",
	}
	w.WriteString("outer16loop:\n")
	p("VMOVUPS (BX), Z16")
	for i, a := range row {
		p("VFMADD231PS.BCST %s, Z16, Z%d", a, i)
	}
	for _, r := range []string{"R8", "R9", "R10", "R11", "R12", "R13"} {
		p("ADDQ $4, %s", r)
	}
	p("ADDQ R14, BX")
	p("DECQ CX")
	p("JNZ outer16loop")
	p("MOVQ DX, DI")
	for i := 0; i < 16; i++ {
		p("VADDPS (DI), Z%d, Z%d", i, i)
		p("VMOVUPS Z%d, (DI)", i)
		if i < 15 {
			p("ADDQ SI, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
}
