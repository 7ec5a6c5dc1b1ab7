//go:build race

package gemm

// raceEnabled: sync.Pool drops buffers at random under the race detector,
// so allocation counts are not checked there.
const raceEnabled = true
