package hessian_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"hesscope/dist"
	"hesscope/dist/disttest"
	"hesscope/hessian"
	"hesscope/linop"
	"hesscope/models"
	"hesscope/nn"
)

// TestMain ends MPI once the tests are done (in a build with -tags mpi every
// rank must; without MPI it does nothing).
func TestMain(m *testing.M) {
	code := m.Run()
	dist.Finalize()
	os.Exit(code)
}

// TestMPIParams runs on every rank of a real MPI job: scripts/cluster_test.sh
// builds the test binary with -tags mpi and starts it with 'mpirun -np 2'
// (and srun) with HESSCOPE_TEST_RANKS set to the number of ranks; plain
// 'go test' skips it. The Hessian-vector product and the top two
// eigenvalues of LeNet-5 (float64) over 32 images, each rank streaming its
// shard, must equal the one-process ones to 1e-12 relative and be the same
// bits on every rank.
func TestMPIParams(t *testing.T) {
	c := disttest.MPIWorld(t)
	net, err := models.New[float64]("lenet5", models.Config{Classes: 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	const n = 32
	x := make([]float32, n*28*28)
	for i := range x {
		x[i] = rng.Float32()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	full := hessian.NewFloat32Data[float64](x, y, [3]int{1, 28, 28}, 8)
	v := make([]float64, net.NumParams())
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	type result struct {
		hv   []float64
		loss float64
		eig  []float64
	}
	compute := func(comm dist.Comm, d hessian.Data[float64]) result {
		op := hessian.NewParams[float64](net, d, nn.Eval, nil)
		op.Comm = comm
		r := result{hv: make([]float64, op.Dim())}
		op.Apply(r.hv, v)
		r.loss = op.Loss
		// 16 products: converged or not, the same on any number of ranks.
		e, err := linop.Lanczos(op, linop.Largest, linop.LanczosOptions{K: 2, Tol: 1e-8, MaxIter: 16, Seed: 1})
		if err != nil && !errors.As(err, new(*linop.NotConvergedError)) {
			t.Error(err)
		}
		r.eig = e.Values
		return r
	}
	got := compute(c, full.Shard(c.Rank(), c.Size()))

	// The same bits on every rank: compare with rank 0's.
	for _, s := range [][]float64{got.hv, got.eig, {got.loss}} {
		root := append([]float64(nil), s...)
		dist.BcastFloats(c, root, 0)
		for i := range s {
			if math.Float64bits(s[i]) != math.Float64bits(root[i]) {
				t.Fatalf("rank %d: element %d is %v, rank 0's %v", c.Rank(), i, s[i], root[i])
			}
		}
	}
	if c.Rank() != 0 {
		return
	}
	ref := compute(nil, full)
	var d, s float64
	for i := range ref.hv {
		d, s = max(d, math.Abs(got.hv[i]-ref.hv[i])), max(s, math.Abs(ref.hv[i]))
	}
	t.Logf("%d ranks vs one process: HVP max relative difference %.3g, loss %.3g", c.Size(), d/s, math.Abs(got.loss-ref.loss)/ref.loss)
	if d > 1e-12*s || math.Abs(got.loss-ref.loss) > 1e-12*ref.loss {
		t.Errorf("HVP differs by %.3g (scale %.3g), loss %v vs %v", d, s, got.loss, ref.loss)
	}
	for i := range ref.eig {
		rel := math.Abs(got.eig[i]-ref.eig[i]) / math.Abs(ref.eig[i])
		t.Logf("λ%d = %.15g on %d ranks, %.15g on one: relative difference %.3g", i+1, got.eig[i], c.Size(), ref.eig[i], rel)
		if rel > 1e-12 {
			t.Errorf("λ%d differs by %.3g relative", i+1, rel)
		}
	}
}
