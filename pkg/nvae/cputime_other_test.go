//go:build !unix

package nvae

import "time"

func processCPU() time.Duration { return 0 }
