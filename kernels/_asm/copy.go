package main

import "bytes"

// emitCopyPanel writes copyPanelAVX512 (see ../gemm_amd64.go).
func emitCopyPanel(w *bytes.Buffer) {
	w.WriteString(`
// func copyPanelAVX512(dst, src unsafe.Pointer, rows, ld, dstW, srcW int)
TEXT ·copyPanelAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ ld+24(FP), R8
	MOVQ dstW+32(FP), R9
	MOVQ srcW+40(FP), R10
	// K1, K2: the low srcW of 32 words; K3, K4: the low dstW.
	MOVQ R10, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVD AX, K1
	SHRQ $16, AX
	KMOVD AX, K2
	MOVQ R9, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVD AX, K3
	SHRQ $16, AX
	KMOVD AX, K4
	SHLQ $2, R9
copyPanelAVX512_loop:
	PREFETCHT0 (SI)(R8*4)
	PREFETCHT0 64(SI)(R8*4)
	VMOVDQU32.Z (SI), K1, Z0
	VMOVDQU32.Z 64(SI), K2, Z1
	VMOVDQU32 Z0, K3, (DI)
	VMOVDQU32 Z1, K4, 64(DI)
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ BX
	JNZ copyPanelAVX512_loop
	VZEROUPPER
	RET
`)
}

// emitGatherPanel writes gatherPanelAVX512 (see ../gemm_amd64.go).
func emitGatherPanel(w *bytes.Buffer) {
	w.WriteString(`
// func gatherPanelAVX512(dst, src unsafe.Pointer, idx *[32]int32, kb, step, dstW, srcW int)
TEXT ·gatherPanelAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), AX
	VMOVDQU32 (AX), Z2
	VMOVDQU32 64(AX), Z3
	MOVQ kb+24(FP), BX
	MOVQ step+32(FP), R8
	MOVQ dstW+40(FP), R9
	MOVQ srcW+48(FP), R10
	// K5, K6: the low srcW of 32 words; K3, K4: the low dstW.
	MOVQ R10, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVD AX, K5
	SHRQ $16, AX
	KMOVD AX, K6
	MOVQ R9, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVD AX, K3
	SHRQ $16, AX
	KMOVD AX, K4
	SHLQ $2, R9
	CMPQ R10, $16
	JGT gatherPanelAVX512_two
	VPXORD Z1, Z1, Z1
gatherPanelAVX512_one:
	VPXORD Z0, Z0, Z0
	KMOVW K5, K1
	VPGATHERDD (SI)(Z2*1), K1, Z0
	VMOVDQU32 Z0, K3, (DI)
	VMOVDQU32 Z1, K4, 64(DI) // zeros, if dstW > 16
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ BX
	JNZ gatherPanelAVX512_one
	VZEROUPPER
	RET
gatherPanelAVX512_two:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	KMOVW K5, K1
	KMOVW K6, K2
	VPGATHERDD (SI)(Z2*1), K1, Z0
	VPGATHERDD (SI)(Z3*1), K2, Z1
	VMOVDQU32 Z0, K3, (DI)
	VMOVDQU32 Z1, K4, 64(DI)
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ BX
	JNZ gatherPanelAVX512_two
	VZEROUPPER
	RET
`)
}
