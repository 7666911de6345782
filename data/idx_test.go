package data

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestLoadIDXDir loads generated MNIST files from Options.Dir, gzipped and
// raw, and checks every value.
func TestLoadIDXDir(t *testing.T) {
	const n = 5
	images, labels := mnistFiles(n)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
	}{
		{"gzip", map[string][]byte{"t10k-images-idx3-ubyte.gz": gzipBytes(images), "t10k-labels-idx1-ubyte.gz": gzipBytes(labels)}},
		{"raw", map[string][]byte{"t10k-images-idx3-ubyte": images, "t10k-labels-idx1-ubyte": labels}},
		{"mixed", map[string][]byte{"t10k-images-idx3-ubyte": images, "t10k-labels-idx1-ubyte.gz": gzipBytes(labels)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			for _, name := range []string{"mnist", "fashion-mnist"} {
				d, err := Load(name, "test", Options{Dir: dir})
				if err != nil {
					t.Fatal(err)
				}
				if d.Name != name || d.N != n || d.C != 1 || d.H != 28 || d.W != 28 || d.Classes != 10 || len(d.X) != n*784 || len(d.Y) != n {
					t.Fatalf("got %s N=%d %d×%d×%d classes %d, len X %d Y %d", d.Name, d.N, d.C, d.H, d.W, d.Classes, len(d.X), len(d.Y))
				}
				for i := range n {
					if d.Y[i] != testLabel(i, 10) {
						t.Errorf("label %d = %d, want %d", i, d.Y[i], testLabel(i, 10))
					}
					for y := range 28 {
						for x := range 28 {
							got := d.X[(i*28+y)*28+x]
							if want := float32(testPixel(i, 0, y, x)) / 255; got != want {
								t.Fatalf("pixel (%d, %d, %d) = %v, want %v", i, y, x, got, want)
							}
						}
					}
				}
			}
		})
	}
}

// TestIDXErrors checks that each kind of bad file gives one clear error
// naming the file and the fault.
func TestIDXErrors(t *testing.T) {
	images, labels := mnistFiles(3)
	badCRC := gzipBytes(labels)
	badCRC[len(badCRC)-8] ^= 0xff // the gzip trailer's CRC-32
	for _, tc := range []struct {
		name           string
		images, labels []byte
		bad            string // the file named in the error
		want           string
		unsupported    bool
	}{
		{name: "count mismatch", images: images, labels: idxFile(idxLabels, []int{2}, testLabels(2, 10)),
			bad: "labels", want: "2 labels but 3 images"},
		{name: "swapped", images: labels, labels: images,
			bad: "images", want: "magic number 0x00000801 (1 dimensions), want 0x00000803 (images, 3 dimensions)"},
		{name: "not IDX", images: []byte("PK\x03\x04 a zip file, not IDX"), labels: labels,
			bad: "images", want: "not an IDX file: magic number 0x504b0304, want 0x00000803 (images)"},
		{name: "unknown type", images: idxFile(0x00000703, []int{3, 28, 28}, nil), labels: labels,
			bad: "images", want: "not an IDX file: unknown element type 0x07 in magic number 0x00000703"},
		{name: "float images", images: idxFile(0x00000d03, []int{3, 28, 28}, nil), labels: labels,
			bad: "images", want: "IDX element type 0x0d, want unsigned bytes (0x08)", unsupported: true},
		{name: "short header", images: images[:2], labels: labels,
			bad: "images", want: "truncated IDX header"},
		{name: "short dims", images: images[:9], labels: labels,
			bad: "images", want: "truncated IDX dimensions"},
		{name: "truncated data", images: images[:len(images)-1], labels: labels,
			bad: "images", want: "truncated: 2351 of the 2352 data bytes that dimensions 3×28×28 announce"},
		{name: "truncated gzip", images: gzipBytes(images)[:300], labels: labels,
			bad: "images", want: "truncated IDX data (dimensions 3×28×28)"},
		{name: "trailing data", images: append(append([]byte(nil), images...), 0), labels: labels,
			bad: "images", want: "data continues past the 2352 bytes that dimensions 3×28×28 announce"},
		{name: "bad crc", images: images, labels: badCRC,
			bad: "labels", want: "corrupt gzip stream in IDX data (dimensions 3): gzip: invalid checksum"},
		{name: "bad gzip header", images: []byte{0x1f, 0x8b, 0, 0, 0}, labels: labels,
			bad: "images", want: "truncated gzip header"},
		{name: "label range", images: images, labels: idxFile(idxLabels, []int{3}, []byte{1, 10, 2}),
			bad: "labels", want: "label 10 at index 1 is not in [0, 10)"},
		{name: "image size", images: idxFile(idxImages, []int{1, 32, 32}, make([]byte, 1024)), labels: labels,
			bad: "images", want: "images of 32×32 pixels, want 28×28"},
		{name: "no images", images: idxFile(idxImages, []int{0, 28, 28}, nil), labels: labels,
			bad: "images", want: "no images"},
		{name: "huge dims", images: idxFile(idxImages, []int{1 << 20, 1 << 10, 1 << 10}, nil), labels: labels,
			bad: "images", want: "dimensions 1048576×1024×1024 announce more than 1073741824 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string][]byte{"t10k-images-idx3-ubyte": tc.images, "t10k-labels-idx1-ubyte": tc.labels})
			_, err := Load("mnist", "test", Options{Dir: dir})
			if err == nil {
				t.Fatal("no error")
			}
			path := filepath.Join(dir, "t10k-"+tc.bad+"-idx"+map[string]string{"images": "3", "labels": "1"}[tc.bad]+"-ubyte")
			want := "data: " + path + ": " + tc.want
			if tc.unsupported {
				want = "data: " + path + ": unsupported: " + tc.want
			}
			if err.Error() != want {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
			var fe *FormatError
			var ue *UnsupportedError
			if tc.unsupported != errors.As(err, &ue) || !tc.unsupported != errors.As(err, &fe) {
				t.Errorf("error type %T, unsupported %v", err, tc.unsupported)
			}
		})
	}
}

// TestIDXHeaderTrust checks that a header announcing far more data than the
// file holds allocates in proportion to the file, not the header.
func TestIDXHeaderTrust(t *testing.T) {
	file := idxFile(idxImages, []int{600000, 28, 28}, make([]byte, 100)) // announces 470 MB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := parseIDX("big", bytes.NewReader(file), idxImages)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated: 100 of the 470400000 data bytes") {
		t.Fatalf("err = %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte file", alloc, len(file))
	}
}

// TestDirNotFolder: a Dir that is a file is an error naming it.
func TestDirNotFolder(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mnist", "cifar10"} {
		if _, err := Load(name, "test", Options{Dir: f}); err == nil || err.Error() != "data: "+f+" is not a folder" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestIDXMissing checks the error for a folder without the files when
// downloading fails too.
func TestIDXMissing(t *testing.T) {
	srv := serveFiles(t, nil)
	withRemote(t, "mnist", []string{srv.URL + "/a/", srv.URL + "/b/"}, map[string]string{
		"t10k-images-idx3-ubyte.gz": "sha256:00", "t10k-labels-idx1-ubyte.gz": "sha256:00"})
	dir := t.TempDir()
	_, err := Load("mnist", "test", Options{Dir: dir})
	want := "data: mnist test: " + dir + " holds no t10k-images-idx3-ubyte(.gz), and downloading t10k-images-idx3-ubyte.gz failed: GET " +
		srv.URL + "/a/t10k-images-idx3-ubyte.gz: 404 Not Found; GET " + srv.URL + "/b/t10k-images-idx3-ubyte.gz: 404 Not Found"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left behind %v", names)
	}
}
