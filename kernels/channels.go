package kernels

import "hesscope/tensor"

// ChannelsLast writes the image x (s.C planes of s.H×s.W, row-major) into
// dst in channels-last order, zero-padded by s.Pad on every side:
//
//	dst[((i+p)·(W+2p) + j+p)·C + c] = x[(c·H + i)·W + j]
//
// and zeros around; dst holds (H+2p)·(W+2p)·C values. In this order the
// window row (u, ·) of output pixel (i, j) of a convolution with stride s
// is one run of KW·C values, at ((i·s+u)·(W+2p) + j·s)·C, so the column
// matrix's rows (in (u, v, c) order) are read in place by GemmRows: a
// convolution's weight cotangent ȳ·im2col(x)ᵀ becomes KH products
// ȳ·B_u with B_u's row for pixel (i, j) that run, and no column matrix is
// built. Only s's C, H, W and Pad are used. ChannelsLast panics if dst or
// x is too short.
func ChannelsLast[T tensor.Float](dst, x []T, s ConvShape) {
	c, h, w, p := s.C, s.H, s.W, s.Pad
	wp := w + 2*p
	n := (h + 2*p) * wp * c
	_ = dst[n-1]
	_ = x[c*h*w-1]
	clear(dst[:p*wp*c])
	clear(dst[(h+p)*wp*c : n])
	for i := 0; i < h; i++ {
		row := dst[(i+p)*wp*c : (i+p+1)*wp*c]
		clear(row[:p*c])
		clear(row[(w+p)*c:])
		if c == 1 { // the row itself
			copy(row[p:w+p], x[i*w:(i+1)*w])
			continue
		}
		if channelsLastRow(row[p*c:(w+p)*c], x[i*w:], c, h*w, w) {
			continue
		}
		channelsLastRowGeneric(row[p*c:(w+p)*c], x[i*w:], c, h*w, w)
	}
}

// channelsLastRowGeneric writes one image row: dst[j·c + ch] =
// x[ch·plane + j] for j < w, ch < c.
func channelsLastRowGeneric[T tensor.Float](dst, x []T, c, plane, w int) {
	for ch := 0; ch < c; ch++ {
		src := x[ch*plane : ch*plane+w]
		for j, v := range src {
			dst[j*c+ch] = v
		}
	}
}
