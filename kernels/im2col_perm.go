package kernels

import (
	"sync"

	"hesscope/tensor"
)

// Im2col of images whose output rows are narrower than a vector (the 4×4 and
// 8×8 layers of the ResNets, C2's 10×10 and 12×12 ones), by permutes: the
// rows of such a column matrix are many and short (a 4×4 image with 512
// channels and 3×3 windows has 4608 rows of 16 values), and filling them a
// run of pixels at a time spends its time on the bookkeeping of each run.
// Instead, 16 consecutive outputs of a row are one permute of the 32 pixels
// from a source offset: the stride-1 window offset (i, j) reads, for
// output (oy, ox), pixel (oy + i − pad, ox + j − pad), and 16 consecutive
// outputs span at most two or three image rows. A table, one entry per
// window offset and group of 16 outputs, holds the source offset, the
// permute's indices and the masks of the lanes that read inside the image
// (the others are the zero padding) and of those stored (the last group of
// a row is partial: the entries after a row's columns are not touched).

// permEntry is one group of 16 outputs of one column-matrix row of a
// channel (96 bytes, the layout im2colPermAVX512 reads).
type permEntry struct {
	idx   [16]int32 // lane l takes the pixel at src/4 + idx[l] (valid lanes)
	src   int64     // byte offset of the first of the 32 pixels in the plane
	row   int64     // the column-matrix row within the channel's rows, i·KW + j
	col   int64     // byte offset of the group in the row, 64·v
	masks uint64    // lanes valid (bits 0–15), stored (16–31), loaded from the second 16 pixels (32–47) and from the first (48–63)
}

func (e *permEntry) valid() uint16  { return uint16(e.masks) }
func (e *permEntry) stored() uint16 { return uint16(e.masks >> 16) }

// permTables caches the tables by shape (the shapes of a network are few).
var permTables sync.Map // ConvShape → []permEntry, nil when not applicable

// permTable returns the table of s, or nil where permutes do not apply: a
// stride other than 1, output rows of 16 or more (the run copies are then
// efficient), over 256 outputs, or a group whose pixels do not lie within 32
// consecutive ones. The cheap tests come before the cache.
func permTable(s ConvShape) []permEntry {
	if s.Stride != 1 || s.OutW() >= 16 || s.Cols() > 256 {
		return nil
	}
	return cachedTable(&permTables, s, buildPermTable)
}

// cachedTable returns build(s), built once per shape in cache.
func cachedTable[E any](cache *sync.Map, s ConvShape, build func(ConvShape) []E) []E {
	if t, ok := cache.Load(s); ok {
		return t.([]E)
	}
	t := build(s)
	cache.Store(s, t)
	return t
}

// laneGather is one group of 16 lanes that each read (at most) one of 32
// consecutive values: the values' first index lo, each lane's index from lo,
// the lanes that read one (have), and those of the 32 values below limit
// (the loadable ones of the two halves, load1 and load2).
type laneGather struct {
	idx                [16]int32
	lo                 int
	have, load1, load2 uint16
}

// gatherLanes builds the gather of 16 lanes, lane l reading value source(l)
// when that reports true, from values below limit; ok is false when the
// values read span 32 or more.
func gatherLanes(limit int, source func(l int) (int, bool)) (g laneGather, ok bool) {
	var src [16]int
	lo, hi := -1, -1
	for l := range 16 {
		v, in := source(l)
		if !in {
			continue
		}
		src[l] = v
		g.have |= 1 << l
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	if lo < 0 {
		lo = 0 // nothing read
	}
	if hi-lo >= 32 {
		return g, false
	}
	g.lo = lo
	for l := range 16 {
		if g.have>>l&1 != 0 {
			g.idx[l] = int32(src[l] - lo)
		}
		if lo+l < limit {
			g.load1 |= 1 << l
		}
		if lo+16+l < limit {
			g.load2 |= 1 << l
		}
	}
	return g, true
}

// lanesBelow is the mask of the lanes l with first + l < n.
func lanesBelow(first, n int) uint16 {
	var m uint16
	for l := range 16 {
		if first+l < n {
			m |= 1 << l
		}
	}
	return m
}

func buildPermTable(s ConvShape) []permEntry {
	ow, cols := s.OutW(), s.Cols()
	var t []permEntry
	for i := 0; i < s.KH; i++ {
		for j := 0; j < s.KW; j++ {
			for v := 0; v*16 < cols; v++ {
				// Lane l is output q = 16v + l, reading pixel (q/W′ + i −
				// Pad, q mod W′ + j − Pad) where that is in the image.
				g, ok := gatherLanes(s.H*s.W, func(l int) (int, bool) {
					q := v*16 + l
					y, x := q/ow+i-s.Pad, q%ow+j-s.Pad
					return y*s.W + x, q < cols && y >= 0 && y < s.H && x >= 0 && x < s.W
				})
				if !ok {
					return nil
				}
				t = append(t, permEntry{
					idx: g.idx, src: int64(4 * g.lo), row: int64(i*s.KW + j), col: int64(64 * v),
					masks: uint64(g.have) | uint64(lanesBelow(v*16, cols))<<16 | uint64(g.load2)<<32 | uint64(g.load1)<<48,
				})
			}
		}
	}
	return t
}

// im2colPermGeneric is Im2col by the table t (of s), in Go: the twin of
// im2colPermAVX512, for float32.
func im2colPermGeneric[T tensor.Float](dst []T, ld int, x []T, s ConvShape, t []permEntry) {
	plane, kk := s.H*s.W, s.KH*s.KW
	for c := 0; c < s.C; c++ {
		img := x[c*plane : (c+1)*plane]
		rows := dst[c*kk*ld:]
		for k := range t {
			e := &t[k]
			out := rows[int(e.row)*ld+int(e.col)/4:]
			for l := 0; l < 16; l++ {
				if e.stored()>>l&1 == 0 {
					continue
				}
				var v T
				if e.valid()>>l&1 != 0 {
					v = img[int(e.src)/4+int(e.idx[l])]
				}
				out[l] = v
			}
		}
	}
}

// Col2im by permutes, the adjoint: for each group of 16 pixels of a plane,
// the terms of each window offset (i, j) are 16 values of row (i, j) of the
// column matrix, gathered by a permute from the 32 at a source offset and
// added to the lanes that have one, in row order (the order of Col2im's
// other paths, so the same bits).

// col2imEntry is one window offset's terms for one group of 16 pixels of a
// channel (104 bytes, the layout col2imPermAVX512 reads); a group's entries
// follow each other in row order.
type col2imEntry struct {
	idx   [16]int32 // lane l adds the value at src/4 + idx[l] of the row (lanes with a term)
	src   int64     // byte offset of the first of the 32 values in the row
	row   int64     // the column-matrix row within the channel's rows, i·KW + j
	pix   int64     // byte offset of the group in the plane, 64·v
	masks uint64    // lanes with a term (bits 0–15), loaded from the second 16 values (16–31) and from the first (32–47), the group's pixels (48–63)
	flags int64     // 1: the group's first entry (load it), 2: its last (store it)
}

func (e *col2imEntry) terms() uint16 { return uint16(e.masks) }

var col2imTables sync.Map // ConvShape → []col2imEntry, nil when not applicable

// col2imTable returns the table of s, or nil where permutes do not apply:
// a stride other than 1, image rows of 16 or more, over 256 pixels, or a
// group whose terms do not lie within 32 consecutive values of a row.
func col2imTable(s ConvShape) []col2imEntry {
	if s.Stride != 1 || s.W >= 16 || s.H*s.W > 256 {
		return nil
	}
	return cachedTable(&col2imTables, s, buildCol2imTable)
}

func buildCol2imTable(s ConvShape) []col2imEntry {
	oh, ow := s.OutH(), s.OutW()
	plane := s.H * s.W
	var t []col2imEntry
	for v := 0; v*16 < plane; v++ {
		first := len(t)
		for i := 0; i < s.KH; i++ {
			for j := 0; j < s.KW; j++ {
				// Lane l is pixel p = 16v + l, taking output (p/W − i +
				// Pad, p mod W − j + Pad) of row (i, j) where that exists.
				g, ok := gatherLanes(oh*ow, func(l int) (int, bool) {
					p := v*16 + l
					oy, ox := p/s.W-i+s.Pad, p%s.W-j+s.Pad
					return oy*ow + ox, p < plane && oy >= 0 && oy < oh && ox >= 0 && ox < ow
				})
				if !ok {
					return nil
				}
				t = append(t, col2imEntry{
					idx: g.idx, src: int64(4 * g.lo), row: int64(i*s.KW + j), pix: int64(64 * v),
					masks: uint64(g.have) | uint64(g.load2)<<16 | uint64(g.load1)<<32 | uint64(lanesBelow(v*16, plane))<<48,
				})
			}
		}
		t[first].flags |= 1
		t[len(t)-1].flags |= 2
	}
	return t
}

// col2imPermGeneric is Col2im by the table t (of s), in Go: the twin of
// col2imPermAVX512.
func col2imPermGeneric[T tensor.Float](dst, col []T, ld int, s ConvShape, t []col2imEntry) {
	plane, kk := s.H*s.W, s.KH*s.KW
	for c := 0; c < s.C; c++ {
		img := dst[c*plane : (c+1)*plane]
		rows := col[c*kk*ld:]
		for k := range t {
			e := &t[k]
			row := rows[int(e.row)*ld+int(e.src)/4:]
			g := img[int(e.pix)/4:]
			for l := 0; l < 16; l++ {
				if e.terms()>>l&1 != 0 {
					g[l] += row[e.idx[l]]
				}
			}
		}
	}
}
