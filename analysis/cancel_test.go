package analysis

import (
	"context"
	"errors"
	"testing"
)

func TestInterruptible(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	err := interruptible(func() error {
		for {
			stopIfDone(ctx)
			if steps++; steps == 3 {
				cancel()
			}
		}
	})
	if !errors.Is(err, context.Canceled) || steps != 3 {
		t.Errorf("got %v after %d steps, want context.Canceled after 3", err, steps)
	}
	want := errors.New("plain")
	if err := interruptible(func() error { return want }); err != want {
		t.Errorf("got %v, want f's own error", err)
	}
	defer func() {
		if r := recover(); r != "other" {
			t.Errorf("recovered %v, want the other panic to go on", r)
		}
	}()
	_ = interruptible(func() error { panic("other") })
}
