//go:build amd64 && !purego

package gemm

import (
	"math/rand"
	"testing"
)

// TestAVX2Engine runs the AVX2/FMA engine (used on CPUs without AVX-512)
// through the shapes, when this CPU can run it.
func TestAVX2Engine(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2/FMA")
	}
	e := newSEngine(false, true)
	if e.name != "avx2" {
		t.Fatalf("engine %q, want avx2", e.name)
	}
	rng := rand.New(rand.NewSource(8))
	for _, s := range append(shapes(rng, 80), shape{m: 300, n: 700, k: 520, transA: true, alpha: -1, beta: 1, pad: 3}) {
		check(t, rng, s, 2e-6, packedOnly(e))
		check(t, rng, s, 2e-6, func(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			gemm(e, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		})
	}
}
