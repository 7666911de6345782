package data

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkCIFAR checks that d holds the generated images first, …, first+N-1.
func checkCIFAR(t *testing.T, d *Dataset, name string, n, first, classes int) {
	t.Helper()
	if d.Name != name || d.N != n || d.C != 3 || d.H != 32 || d.W != 32 || d.Classes != classes || len(d.X) != n*3072 || len(d.Y) != n {
		t.Fatalf("got %s N=%d %d×%d×%d classes %d, len X %d Y %d", d.Name, d.N, d.C, d.H, d.W, d.Classes, len(d.X), len(d.Y))
	}
	for i := range n {
		if want := testLabel(first+i, classes); d.Y[i] != want {
			t.Fatalf("label %d = %d, want %d", i, d.Y[i], want)
		}
		for c := range 3 {
			for y := range 32 {
				for x := range 32 {
					got := d.X[((i*3+c)*32+y)*32+x]
					if want := float32(testPixel(first+i, c, y, x)) / 255; got != want {
						t.Fatalf("pixel (%d, %d, %d, %d) = %v, want %v", i, c, y, x, got, want)
					}
				}
			}
		}
	}
}

// TestParseCIFAR checks the record layout: label byte(s), then the R, G and
// B planes, and that CIFAR-100 uses the fine label.
func TestParseCIFAR(t *testing.T) {
	// A hand-made CIFAR-100 record: coarse 3, fine 17, R plane 255, G plane
	// 0, B plane 51 except its last pixel, 102.
	rec := []byte{3, 17}
	rec = append(rec, bytes.Repeat([]byte{255}, 1024)...)
	rec = append(rec, bytes.Repeat([]byte{0}, 1024)...)
	rec = append(rec, bytes.Repeat([]byte{51}, 1023)...)
	rec = append(rec, 102)
	x, y, err := parseCIFAR("rec", rec, 2, 100, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(y) != 1 || y[0] != 17 || len(x) != 3072 {
		t.Fatalf("y = %v, len x = %d", y, len(x))
	}
	if x[0] != 1 || x[1023] != 1 || x[1024] != 0 || x[2047] != 0 || x[2048] != 0.2 || x[3070] != 0.2 || x[3071] != 0.4 {
		t.Errorf("planes wrong: %v %v %v %v %v %v %v", x[0], x[1023], x[1024], x[2047], x[2048], x[3070], x[3071])
	}
	// Appending to existing slices.
	x, y, err = parseCIFAR("recs", cifarRecords(0, 3, 1, 10), 1, 10, x, y)
	if err != nil || len(y) != 4 || len(x) != 4*3072 || y[1] != testLabel(0, 10) || x[3072+5] != float32(testPixel(0, 0, 0, 5))/255 {
		t.Errorf("append: err %v, y %v", err, y)
	}
}

func TestCIFARErrors(t *testing.T) {
	good := cifarRecords(0, 2, 1, 10)
	good100 := cifarRecords(0, 2, 2, 100)
	for _, tc := range []struct {
		name       string
		b          []byte
		labelBytes int
		want       string
	}{
		{"empty", nil, 1, "empty file"},
		{"short", good[:len(good)-1], 1, "6145 bytes is not a whole number of 3073-byte records (1 label byte(s) + 3072 pixels): 1 records and 3072 bytes over"},
		{"long", append(append([]byte(nil), good...), 0), 1, "6147 bytes is not a whole number of 3073-byte records (1 label byte(s) + 3072 pixels): 2 records and 1 bytes over"},
		{"cifar100 as cifar10", good100[:3073*2], 1, "record 1: label 71 is not in [0, 10)"},
		{"label", append([]byte{10}, good[1:]...), 1, "record 0: label 10 is not in [0, 10)"},
		{"fine label", append(append([]byte(nil), good100[:3074]...), append([]byte{1, 100}, good100[3076:]...)...), 2, "record 1: label 100 is not in [0, 100)"},
		{"coarse label", append([]byte{20}, good100[1:]...), 2, "record 0: coarse label 20 is not in [0, 20)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			classes := map[int]int{1: 10, 2: 100}[tc.labelBytes]
			x, y, err := parseCIFAR("/d/f.bin", tc.b, tc.labelBytes, classes, nil, nil)
			if want := "data: /d/f.bin: " + tc.want; err == nil || err.Error() != want {
				t.Errorf("error\n%v\nwant\n%s", err, want)
			}
			if len(x) != 0 || len(y) != 0 {
				t.Errorf("appended %d, %d on error", len(x), len(y))
			}
		})
	}
}

// TestCIFARDownload fetches a tiny archive with the official layout from a
// local server into the cache folder, for both datasets and splits, then
// loads again from the cache with the server gone.
func TestCIFARDownload(t *testing.T) {
	for _, name := range []string{"cifar10", "cifar100"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("XDG_CACHE_HOME", t.TempDir())
			s := specNamed(name)
			const per = 3
			archive := cifarArchive(s, per)
			srv := serveFiles(t, map[string][]byte{"/kriz/" + s.archive: archive})
			withRemote(t, name, []string{srv.URL + "/kriz/"}, map[string]string{s.archive: md5Sum(archive)})
			var progress bytes.Buffer
			d, err := Load(name, "train", Options{Progress: &progress})
			if err != nil {
				t.Fatal(err)
			}
			checkCIFAR(t, d, name, per*len(s.train), 0, s.classes)
			cache, _ := cacheDir(name)
			if got := strings.Join(listDir(t, cache), " "); got != s.folder {
				t.Errorf("cache folder holds %q, want only %s", got, s.folder)
			}
			if !strings.Contains(progress.String(), "100.0%") || !strings.Contains(progress.String(), "data: extracting ") {
				t.Errorf("progress:\n%s", progress.String())
			}
			srv.Close()
			d, err = Load(name, "test", Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkCIFAR(t, d, name, per, per*len(s.train), s.classes)
		})
	}
}

// TestCIFARDir loads CIFAR from Options.Dir holding the .bin files, the
// extracted folder, or the archive (which is checked, extracted and kept).
func TestCIFARDir(t *testing.T) {
	s := specNamed("cifar10")
	bins := map[string][]byte{}
	for i, f := range append(append([]string(nil), s.train...), s.test...) {
		bins[f] = cifarRecords(2*i, 2, 1, 10)
	}
	t.Run("bins", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, bins)
		d, err := Load("cifar10", "train", Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		checkCIFAR(t, d, "cifar10", 10, 0, 10)
	})
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, filepath.Join(dir, s.folder), bins)
		d, err := Load("cifar10", "test", Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		checkCIFAR(t, d, "cifar10", 2, 10, 10)
	})
	t.Run("archive", func(t *testing.T) {
		archive := cifarArchive(specNamed("cifar100"), 4)
		withRemote(t, "cifar100", nil, map[string]string{"cifar-100-binary.tar.gz": md5Sum(archive)})
		dir := t.TempDir()
		writeFiles(t, dir, map[string][]byte{"cifar-100-binary.tar.gz": archive})
		d, err := Load("cifar100", "test", Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		checkCIFAR(t, d, "cifar100", 4, 4, 100)
		if got := strings.Join(listDir(t, dir), " "); got != "cifar-100-binary cifar-100-binary.tar.gz" {
			t.Errorf("folder holds %q", got)
		}
	})
	t.Run("bad archive", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string][]byte{"cifar-10-binary.tar.gz": []byte("not the archive")})
		_, err := Load("cifar10", "test", Options{Dir: dir})
		want := "data: " + filepath.Join(dir, "cifar-10-binary.tar.gz") + ": checksum mismatch: md5 "
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %v, want prefix %s", err, want)
		}
	})
	t.Run("incomplete folder", func(t *testing.T) {
		archive := cifarArchive(s, 1)
		withRemote(t, "cifar10", nil, map[string]string{s.archive: md5Sum(archive)})
		dir := t.TempDir()
		writeFiles(t, dir, map[string][]byte{s.archive: archive})
		writeFiles(t, filepath.Join(dir, s.folder), map[string][]byte{"test_batch.bin": bins["test_batch.bin"]})
		_, err := Load("cifar10", "train", Options{Dir: dir})
		want := "data: cifar10: " + filepath.Join(dir, s.folder) + " lacks some of data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin; remove it to extract " +
			filepath.Join(dir, s.archive) + " again"
		if err == nil || err.Error() != want {
			t.Errorf("error\n%v\nwant\n%s", err, want)
		}
		if got := strings.Join(listDir(t, dir), " "); got != s.folder+" "+s.archive {
			t.Errorf("folder holds %q", got)
		}
	})
	t.Run("corrupt bin", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string][]byte{"test_batch.bin": bins["test_batch.bin"][:5000]})
		_, err := Load("cifar10", "test", Options{Dir: dir})
		want := "data: " + filepath.Join(dir, "test_batch.bin") + ": 5000 bytes is not a whole number of 3073-byte records"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %v, want prefix %s", err, want)
		}
	})
}

// TestExtractRejects checks that archives with entries that escape, lie
// outside the expected folder or are links are refused whole, leaving
// nothing behind.
func TestExtractRejects(t *testing.T) {
	top := "cifar-10-batches-bin"
	ok := tarEntry{name: top + "/test_batch.bin", typ: tar.TypeReg, body: []byte("x")}
	for _, tc := range []struct {
		name string
		bad  tarEntry
		want string
	}{
		{"dotdot", tarEntry{name: top + "/../../evil", typ: tar.TypeReg, body: []byte("x")}, `entry "cifar-10-batches-bin/../../evil" escapes the archive's folder`},
		{"absolute", tarEntry{name: "/tmp/evil", typ: tar.TypeReg, body: []byte("x")}, `entry "/tmp/evil" escapes the archive's folder`},
		{"outside", tarEntry{name: "other/evil", typ: tar.TypeReg, body: []byte("x")}, `entry "other/evil" lies outside cifar-10-batches-bin/`},
		{"sibling", tarEntry{name: top + "x/evil", typ: tar.TypeReg, body: []byte("x")}, `entry "cifar-10-batches-bin" + "x/evil" lies outside cifar-10-batches-bin/`},
		{"symlink", tarEntry{name: top + "/link", typ: tar.TypeSymlink, link: "/etc/passwd"}, `entry "cifar-10-batches-bin/link" is of type '2', not a regular file or folder`},
		{"twice", ok, `entry test_batch.bin appears twice`},
		{"top is a file", tarEntry{name: top, typ: tar.TypeReg, body: []byte("x")}, `entry "cifar-10-batches-bin" is not a folder`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			archive := filepath.Join(t.TempDir(), "a.tar.gz")
			os.WriteFile(archive, tarGz([]tarEntry{{name: top + "/", typ: tar.TypeDir}, ok, tc.bad}), 0o644)
			err := extractTarGz(archive, root, top)
			want := "data: " + archive + ": " + strings.ReplaceAll(tc.want, `" + "`, "")
			if err == nil || err.Error() != want {
				t.Errorf("error\n%v\nwant\n%s", err, want)
			}
			if names := listDir(t, root); len(names) != 0 {
				t.Errorf("left behind %v", names)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		root := t.TempDir()
		archive := filepath.Join(t.TempDir(), "a.tar.gz")
		full := tarGz([]tarEntry{ok, {name: top + "/big.bin", typ: tar.TypeReg, body: bytes.Repeat([]byte("0123456789abcdef"), 4096)}})
		os.WriteFile(archive, full[:len(full)/2], 0o644)
		err := extractTarGz(archive, root, top)
		if err == nil || !strings.HasPrefix(err.Error(), "data: "+archive+": truncated") {
			t.Errorf("error %v", err)
		}
		if names := listDir(t, root); len(names) != 0 {
			t.Errorf("left behind %v", names)
		}
	})
}

// TestCIFARDownloadEvil downloads an archive that passes its (injected)
// checksum but has an escaping entry: the load fails and neither the archive
// nor anything extracted is left.
func TestCIFARDownloadEvil(t *testing.T) {
	s := specNamed("cifar10")
	archive := tarGz([]tarEntry{
		{name: s.folder + "/test_batch.bin", typ: tar.TypeReg, body: cifarRecords(0, 1, 1, 10)},
		{name: s.folder + "/../../../evil.sh", typ: tar.TypeReg, body: []byte("#!/bin/sh\n")},
	})
	srv := serveFiles(t, map[string][]byte{"/" + s.archive: archive})
	withRemote(t, "cifar10", []string{srv.URL + "/"}, map[string]string{s.archive: md5Sum(archive)})
	dir := t.TempDir()
	_, err := Load("cifar10", "test", Options{Dir: dir})
	want := "data: " + filepath.Join(dir, s.archive) + `: entry "cifar-10-batches-bin/../../../evil.sh" escapes the archive's folder`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left behind %v", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "..", "evil.sh")); err == nil {
		t.Error("evil.sh written")
	}
}
