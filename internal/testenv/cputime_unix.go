//go:build unix

package testenv

import (
	"syscall"
	"time"
)

// ProcessCPU returns the user+system CPU time of the process so far (0
// where the platform does not say): benchmarks report it beside wall time,
// a steadier figure on a shared machine.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
