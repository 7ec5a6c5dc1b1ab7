//go:build amd64 && !purego

package rng

import (
	"math"
	"testing"
)

// TestVectorNormalsBitExact checks the AVX-512 kernel against the scalar
// definition (Philox, math.Log, math.Sqrt, math.Sincos) bit for bit, in
// float64, over many blocks and seeds, including counters that cross 2^32
// blocks and the largest and smallest uniforms.
func TestVectorNormalsBitExact(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	const nb = 8 * 512
	z, s := make([]float64, 4*nb), make([]float64, 4*nb)
	for _, c := range []struct{ seed, b0 uint64 }{
		{0, 0}, {42, 1 << 40}, {0xDEADBEEFCAFEF00D, 1<<32 - 100}, {7, 123456789}, {1<<64 - 1, 1<<64 - 8*nb},
	} {
		vectorNormals(c.seed, c.b0, nb, z, s)
		for i := 0; i < nb; i++ {
			w := block(c.seed, c.b0+uint64(i))
			var want [4]float64
			want[0], want[1] = boxMuller(w[0], w[1])
			want[2], want[3] = boxMuller(w[2], w[3])
			for k := 0; k < 4; k++ {
				if got := z[4*i+k]; math.Float64bits(got) != math.Float64bits(want[k]) {
					t.Fatalf("seed %#x block %d word %d: kernel %v (%#x), scalar %v (%#x)", c.seed, c.b0+uint64(i), k, got, math.Float64bits(got), want[k], math.Float64bits(want[k]))
				}
			}
		}
	}
	// The extreme uniforms: u = 2^-32 (word 0) and u = 1 (word 2^32−1), and
	// angles at every octant boundary region, through the same lanes.
	words := []uint32{0, 1, 0xffffffff, 0xfffffffe, 0x80000000, 0x40000000, 0xc0000000, 0x20000000, 0x60000000, 0xa0000000, 0xe0000000}
	for _, a := range words {
		for _, c := range words {
			got0, got1 := boxMullerVector(a, c)
			w0, w1 := boxMuller(a, c)
			if math.Float64bits(got0) != math.Float64bits(w0) || math.Float64bits(got1) != math.Float64bits(w1) {
				t.Errorf("words %#x, %#x: kernel %v, %v, scalar %v, %v", a, c, got0, got1, w0, w1)
			}
		}
	}
}

// TestNormalRunsEdges checks the fills that go through the kernel (whole
// blocks in the middle, the scalar path at the ends, chunks of vecChunk
// blocks) element by element against NormalAt and Normal64At, at every
// offset within a block and lengths around the thresholds.
func TestNormalRunsEdges(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	const seed = 0x5eed
	for _, n := range []int{63, 64, 65, 95, 96, 97, 131, 4*8*vecChunk - 1, 4*8*vecChunk + 33, 3*4*vecChunk + 67} {
		for off := uint64(0); off < 6; off++ {
			g := New(seed)
			g.Skip(off)
			z32 := make([]float32, n)
			g.Normal32(z32)
			g = New(seed)
			g.Skip(off)
			z64 := make([]float64, n)
			g.Normal64(z64)
			for i := range z32 {
				e := off + uint64(i)
				if w := Normal64At(seed, e); math.Float64bits(z64[i]) != math.Float64bits(w) || math.Float32bits(z32[i]) != math.Float32bits(float32(w)) {
					t.Fatalf("n %d off %d: element %d = %v / %v, NormalAt gives %v", n, off, i, z32[i], z64[i], w)
				}
			}
		}
	}
}
