//go:build amd64 && !purego

package kernels

import "unsafe"

// spmmVectors lists SpMM's vector kernels this machine runs, for T: each
// instruction set's with its blocks of columns as SpMM cuts them, and
// with the widest blocks and with blocks of two vectors (and one, for n of
// one vector) whatever B's size, so that every kernel width runs.
func spmmVectors[F float32 | float64]() []spmmVariant[F] {
	var vs []spmmVariant[F]
	add := func(name string, k32, k64 *spmmKernels) {
		k := k64
		if unsafe.Sizeof(F(0)) == 4 {
			k = k32
		}
		for _, blk := range []struct {
			name  string
			bytes int
		}{{"", spmmBlockBytes}, {"-wide", 1 << 40}, {"-narrow", 0}} {
			vs = append(vs, spmmVariant[F]{name + blk.name, func(m, n int, ptr, idx []int32, val, b []F, ldb int, val2, b2 []F, set bool, c []F, ldc int) {
				old := spmmBlockBytes
				spmmBlockBytes = blk.bytes
				defer func() { spmmBlockBytes = old }()
				spmmRun(k, m, n, ptr, idx, val, b, ldb, val2, b2, set, c, ldc)
			}})
		}
	}
	if hasAVX2 {
		add("avx2", &spmmSAVX2, &spmmDAVX2)
	}
	if hasAVX512 {
		add("avx512", &spmmSAVX512, &spmmDAVX512)
	}
	return vs
}

// spmmWantVectors reports whether SpMM should run a vector kernel here.
func spmmWantVectors() bool { return hasAVX512 || hasAVX2 }
