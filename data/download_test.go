package data

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// serveFiles starts a local server of files (URL path → bytes); any other
// path is 404. It counts the requests it answers in hits.
func serveFiles(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// withRemote makes the named dataset download from bases with sums for the
// rest of the test.
func withRemote(t *testing.T, name string, bases []string, sums map[string]string) {
	t.Helper()
	old := remotes[name]
	remotes[name] = &remote{bases: bases, sums: sums}
	t.Cleanup(func() { remotes[name] = old })
}

func md5Sum(b []byte) string {
	s := md5.Sum(b)
	return "md5:" + hex.EncodeToString(s[:])
}

func sha256Sum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestDownloadIDX downloads generated MNIST files from a local mirror into
// Options.Dir, falling back from a mirror that lacks them, and reports
// progress.
func TestDownloadIDX(t *testing.T) {
	images, labels := mnistFiles(4)
	gzImages, gzLabels := gzipBytes(images), gzipBytes(labels)
	srv := serveFiles(t, map[string][]byte{
		"/good/train-images-idx3-ubyte.gz": gzImages,
		"/good/train-labels-idx1-ubyte.gz": gzLabels,
	})
	withRemote(t, "mnist", []string{srv.URL + "/empty/", srv.URL + "/good/"}, map[string]string{
		"train-images-idx3-ubyte.gz": sha256Sum(gzImages),
		"train-labels-idx1-ubyte.gz": sha256Sum(gzLabels),
	})
	dir := filepath.Join(t.TempDir(), "new")
	var progress bytes.Buffer
	if _, err := Load("mnist", "train", Options{Dir: dir, Progress: &progress}); err == nil ||
		err.Error() != "data: folder "+dir+" does not exist (create it to download mnist into it, or give no folder to find the files automatically)" || progress.Len() > 0 {
		t.Fatalf("a folder that does not exist: %v, progress %q", err, progress.String())
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := Load("mnist", "train", Options{Dir: dir, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 4 || d.Y[3] != testLabel(3, 10) {
		t.Errorf("N = %d, Y = %v", d.N, d.Y)
	}
	if got := strings.Join(listDir(t, dir), " "); got != "train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz" {
		t.Errorf("folder holds %s", got)
	}
	out := progress.String()
	for _, want := range []string{
		"data: downloading " + srv.URL + "/empty/train-images-idx3-ubyte.gz\n",
		"data: GET " + srv.URL + "/empty/train-images-idx3-ubyte.gz: 404 Not Found; trying the next mirror\n",
		"data: downloading " + srv.URL + "/good/train-images-idx3-ubyte.gz\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	final := regexp.MustCompile(`(?m)^data: train-images-idx3-ubyte\.gz  [\d.]+ [KMGT]?i?B / [\d.]+ [KMGT]?i?B  100\.0%  [\d.]+ [KMGT]?i?B/s in \d+\.\ds$`)
	if !final.MatchString(out) {
		t.Errorf("progress lacks the final line:\n%s", out)
	}
}

// TestDownloadChecksumMismatch checks that a download whose checksum is
// wrong is a clear error and leaves nothing behind.
func TestDownloadChecksumMismatch(t *testing.T) {
	archive := cifarArchive(specNamed("cifar10"), 1)
	srv := serveFiles(t, map[string][]byte{"/kriz/cifar-10-binary.tar.gz": archive})
	want := md5Sum([]byte("something else"))
	withRemote(t, "cifar10", []string{srv.URL + "/kriz/"}, map[string]string{"cifar-10-binary.tar.gz": want})
	dir := t.TempDir()
	_, err := Load("cifar10", "test", Options{Dir: dir})
	if err == nil {
		t.Fatal("no error")
	}
	wantErr := "data: cifar10: " + dir + " holds neither cifar-10-batches-bin nor cifar-10-binary.tar.gz, and downloading cifar-10-binary.tar.gz failed: GET " +
		srv.URL + "/kriz/cifar-10-binary.tar.gz: checksum mismatch: md5 " + strings.TrimPrefix(md5Sum(archive), "md5:") +
		", want " + strings.TrimPrefix(want, "md5:")
	if !strings.HasPrefix(err.Error(), wantErr) {
		t.Errorf("error\n%v\nwant prefix\n%s", err, wantErr)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left behind %v", names)
	}
}

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "f.bin", 1000)
	for range 100 {
		p.Write(make([]byte, 10))
	}
	p.finish(true)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 10 { // 10%, 20%, …, 90%, then the final line
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, l := range lines[:9] {
		if want := regexp.MustCompile(`^data: f\.bin  \d+ B / 1000 B\s+\d+\.0%  [\d.]+ [KMGT]?i?B/s$`); !want.MatchString(l) {
			t.Errorf("line %d: %q", i, l)
		}
		if !strings.Contains(l, " "+string(rune('1'+i))+"0.0%") {
			t.Errorf("line %d: %q, want %d0%%", i, l, i+1)
		}
	}
	// Unknown size: a line every 16 MiB.
	buf.Reset()
	p = newProgress(&buf, "g", -1)
	p.Write(make([]byte, 40<<20))
	p.finish(true)
	if got := buf.String(); !strings.HasPrefix(got, "data: g  40.0 MiB  ") || strings.Count(got, "\n") != 2 {
		t.Errorf("unknown size:\n%s", got)
	}
	// Quiet.
	newProgress(nil, "h", 5).Write([]byte("abc"))
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 170052171: "162.2 MiB", 3 << 30: "3.0 GiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestVerifyFile checks an existing file against its checksum.
func TestVerifyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("hello"), 0o644)
	if err := verifyFile(path, "md5:5d41402abc4b2a76b9719d911017c592"); err != nil {
		t.Error(err)
	}
	if err := verifyFile(path, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"); err != nil {
		t.Error(err)
	}
	err := verifyFile(path, "md5:00")
	if want := "data: " + path + ": checksum mismatch: md5 5d41402abc4b2a76b9719d911017c592, want 00 (damaged, or not the official file)"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestProgressTerminal checks the in-place bar drawn on a terminal.
func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "a.tar.gz", 2<<20)
	p.tty = true
	p.Write(make([]byte, 1<<20))
	p.Write(make([]byte, 1<<20)) // within 200 ms: not drawn
	p.finish(true)
	got := buf.String()
	parts := strings.Split(got, "\r")
	if len(parts) != 3 || parts[0] != "" || !strings.HasPrefix(parts[1], "a.tar.gz  1.0 MiB / 2.0 MiB   50.0%  ") ||
		!strings.HasPrefix(parts[2], "a.tar.gz  2.0 MiB / 2.0 MiB  100.0%  ") || !strings.HasSuffix(got, "\033[K\n") {
		t.Errorf("terminal output %q", got)
	}
}
