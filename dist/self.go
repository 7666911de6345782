//go:build !(mpi && cgo)

package dist

import "os"

// MPI says whether this build has MPI.
const MPI = false

// World returns the one-process world, or an error if a launcher started
// this program as several processes: without MPI each would do all the work.
func World() (Comm, error) {
	if err := check(1, "this build without MPI", os.Getenv); err != nil {
		return nil, err
	}
	return Self{}, nil
}

// Finalize does nothing without MPI.
func Finalize() {}
