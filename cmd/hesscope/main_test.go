package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestWatchdog: after an interrupt the watchdog restores the default signal
// handling at once and exits with 130 after the grace period.
func TestWatchdog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan bool, 1)
	code := make(chan int, 1)
	var stderr bytes.Buffer
	go watchdog(ctx, func() { stopped <- true }, 50*time.Millisecond, &stderr, func(c int) { code <- c })
	select {
	case <-stopped:
		t.Fatal("signal handling restored before the interrupt")
	case <-time.After(20 * time.Millisecond):
	}
	start := time.Now()
	cancel()
	<-stopped
	if c := <-code; c != 130 || time.Since(start) < 50*time.Millisecond || stderr.String() != "hesscope: interrupted; still busy after 50ms, exiting\n" {
		t.Errorf("exit %d after %v, stderr %q", c, time.Since(start), stderr.String())
	}
}
