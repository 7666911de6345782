package main

import (
	"bytes"
	"fmt"
)

// emitWinograd writes the float32 AVX-512 transforms of Winograd's F(2×2,
// 3×3) (../winograd.go), winogradIn32AVX512 and winogradOut32AVX512, and
// their permutation tables (winoIdx: the even and the odd lanes of two
// vectors, the interleaving of two vectors' low and high halves, and the
// first taps of 16 filters of 9 values).
// A row of tiles (up to 16) is one vector; every value is computed by the
// same operations in the same order as the Go twins.
func emitWinograd(w *bytes.Buffer) {
	for t, idx := range [5]func(l int) int{
		func(l int) int { return 2 * l },              // even lanes of (a, b)
		func(l int) int { return 2*l + 1 },            // odd lanes
		func(l int) int { return l/2 + 16*(l%2) },     // a0 b0 a1 b1 … a7 b7
		func(l int) int { return 8 + l/2 + 16*(l%2) }, // a8 b8 … a15 b15
		func(l int) int { return 9 * l },              // 16 filters' first taps
	} {
		for l := 0; l < 16; l++ {
			fmt.Fprintf(w, "DATA ·winoIdx+%d(SB)/4, $%d\n", 64*t+4*l, idx(l))
		}
	}
	w.WriteString("GLOBL ·winoIdx(SB), RODATA|NOPTR, $320\n")
	emitWinogradIn(w)
	emitWinogradOut(w)
	emitWinogradInAVX2(w, false)
	emitWinogradOutAVX2(w, false)
	emitWinogradInAVX2(w, true)
	emitWinogradOutAVX2(w, true)
	emitWinogradIn2(w)
	emitWinogradOut2(w)
	emitWinogradOutT(w)
	emitWinogradOutTAVX2(w, false)
	emitWinogradOutTAVX2(w, true)
	emitWinogradWeights(w)
	emitWinogradWeightsAdd(w)
	emitWinogradIn4(w)
	emitWinogradOut4(w)
}

// emitWinogradIn writes
//
//	winogradIn32AVX512(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, tilesY, rowBytes int, masks uint64)
//
// ld and xiStride are in bytes, rowBytes = 4·tilesX; masks holds the four
// 16-bit load masks of an image row (padded columns 0…15, 16…31, 2…17 and
// 18…33: the lanes inside the image); the stores take the low tilesX lanes.
//
// Per channel and row of tiles, for each of its four image rows (zero
// outside the image): four masked loads, the even and odd lanes by
// VPERMT2PS (e0, o1 from columns 0…31, e2, o3 from 2…33 of the padded
// row) and r = (e0 − e2, o1 + e2, e2 − o1, o1 − o3); then the same down the
// columns, and the 16 components stored xiStride apart.
func emitWinogradIn(w *bytes.Buffer) {
	const name = "winogradIn32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, tilesY, rowBytes int, masks uint64)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-88\n", name)
	winoInArgs(f)
	f.p("MOVQ pad+56(FP), R13")
	f.p("SHLQ $2, R13")
	f.masks(80, 1, 2, 3, 4)
	f.p("// K5: the low tilesX lanes, the row of tiles.")
	f.p("MOVQ rowBytes+72(FP), CX")
	f.p("SHRQ $2, CX")
	f.p("MOVL $1, AX")
	f.p("SHLL CX, AX")
	f.p("DECL AX")
	f.p("KMOVW AX, K5")
	f.p("VMOVUPS ·winoIdx+0(SB), Z30")
	f.p("VMOVUPS ·winoIdx+64(SB), Z31")
	f.label("channel")
	f.p("MOVQ tilesY+64(FP), R14")
	f.p("MOVQ pad+56(FP), DX")
	f.p("NEGQ DX")
	f.p("MOVQ DI, BX")
	f.label("tileRow")
	f.p("// CX: image row DX at padded column 0.")
	f.p("MOVQ DX, CX")
	f.p("IMULQ R12, CX")
	f.p("ADDQ SI, CX")
	f.p("SUBQ R13, CX")
	r := func(i, j int) string { return fmt.Sprintf("Z%d", 4+4*i+j) }
	for i := 0; i < 4; i++ {
		zero := fmt.Sprintf("zero%d", i)
		next := fmt.Sprintf("row%d", i+1)
		f.p("LEAQ %d(DX), AX", i)
		f.p("CMPQ AX, R11")
		f.p("JAE %s_%s", name, zero)
		f.p("VMOVUPS.Z (CX), K1, Z0")
		f.p("VMOVUPS.Z 64(CX), K2, Z1")
		f.p("VMOVUPS.Z 8(CX), K3, Z2")
		f.p("VMOVUPS.Z 72(CX), K4, Z3")
		winoRow(f, i)
		f.p("JMP %s_%s", name, next)
		f.label(zero)
		for j := 0; j < 4; j++ {
			f.p("VXORPS %s, %s, %s", r(i, j), r(i, j), r(i, j))
		}
		f.label(next)
		f.p("ADDQ R12, CX")
	}
	winoColumns(f, "K5")
	f.p("ADDQ rowBytes+72(FP), BX")
	f.p("ADDQ $2, DX")
	f.p("DECQ R14")
	f.p("JNZ %s_tileRow", name)
	winoInNext(f)
}

// emitWinogradOut writes
//
//	winogradOut32AVX512(y, m unsafe.Pointer, ld, xiStride, channels, tilesY, rowBytes int, bias unsafe.Pointer, add int, masks uint64, yRowBytes int)
//
// ld, xiStride, rowBytes (4·tilesX, a row of tiles in m) and yRowBytes
// (4·ow) in bytes; masks: bits 0–15 the lanes of a row of tiles, 16–31 and
// 32–47 those of an output row's first and second vector; bias nil for
// none; add ≠ 0 adds to y. The channels' planes of y lie back to back.
func emitWinogradOut(w *bytes.Buffer) {
	const name = "winogradOut32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(y, m unsafe.Pointer, ld, xiStride, channels, tilesY, rowBytes int, bias unsafe.Pointer, add int, masks uint64, yRowBytes int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-88\n", name)
	winoOutArgs(f)
	f.masks(72, 5, 6, 7)
	f.p("VMOVUPS ·winoIdx+128(SB), Z30")
	f.p("VMOVUPS ·winoIdx+192(SB), Z31")
	f.label("channel")
	f.p("MOVQ tilesY+40(FP), R14")
	f.p("MOVQ SI, BX")
	f.p("TESTQ R12, R12")
	f.p("JZ %s_tileRow", name)
	f.p("VBROADCASTSS (R12), Z28")
	f.label("tileRow")
	winoLoadM(f, "K5")
	winoOutTile(f)
	for i := 0; i < 2; i++ {
		y0, y1 := fmt.Sprintf("Z%d", 24+2*i), fmt.Sprintf("Z%d", 25+2*i)
		f.p("VMOVAPS %s, Z0", y0)
		f.p("VPERMT2PS %s, Z30, Z0", y1)
		f.p("VMOVAPS %s, Z1", y0)
		f.p("VPERMT2PS %s, Z31, Z1", y1)
		set := fmt.Sprintf("set%d", i)
		f.p("TESTQ R13, R13")
		f.p("JZ %s_%s", name, set)
		f.p("VMOVUPS.Z (CX), K6, Z2")
		f.p("VMOVUPS.Z 64(CX), K7, Z3")
		f.p("VADDPS Z0, Z2, Z0")
		f.p("VADDPS Z1, Z3, Z1")
		f.label(set)
		f.p("VMOVUPS Z0, K6, (CX)")
		f.p("VMOVUPS Z1, K7, 64(CX)")
		f.p("ADDQ R11, CX")
	}
	f.p("ADDQ rowBytes+48(FP), BX")
	f.p("DECQ R14")
	f.p("JNZ %s_tileRow", name)
	winoOutNext(f)
}

// emitWinogradInAVX2 writes
//
//	winogradIn32AVX2(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, tilesY, rowBytes int, masks *[10][8]int32, zero unsafe.Pointer, halves int)
//
// winogradIn32AVX512 with 8-lane vectors: a row of tiles in halves of 8
// (halves = 1 or 2), half k reading padded columns 16k…16k + 17. masks[4k
// + i] are the lane masks of half k's four loads (padded columns 16k + 0,
// 8, 2 and 10 on), masks[8 + k] those of its stores; zero points 8 bytes
// into at least 48 zero floats, read in place of image rows outside the
// image. With 16 registers the 4×4 values of a tile are not all held: rows
// 0 and 2 give the first component row, row 1 then the second and third,
// row 3 the fourth, each stored as soon as formed (the same operations on
// the same values as the Go twin, so the same bits).
//
// With pair (winogradIn2_32AVX2, rows of exactly 4 tiles, tilesY the number
// of pairs of rows of tiles), a vector holds two rows of tiles instead of
// a half: its second vector of loads comes from image row 2ty + 2 + i, not
// from columns 8… of row 2ty + i (masks[1] = masks[0], masks[3] =
// masks[2]).
func emitWinogradInAVX2(w *bytes.Buffer, pair bool) {
	name := "winogradIn32AVX2"
	if pair {
		name = "winogradIn2_32AVX2"
	}
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, tilesY, rowBytes int, masks *[10][8]int32, zero unsafe.Pointer, halves int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-104\n", name)
	winoInArgs(f)
	f.label("channel")
	f.p("MOVQ tilesY+64(FP), R14")
	f.p("MOVQ pad+56(FP), DX")
	f.p("NEGQ DX")
	f.p("MOVQ DI, BX")
	f.label("tileRow")
	halves := 2
	if pair {
		halves = 1
	}
	for k := 0; k < halves; k++ {
		if k == 1 {
			f.p("CMPQ halves+96(FP), $2")
			f.p("JLT %s_nextRow", name)
		}
		// rowPtr sets CX to image row DX + i at padded column 0, or to the
		// zero row outside the image.
		rowPtr := func(i int) {
			f.p("LEAQ %d(DX), AX", i)
			f.p("MOVQ AX, CX")
			f.p("IMULQ R12, CX")
			f.p("ADDQ SI, CX")
			f.p("CMPQ AX, R11")
			f.p("CMOVQCC zero+88(FP), CX")
			f.p("MOVQ pad+56(FP), AX")
			f.p("SHLQ $2, AX")
			f.p("SUBQ AX, CX")
			f.p("MOVQ masks+80(FP), AX")
		}
		// row emits the row transform of image row DX + i, half k (or
		// rows DX + i and DX + i + 2), into the four registers from
		// Y(first).
		row := func(i, first int) {
			f.p("// Image row %d of the tile row, half %d: r into Y%d–Y%d.", i, k, first, first+3)
			rowPtr(i)
			for l, off := range []int{0, 8, 2, 10} {
				if pair && l == 1 {
					continue
				}
				if pair && l == 3 {
					rowPtr(i + 2)
					for _, l := range []int{1, 3} {
						f.p("VMOVDQU %d(AX), Y14", 32*l)
						f.p("VMASKMOVPS %d(CX), Y14, Y%d", 8*(l/2), 8+l)
					}
					continue
				}
				f.p("VMOVDQU %d(AX), Y14", 32*(4*k+l))
				f.p("VMASKMOVPS %d(CX), Y14, Y%d", 4*(16*k+off), 8+l)
			}
			f.p("VSHUFPS $0x88, Y9, Y8, Y12")
			f.p("VPERMPD $0xd8, Y12, Y12") // e0
			f.p("VSHUFPS $0xdd, Y9, Y8, Y13")
			f.p("VPERMPD $0xd8, Y13, Y13") // o1
			f.p("VSHUFPS $0x88, Y11, Y10, Y8")
			f.p("VPERMPD $0xd8, Y8, Y8") // e2
			f.p("VSHUFPS $0xdd, Y11, Y10, Y9")
			f.p("VPERMPD $0xd8, Y9, Y9")        // o3
			f.p("VSUBPS Y8, Y12, Y%d", first)   // e0 − e2
			f.p("VADDPS Y8, Y13, Y%d", first+1) // o1 + e2
			f.p("VSUBPS Y13, Y8, Y%d", first+2) // e2 − o1
			f.p("VSUBPS Y9, Y13, Y%d", first+3) // o1 − o3
		}
		// store emits component rows as (a, b, op) for j < 4: Y15 =
		// Y(a+j) op Y(b+j), stored at R13, R13 advancing by xiStride.
		store := func(comps ...[3]int) {
			f.p("MOVQ masks+80(FP), CX")
			f.p("VMOVDQU %d(CX), Y14", 32*(8+k))
			for _, c := range comps {
				for j := 0; j < 4; j++ {
					op := map[int]string{0: "VSUBPS", 1: "VADDPS"}[c[2]]
					f.p("%s Y%d, Y%d, Y15", op, c[1]+j, c[0]+j)
					f.p("VMASKMOVPS Y15, Y14, (R13)")
					f.p("ADDQ R9, R13")
				}
			}
		}
		if k == 0 {
			f.p("MOVQ BX, R13")
		} else {
			f.p("LEAQ 32(BX), R13")
		}
		row(0, 0)
		row(2, 4)
		store([3]int{0, 4, 0}) // r0 − r2
		row(1, 0)
		store([3]int{0, 4, 1}, [3]int{4, 0, 0}) // r1 + r2, r2 − r1
		row(3, 4)
		store([3]int{0, 4, 0}) // r1 − r3
	}
	f.label("nextRow")
	f.p("ADDQ rowBytes+72(FP), BX")
	f.p("ADDQ $2, DX")
	if pair {
		f.p("ADDQ rowBytes+72(FP), BX")
		f.p("ADDQ $2, DX")
	}
	f.p("DECQ R14")
	f.p("JNZ %s_tileRow", name)
	winoInNext(f)
}

// emitWinogradOutAVX2 writes
//
//	winogradOut32AVX2(y, m unsafe.Pointer, ld, xiStride, channels, tilesY, rowBytes int, bias unsafe.Pointer, add int, masks *[6][8]int32, yRowBytes, halves int)
//
// winogradOut32AVX512 with 8-lane vectors, a row of tiles in halves of 8:
// masks[k] are the lanes of half k's tiles, masks[2 + 2k + v] those of its
// output vector v (output columns 16k + 8v…). Aᵀ down the columns one
// component column at a time (a0 in Y4–Y7, a1 in Y8–Y11), then along the
// rows, as the Go twin.
//
// With pair (winogradOut2_32AVX2, rows of exactly 4 tiles, tilesY the pairs
// of rows of tiles), a vector holds two rows of tiles: an output row's
// second vector goes to the row two below (2ty + 2 + i) instead of its
// columns 8…, and masks[3] = masks[2].
func emitWinogradOutAVX2(w *bytes.Buffer, pair bool) {
	name := "winogradOut32AVX2"
	if pair {
		name = "winogradOut2_32AVX2"
	}
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(y, m unsafe.Pointer, ld, xiStride, channels, tilesY, rowBytes int, bias unsafe.Pointer, add int, masks *[6][8]int32, yRowBytes, halves int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-96\n", name)
	winoOutArgs(f)
	f.p("MOVQ masks+72(FP), DI")
	f.label("channel")
	f.p("MOVQ tilesY+40(FP), R14")
	f.p("MOVQ SI, BX")
	f.p("TESTQ R12, R12")
	f.p("JZ %s_tileRow", name)
	f.p("VBROADCASTSS (R12), Y12")
	f.label("tileRow")
	halves := 2
	if pair {
		halves = 1
	}
	for k := 0; k < halves; k++ {
		if k == 1 {
			f.p("CMPQ halves+88(FP), $2")
			f.p("JLT %s_nextRow", name)
		}
		f.p("// Half %d: tiles %d…, output columns %d….", k, 8*k, 16*k)
		f.p("VMOVDQU %d(DI), Y15", 32*k)
		for j := 0; j < 4; j++ {
			// m_ij for i < 4 at BX + 32k + (4i + j)·xiStride.
			for i := 0; i < 4; i++ {
				f.p("MOVQ $%d, AX", 4*i+j)
				f.p("IMULQ R9, AX")
				f.p("ADDQ BX, AX")
				f.p("VMASKMOVPS %d(AX), Y15, Y%d", 32*k, i)
			}
			f.p("VADDPS Y1, Y0, Y%d", 4+j)
			f.p("VADDPS Y2, Y%d, Y%d", 4+j, 4+j)
			f.p("VSUBPS Y2, Y1, Y%d", 8+j)
			f.p("VSUBPS Y3, Y%d, Y%d", 8+j, 8+j)
		}
		for i := 0; i < 2; i++ {
			a := 4 + 4*i
			y0, y1 := 2*i, 2*i+1
			f.p("VADDPS Y%d, Y%d, Y%d", a+1, a, y0)
			f.p("VADDPS Y%d, Y%d, Y%d", a+2, y0, y0)
			f.p("VSUBPS Y%d, Y%d, Y%d", a+2, a+1, y1)
			f.p("VSUBPS Y%d, Y%d, Y%d", a+3, y1, y1)
		}
		f.p("TESTQ R12, R12")
		f.p("JZ %s_store%d", name, k)
		for v := 0; v < 4; v++ {
			f.p("VADDPS Y12, Y%d, Y%d", v, v)
		}
		f.label(fmt.Sprintf("store%d", k))
		f.p("VMOVDQU %d(DI), Y14", 32*(2+2*k))
		f.p("VMOVDQU %d(DI), Y15", 32*(3+2*k))
		f.p("MOVQ CX, AX")
		for i := 0; i < 2; i++ {
			y0, y1 := 2*i, 2*i+1
			f.p("VUNPCKLPS Y%d, Y%d, Y4", y1, y0)
			f.p("VUNPCKHPS Y%d, Y%d, Y5", y1, y0)
			f.p("VPERM2F128 $0x20, Y5, Y4, Y6")
			f.p("VPERM2F128 $0x31, Y5, Y4, Y7")
			set := fmt.Sprintf("set%d%d", k, i)
			f.p("TESTQ R13, R13")
			f.p("JZ %s_%s", name, set)
			// The second vector: columns 8… of the row, or the row two
			// below.
			second := fmt.Sprintf("%d(AX)", 64*k+32)
			if pair {
				second = "(AX)(R11*2)"
			}
			f.p("VMASKMOVPS %d(AX), Y14, Y8", 64*k)
			f.p("VMASKMOVPS %s, Y15, Y9", second)
			f.p("VADDPS Y6, Y8, Y6")
			f.p("VADDPS Y7, Y9, Y7")
			f.label(set)
			f.p("VMASKMOVPS Y6, Y14, %d(AX)", 64*k)
			f.p("VMASKMOVPS Y7, Y15, %s", second)
			f.p("ADDQ R11, AX")
		}
	}
	f.label("nextRow")
	f.p("LEAQ (CX)(R11*2), CX")
	f.p("ADDQ rowBytes+48(FP), BX")
	if pair {
		f.p("LEAQ (CX)(R11*2), CX")
		f.p("ADDQ rowBytes+48(FP), BX")
	}
	f.p("DECQ R14")
	f.p("JNZ %s_tileRow", name)
	winoOutNext(f)
}

// emitWinogradIn2 writes
//
//	winogradIn2_32AVX512(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, pairs, rowBytes int, masks uint64, idx *[2][16]int32, odd int)
//
// winogradIn32AVX512 for rows of at most 8 tiles, two rows of tiles to a
// vector: lanes 0…T − 1 the tiles of row ty, T…2T − 1 those of row ty + 1
// (T = rowBytes/4), so narrow images fill twice the lanes. Image rows
// 2ty + i − p (a) and 2ty + 2 + i − p (b) are loaded from padded columns
// 0 and 2 on (masks bits 0–15 and 16–31), and idx holds the permutes that
// pick the even (e) and odd (o) columns of a's tiles into the low lanes and
// b's into the next: e0, o1 from the loads at column 0, e2, o3 from those
// at column 2. masks bits 32–47 are the 2T lanes stored, 48–63 the T lanes
// of the last pair when the rows of tiles are odd in number (odd ≠ 0).
func emitWinogradIn2(w *bytes.Buffer) {
	const name = "winogradIn2_32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, pairs, rowBytes int, masks uint64, idx *[2][16]int32, odd int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-104\n", name)
	winoInArgs(f)
	f.p("MOVQ pad+56(FP), R13")
	f.p("SHLQ $2, R13")
	f.masks(80, 1, 3, 5, 6)
	f.p("MOVQ idx+88(FP), AX")
	f.p("VMOVDQU32 (AX), Z30")
	f.p("VMOVDQU32 64(AX), Z31")
	f.label("channel")
	f.p("MOVQ pairs+64(FP), R14")
	f.p("MOVQ pad+56(FP), DX")
	f.p("NEGQ DX")
	f.p("MOVQ DI, BX")
	f.label("pair")
	f.p("// K7: the lanes stored, T for an odd last pair.")
	f.p("KMOVW K5, K7")
	f.p("CMPQ R14, $1")
	f.p("JNE %s_lanes", name)
	f.p("CMPQ odd+96(FP), $0")
	f.p("JE %s_lanes", name)
	f.p("KMOVW K6, K7")
	f.label("lanes")
	for i := 0; i < 4; i++ {
		for half, regs := range [2][2]string{{"Z0", "Z2"}, {"Z1", "Z3"}} {
			// Image row a = DX + i or b = DX + i + 2.
			row := i + 2*half
			zero, next := fmt.Sprintf("zero%d%d", i, half), fmt.Sprintf("done%d%d", i, half)
			f.p("LEAQ %d(DX), AX", row)
			f.p("CMPQ AX, R11")
			f.p("JAE %s_%s", name, zero)
			f.p("IMULQ R12, AX")
			f.p("ADDQ SI, AX")
			f.p("SUBQ R13, AX")
			f.p("VMOVUPS.Z (AX), K1, %s", regs[0])
			f.p("VMOVUPS.Z 8(AX), K3, %s", regs[1])
			f.p("JMP %s_%s", name, next)
			f.label(zero)
			f.p("VXORPS %s, %s, %s", regs[0], regs[0], regs[0])
			f.p("VXORPS %s, %s, %s", regs[1], regs[1], regs[1])
			f.label(next)
		}
		winoRow(f, i)
	}
	winoColumns(f, "K7")
	f.p("ADDQ rowBytes+72(FP), BX")
	f.p("ADDQ rowBytes+72(FP), BX")
	f.p("ADDQ $4, DX")
	f.p("DECQ R14")
	f.p("JNZ %s_pair", name)
	winoInNext(f)
}

// emitWinogradOut2 writes
//
//	winogradOut2_32AVX512(y, m unsafe.Pointer, ld, xiStride, channels, pairs, rowBytes int, bias unsafe.Pointer, add int, masks uint64, yRowBytes int, idx *[2][16]int32, odd int)
//
// winogradOut32AVX512 for rows of at most 8 tiles, two rows of tiles to a
// vector as in winogradIn2_32AVX512: idx[0] interleaves the even and odd
// output columns of the first row of tiles, idx[1] of the second; masks
// bits 0–15 are the 2T lanes of m read, 16–31 the T of an odd last pair,
// 32–47 the lanes of an output row.
func emitWinogradOut2(w *bytes.Buffer) {
	const name = "winogradOut2_32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(y, m unsafe.Pointer, ld, xiStride, channels, pairs, rowBytes int, bias unsafe.Pointer, add int, masks uint64, yRowBytes int, idx *[2][16]int32, odd int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-104\n", name)
	winoOutArgs(f)
	f.masks(72, 5, 4, 6)
	f.p("MOVQ idx+88(FP), AX")
	f.p("VMOVDQU32 (AX), Z30")
	f.p("VMOVDQU32 64(AX), Z31")
	f.label("channel")
	f.p("MOVQ pairs+40(FP), R14")
	f.p("MOVQ SI, BX")
	f.p("TESTQ R12, R12")
	f.p("JZ %s_pair", name)
	f.p("VBROADCASTSS (R12), Z28")
	f.label("pair")
	f.p("// DX = 1 for an odd last pair (one row of tiles), K7 its lanes.")
	f.p("XORQ DX, DX")
	f.p("KMOVW K5, K7")
	f.p("CMPQ R14, $1")
	f.p("JNE %s_lanes", name)
	f.p("CMPQ odd+96(FP), $0")
	f.p("JE %s_lanes", name)
	f.p("MOVQ $1, DX")
	f.p("KMOVW K4, K7")
	f.label("lanes")
	winoLoadM(f, "K7")
	winoOutTile(f)
	// Output rows 2ty + i (first row of tiles) and 2ty + 2 + i (second).
	for tr := 0; tr < 2; tr++ {
		if tr == 1 {
			f.p("TESTQ DX, DX")
			f.p("JNZ %s_next", name)
		}
		for i := 0; i < 2; i++ {
			y0, y1 := fmt.Sprintf("Z%d", 24+2*i), fmt.Sprintf("Z%d", 25+2*i)
			idx := []string{"Z30", "Z31"}[tr]
			f.p("VMOVAPS %s, Z0", y0)
			f.p("VPERMT2PS %s, %s, Z0", y1, idx)
			row := 2*tr + i
			f.p("MOVQ R11, AX")
			f.p("IMULQ $%d, AX", row)
			f.p("ADDQ CX, AX")
			set := fmt.Sprintf("set%d%d", tr, i)
			f.p("TESTQ R13, R13")
			f.p("JZ %s_%s", name, set)
			f.p("VMOVUPS.Z (AX), K6, Z2")
			f.p("VADDPS Z0, Z2, Z0")
			f.label(set)
			f.p("VMOVUPS Z0, K6, (AX)")
		}
	}
	f.label("next")
	f.p("// Four output rows on, two after an odd last pair.")
	f.p("LEAQ (CX)(R11*2), CX")
	f.p("TESTQ DX, DX")
	f.p("JNZ %s_advanced", name)
	f.p("LEAQ (CX)(R11*2), CX")
	f.label("advanced")
	f.p("ADDQ rowBytes+48(FP), BX")
	f.p("ADDQ rowBytes+48(FP), BX")
	f.p("DECQ R14")
	f.p("JNZ %s_pair", name)
	winoOutNext(f)
}

// emitWinogradOutT writes the transforms of output cotangents (the adjoint
// of the output transform, ../winograd.go's WinogradOutT):
//
//	winogradOutT32AVX512(dst, y unsafe.Pointer, ld, xiStride, channels, rows, rowBytes int, masks uint64, yRowBytes int, idx *[2][16]int32, odd int)
//
// For rows of up to 16 tiles (pair false, rows = tilesY): an image row's
// two vectors (masks bits 0–15 and 16–31 their lanes) give its even and
// odd columns by the permutes idx (winoIdx's first two); stores take the
// tilesX lanes of bits 32–47. For rows of at most 8 tiles
// (winogradOutT2_32AVX512, rows = pairs of rows of tiles): image rows
// 2ty + r and 2ty + 2 + r are the two tables of the permutes
// (winogradPairIdx), masks bits 0–15 the lanes of a row, 32–47 and 48–63
// the lanes stored for a pair and for an odd last one (whose second rows
// are not read).
func emitWinogradOutT(w *bytes.Buffer) {
	for _, pair := range []bool{false, true} {
		name := "winogradOutT32AVX512"
		if pair {
			name = "winogradOutT2_32AVX512"
		}
		f := asmFunc{w, name}
		fmt.Fprintf(w, "\n// func %s(dst, y unsafe.Pointer, ld, xiStride, channels, rows, rowBytes int, masks uint64, yRowBytes int, idx *[2][16]int32, odd int)\n", name)
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-88\n", name)
		f.p("MOVQ dst+0(FP), DI")
		f.p("MOVQ y+8(FP), SI")
		f.p("MOVQ ld+16(FP), R8")
		f.p("MOVQ xiStride+24(FP), R9")
		f.p("MOVQ channels+32(FP), R10")
		f.p("MOVQ yRowBytes+64(FP), R11")
		f.masks(56, 1, 2, 5, 6)
		f.p("MOVQ idx+72(FP), AX")
		f.p("VMOVDQU32 (AX), Z30")
		f.p("VMOVDQU32 64(AX), Z31")
		f.p("// CX: the image row 2ty of channel k, running over the planes.")
		f.p("MOVQ SI, CX")
		f.label("channel")
		f.p("MOVQ rows+40(FP), R14")
		f.p("MOVQ DI, BX")
		f.label("row")
		if pair {
			f.p("// K3: the second rows' lanes, none for an odd last pair; K7 the lanes stored.")
			f.p("KMOVW K1, K3")
			f.p("KMOVW K5, K7")
			f.p("CMPQ R14, $1")
			f.p("JNE %s_lanes", name)
			f.p("CMPQ odd+80(FP), $0")
			f.p("JE %s_lanes", name)
			f.p("KXORW K3, K3, K3")
			f.p("KMOVW K6, K7")
			f.label("lanes")
			// Rows 2ty + r (first table) and 2ty + 2 + r (second).
			f.p("VMOVUPS.Z (CX), K1, Z0")
			f.p("LEAQ (CX)(R11*2), AX")
			f.p("VMOVUPS.Z (AX), K3, Z1")
			f.p("VMOVUPS.Z (CX)(R11*1), K1, Z2")
			f.p("VMOVUPS.Z (AX)(R11*1), K3, Z3")
		} else {
			f.p("KMOVW K5, K7")
			f.p("VMOVUPS.Z (CX), K1, Z0")
			f.p("VMOVUPS.Z 64(CX), K2, Z1")
			f.p("VMOVUPS.Z (CX)(R11*1), K1, Z2")
			f.p("VMOVUPS.Z 64(CX)(R11*1), K2, Z3")
		}
		f.p("// e0a, e0b (the first row's even and odd columns) in Z4, Z5; e1a, e1b in Z6, Z7.")
		f.p("VMOVAPS Z0, Z4")
		f.p("VPERMT2PS Z1, Z30, Z4")
		f.p("VMOVAPS Z0, Z5")
		f.p("VPERMT2PS Z1, Z31, Z5")
		f.p("VMOVAPS Z2, Z6")
		f.p("VPERMT2PS Z3, Z30, Z6")
		f.p("VMOVAPS Z2, Z7")
		f.p("VPERMT2PS Z3, Z31, Z7")
		f.p("// q0 = (Z4, Z5), q1 = (Z8, Z9), q2 = (Z10, Z11), q3 = (Z6, Z7).")
		f.p("VADDPS Z6, Z4, Z8")
		f.p("VADDPS Z7, Z5, Z9")
		f.p("VSUBPS Z6, Z4, Z10")
		f.p("VSUBPS Z7, Z5, Z11")
		f.p("MOVQ BX, AX")
		for i, q := range [4][2]int{{4, 5}, {8, 9}, {10, 11}, {6, 7}} {
			a, b := q[0], q[1]
			f.p("VADDPS Z%d, Z%d, Z12", b, a)
			f.p("VSUBPS Z%d, Z%d, Z13", b, a)
			for j, v := range []int{a, 12, 13, b} {
				f.p("VMOVUPS Z%d, K7, (AX)", v)
				if 4*i+j < 15 {
					f.p("ADDQ R9, AX")
				}
			}
		}
		if pair {
			f.p("LEAQ (CX)(R11*4), CX")
			f.p("ADDQ rowBytes+48(FP), BX")
			f.p("ADDQ rowBytes+48(FP), BX")
		} else {
			f.p("LEAQ (CX)(R11*2), CX")
			f.p("ADDQ rowBytes+48(FP), BX")
		}
		f.p("DECQ R14")
		f.p("JNZ %s_row", name)
		if pair {
			f.p("// After an odd last pair CX is two rows past the plane.")
			f.p("CMPQ odd+80(FP), $0")
			f.p("JE %s_nextChannel", name)
			f.p("MOVQ R11, AX")
			f.p("SHLQ $1, AX")
			f.p("SUBQ AX, CX")
			f.label("nextChannel")
		}
		f.p("ADDQ R8, DI")
		f.p("DECQ R10")
		f.p("JNZ %s_channel", name)
		f.p("VZEROUPPER")
		f.p("RET")
	}
}

// winoInArgs loads the arguments the input transforms share: dst (DI), x
// (SI), ld (R8), xiStride (R9), channels (R10), h (R11) and the image row
// in bytes, 4·w (R12).
func winoInArgs(f asmFunc) {
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ x+8(FP), SI")
	f.p("MOVQ ld+16(FP), R8")
	f.p("MOVQ xiStride+24(FP), R9")
	f.p("MOVQ channels+32(FP), R10")
	f.p("MOVQ h+40(FP), R11")
	f.p("MOVQ w+48(FP), R12")
	f.p("SHLQ $2, R12")
}

// winoOutArgs loads the arguments the output transforms share: y (CX), m
// (SI), ld (R8), xiStride (R9), channels (R10), yRowBytes (R11), bias (R12)
// and add (R13).
func winoOutArgs(f asmFunc) {
	f.p("MOVQ y+0(FP), CX")
	f.p("MOVQ m+8(FP), SI")
	f.p("MOVQ ld+16(FP), R8")
	f.p("MOVQ xiStride+24(FP), R9")
	f.p("MOVQ channels+32(FP), R10")
	f.p("MOVQ yRowBytes+80(FP), R11")
	f.p("MOVQ bias+56(FP), R12")
	f.p("MOVQ add+64(FP), R13")
}

// winoOutNext ends an output transform's channel: the next row of m (SI
// by ld, R8) and bias (R12, if any; y's planes lie back to back), then the
// loop over channels (R10) and the return.
func winoOutNext(f asmFunc) {
	f.p("// The next channel: its row of m and bias; y's planes are back to back.")
	f.p("ADDQ R8, SI")
	f.p("TESTQ R12, R12")
	f.p("JZ %s_nextChannel", f.name)
	f.p("ADDQ $4, R12")
	f.label("nextChannel")
	f.p("DECQ R10")
	f.p("JNZ %s_channel", f.name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitWinogradOutTAVX2 writes
//
//	winogradOutT32AVX2(dst, y unsafe.Pointer, ld, xiStride, channels, tilesY, rowBytes int, masks *[6][8]int32, yRowBytes, halves int)
//
// winogradOutT32AVX512 with 8-lane vectors, a row of tiles in halves of 8:
// half k reads output columns 16k…16k + 15 of image rows 2ty and 2ty + 1
// as two vectors each (masks[2k + v] their lanes) and stores the lanes of
// masks[4 + k]; even and odd columns by VSHUFPS and VPERMPD.
//
// With pair (winogradOutT2_32AVX2, rows of exactly 4 tiles, tilesY the
// pairs of rows of tiles), a vector holds two rows of tiles: the second
// vector of image row 2ty + r is row 2ty + 2 + r's first.
func emitWinogradOutTAVX2(w *bytes.Buffer, pair bool) {
	name := "winogradOutT32AVX2"
	if pair {
		name = "winogradOutT2_32AVX2"
	}
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, y unsafe.Pointer, ld, xiStride, channels, tilesY, rowBytes int, masks *[6][8]int32, yRowBytes, halves int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-80\n", name)
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ y+8(FP), SI")
	f.p("MOVQ ld+16(FP), R8")
	f.p("MOVQ xiStride+24(FP), R9")
	f.p("MOVQ channels+32(FP), R10")
	f.p("MOVQ yRowBytes+64(FP), R11")
	f.p("MOVQ masks+56(FP), R12")
	f.p("// CX: image row 2ty of the channel, running over the planes.")
	f.p("MOVQ SI, CX")
	f.label("channel")
	f.p("MOVQ tilesY+40(FP), R14")
	f.p("MOVQ DI, BX")
	f.label("row")
	halves := 2
	if pair {
		halves = 1
	}
	for k := 0; k < halves; k++ {
		if k == 1 {
			f.p("CMPQ halves+72(FP), $2")
			f.p("JLT %s_next", name)
		}
		f.p("// Half %d: rows 2ty (Y0, Y1) and 2ty + 1 (Y2, Y3), columns %d….", k, 16*k)
		for r := 0; r < 2; r++ {
			for v := 0; v < 2; v++ {
				f.p("VMOVDQU %d(R12), Y15", 32*(2*k+v))
				switch {
				case pair:
					// Rows 2ty + r + 2v, columns 0…7.
					f.p("MOVQ R11, AX")
					f.p("IMULQ $%d, AX", r+2*v)
					f.p("ADDQ CX, AX")
					f.p("VMASKMOVPS (AX), Y15, Y%d", 2*r+v)
				case r == 0:
					f.p("VMASKMOVPS %d(CX), Y15, Y%d", 64*k+32*v, 2*r+v)
				default:
					f.p("VMASKMOVPS %d(CX)(R11*1), Y15, Y%d", 64*k+32*v, 2*r+v)
				}
			}
		}
		f.p("// e0a, e0b in Y4, Y5; e1a, e1b in Y6, Y7.")
		f.p("VSHUFPS $0x88, Y1, Y0, Y4")
		f.p("VPERMPD $0xd8, Y4, Y4")
		f.p("VSHUFPS $0xdd, Y1, Y0, Y5")
		f.p("VPERMPD $0xd8, Y5, Y5")
		f.p("VSHUFPS $0x88, Y3, Y2, Y6")
		f.p("VPERMPD $0xd8, Y6, Y6")
		f.p("VSHUFPS $0xdd, Y3, Y2, Y7")
		f.p("VPERMPD $0xd8, Y7, Y7")
		f.p("VADDPS Y6, Y4, Y8")
		f.p("VADDPS Y7, Y5, Y9")
		f.p("VSUBPS Y6, Y4, Y10")
		f.p("VSUBPS Y7, Y5, Y11")
		f.p("VMOVDQU %d(R12), Y14", 32*(4+k))
		if k == 0 {
			f.p("MOVQ BX, AX")
		} else {
			f.p("LEAQ 32(BX), AX")
		}
		for i, q := range [4][2]int{{4, 5}, {8, 9}, {10, 11}, {6, 7}} {
			a, b := q[0], q[1]
			f.p("VADDPS Y%d, Y%d, Y12", b, a)
			f.p("VSUBPS Y%d, Y%d, Y13", b, a)
			for j, v := range []int{a, 12, 13, b} {
				f.p("VMASKMOVPS Y%d, Y14, (AX)", v)
				if 4*i+j < 15 {
					f.p("ADDQ R9, AX")
				}
			}
		}
	}
	f.label("next")
	f.p("LEAQ (CX)(R11*2), CX")
	f.p("ADDQ rowBytes+48(FP), BX")
	if pair {
		f.p("LEAQ (CX)(R11*2), CX")
		f.p("ADDQ rowBytes+48(FP), BX")
	}
	f.p("DECQ R14")
	f.p("JNZ %s_row", name)
	f.p("ADDQ R8, DI")
	f.p("DECQ R10")
	f.p("JNZ %s_channel", name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitWinogradWeights writes
//
//	winogradWeights32AVX512(dst, w unsafe.Pointer, count, stride int)
//
// the weight transform G·g·Gᵀ of count filters (9 values each, from w) into
// dst, component ξ of filter f at dst + ξ·stride + 4f bytes: 16 filters at
// a time, the 9 taps gathered (index 9l + tap), the last block under the
// mask of the filters left. As the Go twin: down the columns t = g0 + g2,
// (g0, (t + g1)·½, (t − g1)·½, g2), then the same along each row.
func emitWinogradWeights(w *bytes.Buffer) {
	const name = "winogradWeights32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, w unsafe.Pointer, count, stride int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ w+8(FP), SI")
	winoFilterBlock(f)
	for t := 0; t < 9; t++ {
		f.p("KMOVW K2, K1")
		f.p("VPXORD Z%d, Z%d, Z%d", t, t, t)
		f.p("VGATHERDPS %d(SI)(Z31*4), K1, Z%d", 4*t, t)
	}
	// a[i][k]: a0k = Zk, a1k = Z(12+k), a2k = Z(15+k), a3k = Z(6+k).
	a := func(i, k int) int { return [4]int{0, 12, 15, 6}[i] + k }
	for k := 0; k < 3; k++ {
		f.p("VADDPS Z%d, Z%d, Z9", 6+k, k)       // t = g0 + g2
		f.p("VADDPS Z%d, Z9, Z%d", 3+k, a(1, k)) // t + g1
		f.p("VMULPS Z30, Z%d, Z%d", a(1, k), a(1, k))
		f.p("VSUBPS Z%d, Z9, Z%d", 3+k, a(2, k)) // t − g1
		f.p("VMULPS Z30, Z%d, Z%d", a(2, k), a(2, k))
	}
	f.p("MOVQ DI, AX")
	for i := 0; i < 4; i++ {
		r0, r1, r2 := a(i, 0), a(i, 1), a(i, 2)
		f.p("VADDPS Z%d, Z%d, Z9", r2, r0)
		f.p("VADDPS Z%d, Z9, Z10", r1)
		f.p("VMULPS Z30, Z10, Z10")
		f.p("VSUBPS Z%d, Z9, Z11", r1)
		f.p("VMULPS Z30, Z11, Z11")
		for j, v := range []int{r0, 10, 11, r2} {
			f.p("VMOVUPS Z%d, K2, (AX)", v)
			if 4*i+j < 15 {
				f.p("ADDQ R9, AX")
			}
		}
	}
	f.p("ADDQ $576, SI") // 16 filters of 9 values
	f.p("ADDQ $64, DI")
	f.p("SUBQ $16, CX")
	f.p("JG %s_block", name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitWinogradWeightsAdd writes
//
//	winogradWeightsAdd32AVX512(wBar, m unsafe.Pointer, count, stride int)
//
// the adjoint of the weight transform: for count filters, wBar[9f + 3u +
// v] += (G̃ᵀ·M̄_f·G̃)[u, v], component ξ of M̄_f at m + ξ·stride + 4f bytes,
// 16 filters at a time (the 9 values of each gathered, added to and
// scattered back), the last block under the mask of the filters left. As
// the Go twin: down the columns s = m1 + m2, (m0 + s·½, (m1 − m2)·½,
// s·½ − m3), then the same along each of the three rows.
func emitWinogradWeightsAdd(w *bytes.Buffer) {
	const name = "winogradWeightsAdd32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(wBar, m unsafe.Pointer, count, stride int)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	f.p("MOVQ wBar+0(FP), DI")
	f.p("MOVQ m+8(FP), SI")
	winoFilterBlock(f)
	f.p("MOVQ SI, AX")
	for xi := 0; xi < 16; xi++ {
		f.p("VMOVUPS.Z (AX), K2, Z%d", xi)
		if xi < 15 {
			f.p("ADDQ R9, AX")
		}
	}
	// step computes, from four vectors (m0…m3), three: m0 + s·½,
	// (m1 − m2)·½ and s·½ − m3 with s = m1 + m2.
	step := func(m [4]int, out [3]int) {
		f.p("VADDPS Z%d, Z%d, Z28", m[2], m[1])
		f.p("VMULPS Z30, Z28, Z28")
		f.p("VSUBPS Z%d, Z%d, Z29", m[2], m[1])
		f.p("VMULPS Z30, Z29, Z%d", out[1])
		f.p("VADDPS Z28, Z%d, Z%d", m[0], out[0])
		f.p("VSUBPS Z%d, Z28, Z%d", m[3], out[2])
	}
	// Columns j: c_uj in Z(16 + 3j + u).
	for j := 0; j < 4; j++ {
		step([4]int{j, 4 + j, 8 + j, 12 + j}, [3]int{16 + 3*j, 17 + 3*j, 18 + 3*j})
	}
	// Rows u: outputs (u, v) in Z(3u + v).
	for u := 0; u < 3; u++ {
		step([4]int{16 + u, 19 + u, 22 + u, 25 + u}, [3]int{3 * u, 3*u + 1, 3*u + 2})
	}
	for k := 0; k < 9; k++ {
		f.p("KMOVW K2, K1")
		f.p("VPXORD Z9, Z9, Z9")
		f.p("VGATHERDPS %d(DI)(Z31*4), K1, Z9", 4*k)
		f.p("VADDPS Z%d, Z9, Z9", k)
		f.p("KMOVW K2, K1")
		f.p("VSCATTERDPS Z9, K1, %d(DI)(Z31*4)", 4*k)
	}
	f.p("ADDQ $576, DI") // 16 filters of 9 values
	f.p("ADDQ $64, SI")
	f.p("SUBQ $16, CX")
	f.p("JG %s_block", name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// winoFilterBlock loads the arguments the weight transforms share, count
// (CX) and stride (R9), the gather indices 9l (Z31) and ½ (Z30), and
// starts the loop over blocks of 16 filters with K2 the mask of the block's
// filters, 16 or those left.
func winoFilterBlock(f asmFunc) {
	f.p("MOVQ count+16(FP), CX")
	f.p("MOVQ stride+24(FP), R9")
	f.p("VMOVDQU32 ·winoIdx+256(SB), Z31") // 9l
	f.p("MOVL $0x3f000000, AX")            // 0.5
	f.p("VPBROADCASTD AX, Z30")
	f.label("block")
	f.p("// K2: the filters of this block, 16 or those left.")
	f.p("MOVQ $16, AX")
	f.p("CMPQ CX, AX")
	f.p("CMOVQLT CX, AX")
	f.p("MOVL $1, BX")
	f.p("SHLXL AX, BX, BX")
	f.p("DECL BX")
	f.p("KMOVW BX, K2")
}

// emitWinogradIn4 writes
//
//	winogradIn4_32AVX512(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, quads, rowBytes int, masks uint64, idx *[2][16]int32)
//
// winogradIn32AVX512 for rows of exactly 4 tiles (8×8 outputs), four rows
// of tiles to a vector: lanes 4k…4k + 3 the tiles of row ty + k. For each
// i < 4, image rows 2(ty + k) + i − p are loaded 8 values at a time, from
// padded columns 0 and 2 (masks bits 0–15 and 16–31: the lanes of the
// first row in the low half and of the second in the high half), two rows
// to a register, and idx picks their even and odd columns. Rows outside
// the image stay zero.
func emitWinogradIn4(w *bytes.Buffer) {
	const name = "winogradIn4_32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, x unsafe.Pointer, ld, xiStride, channels, h, w, pad, quads, rowBytes int, masks uint64, idx *[2][16]int32)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-96\n", name)
	winoInArgs(f)
	f.p("MOVQ pad+56(FP), R13")
	f.p("SHLQ $2, R13")
	f.masks(80, 1, 3)
	f.p("// K2, K4: K1, K3 in the high half.")
	f.p("KSHIFTLW $8, K1, K2")
	f.p("KSHIFTLW $8, K3, K4")
	f.p("MOVQ idx+88(FP), AX")
	f.p("VMOVDQU32 (AX), Z30")
	f.p("VMOVDQU32 64(AX), Z31")
	f.label("channel")
	f.p("MOVQ quads+64(FP), R14")
	f.p("MOVQ pad+56(FP), DX")
	f.p("NEGQ DX")
	f.p("MOVQ DI, BX")
	f.label("quad")
	for i := 0; i < 4; i++ {
		f.p("VPXORD Z0, Z0, Z0")
		f.p("VPXORD Z1, Z1, Z1")
		f.p("VPXORD Z2, Z2, Z2")
		f.p("VPXORD Z3, Z3, Z3")
		for k := 0; k < 4; k++ {
			// Row 2(ty + k) + i − p into register k/2 (and 2 + k/2 for
			// the columns from 2), low half for even k, high for odd.
			skip := fmt.Sprintf("skip%d%d", i, k)
			f.p("LEAQ %d(DX), AX", i+2*k)
			f.p("CMPQ AX, R11")
			f.p("JAE %s_%s", name, skip)
			f.p("IMULQ R12, AX")
			f.p("ADDQ SI, AX")
			f.p("SUBQ R13, AX")
			if k%2 == 0 {
				f.p("VMOVUPS (AX), K1, Z%d", k/2)
				f.p("VMOVUPS 8(AX), K3, Z%d", 2+k/2)
			} else {
				f.p("VMOVUPS -32(AX), K2, Z%d", k/2)
				f.p("VMOVUPS -24(AX), K4, Z%d", 2+k/2)
			}
			f.label(skip)
		}
		winoRow(f, i)
	}
	winoColumns(f, "")
	f.p("ADDQ $64, BX") // four rows of 4 tiles
	f.p("ADDQ $8, DX")
	f.p("DECQ R14")
	f.p("JNZ %s_quad", name)
	winoInNext(f)
}

// emitWinogradOut4 writes
//
//	winogradOut4_32AVX512(y, m unsafe.Pointer, ld, xiStride, channels, quads, rowBytes int, bias unsafe.Pointer, add int, masks uint64, yRowBytes int, idx *[4][16]int32)
//
// winogradOut32AVX512 for rows of exactly 4 tiles (8×8 outputs), four rows
// of tiles to a vector as in winogradIn4_32AVX512: idx[k] interleaves the
// even and odd output columns of row of tiles k into an output row of 8
// (masks bits 0–15).
func emitWinogradOut4(w *bytes.Buffer) {
	const name = "winogradOut4_32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(y, m unsafe.Pointer, ld, xiStride, channels, quads, rowBytes int, bias unsafe.Pointer, add int, masks uint64, yRowBytes int, idx *[4][16]int32)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-96\n", name)
	winoOutArgs(f)
	f.p("MOVQ masks+72(FP), AX")
	f.p("KMOVW AX, K6")
	f.p("MOVQ idx+88(FP), DX")
	f.label("channel")
	f.p("MOVQ quads+40(FP), R14")
	f.p("MOVQ SI, BX")
	f.p("TESTQ R12, R12")
	f.p("JZ %s_quad", name)
	f.p("VBROADCASTSS (R12), Z28")
	f.label("quad")
	winoLoadM(f, "")
	winoOutTile(f)
	for k := 0; k < 4; k++ {
		f.p("VMOVDQU32 %d(DX), Z16", 64*k)
		for i := 0; i < 2; i++ {
			y0, y1 := fmt.Sprintf("Z%d", 24+2*i), fmt.Sprintf("Z%d", 25+2*i)
			f.p("VMOVAPS %s, Z0", y0)
			f.p("VPERMT2PS %s, Z16, Z0", y1)
			f.p("MOVQ R11, AX")
			f.p("IMULQ $%d, AX", 2*k+i)
			f.p("ADDQ CX, AX")
			set := fmt.Sprintf("set%d%d", k, i)
			f.p("TESTQ R13, R13")
			f.p("JZ %s_%s", name, set)
			f.p("VMOVUPS.Z (AX), K6, Z2")
			f.p("VADDPS Z0, Z2, Z0")
			f.label(set)
			f.p("VMOVUPS Z0, K6, (AX)")
		}
	}
	f.p("LEAQ (CX)(R11*8), CX")
	f.p("ADDQ $64, BX") // four rows of 4 tiles
	f.p("DECQ R14")
	f.p("JNZ %s_quad", name)
	winoOutNext(f)
}

// winoRow emits the row transform of image row i of a row of tiles (or
// rows of tiles) from its loads: padded columns 0 on in Z0 and Z1, 2 on in
// Z2 and Z3, the two tables of the permutes Z30 (even columns) and Z31
// (odd). With e0, o1 from the first and e2, o3 from the second, r(i, ·) =
// (e0 − e2, o1 + e2, e2 − o1, o1 − o3) into Z(4 + 4i)…Z(7 + 4i).
func winoRow(f asmFunc, i int) {
	r := 4 + 4*i
	f.p("VMOVAPS Z0, Z20")
	f.p("VPERMT2PS Z1, Z30, Z20") // e0
	f.p("VPERMT2PS Z1, Z31, Z0")  // o1
	f.p("VMOVAPS Z2, Z22")
	f.p("VPERMT2PS Z3, Z30, Z22") // e2
	f.p("VPERMT2PS Z3, Z31, Z2")  // o3
	f.p("VSUBPS Z22, Z20, Z%d", r)
	f.p("VADDPS Z22, Z0, Z%d", r+1)
	f.p("VSUBPS Z0, Z22, Z%d", r+2)
	f.p("VSUBPS Z2, Z0, Z%d", r+3)
}

// winoColumns emits the input transform down the columns of the rows r(i,
// ·) in Z4–Z19 (winoRow): r0 − r2, r1 + r2, r2 − r1 and r1 − r3, the 16
// components stored from BX, xiStride (R9) apart, under the lanes of mask
// (a K register; "" for all).
func winoColumns(f asmFunc, mask string) {
	r := func(i, j int) string { return fmt.Sprintf("Z%d", 4+4*i+j) }
	f.p("// Down the columns: rows 0 to 3 of the tiles' components.")
	var out [4][4]string
	for j := 0; j < 4; j++ {
		out[0][j], out[1][j], out[2][j] = fmt.Sprintf("Z%d", j), fmt.Sprintf("Z%d", 20+j), fmt.Sprintf("Z%d", 24+j)
		f.p("VSUBPS %s, %s, %s", r(2, j), r(0, j), out[0][j])
		f.p("VADDPS %s, %s, %s", r(2, j), r(1, j), out[1][j])
		f.p("VSUBPS %s, %s, %s", r(1, j), r(2, j), out[2][j])
	}
	for j := 0; j < 4; j++ {
		out[3][j] = r(0, j) // r0 is no longer needed
		f.p("VSUBPS %s, %s, %s", r(3, j), r(1, j), out[3][j])
	}
	if mask != "" {
		mask += ", "
	}
	f.p("MOVQ BX, AX")
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			f.p("VMOVUPS %s, %s(AX)", out[i][j], mask)
			if 4*i+j < 15 {
				f.p("ADDQ R9, AX")
			}
		}
	}
}

// winoInNext ends an input transform's channel: the next plane of x (SI,
// by h rows of R12 bytes) and row of dst (DI, by ld, R8), then the loop
// over channels (R10) and the return.
func winoInNext(f asmFunc) {
	f.p("// The next channel: its plane of h rows, its row of dst.")
	f.p("MOVQ R11, AX")
	f.p("IMULQ R12, AX")
	f.p("ADDQ AX, SI")
	f.p("ADDQ R8, DI")
	f.p("DECQ R10")
	f.p("JNZ %s_channel", f.name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// winoLoadM emits the loads of the 16 components of a row of tiles (or
// rows) of products into Z0–Z15, from BX, xiStride (R9) apart, under the
// lanes of mask (a K register, the rest zero; "" for all).
func winoLoadM(f asmFunc, mask string) {
	f.p("MOVQ BX, AX")
	for xi := 0; xi < 16; xi++ {
		if mask == "" {
			f.p("VMOVUPS (AX), Z%d", xi)
		} else {
			f.p("VMOVUPS.Z (AX), %s, Z%d", mask, xi)
		}
		if xi < 15 {
			f.p("ADDQ R9, AX")
		}
	}
}

// winoOutTile emits the output transform of the components in Z0–Z15
// (winoLoadM): down the columns a0 = (m0 + m1) + m2 and a1 = (m1 − m2) −
// m3 (Z16–Z23), along the rows the same into the even and odd output
// columns of output rows 0 (Z24, Z25) and 1 (Z26, Z27), plus the bias Z28
// where R12 ≠ 0; it ends at the label "store".
func winoOutTile(f asmFunc) {
	f.p("// Down the columns: a0 = (m0 + m1) + m2, a1 = (m1 − m2) − m3.")
	a := func(i, j int) string { return fmt.Sprintf("Z%d", 16+4*i+j) }
	for j := 0; j < 4; j++ {
		f.p("VADDPS Z%d, Z%d, %s", 4+j, j, a(0, j))
		f.p("VADDPS Z%d, %s, %s", 8+j, a(0, j), a(0, j))
		f.p("VSUBPS Z%d, Z%d, %s", 8+j, 4+j, a(1, j))
		f.p("VSUBPS Z%d, %s, %s", 12+j, a(1, j), a(1, j))
	}
	f.p("// Along the rows, the bias, then output rows 0 and 1 of the tiles.")
	for i := 0; i < 2; i++ {
		y0, y1 := fmt.Sprintf("Z%d", 24+2*i), fmt.Sprintf("Z%d", 25+2*i)
		f.p("VADDPS %s, %s, %s", a(i, 1), a(i, 0), y0)
		f.p("VADDPS %s, %s, %s", a(i, 2), y0, y0)
		f.p("VSUBPS %s, %s, %s", a(i, 2), a(i, 1), y1)
		f.p("VSUBPS %s, %s, %s", a(i, 3), y1, y1)
	}
	f.p("TESTQ R12, R12")
	f.p("JZ %s_store", f.name)
	for v := 24; v < 28; v++ {
		f.p("VADDPS Z28, Z%d, Z%d", v, v)
	}
	f.label("store")
}
