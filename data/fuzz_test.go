package data

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// isDataErr reports whether err is one of the package's file errors, as
// every parse failure of in-memory bytes must be.
func isDataErr(err error) bool {
	var fe *FormatError
	var ue *UnsupportedError
	return errors.As(err, &fe) || errors.As(err, &ue)
}

func addSeeds(f *testing.F, names ...string) {
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzIDX checks that parseIDX either rejects its input with a FormatError
// or UnsupportedError, or returns elements that fill the dimensions exactly
// and, for a raw file, write back to the same bytes.
func FuzzIDX(f *testing.F) {
	addSeeds(f, "images-idx3-ubyte", "images-idx3-ubyte.gz", "labels-idx1-ubyte", "labels-idx1-ubyte.gz")
	f.Add(idxFile(idxImages, []int{0, 28, 28}, nil))
	f.Add(idxFile(idxImages, []int{1 << 20, 1 << 10, 1 << 10}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		gzipped := len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
		for _, magic := range []uint32{idxImages, idxLabels} {
			dims, elems, err := parseIDX("fuzz", bytes.NewReader(b), magic)
			if err != nil {
				if !isDataErr(err) {
					t.Fatalf("error of type %T: %v", err, err)
				}
				continue
			}
			if len(dims) != int(magic&0xff) {
				t.Fatalf("magic 0x%08x: %d dimensions", magic, len(dims))
			}
			n := 1
			for _, d := range dims {
				n *= d
			}
			if len(elems) != n {
				t.Fatalf("dimensions %v but %d elements", dims, len(elems))
			}
			if !gzipped && !bytes.Equal(idxFile(magic, dims, elems), b) {
				t.Fatal("does not write back to the same bytes")
			}
		}
	})
}

// FuzzCIFAR checks that parseCIFAR either rejects its input with a
// FormatError, appending nothing, or returns one label and 3072 pixels in
// [0, 1] per record that map back to the record's bytes.
func FuzzCIFAR(f *testing.F) {
	for _, s := range []struct {
		name    string
		hundred bool
	}{{"cifar10-records.bin", false}, {"cifar100-records.bin", true}} {
		b, err := os.ReadFile(filepath.Join("testdata", s.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, s.hundred)
		f.Add(b[:len(b)-1], s.hundred)
	}
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, hundred bool) {
		labelBytes, classes := 1, 10
		if hundred {
			labelBytes, classes = 2, 100
		}
		x, y, err := parseCIFAR("fuzz", b, labelBytes, classes, nil, nil)
		if err != nil {
			if !isDataErr(err) || len(x) != 0 || len(y) != 0 {
				t.Fatalf("error %v (%T) with %d images", err, err, len(y))
			}
			return
		}
		rec := labelBytes + cifarPixels
		if len(y)*rec != len(b) || len(x) != len(y)*cifarPixels {
			t.Fatalf("%d bytes gave %d labels and %d pixels", len(b), len(y), len(x))
		}
		for i, l := range y {
			r := b[i*rec : (i+1)*rec]
			if l != int(r[labelBytes-1]) || l >= classes || (hundred && r[0] >= cifarCoarse) {
				t.Fatalf("record %d: label %d from bytes %v", i, l, r[:labelBytes])
			}
			for j, v := range x[i*cifarPixels : (i+1)*cifarPixels] {
				if v < 0 || v > 1 || byte(math.Round(float64(v)*255)) != r[labelBytes+j] {
					t.Fatalf("record %d pixel %d: %v from byte %d", i, j, v, r[labelBytes+j])
				}
			}
		}
	})
}
