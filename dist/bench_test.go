package dist_test

import (
	"testing"

	"hesscope/dist"
	"hesscope/models"
)

// BenchmarkAllreduce times the all-reduce of one zoo model's parameter
// vector in float64, as every sharded HVP and data-parallel step does.
// Meaningful under MPI: build with CC=mpicc go test -tags mpi -c ./dist and
// run 'mpirun -np 2 ./dist.test -test.run ^$ -test.bench Allreduce
// -test.benchtime 50x' (a count, not a duration: every rank must make the
// same number of calls).
func BenchmarkAllreduce(b *testing.B) {
	c, err := dist.World()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range models.Names() {
		net, err := models.New[float32](name, models.Config{Classes: 10, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]float64, net.NumParams())
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(8 * len(buf)))
			c.Barrier()
			b.ResetTimer()
			for range b.N {
				c.AllreduceFloat64(buf)
			}
			b.StopTimer()
			c.Barrier()
		})
	}
}
