package fid

import (
	"fmt"
	"github.com/nvaego/nvae/internal/testenv"
	"math"
	"math/big"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nvaego/nvae/pkg/safetensors"
	"gonum.org/v1/gonum/mat"
)

func TestFIDStatsHandComputed(t *testing.T) {
	// Rows (1,2), (3,6), (5,7): mean (3,5); centred (-2,-3), (0,1), (2,2);
	// cross products 8, 10, 14; divided by n-1 = 2.
	mu, sigma := Stats([]float64{1, 2, 3, 6, 5, 7}, 3, 2)
	if fmt.Sprint(mu) != "[3 5]" || fmt.Sprint(sigma) != "[4 5 5 7]" {
		t.Fatalf("Stats = %v, %v; want [3 5], [4 5 5 7]", mu, sigma)
	}
	mu32, sigma32 := Stats32([]float32{1, 2, 3, 6, 5, 7}, 3, 2)
	if fmt.Sprint(mu32) != "[3 5]" || fmt.Sprint(sigma32) != "[4 5 5 7]" {
		t.Fatalf("Stats32 = %v, %v", mu32, sigma32)
	}
}

func TestFIDStatsBlockedMatchesNaive(t *testing.T) {
	const n, d = 23, 300 // d crosses the covariance block size
	rng := rand.New(rand.NewSource(1))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64() + float64(i%d)*0.01
	}
	mu, sigma := Stats(x, n, d)
	for a := 0; a < d; a++ {
		for b := 0; b < d; b++ {
			s := 0.0
			for i := 0; i < n; i++ {
				s += (x[i*d+a] - mu[a]) * (x[i*d+b] - mu[b])
			}
			s /= n - 1
			if got := sigma[a*d+b]; !(math.Abs(got-s) <= 1e-13*(1+math.Abs(s))) {
				t.Fatalf("sigma[%d,%d] = %v, naive %v", a, b, got, s)
			}
			if sigma[a*d+b] != sigma[b*d+a] {
				t.Fatalf("sigma not exactly symmetric at %d,%d", a, b)
			}
		}
	}
}

func TestFIDFrechetClosedForms(t *testing.T) {
	// 1-D: (0-1)² + 4 + 9 - 2*sqrt(36) = 2.
	if got, err := FrechetDistance([]float64{0}, []float64{4}, []float64{1}, []float64{9}, 1); err != nil || !(math.Abs(got-2) <= 1e-14) {
		t.Fatalf("1-D FID = %v, %v; want 2", got, err)
	}
	// Diagonal: |Δμ|² + Σ (sqrt a - sqrt b)².
	a, b := []float64{1, 4, 0.25}, []float64{9, 1, 0}
	s1, s2 := make([]float64, 9), make([]float64, 9)
	want := 1.0 + 4 + 0
	for i := range a {
		s1[i*3+i], s2[i*3+i] = a[i], b[i]
		want += (math.Sqrt(a[i]) - math.Sqrt(b[i])) * (math.Sqrt(a[i]) - math.Sqrt(b[i]))
	}
	got, err := FrechetDistance([]float64{1, 2, 0}, s1, []float64{0, 0, 0}, s2, 3)
	if err != nil || !(math.Abs(got-want) <= 1e-13) {
		t.Fatalf("diagonal FID = %v, %v; want %v", got, err, want)
	}
	// Zero covariance on one side: tr sqrtm(0) = 0.
	z := make([]float64, 9)
	s2 = []float64{2, 1, 0, 1, 2, 0.5, 0, 0.5, 1}
	got, err = FrechetDistance(make([]float64, 3), z, make([]float64, 3), s2, 3)
	if err != nil || !(math.Abs(got-5) <= 1e-13) {
		t.Fatalf("FID against zero covariance = %v, %v; want 5", got, err)
	}
	// Errors.
	if _, err := FrechetDistance([]float64{0}, []float64{1, 0}, []float64{0}, []float64{1}, 1); err == nil {
		t.Fatal("accepted a wrong-sized sigma")
	}
	if _, err := FrechetDistance([]float64{0}, []float64{math.NaN()}, []float64{0}, []float64{1}, 1); err == nil {
		t.Fatal("accepted a NaN sigma")
	}
}

// TestFIDTraceSqrtNonCommuting compares the eigen route with an independent
// one: for SPD S1 = L Lᵀ, the eigenvalues of S1·S2 are those of Lᵀ S2 L.
func TestFIDTraceSqrtNonCommuting(t *testing.T) {
	const d = 12
	rng := rand.New(rand.NewSource(5))
	randSPD := func() ([]float64, []float64) {
		l := make([]float64, d*d)
		for i := 0; i < d; i++ {
			for j := 0; j <= i; j++ {
				l[i*d+j] = rng.NormFloat64()
			}
			l[i*d+i] = 1 + math.Abs(l[i*d+i])
		}
		s := make([]float64, d*d)
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				for k := 0; k < d; k++ {
					s[i*d+j] += l[i*d+k] * l[j*d+k]
				}
			}
		}
		return s, l
	}
	s1, l := randSPD()
	s2, _ := randSPD()
	// M = Lᵀ S2 L, symmetric PD; tr sqrt(M) via power-free route: Jacobi.
	m := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			for a := 0; a < d; a++ {
				for b := 0; b < d; b++ {
					m[i*d+j] += l[a*d+i] * s2[a*d+b] * l[b*d+j]
				}
			}
		}
	}
	want := 0.0
	for _, ev := range jacobiEigenvalues(m, d) {
		want += math.Sqrt(ev)
	}
	got, err := TraceSqrtProduct(s1, s2, d)
	if err != nil || !(math.Abs(got-want) <= 1e-11*want) {
		t.Fatalf("TraceSqrtProduct = %v, %v; Cholesky/Jacobi route %v", got, err, want)
	}
}

// jacobiEigenvalues returns the eigenvalues of a symmetric matrix by cyclic
// Jacobi rotations (test-only, independent of gonum).
func jacobiEigenvalues(a []float64, n int) []float64 {
	a = append([]float64(nil), a...)
	for sweep := 0; sweep < 100; sweep++ {
		off := 0.0
		for p := 0; p < n; p++ {
			for q := p + 1; q < n; q++ {
				off += a[p*n+q] * a[p*n+q]
			}
		}
		if off < 1e-30 {
			break
		}
		for p := 0; p < n; p++ {
			for q := p + 1; q < n; q++ {
				if a[p*n+q] == 0 {
					continue
				}
				theta := (a[q*n+q] - a[p*n+p]) / (2 * a[p*n+q])
				tt := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(tt*tt+1)
				s := tt * c
				for k := 0; k < n; k++ {
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p], a[k*n+q] = c*akp-s*akq, s*akp+c*akq
				}
				for k := 0; k < n; k++ {
					apk, aqk := a[p*n+k], a[q*n+k]
					a[p*n+k], a[q*n+k] = c*apk-s*aqk, s*apk+c*aqk
				}
			}
		}
	}
	ev := make([]float64, n)
	for i := range ev {
		ev[i] = a[i*n+i]
	}
	return ev
}

func TestFIDNeedsEpsilon(t *testing.T) {
	diag := func(v ...float64) []float64 {
		s := make([]float64, len(v)*len(v))
		for i, x := range v {
			s[i*len(v)+i] = x
		}
		return s
	}
	cases := []struct {
		a, b []float64
		want bool
	}{
		{diag(1, 1, 1), diag(1, 1, 1), false},
		{diag(0, 1, 1), diag(0, 1, 1), false}, // shared dead unit
		{diag(0, 1, 1), diag(1, 1, 1), false}, // dead in one set only
		{diag(1, 1, 1), diag(1, 0, 1), false},
		{diag(0, 1, 1), diag(1, 0, 1), true}, // each set has its own dead unit
		{diag(0, 0, 1), diag(0, 1, 0), true},
	}
	for i, c := range cases {
		if got := NeedsEpsilon(c.a, c.b, 3); got != c.want {
			t.Errorf("case %d: NeedsEpsilon = %v, want %v", i, got, c.want)
		}
	}
}

// TestFIDFma32 checks the float32 fused multiply-add against exact
// big.Float arithmetic, including double-rounding traps.
func TestFIDFma32(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	check := func(a, b, c float32) {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		want, _ := x.Float32()
		if got := fma32(a, b, c); got != want {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
	for i := 0; i < 200000; i++ {
		a := float32(rng.NormFloat64())
		b := float32(rng.NormFloat64())
		c := float32(rng.NormFloat64() * math.Pow(2, float64(rng.Intn(60)-30)))
		check(a, b, c)
	}
	// 1+2^-24 is a float32 midpoint; a tiny product decides the rounding.
	check(1.0/(1<<24), 1, 1)
	check(1.0/(1<<24), 1+1.0/(1<<23), 1)
	check(-1.0/(1<<24), 1+1.0/(1<<23), 1)
	check(1.0/(1<<20), 1.0/(1<<20)+1.0/(1<<40), 1)
}

// oracleDir is $NVAE_FID_ORACLE_DIR or testdata/oracle/fid.
func oracleDir(t *testing.T) string {
	return testenv.FIDDir(t)
}

// TestFIDFrechetOracle checks every case of frechet.safetensors (statistics
// recomputed from the stored features, and the FID) against the values the
// official pytorch-fid code produced, with the README's tolerances: FID
// relative 1e-10, 1e-9 for cases that took the eps branch, 1e-7 for cases
// where scipy's sqrtm went complex; recomputed mu/sigma 1e-12 relative to
// the largest entry; float32 means bit-exact. The d = 2048 case takes about
// half a minute of CPU and is skipped with -short.
func TestFIDFrechetOracle(t *testing.T) {
	path := filepath.Join(oracleDir(t), "frechet.safetensors")
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatalf("oracle data: %v", err)
	}
	get := func(name string) safetensors.Tensor {
		t.Helper()
		ts, ok := f.Tensors[name]
		if !ok {
			t.Fatalf("%s: no tensor %q", path, name)
		}
		return ts
	}
	f64 := func(name string) []float64 {
		t.Helper()
		v, err := get(name).Float64()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		return v
	}
	has := func(name string) bool { _, ok := f.Tensors[name]; return ok }
	var cases []string
	for name := range f.Tensors {
		if c, ok := strings.CutSuffix(name, "/fid"); ok {
			cases = append(cases, c)
		}
	}
	sort.Strings(cases)
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}

	type result struct {
		name          string
		got, want     float64
		abs, rel, tol float64
	}
	var results []result
	for _, c := range cases {
		if testing.Short() && (has(c+"/a_u8") || (has(c+"/a") && get(c + "/a").Shape[1] > 256)) {
			t.Logf("%s: skipped in -short mode (large case)", c)
			continue
		}
		start := time.Now()
		var (
			muA, muB       []float64
			muA32, muB32   []float32
			sigmaA, sigmaB []float64
			d              int
		)
		// Statistics from the stored features.
		statsOf := func(side string) ([]float64, []float32, []float64) {
			switch {
			case has(c + "/" + side + "_u8"):
				ts := get(c + "/" + side + "_u8")
				scale := f64(c + "/u8_scale")[0]
				x, err := ts.Float64()
				if err != nil {
					t.Fatal(err)
				}
				for i := range x {
					x[i] *= scale
				}
				d = ts.Shape[1]
				mu, sigma := Stats(x, ts.Shape[0], d)
				return mu, nil, sigma
			case get(c+"/"+side).DType == safetensors.F32:
				ts := get(c + "/" + side)
				x, err := ts.Float32()
				if err != nil {
					t.Fatal(err)
				}
				d = ts.Shape[1]
				mu, sigma := Stats32(x, ts.Shape[0], d)
				return nil, mu, sigma
			default:
				ts := get(c + "/" + side)
				x := f64(c + "/" + side)
				d = ts.Shape[1]
				mu, sigma := Stats(x, ts.Shape[0], d)
				return mu, nil, sigma
			}
		}
		muA, muA32, sigmaA = statsOf("a")
		muB, muB32, sigmaB = statsOf("b")

		// Compare the recomputed statistics with the stored ones.
		for _, side := range []string{"a", "b"} {
			mu, mu32, sigma := muA, muA32, sigmaA
			if side == "b" {
				mu, mu32, sigma = muB, muB32, sigmaB
			}
			if mu32 != nil {
				want, err := get(c + "/mu_" + side).Float32()
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(mu32[i]) {
						t.Errorf("%s: float32 mu_%s[%d] = %v, official %v (must be bit-exact)", c, side, i, mu32[i], want[i])
						break
					}
				}
			} else {
				compareRel(t, c+"/mu_"+side, mu, f64(c+"/mu_"+side), 1e-12)
			}
			if has(c + "/sigma_" + side) {
				compareRel(t, c+"/sigma_"+side, sigma, f64(c+"/sigma_"+side), 1e-12)
			}
			if has(c + "/sigma_" + side + "_diag") {
				diag := make([]float64, d)
				for i := range diag {
					diag[i] = sigma[i*d+i]
				}
				compareRel(t, c+"/sigma_"+side+"_diag", diag, f64(c+"/sigma_"+side+"_diag"), 1e-12)
				rows := f64(c + "/sigma_" + side + "_rows0to3")
				compareRel(t, c+"/sigma_"+side+"_rows0to3", sigma[:len(rows)], rows, 1e-12)
			}
		}

		// The FID from the official statistics where stored (exactly what
		// calculate_frechet_distance received), else from ours.
		if has(c + "/sigma_a") {
			sigmaA, sigmaB = f64(c+"/sigma_a"), f64(c+"/sigma_b")
		}
		if eps := get(c + "/eps_branch").Data[0] == 1; eps != NeedsEpsilon(sigmaA, sigmaB, d) {
			t.Errorf("%s: NeedsEpsilon = %v, official eps branch %v", c, !eps, eps)
		}
		var got float64
		if muA32 != nil {
			got, err = FrechetDistance32(muA32, sigmaA, muB32, sigmaB, d)
		} else {
			got, err = FrechetDistance(muA, sigmaA, muB, sigmaB, d)
		}
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		want := f64(c + "/fid")[0]
		tol := 1e-10
		if get(c + "/eps_branch").Data[0] == 1 {
			tol = 1e-9
		}
		if get(c + "/complex_branch").Data[0] == 1 {
			tol = 1e-7
		}
		r := result{c, got, want, math.Abs(got - want), math.Abs(got-want) / math.Abs(want), tol}
		results = append(results, r)
		t.Logf("%-9s d=%4d FID %.17g official %.17g abs %.3g rel %.3g (tol %g) %.1fs",
			c, d, got, want, r.abs, r.rel, tol, time.Since(start).Seconds())
	}
	worst := results[0]
	for _, r := range results {
		if r.rel/r.tol > worst.rel/worst.tol {
			worst = r
		}
	}
	for _, r := range results {
		if r.rel > r.tol {
			t.Errorf("%s: FID %.17g, official %.17g: abs error %.3g, rel error %.3g > %g",
				r.name, r.got, r.want, r.abs, r.rel, r.tol)
		}
	}
	if t.Failed() {
		t.Logf("worst case %s: abs error %.3g, rel error %.3g (tolerance %g)", worst.name, worst.abs, worst.rel, worst.tol)
	}
}

// compareRel fails when max|got-want| exceeds tol times max|want|.
func compareRel(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, official %d", name, len(got), len(want))
		return
	}
	scale, maxd, at := 0.0, 0.0, 0
	for i := range want {
		scale = math.Max(scale, math.Abs(want[i]))
		if dd := math.Abs(got[i] - want[i]); !(dd <= maxd) {
			maxd, at = dd, i
		}
	}
	if !(maxd <= tol*scale) {
		t.Errorf("%s: max abs error %.3g at %d (%v vs official %v) > %g relative to %.3g",
			name, maxd, at, got[at], want[at], tol, scale)
	}
}

// checkEigen verifies A·V = V·diag(w), VᵀV = I and ascending w, and compares
// w with gonum's EigenSym.
func checkEigen(t *testing.T, name string, a []float64, n int) {
	t.Helper()
	w, v, err := symEigen(a, n)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	anorm := 0.0
	for _, x := range a {
		anorm = math.Max(anorm, math.Abs(x))
	}
	anorm = math.Max(anorm, 1e-300)
	var res, orth float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			av, vv := 0.0, 0.0
			for k := 0; k < n; k++ {
				av += a[i*n+k] * v[k*n+j]
				vv += v[k*n+i] * v[k*n+j]
			}
			res = math.Max(res, math.Abs(av-v[i*n+j]*w[j]))
			if i == j {
				vv--
			}
			orth = math.Max(orth, math.Abs(vv))
		}
	}
	var ref mat.EigenSym
	if !ref.Factorize(mat.NewSymDense(n, append([]float64(nil), a...)), false) {
		t.Fatal("gonum EigenSym failed")
	}
	wref := ref.Values(nil)
	var dw float64
	for i := range w {
		if i > 0 && w[i] < w[i-1] {
			t.Fatalf("%s: eigenvalues not ascending at %d", name, i)
		}
		dw = math.Max(dw, math.Abs(w[i]-wref[i]))
	}
	t.Logf("%s n=%d: residual %.2g orthogonality %.2g eigenvalue diff %.2g", name, n, res/anorm, orth, dw/anorm)
	tol := math.Max(1e-13, 2e-14*float64(n))
	if !(res <= tol*anorm) || !(orth <= tol) || dw > tol*anorm {
		t.Fatalf("%s (n=%d): residual %.3g, orthogonality %.3g, eigenvalue diff vs gonum %.3g (|A| %.3g)",
			name, n, res/anorm, orth, dw/anorm, anorm)
	}
}

func TestFIDSymEigen(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	sym := func(n int, f func(i, j int) float64) []float64 {
		a := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				a[i*n+j] = f(i, j)
				a[j*n+i] = a[i*n+j]
			}
		}
		return a
	}
	for _, n := range []int{1, 2, 5, 33, 64, 150, 520} {
		checkEigen(t, "random", sym(n, func(i, j int) float64 { return rng.NormFloat64() }), n)
	}
	// Identity and repeated eigenvalues (maximal deflation).
	checkEigen(t, "identity", sym(100, func(i, j int) float64 { return b2f(i == j) }), 100)
	checkEigen(t, "zero", make([]float64, 70*70), 70)
	checkEigen(t, "clusters", sym(90, func(i, j int) float64 {
		if i == j {
			return float64(i % 3)
		}
		return 1e-9 * rng.NormFloat64()
	}), 90)
	// Rank-deficient covariances (fewer samples than dimensions), also
	// with widely spread scales, the FID situation.
	for _, c := range []struct{ n, d int }{{10, 80}, {40, 64}, {300, 120}} {
		x := make([]float64, c.n*c.d)
		for i := range x {
			x[i] = rng.NormFloat64() * math.Pow(10, float64(i%c.d%7)-3)
		}
		_, s := Stats(x, c.n, c.d)
		checkEigen(t, fmt.Sprintf("cov n=%d", c.n), s, c.d)
	}
	// Tridiagonal with tiny couplings (Wilkinson-like).
	checkEigen(t, "wilkinson", sym(101, func(i, j int) float64 {
		if i == j {
			return math.Abs(float64(i - 50))
		}
		return b2f(j == i+1)
	}), 101)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
