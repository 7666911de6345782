// Package workers keeps a pool of goroutines for the engine's parallel
// loops (kernels' products, autodiff's batch parts) that stay awake for a
// moment after each task.
//
// A pass of a network is a few hundred parallel loops of 0.1–2 ms each,
// separated by short serial stretches. Starting each loop's goroutines
// afresh (or waking parked ones) goes through the runtime's wake-up chain,
// one idle processor after the other: on 16 cores a loop reached 15
// running goroutines only 0.2–0.3 ms after it began (execution traces of
// ResNet-20's HVP), a fifth of a typical loop. A helper here spins (with
// runtime.Gosched, so that it never keeps a runnable goroutine from a
// processor) for Spin after its task before it parks, so that the next
// loop finds it running.
package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Spin is how long an idle helper polls for a new task before it parks:
// longer than most serial stretches between two loops of a pass (median
// 0.05–0.1 ms), short against a pass.
const Spin = 200 * time.Microsecond

// helper is one pooled goroutine: task holds the function handed to it
// (nil while it waits), wake a token that rouses it once parked.
type helper struct {
	task atomic.Pointer[func()]
	wake chan struct{}
}

var (
	mu   sync.Mutex
	idle []*helper // helpers waiting for a task, the most recent last
	all  int       // helpers started
)

// maxHelpers is the most helpers kept; beyond it Go starts plain
// goroutines and TryGo declines.
func maxHelpers() int { return 4 * max(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// take returns an idle helper, or nil.
func take() *helper {
	mu.Lock()
	defer mu.Unlock()
	if n := len(idle); n > 0 {
		h := idle[n-1]
		idle = idle[:n-1]
		return h
	}
	return nil
}

// give hands f to h and rouses it if it has parked.
func give(h *helper, f func()) {
	h.task.Store(&f)
	select {
	case h.wake <- struct{}{}:
	default: // a token is already there: h will see the task
	}
}

// TryGo runs f on an idle helper, or on a new one while the pool has
// room, and reports true; it reports false without running f when every
// helper is busy and the pool is full (the caller then does the work
// itself).
func TryGo(f func()) bool {
	if h := take(); h != nil {
		give(h, f)
		return true
	}
	return grow(f)
}

// Go runs f on a helper (TryGo) or, when the pool is full, on a new
// goroutine: f always starts, whatever the other tasks are doing, so it
// may block on them.
func Go(f func()) {
	if !TryGo(f) {
		go f()
	}
}

// grow starts a new helper with f while the pool has room.
func grow(f func()) bool {
	mu.Lock()
	room := all < maxHelpers()
	if room {
		all++
	}
	mu.Unlock()
	if room {
		h := &helper{wake: make(chan struct{}, 1)}
		go h.loop(f)
	}
	return room
}

// loop runs f, then the tasks handed to h: after each it waits for the
// next, spinning for Spin, then parked.
func (h *helper) loop(f func()) {
	for {
		f()
		mu.Lock()
		idle = append(idle, h)
		mu.Unlock()
		p := h.task.Swap(nil)
		deadline := time.Now().Add(Spin)
		for i := 1; p == nil; i++ {
			if i%64 == 0 && time.Now().After(deadline) { // the clock read now and then: it cost as much as the yields
				break
			}
			runtime.Gosched()
			p = h.task.Swap(nil)
		}
		for p == nil {
			<-h.wake
			p = h.task.Swap(nil)
		}
		f = *p
	}
}

// Run calls f(i) for every i in [0, n) on up to procs goroutines, the
// caller included, and returns when all calls have returned. Indices are
// claimed by counter, and Run waits for the calls, not for the helpers: a
// helper that comes late (woken from its park after the caller and the
// others have claimed every index) finds nothing to do, and the loop has
// not waited for its wake-up. With every helper busy and the pool full the
// caller does everything. f must not block on other calls of f.
func Run(procs, n int, f func(i int)) {
	helpers := min(procs, n) - 1
	if helpers <= 0 {
		for i := range n {
			f(i)
		}
		return
	}
	var next, done atomic.Int64
	finished := make(chan struct{}) // closed by the call that completes the n-th
	work := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			f(i)
			if done.Add(1) == int64(n) {
				close(finished)
			}
		}
	}
	task := func() {
		atStart()
		work()
	}
	for range helpers {
		if !TryGo(task) {
			break
		}
	}
	work()
	<-finished
}

// helperStart, for tests, is called by each helper of Run before it claims
// an index (to hold one back).
var helperStart atomic.Pointer[func()]

// atStart calls helperStart's function, if a test has set one.
func atStart() {
	if h := helperStart.Load(); h != nil {
		(*h)()
	}
}
