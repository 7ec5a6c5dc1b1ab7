package gemm

import "golang.org/x/sys/unix"

// cpuSeconds returns the CPU time this process has used; the benchmarks
// report work per CPU second too, which stays meaningful when other
// processes compete for the cores.
func cpuSeconds() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return float64(ts.Nano()) / 1e9
}
