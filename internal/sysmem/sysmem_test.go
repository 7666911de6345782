package sysmem

import (
	"math"
	"runtime"
	"strings"
	"testing"
)

func TestParseKB(t *testing.T) {
	b := []byte("MemTotal:       24683784 kB\nMemFree:        12326964 kB\nMemAvailable:   19652480 kB\nHugePages_Total:       0\n")
	for _, c := range []struct {
		key  string
		want uint64
		ok   bool
	}{
		{"MemAvailable", 19652480 * 1024, true},
		{"HugePages_Total", 0, true},
		{"MemAvail", 0, false},
		{"Missing", 0, false},
	} {
		if got, ok := parseKB(b, c.key); got != c.want || ok != c.ok {
			t.Errorf("%s: %d %v, want %d %v", c.key, got, ok, c.want, c.ok)
		}
	}
}

func TestAvailable(t *testing.T) {
	avail, ok := Available()
	if runtime.GOOS == "linux" && (!ok || avail == 0) {
		t.Fatalf("Available() = %d, %v on Linux", avail, ok)
	}
	if err := Check("nothing", 0); err != nil {
		t.Errorf("0 bytes: %v", err)
	}
	if ok {
		err := Check("the run", avail+1<<40)
		if err == nil || !strings.Contains(err.Error(), "the run needs about") || !strings.Contains(err.Error(), "available") {
			t.Errorf("a terabyte too many: %v", err)
		}
	}
	t.Logf("available: %s", Bytes(avail))
}

// TestRound: byte counts worked out in float64 round down, and those past
// a uint64 (or NaN) saturate instead of wrapping around.
func TestRound(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want uint64
	}{{0, 0}, {-3, 0}, {1.9, 1}, {1 << 40, 1 << 40}, {1e30, math.MaxUint64}, {math.Inf(1), math.MaxUint64}, {math.NaN(), math.MaxUint64}} {
		if got := Round(c.f); got != c.want {
			t.Errorf("Round(%g) = %d, want %d", c.f, got, c.want)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536 << 20: "1.5 GiB", 6_400_000_000: "5.96 GiB", math.MaxUint64: "more than 16 EiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
