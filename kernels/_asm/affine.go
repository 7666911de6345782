package main

import (
	"bytes"
	"fmt"
	"strings"
)

// The per-channel affine kernels of BatchNorm (../vec_amd64.go): float32 or
// float64 data, float64 arithmetic, for AVX-512 and for AVX2. Each
// iteration takes a block of every slice (16 elements with AVX-512, 8 with
// AVX2) as two halves, each one vector of float64 (zmm or ymm; float32
// data widened to it); sums go to 8
// float64 lanes, element i of the slice to lane i mod 8 (AVX-512: both halves
// to the one zmm of lanes, the low half first; AVX2: the halves to the ymm
// of lanes 0–3 and of lanes 4–7), loaded from and stored back to the
// accumulator arguments. Products and sums are rounded one at a time, as in
// the pure-Go kernels (no FMA), so every backend gives the same bits.
//
// Registers: accumulator i is Zi (AVX-512) or Y(2i+half) (AVX2, so at most
// five); temporaries T0–T4 are Z8–Z12 or Y10–Y14; the scalars live in
// Z24… (AVX-512) or are broadcast from the frame into Y15 when used (AVX2).
//
// The kernels are written for float32 data: results are rounded to float32
// (down) and the ReLU's masks and the shortcut's sums taken in float32, on
// the narrow view of a temporary (n). With float64 data the same steps run
// on the temporaries themselves, where rounding is the identity: the
// kernels then compute what the pure-Go loops compute for float64. Masks
// held in vectors (compares into the narrow views) are, with AVX-512 and
// float64 data, in K registers, as no VEX compare reaches a zmm.

// affineKernel is one kernel: func name(accs, slices []float32, scalars float64).
type affineKernel struct {
	name    string // ends in 32 (float32 data), without the AVX512 or AVX2 suffix
	doc     string
	accs    int      // number of Lanes behind the first argument (0: none)
	slices  []string // the float32 slice arguments, the first one giving the length
	scalars []string // float64 arguments
	// set names the slices the kernel writes as if they held zeros
	// (+0 + value, the bits of clearing them first), without reading them.
	set  []string
	body func(e *affineEmitter)
}

// affineEmitter writes the body of one half.
type affineEmitter struct {
	f     asmFunc
	k     affineKernel
	zmm   bool
	f64   bool // float64 data
	h     int  // the half
	off   int  // byte offset of the half
	frame int  // frame offset of the first scalar
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

// t is temporary i (wide: float64 vector), n the same register's view in
// the data type (float32 data: the narrow float32 vector of one half).
func (e *affineEmitter) t(i int) string {
	if i < 0 || i > 4 {
		panic(i)
	}
	if e.zmm {
		return fmt.Sprintf("Z%d", 8+i)
	}
	return fmt.Sprintf("Y%d", 10+i)
}

func (e *affineEmitter) n(i int) string {
	if e.f64 {
		return e.t(i)
	}
	if e.zmm {
		return fmt.Sprintf("Y%d", 8+i)
	}
	return fmt.Sprintf("X%d", 10+i)
}

// c returns the register holding scalar s (AVX2: broadcast into Y15 now,
// so one scalar per instruction).
func (e *affineEmitter) c(s string) string {
	for i, n := range e.k.scalars {
		if n != s {
			continue
		}
		if e.zmm {
			return fmt.Sprintf("Z%d", 24+i)
		}
		e.p("VBROADCASTSD %s+%d(FP), Y15", s, e.frame+8*i)
		return "Y15"
	}
	panic(s)
}

// acc is accumulator i for this half.
func (e *affineEmitter) acc(i int) string {
	if e.zmm {
		return fmt.Sprintf("Z%d", i)
	}
	return fmt.Sprintf("Y%d", 2*i+e.h)
}

// ps names the data type's form of the float32 instruction ins (…PS).
func (e *affineEmitter) ps(ins string) string {
	if e.f64 {
		return strings.TrimSuffix(ins, "PS") + "PD"
	}
	return ins
}

// nop emits a two-source instruction on the views n (ins a float32 one).
func (e *affineEmitter) nop(ins, d, a, b string) { e.op(e.ps(ins), d, a, b) }

// loadIns is the instruction that loads a half into a temporary.
func (e *affineEmitter) loadIns() string {
	if e.f64 {
		return "VMOVUPD"
	}
	return "VCVTPS2PD"
}

// load widens the half of slice s into temporary i.
func (e *affineEmitter) load(s string, i int) string {
	e.p("%s %d(%s), %s", e.loadIns(), e.off, e.ptr(s), e.t(i))
	return e.t(i)
}

// down rounds temporary i to float32 into the narrow view of temporary j
// (Go's assembler names the VEX ymm form VCVTPD2PSY); with float64 data it
// copies it.
func (e *affineEmitter) down(i, j int) {
	if e.f64 {
		if i != j {
			e.p("VMOVAPD %s, %s", e.t(i), e.t(j))
		}
		return
	}
	if e.zmm {
		e.p("VCVTPD2PS %s, %s", e.t(i), e.n(j))
		return
	}
	e.p("VCVTPD2PSY %s, %s", e.t(i), e.n(j))
}

// store rounds temporary i to float32 and writes it to the half of slice s.
func (e *affineEmitter) store(i int, s string) {
	e.down(i, i)
	e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(i), e.off, e.ptr(s))
}

// up widens the narrow view of temporary i into it (float32 data).
func (e *affineEmitter) up(i int) {
	if !e.f64 {
		e.p("VCVTPS2PD %s, %s", e.n(i), e.t(i))
	}
}

// kreg is the K register that holds mask m where masks live in K registers.
func (e *affineEmitter) kreg(m int) string { return fmt.Sprintf("K%d", m+2) }

// cmp sets mask m to the lanes where a compares to b as predicate imm
// says (a VCMPPS predicate; b a view or memory, a a view).
func (e *affineEmitter) cmp(imm int, b, a string, m int) {
	if e.zmm && e.f64 {
		e.p("VCMPPD $0x%x, %s, %s, %s", imm, b, a, e.kreg(m))
		return
	}
	e.p("%s $0x%x, %s, %s, %s", e.ps("VCMPPS"), imm, b, a, e.n(m))
}

// and sets the view of temporary d to src (a view or memory) with the
// lanes outside mask m +0.
func (e *affineEmitter) and(src string, m, d int) {
	if e.zmm && e.f64 {
		mov := "VMOVAPD"
		if strings.Contains(src, "(") {
			mov = "VMOVUPD"
		}
		e.p("%s.Z %s, %s, %s", mov, src, e.kreg(m), e.t(d))
		return
	}
	e.p("%s %s, %s, %s", e.ps("VANDPS"), src, e.n(m), e.n(d))
}

// loadDst loads the half of slice s into the narrow register r: +0 if the
// kernel writes s as if zeroed.
func (e *affineEmitter) loadDst(s, r string) {
	for _, n := range e.k.set {
		if n == s {
			e.nop("VXORPS", r, r, r)
			return
		}
	}
	e.p("%s %d(%s), %s", e.ps("VMOVUPS"), e.off, e.ptr(s), r)
}

// addTo rounds temporary i to float32 and adds it (float32 addition, the
// slice's value the first operand) to the half of slice s, using temporary
// tmp.
func (e *affineEmitter) addTo(i int, s string, tmp int) {
	e.down(i, i)
	e.loadDst(s, e.n(tmp))
	e.nop("VADDPS", e.n(tmp), e.n(tmp), e.n(i))
	e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(tmp), e.off, e.ptr(s))
}

// op emits a two-source instruction d = a OP b (Go's operand order is b, a, d).
func (e *affineEmitter) op(ins, d, a, b string) { e.p("%s %s, %s, %s", ins, b, a, d) }

// name is the kernel's name for the data type and instruction set.
func (k affineKernel) nameFor(zmm, f64 bool) string {
	name := k.name
	if f64 {
		name = strings.TrimSuffix(name, "32") + "64"
	}
	if zmm {
		return name + "AVX512"
	}
	return name + "AVX2"
}

// signature is the kernel's Go parameter list for the data type.
func (k affineKernel) signature(f64 bool) string {
	var sig []string
	if k.accs > 0 {
		sig = append(sig, map[int]string{1: "s *Lanes", 2: "s *[2]Lanes", 5: "s *[5]Lanes"}[k.accs])
	}
	typ := "float32"
	if f64 {
		typ = "float64"
	}
	sig = append(sig, strings.Join(k.slices, ", ")+" []"+typ)
	if len(k.scalars) > 0 {
		sig = append(sig, strings.Join(k.scalars, ", ")+" float64")
	}
	return strings.Join(sig, ", ")
}

// block is the number of elements an iteration takes.
func block(zmm bool) int {
	if zmm {
		return 16
	}
	return 8
}

func emitAffine(w *bytes.Buffer, k affineKernel, zmm, f64 bool) {
	off := 0
	if k.accs > 0 {
		off = 8
	}
	sliceOff := off
	off += 24 * len(k.slices)
	size := off + 8*len(k.scalars)
	block := block(zmm)
	half := block / 2 * 4 // bytes of a half
	if f64 {
		half *= 2
	}
	name := k.nameFor(zmm, f64)
	k.name = name
	doc := k.doc
	if f64 {
		doc = strings.ReplaceAll(doc, "float32", "float64")
	}
	f := header(w, name, k.signature(f64), fmt.Sprintf("%s Whole blocks of %d elements only.", doc, block), size)
	for i, s := range k.slices {
		f.p("MOVQ %s_base+%d(FP), %s", s, sliceOff+24*i, argRegs[i])
	}
	f.p("MOVQ %s_len+%d(FP), CX", k.slices[0], sliceOff+8)
	f.p("SHRQ $%d, CX", log2(block))
	f.p("JZ %s_done", name)
	if zmm {
		for i, s := range k.scalars {
			f.p("VBROADCASTSD %s+%d(FP), Z%d", s, off+8*i, 24+i)
		}
	}
	if k.accs > 0 {
		f.p("MOVQ s+0(FP), AX")
		for i := 0; i < k.accs; i++ {
			if zmm {
				f.p("VMOVUPD %d(AX), Z%d", 64*i, i)
			} else {
				f.p("VMOVUPD %d(AX), Y%d", 64*i, 2*i)
				f.p("VMOVUPD %d(AX), Y%d", 64*i+32, 2*i+1)
			}
		}
	}
	f.label("loop")
	e := &affineEmitter{f: f, k: k, zmm: zmm, f64: f64, frame: off}
	for h := 0; h < 2; h++ {
		e.h, e.off = h, half*h
		k.body(e)
	}
	for i := range k.slices {
		f.p("ADDQ $%d, %s", 2*half, argRegs[i])
	}
	f.p("DECQ CX")
	f.p("JNZ %s_loop", name)
	for i := 0; i < k.accs; i++ {
		if zmm {
			f.p("VMOVUPD Z%d, %d(AX)", i, 64*i)
		} else {
			f.p("VMOVUPD Y%d, %d(AX)", 2*i, 64*i)
			f.p("VMOVUPD Y%d, %d(AX)", 2*i+1, 64*i+32)
		}
	}
	f.label("done")
	f.p("VZEROUPPER")
	f.p("RET")
}

var affineKernels = []affineKernel{
	{
		name: "affineTo32", doc: "dst[i] = float32(a·(x[i] − mu) + b).",
		slices: []string{"dst", "x"}, scalars: []string{"a", "mu", "b"},
		body: func(e *affineEmitter) {
			affineBody(e, 0)
			e.store(0, "dst")
		},
	},
	{
		name:   "affineJVPTo32",
		doc:    "y[i] = float32(a·(x[i] − mu) + b), yDot[i] = float32(float64(float32(c·(x[i] − mu) + d)) + a·xDot[i]).",
		slices: []string{"y", "yDot", "x", "xDot"}, scalars: []string{"a", "c", "mu", "b", "d"},
		body: func(e *affineEmitter) {
			affineJVPBody(e)
			e.store(1, "y")
			e.store(2, "yDot")
		},
	},
	{
		name: "scaleAdd32", doc: "dst[i] += float32(a·y[i]) (a float32 sum).",
		slices: []string{"dst", "y"}, scalars: []string{"a"},
		body: func(e *affineEmitter) {
			y := e.load("y", 0)
			e.op("VMULPD", y, e.c("a"), y)
			e.addTo(0, "dst", 1)
		},
	},
	{
		name: "centeredSums32", doc: "s[0] += y[i], s[1] += y[i]·(x[i] − mu), by lanes.",
		accs: 2, slices: []string{"y", "x"}, scalars: []string{"mu"},
		body: func(e *affineEmitter) { centeredSumsBody(e) },
	},
	{
		name: "centeredSumsScaleAdd32", doc: "centeredSums and scaleAdd(dst, y, a) in one sweep.",
		accs: 2, slices: []string{"dst", "y", "x"}, scalars: []string{"a", "mu"},
		body: func(e *affineEmitter) { centeredSumsScaleAddOf(e, e.load("y", 0)) },
	},
	{
		name: "sum32", doc: "s += y[i], by lanes.",
		accs: 1, slices: []string{"y"},
		body: func(e *affineEmitter) {
			e.op("VADDPD", e.acc(0), e.acc(0), e.load("y", 0))
		},
	},
	{
		name: "dot32", doc: "s += y[i]·x[i], by lanes.",
		accs: 1, slices: []string{"y", "x"},
		body: func(e *affineEmitter) {
			y, x := e.load("y", 0), e.load("x", 1)
			e.op("VMULPD", x, y, x)
			e.op("VADDPD", e.acc(0), e.acc(0), x)
		},
	},
	{
		name: "bnPair32",
		doc: "Per element, in this order: s0 += y; s1 += y·xc; dst += float32(a·y); s2 += yd; " +
			"s3 += yd·xc; dstDot = dstDot + float32(a·yd) + float32(ad·y); s4 += y·xDot, " +
			"with y = yBar[i], yd = yBarDot[i], xc = x[i] − mu.",
		accs: 5, slices: []string{"dst", "dstDot", "x", "xDot", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		body: func(e *affineEmitter) {
			e.load("yBar", 0)
			e.load("yBarDot", 1)
			bnPairBody(e)
		},
	},

	// ReLU followed by BatchNorm (C1, C2): the mask taken on x (exactly
	// its widened value's), +0 where !(x > 0), as MaskTo gives.
	{
		name: "reluAffineTo32", doc: "dst[i] = float32(a·(relu(x[i]) − mu) + b), relu(x) = +0 where !(x > 0).",
		slices: []string{"dst", "x"}, scalars: []string{"a", "mu", "b"},
		body: func(e *affineEmitter) {
			x, zero := e.load("x", 0), e.t(2)
			e.op("VXORPD", zero, zero, zero)
			if e.zmm {
				e.p("VCMPPD $0x1e, %s, %s, K1", zero, x) // x > 0
				e.p("VMOVAPD.Z %s, K1, %s", x, x)
			} else {
				e.p("VCMPPD $0x1e, %s, %s, %s", zero, x, zero)
				e.op("VANDPD", x, x, zero)
			}
			e.op("VSUBPD", x, x, e.c("mu"))
			e.op("VMULPD", x, e.c("a"), x)
			e.op("VADDPD", x, x, e.c("b"))
			e.store(0, "dst")
		},
	},

	// BatchNorm followed by ReLU. The mask is taken on the value rounded to
	// float32 (round trip), as a ReLU after a BatchNorm sees it, and applied
	// before the final rounding, which gives the same bits: +0 or the value.
	{
		name: "affineReLUTo32", doc: "dst[i] = relu(float32(a·(x[i] − mu) + b)).",
		slices: []string{"dst", "x"}, scalars: []string{"a", "mu", "b"},
		body: func(e *affineEmitter) {
			affineBody(e, 0)
			e.reluMask(0, 1, 2)
			e.applyMask(0, 2)
			e.store(0, "dst")
		},
	},
	{
		name:   "affineJVPReLUTo32",
		doc:    "affineJVPTo followed by y[i], yDot[i] = +0 where !(y[i] > 0).",
		slices: []string{"y", "yDot", "x", "xDot"}, scalars: []string{"a", "c", "mu", "b", "d"},
		body: func(e *affineEmitter) {
			affineJVPBody(e)
			e.reluMask(1, 0, 4)
			e.applyMask(1, 4)
			e.store(1, "y")
			e.applyMask(2, 4)
			e.store(2, "yDot")
		},
	},
	// BatchNorm, the shortcut added, then ReLU (the ResNets' blocks): the
	// sums in float32 as an Add after the BatchNorm makes them, the mask
	// taken on the float32 sum.
	{
		name:   "affineAddReLUTo32",
		doc:    "dst[i] = relu(float32(a·(x[i] − mu) + b) + s[i]), the sum in float32, +0 where it is not > 0.",
		slices: []string{"dst", "x", "s"}, scalars: []string{"a", "mu", "b"},
		body: func(e *affineEmitter) {
			affineBody(e, 0)
			e.addHalf(0, "s")
			e.positive(0, 3)
			e.and(e.n(0), 3, 0)
			e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(0), e.off, e.ptr("dst"))
		},
	},
	{
		name:   "affineJVPAddReLUTo32",
		doc:    "affineJVPTo, then y[i] += s[i] and yDot[i] += sDot[i] (float32), then y[i], yDot[i] = +0 where !(y[i] > 0).",
		slices: []string{"y", "yDot", "x", "xDot", "s", "sDot"}, scalars: []string{"a", "c", "mu", "b", "d"},
		body: func(e *affineEmitter) {
			affineJVPBody(e)
			e.addHalf(1, "s")
			e.addHalf(2, "sDot")
			e.positive(1, 3)
			e.and(e.n(1), 3, 1)
			e.and(e.n(2), 3, 2)
			e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(1), e.off, e.ptr("y"))
			e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(2), e.off, e.ptr("yDot"))
		},
	},
	{
		name: "bnReLUPair32",
		doc: "bnPair32 with yBar and yBarDot replaced by 0 + yBar[i] and 0 + yBarDot[i] " +
			"where y[i] > 0 and +0 elsewhere (a ReLU's cotangents, added to zero).",
		accs: 5, slices: []string{"dst", "dstDot", "x", "xDot", "y", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar", "yBarDot")
			bnPairBody(e)
		},
	},
	{
		name: "bnReLUPairTo32",
		doc:  "bnReLUPair32 into dst and dstDot as if zeroed (+0 + value; their values are not read).",
		accs: 5, slices: []string{"dst", "dstDot", "x", "xDot", "y", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		set: []string{"dst", "dstDot"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar", "yBarDot")
			bnPairBody(e)
		},
	},
	{
		name: "bnAddReLUPairTo32",
		doc:  "bnAddReLUPair32 into dst, dstDot, sBar and sBarDot as if zeroed (+0 + value; their values are not read).",
		accs: 5, slices: []string{"dst", "dstDot", "sBar", "sBarDot", "x", "xDot", "y", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		set: []string{"dst", "dstDot", "sBar", "sBarDot"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar", "yBarDot")
			addExact(e, 0, "sBar", 2)
			addExact(e, 1, "sBarDot", 2)
			bnPairBody(e)
		},
	},
	{
		name: "bnAddReLUPair32",
		doc: "bnReLUPair32 that also adds the ReLU's cotangents u, ud to sBar, sBarDot (float32 additions, " +
			"the shortcut's cotangents first): BatchNorm → + shortcut → ReLU, as Add's VJP gives them.",
		accs: 5, slices: []string{"dst", "dstDot", "sBar", "sBarDot", "x", "xDot", "y", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar", "yBarDot")
			addExact(e, 0, "sBar", 2)
			addExact(e, 1, "sBarDot", 2)
			bnPairBody(e)
		},
	},

	{
		name: "bnReLUVJP32",
		doc: "centeredSumsScaleAdd32(s, dst, u, x, a, mu) with u = 0 + yBar[i] where y[i] > 0 and +0 " +
			"elsewhere (a ReLU's cotangent, added to zero), formed in registers.",
		accs: 2, slices: []string{"dst", "x", "y", "yBar"}, scalars: []string{"a", "mu"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar")
			centeredSumsScaleAddOf(e, e.t(0))
		},
	},

	{
		name: "bnAddReLUVJP32",
		doc: "bnReLUVJP32 that also adds u to sBar (float32 addition, sBar first): BatchNorm → + shortcut → " +
			"ReLU, the shortcut's cotangent as Add's VJP gives it.",
		accs: 2, slices: []string{"dst", "sBar", "x", "y", "yBar"}, scalars: []string{"a", "mu"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar")
			addExact(e, 0, "sBar", 4)
			centeredSumsScaleAddOf(e, e.t(0))
		},
	},

	{
		name: "bnReLUVJPTo32",
		doc:  "bnReLUVJP32 into dst as if zeroed (+0 + value; its values are not read).",
		accs: 2, slices: []string{"dst", "x", "y", "yBar"}, scalars: []string{"a", "mu"},
		set: []string{"dst"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar")
			centeredSumsScaleAddOf(e, e.t(0))
		},
	},
	{
		name: "bnAddReLUVJPTo32",
		doc:  "bnAddReLUVJP32 into dst and sBar as if zeroed (+0 + value; their values are not read).",
		accs: 2, slices: []string{"dst", "sBar", "x", "y", "yBar"}, scalars: []string{"a", "mu"},
		set: []string{"dst", "sBar"},
		body: func(e *affineEmitter) {
			reluCotangents(e, "yBar")
			addExact(e, 0, "sBar", 4)
			centeredSumsScaleAddOf(e, e.t(0))
		},
	},

	// ReLU followed by BatchNorm: the reverse sweep of both, h = relu(x)
	// and its tangent formed in registers, the BatchNorm's cotangents
	// (added to zero, as into the tape's zeroed buffers) passed back
	// through the ReLU's mask. Masks are float32 compares 0 < x (VEX, on
	// the half's narrow register), recomputed where needed.
	{
		name: "reluBNPair32",
		doc: "MaskTo2(h, x, hd, xDot, x); hb, hbd = 0; bnPair32(s, hb, hbd, h, hd, yBar, yBarDot); " +
			"MaskAdd2(dst, hb, dstDot, hbd, x), per element.",
		accs: 5, slices: []string{"dst", "dstDot", "x", "xDot", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		body: reluBNPairBody,
	},
	{
		name: "reluBNPairTo32",
		doc:  "reluBNPair32 into dst and dstDot as if zeroed (+0 + value; their values are not read).",
		accs: 5, slices: []string{"dst", "dstDot", "x", "xDot", "yBar", "yBarDot"}, scalars: []string{"a", "ad", "mu"},
		set:  []string{"dst", "dstDot"},
		body: reluBNPairBody,
	},

	{
		name: "reluBNVJP32",
		doc: "MaskTo(h, x, x); hb = 0; centeredSumsScaleAdd32(s, hb, yBar, h, a, mu); MaskAdd(dst, x, hb), " +
			"per element: reluBNPair32's sweep for ȳ alone.",
		accs: 2, slices: []string{"dst", "x", "yBar"}, scalars: []string{"a", "mu"},
		body: func(e *affineEmitter) {
			reluBNSweep(e, e.load("yBar", 0))
		},
	},

	{
		name: "reluBNVJPTo32",
		doc:  "reluBNVJP32 into dst as if zeroed (+0 + value; its values are not read).",
		accs: 2, slices: []string{"dst", "x", "yBar"}, scalars: []string{"a", "mu"},
		set: []string{"dst"},
		body: func(e *affineEmitter) {
			reluBNSweep(e, e.load("yBar", 0))
		},
	},

	// BatchNorm in training mode: the squared deviations, and the
	// derivatives as linear combinations of (at most two) vectors, x − mu
	// and a constant, evaluated left to right.
	{
		name: "centeredSquares32", doc: "s += (x[i] − mu)², by lanes.",
		accs: 1, slices: []string{"x"}, scalars: []string{"mu"},
		body: func(e *affineEmitter) {
			x := e.load("x", 0)
			e.op("VSUBPD", x, x, e.c("mu"))
			e.op("VMULPD", x, x, x)
			e.op("VADDPD", e.acc(0), e.acc(0), x)
		},
	},
	{
		name: "linearTo32", doc: "dst[i] = float32((p·v[i] + q·(x[i] − mu)) + r).",
		slices: []string{"dst", "v", "x"}, scalars: []string{"p", "q", "mu", "r"},
		body: func(e *affineEmitter) {
			linearBody(e, false)
			e.store(0, "dst")
		},
	},
	{
		name: "linearAdd32", doc: "dst[i] += float32((p·v[i] + q·(x[i] − mu)) + r) (a float32 sum).",
		slices: []string{"dst", "v", "x"}, scalars: []string{"p", "q", "mu", "r"},
		body: func(e *affineEmitter) {
			linearBody(e, false)
			e.addTo(0, "dst", 3)
		},
	},
	{
		name: "linear2Add32", doc: "dst[i] += float32(((p·u[i] + p2·v[i]) + q·(x[i] − mu)) + r) (a float32 sum).",
		slices: []string{"dst", "u", "v", "x"}, scalars: []string{"p", "q", "mu", "r", "p2"},
		body: func(e *affineEmitter) {
			linearBody(e, true)
			e.addTo(0, "dst", 3)
		},
	},
}

// affineBody leaves a·(x − mu) + b in temporary i.
func affineBody(e *affineEmitter, i int) {
	x := e.load("x", i)
	e.op("VSUBPD", x, x, e.c("mu"))
	e.op("VMULPD", x, e.c("a"), x)
	e.op("VADDPD", x, x, e.c("b"))
}

// affineJVPBody leaves x − mu in T0, a·(x − mu) + b in T1 and
// float64(float32(c·(x − mu) + d)) + a·ẋ in T2 (T3 used).
func affineJVPBody(e *affineEmitter) {
	xc := e.load("x", 0)
	e.op("VSUBPD", xc, xc, e.c("mu"))
	e.op("VMULPD", e.t(1), e.c("a"), xc)
	e.op("VADDPD", e.t(1), e.t(1), e.c("b"))
	e.op("VMULPD", e.t(2), e.c("c"), xc)
	e.op("VADDPD", e.t(2), e.t(2), e.c("d"))
	e.down(2, 2)
	e.up(2)
	xd := e.load("xDot", 3)
	e.op("VMULPD", xd, e.c("a"), xd)
	e.op("VADDPD", e.t(2), e.t(2), xd)
}

// centeredSumsBody loads y into T0, adds it to accumulator 0 and y·(x − mu)
// to accumulator 1 (using T1); y stays in T0.
func centeredSumsBody(e *affineEmitter) { centeredSumsOf(e, e.load("y", 0)) }

// centeredSumsOf adds the register y to accumulator 0 and y·(x − mu) to
// accumulator 1, loading x into T1.
func centeredSumsOf(e *affineEmitter, y string) {
	xc := e.load("x", 1)
	e.op("VSUBPD", xc, xc, e.c("mu"))
	e.op("VADDPD", e.acc(0), e.acc(0), y)
	e.op("VMULPD", xc, y, xc)
	e.op("VADDPD", e.acc(1), e.acc(1), xc)
}

// centeredSumsScaleAddOf is centeredSumsOf followed by dst += float32(a·y)
// (T2, T3 used).
func centeredSumsScaleAddOf(e *affineEmitter, y string) {
	centeredSumsOf(e, y)
	e.op("VMULPD", e.t(2), e.c("a"), y)
	e.addTo(2, "dst", 3)
}

// linearBody leaves (p·v + q·(x − mu)) + r in T0, or with two
// ((p·u + p2·v) + q·(x − mu)) + r.
func linearBody(e *affineEmitter, two bool) {
	if two {
		u := e.load("u", 0)
		e.op("VMULPD", u, e.c("p"), u)
		v := e.load("v", 1)
		e.op("VMULPD", v, e.c("p2"), v)
		e.op("VADDPD", u, u, v)
	} else {
		v := e.load("v", 0)
		e.op("VMULPD", v, e.c("p"), v)
	}
	x := e.load("x", 2)
	e.op("VSUBPD", x, x, e.c("mu"))
	e.op("VMULPD", x, e.c("q"), x)
	e.op("VADDPD", e.t(0), e.t(0), x)
	e.op("VADDPD", e.t(0), e.t(0), e.c("r"))
}

// reluMask sets the mask (K1, or temporary m with AVX2) to the lanes of
// temporary z whose value rounded to the data type is > 0, using temporary
// tmp (m may be tmp's pair: the round trip is done before m is written).
func (e *affineEmitter) reluMask(z, tmp, m int) {
	if e.f64 {
		tmp = z
	} else {
		e.down(z, tmp)
		e.up(tmp)
	}
	if e.zmm {
		e.op("VXORPD", e.t(m), e.t(m), e.t(m))
		e.p("VCMPPD $0x1e, %s, %s, K1", e.t(m), e.t(tmp))
		return
	}
	e.op("VXORPD", e.t(m), e.t(m), e.t(m))
	e.p("VCMPPD $0x1e, %s, %s, %s", e.t(m), e.t(tmp), e.t(m))
}

// addHalf rounds temporary i to the data type and adds the half of slice
// s to it (in the data type), in its view.
func (e *affineEmitter) addHalf(i int, s string) {
	e.down(i, i)
	e.p("%s %d(%s), %s, %s", e.ps("VADDPS"), e.off, e.ptr(s), e.n(i), e.n(i))
}

// positive sets mask m to n(z) > 0 (ordered: false for NaN), T4 holding
// the zero.
func (e *affineEmitter) positive(z, m int) {
	e.nop("VXORPS", e.n(4), e.n(4), e.n(4))
	e.cmp(0x1e, e.n(4), e.n(z), m)
}

// xMask sets mask m to 0 < x of the half (ordered: false for NaN), the
// view of temporary m left +0.
func (e *affineEmitter) xMask(m int) {
	e.nop("VXORPS", e.n(m), e.n(m), e.n(m))
	e.cmp(0x11, fmt.Sprintf("%d(%s)", e.off, e.ptr("x")), e.n(m), m)
}

// applyMask sets the lanes of temporary z outside the mask to +0.
func (e *affineEmitter) applyMask(z, m int) {
	if e.zmm {
		e.p("VMOVAPD.Z %s, K1, %s", e.t(z), e.t(z))
		return
	}
	e.op("VANDPD", e.t(z), e.t(z), e.t(m))
}

// reluCotangents leaves the ReLU's cotangents 0 + yBar (and 0 + yBarDot)
// where y > 0, +0 elsewhere, in T0 (and T1), for the slices named (T2–T4
// used).
func reluCotangents(e *affineEmitter, names ...string) {
	y, zero := e.load("y", 2), e.t(4)
	e.op("VXORPD", zero, zero, zero)
	if e.zmm {
		e.p("VCMPPD $0x1e, %s, %s, K1", zero, y) // y > 0
		for i, s := range names {
			e.p("%s.Z %d(%s), K1, %s", e.loadIns(), e.off, e.ptr(s), e.t(i))
			e.op("VADDPD", e.t(i), zero, e.t(i))
		}
		return
	}
	e.p("VCMPPD $0x1e, %s, %s, %s", zero, y, e.t(3))
	for i, s := range names {
		e.load(s, i)
		e.op("VANDPD", e.t(i), e.t(i), e.t(3))
		e.op("VADDPD", e.t(i), zero, e.t(i))
	}
}

// addExact adds temporary i, a float32 value widened (so the rounding is
// exact), to the half of slice s in float32, s first, using the narrow
// views of temporaries 3 and tmp.
func addExact(e *affineEmitter, i int, s string, tmp int) {
	e.down(i, 3)
	e.loadDst(s, e.n(tmp))
	e.nop("VADDPS", e.n(tmp), e.n(tmp), e.n(3))
	e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(tmp), e.off, e.ptr(s))
}

// reluBNPairBody is the body of reluBNPair32 and reluBNPairTo32.
func reluBNPairBody(e *affineEmitter) {
	y, yd := e.load("yBar", 0), e.load("yBarDot", 1)
	xc := reluBNSweep(e, y)
	// x̄̇ += mask·((0 + float32(a·yd)) + float32(ad·y)).
	dotTerms(e, y, yd, xc)
	e.nop("VXORPS", e.n(2), e.n(2), e.n(2))
	e.nop("VADDPS", e.n(2), e.n(2), e.n(3))
	e.nop("VADDPS", e.n(2), e.n(2), e.n(4))
	e.xMask(3)
	e.and(e.n(2), 3, 2)
	e.loadDst("dstDot", e.n(4))
	e.nop("VADDPS", e.n(4), e.n(4), e.n(2))
	e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(4), e.off, e.ptr("dstDot"))
	// s4 += y·hd, hd = mask·ẋ.
	e.and(fmt.Sprintf("%d(%s)", e.off, e.ptr("xDot")), 3, 2)
	e.up(2)
	e.op("VMULPD", e.t(2), y, e.t(2))
	e.op("VADDPD", e.acc(4), e.acc(4), e.t(2))
}

// reluBNSweep is the sweep of ReLU → BatchNorm for the cotangent y: with
// h = relu(x) (float32 compares 0 < x), s0 += y, s1 += y·(h − mu) and
// dst += mask·(0 + float32(a·y)). It returns the register holding h − mu
// (T2; T3, T4 used).
func reluBNSweep(e *affineEmitter, y string) string {
	e.xMask(3)
	e.and(fmt.Sprintf("%d(%s)", e.off, e.ptr("x")), 3, 2) // h
	e.up(2)
	xc := e.t(2)
	e.op("VSUBPD", xc, xc, e.c("mu"))
	e.op("VADDPD", e.acc(0), e.acc(0), y)
	e.op("VMULPD", e.t(3), y, xc)
	e.op("VADDPD", e.acc(1), e.acc(1), e.t(3))
	// x̄ += mask·(0 + float32(a·y)).
	e.op("VMULPD", e.t(3), e.c("a"), y)
	e.down(3, 3)
	e.nop("VXORPS", e.n(4), e.n(4), e.n(4))
	e.nop("VADDPS", e.n(4), e.n(4), e.n(3))
	e.xMask(3)
	e.and(e.n(4), 3, 4)
	e.loadDst("dst", e.n(3))
	e.nop("VADDPS", e.n(3), e.n(3), e.n(4))
	e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(3), e.off, e.ptr("dst"))
	return xc
}

// dotTerms adds yd to accumulator 2 and yd·xc to accumulator 3 and leaves
// float32(a·yd) and float32(ad·y), the terms of x̄̇, in the narrow views of
// T3 and T4: the ȳ̇ half of a pair sweep.
func dotTerms(e *affineEmitter, y, yd, xc string) {
	e.op("VADDPD", e.acc(2), e.acc(2), yd)
	e.op("VMULPD", e.t(3), yd, xc)
	e.op("VADDPD", e.acc(3), e.acc(3), e.t(3))
	e.op("VMULPD", e.t(3), e.c("a"), yd)
	e.down(3, 3)
	e.op("VMULPD", e.t(4), e.c("ad"), y)
	e.down(4, 4)
}

// bnPairBody is the body of bnPair32 with ȳ in T0 and ȳ̇ in T1.
func bnPairBody(e *affineEmitter) {
	y, yd := e.t(0), e.t(1)
	xc := e.load("x", 2)
	e.op("VSUBPD", xc, xc, e.c("mu"))
	e.op("VADDPD", e.acc(0), e.acc(0), y)
	e.op("VMULPD", e.t(3), y, xc)
	e.op("VADDPD", e.acc(1), e.acc(1), e.t(3))
	e.op("VMULPD", e.t(3), e.c("a"), y)
	e.addTo(3, "dst", 4)
	dotTerms(e, y, yd, xc)
	e.loadDst("dstDot", e.n(2))
	e.nop("VADDPS", e.n(2), e.n(2), e.n(3))
	e.nop("VADDPS", e.n(2), e.n(2), e.n(4))
	e.p("%s %s, %d(%s)", e.ps("VMOVUPS"), e.n(2), e.off, e.ptr("dstDot"))
	xd := e.load("xDot", 2)
	e.op("VMULPD", xd, y, xd)
	e.op("VADDPD", e.acc(4), e.acc(4), xd)
}

// emitAffineDecls writes the Go declarations of every affine kernel, and
// the backends that wrap them (newAffine, ../vec_amd64.go): the fields of
// affineAsm are the kernels' names without their suffixes.
func emitAffineDecls(w *bytes.Buffer) {
	fmt.Fprintf(w, "\nvar (\n")
	for _, f64 := range []bool{false, true} {
		typ, bits := "float32", "32"
		if f64 {
			typ, bits = "float64", "64"
		}
		for _, zmm := range []bool{true, false} {
			isa := "avx2"
			if zmm {
				isa = "avx512"
			}
			fmt.Fprintf(w, "\t%sAffine%s = newAffine(%q, %d, affineAsm[%s]{\n", isa, bits, isa, block(zmm), typ)
			for _, k := range affineKernels {
				fmt.Fprintf(w, "\t\t%s: %s,\n", strings.TrimSuffix(k.name, "32"), k.nameFor(zmm, f64))
			}
			fmt.Fprintf(w, "\t})\n")
		}
	}
	fmt.Fprintf(w, ")\n")
	for _, f64 := range []bool{false, true} {
		for _, zmm := range []bool{true, false} {
			for _, k := range affineKernels {
				name, doc := k.nameFor(zmm, f64), k.doc
				if f64 {
					doc = strings.ReplaceAll(doc, "float32", "float64")
				}
				fmt.Fprintf(w, "\n// %s: %s Whole blocks of %d elements only.\n//\n//go:noescape\nfunc %s(%s)\n",
					name, doc, block(zmm), name, k.signature(f64))
			}
		}
	}
}
