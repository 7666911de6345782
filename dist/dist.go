// Package dist is the communicator of a computation spread over the
// processes (ranks) of an MPI job: the few collectives hesscope needs to
// split a dataset or a batch across ranks and sum their results.
//
// The default build has only the one-process world. A build with the tag
// mpi and cgo (CC=mpicc go build -tags mpi ./cmd/hesscope) has the MPI world
// of the job the program was started in (mpirun, srun). Either way World
// checks the world size against the launcher's (OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, SLURM_STEP_NUM_TASKS): a mismatch, such as a default build
// started by 'mpirun -np 2', is an error, never N copies each doing all the
// work.
package dist

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

// Comm is a communicator: the ranks 0…Size−1 of a job, each running the
// same program. Collectives must be called by every rank in the same order,
// from one goroutine at a time; they block until all ranks have called.
type Comm interface {
	// Rank is this process's rank, from 0; Size the number of ranks.
	Rank() int
	Size() int
	// AllreduceFloat64 and AllreduceFloat32 replace buf, on every rank, by
	// its elementwise sum over the ranks. The order of the additions is
	// fixed for a given Size, so the result is the same bits on every rank
	// and in every run.
	AllreduceFloat64(buf []float64)
	AllreduceFloat32(buf []float32)
	// Bcast copies root's buf into buf on every other rank; buf has the
	// same length everywhere.
	Bcast(buf []byte, root int)
	// Barrier returns once every rank has called it.
	Barrier()
	// Abort ends every rank of the job with the exit status code.
	Abort(code int)
}

// Allreduce sums buf over the ranks of c in place (see Comm).
func Allreduce[T float32 | float64](c Comm, buf []T) {
	switch b := any(buf).(type) {
	case []float64:
		c.AllreduceFloat64(b)
	case []float32:
		c.AllreduceFloat32(b)
	}
}

// Shard returns the half-open range [lo, hi) of the n items that rank owns
// of size ranks: contiguous, in rank order, sizes differing by at most one.
func Shard(n, rank, size int) (lo, hi int) {
	return rank * n / size, (rank + 1) * n / size
}

// Self is the world of one process: collectives return at once and leave
// their buffers as they are.
type Self struct{}

func (Self) Rank() int                  { return 0 }
func (Self) Size() int                  { return 1 }
func (Self) AllreduceFloat64([]float64) {}
func (Self) AllreduceFloat32([]float32) {}
func (Self) Bcast([]byte, int)          {}
func (Self) Barrier()                   {}
func (Self) Abort(code int)             { os.Exit(code) }

// IsRoot says whether c is nil (one process) or this is its rank 0, the
// rank that prints and writes files.
func IsRoot(c Comm) bool { return c == nil || c.Rank() == 0 }

// Of returns c, or Self if c is nil.
func Of(c Comm) Comm {
	if c == nil {
		return Self{}
	}
	return c
}

// launcherSize returns the number of processes the launcher started and
// the variable that says so, or 0 if the environment names none. Open
// MPI's mpirun sets OMPI_COMM_WORLD_SIZE, MPICH's and srun's PMI-2 PMI_SIZE,
// srun SLURM_STEP_NUM_TASKS for the tasks of a step (not SLURM_NTASKS alone:
// a batch script with --ntasks=4 is one process until it calls srun).
func launcherSize(getenv func(string) string) (int, string, error) {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"} {
		s := getenv(v)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, v, fmt.Errorf("dist: %s=%q: want a number of processes", v, s)
		}
		return n, v, nil
	}
	return 0, "", nil
}

// check returns an error unless size agrees with the launcher's count.
func check(size int, how string, getenv func(string) string) error {
	n, v, err := launcherSize(getenv)
	if err != nil {
		return err
	}
	if n != 0 && n != size {
		hint := "build hesscope with MPI (CC=mpicc go build -tags mpi ./cmd/hesscope) and start it with the launcher of the MPI library it was built with"
		return fmt.Errorf("dist: the launcher started %d processes (%s=%d) but %s sees a world of %d: %s", n, v, n, how, size, hint)
	}
	return nil
}

// BcastFloats copies root's buf into buf on every other rank.
func BcastFloats[T ~float32 | ~float64](c Comm, buf []T, root int) {
	if len(buf) == 0 {
		return
	}
	c.Bcast(unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*int(unsafe.Sizeof(buf[0]))), root)
}
