//go:build amd64 && !purego

package conv

import (
	"math/rand/v2"
	"testing"
)

// TestMaskPanelAVX512 compares maskPanelAVX512 with a scalar reference over
// lengths, starting taps, bit offsets across word boundaries and masked-off
// reads before and after the source.
func TestMaskPanelAVX512(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 2000)
	for i := range src {
		src[i] = r.Float32()*2 - 1
	}
	for it := 0; it < 1000; it++ {
		ntap := r.IntN(maxMaskTaps) + 1
		P := r.IntN(200) + 1
		n := r.IntN(min(P, 70)) + 1
		bit := r.IntN(P - n + 1)
		rows, t0 := r.IntN(12)+1, r.IntN(ntap)
		ldd := n + r.IntN(5)
		masks := make([]uint64, ntap*maxMaskWords)
		for i := range masks {
			masks[i] = r.Uint64()
		}
		offs := make([]int, ntap)
		for i := range offs {
			offs[i] = r.IntN(41) - 20
		}
		base := 200
		ref := func(row, u int) (int, bool) { // source index, mask bit
			c, tp := (t0+row)/ntap, (t0+row)%ntap
			b := bit + u
			return base + offs[tp] + c*P + u, masks[tp*maxMaskWords+b>>6]>>(b&63)&1 != 0
		}
		for row := range rows { // clear the bits of reads outside src
			for u := range n {
				if i, _ := ref(row, u); i < 0 || i >= len(src) {
					tp, b := (t0+row)%ntap, bit+u
					masks[tp*maxMaskWords+b>>6] &^= 1 << (b & 63)
				}
			}
		}
		dst := make([]float32, rows*ldd+16)
		for i := range dst {
			dst[i] = 7
		}
		maskPanelAVX512(&dst[0], ldd, &src[base], n, rows, t0, ntap, P, &offs[0], &masks[0], bit)
		for i := range dst {
			row, u := i/ldd, i%ldd
			want := float32(7)
			if row < rows && u < n {
				want = 0
				if j, ok := ref(row, u); ok {
					want = src[j]
				}
			}
			if dst[i] != want {
				t.Fatalf("it %d: dst[%d] (row %d, u %d) = %v, want %v", it, i, row, u, dst[i], want)
			}
		}
	}
}
