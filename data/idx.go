package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// IDX is the format of the MNIST and Fashion-MNIST files (LeCun et al.): a
// big-endian magic number 0x0000TTDD, where TT is the element type (0x08:
// unsigned byte) and DD the number of dimensions, then DD big-endian uint32
// dimensions, then the elements in row-major order. Files may be gzipped.
const (
	idxImages uint32 = 0x00000803 // unsigned bytes, 3 dimensions: N×H×W
	idxLabels uint32 = 0x00000801 // unsigned bytes, 1 dimension: N
)

// maxIDXBytes caps the element bytes an IDX header may announce. The largest
// file read here, MNIST's training images, holds 47 MB.
const maxIDXBytes = 1 << 30

// readIDX reads the IDX file at path, gzipped or raw, which must have the
// given magic number, and returns its dimensions and element bytes.
func readIDX(path string, magic uint32) (dims []int, elems []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return parseIDX(path, f, magic)
}

// parseIDX reads an IDX file of the given magic number from r; path names
// it in errors. Gzip is recognised by its leading bytes 1f 8b.
//
// The header is trusted only as far as the bytes that follow it: element
// bytes are read as they arrive (at most the announced count plus one, to
// detect trailing data), so a header announcing a gigabyte in a short file
// allocates no more than the file holds.
func parseIDX(path string, r io.Reader, magic uint32) (dims []int, elems []byte, err error) {
	br := bufio.NewReader(r)
	r = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, readErr(path, "gzip header", err)
		}
		defer zr.Close()
		r = zr
	}

	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, nil, readErr(path, "IDX header", err)
	}
	got := binary.BigEndian.Uint32(head[:])
	kind := "images"
	if magic == idxLabels {
		kind = "labels"
	}
	switch {
	case head[0] != 0 || head[1] != 0:
		return nil, nil, formatErr(path, "not an IDX file: magic number 0x%08x, want 0x%08x (%s)", got, magic, kind)
	case head[2] != 0x08:
		switch head[2] {
		case 0x09, 0x0b, 0x0c, 0x0d, 0x0e: // int8, int16, int32, float32, float64
			return nil, nil, &UnsupportedError{Path: path, Msg: fmt.Sprintf("IDX element type 0x%02x, want unsigned bytes (0x08)", head[2])}
		}
		return nil, nil, formatErr(path, "not an IDX file: unknown element type 0x%02x in magic number 0x%08x", head[2], got)
	case got != magic:
		return nil, nil, formatErr(path, "magic number 0x%08x (%d dimensions), want 0x%08x (%s, %d dimensions)",
			got, head[3], magic, kind, magic&0xff)
	}

	nd := int(head[3])
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, readErr(path, "IDX dimensions", err)
	}
	dims = make([]int, nd)
	total := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
		if dims[i] != 0 && total > maxIDXBytes/dims[i] {
			// Finish reading the dimensions only to report them whole.
			for j := i + 1; j < nd; j++ {
				dims[j] = int(binary.BigEndian.Uint32(raw[4*j:]))
			}
			return nil, nil, formatErr(path, "dimensions %s announce more than %d bytes", dimsString(dims), maxIDXBytes)
		}
		total *= dims[i]
	}

	elems, err = io.ReadAll(io.LimitReader(r, int64(total)+1))
	if err != nil {
		return nil, nil, readErr(path, fmt.Sprintf("IDX data (dimensions %s)", dimsString(dims)), err)
	}
	switch {
	case len(elems) < total:
		return nil, nil, formatErr(path, "truncated: %d of the %d data bytes that dimensions %s announce", len(elems), total, dimsString(dims))
	case len(elems) > total:
		return nil, nil, formatErr(path, "data continues past the %d bytes that dimensions %s announce", total, dimsString(dims))
	}
	return dims, elems, nil
}

// idxNames returns the base names (without .gz) of the image and label files
// of an MNIST-style split.
func idxNames(split string) (images, labels string) {
	prefix := "train"
	if split == "test" {
		prefix = "t10k"
	}
	return prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"
}

// loadIDX builds a Dataset of spec s from an IDX image file and label file.
func loadIDX(s *spec, imagesPath, labelsPath string) (*Dataset, error) {
	dims, pix, err := readIDX(imagesPath, idxImages)
	if err != nil {
		return nil, err
	}
	if dims[1] != s.h || dims[2] != s.w {
		return nil, formatErr(imagesPath, "images of %d×%d pixels, want %d×%d", dims[1], dims[2], s.h, s.w)
	}
	n := dims[0]
	if n == 0 {
		return nil, formatErr(imagesPath, "no images")
	}
	ldims, labels, err := readIDX(labelsPath, idxLabels)
	if err != nil {
		return nil, err
	}
	if ldims[0] != n {
		return nil, formatErr(labelsPath, "%d labels but %d images", ldims[0], n)
	}
	y := make([]int, n)
	for i, l := range labels {
		if int(l) >= s.classes {
			return nil, formatErr(labelsPath, "label %d at index %d is not in [0, %d)", l, i, s.classes)
		}
		y[i] = int(l)
	}
	x := make([]float32, len(pix))
	bytesToUnit(x, pix)
	return &Dataset{Name: s.name, X: x, Y: y, N: n, C: 1, H: s.h, W: s.w, Classes: s.classes}, nil
}

// unit[b] is the pixel value b/255 in float32, as PyTorch's ToTensor computes it.
var unit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// bytesToUnit sets dst[i] = src[i]/255.
func bytesToUnit(dst []float32, src []byte) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = unit[b]
	}
}
