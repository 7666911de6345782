//go:build unix

package sysmem

import (
	"math"
	"syscall"
)

// addressLimit returns RLIMIT_AS (ulimit -v) in bytes, if there is one.
func addressLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err != nil || uint64(rl.Cur) == math.MaxUint64 {
		return 0, false
	}
	return uint64(rl.Cur), true
}
