// Package formula computes the FID test weights: the FID Inception-v3 state
// dict with pseudo-random values that are a pure function of each key and
// element index (FNV-1a 64 of the key seeds a SplitMix64 stream). The
// official code run with these weights produced the FID oracle tensors in
// testdata/oracle/fid (its README, section 1), so the tests, the mini
// pipelines and a user's smoke test run offline with no weights file.
//
// The real pytorch-fid weights stay the default for real runs: scores
// computed with these weights are not comparable with published FIDs.
package formula

import (
	"math"
	"strings"
)

// Name is what `nvae-fid --inception` and fid.LoadInception accept in place
// of a weights file to use these weights.
const Name = "test-formula"

// FNV1a64 is the 64-bit FNV-1a hash of s's bytes.
func FNV1a64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	return h
}

// SplitMix64 is the (i+1)-th output of a SplitMix64 generator seeded with h.
func SplitMix64(h, i uint64) uint64 {
	z := h + (i+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Uniform is element i's u in [0, 1) for a key hashed to h: the top 53 bits
// of the SplitMix64 output, scaled exactly.
func Uniform(h, i uint64) float64 {
	return float64(SplitMix64(h, i)>>11) * 0x1p-53
}

// kind maps u to a value, each operation rounded on its own (the float64
// conversions keep arm64's compiler from fusing a multiply-add); nil when the key has no formula (an integer
// buffer such as num_batches_tracked, or an unknown suffix).
func kind(key string, shape []int) func(u float64) float64 {
	switch {
	case strings.HasSuffix(key, ".conv.weight") && len(shape) == 4:
		fanIn := float64(shape[1] * shape[2] * shape[3])
		bound := math.Sqrt(6.0 / fanIn)
		return func(u float64) float64 { return float64(2*u-1) * bound }
	case strings.HasSuffix(key, ".bn.weight"), strings.HasSuffix(key, ".bn.running_var"):
		return func(u float64) float64 { return 0.8 + float64(0.4*u) }
	case strings.HasSuffix(key, ".bn.bias"):
		return func(u float64) float64 { return 0.2 * u }
	case strings.HasSuffix(key, ".bn.running_mean"):
		return func(u float64) float64 { return 0.1 * float64(2*u-1) }
	case key == "fc.weight" || key == "fc.bias":
		return func(u float64) float64 { return 0.01 * float64(2*u-1) }
	}
	return nil
}

// Tensor returns the float32 values of the float tensor key with the given
// shape, in C order. ok is false for keys the formula does not define
// (num_batches_tracked is the int64 scalar 0 and has no float values).
func Tensor(key string, shape []int) (v []float32, ok bool) {
	f := kind(key, shape)
	if f == nil {
		return nil, false
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	h := FNV1a64(key)
	v = make([]float32, n)
	for i := range v {
		v[i] = float32(f(Uniform(h, uint64(i))))
	}
	return v, true
}
