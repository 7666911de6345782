package data

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports the bytes of a download as they are written to it: on a
// terminal a bar redrawn in place at most five times a second, elsewhere a
// plain line every 10% (every 16 MiB when the size is unknown). Its methods
// do nothing when w is nil.
type progress struct {
	w     io.Writer
	name  string
	total int64 // -1 when unknown
	n     int64
	tty   bool
	start time.Time
	last  time.Time // of the last redraw on a terminal
	next  int64     // the byte count of the next plain line
}

func newProgress(w io.Writer, name string, total int64) *progress {
	p := &progress{w: w, name: name, total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	p.next = p.step()
	return p
}

// step is the byte interval between plain lines.
func (p *progress) step() int64 {
	if p.total > 0 {
		return max(p.total/10, 1)
	}
	return 16 << 20
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if p.w == nil {
		return len(b), nil
	}
	now := time.Now()
	switch {
	case p.tty && now.Sub(p.last) >= 200*time.Millisecond:
		p.last = now
		fmt.Fprintf(p.w, "\r%s\033[K", p.line(now))
	case !p.tty && p.n >= p.next && (p.total <= 0 || p.n < p.total):
		fmt.Fprintf(p.w, "data: %s\n", p.line(now))
		for p.next <= p.n {
			p.next += p.step()
		}
	}
	return len(b), nil
}

// finish writes the final report: the whole size and the mean rate if ok.
func (p *progress) finish(ok bool) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\033[K\n", p.line(now))
	} else if ok {
		fmt.Fprintf(p.w, "data: %s in %.1fs\n", p.line(now), now.Sub(p.start).Seconds())
	}
}

// line is "name  12.3 MiB / 162.2 MiB  7.6%  5.1 MiB/s".
func (p *progress) line(now time.Time) string {
	s := fmt.Sprintf("%s  %s", p.name, byteSize(p.n))
	if p.total > 0 {
		s += fmt.Sprintf(" / %s  %5.1f%%", byteSize(p.total), 100*float64(p.n)/float64(p.total))
	}
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		s += fmt.Sprintf("  %s/s", byteSize(int64(float64(p.n)/secs)))
	}
	return s
}

// byteSize formats n bytes as "512 B", "4.4 KiB", "162.2 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
