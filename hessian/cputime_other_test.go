//go:build !unix

package hessian

// cpuSeconds is 0 where getrusage is not available.
func cpuSeconds() float64 { return 0 }
