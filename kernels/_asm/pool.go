package main

import (
	"bytes"
	"fmt"
)

// The max-pooling row kernels (../vec_amd64.go): n output rows of cnt
// windows of rows×kw pixels at stride 2 in a float32 plane, AVX-512, rows
// (at least 1) given at run time and kw (1, 2 or 3) when generated: k×k
// windows inside the plane, or the parts inside the plane of those that
// overlap the padding. Window i of output row r has its top-left pixel at
// x[2r·w + 2i] (x points at the first window's, base is that pixel's index
// in the plane; rows are w elements apart) and its results at y[r·ldy + i]
// and am[r·ldy + i]. Each window row's pixels come from masked loads of two
// zmm (the 2·cnt + kw − 2 values the row spans) split into even and odd
// columns by VPERMI2PS. The pixels are scanned in row-major order from the
// first, and a pixel replaces the running maximum when it is greater
// (ordered compare) or NaN (unordered with itself): PyTorch's rule, the
// first of equal maxima and the last NaN. Lane i of the result is window
// i; cnt is at most 16 for kw ≤ 2 and 15 for kw = 3, n at least 1. One
// call does a whole plane's rows: the masks and tables are set up once.
//
// With f64 (maxPoolRow{1,2,3}s2x64AVX512) the plane and y hold float64: the same
// kernel on vectors of 8 lanes, so cnt is at most 8 for kw ≤ 2 and 7 for
// kw = 3 (the 2·cnt + kw − 2 values a window row spans still fit two zmm),
// the argmaxes int32 in the low 8 lanes of a zmm.
func emitPoolRow(w *bytes.Buffer, kw int, f64 bool) {
	name, typ, lanes := fmt.Sprintf("maxPoolRow%ds2AVX512", kw), "float32", 16
	ps, movu, cols, idxMov, elem := "PS", "VMOVUPS", "poolCols", "VMOVDQA32", 2 // elem: log2 of the element size
	if f64 {
		name, typ, lanes = fmt.Sprintf("maxPoolRow%ds2x64AVX512", kw), "float64", 8
		ps, movu, cols, idxMov, elem = "PD", "VMOVUPD", "poolCols64", "VMOVDQA64", 3
	}
	f := header(w, name, fmt.Sprintf("y *%s, am *int32, x *%s, w, base, cnt, rows, n, ldy int", typ, typ),
		fmt.Sprintf("y[r·ldy+i], am[r·ldy+i] = max and argmax of the rows×%d window at x[2r·w+2i], for r < n, i < cnt ≤ %d.", kw, min(lanes, lanes+1-kw)), 72)
	f.p("MOVQ y+0(FP), DI")
	f.p("MOVQ am+8(FP), R8")
	f.p("MOVQ x+16(FP), SI")
	f.p("MOVQ w+24(FP), R9")
	f.p("MOVQ cnt+40(FP), CX")
	// K3: the cnt result lanes. K4, K5: the 2·cnt + kw − 2 values a window
	// row spans, in two vectors.
	laneMasks(f, lanes, "AX", "K3")
	f.p("LEAQ %d(CX)(CX*1), CX", kw-2)
	laneMasks(f, lanes, "AX", "K4", "K5")
	// Z20, Z21, Z22: permutation indices of columns 2i, 2i+1, 2i+2; Z23 the
	// even offsets 2i (argmax of column 2i is row offset + Z23).
	f.p("VMOVDQU32 ·%s+0(SB), Z20", cols)
	f.p("VMOVDQU32 ·%s+64(SB), Z21", cols)
	f.p("VMOVDQU32 ·%s+128(SB), Z22", cols)
	f.p("VMOVDQU32 ·poolCols+0(SB), Z23")
	f.p("VPBROADCASTD ·poolOnes+0(SB), Z24") // 1 in every lane
	f.p("MOVQ base+32(FP), AX")              // index of the current row's first pixel
	f.p("SHLQ $%d, R9", elem)                // w in bytes
	// row emits one window row, the first (which starts the running
	// maximum from its first pixel) or a later one.
	row := func(first bool) {
		f.p("%s.Z (SI), K4, Z0", movu)
		f.p("%s.Z 64(SI), K5, Z1", movu)
		f.p("VPBROADCASTD AX, Z2")
		f.p("VPADDD Z23, Z2, Z2") // argmax of column 2i of this row
		for d := 0; d < kw; d++ {
			v := fmt.Sprintf("Z%d", 4+d)
			f.p("%s Z%d, %s", idxMov, 20+d, v)
			f.p("VPERMI2%s Z1, Z0, %s", ps, v) // v[i] = (Z0‖Z1)[idx[i]]
			if first && d == 0 {
				f.p("VMOVA%s %s, Z8", ps, v) // Z8: running maximum
				f.p("VMOVDQA32 Z2, Z9")      // Z9: its index
			} else {
				f.p("VCMP%s $0x1e, Z8, %s, K1", ps, v) // v > max (false if either is NaN)
				f.p("VCMP%s $3, %s, %s, K2", ps, v, v) // v is NaN
				f.p("KORW K1, K2, K1")
				f.p("VMOVA%s %s, K1, Z8", ps, v)
				f.p("VMOVDQA32 Z2, K1, Z9")
			}
			if d < kw-1 {
				f.p("VPADDD Z24, Z2, Z2")
			}
		}
	}
	// R10: output rows left; R11: ldy in bytes of y, BX of am; R12, R13:
	// the output row's first pixel and its index.
	f.p("MOVQ n+56(FP), R10")
	f.p("MOVQ ldy+64(FP), R11")
	f.p("MOVQ R11, BX")
	f.p("SHLQ $2, BX")
	f.p("SHLQ $%d, R11", elem)
	f.label("out")
	f.p("MOVQ SI, R12")
	f.p("MOVQ AX, R13")
	f.p("MOVQ rows+48(FP), DX")
	row(true)
	f.p("DECQ DX")
	f.p("JZ %s_done", name)
	f.label("rows")
	f.p("ADDQ R9, SI")
	f.p("ADDQ w+24(FP), AX")
	row(false)
	f.p("DECQ DX")
	f.p("JNZ %s_rows", name)
	f.label("done")
	f.p("%s Z8, K3, (DI)", movu)
	f.p("VMOVDQU32 Z9, K3, (R8)")
	// The next output row: two image rows down.
	f.p("LEAQ (R12)(R9*2), SI")
	f.p("MOVQ w+24(FP), AX")
	f.p("LEAQ (R13)(AX*2), AX")
	f.p("ADDQ R11, DI")
	f.p("ADDQ BX, R8")
	f.p("DECQ R10")
	f.p("JNZ %s_out", name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitPoolRowAVX2 writes the AVX2 twin of emitPoolRow's kernel: cnt ≤ 8
// windows in the lanes of a ymm. AVX2 has no two-source permutation: each
// of a window row's kw columns 2i + c comes from two masked loads at column
// c (the 2·cnt − 1 values from it that the windows read) split into even
// columns by VSHUFPS and VPERMPD. The masks come from poolMasks. The rule,
// the scan order, the rows and the output rows are emitPoolRow's, the
// selection a VBLENDVPS.
//
// With f64 (maxPoolRow{1,2,3}s2x64AVX2) the plane and y hold float64:
// cnt ≤ 4 windows in the lanes of a ymm, the even columns by VUNPCKLPD and
// VPERMPD, the compares and selections in PD; the argmaxes are carried as
// int64 lanes (selected by the same 64-bit masks) and packed to int32 by
// VPERMD for the store.
func emitPoolRowAVX2(w *bytes.Buffer, kw int, f64 bool) {
	name, typ, lanes, elem := fmt.Sprintf("maxPoolRow%ds2AVX2", kw), "float32", 8, 4
	pd, bcast, padd, evens := "PS", "VPBROADCASTD", "VPADDD", "poolCols"
	if f64 {
		name, typ, lanes, elem = fmt.Sprintf("maxPoolRow%ds2x64AVX2", kw), "float64", 4, 8
		pd, bcast, padd, evens = "PD", "VPBROADCASTQ", "VPADDQ", "poolCols64"
	}
	f := header(w, name, fmt.Sprintf("y *%s, am *int32, x *%s, w, base, cnt, rows, n, ldy int", typ, typ),
		fmt.Sprintf("y[r·ldy+i], am[r·ldy+i] = max and argmax of the rows×%d window at x[2r·w+2i], for r < n, i < cnt ≤ %d.", kw, lanes), 72)
	f.p("MOVQ y+0(FP), DI")
	f.p("MOVQ am+8(FP), R8")
	f.p("MOVQ x+16(FP), SI")
	f.p("MOVQ w+24(FP), R9")
	f.p("MOVQ cnt+40(FP), CX")
	// Y10, Y11: the masks of the 2·cnt − 1 values a load reads; Y12: of
	// the cnt results (from poolMasks + 64 − elem·lanes: its ones are
	// whole quadwords, a mask of float32 or float64 lanes alike); X13
	// (f64): of the cnt argmaxes, int32.
	f.p("LEAQ -1(CX)(CX*1), BX")
	f.p("SHLQ $%d, BX", log2(elem))
	f.p("LEAQ ·poolMasks+64(SB), R10")
	f.p("SUBQ BX, R10")
	f.p("VMOVDQU (R10), Y10")
	f.p("VMOVDQU 32(R10), Y11")
	if f64 {
		f.p("MOVQ CX, BX")
		f.p("SHLQ $2, BX")
		f.p("LEAQ ·poolMasks+64(SB), R10")
		f.p("SUBQ BX, R10")
		f.p("VMOVDQU (R10), X13")
		f.p("VMOVDQU ·poolCols+0(SB), Y14") // VPERMD: the low dwords of the 4 quadwords
	}
	f.p("SHLQ $%d, CX", log2(elem))
	f.p("LEAQ ·poolMasks+64(SB), R10")
	f.p("SUBQ CX, R10")
	f.p("VMOVDQU (R10), Y12")
	f.p("VMOVDQU ·%s+0(SB), Y7", evens) // the even offsets 0, 2, …
	// 1 in every lane: VEX-encoded moves only (a legacy SSE MOVQ with the
	// vector registers' upper halves dirty costs an SSE/AVX transition on
	// Intel: the kernel ran 24× slower on the Xeon, 4× slower than the
	// reference loop).
	f.p("MOVQ $1, BX")
	f.p("VMOVQ BX, X9")
	f.p("%s X9, Y9", bcast)
	f.p("MOVQ base+32(FP), AX")     // index of the current row's first pixel
	f.p("SHLQ $%d, R9", log2(elem)) // w in bytes
	row := func(first bool) {
		f.p("VMOVQ AX, X8")
		f.p("%s X8, Y8", bcast)
		f.p("%s Y7, Y8, Y8", padd) // argmax of column 2i of this row
		for c := 0; c < kw; c++ {
			f.p("VMASKMOV%s %d(SI), Y10, Y0", pd, elem*c)
			f.p("VMASKMOV%s %d(SI), Y11, Y1", pd, elem*c+32)
			if f64 {
				f.p("VUNPCKLPD Y1, Y0, Y2") // x[c], x[c+4] | x[c+2], x[c+6]
			} else {
				f.p("VSHUFPS $0x88, Y1, Y0, Y2") // x[c], x[c+2], x[c+8], x[c+10] | x[c+4], …
			}
			f.p("VPERMPD $0xd8, Y2, Y2") // x[c], x[c+2], x[c+4], …
			if first && c == 0 {
				f.p("VMOVA%s Y2, Y3", pd) // Y3: running maximum
				f.p("VMOVDQA Y8, Y4")     // Y4: its index
			} else {
				f.p("VCMP%s $0x1e, Y3, Y2, Y5", pd) // v > max (false if either is NaN)
				f.p("VCMP%s $3, Y2, Y2, Y6", pd)    // v is NaN
				f.p("VOR%s Y6, Y5, Y5", pd)
				f.p("VBLENDV%s Y5, Y2, Y3, Y3", pd)
				f.p("VBLENDV%s Y5, Y8, Y4, Y4", pd)
			}
			if c < kw-1 {
				f.p("%s Y9, Y8, Y8", padd)
			}
		}
	}
	// R11: output rows left; R12: ldy in bytes of y, R15 of am; R13,
	// R14: the output row's first pixel and its index.
	f.p("MOVQ n+56(FP), R11")
	f.p("MOVQ ldy+64(FP), R12")
	f.p("MOVQ R12, R15")
	f.p("SHLQ $2, R15")
	f.p("SHLQ $%d, R12", log2(elem))
	f.label("out")
	f.p("MOVQ SI, R13")
	f.p("MOVQ AX, R14")
	f.p("MOVQ rows+48(FP), DX")
	row(true)
	f.p("DECQ DX")
	f.p("JZ %s_done", name)
	f.label("rows")
	f.p("ADDQ R9, SI")
	f.p("ADDQ w+24(FP), AX")
	row(false)
	f.p("DECQ DX")
	f.p("JNZ %s_rows", name)
	f.label("done")
	f.p("VMASKMOV%s Y3, Y12, (DI)", pd)
	if f64 {
		f.p("VPERMD Y4, Y14, Y4")
		f.p("VMASKMOVPS X4, X13, (R8)")
	} else {
		f.p("VMASKMOVPS Y4, Y12, (R8)")
	}
	// The next output row: two image rows down.
	f.p("LEAQ (R13)(R9*2), SI")
	f.p("MOVQ w+24(FP), AX")
	f.p("LEAQ (R14)(AX*2), AX")
	f.p("ADDQ R12, DI")
	f.p("ADDQ R15, R8")
	f.p("DECQ R11")
	f.p("JNZ %s_out", name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitPoolData writes the permutation tables: the even columns 0, 2, …, 30,
// the odd ones 1, 3, …, 31 and the even ones from 2 (the last lane, never
// used, repeats 30); a 1; and poolMasks.
func emitPoolData(w *bytes.Buffer) {
	w.WriteString("\n")
	for t, start := range []int{0, 1, 2} {
		for i := 0; i < 16; i++ {
			fmt.Fprintf(w, "DATA ·poolCols+%d(SB)/4, $%d\n", 64*t+4*i, min(start+2*i, 31-(start+1)%2))
		}
	}
	w.WriteString("GLOBL ·poolCols(SB), RODATA, $192\n")
	// poolCols64: the same for VPERMI2PD's 8 lanes of float64 (indices
	// into 16 values).
	for t, start := range []int{0, 1, 2} {
		for i := 0; i < 8; i++ {
			fmt.Fprintf(w, "DATA ·poolCols64+%d(SB)/8, $%d\n", 64*t+8*i, min(start+2*i, 15-(start+1)%2))
		}
	}
	w.WriteString("GLOBL ·poolCols64(SB), RODATA, $192\n")
	// poolZip: the even columns' values (lanes 0–15 of a VPERMI2PS's
	// tables) and the odd ones' (16–31) alternated, windows 0–7 then 8–15.
	for i := 0; i < 32; i++ {
		fmt.Fprintf(w, "DATA ·poolZip+%d(SB)/4, $%d\n", 4*i, i/2+16*(i%2))
	}
	w.WriteString("GLOBL ·poolZip(SB), RODATA, $128\n")
	// poolZip64: the same for VPERMI2PD's 8 lanes of float64 (indices into
	// 16 values: the even columns' 0–7, the odd ones' 8–15).
	for i := 0; i < 16; i++ {
		fmt.Fprintf(w, "DATA ·poolZip64+%d(SB)/8, $%d\n", 8*i, i/2+8*(i%2))
	}
	w.WriteString("GLOBL ·poolZip64(SB), RODATA, $128\n")
	w.WriteString("DATA ·poolOnes+0(SB)/4, $1\nGLOBL ·poolOnes(SB), RODATA, $4\n")
	// poolMasks: 64 bytes of ones, 64 of zeros; the n-lane mask of AVX2's
	// masked moves starts 4n bytes before the zeros.
	for i := 0; i < 128; i += 8 {
		v := 0
		if i < 64 {
			v = -1
		}
		fmt.Fprintf(w, "DATA ·poolMasks+%d(SB)/8, $%d\n", i, v)
	}
	w.WriteString("GLOBL ·poolMasks(SB), RODATA|NOPTR, $128\n")
}

// laneMasks sets the mask registers ks, of lanes lanes each, to the first
// CX lanes (CX ≤ lanes·len(ks) < 64), through the scratch register tmp.
func laneMasks(f asmFunc, lanes int, tmp string, ks ...string) {
	f.p("MOVQ $1, %s", tmp)
	f.p("SHLQ CX, %s", tmp)
	f.p("DECQ %s", tmp)
	for i, k := range ks {
		if i > 0 {
			f.p("SHRQ $%d, %s", lanes, tmp)
		}
		f.p("KMOVW %s, %s", tmp, k)
	}
}

// emitUnpool writes the AVX-512 max-unpooling kernel: the input cotangent
// of n output rows of cnt ≤ 16 windows of 2×2 pixels at stride 2 (windows
// that do not overlap), written, not added: d's rows 2r and 2r + 1 (w
// elements apart; d's first pixel has index base in the plane) get, in
// columns 0 … 2·cnt − 1, +0 + v[r·ldv + i] at the pixel am[r·ldv + i] of
// window i and +0 elsewhere (the bits of clearing the plane and adding v
// at the argmax: −0 becomes +0). A window's four pixels are compared with
// its argmax, its value kept or zeroed for each, and the even and odd
// columns zipped into the two rows by VPERMI2PS.
//
// With f64 (maxUnpool2s2x64AVX512) d and v hold float64: cnt ≤ 8 windows,
// the argmaxes and pixel indices int32 in a ymm, the zip by VPERMI2PD
// (poolZip64).
func emitUnpool(w *bytes.Buffer, f64 bool) {
	name, typ, lanes, elem, pd, zip := "maxUnpool2s2AVX512", "float32", 16, 4, "PS", "poolZip"
	ireg := "Z"
	if f64 {
		name, typ, lanes, elem, pd, zip = "maxUnpool2s2x64AVX512", "float64", 8, 8, "PD", "poolZip64"
		ireg = "Y"
	}
	f := header(w, name, fmt.Sprintf("d, v *%s, am *int32, w, base, cnt, n, ldv int", typ),
		fmt.Sprintf("d's rows 2r, 2r+1 = v[r·ldv+i] at pixel am[r·ldv+i] of 2×2 window i, +0 elsewhere, for r < n, i < cnt ≤ %d.", lanes), 64)
	unpoolArgs(f, elem)
	// K3: the cnt windows; K4, K5: the 2·cnt pixels of a row, in two
	// vectors.
	laneMasks(f, lanes, "DX", "K3")
	f.p("ADDQ CX, CX")
	laneMasks(f, lanes, "DX", "K4", "K5")
	f.p("VMOVDQU32 ·poolCols+0(SB), Z20")    // 0, 2, …, 30: window i's first column
	f.p("VMOVDQU32 ·%s+0(SB), Z21", zip)     // e0 o0 e1 o1 …
	f.p("VMOVDQU32 ·%s+64(SB), Z22", zip)    // … of the second vector
	f.p("VPBROADCASTD ·poolOnes+0(SB), Z24") // 1 in every lane
	f.p("VPBROADCASTD R9, Z25")              // w in every lane
	f.p("VPXORD Z23, Z23, Z23")
	f.p("SHLQ $%d, R9", log2(elem)) // w in bytes
	r := func(k int) string { return fmt.Sprintf("%s%d", ireg, k) }
	f.label("out")
	f.p("VMOVU%s.Z (SI), K3, Z0", pd)
	f.p("VADD%s Z23, Z0, Z0", pd) // +0 + v
	f.p("VMOVDQU32.Z (R8), K3, %s", r(1))
	f.p("VPBROADCASTD AX, %s", r(2))
	f.p("VPADDD %s, %s, %s", r(20), r(2), r(2)) // index of window i's top-left pixel
	for row := 0; row < 2; row++ {
		if row == 1 {
			f.p("VPADDD %s, %s, %s", r(25), r(2), r(2)) // one row down
		}
		f.p("VPCMPEQD %s, %s, K1", r(2), r(1))
		f.p("VPADDD %s, %s, %s", r(24), r(2), r(5))
		f.p("VPCMPEQD %s, %s, K2", r(5), r(1))
		f.p("VMOVA%s.Z Z0, K1, Z6", pd) // even columns
		f.p("VMOVA%s.Z Z0, K2, Z7", pd) // odd columns
		f.p("VMOVDQA64 Z21, Z8")
		f.p("VPERMI2%s Z7, Z6, Z8", pd)
		f.p("VMOVDQA64 Z22, Z9")
		f.p("VPERMI2%s Z7, Z6, Z9", pd)
		if row == 0 {
			f.p("VMOVU%s Z8, K4, (DI)", pd)
			f.p("VMOVU%s Z9, K5, 64(DI)", pd)
		} else {
			f.p("VMOVU%s Z8, K4, (DI)(R9*1)", pd)
			f.p("VMOVU%s Z9, K5, 64(DI)(R9*1)", pd)
		}
	}
	unpoolNext(f)
}

// unpoolArgs loads the arguments of the max-unpooling kernels: d in DI, v
// in SI, am in R8, w in R9, base in AX, cnt in CX, n in R10, and in R11 ldv
// in bytes of v and in R12 of am (v's elements elem bytes each).
func unpoolArgs(f asmFunc, elem int) {
	f.p("MOVQ d+0(FP), DI")
	f.p("MOVQ v+8(FP), SI")
	f.p("MOVQ am+16(FP), R8")
	f.p("MOVQ w+24(FP), R9")
	f.p("MOVQ base+32(FP), AX")
	f.p("MOVQ cnt+40(FP), CX")
	f.p("MOVQ n+48(FP), R10")
	f.p("MOVQ ldv+56(FP), R11")
	f.p("LEAQ (R11*4), R12")
	f.p("SHLQ $%d, R11", log2(elem))
}

// unpoolNext ends a max-unpooling kernel's output row (R9 holding w in
// bytes): d and the pixel index two image rows down, v and am one row of
// ldv on, and back to the label out while rows are left.
func unpoolNext(f asmFunc) {
	f.p("LEAQ (DI)(R9*2), DI")
	f.p("MOVQ w+24(FP), DX")
	f.p("LEAQ (AX)(DX*2), AX")
	f.p("ADDQ R11, SI")
	f.p("ADDQ R12, R8")
	f.p("DECQ R10")
	f.p("JNZ %s_out", f.name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitUnpoolAVX2 writes the AVX2 twin of emitUnpool's kernel, cnt ≤ 8
// windows a row: the compares give all-ones lanes that VANDPS keeps the
// value with, VUNPCKLPS, VUNPCKHPS and VPERM2F128 zip the columns, the
// masks of the loads and stores come from poolMasks. With f64
// (maxUnpool2s2x64AVX2), cnt ≤ 4 windows of float64: the doubleword
// compares of argmaxes and indices widened to quadword lanes by
// VPMOVSXDQ, the zip by VUNPCKLPD, VUNPCKHPD and VPERM2F128.
func emitUnpoolAVX2(w *bytes.Buffer, f64 bool) {
	name, typ, lanes, elem, pd := "maxUnpool2s2AVX2", "float32", 8, 4, "PS"
	if f64 {
		name, typ, lanes, elem, pd = "maxUnpool2s2x64AVX2", "float64", 4, 8, "PD"
	}
	f := header(w, name, fmt.Sprintf("d, v *%s, am *int32, w, base, cnt, n, ldv int", typ),
		fmt.Sprintf("d's rows 2r, 2r+1 = v[r·ldv+i] at pixel am[r·ldv+i] of 2×2 window i, +0 elsewhere, for r < n, i < cnt ≤ %d.", lanes), 64)
	unpoolArgs(f, elem)
	// Y12: the cnt windows; Y10, Y11: the 2·cnt pixels of a row (from
	// poolMasks + 64 − elem·lanes); X13 (f64): the cnt argmaxes.
	f.p("LEAQ ·poolMasks+64(SB), DX")
	f.p("MOVQ CX, BX")
	f.p("SHLQ $%d, BX", log2(elem))
	f.p("SUBQ BX, DX")
	f.p("VMOVDQU (DX), Y12")
	f.p("SUBQ BX, DX")
	f.p("VMOVDQU (DX), Y10")
	f.p("VMOVDQU 32(DX), Y11")
	if f64 {
		f.p("LEAQ ·poolMasks+64(SB), DX")
		f.p("SHLQ $2, CX")
		f.p("SUBQ CX, DX")
		f.p("VMOVDQU (DX), X13")
	}
	f.p("VMOVDQU ·poolCols+0(SB), Y7") // 0, 2, …, 14: window i's first column
	f.p("MOVQ $1, DX")
	f.p("VMOVQ DX, X9")
	f.p("VPBROADCASTD X9, Y9") // 1 in every lane
	f.p("VMOVQ R9, X8")
	f.p("VPBROADCASTD X8, Y8") // w in every lane
	f.p("VXOR%s Y15, Y15, Y15", pd)
	f.p("SHLQ $%d, R9", log2(elem)) // w in bytes
	f.label("out")
	f.p("VMASKMOV%s (SI), Y12, Y0", pd)
	f.p("VADD%s Y15, Y0, Y0", pd) // +0 + v
	if f64 {
		f.p("VMASKMOVPS (R8), X13, X1")
	} else {
		f.p("VMASKMOVPS (R8), Y12, Y1")
	}
	f.p("VMOVQ AX, X2")
	f.p("VPBROADCASTD X2, Y2")
	f.p("VPADDD Y7, Y2, Y2") // index of window i's top-left pixel
	for row := 0; row < 2; row++ {
		if row == 1 {
			f.p("VPADDD Y8, Y2, Y2") // one row down
		}
		f.p("VPCMPEQD Y2, Y1, Y5")
		f.p("VPADDD Y9, Y2, Y6")
		f.p("VPCMPEQD Y6, Y1, Y6")
		if f64 {
			f.p("VPMOVSXDQ X5, Y5")
			f.p("VPMOVSXDQ X6, Y6")
		}
		f.p("VAND%s Y0, Y5, Y5", pd)     // even columns
		f.p("VAND%s Y0, Y6, Y6", pd)     // odd columns
		f.p("VUNPCKL%s Y6, Y5, Y14", pd) // e0 o0 e1 o1 | e4 o4 e5 o5 (f64: e0 o0 | e2 o2)
		f.p("VUNPCKH%s Y6, Y5, Y3", pd)
		f.p("VPERM2F128 $0x20, Y3, Y14, Y4")
		f.p("VPERM2F128 $0x31, Y3, Y14, Y3")
		if row == 0 {
			f.p("VMASKMOV%s Y4, Y10, (DI)", pd)
			f.p("VMASKMOV%s Y3, Y11, 32(DI)", pd)
		} else {
			f.p("VMASKMOV%s Y4, Y10, (DI)(R9*1)", pd)
			f.p("VMASKMOV%s Y3, Y11, 32(DI)(R9*1)", pd)
		}
	}
	unpoolNext(f)
}
