// Package rng is the project's counter-based random number generator:
// Philox-4x32-10 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random
// numbers: as easy as 1, 2, 3") plus a fixed mapping to uniform and normal
// variates. Every value is a pure function of (seed, element index), so the
// same stream can be reproduced by any backend (a CUDA kernel implements the
// identical definition) and by any split of a draw into pieces or threads.
//
// # Stream definition
//
// Philox4x32-10 maps a 128-bit counter and a 64-bit key to four 32-bit words
// with 10 rounds, multipliers M0=0xD2511F53, M1=0xCD9E8D57 and Weyl key
// increments W0=0x9E3779B9, W1=0xBB67AE85 (the Random123 reference
// algorithm; see Philox4x32).
//
//   - key = (uint32(seed), uint32(seed>>32)).
//   - Global element index e (a uint64) uses block b = e/4 and word w = e%4:
//     u(e) = Philox4x32((uint32(b), uint32(b>>32), 0, 0), key)[w].
//   - A draw of n elements from a generator at offset o produces the elements
//     e = o, o+1, ..., o+n-1 and advances the offset by exactly n, for every
//     kind of draw (uniform or normal, 32 or 64 bit). All kinds share the one
//     index space: drawing 5 uniforms and then 3 normals consumes e = o..o+7.
//
// # Uniforms
//
//   - float32: U32(e) = (float32(u(e)>>8) + 1) * 2^-24, a value in
//     [2^-24, 1] (24 significant bits, every step exact in float32).
//   - float64: U64(e) = (float64(u(e)) + 1) * 2^-32, a value in [2^-32, 1]
//     (exact in float64).
//
// Both are never 0, so log(U) is always finite.
//
// # Normals (Box–Muller)
//
// Elements come in pairs (2j, 2j+1), which always lie in the same Philox
// block. With a = U64(2j) and c = U64(2j+1), computed in float64:
//
//	r = sqrt(-2 * log(a));  t = (2*pi) * c     (2*pi is the float64 constant math.Pi*2)
//	N64(2j) = r * cos(t);   N64(2j+1) = r * sin(t)
//
// and N32(e) = float32(N64(e)) (round to nearest). A draw that starts or ends
// in the middle of a pair computes the whole pair and keeps the element it
// needs, so the value at index e never depends on where a draw started, and
// a normal draw advances the offset by exactly its length (no rounding up).
// |N| is bounded by sqrt(64 ln 2) ≈ 6.66.
//
// # Reproducibility across backends
//
// Philox words and uniforms are bit-identical on every backend (pure integer
// arithmetic and exact conversions). Normals use only log, sqrt, cos and
// sin in float64; sqrt is correctly rounded everywhere, while log/cos/sin of
// different math libraries (Go's math, CUDA's libdevice) may differ in the
// last float64 ulp. Rounding the float64 result to float32 hides such 1-ulp
// differences except when the float64 value lies within an ulp of a float32
// rounding boundary (probability about 2^-28 per value), so N32 is
// bit-reproducible in practice and N64 agrees to about 1e-16 relative.
package rng

import (
	"math"
	"math/bits"

	"github.com/nvaego/nvae/pkg/par"
)

// Philox4x32-10 constants (Random123).
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// Philox4x32 returns the Philox4x32-10 output block for counter ctr and key
// key, exactly as the Random123 reference philox4x32_R(10, ctr, key).
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	c0, c1, c2, c3 := ctr[0], ctr[1], ctr[2], ctr[3]
	k0, k1 := key[0], key[1]
	for r := 0; r < 10; r++ {
		if r > 0 {
			k0 += philoxW0
			k1 += philoxW1
		}
		hi0, lo0 := bits.Mul32(philoxM0, c0)
		hi1, lo1 := bits.Mul32(philoxM1, c2)
		c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	}
	return [4]uint32{c0, c1, c2, c3}
}

// block returns the four Philox words of block b for seed.
func block(seed, b uint64) [4]uint32 {
	return Philox4x32([4]uint32{uint32(b), uint32(b >> 32), 0, 0},
		[2]uint32{uint32(seed), uint32(seed >> 32)})
}

// Bits returns the raw 32-bit word u(e) of the stream for seed at index e.
func Bits(seed, index uint64) uint32 {
	return block(seed, index/4)[index%4]
}

// u32 maps a Philox word to a float32 uniform in [2^-24, 1].
func u32(u uint32) float32 { return (float32(u>>8) + 1) * (1.0 / (1 << 24)) }

// u64 maps a Philox word to a float64 uniform in [2^-32, 1].
func u64(u uint32) float64 { return (float64(u) + 1) * (1.0 / (1 << 32)) }

// boxMuller returns the two normals of a pair of Philox words.
func boxMuller(ua, uc uint32) (float64, float64) {
	r := math.Sqrt(-2 * math.Log(u64(ua)))
	t := (2 * math.Pi) * u64(uc)
	// math.Sincos shares the argument reduction of math.Sin and math.Cos
	// and evaluates the same polynomials, so it returns exactly their
	// values (TestSincosMatchesSinCos) at about the cost of one of them.
	s, c := math.Sincos(t)
	return r * c, r * s
}

// UniformAt returns the float32 uniform of the stream for seed at index.
func UniformAt(seed, index uint64) float32 { return u32(Bits(seed, index)) }

// Uniform64At returns the float64 uniform of the stream for seed at index.
func Uniform64At(seed, index uint64) float64 { return u64(Bits(seed, index)) }

// Normal64At returns the float64 standard normal of the stream for seed at
// index.
func Normal64At(seed, index uint64) float64 {
	w := block(seed, index/4)
	p := index % 4 &^ 1
	z0, z1 := boxMuller(w[p], w[p+1])
	if index%2 == 0 {
		return z0
	}
	return z1
}

// NormalAt returns the float32 standard normal of the stream for seed at
// index; Normal32 fills with exactly these values.
func NormalAt(seed, index uint64) float32 { return float32(Normal64At(seed, index)) }

// State is the complete, saveable state of a Gen.
type State struct {
	Seed   uint64
	Offset uint64
}

// Gen draws consecutive elements of the stream of one seed. It is not safe
// for concurrent use; the fills themselves use all cores for large slices.
type Gen struct {
	seed, offset uint64
}

// New returns a generator for seed at offset 0.
func New(seed uint64) *Gen { return &Gen{seed: seed} }

// State returns the generator's seed and offset.
func (g *Gen) State() State { return State{Seed: g.seed, Offset: g.offset} }

// SetState restores a state returned by State.
func (g *Gen) SetState(s State) { g.seed, g.offset = s.Seed, s.Offset }

// Skip advances the offset by n elements without drawing them.
func (g *Gen) Skip(n uint64) { g.offset += n }

// parallelMin is the slice length from which fills use several cores (par.For:
// chunks of at least this many elements). A normal costs a few nanoseconds,
// handing a chunk to a worker about a microsecond.
const parallelMin = 1 << 12

// fill calls kernel(lo, hi) for the elements [lo, hi) of a draw of n
// elements, split over cores (par.For) for large n. Chunk boundaries are
// multiples of 4 (whole blocks when the draw starts at a block); the
// result is independent of the split because each value depends only on its
// global index.
func fill(n int, kernel func(lo, hi int)) {
	if n < parallelMin {
		kernel(0, n)
		return
	}
	groups := (n + 3) / 4
	par.For(groups, parallelMin/4, func(lo, hi int) { kernel(4*lo, min(4*hi, n)) })
}

// forBlocks calls f(i, w) for every element i in [lo, hi) of a draw starting
// at global index off, where w holds the block of global element off+i. It
// passes each block once, with the elements of the block inside the range.
func forBlocks(seed, off uint64, lo, hi int, f func(w [4]uint32, i, first, last int)) {
	for i := lo; i < hi; {
		e := off + uint64(i)
		w := block(seed, e/4)
		first := int(e % 4)
		last := min(4, first+(hi-i))
		f(w, i, first, last)
		i += last - first
	}
}

// Uniform32 fills dst with float32 uniforms in [2^-24, 1] and advances the
// offset by len(dst).
func (g *Gen) Uniform32(dst []float32) {
	seed, off := g.seed, g.offset
	fill(len(dst), func(lo, hi int) {
		forBlocks(seed, off, lo, hi, func(w [4]uint32, i, first, last int) {
			for k := first; k < last; k++ {
				dst[i+k-first] = u32(w[k])
			}
		})
	})
	g.offset += uint64(len(dst))
}

// Uniform64 fills dst with float64 uniforms in [2^-32, 1] and advances the
// offset by len(dst).
func (g *Gen) Uniform64(dst []float64) {
	seed, off := g.seed, g.offset
	fill(len(dst), func(lo, hi int) {
		forBlocks(seed, off, lo, hi, func(w [4]uint32, i, first, last int) {
			for k := first; k < last; k++ {
				dst[i+k-first] = u64(w[k])
			}
		})
	})
	g.offset += uint64(len(dst))
}

// normals calls set(j, z) for each element j of the draw with its float64
// normal.
func normals(seed, off uint64, lo, hi int, set func(j int, z float64)) {
	forBlocks(seed, off, lo, hi, func(w [4]uint32, i, first, last int) {
		var z [4]float64
		if first < 2 {
			z[0], z[1] = boxMuller(w[0], w[1])
		}
		if last > 2 {
			z[2], z[3] = boxMuller(w[2], w[3])
		}
		for k := first; k < last; k++ {
			set(i+k-first, z[k])
		}
	})
}

// vecChunk is the number of Philox blocks the vector kernel computes per
// call (a multiple of 8; 16 KiB of float64 scratch each for the normals
// and the kernel's layout).
const vecChunk = 512

// normalRuns calls emit(j, zs) with the float64 normals zs of elements j,
// j+1, ... for every element of [lo, hi) of the draw at off: the whole
// blocks in between through the AVX-512 kernel where there is one (the
// same values, bit for bit: TestVectorNormalsBitExact), the rest by
// normals.
func normalRuns(seed, off uint64, lo, hi int, emit func(j int, zs []float64)) {
	var one [1]float64
	scalar := func(lo, hi int) {
		normals(seed, off, lo, hi, func(j int, z float64) { one[0] = z; emit(j, one[:]) })
	}
	if !useAVX512 || hi-lo < 64 {
		scalar(lo, hi)
		return
	}
	// First element at a block boundary at or after lo.
	first := lo + int((4-(off+uint64(lo))%4)%4)
	nb := (hi - first) / 4 / 8 * 8
	if nb == 0 {
		scalar(lo, hi)
		return
	}
	scalar(lo, first)
	z, scr := make([]float64, 4*vecChunk), make([]float64, 4*vecChunk)
	b := (off + uint64(first)) / 4
	for done := 0; done < nb; done += vecChunk {
		n := min(vecChunk, nb-done)
		vectorNormals(seed, b+uint64(done), n, z, scr)
		emit(first+4*done, z[:4*n])
	}
	scalar(first+4*nb, hi)
}

// Normal32 fills dst with float32 standard normals and advances the offset
// by len(dst) (odd lengths and odd offsets are fine).
func (g *Gen) Normal32(dst []float32) {
	seed, off := g.seed, g.offset
	fill(len(dst), func(lo, hi int) {
		normalRuns(seed, off, lo, hi, func(j int, zs []float64) {
			d := dst[j : j+len(zs)]
			for i, z := range zs {
				d[i] = float32(z)
			}
		})
	})
	g.offset += uint64(len(dst))
}

// Normal64 fills dst with float64 standard normals and advances the offset
// by len(dst).
func (g *Gen) Normal64(dst []float64) {
	seed, off := g.seed, g.offset
	fill(len(dst), func(lo, hi int) {
		normalRuns(seed, off, lo, hi, func(j int, zs []float64) { copy(dst[j:], zs) })
	})
	g.offset += uint64(len(dst))
}
