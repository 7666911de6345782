package hessian

import (
	"errors"
	"testing"
	"time"

	"hesscope/data"
	"hesscope/dist"
	"hesscope/linop"
	"hesscope/models"
	"hesscope/nn"
)

// BenchmarkMPITopEigen times the top eigenvalue of LeNet-5's Hessian over
// the first 10,000 MNIST training images (float32, chunks of 256, a fixed
// 8 Lanczos steps), each rank streaming its shard: the README's scaling
// measurement. Run it as 1 and 2 ranks of one thread each, e.g.
//
//	CC=mpicc go test -tags mpi -c -o hessian.test ./hessian
//	GOMAXPROCS=1 mpirun -np 2 ./hessian.test -test.run '^$' -test.bench MPITopEigen -test.benchtime 1x
//
// (a count, not a duration: every rank must make the same calls). It
// reports per rank the wall seconds and the processor seconds (cpu-s) per
// HVP, all-reduce included, and the eigenvalue; on a machine shared with
// other work the processor seconds are the steadier measure.
func BenchmarkMPITopEigen(b *testing.B) {
	c, err := dist.World()
	if err != nil {
		b.Fatal(err)
	}
	d, err := data.Load("mnist", "train", data.Options{})
	if err != nil {
		b.Skip(err)
	}
	d = d.Subset(10000)
	net, err := models.New[float32]("lenet5", models.Config{Classes: 10, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	full := NewFloat32Data[float32](d.X, d.Y, [3]int{d.C, d.H, d.W}, 256)
	const steps = 8
	for range b.N {
		op := NewParams[float32](net, full.Shard(c.Rank(), c.Size()), nn.Eval, nil)
		op.Comm = c
		c.Barrier()
		start, cpu := time.Now(), cpuSeconds()
		e, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 1, Tol: 1e-12, MaxIter: steps, Seed: 1})
		if err != nil && !errors.As(err, new(*linop.NotConvergedError)) {
			b.Fatal(err)
		}
		sec, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu
		b.ReportMetric(sec/float64(op.HVPs), "s/HVP")
		b.ReportMetric(cpu/float64(op.HVPs), "cpu-s/HVP")
		b.ReportMetric(e.Values[0], "λ1")
		b.ReportMetric(float64(c.Size()), "ranks")
	}
}
