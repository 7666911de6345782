package dist

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestShard(t *testing.T) {
	for _, c := range []struct {
		n, size int
		want    [][2]int
	}{
		{10, 1, [][2]int{{0, 10}}},
		{10, 2, [][2]int{{0, 5}, {5, 10}}},
		{10, 3, [][2]int{{0, 3}, {3, 6}, {6, 10}}},
		{2, 4, [][2]int{{0, 0}, {0, 1}, {1, 1}, {1, 2}}},
	} {
		for r, w := range c.want {
			if lo, hi := Shard(c.n, r, c.size); lo != w[0] || hi != w[1] {
				t.Errorf("Shard(%d, %d, %d) = [%d, %d), want [%d, %d)", c.n, r, c.size, lo, hi, w[0], w[1])
			}
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		size int
		want string // "" for no error
	}{
		{nil, 1, ""},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "2"}, 2, ""},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "2"}, 1, "the launcher started 2 processes (OMPI_COMM_WORLD_SIZE=2) but test sees a world of 1"},
		{map[string]string{"PMI_SIZE": "4"}, 1, "PMI_SIZE=4"},
		{map[string]string{"SLURM_STEP_NUM_TASKS": "3"}, 2, "SLURM_STEP_NUM_TASKS=3"},
		{map[string]string{"SLURM_NTASKS": "4"}, 1, ""}, // a batch script: one process until srun
		{map[string]string{"PMI_SIZE": "x"}, 1, `PMI_SIZE="x": want a number`},
	} {
		err := check(c.size, "test", func(k string) string { return c.env[k] })
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v, size %d: %v", c.env, c.size, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v, size %d: error %v, want one containing %q", c.env, c.size, err, c.want)
		}
	}
}

// TestWorld runs on every rank of whatever job started the test binary:
// scripts/cluster_test.sh runs it under 'mpirun -np 2' (and srun) with
// HESSCOPE_TEST_RANKS=2; plain 'go test' is one process.
func TestWorld(t *testing.T) {
	want := 1
	if s := os.Getenv("HESSCOPE_TEST_RANKS"); s != "" {
		want, _ = strconv.Atoi(s)
	}
	c, err := World()
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != want || c.Rank() < 0 || c.Rank() >= want {
		t.Fatalf("rank %d of %d, want a world of %d (MPI build: %v)", c.Rank(), c.Size(), want, MPI)
	}
	r := float64(c.Rank())
	b64 := []float64{1, r, 0.1 * r}
	Allreduce(c, b64)
	var sr float64
	for i := range want {
		sr += float64(i)
	}
	if b64[0] != float64(want) || b64[1] != sr {
		t.Errorf("float64 sums %v, want [%d %v …]", b64, want, sr)
	}
	b32 := []float32{2, float32(r)}
	Allreduce(c, b32)
	if b32[0] != float32(2*want) || b32[1] != float32(sr) {
		t.Errorf("float32 sums %v", b32)
	}
	msg := []byte("rank?")
	if c.Rank() == 0 {
		msg = []byte("rank0")
	}
	c.Bcast(msg, 0)
	if string(msg) != "rank0" {
		t.Errorf("after Bcast rank %d holds %q", c.Rank(), msg)
	}
	c.Barrier()
}

// TestMain ends MPI after the tests (in an MPI build every rank must).
func TestMain(m *testing.M) {
	code := m.Run()
	Finalize()
	os.Exit(code)
}
