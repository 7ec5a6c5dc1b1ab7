package data

import (
	"math/bits"
	"math/rand/v2"
)

// Rand is the random source a Dataset's transforms draw from. A fresh one
// is derived for every (seed, epoch, index), so a sample's flips, crops
// and binarisation do not depend on which worker loads it or in which
// order; resuming at any step reproduces the same batches bit for bit.
type Rand struct {
	pcg rand.PCG
}

// splitmix64 is Steele, Lea and Flood's SplitMix64 finaliser.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// NewRand returns the stream for sample index of the given epoch.
// Streams are PCG-DXSM (math/rand/v2.PCG) seeded by SplitMix64 hashes.
func NewRand(seed uint64, epoch, index int) *Rand {
	r := &Rand{}
	r.Reset(seed, epoch, index)
	return r
}

// Reset re-seeds r in place for (seed, epoch, index).
func (r *Rand) Reset(seed uint64, epoch, index int) {
	a := splitmix64(seed ^ splitmix64(uint64(epoch)+0x5851f42d4c957f2d))
	b := splitmix64(a ^ uint64(index))
	r.pcg.Seed(a, b)
}

// Uint64 returns 64 random bits.
func (r *Rand) Uint64() uint64 { return r.pcg.Uint64() }

// Float32 returns a uniform value in [0, 1) with 24 random bits.
func (r *Rand) Float32() float32 { return float32(r.pcg.Uint64()>>40) * (1.0 / (1 << 24)) }

// IntN returns a value in [0, n) (n > 0) by multiply-shift.
func (r *Rand) IntN(n int) int {
	hi, _ := bits.Mul64(r.pcg.Uint64(), uint64(n))
	return int(hi)
}

// Coin returns true with probability 1/2 (a random horizontal flip).
func (r *Rand) Coin() bool { return r.pcg.Uint64()>>63 == 1 }

// Permutation returns a seeded permutation of [0, n) for the epoch
// (Fisher-Yates driven by a PCG stream; fixed forever, independent of Go's
// math/rand implementation details).
func Permutation(seed uint64, epoch, n int) []int {
	r := NewRand(seed^0x243f6a8885a308d3, epoch, -1)
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
