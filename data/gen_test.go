package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Generators of small files in the exact official formats, for the tests and
// for the fuzzers' seeds in testdata/.

var update = flag.Bool("update", false, "rewrite the generated files in testdata/")

// TestMain keeps the tests' cache folder (downloads, the MNIST location
// file) out of the user's.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "hesscope-data-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// idxFile returns an IDX file: magic, big-endian dims, elems.
func idxFile(magic uint32, dims []int, elems []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, elems...)
}

// testPixel is the byte of pixel (i, c, y, x) in every generated image.
func testPixel(i, c, y, x int) byte { return byte(i*37 + c*71 + y*5 + x*3 + y*x) }

// testImages returns the generated images first, …, first+n-1 of c×h×w
// bytes, NCHW.
func testImages(first, n, c, h, w int) []byte {
	b := make([]byte, 0, n*c*h*w)
	for i := first; i < first+n; i++ {
		for ch := range c {
			for y := range h {
				for x := range w {
					b = append(b, testPixel(i, ch, y, x))
				}
			}
		}
	}
	return b
}

// testLabel is the label of generated image i.
func testLabel(i, classes int) int { return (i*7 + 3) % classes }

func testLabels(n, classes int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(testLabel(i, classes))
	}
	return b
}

// mnistFiles returns IDX image and label files of n generated 28×28 images.
func mnistFiles(n int) (images, labels []byte) {
	return idxFile(idxImages, []int{n, 28, 28}, testImages(0, n, 1, 28, 28)),
		idxFile(idxLabels, []int{n}, testLabels(n, 10))
}

// cifarRecords returns n generated CIFAR records with labelBytes label bytes
// (the coarse label of CIFAR-100 is the fine one divided by 5), starting at
// image number first.
func cifarRecords(first, n, labelBytes, classes int) []byte {
	var b []byte
	for i := first; i < first+n; i++ {
		l := testLabel(i, classes)
		if labelBytes == 2 {
			b = append(b, byte(l/5))
		}
		b = append(b, byte(l))
		b = append(b, testImages(i, 1, 3, 32, 32)...)
	}
	return b
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// tarEntry is one member of a generated archive.
type tarEntry struct {
	name string
	typ  byte
	body []byte
	link string
}

func tarGz(entries []tarEntry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ == tar.TypeDir {
			hdr.Mode, hdr.Size = 0o755, 0
		}
		if e.typ == tar.TypeSymlink {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(err)
		}
		tw.Write(e.body)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// cifarArchive returns a tar.gz laid out as the official archive of s, each
// file holding perFile generated records, plus the label-name text files.
func cifarArchive(s *spec, perFile int) []byte {
	entries := []tarEntry{{name: s.folder + "/", typ: tar.TypeDir}}
	first := 0
	for _, f := range append(append([]string(nil), s.train...), s.test...) {
		entries = append(entries, tarEntry{name: s.folder + "/" + f, typ: tar.TypeReg, body: cifarRecords(first, perFile, s.labelBytes, s.classes)})
		first += perFile
	}
	entries = append(entries, tarEntry{name: s.folder + "/readme.html", typ: tar.TypeReg, body: []byte("<html></html>\n")})
	return tarGz(entries)
}

// testdataFiles are the generated seed files kept in testdata/.
func testdataFiles() map[string][]byte {
	images := idxFile(idxImages, []int{2, 3, 4}, testImages(0, 2, 1, 3, 4))
	labels := idxFile(idxLabels, []int{2}, testLabels(2, 10))
	return map[string][]byte{
		"images-idx3-ubyte":    images,
		"images-idx3-ubyte.gz": gzipBytes(images),
		"labels-idx1-ubyte":    labels,
		"labels-idx1-ubyte.gz": gzipBytes(labels),
		"cifar10-records.bin":  cifarRecords(0, 2, 1, 10),
		"cifar100-records.bin": cifarRecords(0, 2, 2, 100),
	}
}

// TestTestdata checks that testdata/ holds what the generators make;
// go test -run TestTestdata -update rewrites it.
func TestTestdata(t *testing.T) {
	for name, want := range testdataFiles() {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestTestdata -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (run go test -run TestTestdata -update)", path)
		}
	}
}

// writeFiles writes files (name → bytes) into dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listDir returns the names in dir, "" entries for nothing; it fails the
// test on error other than the folder's absence.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
