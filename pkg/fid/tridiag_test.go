package fid

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

func randSym(rng *rand.Rand, n int) []float64 {
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := rng.NormFloat64()
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	return a
}

// randCov returns the sample covariance of n Gaussian vectors of dimension d
// with unequal scales (full rank when n > d).
func randCov(seed int64, n, d int) []float64 {
	rng := rand.New(rand.NewSource(seed))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64() * (1 + float64(i%d)/float64(d))
	}
	_, s := Stats(x, n, d)
	return s
}

// The blocked tridiagonal reduction + QR iteration against cyclic Jacobi,
// at sizes below, at and across the panel width (and the parallel symv).
func TestFIDSymEigenvalues(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, n := range []int{1, 2, 3, 31, 32, 33, 65, 100, 300} {
		a := randSym(rng, n)
		want := jacobiEigenvalues(a, n)
		sort.Float64s(want)
		got, err := symEigenvalues(append([]float64(nil), a...), n)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		sort.Float64s(got)
		scale := math.Max(math.Abs(want[0]), math.Abs(want[n-1]))
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12*scale*math.Max(1, float64(n)/32) {
				t.Fatalf("n=%d: eigenvalue %d = %v, Jacobi %v", n, i, got[i], want[i])
			}
		}
	}
}

func TestFIDCholesky(t *testing.T) {
	for _, n := range []int{1, 5, 127, 128, 129, 300} {
		s := randCov(int64(n), 2*n+3, n)
		l := append([]float64(nil), s...)
		if !cholesky(l, n) {
			t.Fatalf("n=%d: positive definite matrix rejected", n)
		}
		maxErr := 0.0
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				v := 0.0
				for k := 0; k < n; k++ {
					v += l[i*n+k] * l[j*n+k]
				}
				if j > i && l[i*n+j] != 0 {
					t.Fatalf("n=%d: upper entry (%d,%d) = %v", n, i, j, l[i*n+j])
				}
				maxErr = math.Max(maxErr, math.Abs(v-s[i*n+j]))
			}
		}
		if maxErr > 1e-13 {
			t.Fatalf("n=%d: |L·Lᵀ - S| = %v", n, maxErr)
		}
	}
	// Singular (fewer samples than dimensions) and indefinite: rejected.
	if cholesky(randCov(1, 10, 40), 40) {
		t.Fatal("rank-deficient covariance accepted")
	}
	if cholesky([]float64{1, 2, 2, 1}, 2) {
		t.Fatal("indefinite matrix accepted")
	}
}

// The Cholesky route and the eigendecomposition route (taken when neither
// covariance is positive definite) agree.
func TestFIDTraceSqrtRoutesAgree(t *testing.T) {
	const d = 150
	s1, s2 := randCov(1, 400, d), randCov(2, 500, d)
	got, err := TraceSqrtProduct(s1, s2, d)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sqrtCongruence(s1, s2, d)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for _, x := range jacobiEigenvalues(m, d) {
		want += math.Sqrt(math.Max(0, x))
	}
	if math.Abs(got-want) > 1e-12*want {
		t.Fatalf("Cholesky route %v, eigen route %v", got, want)
	}
}

// BenchmarkFrechet2048 is the Fréchet distance of two full-rank 2048-d
// statistics (the FID size).
func BenchmarkFrechet2048(b *testing.B) {
	const d = 2048
	s1, s2 := randCov(1, 3000, d), randCov(2, 3000, d)
	mu1, mu2 := make([]float64, d), make([]float64, d)
	mu2[0] = 1
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := FrechetDistance(mu1, s1, mu2, s2, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
}
