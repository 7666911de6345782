package workers

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunVisitsEveryIndexOnce(t *testing.T) {
	for _, c := range []struct{ procs, n int }{{1, 5}, {4, 0}, {4, 1}, {4, 3}, {3, 100}, {64, 1000}} {
		seen := make([]atomic.Int32, c.n)
		Run(c.procs, c.n, func(i int) { seen[i].Add(1) })
		for i := range seen {
			if got := seen[i].Load(); got != 1 {
				t.Fatalf("procs %d, n %d: index %d ran %d times", c.procs, c.n, i, got)
			}
		}
	}
}

// TestRunNested: a Run inside a Run's calls finishes (its caller does the
// work when no helper is free) and visits everything.
func TestRunNested(t *testing.T) {
	var total atomic.Int64
	Run(8, 16, func(i int) {
		Run(8, 50, func(j int) { total.Add(int64(i*50 + j)) })
	})
	if want := int64(16*50*(16*50-1)) / 2; total.Load() != want {
		t.Fatalf("sum of indices %d, want %d", total.Load(), want)
	}
}

// TestGoStartsEverything: tasks that wait for each other all start, more
// of them than the pool keeps helpers.
func TestGoStartsEverything(t *testing.T) {
	n := maxHelpers() + 5
	var started sync.WaitGroup
	started.Add(n)
	release := make(chan struct{})
	var done sync.WaitGroup
	done.Add(n)
	for range n {
		Go(func() {
			started.Done()
			<-release
			done.Done()
		})
	}
	started.Wait() // would hang if one had not started
	// Every helper is busy and the pool is full: TryGo declines.
	if TryGo(func() {}) {
		t.Error("TryGo ran a task with every helper busy and the pool full")
	}
	close(release)
	done.Wait()
}

// TestParkedHelpersWake: helpers idle for longer than Spin (parked) take
// the next tasks.
func TestParkedHelpersWake(t *testing.T) {
	for round := range 3 {
		var n atomic.Int32
		Run(4, 64, func(int) { n.Add(1) })
		if n.Load() != 64 {
			t.Fatalf("round %d: %d of 64 calls", round, n.Load())
		}
		time.Sleep(3 * Spin)
	}
	ran := make(chan struct{})
	if !TryGo(func() { close(ran) }) {
		t.Fatal("TryGo declined with parked helpers")
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a parked helper did not wake for its task")
	}
}
