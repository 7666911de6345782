package disttest

import (
	"testing"

	"hesscope/dist"
)

func TestRun(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		got := make([][]float64, n)
		Run(n, func(c dist.Comm) {
			for round := range 50 {
				b := []float64{float64(c.Rank()), float64(round)}
				c.AllreduceFloat64(b)
				if round == 49 {
					got[c.Rank()] = b
				}
				m := []byte{byte(c.Rank())}
				c.Bcast(m, n-1)
				if m[0] != byte(n-1) {
					t.Errorf("n=%d rank %d: Bcast gave %d", n, c.Rank(), m[0])
				}
				c.Barrier()
			}
		})
		for r, b := range got {
			if b[0] != float64(n*(n-1)/2) || b[1] != float64(49*n) {
				t.Errorf("n=%d rank %d: sums %v", n, r, b)
			}
		}
	}
}
