package main

import (
	"bytes"
	"fmt"
	"strings"
)

// The element-wise kernels (../vec_amd64.s, see ../vec_amd64.go). Each
// processes the whole vectors of its slices, len(dst) rounded down to a
// multiple of its block; the Go wrapper does the rest with the pure-Go
// kernel. None uses FMA: every product and sum is rounded as the pure-Go
// kernels round it, so every backend gives the same bits.

// vecTarget is one instruction set and element type.
type vecTarget struct {
	zmm bool // AVX-512 (zmm, mask registers) or AVX2 (ymm)
	f64 bool
}

func (t vecTarget) suffix() string {
	s := "32"
	if t.f64 {
		s = "64"
	}
	if t.zmm {
		return s + "AVX512"
	}
	return s + "AVX2"
}

// reg is vector register i; vbytes the bytes of one; lanes its elements; sfx
// the S/D instruction suffix.
func (t vecTarget) reg(i int) string {
	if t.zmm {
		return fmt.Sprintf("Z%d", i)
	}
	return fmt.Sprintf("Y%d", i)
}

func (t vecTarget) vbytes() int {
	if t.zmm {
		return 64
	}
	return 32
}

func (t vecTarget) sfx() string {
	if t.f64 {
		return "D"
	}
	return "S"
}

func (t vecTarget) lanes() int {
	if t.f64 {
		return t.vbytes() / 8
	}
	return t.vbytes() / 4
}

// asmFunc writes one TEXT block.
type asmFunc struct {
	w    *bytes.Buffer
	name string
}

func (f asmFunc) p(format string, args ...any) { fmt.Fprintf(f.w, "\t"+format+"\n", args...) }
func (f asmFunc) label(l string)               { fmt.Fprintf(f.w, "%s_%s:\n", f.name, l) }

// masks loads the 16-bit masks packed in the argument word masks+off(FP),
// lowest first, into the mask registers ks in turn (clobbers AX).
func (f asmFunc) masks(off int, ks ...int) {
	f.p("MOVQ masks+%d(FP), AX", off)
	for i, k := range ks {
		if i > 0 {
			f.p("SHRQ $16, AX")
		}
		f.p("KMOVW AX, K%d", k)
	}
}

// header writes the comment and TEXT line of func name(sig) with argument
// frame size and loads each slice argument's base pointer into its register.
func header(w *bytes.Buffer, name, sig, doc string, size int) asmFunc {
	fmt.Fprintf(w, "\n// func %s(%s)\n//\n// %s\nTEXT ·%s(SB), NOSPLIT, $0-%d\n", name, sig, doc, name, size)
	return asmFunc{w, name}
}

// maskKernel is one of the ReLU and sum kernels: dst, then the other slices.
type maskKernel struct {
	op   string   // maskTo, maskAdd, maskTo2, maskAdd2, add
	args []string // slice arguments in order
	doc  string
}

var maskKernels = []maskKernel{
	{"maskTo", []string{"dst", "x", "v"}, "dst[i] = v[i] where x[i] > 0, +0 elsewhere."},
	{"maskAdd", []string{"dst", "x", "v"}, "dst[i] += v[i] where x[i] > 0, += +0 elsewhere."},
	{"maskTo2", []string{"a", "va", "b", "vb", "x"}, "maskTo(a, x, va) and maskTo(b, x, vb)."},
	{"maskAdd2", []string{"a", "va", "b", "vb", "x"}, "maskAdd(a, x, va) and maskAdd(b, x, vb)."},
	{"add", []string{"dst", "x"}, "dst[i] += x[i]."},
}

// argRegs hold the base pointers of the slice arguments, in order.
var argRegs = []string{"DI", "SI", "DX", "R8", "R9", "R10", "R11", "R12", "R13"}

// emitMask writes one mask or add kernel, two vectors per iteration.
func emitMask(w *bytes.Buffer, t vecTarget, k maskKernel) {
	const unroll = 2
	typ := "float32"
	if t.f64 {
		typ = "float64"
	}
	name := k.op + t.suffix()
	block := unroll * t.lanes()
	f := header(w, name, strings.Join(k.args, ", ")+" []"+typ,
		fmt.Sprintf("%s Whole blocks of %d elements only.", k.doc, block), 24*len(k.args))
	for i, a := range k.args {
		f.p("MOVQ %s_base+%d(FP), %s", a, 24*i, argRegs[i])
	}
	f.p("MOVQ %s_len+8(FP), CX", k.args[0])
	f.p("SHRQ $%d, CX", log2(block))
	f.p("JZ %s_done", name)
	sfx, mov := t.sfx(), "VMOVUP"+t.sfx()
	zero := t.reg(0)
	if t.zmm {
		f.p("VPXORQ %s, %s, %s", zero, zero, zero)
	} else {
		f.p("VXORPS %s, %s, %s", zero, zero, zero)
	}
	reg := func(arg string) string {
		for i, a := range k.args {
			if a == arg {
				return argRegs[i]
			}
		}
		panic(arg)
	}
	f.label("loop")
	for u := 0; u < unroll; u++ {
		off := u * t.vbytes()
		r := func(i int) string { return t.reg(1 + 4*u + i) }
		kreg := fmt.Sprintf("K%d", 1+u)
		// masked(v, dst) loads v where x > 0 and +0 elsewhere into dst.
		var masked func(v string, dst string)
		if k.op != "add" {
			f.p("%s %d(%s), %s", mov, off, reg("x"), r(0))
			if t.zmm {
				f.p("VCMPP%s $0x1e, %s, %s, %s", sfx, zero, r(0), kreg) // x > 0, ordered: false for NaN
				masked = func(v, dst string) { f.p("%s.Z %d(%s), %s, %s", mov, off, reg(v), kreg, dst) }
			} else {
				f.p("VCMPP%s $0x1e, %s, %s, %s", sfx, zero, r(0), r(0))
				masked = func(v, dst string) { f.p("VANDP%s %d(%s), %s, %s", sfx, off, reg(v), r(0), dst) }
			}
		}
		switch k.op {
		case "maskTo":
			masked("v", r(1))
			f.p("%s %s, %d(%s)", mov, r(1), off, reg("dst"))
		case "maskTo2":
			masked("va", r(1))
			masked("vb", r(2))
			f.p("%s %s, %d(%s)", mov, r(1), off, reg("a"))
			f.p("%s %s, %d(%s)", mov, r(2), off, reg("b"))
		case "maskAdd", "maskAdd2":
			pairs := [][2]string{{"dst", "v"}, {"", ""}}
			if k.op == "maskAdd2" {
				pairs = [][2]string{{"a", "va"}, {"b", "vb"}}
			}
			for j, pr := range pairs {
				if pr[0] == "" {
					continue
				}
				masked(pr[1], r(1+j))
				f.p("%s %d(%s), %s", mov, off, reg(pr[0]), r(3))
				f.p("VADDP%s %s, %s, %s", sfx, r(1+j), r(3), r(3)) // dst + v, dst the first operand
				f.p("%s %s, %d(%s)", mov, r(3), off, reg(pr[0]))
			}
		case "add":
			f.p("%s %d(%s), %s", mov, off, reg("dst"), r(0))
			f.p("VADDP%s %d(%s), %s, %s", sfx, off, reg("x"), r(0), r(0))
			f.p("%s %s, %d(%s)", mov, r(0), off, reg("dst"))
		}
	}
	for i := range k.args {
		f.p("ADDQ $%d, %s", unroll*t.vbytes(), argRegs[i])
	}
	f.p("DECQ CX")
	f.p("JNZ %s_loop", name)
	f.label("done")
	f.p("VZEROUPPER")
	f.p("RET")
}

func log2(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	if 1<<l != n {
		panic(fmt.Sprint(n, " is not a power of two"))
	}
	return l
}

// emitVec writes every element-wise kernel.
func emitVec(w *bytes.Buffer) {
	for _, t := range []vecTarget{{zmm: true}, {zmm: true, f64: true}, {}, {f64: true}} {
		for _, k := range maskKernels {
			emitMask(w, t, k)
		}
	}
	for _, f64 := range []bool{false, true} {
		for _, zmm := range []bool{true, false} {
			for _, k := range affineKernels {
				emitAffine(w, k, zmm, f64)
			}
		}
	}
	for kw := 1; kw <= 3; kw++ {
		emitPoolRow(w, kw, false)
		emitPoolRow(w, kw, true)
	}
	for kw := 1; kw <= 3; kw++ {
		emitPoolRowAVX2(w, kw, false)
		emitPoolRowAVX2(w, kw, true)
	}
	for _, f64 := range []bool{false, true} {
		emitUnpool(w, f64)
		emitUnpoolAVX2(w, f64)
	}
	emitPoolData(w)
}
