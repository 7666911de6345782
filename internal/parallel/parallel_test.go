package parallel

import (
	"context"
	"sync/atomic"
	"testing"
)

func TestForVisitsEveryIndexOnce(t *testing.T) {
	for _, c := range []struct{ n, workers int }{{0, 2}, {1, 4}, {7, 3}, {100, 0}} {
		seen := make([]int32, c.n)
		var maxW int32 = -1
		var calls []int
		err := For(c.n, c.workers, nil, func(done, total int) {
			if total != c.n {
				t.Errorf("total %d, want %d", total, c.n)
			}
			calls = append(calls, done)
		}, func(w, i int) {
			atomic.AddInt32(&seen[i], 1)
			for {
				m := atomic.LoadInt32(&maxW)
				if int32(w) <= m || atomic.CompareAndSwapInt32(&maxW, m, int32(w)) {
					break
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range seen {
			if s != 1 {
				t.Errorf("n=%d: index %d done %d times", c.n, i, s)
			}
		}
		if int(maxW) >= Workers(c.workers, c.n) && c.n > 0 {
			t.Errorf("n=%d workers=%d: worker %d used", c.n, c.workers, maxW)
		}
		for k, d := range calls {
			if d != k+1 {
				t.Fatalf("progress calls %v, want 1, 2, …", calls)
			}
		}
	}
}

func TestForStopsWhenCanceled(t *testing.T) {
	cancel := make(chan struct{})
	var count atomic.Int32
	err := For(1000, 1, cancel, nil, func(w, i int) {
		if count.Add(1) == 5 {
			close(cancel)
		}
	})
	if err != context.Canceled || count.Load() != 5 {
		t.Errorf("got %v after %d calls, want context.Canceled after 5", err, count.Load())
	}
}
