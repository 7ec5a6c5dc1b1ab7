//go:build !unix

package testenv

import "time"

// ProcessCPU is 0 where the platform gives no process CPU time.
func ProcessCPU() time.Duration { return 0 }
