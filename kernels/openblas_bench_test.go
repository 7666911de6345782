//go:build openblas && cgo

package kernels

import (
	"fmt"
	"os"
	"runtime"

	"hesscope/kernels/openblasbench"
)

func init() {
	core, threads := openblasbench.Setup(runtime.GOMAXPROCS(0))
	fmt.Fprintf(os.Stderr, "openblas: core %s, %d threads, OPENBLAS_CORETYPE=%q\n",
		core, threads, os.Getenv("OPENBLAS_CORETYPE"))
	gemmBackends = append(gemmBackends, gemmBackend{name: "openblas", f32: openblasbench.Sgemm, f64: openblasbench.Dgemm})
}
