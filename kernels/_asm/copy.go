package main

import (
	"bytes"
	"fmt"
	"strings"
)

// emitCopyPanel writes copyPanelAVX512, copyPanel48AVX512 and
// copyPanel64AVX512 (see ../gemm_amd64.go): rows of up to 32, 48 or 64
// words, nv = 2, 3 or 4 zmm registers each, loaded under the mask of the
// source's srcW words (zeros beyond) and stored under that of the
// destination's dstW. With four registers (dstW > 48: float64 rows of 25
// to 32 elements) the first three are stored whole and the masks take K1–K5.
func emitCopyPanel(w *bytes.Buffer) {
	for _, nv := range []int{2, 3, 4} {
		name := map[int]string{2: "copyPanelAVX512", 3: "copyPanel48AVX512", 4: "copyPanel64AVX512"}[nv]
		f := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
		fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, rows, ld, dstW, srcW int)\n", name)
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
		f("MOVQ dst+0(FP), DI")
		f("MOVQ src+8(FP), SI")
		f("MOVQ rows+16(FP), BX")
		f("MOVQ ld+24(FP), R8")
		f("MOVQ dstW+32(FP), R9")
		f("MOVQ srcW+40(FP), R10")
		// storeMask is the K register of vector v's store (0: whole).
		storeMask := func(v int) int {
			if nv == 4 {
				if v < 3 {
					return 0
				}
				return 5
			}
			return nv + v + 1
		}
		masks := func(from, n int) string {
			var m []string
			for v := 0; v < n; v++ {
				m = append(m, fmt.Sprintf("K%d", from+v))
			}
			return strings.Join(m, ", ")
		}
		if nv == 4 {
			f("// %s: the low srcW of 64 words; K5: the low dstW − 48 of the last 16.", masks(1, nv))
			f("MOVQ R10, CX")
			f("MOVQ $-1, AX")
			f("CMPQ CX, $64")
			f("JAE %s_all", name) // a shift by 64 would be one by 0
			f("MOVQ $1, AX")
			f("SHLQ CX, AX")
			f("DECQ AX")
			fmt.Fprintf(w, "%s_all:\n", name)
			for v := 0; v < nv; v++ {
				if v > 0 {
					f("SHRQ $16, AX")
				}
				f("KMOVD AX, K%d", v+1)
			}
			f("LEAQ -48(R9), CX")
			f("MOVQ $1, AX")
			f("SHLQ CX, AX")
			f("DECQ AX")
			f("KMOVD AX, K5")
		} else {
			f("// %s: the low srcW of %d words; %s: the low dstW.", masks(1, nv), 16*nv, masks(nv+1, nv))
			for m, reg := range []string{"R10", "R9"} {
				f("MOVQ %s, CX", reg)
				f("MOVQ $1, AX")
				f("SHLQ CX, AX")
				f("DECQ AX")
				for v := 0; v < nv; v++ {
					if v > 0 {
						f("SHRQ $16, AX")
					}
					f("KMOVD AX, K%d", m*nv+v+1)
				}
			}
		}
		f("SHLQ $2, R9")
		fmt.Fprintf(w, "%s_loop:\n", name)
		for v := 0; v < nv; v++ {
			f("PREFETCHT0 %d(SI)(R8*4)", 64*v)
		}
		for v := 0; v < nv; v++ {
			f("VMOVDQU32.Z %d(SI), K%d, Z%d", 64*v, v+1, v)
		}
		for v := 0; v < nv; v++ {
			if k := storeMask(v); k > 0 {
				f("VMOVDQU32 Z%d, K%d, %d(DI)", v, k, 64*v)
			} else {
				f("VMOVDQU32 Z%d, %d(DI)", v, 64*v)
			}
		}
		f("ADDQ R8, SI")
		f("ADDQ R9, DI")
		f("DECQ BX")
		f("JNZ %s_loop", name)
		f("VZEROUPPER")
		f("RET")
	}
}

// permChannels is how many channels col2im of narrow images takes per
// pass over its table: an entry's offsets, masks and indices are decoded
// once for all of them, and the sums run in as many independent chains
// (with one, each group's 25 adds of a 5×5 window waited on each other).
// The channels left over go one at a time. Every channel's terms are
// added in the same order, so the bits do not change. Measured
// (BenchmarkIm2col, one image, AVX-512): Col2im 0.67 of the time on
// LeNet-5's second layer, C2's fourth and ResNet-18's 4×4 layers, 0.75 on
// ResNet-20's 8×8. Im2col has no chains to break; taking four (or two)
// channels at a time there measured 0.86 on LeNet-5's second layer but
// 1.2–1.7 on C2's fourth, so it keeps one.
const permChannels = 4

// emitIm2colPerm writes im2colPermAVX512 (see ../gemm_amd64.go): im2col
// of images whose output rows are narrower than a vector, 16 outputs at a
// time, each a two-table permute of the 32 pixels from its entry's source
// (loaded under masks that stay inside the plane), zeroed outside its
// valid lanes and stored under its store mask. Entries are 96 bytes: 16
// int32 indices, then the source's byte offset in the plane, the output
// row, the output column's byte offset and four 16-bit masks (valid,
// stored, second and first source's loaded lanes, from the low bits up).
func emitIm2colPerm(w *bytes.Buffer) {
	w.WriteString(`
// func im2colPermAVX512(dst, x unsafe.Pointer, tab *permEntry, entries, channels, plane, ld, chanStride int)
TEXT ·im2colPermAVX512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ entries+24(FP), R9
	MOVQ channels+32(FP), R10
	MOVQ plane+40(FP), R11
	MOVQ ld+48(FP), R13
	MOVQ chanStride+56(FP), R12
im2colPermAVX512_channel:
	MOVQ tab+16(FP), AX
	MOVQ R9, CX
im2colPermAVX512_entry:
	MOVQ 64(AX), BX
	MOVQ 88(AX), DX
	KMOVW DX, K1
	SHRQ $16, DX
	KMOVW DX, K2
	SHRQ $16, DX
	KMOVW DX, K3
	SHRQ $16, DX
	KMOVW DX, K4
	VMOVDQU32.Z (SI)(BX*1), K4, Z0
	VMOVDQU32.Z 64(SI)(BX*1), K3, Z1
	VMOVDQU32 (AX), Z2
	VPERMT2PS.Z Z1, Z2, K1, Z0
	MOVQ 72(AX), BX
	IMULQ R13, BX
	ADDQ 80(AX), BX
	VMOVDQU32 Z0, K2, (DI)(BX*1)
	ADDQ $96, AX
	DECQ CX
	JNZ im2colPermAVX512_entry
	ADDQ R11, SI
	ADDQ R12, DI
	DECQ R10
	JNZ im2colPermAVX512_channel
	VZEROUPPER
	RET
`)
}

// emitCol2imPerm writes col2imPermAVX512 (see ../gemm_amd64.go), the
// adjoint of im2colPermAVX512: for each group of 16 pixels of a plane, in
// the column matrix's row order, the 16 terms of each window offset are a
// two-table permute of 32 values of its row, added (merge-masked to the
// lanes that have one) to the group, which is loaded at its first entry
// and stored at its last. Entries are 104 bytes: 16 int32 indices, the
// source's byte offset in the row, the row, the group's byte offset in the
// plane, four 16-bit masks (lanes with a term, second and first source's
// loaded lanes, the group's pixels, from the low bits up) and flags (1:
// the group's first entry, 2: its last). Each entry is applied to
// permChannels channels at a time, their groups in Z3–Z6.
func emitCol2imPerm(w *bytes.Buffer) {
	const name = "col2imPermAVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, col unsafe.Pointer, tab *col2imEntry, entries, channels, plane, ld, chanStride int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ col+8(FP), SI")
	f.p("MOVQ entries+24(FP), R9")
	f.p("MOVQ channels+32(FP), R10")
	f.p("MOVQ plane+40(FP), R11")
	f.p("MOVQ ld+48(FP), R13")
	f.p("MOVQ chanStride+56(FP), R12")
	// The group of channel q in Z(3+q), its terms loaded into Z(7+2q) and
	// Z(8+2q).
	for _, nc := range []int{permChannels, 1} {
		l := fmt.Sprint(nc) // the labels' prefix
		// groups loads (or stores) channel q's group at R8, stepping a
		// plane per channel.
		groups := func(store bool) {
			f.p("MOVQ 80(AX), R8")
			for q := 0; q < nc; q++ {
				if q > 0 {
					f.p("ADDQ R11, R8")
				}
				if store {
					f.p("VMOVUPS Z%d, K4, (DI)(R8*1)", 3+q)
				} else {
					f.p("VMOVUPS.Z (DI)(R8*1), K4, Z%d", 3+q)
				}
			}
		}
		f.label(l + "_channels")
		f.p("CMPQ R10, $%d", nc)
		if nc == 1 {
			f.p("JLT %s_done", name)
		} else {
			f.p("JLT %s_1_channels", name)
		}
		f.p("MOVQ tab+16(FP), AX")
		f.p("MOVQ R9, CX")
		f.label(l + "_entry")
		f.p("MOVQ 88(AX), DX")
		for k := 1; k <= 4; k++ {
			if k > 1 {
				f.p("SHRQ $16, DX")
			}
			f.p("KMOVW DX, K%d", k)
		}
		f.p("MOVQ 96(AX), R14")
		f.p("TESTQ $1, R14")
		f.p("JZ %s_%s_terms", name, l)
		groups(false)
		f.label(l + "_terms")
		f.p("MOVQ 72(AX), BX")
		f.p("IMULQ R13, BX")
		f.p("ADDQ 64(AX), BX")
		f.p("VMOVDQU32 (AX), Z2")
		for q := 0; q < nc; q++ {
			if q > 0 {
				f.p("ADDQ R12, BX")
			}
			a, b := 7+2*q, 8+2*q
			f.p("VMOVUPS.Z (SI)(BX*1), K3, Z%d", a)
			f.p("VMOVUPS.Z 64(SI)(BX*1), K2, Z%d", b)
			f.p("VPERMT2PS Z%d, Z2, Z%d", b, a)
			f.p("VADDPS Z%d, Z%d, K1, Z%d", a, 3+q, 3+q)
		}
		f.p("TESTQ $2, R14")
		f.p("JZ %s_%s_next", name, l)
		groups(true)
		f.label(l + "_next")
		f.p("ADDQ $104, AX")
		f.p("DECQ CX")
		f.p("JNZ %s_%s_entry", name, l)
		for q := 0; q < nc; q++ {
			f.p("ADDQ R12, SI")
			f.p("ADDQ R11, DI")
		}
		f.p("SUBQ $%d, R10", nc)
		f.p("JMP %s_%s_channels", name, l)
	}
	f.label("done")
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitBiasPanel writes biasPanelAVX512 (see ../gemm_amd64.go): rows of up
// to 32 words, each loaded and stored under the mask of its w words with
// the broadcast bias added on the way.
func emitBiasPanel(w *bytes.Buffer) {
	w.WriteString(`
// func biasPanelAVX512(dst, src unsafe.Pointer, b float32, rows, ld, w int)
TEXT ·biasPanelAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	VBROADCASTSS b+16(FP), Z2
	MOVQ rows+24(FP), BX
	MOVQ ld+32(FP), R8
	MOVQ w+40(FP), R9
	// K1, K2: the low w of 32 words.
	MOVQ R9, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVD AX, K1
	SHRQ $16, AX
	KMOVD AX, K2
	SHLQ $2, R9
biasPanelAVX512_loop:
	PREFETCHT0 (SI)(R8*4)
	PREFETCHT0 64(SI)(R8*4)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VADDPS Z2, Z0, Z0
	VADDPS Z2, Z1, Z1
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	ADDQ R8, SI
	ADDQ R9, DI
	DECQ BX
	JNZ biasPanelAVX512_loop
	VZEROUPPER
	RET
`)
}

// emitCopyPanelS2 writes copyPanelS2AVX512 and, with f64,
// copyPanelS2x64AVX512 (see ../gemm_amd64.go): rows of up to 16 elements
// whose 2·srcW − 1 elements read are loaded whole (two or four masked
// loads of 16 or 8 lanes), their even elements picked by two-table
// permutes with the even indices (one or two) and stored with the zeros of
// the rest of a dstW-element row under the dstW masks.
func emitCopyPanelS2(w *bytes.Buffer, f64 bool) {
	name, table, lanes, elem := "copyPanelS2AVX512", "*[16]int32", 16, 4
	perm, mov := "VPERMT2PS", "VMOVDQU32"
	if f64 {
		name, table, lanes, elem = "copyPanelS2x64AVX512", "*[8]int64", 8, 8
		perm, mov = "VPERMT2PD", "VMOVDQU64"
	}
	loads, outs := 32/lanes, 16/lanes // vectors read and written a row
	f := header(w, name, "dst, src unsafe.Pointer, even "+table+", rows, ld, dstW, srcW int",
		fmt.Sprintf("copyPanelS2Generic on raw memory, %d-byte elements, 1 ≤ srcW ≤ dstW ≤ 16.", elem), 56)
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ src+8(FP), SI")
	f.p("MOVQ even+16(FP), AX")
	f.p("%s (AX), Z8", mov)
	f.p("MOVQ rows+24(FP), BX")
	f.p("MOVQ ld+32(FP), R8")
	f.p("MOVQ dstW+40(FP), R9")
	f.p("MOVQ srcW+48(FP), R10")
	// K1…: the low 2·srcW − 1 of 32 elements (those read); then the low
	// dstW of 16.
	var read, write []string
	for v := 0; v < loads; v++ {
		read = append(read, fmt.Sprintf("K%d", 1+v))
	}
	for v := 0; v < outs; v++ {
		write = append(write, fmt.Sprintf("K%d", 1+loads+v))
	}
	f.p("LEAQ -1(R10)(R10*1), CX")
	laneMasks(f, lanes, "AX", read...)
	f.p("MOVQ R9, CX")
	laneMasks(f, lanes, "AX", write...)
	f.p("SHLQ $%d, R9", log2(elem))
	f.label("loop")
	for v := 0; v < loads; v++ {
		f.p("%s.Z %d(SI), %s, Z%d", mov, 64*v, read[v], v)
	}
	for v := 0; v < outs; v++ {
		f.p("%s Z%d, Z8, Z%d", perm, 2*v+1, 2*v) // Z(2v) = even elements of Z(2v)‖Z(2v+1)
	}
	for v := 0; v < outs; v++ {
		f.p("%s Z%d, %s, %d(DI)", mov, 2*v, write[v], 64*v)
	}
	f.p("ADDQ R8, SI")
	f.p("ADDQ R9, DI")
	f.p("DECQ BX")
	f.p("JNZ %s_loop", name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitAddPanelS2 writes addPanelS2AVX512 (see ../gemm_amd64.go): a row of
// up to 16 words spread to the even lanes of two vectors by two-table
// permutes with a zero vector, added to the destination row and stored
// into its even words only.
func emitAddPanelS2(w *bytes.Buffer) {
	w.WriteString(`
// func addPanelS2AVX512(dst, src unsafe.Pointer, spread *[32]int32, rows, ldDst, ldSrc, n int)
TEXT ·addPanelS2AVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ spread+16(FP), AX
	VMOVDQU32 (AX), Z2
	VMOVDQU32 64(AX), Z3
	MOVQ rows+24(FP), BX
	MOVQ ldDst+32(FP), R8
	MOVQ ldSrc+40(FP), R9
	MOVQ n+48(FP), R10
	VPXORD Z4, Z4, Z4
	// K1: the low n of 16 words (src); K2, K3: the even words among the
	// low 2·n − 1 of 32 (dst).
	MOVQ R10, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	LEAQ -1(R10)(R10*1), CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	MOVQ $0x5555555555555555, DX
	ANDQ DX, AX
	KMOVD AX, K2
	SHRQ $16, AX
	KMOVD AX, K3
addPanelS2AVX512_loop:
	VMOVDQU32.Z (SI), K1, Z0
	VMOVDQA32 Z0, Z1
	VPERMT2PS Z4, Z2, Z0
	VPERMT2PS Z4, Z3, Z1
	VMOVDQU32.Z (DI), K2, Z5
	VMOVDQU32.Z 64(DI), K3, Z6
	VADDPS Z0, Z5, Z5
	VADDPS Z1, Z6, Z6
	VMOVDQU32 Z5, K2, (DI)
	VMOVDQU32 Z6, K3, 64(DI)
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JNZ addPanelS2AVX512_loop
	VZEROUPPER
	RET
`)
}

// emitAddPanel writes addPanelAVX512 (see ../gemm_amd64.go): rows of up to
// 32 words added with masked loads and stores.
func emitAddPanel(w *bytes.Buffer) {
	w.WriteString(`
// func addPanelAVX512(dst, src unsafe.Pointer, rows, ldDst, ldSrc, n int)
TEXT ·addPanelAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ ldDst+24(FP), R8
	MOVQ ldSrc+32(FP), R9
	MOVQ n+40(FP), CX
	// K1, K2: the low n of 32 words.
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVD AX, K1
	SHRQ $16, AX
	KMOVD AX, K2
addPanelAVX512_loop:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS.Z (DI), K1, Z2
	VMOVUPS.Z 64(DI), K2, Z3
	VADDPS Z0, Z2, Z2
	VADDPS Z1, Z3, Z3
	VMOVUPS Z2, K1, (DI)
	VMOVUPS Z3, K2, 64(DI)
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JNZ addPanelAVX512_loop
	VZEROUPPER
	RET
`)
}

// emitAddWindows writes addWindowsAVX512 and, with f64,
// addWindows64AVX512 (see ../gemm_amd64.go): for each row, the
// destination row of up to 16 elements in one register (two of 8 float64),
// the kw window columns' rows added into it in turn, each loaded at its own
// shift and added under its own mask (merge-masked: lanes a window does not
// reach keep their bits), a window's 16-bit mask split by register.
func emitAddWindows(w *bytes.Buffer, f64 bool) {
	name, lanes, elem, ps, movu := "addWindowsAVX512", 16, 4, "PS", "VMOVUPS"
	if f64 {
		name, lanes, elem, ps, movu = "addWindows64AVX512", 8, 8, "PD", "VMOVUPD"
	}
	nv := 16 / lanes
	f := header(w, name, "dst, src unsafe.Pointer, offs *[8]int, masks *[8]uint16, rows, ldDst, ldSrc, kw, w int",
		fmt.Sprintf("addWindowsGeneric on raw memory, %d-byte elements, offs in bytes, 1 ≤ w ≤ 16, 1 ≤ kw ≤ 8.", elem), 72)
	windowArgs(f)
	// K2…: the low w of 16 elements (the destination row); K5…: the
	// window's mask. Row vector v is Z(2v), a window's part of it Z(2v+1).
	var dstK, winK []string
	for v := 0; v < nv; v++ {
		dstK = append(dstK, fmt.Sprintf("K%d", 2+v))
		winK = append(winK, fmt.Sprintf("K%d", 5+v))
	}
	laneMasks(f, lanes, "AX", dstK...)
	f.label("rows")
	for v := 0; v < nv; v++ {
		f.p("%s.Z %d(DI), %s, Z%d", movu, 64*v, dstK[v], 2*v)
	}
	f.p("XORQ DX, DX")
	f.label("windows")
	if nv == 1 {
		f.p("KMOVW (R12)(DX*2), %s", winK[0])
	} else {
		f.p("MOVWLZX (R12)(DX*2), AX")
		for v := 0; v < nv; v++ {
			if v > 0 {
				f.p("SHRQ $%d, AX", lanes)
			}
			f.p("KMOVW AX, %s", winK[v])
		}
	}
	f.p("MOVQ (R11)(DX*8), AX")
	for v := 0; v < nv; v++ {
		f.p("%s.Z %d(SI)(AX*1), %s, Z%d", movu, 64*v, winK[v], 2*v+1)
		f.p("VADD%s Z%d, Z%d, %s, Z%d", ps, 2*v+1, 2*v, winK[v], 2*v)
	}
	f.p("INCQ DX")
	f.p("CMPQ DX, R10")
	f.p("JLT %s_windows", name)
	for v := 0; v < nv; v++ {
		f.p("%s Z%d, %s, %d(DI)", movu, 2*v, dstK[v], 64*v)
	}
	f.p("ADDQ R8, DI")
	f.p("ADDQ R9, SI")
	f.p("DECQ BX")
	f.p("JNZ %s_rows", name)
	f.p("VZEROUPPER")
	f.p("RET")
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

// emitTranspose16 writes transpose16AVX512 (see ../gemm_amd64.go): a 16×16
// block of 4-byte words transposed in registers (32-bit and 64-bit unpacks,
// then two rounds of 128-bit lane shuffles, after which Z0…Z15 hold the
// block's columns 0…15, rows in order).
func emitTranspose16(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	w.WriteString(`
// func transpose16AVX512(dst, src unsafe.Pointer, dstStride, srcStride, rows, cols, lanes int)
TEXT ·transpose16AVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ dstStride+16(FP), R8
	MOVQ srcStride+24(FP), R9
	MOVQ rows+32(FP), BX
	MOVQ cols+40(FP), DX
	MOVQ lanes+48(FP), R10
	// K1: the low cols words of a row; K2: the low lanes words.
	MOVQ DX, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ R10, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
`)
	// Rows 0…rows−1 loaded (cols words each), the others zero.
	for r := 0; r < 16; r++ {
		p("VPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	p("TESTQ BX, BX")
	p("JZ transpose16AVX512_loaded")
	for r := 0; r < 16; r++ {
		p("VMOVDQU32.Z (SI), K1, Z%d", r)
		if r < 15 {
			p("ADDQ R9, SI")
			p("DECQ BX")
			p("JZ transpose16AVX512_loaded")
		}
	}
	w.WriteString("transpose16AVX512_loaded:\n")
	for k := 0; k < 8; k++ {
		p("VUNPCKLPS Z%d, Z%d, Z%d", 2*k+1, 2*k, 16+2*k)
		p("VUNPCKHPS Z%d, Z%d, Z%d", 2*k+1, 2*k, 17+2*k)
	}
	for q := 0; q < 4; q++ {
		b := 4 * q
		p("VUNPCKLPD Z%d, Z%d, Z%d", 16+b+2, 16+b, b)
		p("VUNPCKHPD Z%d, Z%d, Z%d", 16+b+2, 16+b, b+1)
		p("VUNPCKLPD Z%d, Z%d, Z%d", 16+b+3, 16+b+1, b+2)
		p("VUNPCKHPD Z%d, Z%d, Z%d", 16+b+3, 16+b+1, b+3)
	}
	for half := 0; half < 2; half++ {
		b := 8 * half
		for j := 0; j < 4; j++ {
			p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", b+4+j, b+j, 16+b+j)
			p("VSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", b+4+j, b+j, 16+b+4+j)
		}
	}
	for j := 0; j < 8; j++ {
		p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 24+j, 16+j, j)
		p("VSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", 24+j, 16+j, 8+j)
	}
	// Columns 0…cols−1 stored, lanes words each.
	for c := 0; c < 16; c++ {
		p("VMOVDQU32 Z%d, K2, (DI)", c)
		if c < 15 {
			p("DECQ DX")
			p("JZ transpose16AVX512_done")
			p("ADDQ R8, DI")
		}
	}
	w.WriteString("transpose16AVX512_done:\n\tVZEROUPPER\n\tRET\n")
}

// emitCopyPanelAVX2 writes copyPanelAVX2 and biasPanelAVX2 (see
// ../gemm_amd64.go), the AVX2 twins of copyPanelAVX512 and biasPanelAVX512
// for rows of at most 32 words: one loop per vector count nv = ⌈dstW/8⌉,
// each row loaded with VMASKMOVPS (nothing read past srcW words, zeros
// after them) under masks from stridedMasks, the bias added for
// biasPanelAVX2 (whose rows are w words on both sides). The first full
// rows are stored as whole vectors, which may run into the rows after them,
// written later; the rest under masks, as AVX2's masked stores are slow on
// some machines.
func emitCopyPanelAVX2(w *bytes.Buffer) {
	emitPanelAVX2(w, "copyPanelAVX2", false)
	emitPanelAVX2(w, "biasPanelAVX2", true)
}

func emitPanelAVX2(w *bytes.Buffer, name string, bias bool) {
	f := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	if bias {
		fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, b float32, rows, full, ld, w int)\n", name)
	} else {
		fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, rows, full, ld, dstW, srcW int)\n", name)
	}
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	f("MOVQ dst+0(FP), DI")
	f("MOVQ src+8(FP), SI")
	if bias {
		f("VBROADCASTSS b+16(FP), Y12")
		f("MOVQ rows+24(FP), BX")
		f("MOVQ full+32(FP), R11")
		f("MOVQ ld+40(FP), R8")
		f("MOVQ w+48(FP), R9")
		f("MOVQ R9, R10")
	} else {
		f("MOVQ rows+16(FP), BX")
		f("MOVQ full+24(FP), R11")
		f("MOVQ ld+32(FP), R8")
		f("MOVQ dstW+40(FP), R9")
		f("MOVQ srcW+48(FP), R10")
	}
	f("// AX, DX: the masks of the low srcW and dstW words, vector v at v·32.")
	f("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
	f("MOVQ AX, DX")
	f("SHLQ $2, R10")
	f("SUBQ R10, AX")
	f("LEAQ (R9*4), CX")
	f("SUBQ CX, DX")
	f("SUBQ R11, BX")
	f("// CX: the vectors of a row.")
	f("LEAQ 7(R9), CX")
	f("SHRQ $3, CX")
	f("SHLQ $2, R9")
	for nv := 1; nv <= 4; nv++ {
		if nv < 4 {
			f("CMPQ CX, $%d", nv)
			f("JEQ %s_nv%d", name, nv)
		} else {
			f("JMP %s_nv%d", name, nv)
		}
	}
	load := func(nv int) {
		for v := 0; v < nv; v++ {
			f("VMASKMOVPS %d(SI), Y%d, Y%d", 32*v, 4+v, v)
		}
		if bias {
			for v := 0; v < nv; v++ {
				f("VADDPS Y12, Y%d, Y%d", v, v)
			}
		}
	}
	for nv := 1; nv <= 4; nv++ {
		tag := fmt.Sprintf("%s_nv%d", name, nv)
		fmt.Fprintf(w, "%s:\n", tag)
		for v := 0; v < nv; v++ {
			f("VMOVDQU %d(AX), Y%d", 32*v, 4+v)
			f("VMOVDQU %d(DX), Y%d", 32*v, 8+v)
		}
		emitRowLoops(w, name, tag, func(masked bool) {
			load(nv)
			for v := 0; v < nv; v++ {
				if masked {
					f("VMASKMOVPS Y%d, Y%d, %d(DI)", v, 8+v, 32*v)
				} else {
					f("VMOVUPS Y%d, %d(DI)", v, 32*v)
				}
			}
			f("ADDQ R8, SI")
			f("ADDQ R9, DI")
		})
	}
	fmt.Fprintf(w, "%s_done:\n", name)
	f("VZEROUPPER")
	f("RET")
}

// emitRowLoops writes the two row loops of the AVX2 panel kernels: R11
// rows stored as whole vectors (row(false)), then BX rows under masks
// (row(true)), then a jump to name_done; tag names the loops' labels.
func emitRowLoops(w *bytes.Buffer, name, tag string, row func(masked bool)) {
	f := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	f("TESTQ R11, R11")
	f("JZ %s_masked", tag)
	fmt.Fprintf(w, "%s_full:\n", tag)
	row(false)
	f("DECQ R11")
	f("JNZ %s_full", tag)
	fmt.Fprintf(w, "%s_masked:\n", tag)
	f("TESTQ BX, BX")
	f("JZ %s_done", name)
	fmt.Fprintf(w, "%s_maskedloop:\n", tag)
	row(true)
	f("DECQ BX")
	f("JNZ %s_maskedloop", tag)
	f("JMP %s_done", name)
}

// emitCopyPanelS2AVX2 writes copyPanelS2AVX2 (see ../gemm_amd64.go), the
// AVX2 twin of copyPanelS2AVX512 for rows of at most 16 words: each 8
// outputs are the even words of two vectors loaded with VMASKMOVPS (zeros
// from word 2·srcW − 1 on), picked by VSHUFPS and put in order by VPERMPD.
// Stores as in copyPanelAVX2.
func emitCopyPanelS2AVX2(w *bytes.Buffer) {
	f := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	const name = "copyPanelS2AVX2"
	fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, rows, full, ld, dstW, srcW int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	f("MOVQ dst+0(FP), DI")
	f("MOVQ src+8(FP), SI")
	f("MOVQ rows+16(FP), BX")
	f("MOVQ full+24(FP), R11")
	f("MOVQ ld+32(FP), R8")
	f("MOVQ dstW+40(FP), R9")
	f("MOVQ srcW+48(FP), R10")
	f("// AX: the masks of the low 2·srcW − 1 words read; DX: of the low")
	f("// dstW written; vector v at v·32.")
	f("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes+4)
	f("MOVQ AX, DX")
	f("SHLQ $3, R10")
	f("SUBQ R10, AX")
	f("SUBQ $4, DX")
	f("LEAQ (R9*4), CX")
	f("SUBQ CX, DX")
	f("SUBQ R11, BX")
	f("MOVQ R9, CX")
	f("SHLQ $2, R9")
	f("CMPQ CX, $8")
	f("JA %s_nv2", name)
	for nv := 1; nv <= 2; nv++ {
		tag := fmt.Sprintf("%s_nv%d", name, nv)
		fmt.Fprintf(w, "%s:\n", tag)
		for v := 0; v < 2*nv; v++ {
			f("VMOVDQU %d(AX), Y%d", 32*v, 4+v)
		}
		for v := 0; v < nv; v++ {
			f("VMOVDQU %d(DX), Y%d", 32*v, 8+v)
		}
		row := func(masked bool) {
			for v := 0; v < 2*nv; v++ {
				f("VMASKMOVPS %d(SI), Y%d, Y%d", 32*v, 4+v, v)
			}
			for v := 0; v < nv; v++ {
				f("VSHUFPS $0x88, Y%d, Y%d, Y%d", 2*v+1, 2*v, 10+v)
				f("VPERMPD $0xd8, Y%d, Y%d", 10+v, 10+v)
				if masked {
					f("VMASKMOVPS Y%d, Y%d, %d(DI)", 10+v, 8+v, 32*v)
				} else {
					f("VMOVUPS Y%d, %d(DI)", 10+v, 32*v)
				}
			}
			f("ADDQ R8, SI")
			f("ADDQ R9, DI")
		}
		emitRowLoops(w, name, tag, row)
	}
	fmt.Fprintf(w, "%s_done:\n", name)
	f("VZEROUPPER")
	f("RET")
}

// windowArgs loads the arguments of the window-add kernels: dst in DI, src
// in SI, offs in R11, masks in R12, rows in BX, ldDst in R8, ldSrc in R9,
// kw in R10 and w in CX.
func windowArgs(f asmFunc) {
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ src+8(FP), SI")
	f.p("MOVQ offs+16(FP), R11")
	f.p("MOVQ masks+24(FP), R12")
	f.p("MOVQ rows+32(FP), BX")
	f.p("MOVQ ldDst+40(FP), R8")
	f.p("MOVQ ldSrc+48(FP), R9")
	f.p("MOVQ kw+56(FP), R10")
	f.p("MOVQ w+64(FP), CX")
}

// emitAddWindowsAVX2 writes addWindowsAVX2 (see ../gemm_amd64.go), the
// AVX2 twin of addWindowsAVX512: AVX2 has no mask registers, so each
// window's 16-bit mask is first expanded to two vectors of lane masks on
// the stack (the bits of windowBits tested), each window's elements loaded
// with VMASKMOVPS under them and its sum blended into the row under them
// too (the lanes no window reaches keep their bits, −0 included); the row
// is loaded and stored under the masks of its w elements. With f64
// (addWindows64AVX2) the elements are float64: a row of 16 is four
// vectors, each window's doubleword lane masks widened to quadwords by
// VPMOVSXDQ as they are loaded, the moves, sums and blends in PD.
func emitAddWindowsAVX2(w *bytes.Buffer, f64 bool) {
	name, elem, pd, nv := "addWindowsAVX2", 4, "PS", 2
	if f64 {
		name, elem, pd, nv = "addWindows64AVX2", 8, "PD", 4
	}
	fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, offs *[8]int, masks *[8]uint16, rows, ldDst, ldSrc, kw, w int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $512-72\n", name)
	f := asmFunc{w, name}
	windowArgs(f)
	// Window j's lane masks, one doubleword a lane, at j·64(SP) and
	// j·64+32(SP): its bits broadcast, and-ed with each lane's bit and
	// compared with it.
	f.p("VMOVDQU ·windowBits(SB), Y8")
	f.p("VMOVDQU ·windowBits+32(SB), Y9")
	f.p("XORQ DX, DX")
	f.label("expand")
	f.p("MOVWLZX (R12)(DX*2), AX")
	f.p("VMOVD AX, X12")
	f.p("VPBROADCASTD X12, Y12")
	f.p("MOVQ DX, AX")
	f.p("SHLQ $6, AX")
	for v := 0; v < 2; v++ {
		f.p("VPAND Y%d, Y12, Y13", 8+v)
		f.p("VPCMPEQD Y%d, Y13, Y13", 8+v)
		f.p("VMOVDQU Y13, %d(SP)(AX*1)", 32*v)
	}
	f.p("INCQ DX")
	f.p("CMPQ DX, R10")
	f.p("JLT %s_expand", name)
	// Y(nv)…: the low w of 16 elements (the destination row); the row in
	// Y0….
	f.p("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
	f.p("SHLQ $%d, CX", log2(elem))
	f.p("SUBQ CX, AX")
	for v := 0; v < nv; v++ {
		f.p("VMOVDQU %d(AX), Y%d", 32*v, nv+v)
	}
	// A window's lane masks in Y(2nv)…, its elements and sums in Y(3nv)….
	f.label("rows")
	for v := 0; v < nv; v++ {
		f.p("VMASKMOV%s %d(DI), Y%d, Y%d", pd, 32*v, nv+v, v)
	}
	f.p("XORQ DX, DX")
	f.p("MOVQ SP, R13")
	f.label("windows")
	f.p("MOVQ (R11)(DX*8), AX")
	for v := 0; v < nv; v++ {
		m, t := 2*nv+v, 3*nv+v
		if f64 {
			f.p("VPMOVSXDQ %d(R13), Y%d", 16*v, m)
		} else {
			f.p("VMOVDQU %d(R13), Y%d", 32*v, m)
		}
		f.p("VMASKMOV%s %d(SI)(AX*1), Y%d, Y%d", pd, 32*v, m, t)
		f.p("VADD%s Y%d, Y%d, Y%d", pd, t, v, t)
		f.p("VBLENDV%s Y%d, Y%d, Y%d, Y%d", pd, m, t, v, v)
	}
	f.p("ADDQ $64, R13")
	f.p("INCQ DX")
	f.p("CMPQ DX, R10")
	f.p("JLT %s_windows", name)
	for v := 0; v < nv; v++ {
		f.p("VMASKMOV%s Y%d, Y%d, %d(DI)", pd, v, nv+v, 32*v)
	}
	f.p("ADDQ R8, DI")
	f.p("ADDQ R9, SI")
	f.p("DECQ BX")
	f.p("JNZ %s_rows", name)
	f.p("VZEROUPPER")
	f.p("RET")
	if !f64 {
		for l := 0; l < 16; l++ {
			fmt.Fprintf(w, "DATA ·windowBits+%d(SB)/4, $%d\n", 4*l, 1<<l)
		}
		w.WriteString("GLOBL ·windowBits(SB), RODATA|NOPTR, $64\n")
	}
}

// emitTranspose4x64AVX2 writes transpose4x64AVX2 (see ../gemm_amd64.go),
// transpose8AVX2 for 4×4 blocks of 8-byte words: rows loaded under a
// VMASKMOVPD mask of cols words, transposed by 64-bit unpacks and one round
// of 128-bit lane permutes (Y8…Y11 then hold columns 0…3), each column
// stored whole when lanes is 4 and under a mask otherwise.
func emitTranspose4x64AVX2(w *bytes.Buffer) {
	name := "transpose4x64AVX2"
	fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, dstStride, srcStride, rows, cols, lanes int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	f := asmFunc{w, name}
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ src+8(FP), SI")
	f.p("MOVQ dstStride+16(FP), R8")
	f.p("MOVQ srcStride+24(FP), R9")
	f.p("MOVQ rows+32(FP), BX")
	f.p("MOVQ cols+40(FP), DX")
	f.p("MOVQ lanes+48(FP), R10")
	// Y15: the low cols words of a row (the rows' loads).
	f.p("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
	f.p("LEAQ (DX*8), CX")
	f.p("SUBQ CX, AX")
	f.p("VMOVDQU (AX), Y15")
	// Rows 0…rows−1 loaded (cols words each), the others zero.
	for r := 0; r < 4; r++ {
		f.p("VXORPD Y%d, Y%d, Y%d", r, r, r)
	}
	f.p("TESTQ BX, BX")
	f.p("JZ %s_loaded", name)
	for r := 0; r < 4; r++ {
		f.p("VMASKMOVPD (SI), Y15, Y%d", r)
		if r < 3 {
			f.p("ADDQ R9, SI")
			f.p("DECQ BX")
			f.p("JZ %s_loaded", name)
		}
	}
	f.label("loaded")
	f.p("VUNPCKLPD Y1, Y0, Y4") // r0[0] r1[0] | r0[2] r1[2]
	f.p("VUNPCKHPD Y1, Y0, Y5") // r0[1] r1[1] | r0[3] r1[3]
	f.p("VUNPCKLPD Y3, Y2, Y6")
	f.p("VUNPCKHPD Y3, Y2, Y7")
	f.p("VPERM2F128 $0x20, Y6, Y4, Y8")
	f.p("VPERM2F128 $0x20, Y7, Y5, Y9")
	f.p("VPERM2F128 $0x31, Y6, Y4, Y10")
	f.p("VPERM2F128 $0x31, Y7, Y5, Y11")
	// Columns 0…cols−1 stored, lanes words each.
	store := func(masked bool) {
		for c := 0; c < 4; c++ {
			if masked {
				f.p("VMASKMOVPD Y%d, Y0, (DI)", 8+c)
			} else {
				f.p("VMOVUPD Y%d, (DI)", 8+c)
			}
			if c < 3 {
				f.p("DECQ DX")
				f.p("JZ %s_done", name)
				f.p("ADDQ R8, DI")
			}
		}
		f.p("JMP %s_done", name)
	}
	f.p("CMPQ R10, $4")
	f.p("JNE %s_masked", name)
	store(false)
	f.label("masked")
	f.p("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
	f.p("SHLQ $3, R10")
	f.p("SUBQ R10, AX")
	f.p("VMOVDQU (AX), Y0")
	store(true)
	f.label("done")
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitTranspose8AVX2 writes transpose8AVX2 (see ../gemm_amd64.go), the
// AVX2 twin of transpose16AVX512 on 8×8 blocks: rows loaded under a
// VMASKMOVPS mask of cols words, transposed by 32-bit and 64-bit unpacks and
// one round of 128-bit lane permutes (Y8…Y15 then hold columns 0…7), each
// column stored whole when lanes is 8 and under a mask otherwise.
func emitTranspose8AVX2(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	w.WriteString(`
// func transpose8AVX2(dst, src unsafe.Pointer, dstStride, srcStride, rows, cols, lanes int)
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ dstStride+16(FP), R8
	MOVQ srcStride+24(FP), R9
	MOVQ rows+32(FP), BX
	MOVQ cols+40(FP), DX
	MOVQ lanes+48(FP), R10
	// Y15: the low cols words of a row (the rows' loads).
`)
	p("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
	p("LEAQ (DX*4), CX")
	p("SUBQ CX, AX")
	p("VMOVDQU (AX), Y15")
	// Rows 0…rows−1 loaded (cols words each), the others zero.
	for r := 0; r < 8; r++ {
		p("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	p("TESTQ BX, BX")
	p("JZ transpose8AVX2_loaded")
	for r := 0; r < 8; r++ {
		p("VMASKMOVPS (SI), Y15, Y%d", r)
		if r < 7 {
			p("ADDQ R9, SI")
			p("DECQ BX")
			p("JZ transpose8AVX2_loaded")
		}
	}
	w.WriteString("transpose8AVX2_loaded:\n")
	for k := 0; k < 4; k++ {
		p("VUNPCKLPS Y%d, Y%d, Y%d", 2*k+1, 2*k, 8+2*k)
		p("VUNPCKHPS Y%d, Y%d, Y%d", 2*k+1, 2*k, 9+2*k)
	}
	for q := 0; q < 2; q++ {
		b := 4 * q
		p("VUNPCKLPD Y%d, Y%d, Y%d", 8+b+2, 8+b, b)
		p("VUNPCKHPD Y%d, Y%d, Y%d", 8+b+2, 8+b, b+1)
		p("VUNPCKLPD Y%d, Y%d, Y%d", 8+b+3, 8+b+1, b+2)
		p("VUNPCKHPD Y%d, Y%d, Y%d", 8+b+3, 8+b+1, b+3)
	}
	for j := 0; j < 4; j++ {
		p("VPERM2F128 $0x20, Y%d, Y%d, Y%d", 4+j, j, 8+j)
		p("VPERM2F128 $0x31, Y%d, Y%d, Y%d", 4+j, j, 12+j)
	}
	// Columns 0…cols−1 stored, lanes words each.
	store := func(masked bool) {
		for c := 0; c < 8; c++ {
			if masked {
				p("VMASKMOVPS Y%d, Y0, (DI)", 8+c)
			} else {
				p("VMOVUPS Y%d, (DI)", 8+c)
			}
			if c < 7 {
				p("DECQ DX")
				p("JZ transpose8AVX2_done")
				p("ADDQ R8, DI")
			}
		}
		p("JMP transpose8AVX2_done")
	}
	p("CMPQ R10, $8")
	p("JNE transpose8AVX2_masked")
	store(false)
	w.WriteString("transpose8AVX2_masked:\n")
	p("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
	p("SHLQ $2, R10")
	p("SUBQ R10, AX")
	p("VMOVDQU (AX), Y0")
	store(true)
	w.WriteString("transpose8AVX2_done:\n\tVZEROUPPER\n\tRET\n")
}
