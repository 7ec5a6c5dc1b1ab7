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

// ScaleAdd rounds x·a, then ·s, then the sum: bit for bit, on both paths,
// at every length (masked tails), offset and with dst aliasing x or y.
func TestScaleAdd(t *testing.T) {
	saved := useAsm
	defer func() { useAsm = saved }()
	rng := rand.New(rand.NewSource(10))
	xs, ys := make([]float32, 200), make([]float32, 200)
	for i := range xs {
		xs[i], ys[i] = float32(rng.NormFloat64()*3), float32(rng.NormFloat64())
	}
	xs[3], xs[7], ys[11] = float32(math.Inf(1)), float32(math.NaN()), float32(math.Inf(-1))
	a, s := float32(0.7310586), float32(0.1)
	want := func(x, y float32) float32 { return y + float32(float64(float32(float64(x)*float64(a)))*float64(s)) }
	same := func(g, w float32) bool { return math.Float32bits(g) == math.Float32bits(w) || (g != g && w != w) }
	for _, asm := range []bool{false, true} {
		if asm && !hasAVX512 {
			continue
		}
		useAsm = asm
		for off := 0; off < 3; off++ {
			for n := 0; n+off <= len(xs); n += 1 + n/8 {
				x, y := xs[off:off+n], ys[off:off+n]
				dst := make([]float32, n+1)
				dst[n] = 42
				ScaleAdd(dst[:n], x, y, a, s)
				ax, ay := append([]float32(nil), x...), append([]float32(nil), y...)
				ScaleAdd(ax, ax, y, a, s)
				ScaleAdd(ay, x, ay, a, s)
				for i := range x {
					w := want(x[i], y[i])
					if !same(dst[i], w) || !same(ax[i], w) || !same(ay[i], w) {
						t.Fatalf("asm=%v n=%d: ScaleAdd(%v, %v) = %v (aliased %v, %v), want %v", asm, n, x[i], y[i], dst[i], ax[i], ay[i], w)
					}
				}
				if dst[n] != 42 {
					t.Fatalf("asm=%v n=%d: wrote past the end", asm, n)
				}
			}
		}
	}
}
