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
