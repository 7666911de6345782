package workers

import (
	"runtime"
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
	waitIdle(t)
	mu.Lock()
	n := max(maxHelpers(), all) + 5 // more than the helpers there are or may be
	mu.Unlock()
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

// waitIdle waits until every helper the earlier tests started is back in
// the pool (one may still be on its way from its last task).
func waitIdle(t *testing.T) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		settled := len(idle) == all
		mu.Unlock()
		if settled {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("helpers still busy 10 s after the earlier tests")
		}
	}
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
	waitIdle(t)
	time.Sleep(3 * Spin) // parked now
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

// TestRunDoesNotWaitForLateHelpers: Run returns once every index has
// run, while helpers it handed the loop to are still held back (parked
// ones waking late) before they claim any; they then find nothing left.
func TestRunDoesNotWaitForLateHelpers(t *testing.T) {
	waitIdle(t)
	var held atomic.Int32
	release := make(chan struct{})
	hold := func() {
		held.Add(1)
		<-release
	}
	helperStart.Store(&hold)
	var calls atomic.Int32
	returned := make(chan struct{})
	go func() {
		Run(4, 64, func(int) { calls.Add(1) })
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return while its helpers were held back before claiming an index")
	}
	if calls.Load() != 64 {
		t.Fatalf("%d of 64 calls when Run returned", calls.Load())
	}
	for held.Load() < 3 { // the three helpers reach the hook
		time.Sleep(time.Millisecond)
	}
	helperStart.Store(nil)
	close(release)
	waitIdle(t)
	if calls.Load() != 64 {
		t.Fatalf("%d calls after the late helpers ran, want 64", calls.Load())
	}
}

// BenchmarkRegions times back-to-back parallel loops of 32 short tasks
// (about 6 µs each), the shape of a pass's batch loops: through Run
// ("pool") and with goroutines started for each loop ("spawn", what the
// engine did before this package). On many cores the spawned goroutines
// reach their processors one wake-up after another. On the 2-core Xeon,
// the two alternating, six runs each: 112–130 µs per loop through Run,
// 118–142 µs spawned, of 179–189 µs of work (-cpu 1); a first set of
// three runs had given 99 against 145–155 µs, so the machine's noise is
// as large as the difference there. Once Run stopped waiting for helpers
// that come after the work is done, four alternations of the two builds
// gave 92–109 µs per loop against 106–119 µs (-cpu 2) and 168–180 against
// 182–194 µs (-cpu 16: sixteen processors on the two cores, so that
// helpers often come late):
//
//	go test -run '^$' -bench Regions -cpu 2,16 ./internal/workers
func BenchmarkRegions(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	b.Run("pool", func(b *testing.B) {
		for range b.N {
			Run(procs, 32, work)
		}
	})
	b.Run("spawn", func(b *testing.B) {
		for range b.N {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range min(procs, 32) {
				wg.Go(func() {
					for i := int(next.Add(1)) - 1; i < 32; i = int(next.Add(1)) - 1 {
						work(i)
					}
				})
			}
			wg.Wait()
		}
	})
}

// work is the benchmarks' task: about 6 µs of arithmetic.
func work(i int) {
	x := float64(i)
	for range 2000 {
		x = x*0.999 + 1
	}
	sink.Add(int64(x))
}

var sink atomic.Int64
