//go:build !unix

package conv

import "time"

// cpuTime is unavailable here; benchmarks then skip the per-CPU metric.
func cpuTime() time.Duration { return 0 }
