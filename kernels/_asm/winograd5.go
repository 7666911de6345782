package main

import (
	"bytes"
	"fmt"
)

// emitWinogradVert writes the element-wise transforms of Winograd's
// F(2×2, 5×5) and F(4×4, 3×3) (../winograd5.go: winoB6, winoA6, winoAT6;
// ../winograd43.go: winoAT46), for float32 in AVX-512 and AVX2:
//
//	winoB6_32AVX512(dst, src unsafe.Pointer, blocks, count, srcStep, dstStep, srcStride, dstStride int)
//
// and likewise winoA6_32…, winoAT6_32…: count groups, each of blocks
// whole vectors (with AVX-512 then the lanes of the mask tail, a last
// partial vector); group q reads its vector k at src + q·srcStep +
// k·srcStride and writes its result k at dst + q·dstStep + k·dstStride
// (bytes), all of a block's vectors read before any is written. The
// operations are the Go twin's (winoVertGeneric), in its order; the
// products by 4 are exact, so the fused ones round as the Go ones do.
func emitWinogradVert(w *bytes.Buffer) {
	for _, zmm := range []bool{true, false} {
		for _, op := range winoVertOps {
			reg, vbytes, sfx := "Y", 32, "AVX2"
			if zmm {
				reg, vbytes, sfx = "Z", 64, "AVX512"
			}
			r := func(i int) string { return fmt.Sprintf("%s%d", reg, i) }
			name := op.name + "_32" + sfx
			f := asmFunc{w, name}
			if zmm {
				fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, blocks, count, srcStep, dstStep, srcStride, dstStride int, tail uint64)\n", name)
				fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
			} else {
				fmt.Fprintf(w, "\n// func %s(dst, src unsafe.Pointer, blocks, count, srcStep, dstStep, srcStride, dstStride int)\n", name)
				fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
			}
			f.p("MOVQ dst+0(FP), R15")
			f.p("MOVQ src+8(FP), R14")
			f.p("MOVQ count+24(FP), DX")
			f.p("MOVQ srcStep+32(FP), R8")
			f.p("MOVQ dstStep+40(FP), R9")
			f.p("MOVQ srcStride+48(FP), R10")
			f.p("MOVQ dstStride+56(FP), R11")
			if zmm {
				f.p("MOVQ tail+64(FP), AX")
				f.p("KMOVW AX, K1")
			}
			if op.four {
				f.p("MOVL $0x40800000, AX") // 4.0
				f.p("VMOVD AX, X15")
				f.p("VBROADCASTSS X15, %s", r(15))
			}
			// Vector k of a block at (base)(stride·k) for k < 3, else
			// (base3)(stride·(k − 3)), base3 = base + 3·stride.
			addr := func(base, base3, stride string, k int) string {
				b := base
				if k >= 3 {
					b, k = base3, k-3
				}
				if k == 0 {
					return "(" + b + ")"
				}
				return fmt.Sprintf("(%s)(%s*%d)", b, stride, k)
			}
			f.label("group")
			f.p("MOVQ R14, SI")
			f.p("MOVQ R15, DI")
			f.p("LEAQ (SI)(R10*2), R12")
			f.p("ADDQ R10, R12")
			f.p("LEAQ (DI)(R11*2), R13")
			f.p("ADDQ R11, R13")
			f.p("MOVQ blocks+16(FP), BX")
			if zmm {
				f.p("TESTQ BX, BX")
				f.p("JZ %s_tail", name)
			}
			f.label("block")
			for k := 0; k < op.in; k++ {
				f.p("VMOVUPS %s, %s", addr("SI", "R12", "R10", k), r(k))
			}
			for _, s := range op.body(r) {
				f.p("%s", s)
			}
			for k, res := range op.results {
				f.p("VMOVUPS %s, %s", r(res), addr("DI", "R13", "R11", k))
			}
			for _, p := range []string{"SI", "DI", "R12", "R13"} {
				f.p("ADDQ $%d, %s", vbytes, p)
			}
			f.p("DECQ BX")
			f.p("JNZ %s_block", name)
			if zmm {
				// The last values, fewer than a vector, under K1.
				f.label("tail")
				f.p("KORTESTW K1, K1")
				f.p("JZ %s_next", name)
				for k := 0; k < op.in; k++ {
					f.p("VMOVUPS.Z %s, K1, %s", addr("SI", "R12", "R10", k), r(k))
				}
				for _, s := range op.body(r) {
					f.p("%s", s)
				}
				for k, res := range op.results {
					f.p("VMOVUPS %s, K1, %s", r(res), addr("DI", "R13", "R11", k))
				}
				f.label("next")
			}
			f.p("ADDQ R8, R14")
			f.p("ADDQ R9, R15")
			f.p("DECQ DX")
			f.p("JNZ %s_group", name)
			f.p("VZEROUPPER")
			f.p("RET")
		}
	}
}

// winoVertOp is one element-wise transform: its vectors in, its body (on
// registers r(0…11), r(15) holding 4.0 where four) and the registers of
// its results in order.
type winoVertOp struct {
	name    string
	in      int
	four    bool
	body    func(r func(int) string) []string
	results []int
}

var winoVertOps = []winoVertOp{
	{"winoB6", 6, true, func(r func(int) string) []string {
		c := r(15)
		return []string{
			"VMOVAPS " + r(4) + ", " + r(6),
			"VFNMADD231PS " + r(2) + ", " + c + ", " + r(6), // t1 = d4 − 4d2
			"VMOVAPS " + r(3) + ", " + r(7),
			"VFNMADD231PS " + r(1) + ", " + c + ", " + r(7), // t2 = d3 − 4d1
			"VMOVAPS " + r(0) + ", " + r(8),
			"VFMSUB213PS " + r(2) + ", " + c + ", " + r(8), // 4d0 − d2
			"VADDPS " + r(8) + ", " + r(6) + ", " + r(8),   // r0
			"VADDPS " + r(7) + ", " + r(6) + ", " + r(9),   // r1
			"VSUBPS " + r(7) + ", " + r(6) + ", " + r(6),   // r2
			"VSUBPS " + r(2) + ", " + r(4) + ", " + r(7),   // t3 = d4 − d2
			"VSUBPS " + r(1) + ", " + r(3) + ", " + r(10),
			"VADDPS " + r(10) + ", " + r(10) + ", " + r(10), // t4
			"VADDPS " + r(10) + ", " + r(7) + ", " + r(11),  // r3
			"VSUBPS " + r(10) + ", " + r(7) + ", " + r(7),   // r4
			"VFNMADD231PS " + r(3) + ", " + c + ", " + r(5), // d5 − 4d3
			"VFMSUB213PS " + r(3) + ", " + c + ", " + r(1),  // 4d1 − d3
			"VADDPS " + r(1) + ", " + r(5) + ", " + r(5),    // r5
		}
	}, []int{8, 9, 6, 11, 7, 5}},
	{"winoA6", 6, false, func(r func(int) string) []string {
		return []string{
			"VADDPS " + r(2) + ", " + r(1) + ", " + r(6), // m1 + m2
			"VSUBPS " + r(2) + ", " + r(1) + ", " + r(7), // m1 − m2
			"VADDPS " + r(4) + ", " + r(3) + ", " + r(8), // m3 + m4
			"VSUBPS " + r(4) + ", " + r(3) + ", " + r(9), // m3 − m4
			"VADDPS " + r(9) + ", " + r(9) + ", " + r(9),
			"VADDPS " + r(6) + ", " + r(0) + ", " + r(6),
			"VADDPS " + r(8) + ", " + r(6) + ", " + r(6), // a0
			"VADDPS " + r(9) + ", " + r(7) + ", " + r(7),
			"VADDPS " + r(5) + ", " + r(7) + ", " + r(7), // a1
		}
	}, []int{6, 7}},
	{"winoAT6", 2, false, func(r func(int) string) []string {
		return []string{
			"VADDPS " + r(1) + ", " + r(1) + ", " + r(2), // 2e1
			"VADDPS " + r(1) + ", " + r(0) + ", " + r(3),
			"VSUBPS " + r(1) + ", " + r(0) + ", " + r(4),
			"VADDPS " + r(2) + ", " + r(0) + ", " + r(5),
			"VSUBPS " + r(2) + ", " + r(0) + ", " + r(6),
		}
	}, []int{0, 3, 4, 5, 6, 1}},
	// F(4×4, 3×3)'s A (4 → 6), by sums and exact doublings
	// (../winograd43.go: winoAT46).
	{"winoAT46", 4, false, func(r func(int) string) []string {
		return []string{
			"VADDPS " + r(2) + ", " + r(0) + ", " + r(4), // s02 = e0 + e2
			"VADDPS " + r(3) + ", " + r(1) + ", " + r(5), // s13 = e1 + e3
			"VADDPS " + r(5) + ", " + r(4) + ", " + r(6), // q1
			"VSUBPS " + r(5) + ", " + r(4) + ", " + r(7), // q2
			"VADDPS " + r(2) + ", " + r(2) + ", " + r(8),
			"VADDPS " + r(8) + ", " + r(8) + ", " + r(8), // 4·e2
			"VADDPS " + r(8) + ", " + r(0) + ", " + r(8), // t02 = e0 + 4·e2
			"VADDPS " + r(3) + ", " + r(3) + ", " + r(9),
			"VADDPS " + r(9) + ", " + r(9) + ", " + r(9),  // 4·e3
			"VADDPS " + r(9) + ", " + r(1) + ", " + r(9),  // e1 + 4·e3
			"VADDPS " + r(9) + ", " + r(9) + ", " + r(9),  // t13 = 2·(e1 + 4·e3)
			"VADDPS " + r(9) + ", " + r(8) + ", " + r(10), // q3
			"VSUBPS " + r(9) + ", " + r(8) + ", " + r(11), // q4
		}
	}, []int{0, 6, 7, 10, 11, 3}},
}

// emitWino6Rows writes
//
//	wino6Rows32AVX512(dst, x unsafe.Pointer, ld, tilesY, h, pad, rowBytes, tileRowBytes int, masks uint64, idx *[6][16]int32, step int)
//	wino6Rows32AVX2(dst, x unsafe.Pointer, ld, tilesY, h, pad, rowBytes, tileRowBytes int, masks *[7][8]int32)
//
// the first half of the input transform of 6×6 windows (F(2×2, 5×5)'s,
// and with AVX-512 F(4×4, 3×3)'s) for one channel of one image: for each
// row of tiles ty and window row i, image row r = step·ty + i − pad (step
// 2 with AVX2; zero outside the image) gives the six window columns j of every
// tile (padded column 2·tx + j) and Bᵀ is applied to them (winoB6's
// body); result j′ goes to row 6·i + j′ of dst (ld bytes apart), at the
// row of tiles' place (tileRowBytes = 4·tilesX on), the low tilesX lanes.
// This is Im2col of the 6×6 windows followed by winoB6 along the rows, the
// same values.
//
// AVX-512, rows of tiles whose windows end by padded column 31, or of 8
// tiles 4 apart: the image row is loaded as two vectors, padded columns
// 0…15 and 16…31 (masks bits 0–15 and 16–31: the lanes inside the image),
// and the window columns gathered by VPERMT2PS (idx[j]: lane t takes
// padded column step·t + j); masks bits 32–47 are the stores' lanes. With
// 8 tiles 4 apart, the 8th tile's last two window columns (padded 32 and
// 33) come from a third vector, columns 32…47 (masks bits 48–63), by
// VPERMPS (idx[6], idx[7]) into lane 7. AVX2, rows of at most
// 8 tiles: three pairs of vectors, padded columns 0…15, 2…17 and 4…19
// (masks[0…5]: the lanes inside the image), whose even and odd lanes
// (VSHUFPS and VPERMPD) are the window columns; masks[6] are the stores'
// lanes.
func emitWino6Rows(w *bytes.Buffer, zmm bool) {
	name, sig, frame := "wino6Rows32AVX2", "masks *[7][8]int32", 72
	if zmm {
		name, sig, frame = "wino6Rows32AVX512", "masks uint64, idx *[8][16]int32, step int", 88
	}
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(dst, x unsafe.Pointer, ld, tilesY, h, pad, rowBytes, tileRowBytes int, %s)\n", name, sig)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, frame)
	f.p("MOVQ dst+0(FP), DI")
	f.p("MOVQ x+8(FP), SI")
	f.p("MOVQ ld+16(FP), R8")
	f.p("MOVQ tilesY+24(FP), R12")
	f.p("MOVQ h+32(FP), R9")
	f.p("MOVQ pad+40(FP), R11")
	f.p("MOVQ R11, R13")
	f.p("SHLQ $2, R13")
	f.p("NEGQ R11")
	f.p("MOVQ rowBytes+48(FP), R10")
	// d0…d5 and winoB6's temporaries in r(0…11), 4.0 in r(15); AVX-512
	// keeps its six permutes in Z26…Z31, AVX2 its store mask in Y14.
	r := func(k int) string { return fmt.Sprintf("Y%d", k) }
	store := "VMASKMOVPS %s, Y14, %s"
	if zmm {
		r = func(k int) string {
			if k == 15 {
				return "Z25"
			}
			return fmt.Sprintf("Z%d", 2+k)
		}
		store = "VMOVUPS %s, K3, %s"
		f.p("LEAQ (R8)(R8*2), R15")
		f.p("ADDQ R15, R15")
		f.masks(64, 1, 2, 3, 4)
		// K5: lane 7 where the row has 8 tiles 4 apart (its last two
		// window columns come from the third vector); none with step 2,
		// whose 8th and later tiles' windows end by column 31.
		f.p("XORL AX, AX")
		f.p("CMPQ step+80(FP), $4")
		f.p("JNE %s_k5", name)
		f.p("MOVL $0x80, AX")
		f.label("k5")
		f.p("KMOVW AX, K5")
		f.p("KANDW K3, K5, K5")
		f.p("MOVQ idx+72(FP), AX")
		for j := 0; j < 6; j++ {
			f.p("VMOVUPS %d(AX), Z%d", 64*j, 26+j)
		}
		f.p("VMOVUPS 384(AX), Z15")
		f.p("VMOVUPS 448(AX), Z16")
		f.p("MOVL $0x40800000, AX") // 4.0
		f.p("VMOVD AX, X25")
		f.p("VBROADCASTSS X25, Z25")
	} else {
		f.p("MOVQ masks+64(FP), BX")
		f.p("LEAQ (R8)(R8*2), R15")
		f.p("ADDQ R15, R15")
		f.p("VMOVDQU 192(BX), Y14")
		f.p("MOVL $0x40800000, AX") // 4.0
		f.p("VMOVD AX, X15")
		f.p("VBROADCASTSS X15, Y15")
	}
	b6 := winoVertOps[0]
	f.label("tileRow")
	f.p("MOVQ DI, DX")
	for i := 0; i < 6; i++ {
		zero, row := fmt.Sprintf("zero%d", i), fmt.Sprintf("row%d", i)
		f.p("LEAQ %d(R11), AX", i)
		f.p("CMPQ AX, R9")
		f.p("JAE %s_%s", name, zero)
		f.p("IMULQ R10, AX")
		f.p("ADDQ SI, AX")
		f.p("SUBQ R13, AX")
		if zmm {
			f.p("VMOVUPS.Z (AX), K1, Z0")
			f.p("VMOVUPS.Z 64(AX), K2, Z1")
			for j := 0; j < 6; j++ {
				f.p("VMOVAPS Z0, %s", r(j))
				f.p("VPERMT2PS Z1, Z%d, %s", 26+j, r(j))
			}
			f.p("KORTESTW K5, K5")
			f.p("JZ %s_two%d", name, i)
			f.p("VMOVUPS.Z 128(AX), K4, Z14")
			f.p("VPERMPS Z14, Z15, K5, %s", r(4))
			f.p("VPERMPS Z14, Z16, K5, %s", r(5))
			f.label(fmt.Sprintf("two%d", i))
		} else {
			for q := 0; q < 3; q++ {
				// Padded columns 2q… and 2q + 8…: d_{2q} and d_{2q+1}.
				f.p("VMOVDQU %d(BX), Y12", 64*q)
				f.p("VMASKMOVPS %d(AX), Y12, Y6", 8*q)
				f.p("VMOVDQU %d(BX), Y12", 64*q+32)
				f.p("VMASKMOVPS %d(AX), Y12, Y7", 8*q+32)
				f.p("VSHUFPS $0x88, Y7, Y6, Y%d", 2*q)
				f.p("VPERMPD $0xd8, Y%d, Y%d", 2*q, 2*q)
				f.p("VSHUFPS $0xdd, Y7, Y6, Y%d", 2*q+1)
				f.p("VPERMPD $0xd8, Y%d, Y%d", 2*q+1, 2*q+1)
			}
		}
		f.p("JMP %s_%s", name, row)
		f.label(zero)
		for j := 0; j < 6; j++ {
			f.p("VXORPS %s, %s, %s", r(j), r(j), r(j))
		}
		f.label(row)
		for _, s := range b6.body(r) {
			f.p("%s", s)
		}
		f.p("LEAQ (DX)(R8*2), AX")
		f.p("ADDQ R8, AX")
		for k, res := range b6.results {
			base, m := "DX", k
			if k >= 3 {
				base, m = "AX", k-3
			}
			addr := "(" + base + ")"
			if m > 0 {
				addr = fmt.Sprintf("(%s)(R8*%d)", base, m)
			}
			f.p(store, r(res), addr)
		}
		f.p("ADDQ R15, DX")
	}
	f.p("ADDQ tileRowBytes+56(FP), DI")
	if zmm {
		f.p("ADDQ step+80(FP), R11")
	} else {
		f.p("ADDQ $2, R11")
	}
	f.p("DECQ R12")
	f.p("JNZ %s_tileRow", name)
	f.p("VZEROUPPER")
	f.p("RET")
}

// emitWinoBlocks writes the gather of F(4×4, 3×3)'s 4×4 output blocks
// (../winograd43.go: winoBlocksIn), float32, AVX-512, for a row of at most
// 8 tiles:
//
//	winoBlocksIn32AVX512(blk, y unsafe.Pointer, ld, tilesY, yRowBytes, blkRowBytes int, masks uint64)
//
// for each row of tiles ty and block row a, output row 4·ty + a (at y +
// (4·ty + a)·yRowBytes, its two vectors loaded under masks bits 16–31 and
// 32–47) gives row 4a + b of blk (rows ld bytes apart, the row of tiles at
// ty·blkRowBytes, masks bits 0–15 its lanes) the values of columns 4·tx +
// b: the output row's two vectors unzipped by VPERMT2PS.
func emitWinoBlocks(w *bytes.Buffer) {
	name := "winoBlocksIn32AVX512"
	f := asmFunc{w, name}
	fmt.Fprintf(w, "\n// func %s(blk, y unsafe.Pointer, ld, tilesY, yRowBytes, blkRowBytes int, masks uint64)\n", name)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", name)
	f.p("MOVQ blk+0(FP), SI")
	f.p("MOVQ y+8(FP), DI")
	f.p("MOVQ ld+16(FP), R8")
	f.p("MOVQ tilesY+24(FP), R12")
	f.p("MOVQ yRowBytes+32(FP), R9")
	f.p("MOVQ blkRowBytes+40(FP), R10")
	f.masks(48, 1, 2, 3)
	f.p("VMOVDQU32 ·winoUnzip+0(SB), Z30")
	f.p("VMOVDQU32 ·winoUnzip+64(SB), Z31")
	// R11: row 4a of blk; BX: row 4a + 2.
	f.label("tileRow")
	f.p("MOVQ SI, R11")
	for a := 0; a < 4; a++ {
		f.p("LEAQ (R11)(R8*2), BX")
		f.p("VMOVUPS.Z (DI), K2, Z0")
		f.p("VMOVUPS.Z 64(DI), K3, Z1")
		f.p("VMOVAPS Z0, Z4")
		f.p("VPERMT2PS Z1, Z30, Z4") // [b0 | b1]
		f.p("VMOVAPS Z0, Z5")
		f.p("VPERMT2PS Z1, Z31, Z5") // [b2 | b3]
		f.p("VMOVUPS Y4, K1, (R11)")
		f.p("VEXTRACTF32X8 $1, Z4, Y6")
		f.p("VMOVUPS Y6, K1, (R11)(R8*1)")
		f.p("VMOVUPS Y5, K1, (BX)")
		f.p("VEXTRACTF32X8 $1, Z5, Y7")
		f.p("VMOVUPS Y7, K1, (BX)(R8*1)")
		f.p("ADDQ R9, DI")
		if a < 3 {
			f.p("LEAQ (R11)(R8*4), R11")
		}
	}
	f.p("ADDQ R10, SI")
	f.p("DECQ R12")
	f.p("JNZ %s_tileRow", name)
	f.p("VZEROUPPER")
	f.p("RET")
	// winoUnzip: lane l of [b0 | b1] takes column 4·(l mod 8) + l/8 of the
	// row's two vectors, of [b2 | b3] column 4·(l mod 8) + 2 + l/8.
	for half := 0; half < 2; half++ {
		for l := 0; l < 16; l++ {
			fmt.Fprintf(w, "DATA ·winoUnzip+%d(SB)/4, $%d\n", 64*half+4*l, 4*(l%8)+2*half+l/8)
		}
	}
	w.WriteString("GLOBL ·winoUnzip(SB), RODATA, $128\n")
}
