//go:build !unix

package sysmem

// addressLimit reports no address-space limit where there is no getrlimit.
func addressLimit() (uint64, bool) { return 0, false }
