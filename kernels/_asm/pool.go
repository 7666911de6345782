package main

import (
	"bytes"
	"fmt"
)

// The max-pooling row kernels (../vec_amd64.go): cnt k×k windows at stride 2
// along one row of a float32 plane, AVX-512. Window i has its top-left pixel
// at x[2i] (x points at the first window's, base is that pixel's index in
// the plane) and rows w elements apart. Each window row's pixels come from
// masked loads of two zmm (the 2·cnt + k − 2 values the row spans) split
// into even and odd columns by VPERMI2PS. The pixels are scanned in
// row-major order from the first, and a pixel replaces the running maximum
// when it is greater (ordered compare) or NaN (unordered with itself):
// PyTorch's rule, the first of equal maxima and the last NaN. Lane i of
// the result is window i; cnt is at most 16 for k = 2 and 15 for k = 3.
func emitPoolRow(w *bytes.Buffer, k int) {
	name := fmt.Sprintf("maxPoolRow%ds2AVX512", k)
	f := header(w, name, "y *float32, am *int32, x *float32, w, base, cnt int",
		fmt.Sprintf("y[i], am[i] = max and argmax of the %d×%d window at x[2i], for i < cnt ≤ %d.", k, k, 17-k), 48)
	f.p("MOVQ y+0(FP), DI")
	f.p("MOVQ am+8(FP), R8")
	f.p("MOVQ x+16(FP), SI")
	f.p("MOVQ w+24(FP), R9")
	f.p("MOVQ cnt+40(FP), CX")
	// K3: the cnt result lanes. K4, K5: the 2·cnt + k − 2 values a window
	// row spans, in two vectors.
	f.p("MOVQ $1, AX")
	f.p("SHLQ CX, AX")
	f.p("DECQ AX")
	f.p("KMOVW AX, K3")
	f.p("LEAQ %d(CX)(CX*1), CX", k-2)
	f.p("MOVQ $1, AX")
	f.p("SHLQ CX, AX")
	f.p("DECQ AX")
	f.p("KMOVW AX, K4")
	f.p("SHRQ $16, AX")
	f.p("KMOVW AX, K5")
	// Z20, Z21, Z22: permutation indices of columns 2i, 2i+1, 2i+2; Z23 the
	// even offsets 2i (argmax of column 2i is row offset + Z23).
	f.p("VMOVDQU32 ·poolCols+0(SB), Z20")
	f.p("VMOVDQU32 ·poolCols+64(SB), Z21")
	f.p("VMOVDQU32 ·poolCols+128(SB), Z22")
	f.p("VMOVDQU32 ·poolCols+0(SB), Z23")
	f.p("VPBROADCASTD ·poolOnes+0(SB), Z24") // 1 in every lane
	f.p("MOVQ base+32(FP), AX")              // index of the current row's first pixel
	f.p("SHLQ $2, R9")                       // w in bytes
	first := true
	for r := 0; r < k; r++ {
		f.p("VMOVUPS.Z (SI), K4, Z0")
		f.p("VMOVUPS.Z 64(SI), K5, Z1")
		f.p("VPBROADCASTD AX, Z2")
		f.p("VPADDD Z23, Z2, Z2") // argmax of column 2i of this row
		for d := 0; d < k; d++ {
			v := fmt.Sprintf("Z%d", 4+d)
			f.p("VMOVDQA32 Z%d, %s", 20+d, v)
			f.p("VPERMI2PS Z1, Z0, %s", v) // v[i] = (Z0‖Z1)[idx[i]]
			if first {
				f.p("VMOVAPS %s, Z8", v) // Z8: running maximum
				f.p("VMOVDQA32 Z2, Z9")  // Z9: its index
				first = false
			} else {
				f.p("VCMPPS $0x1e, Z8, %s, K1", v) // v > max (false if either is NaN)
				f.p("VCMPPS $3, %s, %s, K2", v, v) // v is NaN
				f.p("KORW K1, K2, K1")
				f.p("VMOVAPS %s, K1, Z8", v)
				f.p("VMOVDQA32 Z2, K1, Z9")
			}
			if d < k-1 {
				f.p("VPADDD Z24, Z2, Z2")
			}
		}
		if r < k-1 {
			f.p("ADDQ R9, SI")
			f.p("ADDQ w+24(FP), AX")
		}
	}
	f.p("VMOVUPS Z8, K3, (DI)")
	f.p("VMOVDQU32 Z9, K3, (R8)")
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitPoolData writes the permutation tables: the even columns 0, 2, …, 30,
// the odd ones 1, 3, …, 31 and the even ones from 2 (the last lane, never
// used, repeats 30); and a 1.
func emitPoolData(w *bytes.Buffer) {
	w.WriteString("\n")
	for t, start := range []int{0, 1, 2} {
		for i := 0; i < 16; i++ {
			fmt.Fprintf(w, "DATA ·poolCols+%d(SB)/4, $%d\n", 64*t+4*i, min(start+2*i, 31-(start+1)%2))
		}
	}
	w.WriteString("GLOBL ·poolCols(SB), RODATA, $192\n")
	w.WriteString("DATA ·poolOnes+0(SB)/4, $1\nGLOBL ·poolOnes(SB), RODATA, $4\n")
}
