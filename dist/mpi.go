//go:build mpi && cgo

package dist

/*
#include <mpi.h>
#include <stdint.h>

static int hs_init(int *provided) {
	int done = 0;
	MPI_Initialized(&done);
	if (done) { *provided = MPI_THREAD_SERIALIZED; return MPI_SUCCESS; }
	return MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
}
static int hs_rank(void) { int r = -1; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
static int hs_size(void) { int s = -1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }
static int hs_allreduce_f64(double *b, int n) { return MPI_Allreduce(MPI_IN_PLACE, b, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); }
static int hs_allreduce_f32(float *b, int n) { return MPI_Allreduce(MPI_IN_PLACE, b, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); }
static int hs_bcast(void *b, int n, int root) { return MPI_Bcast(b, n, MPI_BYTE, root, MPI_COMM_WORLD); }
static int hs_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static void hs_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static int hs_finalize(void) { int f = 0; MPI_Finalized(&f); if (f) return MPI_SUCCESS; return MPI_Finalize(); }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

// MPI says whether this build has MPI.
const MPI = true

var (
	world   mpiComm
	initErr error
)

// init starts MPI on the main thread, to which the main goroutine stays
// locked: MPI_Finalize must run on the thread that called MPI_Init.
func init() {
	runtime.LockOSThread()
	var provided C.int
	if rc := C.hs_init(&provided); rc != C.MPI_SUCCESS {
		initErr = fmt.Errorf("dist: MPI_Init_thread failed (error %d)", int(rc))
		return
	}
	if provided < C.MPI_THREAD_SERIALIZED {
		initErr = fmt.Errorf("dist: the MPI library provides thread level %d, hesscope needs MPI_THREAD_SERIALIZED", int(provided))
		return
	}
	world = mpiComm{rank: int(C.hs_rank()), size: int(C.hs_size())}
}

// World returns the job's world, or an error if MPI did not start or its
// size is not the launcher's (a binary built with another MPI library
// than the launcher's starts N singletons).
func World() (Comm, error) {
	if initErr != nil {
		return nil, initErr
	}
	if err := check(world.size, "MPI", os.Getenv); err != nil {
		return nil, err
	}
	return world, nil
}

// Finalize ends MPI; call it once, on the main goroutine, before exiting.
func Finalize() {
	if initErr == nil {
		C.hs_finalize()
	}
}

type mpiComm struct{ rank, size int }

func (c mpiComm) Rank() int { return c.rank }
func (c mpiComm) Size() int { return c.size }

// maxCount is the most elements of one MPI call (its counts are C ints).
const maxCount = 1 << 30

func (c mpiComm) AllreduceFloat64(buf []float64) {
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if rc := C.hs_allreduce_f64((*C.double)(unsafe.Pointer(&buf[0])), C.int(n)); rc != C.MPI_SUCCESS {
			panic(fmt.Sprintf("dist: MPI_Allreduce failed (error %d)", int(rc)))
		}
		buf = buf[n:]
	}
}

func (c mpiComm) AllreduceFloat32(buf []float32) {
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if rc := C.hs_allreduce_f32((*C.float)(unsafe.Pointer(&buf[0])), C.int(n)); rc != C.MPI_SUCCESS {
			panic(fmt.Sprintf("dist: MPI_Allreduce failed (error %d)", int(rc)))
		}
		buf = buf[n:]
	}
}

func (c mpiComm) Bcast(buf []byte, root int) {
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if rc := C.hs_bcast(unsafe.Pointer(&buf[0]), C.int(n), C.int(root)); rc != C.MPI_SUCCESS {
			panic(fmt.Sprintf("dist: MPI_Bcast failed (error %d)", int(rc)))
		}
		buf = buf[n:]
	}
}

func (c mpiComm) Barrier() {
	if rc := C.hs_barrier(); rc != C.MPI_SUCCESS {
		panic(fmt.Sprintf("dist: MPI_Barrier failed (error %d)", int(rc)))
	}
}

func (c mpiComm) Abort(code int) { C.hs_abort(C.int(code)) }
