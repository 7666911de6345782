package checkpoint

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := WriteFileAtomic(path, write("first")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("new file: %v, mode %v, want 0644", err, fi.Mode())
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, write(strings.Repeat("second", 100000))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != strings.Repeat("second", 100000) {
		t.Errorf("content %.20q..., want the second write", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after replacing a 0600 file", fi.Mode())
	}

	// A writer failing midway, after more than the buffer, leaves the old
	// file and no temporary file.
	errMidway := errors.New("out of ideas")
	err = WriteFileAtomic(path, func(w io.Writer) error {
		w.Write(make([]byte, 1<<20))
		return errMidway
	})
	if err != errMidway {
		t.Errorf("got error %v, want the writer's error unchanged", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in the writer was swallowed")
			}
		}()
		WriteFileAtomic(path, func(w io.Writer) error {
			w.Write(make([]byte, 1<<20))
			panic("writer bug")
		})
	}()
	if b, _ := os.ReadFile(path); string(b) != strings.Repeat("second", 100000) {
		t.Errorf("failed writes changed the file to %.20q...", b)
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "results.json" {
		t.Errorf("directory holds %q, want only results.json", names)
	}

	bad := filepath.Join(dir, "no", "such", "dir", "x.json")
	if err := WriteFileAtomic(bad, write("x")); err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+bad+": ") {
		t.Errorf("missing directory: got %v", err)
	}
	// A relative name goes to the working directory, not to os.TempDir.
	t.Chdir(dir)
	if err := WriteFileAtomic("rel.txt", write("rel")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "rel.txt")); err != nil || string(b) != "rel" {
		t.Errorf("relative path: %q, %v", b, err)
	}
}

func TestWriteFileKeepsOldOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	good := FromStateDict(model[float32](2), nil)
	if err := WriteFile(path, good); err != nil {
		t.Fatal(err)
	}
	broken := &File{Tensors: map[string]*Tensor{"w": {DType: F32, Shape: []int{4}, F32: []float32{1}}}}
	err := WriteFile(path, broken)
	if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+path+`: tensor "w": 1 F32 elements do not fit shape [4]`) {
		t.Errorf("got %v", err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if msg := diffFiles(f, good); msg != "" {
		t.Error(msg)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q", names)
	}
}
