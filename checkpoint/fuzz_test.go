package checkpoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead requires that Read never panics, fails only with a
// *FormatError or *UnsupportedError on complete input, and that whatever it
// parses writes back, reads back the same, and writes back the same bytes.
func FuzzRead(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.safetensors"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/: %v", err)
	}
	for _, path := range seeds {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, c := range corruptCases {
		f.Add(c.data)
	}
	f.Add(safetensors(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var fe *FormatError
			var ue *UnsupportedError
			if !errors.As(err, &fe) && !errors.As(err, &ue) {
				t.Fatalf("error %v (%T) is neither a FormatError nor an UnsupportedError", err, err)
			}
			return
		}
		var out bytes.Buffer
		if err := Write(&out, file); err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		if msg := diffFiles(file, again); msg != "" {
			t.Fatalf("written and read back: %s", msg)
		}
		var out2 bytes.Buffer
		if err := Write(&out2, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatal("second write differs from the first")
		}
	})
}
