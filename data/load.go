package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Options says where Load finds a dataset's files and how it reports a
// download. The zero value is the usual choice.
type Options struct {
	// Dir, if not empty, is the folder of the dataset's files (a --data-dir
	// flag); no other place is looked in, and missing files are downloaded
	// into it. It must exist: a folder that does not is an error. For MNIST and Fashion-MNIST it holds the IDX files under their
	// usual names (train-images-idx3-ubyte.gz, …), gzipped or not. For CIFAR
	// it holds the .bin files, directly or in the archive's folder
	// (cifar-10-batches-bin, cifar-100-binary), or else the official archive
	// (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz), which is checked and
	// extracted there.
	Dir string
	// Progress, if not nil, receives progress reports of downloads: a
	// progress bar when it is a terminal, plain lines otherwise.
	Progress io.Writer
}

// spec describes one dataset.
type spec struct {
	name             string
	c, h, w, classes int

	// CIFAR only.
	cifar       bool
	labelBytes  int      // label bytes per record; the last is the label
	archive     string   // the official archive's file name
	folder      string   // the archive's top folder
	train, test []string // the split's files in folder
}

var specs = []*spec{
	{name: "mnist", c: 1, h: 28, w: 28, classes: 10},
	{name: "fashion-mnist", c: 1, h: 28, w: 28, classes: 10},
	{
		name: "cifar10", c: 3, h: 32, w: 32, classes: 10,
		cifar: true, labelBytes: 1,
		archive: "cifar-10-binary.tar.gz", folder: "cifar-10-batches-bin",
		train: []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		test:  []string{"test_batch.bin"},
	},
	{
		name: "cifar100", c: 3, h: 32, w: 32, classes: 100,
		cifar: true, labelBytes: 2,
		archive: "cifar-100-binary.tar.gz", folder: "cifar-100-binary",
		train: []string{"train.bin"},
		test:  []string{"test.bin"},
	},
}

// Names returns the names of the datasets Load knows.
func Names() []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return names
}

// Info is the shape and size of a dataset, known without reading it.
type Info struct {
	C, H, W, Classes int
	// Train and Test are the numbers of images of the two splits.
	Train, Test int
}

// SampleLen is the number of values of one image, C·H·W (0 for the zero
// Info of a dataset Describe does not know).
func (i Info) SampleLen() int { return i.C * i.H * i.W }

// Describe returns the shape and size of the named dataset.
func Describe(name string) (Info, error) {
	s := specNamed(name)
	if s == nil {
		return Info{}, unknownName(name)
	}
	i := Info{C: s.c, H: s.h, W: s.w, Classes: s.classes, Train: 60000, Test: 10000}
	if s.cifar {
		i.Train = 50000
	}
	return i, nil
}

// specNamed returns the spec of the named dataset, or nil.
func specNamed(name string) *spec {
	for _, s := range specs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// Load reads the train or test split of the named dataset: "mnist",
// "fashion-mnist", "cifar10" or "cifar100". It finds the files as the
// package documentation describes, downloading them if need be.
//
// MNIST and Fashion-MNIST have 60000 training and 10000 test images of 1×28×28,
// CIFAR-10 and CIFAR-100 50000 and 10000 of 3×32×32; all have 10 classes but
// CIFAR-100, which has 100 (its fine labels).
func Load(name, split string, opt Options) (*Dataset, error) {
	s := specNamed(name)
	if s == nil {
		return nil, unknownName(name)
	}
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("data: unknown split %q of %s (want train, test)", split, name)
	}
	if err := checkDir(opt.Dir, name); err != nil {
		return nil, err
	}
	if s.cifar {
		return loadCIFAR(s, split, opt)
	}
	var images, labels string
	var err error
	switch {
	case opt.Dir != "":
		images, labels, err = fetchIDX(s, opt.Dir, split, opt.Progress)
	case s.name == "mnist":
		images, labels, err = mnistPaths(split, opt.Progress)
	default:
		images, labels, err = fashionPaths(split, opt.Progress)
	}
	if err != nil {
		return nil, err
	}
	return loadIDX(s, images, labels)
}

// checkDir reports a Dir that is given but is not a folder: a mistyped path
// must not start a download somewhere unexpected.
func checkDir(dir, name string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data: folder %s does not exist (create it to download %s into it, or give no folder to find the files automatically)", dir, name)
	case err != nil:
		return fmt.Errorf("data: folder %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("data: %s is not a folder", dir)
	}
	return nil
}

// findIDX returns the paths of a split's image and label files in dir, each
// gzipped (preferred) or raw, and whether both are there.
func findIDX(dir, split string) (images, labels string, ok bool) {
	if dir == "" {
		return "", "", false
	}
	imageName, labelName := idxNames(split)
	images, labels = findFile(dir, imageName), findFile(dir, labelName)
	return images, labels, images != "" && labels != ""
}

// findFile returns the path of name.gz or else name in dir, or "".
func findFile(dir, name string) string {
	for _, n := range []string{name + ".gz", name} {
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// fetchIDX returns the paths of a split's IDX files in dir, first downloading
// into dir those that are missing.
func fetchIDX(s *spec, dir, split string, progress io.Writer) (images, labels string, err error) {
	if images, labels, ok := findIDX(dir, split); ok {
		return images, labels, nil
	}
	imageName, labelName := idxNames(split)
	for _, name := range []string{imageName, labelName} {
		if findFile(dir, name) != "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("data: %s: %w", s.name, err)
		}
		if err := download(s.name, name+".gz", filepath.Join(dir, name+".gz"), progress); err != nil {
			return "", "", fmt.Errorf("data: %s %s: %s holds no %s(.gz), and %w", s.name, split, dir, name, err)
		}
	}
	images, labels, _ = findIDX(dir, split)
	return images, labels, nil
}

// loadCIFAR reads a split of CIFAR-10 or CIFAR-100, downloading and
// extracting the archive if need be.
func loadCIFAR(s *spec, split string, opt Options) (*Dataset, error) {
	root := opt.Dir
	if root == "" {
		var err error
		if root, err = cacheDir(s.name); err != nil {
			return nil, err
		}
	}
	files := s.train
	if split == "test" {
		files = s.test
	}
	dir, err := cifarDir(s, root, files, opt.Progress)
	if err != nil {
		return nil, err
	}
	// Size the arrays from the files' lengths, which are bytes on disk.
	records := 0
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.Size() <= maxCIFARBytes {
			records += int(fi.Size()) / (s.labelBytes + cifarPixels)
		}
	}
	x, y := make([]float32, 0, records*cifarPixels), make([]int, 0, records)
	for _, f := range files {
		if x, y, err = readCIFAR(s, filepath.Join(dir, f), x, y); err != nil {
			return nil, err
		}
	}
	return &Dataset{Name: s.name, X: x, Y: y, N: len(y), C: s.c, H: s.h, W: s.w, Classes: s.classes}, nil
}

// cifarDir returns the folder under root that holds files: root/folder or
// root itself. If neither does, it extracts the archive in root, first
// downloading it if it is not there.
func cifarDir(s *spec, root string, files []string, progress io.Writer) (string, error) {
	extracted := filepath.Join(root, s.folder)
	for _, d := range []string{extracted, root} {
		if hasFiles(d, files) {
			return d, nil
		}
	}
	archive := filepath.Join(root, s.archive)
	downloaded := false
	if _, err := os.Stat(archive); err == nil {
		if err := verifyFile(archive, remotes[s.name].sums[s.archive]); err != nil {
			return "", err
		}
	} else {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return "", fmt.Errorf("data: %s: %w", s.name, err)
		}
		if err := download(s.name, s.archive, archive, progress); err != nil {
			return "", fmt.Errorf("data: %s: %s holds neither %s nor %s, and %w", s.name, root, s.folder, s.archive, err)
		}
		downloaded = true
	}
	if progress != nil {
		fmt.Fprintf(progress, "data: extracting %s into %s\n", archive, root)
	}
	err := extractTarGz(archive, root, s.folder)
	if downloaded {
		// The archive was only a means to the folder; keep one copy.
		os.Remove(archive)
	}
	if err != nil {
		return "", err
	}
	if !hasFiles(extracted, files) {
		return "", fmt.Errorf("data: %s: %s lacks some of %s; remove it to extract %s again", s.name, extracted, strings.Join(files, ", "), archive)
	}
	return extracted, nil
}

// hasFiles reports whether dir holds every one of files as a regular file.
func hasFiles(dir string, files []string) bool {
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}
