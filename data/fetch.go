package data

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// remote is where a dataset's files are downloaded from.
type remote struct {
	bases []string          // base URLs, tried in turn; the file name is appended
	sums  map[string]string // file name → "sha256:<hex>" or "md5:<hex>"
}

// remotes holds the download locations and checksums of every dataset; tests
// replace entries to serve files locally.
//
// The MNIST SHA-256 sums are those of the files GoMNIST ships (their MD5 sums,
// 9fb629c4…, ec29112d…, f68b3c2d…, d53e105e…, are those torchvision publishes
// for the canonical files, so the two are the same files). The Fashion-MNIST
// and CIFAR sums are the MD5 sums their authors publish, the only ones they
// publish.
var remotes = map[string]*remote{
	"mnist": {
		bases: []string{
			"https://ossci-datasets.s3.amazonaws.com/mnist/",
			"https://storage.googleapis.com/cvdf-datasets/mnist/",
		},
		sums: map[string]string{
			"train-images-idx3-ubyte.gz": "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
			"train-labels-idx1-ubyte.gz": "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
			"t10k-images-idx3-ubyte.gz":  "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
			"t10k-labels-idx1-ubyte.gz":  "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
		},
	},
	"fashion-mnist": {
		bases: []string{
			"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
			"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
		},
		sums: map[string]string{
			"train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
			"train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
			"t10k-images-idx3-ubyte.gz":  "md5:bef4ecab320f06d8554ea6380940ec79",
			"t10k-labels-idx1-ubyte.gz":  "md5:bb300cfdad3c16e7a12a480ee83cd310",
		},
	},
	"cifar10": {
		bases: []string{"https://www.cs.toronto.edu/~kriz/"},
		sums:  map[string]string{"cifar-10-binary.tar.gz": "md5:c32a1d4ab5d03f1284b67883e8d87530"},
	},
	"cifar100": {
		bases: []string{"https://www.cs.toronto.edu/~kriz/"},
		sums:  map[string]string{"cifar-100-binary.tar.gz": "md5:03b5dce01913d631647c71ecec9e9cb8"},
	},
}

// maxDownload caps the bytes of one download; the largest, the CIFAR-10
// archive, has 170 MB.
const maxDownload = 1 << 30

// httpClient fetches the files. It gives up on a server that does not start
// answering within a minute; a slow body is not cut short.
var httpClient = &http.Client{Transport: func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return t
}()}

// download fetches the file of the named dataset into dst, trying each mirror
// in turn, and checks its checksum. dst appears only once complete and
// checked; nothing is left behind on failure. Its error starts "download"
// and lists what went wrong with each mirror.
func download(dataset, file, dst string, progress io.Writer) error {
	r := remotes[dataset]
	sum := r.sums[file]
	if sum == "" {
		return fmt.Errorf("download %s: no checksum known", file)
	}
	var errs []string
	for i, base := range r.bases {
		url := base + file
		if progress != nil {
			fmt.Fprintf(progress, "data: downloading %s\n", url)
		}
		err := downloadOne(url, dst, sum, progress)
		if err == nil {
			return nil
		}
		errs = append(errs, err.Error())
		if progress != nil && i+1 < len(r.bases) {
			fmt.Fprintf(progress, "data: %v; trying the next mirror\n", err)
		}
	}
	return fmt.Errorf("downloading %s failed: %s", file, strings.Join(errs, "; "))
}

// downloadOne fetches url into dst through a temporary file, checking sum.
func downloadOne(url, dst, sum string, progress io.Writer) (err error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h, want, err := parseSum(sum)
	if err != nil {
		return err
	}
	bar := newProgress(progress, filepath.Base(dst), resp.ContentLength)
	n, err := io.Copy(io.MultiWriter(f, h, bar), io.LimitReader(resp.Body, maxDownload+1))
	bar.finish(err == nil)
	if err != nil {
		return fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)
	}
	if n > maxDownload {
		return fmt.Errorf("GET %s: more than %d bytes", url, maxDownload)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("GET %s: checksum mismatch: %s %s, want %s (%d bytes)", url, algoOf(sum), got, want, n)
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}

// verifyFile checks the file at path against sum.
func verifyFile(path, sum string) error {
	h, want, err := parseSum(sum)
	if err != nil {
		return fmt.Errorf("data: %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("data: read %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return formatErr(path, "checksum mismatch: %s %s, want %s (damaged, or not the official file)", algoOf(sum), got, want)
	}
	return nil
}

// parseSum splits "sha256:<hex>" or "md5:<hex>" into a fresh hash and the
// expected hex digest.
func parseSum(sum string) (hash.Hash, string, error) {
	algo, want, _ := strings.Cut(sum, ":")
	switch algo {
	case "sha256":
		return sha256.New(), want, nil
	case "md5":
		return md5.New(), want, nil
	}
	return nil, "", fmt.Errorf("unknown checksum %q", sum)
}

func algoOf(sum string) string {
	algo, _, _ := strings.Cut(sum, ":")
	return algo
}
