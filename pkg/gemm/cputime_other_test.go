//go:build !linux

package gemm

// cpuSeconds is only measured on Linux; elsewhere the CPU-time metric is
// left out.
func cpuSeconds() float64 { return 0 }
