package vmath

import (
	"math"
	"math/rand"
	"testing"
)

// Affine is the product rounded to float32, then the sum rounded: bit for
// bit, on both paths, at every length (masked tails) and offset.
func TestAffine(t *testing.T) {
	saved := useAsm
	defer func() { useAsm = saved }()
	rng := rand.New(rand.NewSource(9))
	xs := make([]float32, 200)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 3)
	}
	xs[3], xs[7] = float32(math.Inf(1)), float32(math.NaN())
	a, b := float32(0.7310586), float32(-1.2345678)
	for _, asm := range []bool{false, true} {
		if asm && !hasAVX512 {
			continue
		}
		useAsm = asm
		for off := 0; off < 3; off++ {
			for n := 0; n+off <= len(xs); n += 1 + n/8 {
				x := xs[off : off+n]
				dst := make([]float32, n+1)
				dst[n] = 42
				Affine(dst[:n], x, a, b)
				for i, v := range x {
					want := float32(float64(v)*float64(a)) + b
					if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
						t.Fatalf("asm=%v n=%d: Affine(%v) = %v, want %v", asm, n, v, dst[i], want)
					}
				}
				if dst[n] != 42 {
					t.Fatalf("asm=%v n=%d: wrote past the end", asm, n)
				}
			}
		}
		// In place.
		y := append([]float32(nil), xs[10:50]...)
		Affine(y, y, a, b)
		for i, v := range xs[10:50] {
			if want := float32(float64(v)*float64(a)) + b; y[i] != want {
				t.Fatalf("asm=%v: in place [%d] = %v, want %v", asm, i, y[i], want)
			}
		}
	}
}
