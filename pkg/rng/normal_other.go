//go:build !amd64 || purego

package rng

// useAVX512 is false where there is no assembly kernel.
var useAVX512 = false

func vectorNormals(seed, b0 uint64, nb int, z, scratch []float64) {
	panic("rng: no vector kernel on this platform")
}
