package progress

import (
	"strings"
	"testing"
	"time"
)

func TestPlainLinesOffTerminal(t *testing.T) {
	var sb strings.Builder
	b := New(&sb, "lanczos", 10)
	clock := b.start
	b.now = func() time.Time { return clock }
	for i := 0; i < 10; i++ {
		clock = clock.Add(time.Second)
		b.Add(1, "λ 12.5")
	}
	b.Finish("")
	got := sb.String()
	if strings.Contains(got, "\r") {
		t.Errorf("carriage return off a terminal: %q", got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	// A line at 5 s, one at 10 s when the total is reached, one at Finish.
	if len(lines) != 3 {
		t.Errorf("%d lines, want 3:\n%s", len(lines), got)
	}
	if !strings.Contains(lines[0], "lanczos 5/10  50% 5s elapsed, ETA 5s  λ 12.5") {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.Contains(lines[len(lines)-1], "10/10 done in 10s") {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
}

func TestNilBarIsQuiet(t *testing.T) {
	var b *Bar = New(nil, "x", 3)
	b.Add(1, "")
	b.Finish("")
}

// TestCapped: work with a cap shows what is done and the cap, never a
// percentage or an ETA, and ends at the count reached.
func TestCapped(t *testing.T) {
	var sb strings.Builder
	b := NewCapped(&sb, "top eigenvalues (HVPs)", 100)
	clock := b.start
	b.now = func() time.Time { return clock }
	for i := 0; i < 14; i++ {
		clock = clock.Add(time.Second)
		b.Add(1, "residual 3.1e-04 > 1.2e-05")
	}
	b.Finish("converged")
	lines := strings.Split(strings.TrimSpace(sb.String()), "\n")
	want := []string{
		"top eigenvalues (HVPs) 5 (at most 100), 5s elapsed  residual 3.1e-04 > 1.2e-05",
		"top eigenvalues (HVPs) 10 (at most 100), 10s elapsed  residual 3.1e-04 > 1.2e-05",
		"top eigenvalues (HVPs) 14 done in 14s  converged",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(sb.String(), "ETA") || strings.Contains(sb.String(), "%") {
		t.Errorf("a capped display shows an ETA or a percentage:\n%s", sb.String())
	}
}
