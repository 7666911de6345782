package autodiff

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"
)

// TestReduceParts: reduceParts adds the parts' partial sums into the
// destinations in part order, bit for bit as a serial loop over the parts
// does, for any GOMAXPROCS, with parts that finish out of order (some
// sleep), a nil destination, and sums small enough for spare buffers and
// too large for them (reduceSpares).
func TestReduceParts(t *testing.T) {
	// term is image i's contribution to element j: magnitudes from 1e-3 to
	// 1e5, so that float32 sums depend on their order.
	term := func(i, j int) float32 {
		return float32(math.Pow(10, float64((i*7+j*3)%9-3))) * float32(1-2*((i+j)%2))
	}
	for _, c := range []struct{ n, size int }{{5, 1000}, {32, 1000}, {128, 37}, {32, 1<<20 + 5}} {
		body := func(partials [][]float32, lo, hi int) {
			if c.size < 1<<20 && lo%3 == 0 {
				time.Sleep(time.Duration(lo%4) * 200 * time.Microsecond)
			}
			for i := lo; i < hi; i++ {
				// The large sums get terms in their first and last
				// thousand elements (the rest stay zero, added all the same).
				p := partials[0]
				for j := 0; j < len(p); j++ {
					if j == 1000 && len(p) > 2000 {
						j = len(p) - 1000
					}
					p[j] += term(i, j)
				}
				for j := range partials[2] {
					partials[2][j] += term(i, j+5)
				}
			}
		}
		fresh := func() [][]float32 {
			a, b := make([]float32, c.size), make([]float32, 17)
			for j := range a {
				a[j] = float32(j)
			}
			return [][]float32{a, nil, b}
		}
		// The serial loop over the parts.
		want := fresh()
		parts := numParts(c.n)
		for k := 0; k < parts; k++ {
			lo, hi := partRange(c.n, parts, k)
			ps := [][]float32{make([]float32, c.size), nil, make([]float32, 17)}
			body(ps, lo, hi)
			for d := range want {
				for j := range want[d] {
					want[d][j] += ps[d][j]
				}
			}
		}
		for _, procs := range []int{1, 2, 3, 8} {
			t.Run(fmt.Sprintf("n%d-size%d-procs%d", c.n, c.size, procs), func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				for rep := 0; rep < 3; rep++ {
					got := fresh()
					reduceParts(c.n, got, body)
					for d := range want {
						if got[d] == nil {
							continue
						}
						for j := range want[d] {
							if math.Float32bits(got[d][j]) != math.Float32bits(want[d][j]) {
								t.Fatalf("run %d: dsts[%d][%d] = %v, want %v (parts in order)", rep, d, j, got[d][j], want[d][j])
							}
						}
					}
				}
			})
		}
	}
}
