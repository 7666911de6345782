// Package disttest runs a function as the ranks of an in-process job, for
// testing code written against dist.Comm without MPI: the ranks are
// goroutines and the collectives meet in shared memory, adding the ranks'
// buffers in rank order.
package disttest

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"hesscope/dist"
)

// Run calls f once per rank of a world of n, concurrently, and returns when
// all have returned. A panic in a rank is re-raised by Run once the others
// are done or blocked (then Run does not return: use it only in tests that
// would fail anyway).
func Run(n int, f func(c dist.Comm)) {
	w := &world{n: n, cond: sync.NewCond(new(sync.Mutex))}
	var wg sync.WaitGroup
	errs := make(chan any, n)
	for r := range n {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs <- fmt.Sprintf("rank %d: %v", r, p)
				}
			}()
			f(&comm{w: w, rank: r})
		})
	}
	wg.Wait()
	close(errs)
	for p := range errs {
		panic(p)
	}
}

// world is the meeting point: each collective is a round in which every
// rank deposits its buffer, the last one to arrive computes the result, and
// all copy it out before the next round may start.
type world struct {
	n       int
	cond    *sync.Cond
	round   int
	arrived int
	left    int
	in      []any
	out     any
}

type comm struct {
	w    *world
	rank int
}

func (c *comm) Rank() int { return c.rank }
func (c *comm) Size() int { return c.w.n }

// collective deposits buf, lets the last arrival compute the result from
// all deposits (in rank order), and hands it to read.
func (c *comm) collective(buf any, combine func(in []any) any, read func(out any)) {
	w := c.w
	w.cond.L.Lock()
	defer w.cond.L.Unlock()
	for w.left > 0 { // the previous round is still being read
		w.cond.Wait()
	}
	if w.in == nil {
		w.in = make([]any, w.n)
	}
	w.in[c.rank] = buf
	w.arrived++
	round := w.round
	if w.arrived == w.n {
		w.out = combine(w.in)
		w.arrived, w.left, w.in = 0, w.n, nil
		w.round++
		w.cond.Broadcast()
	}
	for w.round == round {
		w.cond.Wait()
	}
	read(w.out)
	w.left--
	if w.left == 0 {
		w.cond.Broadcast()
	}
}

func sum[T float32 | float64](in []any) any {
	out := append([]T(nil), in[0].([]T)...)
	for _, b := range in[1:] {
		for i, v := range b.([]T) {
			out[i] += v
		}
	}
	return out
}

func (c *comm) AllreduceFloat64(buf []float64) {
	c.collective(buf, sum[float64], func(out any) { copy(buf, out.([]float64)) })
}

func (c *comm) AllreduceFloat32(buf []float32) {
	c.collective(buf, sum[float32], func(out any) { copy(buf, out.([]float32)) })
}

func (c *comm) Bcast(buf []byte, root int) {
	c.collective(buf, func(in []any) any { return append([]byte(nil), in[root].([]byte)...) }, func(out any) { copy(buf, out.([]byte)) })
}

func (c *comm) Barrier() { c.collective(nil, func([]any) any { return nil }, func(any) {}) }

func (c *comm) Abort(code int) {
	panic(fmt.Sprintf("disttest: rank %d aborted the job with status %d", c.rank, code))
}

// MPIWorld returns the world of a real MPI job for a test that runs on
// every rank: scripts/cluster_test.sh builds the test binary with -tags mpi
// and starts it under mpirun or srun with HESSCOPE_TEST_RANKS set to the
// number of ranks. Without that variable (plain 'go test') the test is
// skipped; a world of another size fails it.
func MPIWorld(t testing.TB) dist.Comm {
	t.Helper()
	want, _ := strconv.Atoi(os.Getenv("HESSCOPE_TEST_RANKS"))
	if want == 0 {
		t.Skip("run under mpirun by scripts/cluster_test.sh (HESSCOPE_TEST_RANKS unset)")
	}
	c, err := dist.World()
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != want {
		t.Fatalf("world of %d ranks, want %d (MPI build: %v)", c.Size(), want, dist.MPI)
	}
	return c
}
