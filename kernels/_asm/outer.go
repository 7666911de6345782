package main

import (
	"bytes"
	"fmt"
)

// outerMinT and outerMaxT bound the rows of the transposed kernels, as
// the constants of the same names in ../gemm_outer.go: any m ≥ 16 is cut
// into strips of 15 to 30 rows, each strip's sums in as many registers,
// B's row in the 32nd.
const outerMinT, outerMaxT = 15, 30

// emitOuter writes the kernels of GemmInPlace (../gemm_outer.go), C =
// op(A)·B (set) or C += op(A)·B for a strip of rows of C and a number of
// blocks of 16 columns, one after the other, with both factors read where
// they lie: a block's sums in one register per row, from zero, stored to
// C's rows at the end (or added to them); each step p loads row p of B
// (16 values, one vector) and multiplies it by the values of op(A)'s
// column p, each broadcast from memory as the operand of its FMA.
//
// sOuter16AVX512 takes 16 rows of A as it lies, lda bytes apart, reached
// from six base registers (rows 0, 3, 6, 9, 12 and 15) plus lda scaled by
// 1, 2, 4 or 8, the bases advancing 4 bytes a step; sOuterT<r>AVX512 take
// op(A) transposed, the r values of column p consecutive, lda bytes after
// column p − 1. Every block's columns are cut by the mask in the low 16
// bits of mask (B's row loaded, C's loaded and stored under it), so that
// the last block may hold fewer than 16 (a full mask loads B's rows
// unmasked); a non-zero set stores the sums instead of adding them.
func emitOuter(w *bytes.Buffer) {
	emitOuterKernel(w, "sOuter16AVX512", 16, false)
	for r := outerMinT; r <= outerMaxT; r++ {
		emitOuterKernel(w, fmt.Sprintf("sOuterT%dAVX512", r), r, true)
	}
}

// emitOuterDecls writes the Go declarations of emitOuter's kernels and
// the table outerT of the transposed ones by rows.
func emitOuterDecls(w *bytes.Buffer) {
	const sig = "(steps int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc, blocks, mask, set int)"
	fmt.Fprintf(w, "\n// outerT holds sOuterT<r>AVX512 at r − outerMinT (gemm_outer.go), for\n// r from %d to %d.\nvar outerT = [outerMaxT - outerMinT + 1]outerKernel{\n", outerMinT, outerMaxT)
	for r := outerMinT; r <= outerMaxT; r++ {
		fmt.Fprintf(w, "\tsOuterT%dAVX512,\n", r)
	}
	fmt.Fprintf(w, "}\n")
	fmt.Fprintf(w, "\n// sOuter16AVX512 is GemmInPlace's strip of 16 rows of A as it lies (_asm/outer.go).\n//\n//go:noescape\nfunc sOuter16AVX512%s\n", sig)
	for r := outerMinT; r <= outerMaxT; r++ {
		fmt.Fprintf(w, "\n// sOuterT%[1]dAVX512 is GemmInPlace's strip of %[1]d rows of op(A) given transposed (_asm/outer.go).\n//\n//go:noescape\nfunc sOuterT%[1]dAVX512%[2]s\n", r, sig)
	}
}

func emitOuterKernel(w *bytes.Buffer, name string, rows int, transA bool) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	// AX counts the blocks, DX points at the current block of C; a and
	// steps are read again for each block, b's block is kept in its
	// argument slot. K1 holds the columns' mask.
	fmt.Fprintf(w, `
// func %[1]s(steps int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc, blocks, mask, set int)
TEXT ·%[1]s(SB), NOSPLIT, $0-80
	MOVQ lda+16(FP), R15
	MOVQ ldb+32(FP), R14
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), SI
	MOVQ blocks+56(FP), AX
	MOVQ mask+64(FP), CX
	KMOVW CX, K1
%[1]sblock:
	MOVQ steps+0(FP), CX
	MOVQ a+8(FP), R8
	MOVQ b+24(FP), BX
`, name)
	bases := []string{"R8"}
	row := make([]string, rows)
	if transA {
		for i := range row {
			row[i] = fmt.Sprintf("%d(R8)", 4*i)
		}
	} else {
		// R9 = a + 3·lda, R10 = + 6, R11 = + 9, R12 = + 12, R13 = + 15.
		prev := "R8"
		for _, r := range []string{"R9", "R10", "R11", "R12", "R13"} {
			p("LEAQ (%s)(R15*2), %s", prev, r)
			p("ADDQ R15, %s", r)
			prev = r
		}
		bases = []string{"R8", "R9", "R10", "R11", "R12", "R13"}
		copy(row, []string{
			"(R8)", "(R8)(R15*1)", "(R8)(R15*2)", "(R9)", "(R8)(R15*4)", "(R9)(R15*2)", "(R10)", "(R9)(R15*4)",
			"(R8)(R15*8)", "(R11)", "(R10)(R15*4)", "(R9)(R15*8)", "(R12)", "(R12)(R15*1)", "(R10)(R15*8)", "(R13)",
		})
	}
	for i := 0; i < rows; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	// Two loops, B's row loaded whole (a whole block: the masked load
	// measured 6 % slower) or under the mask.
	p("KORTESTW K1, K1")
	p("JCC %smloop", name)
	for _, masked := range []bool{false, true} {
		label := "loop"
		if masked {
			label = "mloop"
		}
		fmt.Fprintf(w, "%s%s:\n", name, label)
		if masked {
			p("VMOVUPS.Z (BX), K1, Z31")
		} else {
			p("VMOVUPS (BX), Z31")
		}
		for i, a := range row {
			p("VFMADD231PS.BCST %s, Z31, Z%d", a, i)
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
		p("JNZ %s%s", name, label)
		if !masked {
			p("JMP %ssums", name)
		}
	}
	// The sums to C's rows: stored, or added to C.
	fmt.Fprintf(w, "%ssums:\n", name)
	p("MOVQ DX, DI")
	p("CMPQ set+72(FP), $0")
	p("JNE %sset", name)
	for i := 0; i < rows; i++ {
		p("VADDPS.Z (DI), Z%d, K1, Z%d", i, i)
		p("VMOVUPS Z%d, K1, (DI)", i)
		if i < rows-1 {
			p("ADDQ SI, DI")
		}
	}
	p("JMP %snext", name)
	fmt.Fprintf(w, "%sset:\n", name)
	for i := 0; i < rows; i++ {
		p("VMOVUPS Z%d, K1, (DI)", i)
		if i < rows-1 {
			p("ADDQ SI, DI")
		}
	}
	// The next block: 16 columns on in B and C.
	fmt.Fprintf(w, "%snext:\n", name)
	p("ADDQ $64, DX")
	p("MOVQ b+24(FP), BX")
	p("ADDQ $64, BX")
	p("MOVQ BX, b+24(FP)")
	p("DECQ AX")
	p("JNZ %sblock", name)
	p("VZEROUPPER")
	p("RET")
}
