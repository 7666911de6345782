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

// TestGroupDoesNotWaitForLateTasks: Wait returns once the tasks that have
// begun have returned, while another is held back before it begins; that
// one, released, never runs its function; and Wait waits for every task
// that has begun.
func TestGroupDoesNotWaitForLateTasks(t *testing.T) {
	waitIdle(t)
	release := make(chan struct{})
	var first atomic.Bool
	var held atomic.Int32
	hold := func() {
		if first.CompareAndSwap(false, true) {
			held.Add(1)
			<-release
		}
	}
	helperStart.Store(&hold)
	var once sync.Once
	unhold := func() { helperStart.Store(nil); once.Do(func() { close(release) }) }
	t.Cleanup(unhold)
	var g Group
	var ran atomic.Int32
	g.Go(func() { ran.Add(1) }) // held back
	for held.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	began, slow := make(chan struct{}), make(chan struct{})
	g.Go(func() { close(began); <-slow; ran.Add(1) })
	<-began
	returned := make(chan struct{})
	go func() {
		g.Wait()
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Wait returned while a task that had begun was still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(slow)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return while a task was held back before it began")
	}
	if got := ran.Load(); got != 1 {
		t.Fatalf("%d tasks ran when Wait returned, want 1", got)
	}
	unhold()
	waitIdle(t)
	if got := ran.Load(); got != 1 {
		t.Fatalf("%d tasks ran after the late one was released, want 1 (it began after Wait)", got)
	}

	// Every task that begins is waited for.
	var all Group
	var begun, done atomic.Int32
	for range 20 {
		all.Go(func() { begun.Add(1); time.Sleep(time.Millisecond); done.Add(1) })
	}
	for begun.Load() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	all.Wait()
	if b, d := begun.Load(), done.Load(); d != b {
		t.Fatalf("Wait returned with %d of %d begun tasks done", d, b)
	}
	waitIdle(t)
	if b, d := begun.Load(), done.Load(); d != b {
		t.Fatalf("a task began after Wait returned (%d begun, %d done)", b, d)
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

// BenchmarkGroup times back-to-back loops of BenchmarkRegions' 32 tasks
// in the shape of autodiff's batch reductions: procs tasks take indices
// from a counter, the caller waits for the last result, then for the
// tasks: a Group's Wait ("group", which drops tasks that have not begun)
// or a WaitGroup's ("waitall", every task, however late its helper). On
// the 2-core Xeon, three runs: 157–168 µs per loop against 188–200 µs at
// -cpu 16 (sixteen processors on the two cores, so that helpers often
// come late), 99–101 against 101–107 µs at -cpu 2:
//
//	go test -run '^$' -bench Group -cpu 2,16 ./internal/workers
func BenchmarkGroup(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	run := func(start func(func()), wait func()) {
		var next, done atomic.Int64
		last := make(chan struct{})
		for range procs {
			start(func() {
				for i := int(next.Add(1)) - 1; i < 32; i = int(next.Add(1)) - 1 {
					work(i)
					if done.Add(1) == 32 {
						close(last)
					}
				}
			})
		}
		<-last
		wait()
	}
	b.Run("group", func(b *testing.B) {
		for range b.N {
			var g Group
			run(g.Go, g.Wait)
		}
	})
	b.Run("waitall", func(b *testing.B) {
		for range b.N {
			var wg sync.WaitGroup
			run(func(f func()) { wg.Add(1); Go(func() { defer wg.Done(); f() }) }, wg.Wait)
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
