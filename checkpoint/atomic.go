package checkpoint

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFileAtomic replaces the file at path with what write writes, so that
// a reader of path, or the file system after a crash, sees either the old
// content or the complete new one.
//
// write receives a buffered writer on a temporary file in the same directory
// as path; it must not keep the writer after it returns. After write returns
// nil, WriteFileAtomic flushes the buffer, syncs the file to disk, gives it
// the permissions of the file it replaces (0644 for a new file), renames it
// over path and syncs the directory. On any failure, or a panic in write,
// the temporary file is removed and path is left as it was; an error from
// write is returned unchanged, others begin "checkpoint: <path>: ".
// If path is a symbolic link, the link itself is replaced.
func WriteFileAtomic(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return wrapf(path, err, "creating temporary file")
	}
	closed, renamed := false, false
	defer func() {
		if !closed {
			tmp.Close()
		}
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()

	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return wrapf(path, err, "writing")
	}
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		perm = fi.Mode().Perm()
	}
	if err := tmp.Chmod(perm); err != nil {
		return wrapf(path, err, "chmod")
	}
	if err := tmp.Sync(); err != nil {
		return wrapf(path, err, "sync")
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return wrapf(path, err, "close")
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return wrapf(path, err, "rename")
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return wrapf(path, err, "sync directory")
	}
	return nil
}

// syncDir makes a rename in dir durable. Windows cannot sync a directory and
// needs no such step.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
