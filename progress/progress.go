// Package progress reports the progress of long work on a terminal: a bar
// with a count, rate, ETA and a short status, redrawn in place on a
// terminal and printed as plain lines at most every few seconds elsewhere,
// so that logs stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar reports the progress of Total steps of work. A nil *Bar does nothing,
// so callers need not check whether progress is wanted. Methods are safe for
// concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int
	done     int
	status   string
	start    time.Time
	last     time.Time
	terminal bool
	interval time.Duration
	now      func() time.Time
	capped   bool // total is a cap, not the amount of work
}

// New starts a bar labelled label over total steps writing to w (usually
// os.Stderr). It returns nil if w is nil.
func New(w io.Writer, label string, total int) *Bar {
	if w == nil {
		return nil
	}
	b := &Bar{w: w, label: label, total: total, now: time.Now, interval: 5 * time.Second}
	b.terminal = IsTerminal(w)
	if b.terminal {
		b.interval = 100 * time.Millisecond
	}
	b.start = b.now()
	b.last = b.start
	return b
}

// NewCapped starts a display of work that stops when it is done, at most
// after limit steps — an iterative solver that stops once it has converged:
// it shows the steps done, the cap, the time elapsed and the status (say,
// the residual against the tolerance), and no percentage or ETA, which the
// cap would make up. It returns nil if w is nil.
func NewCapped(w io.Writer, label string, limit int) *Bar {
	b := New(w, label, limit)
	if b != nil {
		b.capped = true
	}
	return b
}

// IsTerminal reports whether w is a character device such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add records n more steps done and, optionally, a new status text (such as
// "loss 0.213 acc 93.1%"); an empty status keeps the previous one.
func (b *Bar) Add(n int, status string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if status != "" {
		b.status = status
	}
	if t := b.now(); t.Sub(b.last) >= b.interval || b.done >= b.total && !b.capped {
		b.last = t
		b.draw(false)
	}
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish(status string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if status != "" {
		b.status = status
	}
	b.draw(true)
}

func (b *Bar) draw(final bool) {
	elapsed := b.now().Sub(b.start)
	frac := 0.0
	if b.total > 0 {
		frac = float64(b.done) / float64(b.total)
	}
	eta := "?"
	if b.done > 0 && frac > 0 {
		eta = fmtDuration(time.Duration(float64(elapsed) * (1 - frac) / frac))
	}
	line := fmt.Sprintf("%s %d/%d %3.0f%% %s elapsed, ETA %s", b.label, b.done, b.total, 100*frac, fmtDuration(elapsed), eta)
	switch {
	case final && b.capped:
		line = fmt.Sprintf("%s %d done in %s", b.label, b.done, fmtDuration(elapsed))
	case final:
		line = fmt.Sprintf("%s %d/%d done in %s", b.label, b.done, b.total, fmtDuration(elapsed))
	case b.capped:
		line = fmt.Sprintf("%s %d (at most %d), %s elapsed", b.label, b.done, b.total, fmtDuration(elapsed))
	}
	if b.status != "" {
		line += "  " + b.status
	}
	if b.terminal && b.capped {
		fmt.Fprintf(b.w, "\r\x1b[K%s", line)
		if final {
			fmt.Fprintln(b.w)
		}
		return
	}
	if b.terminal {
		const width = 24
		n := int(frac * width)
		bar := "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] "
		fmt.Fprintf(b.w, "\r\x1b[K%s%s", bar, line)
		if final {
			fmt.Fprintln(b.w)
		}
		return
	}
	fmt.Fprintln(b.w, line)
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	if d < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
