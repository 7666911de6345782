package main

import (
	"bytes"
	"fmt"
	"log"
)

// emitStridedAVX2 writes an unpacked-B micro-kernel for AVX2 and FMA (the
// twin of the AVX-512 strided kernels that emit writes): an mr×nr tile, row
// p of b at b + off[p] bytes, any 1 ≤ rows ≤ mr and 1 ≤ cols ≤ nr. AVX2 has
// no mask registers, and the mr·nv accumulators with the nv vectors of b and
// the broadcast of a take all 16 ymm registers, so the column masks live in
// memory: a whole tile (cols = nr) runs a loop of plain loads, an edge tile
// a loop that loads each vector's mask from stridedMasks into the register
// that then receives b (VMASKMOVPS reads nothing where the mask is clear).
// Rows past rows are computed (the A panel is zero there) but not stored.
func (k kernel) emitStridedAVX2(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	label := func(s string) { fmt.Fprintf(w, "%s_%s:\n", k.name, s) }
	size, sfx, typ := 4, "S", "float32"
	argSize, betaOff, rowsOff := 120, 92, 96
	if k.f64 {
		size, sfx, typ = 8, "D", "float64"
		argSize, betaOff, rowsOff = 128, 96, 104
	}
	colsOff, offOff := rowsOff+8, rowsOff+16
	const vbytes = 32
	lanes := vbytes / size
	nr := k.nv * lanes
	nacc := k.mr * k.nv
	if nacc+k.nv+1 > 16 || 16-nacc < 4 {
		log.Fatalf("%s: %d accumulators leave too few ymm registers", k.name, nacc)
	}
	if nr*size > stridedMaskBytes {
		log.Fatalf("%s: %d-byte rows exceed the mask table", k.name, nr*size)
	}
	acc := func(i, v int) string { return fmt.Sprintf("Y%d", i*k.nv+v) }
	bReg := func(v int) string { return fmt.Sprintf("Y%d", nacc+v) }
	aReg := fmt.Sprintf("Y%d", nacc+k.nv)
	mov, fma, mul := "VMOVUP"+sfx, "VFMADD231P"+sfx, "VMULP"+sfx
	bcast, mmov := "VBROADCASTS"+sfx, "VMASKMOVP"+sfx
	aStep := k.panelRows() * size

	fmt.Fprintf(w, "\n// func %s(k int, a, b, c []%s, ldc int, alpha, beta %s, rows, cols int, off *int)\n", k.name, typ, typ)
	fmt.Fprintf(w, "//\n// %d×%d tile, %d Y accumulators, b row p at b + off[p] bytes; writes the top-left rows×cols.\n", k.mr, nr, nacc)
	if k.panel > 0 {
		fmt.Fprintf(w, "// a holds %d-row panels, of which it reads the first %d rows.\n", k.panel, k.mr)
	}
	fmt.Fprintf(w, "// AX points into stridedMasks so that the mask of vector v of a row is at v·32(AX).\n")
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", k.name, argSize)
	p("MOVQ a_base+8(FP), SI")
	p("MOVQ b_base+32(FP), DI")
	p("MOVQ c_base+56(FP), DX")
	p("MOVQ ldc+80(FP), R8")
	p("SHLQ $%d, R8", map[int]int{4: 2, 8: 3}[size])
	p("MOVQ off+%d(FP), R11", offOff)
	// AX = stridedMasks + 128 - cols·size: lane j of vector v reads the
	// byte at 128 + (v·lanes + j − cols)·size, all ones below 128.
	p("MOVQ cols+%d(FP), BX", colsOff)
	p("SHLQ $%d, BX", map[int]int{4: 2, 8: 3}[size])
	p("LEAQ ·stridedMasks+%d(SB), AX", stridedMaskBytes)
	p("SUBQ BX, AX")
	// Zero the accumulators and prefetch the C tile.
	p("MOVQ DX, R9")
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.nv; v++ {
			p("VXORPS %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
		}
		p("PREFETCHT0 (R9)")
		p("PREFETCHT0 %d(R9)", nr*size-1)
		if i < k.mr-1 {
			p("ADDQ R8, R9")
		}
	}
	// step emits one step of p with b's row offset at n·8(R11).
	step := func(n int, masked bool) {
		// Prefetch the row four steps ahead (off has four more entries
		// than steps).
		p("MOVQ %d(R11), R13", 8*n+32)
		for line := 0; line < nr*size; line += 64 {
			p("PREFETCHT0 %d(DI)(R13*1)", line)
		}
		p("PREFETCHT0 %d(DI)(R13*1)", nr*size-1)
		p("MOVQ %d(R11), R12", 8*n)
		for v := 0; v < k.nv; v++ {
			if masked {
				p("VMOVDQU %d(AX), %s", v*vbytes, bReg(v))
				p("%s %d(DI)(R12*1), %s, %s", mmov, v*vbytes, bReg(v), bReg(v))
			} else {
				p("%s %d(DI)(R12*1), %s", mov, v*vbytes, bReg(v))
			}
		}
		for i := 0; i < k.mr; i++ {
			p("%s %d(SI), %s", bcast, n*aStep+i*size, aReg)
			for v := 0; v < k.nv; v++ {
				p("%s %s, %s, %s", fma, bReg(v), aReg, acc(i, v))
			}
		}
	}
	loop := func(tag string, masked bool) {
		p("MOVQ k+0(FP), CX")
		p("MOVQ CX, BX")
		p("SHRQ $%d, BX", map[int]int{1: 0, 2: 1, 4: 2, 8: 3}[k.unroll])
		p("JZ %s_%stail", k.name, tag)
		label(tag + "loop")
		for n := 0; n < k.unroll; n++ {
			step(n, masked)
		}
		p("ADDQ $%d, SI", k.unroll*aStep)
		p("ADDQ $%d, R11", k.unroll*8)
		p("DECQ BX")
		p("JNZ %s_%sloop", k.name, tag)
		label(tag + "tail")
		p("ANDQ $%d, CX", k.unroll-1)
		p("JZ %s_store", k.name)
		label(tag + "tailloop")
		step(0, masked)
		p("ADDQ $%d, SI", aStep)
		p("ADDQ $8, R11")
		p("DECQ CX")
		p("JNZ %s_%stailloop", k.name, tag)
		p("JMP %s_store", k.name)
	}
	p("CMPQ cols+%d(FP), $%d", colsOff, nr)
	p("JNE %s_masked", k.name)
	loop("", false)
	label("masked")
	loop("m", true)

	// C = alpha·acc + beta·C, or alpha·acc when beta is ±0; R10 counts the
	// rows left to write.
	label("store")
	alpha, beta := fmt.Sprintf("Y%d", nacc), fmt.Sprintf("Y%d", nacc+1)
	t, m := fmt.Sprintf("Y%d", nacc+2), fmt.Sprintf("Y%d", nacc+3)
	p("%s alpha+88(FP), %s", bcast, alpha)
	p("MOVQ rows+%d(FP), R10", rowsOff)
	if k.f64 {
		p("MOVQ beta+%d(FP), BX", betaOff)
		p("SHLQ $1, BX")
	} else {
		p("MOVL beta+%d(FP), BX", betaOff)
		p("ANDL $0x7fffffff, BX")
	}
	p("JZ %s_beta0", k.name)
	p("%s beta+%d(FP), %s", bcast, betaOff, beta)
	store := func(tag string, masked, withBeta bool) {
		label(tag)
		for i := 0; i < k.mr; i++ {
			for v := 0; v < k.nv; v++ {
				dst := fmt.Sprintf("%d(DX)", v*vbytes)
				if masked {
					p("VMOVDQU %d(AX), %s", v*vbytes, m)
				}
				r := acc(i, v)
				if withBeta {
					if masked {
						p("%s %s, %s, %s", mmov, dst, m, t)
						p("%s %s, %s, %s", mul, beta, t, t)
					} else {
						p("%s %s, %s, %s", mul, dst, beta, t)
					}
					p("%s %s, %s, %s", fma, r, alpha, t)
					r = t
				} else {
					p("%s %s, %s, %s", mul, r, alpha, r)
				}
				if masked {
					p("%s %s, %s, %s", mmov, r, m, dst)
				} else {
					p("%s %s, %s", mov, r, dst)
				}
			}
			if i < k.mr-1 {
				p("DECQ R10")
				p("JZ %s_done", k.name)
				p("ADDQ R8, DX")
			}
		}
		p("VZEROUPPER")
		p("RET")
	}
	p("CMPQ cols+%d(FP), $%d", colsOff, nr)
	p("JNE %s_storem", k.name)
	store("storef", false, true)
	store("storem", true, true)
	label("beta0")
	p("CMPQ cols+%d(FP), $%d", colsOff, nr)
	p("JNE %s_beta0m", k.name)
	store("beta0f", false, false)
	store("beta0m", true, false)
	label("done")
	p("VZEROUPPER")
	p("RET")
}

// stridedMaskBytes is the length of the all-ones half of stridedMasks, the
// most bytes of a row that emitStridedAVX2's masks cover.
const stridedMaskBytes = 128

// emitStridedMasks writes stridedMasks: stridedMaskBytes bytes of ones, as
// many of zeros.
func emitStridedMasks(w *bytes.Buffer) {
	w.WriteString("\n")
	for i := 0; i < 2*stridedMaskBytes; i += 8 {
		v := 0
		if i < stridedMaskBytes {
			v = -1
		}
		fmt.Fprintf(w, "DATA ·stridedMasks+%d(SB)/8, $%d\n", i, v)
	}
	fmt.Fprintf(w, "GLOBL ·stridedMasks(SB), RODATA|NOPTR, $%d\n", 2*stridedMaskBytes)
}
