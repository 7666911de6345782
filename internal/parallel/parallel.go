// Package parallel runs independent pieces of work — grid points, images,
// sub-batches — on a bounded number of goroutines, with progress reports and
// cancellation, for the analysis packages.
package parallel

import (
	"context"
	"runtime"
	"sync"
)

// For calls do(w, i) for every i in [0, n), handing the indices out in
// increasing order to min(workers, n) goroutines (workers ≤ 0: GOMAXPROCS).
// w in [0, Workers(workers, n)) names the goroutine making the call, so that
// callers can keep per-goroutine state in a slice. After each call, progress
// (if not nil) gets the number done so far and n, one call at a time. Once
// cancel (if not nil) is closed no further index is started, and For returns
// context.Canceled after the calls under way have finished.
func For(n, workers int, cancel <-chan struct{}, progress func(done, total int), do func(w, i int)) error {
	var (
		mu         sync.Mutex
		next, done int
		wg         sync.WaitGroup
	)
	for w := range Workers(workers, n) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n || Canceled(cancel) {
					return
				}
				do(w, i)
				mu.Lock()
				done++
				if progress != nil {
					progress(done, n)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if Canceled(cancel) {
		return context.Canceled
	}
	return nil
}

// Workers is the number of goroutines For uses: workers (GOMAXPROCS when
// ≤ 0), at most n.
func Workers(workers, n int) int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return min(workers, n)
}

// Canceled reports whether c is closed (never for nil).
func Canceled(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
