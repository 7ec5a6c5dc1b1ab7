package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"

	"github.com/nvaego/nvae/pkg/par"
)

// naive computes alpha*op(A)*op(B) + beta*C in float64 into a fresh m×n
// slice (row stride n); beta == 0 ignores C.
func naive[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv T
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

type shape struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float64
	pad            int // extra elements per row of A, B and C
}

func (s shape) String() string {
	return fmt.Sprintf("m%d_n%d_k%d_tA%v_tB%v_a%g_b%g_pad%d", s.m, s.n, s.k, s.transA, s.transB, s.alpha, s.beta, s.pad)
}

// check runs one shape through f and compares with the float64 reference.
// Elements of C outside the m×n window (the stride padding) must be left
// untouched.
func check[T Float](t *testing.T, rng *rand.Rand, s shape, tol float64,
	f func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)) {
	t.Helper()
	ra, ca := s.m, s.k
	if s.transA {
		ra, ca = s.k, s.m
	}
	rb, cb := s.k, s.n
	if s.transB {
		rb, cb = s.n, s.k
	}
	lda, ldb, ldc := max(ca, 1)+s.pad, max(cb, 1)+s.pad, max(s.n, 1)+s.pad
	fill := func(rows, ld int) []T {
		x := make([]T, rows*ld)
		for i := range x {
			x[i] = T(rng.Float64()*2 - 1)
		}
		return x
	}
	a := fill(ra, lda)
	b := fill(rb, ldb)
	c := fill(s.m, ldc)
	if s.beta == 0 {
		for i := 0; i < s.m; i++ {
			for j := 0; j < s.n; j++ {
				c[i*ldc+j] = T(math.NaN())
			}
		}
	}
	orig := append([]T(nil), c...)
	want := naive(s.transA, s.transB, s.m, s.n, s.k, T(s.alpha), a, lda, b, ldb, T(s.beta), c, ldc)
	f(s.transA, s.transB, s.m, s.n, s.k, T(s.alpha), a, lda, b, ldb, T(s.beta), c, ldc)
	for i := 0; i < s.m; i++ {
		for j := 0; j < ldc; j++ {
			got := float64(c[i*ldc+j])
			if j >= s.n {
				if got != float64(orig[i*ldc+j]) {
					t.Fatalf("%v: C[%d][%d] in the stride padding changed from %g to %g", s, i, j, orig[i*ldc+j], got)
				}
				continue
			}
			w := want[i*s.n+j]
			// Error bound grows with k and the magnitudes involved.
			bound := tol * (math.Sqrt(float64(s.k)+1)*math.Abs(s.alpha) + math.Abs(s.beta) + 1)
			if math.IsNaN(got) || !(math.Abs(got-w) <= bound) {
				t.Fatalf("%v: C[%d][%d] = %g, want %g (tol %g)", s, i, j, got, w, bound)
			}
		}
	}
}

func shapes(rng *rand.Rand, random int) []shape {
	var out []shape
	dims := [][3]int{
		{1, 1, 1}, {1, 7, 3}, {7, 1, 5}, {3, 5, 1}, {8, 48, 16}, {9, 49, 17},
		{16, 16, 16}, {17, 33, 65}, {64, 64, 64}, {63, 47, 129}, {5, 100, 7},
		{100, 5, 300}, {257, 50, 513}, {40, 97, 257}, {300, 530, 70}, {13, 1000, 20},
	}
	for _, d := range dims {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				out = append(out, shape{m: d[0], n: d[1], k: d[2], transA: ta, transB: tb, alpha: 1, beta: 0})
			}
		}
	}
	ab := [][2]float64{{1, 0}, {1, 1}, {-0.5, 2}, {2.5, -1}, {1, 0.5}}
	for i := 0; i < random; i++ {
		s := shape{
			m: 1 + rng.Intn(70), n: 1 + rng.Intn(120), k: 1 + rng.Intn(300),
			transA: rng.Intn(2) == 0, transB: rng.Intn(2) == 0, pad: rng.Intn(3) * 5,
		}
		p := ab[rng.Intn(len(ab))]
		s.alpha, s.beta = p[0], p[1]
		out = append(out, s)
	}
	// k == 0 and alpha == 0 only scale C by beta.
	for _, beta := range []float64{0, 1, -2} {
		out = append(out, shape{m: 5, n: 9, k: 0, alpha: 1, beta: beta, pad: 2})
		out = append(out, shape{m: 9, n: 50, k: 10, alpha: 0, beta: beta, transA: true})
	}
	return out
}

func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, s := range shapes(rng, 150) {
		check(t, rng, s, 2e-6, Sgemm)
	}
}

// packedOnly runs the packed, serial path of engine e even for the tiny
// shapes that gemm sends to the direct loops.
func packedOnly[T Float](e *engine[T]) func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	return func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
		if m == 0 || n == 0 || k == 0 || alpha == 0 {
			gemm(e, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		j := job[T]{e: e, transA: transA, transB: transB, m: m, n: n, k: k,
			alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc}
		j.block(0, m, 0, n)
	}
}

// TestSerialSharedA covers the serial path that packs op(A) once for
// several N blocks.
func TestSerialSharedA(t *testing.T) {
	defer func(w int) { par.Workers = w }(par.Workers)
	par.Workers = 1
	rng := rand.New(rand.NewSource(9))
	for _, s := range []shape{
		{m: 100, n: 1500, k: 300, alpha: 1, beta: 0},
		{m: 37, n: 2000, k: 70, transA: true, transB: true, alpha: 0.5, beta: -1, pad: 1},
	} {
		check(t, rng, s, 2e-6, Sgemm)
		check(t, rng, s, 1e-13, Dgemm)
	}
}

// TestPackedTiny sends the tiny shapes through the packed kernels too.
func TestPackedTiny(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, s := range shapes(rng, 100) {
		if s.m*s.n*s.k > 4*smallWork {
			continue
		}
		check(t, rng, s, 2e-6, packedOnly(sEngine))
		check(t, rng, s, 1e-13, packedOnly(dEngine))
	}
}

func TestDgemm(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, s := range shapes(rng, 80) {
		check(t, rng, s, 1e-13, Dgemm)
	}
}

func TestGenericDispatch(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	s := shape{m: 13, n: 21, k: 34, transB: true, alpha: 1.5, beta: 0.5, pad: 1}
	check(t, rng, s, 2e-6, Gemm[float32])
	check(t, rng, s, 1e-13, Gemm[float64])
}

// TestGoEngine runs the portable engine (the one used without AVX-512 or
// with the purego tag) through the same shapes.
func TestGoEngine(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	se, de := goEngine[float32](), goEngine[float64]()
	for _, s := range shapes(rng, 60) {
		check(t, rng, s, 2e-6, func(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			gemm(se, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		})
		check(t, rng, s, 1e-13, func(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
			gemm(de, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		})
	}
}

// TestLargeBlocks crosses every cache-block boundary (mc, kc, nc) and the
// parallel split.
func TestLargeBlocks(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, s := range []shape{
		{m: 530, n: 1100, k: 600, alpha: 1, beta: 0},
		{m: 300, n: 700, k: 520, transA: true, transB: true, alpha: -1, beta: 1, pad: 3},
		{m: 1030, n: 40, k: 300, transB: true, alpha: 1, beta: 0.5},
	} {
		check(t, rng, s, 2e-6, Sgemm)
	}
	check(t, rng, shape{m: 270, n: 500, k: 300, transA: true, alpha: 1, beta: 1, pad: 1}, 1e-13, Dgemm)
}

// TestWorkerCounts runs the parallel paths (both splits) with one, two and
// three workers.
func TestWorkerCounts(t *testing.T) {
	defer func(w int) { par.Workers = w }(par.Workers)
	rng := rand.New(rand.NewSource(7))
	for _, w := range []int{1, 2, 3} {
		par.Workers = w
		for _, s := range []shape{
			{m: 70, n: 1000, k: 300, alpha: 1, beta: 0.5, transB: true},
			{m: 500, n: 60, k: 70, alpha: 2, beta: 0, transA: true, pad: 2},
			{m: 96, n: 97, k: 513, alpha: 1, beta: 1},
		} {
			check(t, rng, s, 2e-6, Sgemm)
		}
	}
}

// TestConcurrentCalls runs products from several goroutines at once; the
// engines share only their buffer pools.
func TestConcurrentCalls(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(10 + g)))
			m, n, k := 40+g*30, 300-g*40, 100+g*50
			a := make([]float32, m*k)
			b := make([]float32, k*n)
			for i := range a {
				a[i] = float32(rng.Float64() - 0.5)
			}
			for i := range b {
				b[i] = float32(rng.Float64() - 0.5)
			}
			c := make([]float32, m*n)
			for rep := 0; rep < 5; rep++ {
				Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				want := naive(false, false, m, n, k, float32(1), a, k, b, n, 0, c, n)
				for i, w := range want {
					if !(math.Abs(float64(c[i])-w) <= 1e-4) {
						errs <- fmt.Sprintf("goroutine %d: C[%d] = %g, want %g", g, i, c[i], w)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestNoSharedPack covers the paths taken when the shared packed operand
// would exceed sharedMax: independent blocks per core, and the plain serial
// blocking.
func TestNoSharedPack(t *testing.T) {
	defer func(w, s int) { par.Workers, sharedMax = w, s }(par.Workers, sharedMax)
	sharedMax = 1000
	rng := rand.New(rand.NewSource(11))
	for _, w := range []int{1, 2} {
		par.Workers = w
		for _, s := range []shape{
			{m: 70, n: 1000, k: 300, alpha: 1, beta: 0.5, transB: true},
			{m: 500, n: 60, k: 70, alpha: 2, beta: 0, transA: true, pad: 2},
		} {
			check(t, rng, s, 2e-6, Sgemm)
		}
	}
}

// TestChunking checks that chunks tile the range exactly, differ by at
// most one tile, come largest first and respect the width cap.
func TestChunking(t *testing.T) {
	defer func(w int) { par.Workers = w }(par.Workers)
	for _, w := range []int{1, 2, 3, 8} {
		par.Workers = w
		for tiles := 1; tiles < 200; tiles += 7 {
			for _, maxTiles := range []int{1, 3, 13, 1000} {
				c := newChunking(tiles, maxTiles)
				next, prev := 0, tiles+1
				for i := 0; i < c.n; i++ {
					lo, hi := c.tiles(i)
					if lo != next || hi <= lo || hi-lo > prev || hi-lo > maxTiles {
						t.Fatalf("w=%d tiles=%d max=%d: chunk %d = [%d,%d) after %d (previous size %d)", w, tiles, maxTiles, i, lo, hi, next, prev)
					}
					next, prev = hi, hi-lo
				}
				if next != tiles {
					t.Fatalf("w=%d tiles=%d max=%d: chunks end at %d", w, tiles, maxTiles, next)
				}
			}
		}
	}
}

// TestNoAllocs checks that single-core calls allocate nothing once the
// pack buffers are pooled.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers under the race detector")
	}
	a := make([]float32, 64*64)
	b := make([]float32, 64*64)
	c := make([]float32, 64*64)
	for _, d := range []int{4, 64} {
		if n := testing.AllocsPerRun(50, func() { Sgemm(false, true, d, d, d, 1, a, 64, b, 64, 0, c, 64) }); n != 0 {
			t.Errorf("Sgemm %d³: %v allocations per call", d, n)
		}
		if n := testing.AllocsPerRun(50, func() { Gemm(true, false, d, d, d, float32(1), a, 64, b, 64, 1, c, 64) }); n != 0 {
			t.Errorf("Gemm[float32] %d³: %v allocations per call", d, n)
		}
	}
}

func TestShortSlicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short A")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
}

// rowMajorPack is the PackB of a materialised row-major B.
func rowMajorPack[T Float](b []T, ldb int) PackB[T] {
	return func(dst []T, nr, pc, kb, jc, nb int) {
		for q := 0; q < nb; q += nr {
			w := min(nr, nb-q)
			for p := 0; p < kb; p++ {
				row := dst[q*kb+p*nr : q*kb+p*nr+nr]
				copy(row, b[(pc+p)*ldb+jc+q:(pc+p)*ldb+jc+q+w])
				clear(row[w:])
			}
		}
	}
}

// TestGemmPackB checks that GemmPackB gives exactly Gemm's result (bit for
// bit) on every path: tiny direct loops, serial, N split, M split, and the
// independent blocks beyond sharedMax.
func TestGemmPackB(t *testing.T) {
	defer func(w, s int) { par.Workers, sharedMax = w, s }(par.Workers, sharedMax)
	rng := rand.New(rand.NewSource(34))
	dims := [][3]int{{1, 1, 1}, {3, 5, 7}, {8, 48, 16}, {64, 256, 576}, {9, 700, 300}, {300, 20, 260}, {17, 97, 1153}, {5, 3, 0}}
	for _, w := range []int{1, 2, 3} {
		par.Workers = w
		for _, sm := range []int{1 << 23, 1000} {
			sharedMax = sm
			for _, d := range dims {
				m, n, k := d[0], d[1], d[2]
				ldb := n + 3
				a := make([]float32, m*k)
				b := make([]float32, max(k*ldb, 1))
				for i := range a {
					a[i] = rng.Float32()*2 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1
				}
				for _, beta := range []float32{0, 0.5} {
					c0 := make([]float32, m*n)
					for i := range c0 {
						c0[i] = rng.Float32()
					}
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					Gemm(false, false, m, n, k, 1.5, a, max(k, 1), b, ldb, beta, want, n)
					GemmPackB(m, n, k, 1.5, a, max(k, 1), rowMajorPack(b, ldb), beta, got, n)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("workers %d sharedMax %d %dx%dx%d beta %v: c[%d] = %v, Gemm %v", w, sm, m, n, k, beta, i, got[i], want[i])
						}
					}
				}
				a64 := make([]float64, m*k)
				b64 := make([]float64, len(b))
				for i := range a64 {
					a64[i] = float64(a[i])
				}
				for i := range b64 {
					b64[i] = float64(b[i])
				}
				want := make([]float64, m*n)
				got := make([]float64, m*n)
				Gemm(false, false, m, n, k, 1, a64, max(k, 1), b64, ldb, 0, want, n)
				GemmPackB(m, n, k, 1, a64, max(k, 1), rowMajorPack(b64, ldb), 0, got, n)
				for i := range want {
					if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
						t.Fatalf("float64 workers %d %dx%dx%d: c[%d] = %v, Gemm %v", w, m, n, k, i, got[i], want[i])
					}
				}
			}
		}
	}
}
