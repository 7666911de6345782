// Package sysmem tells how much memory this process may still allocate, so
// that a command can refuse a run that would not fit with an estimate
// instead of dying of an out-of-memory kill halfway. Pure Go: it reads
// Linux's /proc and cgroup files and the address-space limit (ulimit -v).
package sysmem

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Available returns the bytes this process can still allocate: the least
// of the machine's MemAvailable (/proc/meminfo), the room left under the
// cgroup's memory limit (memory.max − memory.current, cgroup v2), and the
// room left under the address-space limit (RLIMIT_AS − VmSize). ok is
// false when none of them can be read (another operating system): the
// caller should then not refuse anything.
func Available() (bytes uint64, ok bool) {
	bytes = math.MaxUint64
	if v, found := meminfo("/proc/meminfo", "MemAvailable"); found {
		bytes, ok = v, true
	}
	if lim, err1 := readUint("/sys/fs/cgroup/memory.max"); err1 == nil {
		if cur, err2 := readUint("/sys/fs/cgroup/memory.current"); err2 == nil {
			bytes, ok = min(bytes, sub(lim, cur)), true
		}
	}
	if lim, found := addressLimit(); found {
		if vm, found := meminfo("/proc/self/status", "VmSize"); found {
			bytes, ok = min(bytes, sub(lim, vm)), true
		}
	}
	return bytes, ok
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// meminfo reads "key: N kB" from a /proc file, in bytes.
func meminfo(path, key string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	return parseKB(b, key)
}

func parseKB(b []byte, key string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, found := strings.Cut(sc.Text(), ":")
		if !found || name != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		return v, true
	}
	return 0, false
}

// readUint reads a file holding one number ("max" is not one).
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// Check returns an error if need bytes do not fit in what Available
// reports, naming what needs them and both amounts; nil if they fit or the
// amount available is unknown.
func Check(what string, need uint64) error {
	avail, ok := Available()
	if !ok || need <= avail {
		return nil
	}
	about := "about "
	if need == math.MaxUint64 { // saturated: Bytes says "more than"
		about = ""
	}
	return fmt.Errorf("%s needs %s%s of memory, but only %s is available", what, about, Bytes(need), Bytes(avail))
}

// Round returns the byte count f, an estimate worked out in float64,
// rounded down, and math.MaxUint64 where it does not fit in a uint64 (a
// flag's huge count times a size): an estimate must not wrap around to a
// small one.
func Round(f float64) uint64 {
	if !(f < math.MaxUint64) { // NaN too
		return math.MaxUint64
	}
	return uint64(max(f, 0))
}

// Bytes formats n as "1.5 GiB", "320 MiB" and so on; math.MaxUint64,
// where Round saturates, as "more than 16 EiB".
func Bytes(n uint64) string {
	if n == math.MaxUint64 {
		return "more than 16 EiB"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n), 0
	for v >= unit && exp < 6 {
		v /= unit
		exp++
	}
	return fmt.Sprintf("%.3g %ciB", v, "KMGTPE"[exp-1])
}
