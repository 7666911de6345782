package train

import (
	"bytes"
	"context"
	"math"
	"os"
	"testing"

	"hesscope/dist"
	"hesscope/dist/disttest"
)

// TestMain ends MPI once the tests are done (in a build with -tags mpi every
// rank must; without MPI it does nothing).
func TestMain(m *testing.M) {
	code := m.Run()
	dist.Finalize()
	os.Exit(code)
}

// TestMPITrain runs on every rank of a real MPI job (scripts/cluster_test.sh
// builds the test binary with -tags mpi and starts it with 'mpirun -np 2'
// and srun, HESSCOPE_TEST_RANKS set to the number of ranks; plain 'go test'
// skips it): four data-parallel steps of LeNet-5 (float64, global batch 16,
// micro-batches of 4) into a folder all ranks share, against the
// one-process run of the same configuration made by rank 0.
func TestMPITrain(t *testing.T) {
	c := disttest.MPIWorld(t)
	// Rank 0 makes the folders and tells the others where.
	path := make([]byte, 1024)
	var base string
	if c.Rank() == 0 {
		var err error
		base, err = os.MkdirTemp("", "hesscope-mpi-train")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(base)
		copy(path, base)
	}
	c.Bcast(path, 0)
	base = string(bytes.TrimRight(path, "\x00"))
	config := func(dir string, comm dist.Comm) (Config, Options) {
		cfg := Config{Model: "lenet5", Dataset: "synthetic", Precision: "float64", Epochs: 1, BatchSize: 16, MicroBatch: 4,
			LR: 0.05, Momentum: 0.9, WeightDecay: 5e-4, TrackEvery: 1, TrackSamples: 16, TrackIters: 4, Out: dir, Seed: 2}
		return cfg, Options{Train: mnistLike(64, 8), Test: mnistLike(16, 9), Comm: comm}
	}
	cfg, opt := config(base+"/ranks", c)
	sum, err := Run(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 4 {
		t.Errorf("%d steps, want 4", sum.Steps)
	}
	c.Barrier()
	if c.Rank() != 0 {
		return
	}
	cfg, opt = config(base+"/one", nil)
	if _, err := Run(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	got, ref := paramValues(t, base+"/ranks"), paramValues(t, base+"/one")
	var d, s float64
	for i := range ref {
		d, s = max(d, math.Abs(got[i]-ref[i])), max(s, math.Abs(ref[i]))
	}
	gm, _ := metricsWithoutTime(t, base+"/ranks")
	rm, _ := metricsWithoutTime(t, base+"/one")
	t.Logf("%d ranks vs one process after 4 steps: max |Δθ| %.3g (largest |θ| %.3g); train loss %.17g vs %.17g; λmax %.17g vs %.17g",
		c.Size(), d, s, gm[0].TrainLoss, rm[0].TrainLoss, *gm[0].TopEigenvalue, *rm[0].TopEigenvalue)
	if d > 1e-12*s {
		t.Errorf("weights differ by %.3g (scale %.3g)", d, s)
	}
	if math.Abs(gm[0].TrainLoss-rm[0].TrainLoss) > 1e-12*rm[0].TrainLoss || math.Abs(*gm[0].TopEigenvalue-*rm[0].TopEigenvalue) > 1e-9*math.Abs(*rm[0].TopEigenvalue) {
		t.Errorf("metrics differ: %+v vs %+v", gm[0], rm[0])
	}
}
