package data

import (
	"fmt"
	"os"
	"slices"
)

// The CIFAR binary formats are a plain sequence of records: the label byte(s),
// then 3072 pixel bytes, the 32×32 red plane, then green, then blue, each
// row-major. CIFAR-10 has one label byte; CIFAR-100 two, the coarse label
// (20 superclasses) and then the fine label (100 classes), which is the one
// used.
const (
	cifarPixels   = 3 * 32 * 32
	cifarCoarse   = 20      // CIFAR-100's superclasses
	maxCIFARBytes = 1 << 30 // the largest official file, CIFAR-100's train.bin, has 153 MB
)

// readCIFAR appends the records of the CIFAR file at path to x and y.
func readCIFAR(s *spec, path string, x []float32, y []int) ([]float32, []int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return x, y, fmt.Errorf("data: %w", err)
	}
	if fi.Size() > maxCIFARBytes {
		return x, y, formatErr(path, "%d bytes, more than any CIFAR file (%d)", fi.Size(), maxCIFARBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return x, y, fmt.Errorf("data: %w", err)
	}
	return parseCIFAR(path, b, s.labelBytes, s.classes, x, y)
}

// parseCIFAR checks the records in b, a CIFAR file with labelBytes label
// bytes per record (1 or 2) of which the last is the label, and appends their
// images to x and labels to y; path names b in errors. On error x and y are
// returned unchanged.
func parseCIFAR(path string, b []byte, labelBytes, classes int, x []float32, y []int) ([]float32, []int, error) {
	rec := labelBytes + cifarPixels
	if len(b) == 0 {
		return x, y, formatErr(path, "empty file")
	}
	if len(b)%rec != 0 {
		return x, y, formatErr(path, "%d bytes is not a whole number of %d-byte records (%d label byte(s) + %d pixels): %d records and %d bytes over",
			len(b), rec, labelBytes, cifarPixels, len(b)/rec, len(b)%rec)
	}
	n := len(b) / rec
	for i := range n {
		r := b[i*rec : i*rec+labelBytes]
		if labelBytes == 2 && int(r[0]) >= cifarCoarse {
			return x, y, formatErr(path, "record %d: coarse label %d is not in [0, %d)", i, r[0], cifarCoarse)
		}
		if l := int(r[labelBytes-1]); l >= classes {
			return x, y, formatErr(path, "record %d: label %d is not in [0, %d)", i, l, classes)
		}
	}
	x0, y0 := len(x), len(y)
	x = slices.Grow(x, n*cifarPixels)[:x0+n*cifarPixels]
	y = slices.Grow(y, n)[:y0+n]
	for i := range n {
		r := b[i*rec : (i+1)*rec]
		y[y0+i] = int(r[labelBytes-1])
		bytesToUnit(x[x0+i*cifarPixels:], r[labelBytes:])
	}
	return x, y, nil
}
