//go:build amd64 && !purego

package rng

import (
	"math"

	"golang.org/x/sys/cpu"
)

// useAVX512 selects the AVX-512 normal kernel (tests switch it off).
var useAVX512 = cpu.X86.HasAVX512F

// normConsts is the length of the kernel's constant table.
const normConsts = 67

//go:noescape
func philoxNormalsAVX512(out *float64, n int, b0 uint64, k *[normConsts]uint64)

// math.Sincos's polynomial coefficients (Cephes, as in Go's math/sin.go).
var sincosCos = [6]float64{-1.13585365213876817300e-11, 2.08757008419747316778e-9, -2.75573141792967388112e-7,
	2.48015872888517045348e-5, -1.38888888888730564116e-3, 4.16666666666665929218e-2}
var sincosSin = [6]float64{1.58962301576546568060e-10, -2.50507477628578072866e-8, 2.75573136213857245213e-6,
	-1.98412698295895385996e-4, 8.33333333332211858878e-3, -1.66666666666666307295e-1}

// normalFloats is the seed-independent tail of the constant table: the
// float64 constants of math.Log (log_amd64.s) and math.Sincos, the sign
// bit and 4 (indices 31 on).
var normalFloats = func() (k [normConsts - 31]uint64) {
	f := []float64{1, 2, 0.5, 7.07106781186547524401e-01,
		6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
		1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01,
		6.93147180369123816490e-01, 1.90821492927058770002e-10,
		-2, 1.0 / (1 << 32), 2 * math.Pi, 4 / math.Pi,
		7.85398125648498535156e-1, 3.77489470793079817668e-8, 2.69515142907905952645e-15, 3, 8}
	f = append(f, sincosCos[:]...)
	f = append(f, sincosSin[:]...)
	for i, v := range f {
		k[i] = math.Float64bits(v)
	}
	k[34] = 1 << 63
	k[35] = math.Float64bits(4)
	return k
}()

// normalTable is the kernel's constants for seed (the layout is fixed by
// the K_ offsets of normal_amd64.s): Philox multipliers, lane offsets, the
// round keys, then normalFloats.
func normalTable(seed uint64) *[normConsts]uint64 {
	var k [normConsts]uint64
	k[0], k[1] = philoxM0, philoxM1
	for i := 0; i < 8; i++ {
		k[2+i] = uint64(i)
	}
	k[10] = 8
	k0, k1 := uint32(seed), uint32(seed>>32)
	for r := 0; r < 10; r++ {
		k[11+2*r], k[12+2*r] = uint64(k0), uint64(k1)
		k0 += philoxW0
		k1 += philoxW1
	}
	copy(k[31:], normalFloats[:])
	return &k
}

// vectorNormals writes the normals of the Philox blocks b0, b0+1, ...,
// b0+nb-1 (nb a multiple of 8) into z in element order (z[4i+w] is word w
// of block b0+i); z must hold 4·nb values; scratch holds 4·nb too.
func vectorNormals(seed, b0 uint64, nb int, z, scratch []float64) {
	philoxNormalsAVX512(&scratch[0], nb/8, b0, normalTable(seed))
	for g := 0; g < nb/8; g++ {
		s := scratch[32*g : 32*g+32]
		o := z[32*g : 32*g+32]
		for i := 0; i < 8; i++ {
			o[4*i], o[4*i+1], o[4*i+2], o[4*i+3] = s[i], s[8+i], s[16+i], s[24+i]
		}
	}
}

//go:noescape
func boxMullerAVX512(a, c *uint32, z0, z1 *float64, n int, k *[normConsts]uint64)

// boxMullerVector is boxMuller through the kernel's Box–Muller step (for
// tests).
func boxMullerVector(a, c uint32) (float64, float64) {
	var as, cs [8]uint32
	var z0, z1 [8]float64
	for i := range as {
		as[i], cs[i] = a, c
	}
	boxMullerAVX512(&as[0], &cs[0], &z0[0], &z1[0], 8, normalTable(0))
	return z0[3], z1[3]
}
