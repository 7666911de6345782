package main

import (
	"bytes"
	"fmt"
	"strings"
)

// The per-channel affine kernels of BatchNorm (../vec_amd64.go): float32
// data, float64 arithmetic, AVX-512. Each iteration takes 16 elements of
// every slice as two halves of 8, widened to one zmm of float64 each; sums go
// to 8 float64 lanes (element i of the slice to lane i mod 8, the low half
// before the high half), loaded from and stored back to the accumulator
// arguments. Products and sums are rounded one at a time, as in the pure-Go
// kernels (no FMA), so both give the same bits.

// affineKernel is one kernel: func name(accs, slices []float32, scalars float64).
type affineKernel struct {
	name    string
	doc     string
	accs    int      // number of [8]float64 accumulators behind the first argument (0: none)
	slices  []string // the float32 slice arguments, the first one giving the length
	scalars []string // float64 arguments, broadcast into Z24, Z25, …
	body    func(e *affineEmitter, h int)
}

// affineEmitter writes the body of one half: loads widen float32 to float64.
type affineEmitter struct {
	f   asmFunc
	k   affineKernel
	off int // byte offset of the half
}

func (e *affineEmitter) p(format string, args ...any) { e.f.p(format, args...) }

// ptr is the register holding slice s's current position.
func (e *affineEmitter) ptr(s string) string {
	for i, n := range e.k.slices {
		if n == s {
			return argRegs[i]
		}
	}
	panic(s)
}

// c is the register holding scalar s.
func (e *affineEmitter) c(s string) string {
	for i, n := range e.k.scalars {
		if n == s {
			return fmt.Sprintf("Z%d", 24+i)
		}
	}
	panic(s)
}

// acc is accumulator i.
func (e *affineEmitter) acc(i int) string { return fmt.Sprintf("Z%d", i) }

// load widens the half of slice s into zmm register z.
func (e *affineEmitter) load(s string, z int) string {
	e.p("VCVTPS2PD %d(%s), Z%d", e.off, e.ptr(s), z)
	return fmt.Sprintf("Z%d", z)
}

// store rounds zmm z to float32 and writes it to the half of slice s.
func (e *affineEmitter) store(z string, s string) {
	y := "Y" + z[1:]
	e.p("VCVTPD2PS %s, %s", z, y)
	e.p("VMOVUPS %s, %d(%s)", y, e.off, e.ptr(s))
}

// addTo rounds zmm z to float32 and adds it (float32 addition) to the half
// of slice s: s[i] = s[i] + float32(z[i]).
func (e *affineEmitter) addTo(z string, s string, tmp int) {
	y := "Y" + z[1:]
	e.p("VCVTPD2PS %s, %s", z, y)
	e.p("VMOVUPS %d(%s), Y%d", e.off, e.ptr(s), tmp)
	e.p("VADDPS %s, Y%d, Y%d", y, tmp, tmp)
	e.p("VMOVUPS Y%d, %d(%s)", tmp, e.off, e.ptr(s))
}

func emitAffine(w *bytes.Buffer, k affineKernel) {
	var sig []string
	off := 0
	if k.accs > 0 {
		sig = append(sig, map[int]string{1: "s *Lanes", 2: "s *[2]Lanes", 5: "s *[5]Lanes"}[k.accs])
		off = 8
	}
	sig = append(sig, strings.Join(k.slices, ", ")+" []float32")
	sliceOff := off
	off += 24 * len(k.slices)
	if len(k.scalars) > 0 {
		sig = append(sig, strings.Join(k.scalars, ", ")+" float64")
	}
	size := off + 8*len(k.scalars)
	f := header(w, k.name, strings.Join(sig, ", "), k.doc+" Whole blocks of 16 elements only.", size)
	for i, s := range k.slices {
		f.p("MOVQ %s_base+%d(FP), %s", s, sliceOff+24*i, argRegs[i])
	}
	f.p("MOVQ %s_len+%d(FP), CX", k.slices[0], sliceOff+8)
	f.p("SHRQ $4, CX")
	f.p("JZ %s_done", k.name)
	for i, s := range k.scalars {
		f.p("VBROADCASTSD %s+%d(FP), Z%d", s, off+8*i, 24+i)
	}
	if k.accs > 0 {
		f.p("MOVQ s+0(FP), AX")
		for i := 0; i < k.accs; i++ {
			f.p("VMOVUPD %d(AX), Z%d", 64*i, i)
		}
	}
	f.label("loop")
	e := &affineEmitter{f: f, k: k}
	for h := 0; h < 2; h++ {
		e.off = 32 * h
		k.body(e, h)
	}
	for i := range k.slices {
		f.p("ADDQ $64, %s", argRegs[i])
	}
	f.p("DECQ CX")
	f.p("JNZ %s_loop", k.name)
	if k.accs > 0 {
		for i := 0; i < k.accs; i++ {
			f.p("VMOVUPD Z%d, %d(AX)", i, 64*i)
		}
	}
	f.label("done")
	f.p("VZEROUPPER")
	f.p("RET")
}

// Go's VSUBPD b, a, d is d = a − b; VMULPD b, a, d is d = a·b; VADDPD b, a,
// d is d = a + b (a the first operand, as in the pure-Go expressions).
var affineKernels = []affineKernel{
	{
		name: "affineTo32AVX512", doc: "dst[i] = float32(a·(x[i] − mu) + b).",
		slices: []string{"dst", "x"}, scalars: []string{"a", "mu", "b"},
		body: func(e *affineEmitter, h int) {
			x := e.load("x", 8)
			e.p("VSUBPD %s, %s, %s", e.c("mu"), x, x)
			e.p("VMULPD %s, %s, %s", x, e.c("a"), x)
			e.p("VADDPD %s, %s, %s", e.c("b"), x, x)
			e.store(x, "dst")
		},
	},
	{
		name:   "affineJVPTo32AVX512",
		doc:    "y[i] = float32(a·(x[i] − mu) + b), yDot[i] = float32(float64(float32(c·(x[i] − mu) + d)) + a·xDot[i]).",
		slices: []string{"y", "yDot", "x", "xDot"}, scalars: []string{"a", "c", "mu", "b", "d"},
		body: func(e *affineEmitter, h int) {
			xc := e.load("x", 8)
			e.p("VSUBPD %s, %s, %s", e.c("mu"), xc, xc)
			e.p("VMULPD %s, %s, Z9", xc, e.c("a"))
			e.p("VADDPD %s, Z9, Z9", e.c("b"))
			e.store("Z9", "y")
			e.p("VMULPD %s, %s, Z10", xc, e.c("c"))
			e.p("VADDPD %s, Z10, Z10", e.c("d"))
			e.p("VCVTPD2PS Z10, Y10")
			e.p("VCVTPS2PD Y10, Z10")
			xd := e.load("xDot", 11)
			e.p("VMULPD %s, %s, %s", xd, e.c("a"), xd)
			e.p("VADDPD %s, Z10, Z10", xd)
			e.store("Z10", "yDot")
		},
	},
	{
		name: "scaleAdd32AVX512", doc: "dst[i] += float32(a·y[i]) (a float32 sum).",
		slices: []string{"dst", "y"}, scalars: []string{"a"},
		body: func(e *affineEmitter, h int) {
			y := e.load("y", 8)
			e.p("VMULPD %s, %s, %s", y, e.c("a"), y)
			e.addTo(y, "dst", 9)
		},
	},
	{
		name: "centeredSums32AVX512", doc: "s[0:8] += y[i], s[8:16] += y[i]·(x[i] − mu), by lanes.",
		accs: 2, slices: []string{"y", "x"}, scalars: []string{"mu"},
		body: func(e *affineEmitter, h int) {
			y := e.load("y", 8)
			xc := e.load("x", 9)
			e.p("VSUBPD %s, %s, %s", e.c("mu"), xc, xc)
			e.p("VADDPD %s, %s, %s", y, e.acc(0), e.acc(0))
			e.p("VMULPD %s, %s, %s", xc, y, xc)
			e.p("VADDPD %s, %s, %s", xc, e.acc(1), e.acc(1))
		},
	},
	{
		name: "centeredSumsScaleAdd32AVX512", doc: "centeredSums and scaleAdd(dst, y, a) in one sweep.",
		accs: 2, slices: []string{"dst", "y", "x"}, scalars: []string{"a", "mu"},
		body: func(e *affineEmitter, h int) {
			y := e.load("y", 8)
			xc := e.load("x", 9)
			e.p("VSUBPD %s, %s, %s", e.c("mu"), xc, xc)
			e.p("VADDPD %s, %s, %s", y, e.acc(0), e.acc(0))
			e.p("VMULPD %s, %s, %s", xc, y, xc)
			e.p("VADDPD %s, %s, %s", xc, e.acc(1), e.acc(1))
			e.p("VMULPD %s, %s, Z10", y, e.c("a"))
			e.addTo("Z10", "dst", 11)
		},
	},
	{
		name: "dot32AVX512", doc: "s[0:8] += y[i]·x[i], by lanes.",
		accs: 1, slices: []string{"y", "x"},
		body: func(e *affineEmitter, h int) {
			y := e.load("y", 8)
			x := e.load("x", 9)
			e.p("VMULPD %s, %s, %s", x, y, x)
			e.p("VADDPD %s, %s, %s", x, e.acc(0), e.acc(0))
		},
	},
	{
		name: "bnPair32AVX512",
		doc: "Per element, in this order: s0 += y; s1 += y·xc; dst += float32(a·y); s2 += yd; " +
			"s3 += yd·xc; dstDot = dstDot + float32(a·yd) + float32(ad·y); s4 += y·xDot, " +
			"with y = yBar[i], yd = yBarDot[i], xc = x[i] − mu.",
		accs: 5, slices: []string{"dst", "dstDot", "x", "xDot", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		body: func(e *affineEmitter, h int) {
			bnPairBody(e, e.load("yBar", 8), e.load("yBarDot", 9))
		},
	},

	// BatchNorm followed by ReLU. The mask is taken on the value rounded to
	// float32 (round trip, in K1), as a ReLU after a BatchNorm sees it, and
	// applied before the final rounding, which gives the same bits: +0 or
	// the value.
	{
		name: "affineReLUTo32AVX512", doc: "dst[i] = relu(float32(a·(x[i] − mu) + b)).",
		slices: []string{"dst", "x"}, scalars: []string{"a", "mu", "b"},
		body: func(e *affineEmitter, h int) {
			x := e.load("x", 8)
			e.p("VSUBPD %s, %s, %s", e.c("mu"), x, x)
			e.p("VMULPD %s, %s, %s", x, e.c("a"), x)
			e.p("VADDPD %s, %s, %s", e.c("b"), x, x)
			e.reluMask(x)
			e.p("VMOVAPD.Z %s, K1, %s", x, x)
			e.store(x, "dst")
		},
	},
	{
		name:   "affineJVPReLUTo32AVX512",
		doc:    "affineJVPTo followed by y[i], yDot[i] = +0 where !(y[i] > 0).",
		slices: []string{"y", "yDot", "x", "xDot"}, scalars: []string{"a", "c", "mu", "b", "d"},
		body: func(e *affineEmitter, h int) {
			xc := e.load("x", 8)
			e.p("VSUBPD %s, %s, %s", e.c("mu"), xc, xc)
			e.p("VMULPD %s, %s, Z9", xc, e.c("a"))
			e.p("VADDPD %s, Z9, Z9", e.c("b"))
			e.reluMask("Z9")
			e.p("VMOVAPD.Z Z9, K1, Z9")
			e.store("Z9", "y")
			e.p("VMULPD %s, %s, Z10", xc, e.c("c"))
			e.p("VADDPD %s, Z10, Z10", e.c("d"))
			e.p("VCVTPD2PS Z10, Y10")
			e.p("VCVTPS2PD Y10, Z10")
			xd := e.load("xDot", 11)
			e.p("VMULPD %s, %s, %s", xd, e.c("a"), xd)
			e.p("VADDPD %s, Z10, Z10", xd)
			e.p("VMOVAPD.Z Z10, K1, Z10")
			e.store("Z10", "yDot")
		},
	},
	{
		name: "bnReLUPair32AVX512",
		doc: "bnPair32AVX512 with yBar and yBarDot replaced by 0 + yBar[i] and 0 + yBarDot[i] " +
			"where y[i] > 0 and +0 elsewhere (a ReLU's cotangents, added to zero).",
		accs: 5, slices: []string{"dst", "dstDot", "x", "xDot", "y", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		body: func(e *affineEmitter, h int) {
			e.load("y", 16)
			e.p("VPXORQ Z17, Z17, Z17")
			e.p("VCMPPD $0x1e, Z17, Z16, K1") // y > 0
			e.p("VCVTPS2PD.Z %d(%s), K1, Z8", e.off, e.ptr("yBar"))
			e.p("VADDPD Z8, Z17, Z8")
			e.p("VCVTPS2PD.Z %d(%s), K1, Z9", e.off, e.ptr("yBarDot"))
			e.p("VADDPD Z9, Z17, Z9")
			bnPairBody(e, "Z8", "Z9")
		},
	},

	// BatchNorm in training mode: the squared deviations, and the
	// derivatives as linear combinations of (at most two) vectors, x − mu
	// and a constant, evaluated left to right.
	{
		name: "centeredSquares32AVX512", doc: "s[0:8] += (x[i] − mu)², by lanes.",
		accs: 1, slices: []string{"x"}, scalars: []string{"mu"},
		body: func(e *affineEmitter, h int) {
			x := e.load("x", 8)
			e.p("VSUBPD %s, %s, %s", e.c("mu"), x, x)
			e.p("VMULPD %s, %s, %s", x, x, x)
			e.p("VADDPD %s, %s, %s", x, e.acc(0), e.acc(0))
		},
	},
	{
		name: "linearTo32AVX512", doc: "dst[i] = float32((p·v[i] + q·(x[i] − mu)) + r).",
		slices: []string{"dst", "v", "x"}, scalars: []string{"p", "q", "mu", "r"},
		body: func(e *affineEmitter, h int) {
			linearBody(e, false)
			e.store("Z8", "dst")
		},
	},
	{
		name: "linearAdd32AVX512", doc: "dst[i] += float32((p·v[i] + q·(x[i] − mu)) + r) (a float32 sum).",
		slices: []string{"dst", "v", "x"}, scalars: []string{"p", "q", "mu", "r"},
		body: func(e *affineEmitter, h int) {
			linearBody(e, false)
			e.addTo("Z8", "dst", 11)
		},
	},
	{
		name: "linear2Add32AVX512", doc: "dst[i] += float32(((p·u[i] + p2·v[i]) + q·(x[i] − mu)) + r) (a float32 sum).",
		slices: []string{"dst", "u", "v", "x"}, scalars: []string{"p", "q", "mu", "r", "p2"},
		body: func(e *affineEmitter, h int) {
			linearBody(e, true)
			e.addTo("Z8", "dst", 11)
		},
	},
}

// linearBody leaves (p·v + q·(x − mu)) + r in Z8, or with two (p·u + p2·v
// + q·(x − mu)) + r.
func linearBody(e *affineEmitter, two bool) {
	if two {
		u := e.load("u", 8)
		e.p("VMULPD %s, %s, %s", u, e.c("p"), u)
		v := e.load("v", 9)
		e.p("VMULPD %s, %s, %s", v, e.c("p2"), v)
		e.p("VADDPD %s, Z8, Z8", v)
	} else {
		v := e.load("v", 8)
		e.p("VMULPD %s, %s, %s", v, e.c("p"), v)
	}
	x := e.load("x", 10)
	e.p("VSUBPD %s, %s, %s", e.c("mu"), x, x)
	e.p("VMULPD %s, %s, %s", x, e.c("q"), x)
	e.p("VADDPD %s, Z8, Z8", x)
	e.p("VADDPD %s, Z8, Z8", e.c("r"))
}

// reluMask sets K1 to the lanes of z whose value rounded to float32 is > 0.
func (e *affineEmitter) reluMask(z string) {
	e.p("VCVTPD2PS %s, Y20", z)
	e.p("VCVTPS2PD Y20, Z20")
	e.p("VPXORQ Z21, Z21, Z21")
	e.p("VCMPPD $0x1e, Z21, Z20, K1")
}

// bnPairBody is the body of bnPair32AVX512 after ȳ and ȳ̇ are in y, yd.
func bnPairBody(e *affineEmitter, y, yd string) {
	xc := e.load("x", 10)
	e.p("VSUBPD %s, %s, %s", e.c("mu"), xc, xc)
	e.p("VADDPD %s, %s, %s", y, e.acc(0), e.acc(0))
	e.p("VMULPD %s, %s, Z11", xc, y)
	e.p("VADDPD Z11, %s, %s", e.acc(1), e.acc(1))
	e.p("VMULPD %s, %s, Z12", y, e.c("a"))
	e.addTo("Z12", "dst", 13)
	e.p("VADDPD %s, %s, %s", yd, e.acc(2), e.acc(2))
	e.p("VMULPD %s, %s, Z11", xc, yd)
	e.p("VADDPD Z11, %s, %s", e.acc(3), e.acc(3))
	e.p("VMULPD %s, %s, Z12", yd, e.c("a"))
	e.p("VCVTPD2PS Z12, Y12")
	e.p("VMULPD %s, %s, Z14", y, e.c("ad"))
	e.p("VCVTPD2PS Z14, Y14")
	e.p("VMOVUPS %d(%s), Y13", e.off, e.ptr("dstDot"))
	e.p("VADDPS Y12, Y13, Y13")
	e.p("VADDPS Y14, Y13, Y13")
	e.p("VMOVUPS Y13, %d(%s)", e.off, e.ptr("dstDot"))
	xd := e.load("xDot", 15)
	e.p("VMULPD %s, %s, %s", xd, y, xd)
	e.p("VADDPD %s, %s, %s", xd, e.acc(4), e.acc(4))
}
