package data

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxExtract caps the bytes extracted from an archive; the official CIFAR
// archives hold under 200 MB.
const maxExtract = 1 << 30

// extractTarGz extracts the gzipped tar file archive, whose entries must all
// lie in the folder top, into root/top. It extracts into a temporary folder
// in root and renames the finished top folder into place, so root/top
// appears only complete. If root/top exists already it is left as it is. It
// rejects the whole archive if an entry's path
// is absolute, climbs out with "..", lies outside top, or is neither a
// regular file nor a folder (links, devices).
func extractTarGz(archive, root, top string) error {
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(root, "."+top+".extract-*")
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer os.RemoveAll(tmp)

	if err := untar(archive, f, tmp, top); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(tmp, top)); err != nil {
		return formatErr(archive, "no folder %s in the archive", top)
	}
	dst := filepath.Join(root, top)
	if err := os.Rename(filepath.Join(tmp, top), dst); err != nil {
		if _, serr := os.Stat(dst); serr == nil {
			// Another process extracted it meanwhile, or an incomplete
			// folder was there before: the caller checks its files.
			return nil
		}
		return fmt.Errorf("data: %w", err)
	}
	return nil
}

// untar extracts the tar.gz stream r (the file archive) into dir.
func untar(archive string, r io.Reader, dir, top string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return readErr(archive, "gzip header", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var total int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, tar.ErrHeader) {
				return formatErr(archive, "corrupt tar: %v", err)
			}
			return readErr(archive, "tar archive", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // archive-wide metadata, no file
		}
		name := hdr.Name
		clean := path.Clean(name)
		if !filepath.IsLocal(filepath.FromSlash(clean)) || strings.Contains(name, `\`) {
			return formatErr(archive, "entry %q escapes the archive's folder", name)
		}
		if clean != top && !strings.HasPrefix(clean, top+"/") {
			return formatErr(archive, "entry %q lies outside %s/", name, top)
		}
		if clean == top && hdr.Typeflag != tar.TypeDir {
			return formatErr(archive, "entry %q is not a folder", name)
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("data: %w", err)
			}
		case tar.TypeReg:
			if total += hdr.Size; total > maxExtract {
				return formatErr(archive, "more than %d bytes to extract", maxExtract)
			}
			if err := writeEntry(archive, target, tr); err != nil {
				return err
			}
		default:
			return formatErr(archive, "entry %q is of type %q, not a regular file or folder", name, hdr.Typeflag)
		}
	}
}

// writeEntry writes the current tar entry to the new file target.
func writeEntry(archive, target string, tr *tar.Reader) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return formatErr(archive, "entry %s appears twice", filepath.Base(target))
		}
		return fmt.Errorf("data: %w", err)
	}
	if _, err := io.Copy(f, tr); err != nil {
		f.Close()
		var perr *os.PathError
		if errors.As(err, &perr) {
			return fmt.Errorf("data: %w", err)
		}
		return readErr(archive, "tar entry "+filepath.Base(target), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("data: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}
