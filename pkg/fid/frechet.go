package fid

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"

	"github.com/nvaego/nvae/pkg/gemm"
)

// Epsilon is the diagonal offset pytorch-fid's calculate_frechet_distance
// adds to both covariances inside the matrix square root when the plain
// product has no finite square root.
const Epsilon = 1e-6

// Stats returns the mean and the unbiased covariance of n feature vectors of
// dimension d (features is row-major n×d), as pytorch-fid's
// calculate_activation_statistics computes them: mu = np.mean(act, axis=0),
// sigma = np.cov(act, rowvar=False), i.e. the cross-product of the centred
// features times 1/(n-1). sigma is row-major d×d and exactly symmetric.
// It panics if len(features) != n*d or n < 2.
func Stats(features []float64, n, d int) (mu, sigma []float64) {
	if len(features) != n*d || n < 2 || d < 1 {
		panic(fmt.Sprintf("fid: Stats: %d features for n=%d, d=%d (need n>=2)", len(features), n, d))
	}
	mu = columnMean(features, n, d)
	return mu, covariance(features, mu, n, d)
}

// Stats32 is Stats for float32 features, with numpy's dtype flow: mu is the
// float32 mean (a sequential float32 sum over rows, then a float32 division
// by n), while sigma is computed in float64 (np.cov converts to float64 and
// centres with the float64 mean).
func Stats32(features []float32, n, d int) (mu []float32, sigma []float64) {
	if len(features) != n*d || n < 2 || d < 1 {
		panic(fmt.Sprintf("fid: Stats32: %d features for n=%d, d=%d (need n>=2)", len(features), n, d))
	}
	mu = make([]float32, d)
	for i := 0; i < n; i++ {
		row := features[i*d : (i+1)*d]
		for j, v := range row {
			mu[j] += v
		}
	}
	for j := range mu {
		mu[j] /= float32(n)
	}
	f64 := make([]float64, len(features))
	for i, v := range features {
		f64[i] = float64(v)
	}
	return mu, covariance(f64, columnMean(f64, n, d), n, d)
}

// columnMean returns the per-column mean of the row-major n×d matrix x
// (sequential sum over rows, then division by n, like numpy).
func columnMean(x []float64, n, d int) []float64 {
	mu := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range x[i*d : (i+1)*d] {
			mu[j] += v
		}
	}
	for j := range mu {
		mu[j] /= float64(n)
	}
	return mu
}

// gramBlock is the column-block size of the blocked symmetric products.
const gramBlock = 256

// covariance returns (x - mu)^T (x - mu) * (1/(n-1)) as a row-major d×d
// matrix (exactly symmetric).
func covariance(x, mu []float64, n, d int) []float64 {
	xc := make([]float64, n*d)
	for i := 0; i < n; i++ {
		row, out := x[i*d:(i+1)*d], xc[i*d:(i+1)*d]
		for j, v := range row {
			out[j] = v - mu[j]
		}
	}
	return gramUpper(xc, xc, n, d, 1/float64(n-1))
}

// gramUpper returns alpha·Xᵀ·Y (X, Y row-major rows×d) for a product known
// to be symmetric: only the column blocks on and above the diagonal are
// computed, one GEMM each, and mirrored, so the result is exactly symmetric
// at about half the cost of a full product.
func gramUpper(x, y []float64, rows, d int, alpha float64) []float64 {
	out := make([]float64, d*d)
	for lo := 0; lo < d; lo += gramBlock {
		hi := min(lo+gramBlock, d)
		// out[lo:hi, lo:d] = alpha · x[:, lo:hi]ᵀ · y[:, lo:d].
		gemm.Dgemm(true, false, hi-lo, d-lo, rows, alpha, x[lo:], d, y[lo:], d, 0, out[lo*d+lo:], d)
	}
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			out[j*d+i] = out[i*d+j]
		}
	}
	return out
}

// checkInputs validates the sizes and finiteness of one set of statistics.
func checkInputs(name string, sigma []float64, d int) error {
	if d < 1 {
		return fmt.Errorf("fid: dimension %d, need at least 1", d)
	}
	if len(sigma) != d*d {
		return fmt.Errorf("fid: %s has %d entries, want %d×%d", name, len(sigma), d, d)
	}
	for _, v := range sigma {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("fid: %s has a non-finite entry", name)
		}
	}
	return nil
}

// NeedsEpsilon reports whether pytorch-fid (scipy 1.10 sqrtm) would fail on
// the plain product sigma1·sigma2 and retry with Epsilon added to both
// diagonals: that happens when sigma1 has a zero-variance dimension that has
// non-zero variance in sigma2, and sigma2 has one that has non-zero variance
// in sigma1 (e.g. dead ReLU units that differ between the two image sets).
func NeedsEpsilon(sigma1, sigma2 []float64, d int) bool {
	var only1, only2 bool
	for i := 0; i < d; i++ {
		v1, v2 := sigma1[i*d+i], sigma2[i*d+i]
		if v1 == 0 && v2 != 0 {
			only1 = true
		}
		if v2 == 0 && v1 != 0 {
			only2 = true
		}
	}
	return only1 && only2
}

// TraceSqrtProduct returns tr(sqrtm(sigma1·sigma2)) for symmetric positive
// semi-definite d×d matrices (row-major; only the upper triangles are read)
// as Σ sqrt(max(0, λ_i)) over the eigenvalues λ of a symmetric matrix
// similar to sigma1·sigma2 (eigenvalues only, no eigenvectors):
//
//   - when sigma1 (else sigma2) is numerically positive definite, Lᵀ·S·L
//     with L its Cholesky factor and S the other matrix (S1·S2 = L·Lᵀ·S2 is
//     similar to Lᵀ·S2·L);
//   - otherwise (singular covariances: fewer samples than dimensions, dead
//     units) sqrt(S1)·S2·sqrt(S1) with sqrt(S1) = V diag(sqrt(max(0, s))) Vᵀ
//     from the symmetric eigendecomposition S1 = V diag(s) Vᵀ, evaluated in
//     the orthogonally similar form diag(sqrt s)·(Vᵀ S2 V)·diag(sqrt s).
//
// The products run on pkg/gemm; the eigenvalues come from a blocked
// Householder tridiagonalisation and QR iteration (symEigenvalues).
func TraceSqrtProduct(sigma1, sigma2 []float64, d int) (float64, error) {
	if err := checkInputs("sigma1", sigma1, d); err != nil {
		return 0, err
	}
	if err := checkInputs("sigma2", sigma2, d); err != nil {
		return 0, err
	}
	var m []float64
	if l := symmetricCopy(sigma1, d); cholesky(l, d) {
		m = congruence(l, symmetricCopy(sigma2, d), d)
	} else if l := symmetricCopy(sigma2, d); cholesky(l, d) {
		m = congruence(l, symmetricCopy(sigma1, d), d)
	} else {
		var err error
		if m, err = sqrtCongruence(sigma1, sigma2, d); err != nil {
			return 0, err
		}
	}
	// Rows that are zero off the diagonal (units dead in both sets, with
	// the eps offset) hold an eigenvalue exactly; they are taken out before
	// the reduction, which would otherwise mix the tiny eigenvalue with the
	// others and leave it an absolute error of ε·‖M‖, large under sqrt.
	m, k, tr := deflate(m, d)
	eig, err := symEigenvalues(m, k)
	if err != nil {
		return 0, fmt.Errorf("fid: eigenvalues of the symmetrised product: %w", err)
	}
	for _, x := range eig {
		tr += math.Sqrt(math.Max(0, x))
	}
	return tr, nil
}

// deflate removes from the symmetric d×d matrix m the rows and columns that
// are zero off the diagonal. It returns the remaining k×k matrix and
// Σ sqrt(max(0, m_ii)) over the removed ones.
func deflate(m []float64, d int) ([]float64, int, float64) {
	var keep []int
	tr := 0.0
	for i := 0; i < d; i++ {
		row := m[i*d : (i+1)*d]
		isolated := true
		for j, x := range row {
			if x != 0 && j != i {
				isolated = false
				break
			}
		}
		if isolated {
			tr += math.Sqrt(math.Max(0, row[i]))
		} else {
			keep = append(keep, i)
		}
	}
	k := len(keep)
	if k == d {
		return m, d, tr
	}
	out := make([]float64, k*k)
	for a, i := range keep {
		for b, j := range keep {
			out[a*k+b] = m[i*d+j]
		}
	}
	return out, k, tr
}

// symmetricCopy returns the full symmetric matrix whose upper triangle is
// that of a.
func symmetricCopy(a []float64, d int) []float64 {
	s := append([]float64(nil), a...)
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			s[j*d+i] = s[i*d+j]
		}
	}
	return s
}

// congruence returns Lᵀ·S·L (exactly symmetric) for lower triangular L and
// symmetric S, both full row-major d×d.
func congruence(l, s []float64, d int) []float64 {
	t := make([]float64, d*d)
	gemm.Dgemm(false, false, d, d, d, 1, s, d, l, d, 0, t, d)
	return gramUpper(l, t, d, d, 1)
}

// sqrtCongruence returns diag(r)·(Vᵀ·S2·V)·diag(r) with S1 = V diag(s) Vᵀ
// and r = sqrt(max(0, s)): a matrix similar to sqrt(S1)·S2·sqrt(S1).
func sqrtCongruence(sigma1, sigma2 []float64, d int) ([]float64, error) {
	s, v, err := symEigen(sigma1, d)
	if err != nil {
		return nil, fmt.Errorf("fid: eigendecomposition of sigma1: %w", err)
	}
	t := make([]float64, d*d)
	gemm.Dgemm(false, false, d, d, d, 1, symmetricCopy(sigma2, d), d, v, d, 0, t, d)
	m := gramUpper(v, t, d, d, 1)
	r := make([]float64, d)
	for i, x := range s {
		r[i] = math.Sqrt(math.Max(0, x))
	}
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			m[i*d+j] *= r[i] * r[j]
		}
	}
	return m, nil
}

// frechet combines the squared mean distance with the covariance terms:
// d² = |mu1-mu2|² + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2)), with Epsilon added
// inside the square root exactly when pytorch-fid's retry would happen.
func frechet(diffSq float64, sigma1, sigma2 []float64, d int) (float64, error) {
	if err := checkInputs("sigma1", sigma1, d); err != nil {
		return 0, err
	}
	if err := checkInputs("sigma2", sigma2, d); err != nil {
		return 0, err
	}
	s1, s2 := sigma1, sigma2
	if NeedsEpsilon(sigma1, sigma2, d) {
		s1 = append([]float64(nil), sigma1...)
		s2 = append([]float64(nil), sigma2...)
		for i := 0; i < d; i++ {
			s1[i*d+i] += Epsilon
			s2[i*d+i] += Epsilon
		}
	}
	trCov, err := TraceSqrtProduct(s1, s2, d)
	if err != nil {
		return 0, err
	}
	var tr1, tr2 float64
	for i := 0; i < d; i++ {
		tr1 += sigma1[i*d+i]
		tr2 += sigma2[i*d+i]
	}
	return diffSq + tr1 + tr2 - 2*trCov, nil
}

// FrechetDistance returns the squared Fréchet distance between the Gaussians
// N(mu1, sigma1) and N(mu2, sigma2) of dimension d (sigmas row-major d×d),
// the FID as pytorch-fid's calculate_frechet_distance returns it for float64
// statistics. See TraceSqrtProduct for how tr(sqrtm(sigma1·sigma2)) is
// computed and NeedsEpsilon for the eps retry; unlike scipy this never
// fails on a complex square root (near-singular products are handled by
// clamping eigenvalues at 0).
func FrechetDistance(mu1, sigma1, mu2, sigma2 []float64, d int) (float64, error) {
	if len(mu1) != d || len(mu2) != d {
		return 0, fmt.Errorf("fid: mean lengths %d and %d, want %d", len(mu1), len(mu2), d)
	}
	diffSq := 0.0
	for i := range mu1 {
		x := mu1[i] - mu2[i]
		diffSq += x * x
	}
	if math.IsNaN(diffSq) || math.IsInf(diffSq, 0) {
		return 0, errors.New("fid: non-finite mean")
	}
	return frechet(diffSq, sigma1, sigma2, d)
}

// FrechetDistance32 is FrechetDistance for float32 means, following NVAE's
// dtype flow (float32 features give float32 mu and float64 sigma): the
// difference mu1-mu2 and its dot product are evaluated in float32, as numpy
// does, then promoted to float64 and added to the float64 trace terms.
func FrechetDistance32(mu1 []float32, sigma1 []float64, mu2 []float32, sigma2 []float64, d int) (float64, error) {
	if len(mu1) != d || len(mu2) != d {
		return 0, fmt.Errorf("fid: mean lengths %d and %d, want %d", len(mu1), len(mu2), d)
	}
	diff := make([]float32, d)
	for i := range mu1 {
		diff[i] = mu1[i] - mu2[i]
	}
	diffSq := float64(dot32(diff, diff))
	if math.IsNaN(diffSq) || math.IsInf(diffSq, 0) {
		return 0, errors.New("fid: non-finite mean")
	}
	return frechet(diffSq, sigma1, sigma2, d)
}

// dot32 is a float32 dot product summed in the order of OpenBLAS's sdot
// for x86-64 AVX2 (Haswell/Zen kernel, which numpy's np.dot uses for float32
// vectors): for the first n&^31 elements, 32 float32 accumulators (four
// 8-wide FMA registers) with element i going to accumulator i%32, reduced as
// (a[k]+a[k+4]) within each register, then (r0+r1)+(r2+r3) across registers,
// then two horizontal adds ((l0+l1)+(l2+l3)); the remaining elements'
// float32 products are added in float64 to a zero sum, the kernel result is
// added last and the total rounded to float32. This reproduces numpy's
// float32 |mu1-mu2|² bit for bit on such machines (other BLAS kernels sum in
// another order and can differ by a few float32 ulps).
func dot32(x, y []float32) float32 {
	n := len(x)
	n1 := n &^ 31
	var acc [32]float32
	for i := 0; i < n1; i++ {
		acc[i%32] = fma32(x[i], y[i], acc[i%32])
	}
	var reg [4][4]float32
	for j := 0; j < 4; j++ {
		for k := 0; k < 4; k++ {
			reg[j][k] = acc[8*j+k] + acc[8*j+k+4]
		}
	}
	var l [4]float32
	for k := 0; k < 4; k++ {
		l[k] = (reg[0][k] + reg[1][k]) + (reg[2][k] + reg[3][k])
	}
	kernel := (l[0] + l[1]) + (l[2] + l[3])
	tail := 0.0
	for i := n1; i < n; i++ {
		tail += float64(x[i] * y[i])
	}
	return float32(tail + float64(kernel))
}

// fma32 returns a*b+c rounded once to float32 (a float32 fused
// multiply-add). The product is exact in float64; the sum is rounded to
// float64 with round-to-odd, which makes the final rounding to float32
// correct (no double-rounding error).
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	// TwoSum: s + e == p + c exactly.
	bv := s - p
	e := (p - (s - bv)) + (float64(c) - bv)
	if e != 0 && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}

// ---------------------------------------------------------------------------
// Symmetric eigendecomposition: Householder tridiagonalisation (gonum
// Dsytrd/Dorgtr) and Cuppen's divide and conquer for the tridiagonal matrix,
// with Gu–Eisenstat's recomputed update vector for orthogonal eigenvectors.
// gonum's own EigenSym uses implicit QL with column rotations on a row-major
// matrix, which takes minutes for d = 2048; this path spends its time in GEMM.

// dcBase is the size up to which tridiagonal problems use implicit QL.
const dcBase = 32

var lapackImpl gonum.Implementation

// symEigen returns the eigenvalues (ascending) and the eigenvectors (columns
// of the row-major n×n v) of the symmetric matrix a (row-major; the upper
// triangle is read).
func symEigen(a []float64, n int) (w, v []float64, err error) {
	q := append([]float64(nil), a...)
	d := make([]float64, n)
	e := make([]float64, max(n-1, 1))
	tau := make([]float64, max(n-1, 1))
	work := []float64{0}
	lapackImpl.Dsytrd(blas.Upper, n, q, n, d, e, tau, work, -1)
	lwork := int(work[0])
	lapackImpl.Dorgtr(blas.Upper, n, q, n, tau, work, -1)
	lwork = max(lwork, int(work[0]), 1)
	work = make([]float64, lwork)
	lapackImpl.Dsytrd(blas.Upper, n, q, n, d, e, tau, work, lwork)
	lapackImpl.Dorgtr(blas.Upper, n, q, n, tau, work, lwork)
	z := make([]float64, n*n)
	if err := tridiagEigen(d, e[:max(n-1, 0)], z, n); err != nil {
		return nil, nil, err
	}
	v = make([]float64, n*n)
	gemm.Dgemm(false, false, n, n, n, 1, q, n, z, n, 0, v, n)
	return d, v, nil
}

// tridiagEigen overwrites d with the ascending eigenvalues of the symmetric
// tridiagonal matrix with diagonal d and off-diagonal e, and writes its
// eigenvectors as the columns of the n×n block q (row stride ldq).
func tridiagEigen(d, e []float64, q []float64, ldq int) error {
	n := len(d)
	if n <= dcBase {
		ee := make([]float64, max(n-1, 1))
		copy(ee, e)
		if !lapackImpl.Dsteqr(lapack.EVTridiag, n, d, ee, q, ldq, make([]float64, max(1, 2*n-2))) {
			return errors.New("tridiagonal QL iteration did not converge")
		}
		return nil
	}
	m := n / 2
	beta := e[m-1]
	d[m-1] -= math.Abs(beta)
	d[m] -= math.Abs(beta)
	var err1, err2 error
	if n >= 256 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			err1 = tridiagEigen(d[:m], e[:m-1], q, ldq)
		}()
		err2 = tridiagEigen(d[m:], e[m:], q[m*ldq+m:], ldq)
		wg.Wait()
	} else {
		err1 = tridiagEigen(d[:m], e[:m-1], q, ldq)
		err2 = tridiagEigen(d[m:], e[m:], q[m*ldq+m:], ldq)
	}
	if err1 != nil {
		return err1
	}
	if err2 != nil {
		return err2
	}
	return dcMerge(d, q, ldq, m, beta)
}

// dcMerge combines the eigensystems of the two halves (q is block diagonal:
// rows/columns [0,m) and [m,n)) coupled by the off-diagonal element beta:
// T = Q·(D + rho·z·zᵀ)·Qᵀ with rho = 2|beta| and unit z built from the last
// row of Q1 and the first row of Q2.
func dcMerge(d []float64, q []float64, ldq, m int, beta float64) error {
	n := len(d)
	rho := 2 * math.Abs(beta)
	z := make([]float64, n)
	sg := 1.0
	if beta < 0 {
		sg = -1
	}
	for i := 0; i < m; i++ {
		z[i] = q[(m-1)*ldq+i] / math.Sqrt2
	}
	for i := m; i < n; i++ {
		z[i] = sg * q[m*ldq+i] / math.Sqrt2
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool { return d[perm[a]] < d[perm[b]] })

	// Deflation (LAPACK dlaed2's tests): a negligible z component leaves its
	// eigenpair unchanged; two close poles are rotated so that one of them
	// has z = 0.
	dmax, zmax := 0.0, 0.0
	for i := range d {
		dmax = math.Max(dmax, math.Abs(d[i]))
		zmax = math.Max(zmax, math.Abs(z[i]))
	}
	tol := 8 * eps * math.Max(dmax, zmax)
	typ := make([]uint8, n) // 1: rows [0,m) only, 2: rows [m,n) only, 3: both
	for i := range typ {
		typ[i] = 1
		if i >= m {
			typ[i] = 2
		}
	}
	var keep, defl []int
	prev := -1
	for _, j := range perm {
		if rho*math.Abs(z[j]) <= tol {
			defl = append(defl, j)
			continue
		}
		if prev >= 0 {
			r := math.Hypot(z[prev], z[j])
			c, s := z[j]/r, z[prev]/r
			if math.Abs(c*s*(d[j]-d[prev])) <= tol {
				// Rotate columns prev, j so that z[prev] = 0.
				for row := 0; row < n; row++ {
					qp, qj := q[row*ldq+prev], q[row*ldq+j]
					q[row*ldq+prev] = c*qp - s*qj
					q[row*ldq+j] = s*qp + c*qj
				}
				dp, dj := d[prev], d[j]
				d[prev] = c*c*dp + s*s*dj
				d[j] = s*s*dp + c*c*dj
				z[prev], z[j] = 0, r
				typ[prev] |= typ[j]
				typ[j] = typ[prev]
				defl = append(defl, prev)
				prev = j
				continue
			}
			keep = append(keep, prev)
		}
		prev = j
	}
	if prev >= 0 {
		keep = append(keep, prev)
	}

	// Secular equation for the k kept poles.
	k := len(keep)
	dk := make([]float64, k)
	z2 := make([]float64, k)
	for i, j := range keep {
		dk[i] = d[j]
		z2[i] = z[j] * z[j]
	}
	org := make([]int, k)
	tau := make([]float64, k)
	delta := make([]float64, k)
	for j := 0; j < k; j++ {
		org[j], tau[j] = secularRoot(dk, z2, rho, j, delta)
	}
	// Löwner: the update vector that has exactly these roots.
	zhat := make([]float64, k)
	for i := 0; i < k; i++ {
		p := ((dk[org[i]] - dk[i]) + tau[i]) / rho
		for j := 0; j < k; j++ {
			if j != i {
				p *= ((dk[org[j]] - dk[i]) + tau[j]) / (dk[j] - dk[i])
			}
		}
		zhat[i] = math.Copysign(math.Sqrt(math.Abs(p)), z[keep[i]])
	}
	// Eigenvectors of D + rho·zhat·zhatᵀ: u_j[i] = zhat_i / (d_i - lambda_j).
	u := make([]float64, k*k)
	for j := 0; j < k; j++ {
		nrm := 0.0
		for i := 0; i < k; i++ {
			x := zhat[i] / ((dk[i] - dk[org[j]]) - tau[j])
			u[i*k+j] = x
			nrm += x * x
		}
		nrm = 1 / math.Sqrt(nrm)
		for i := 0; i < k; i++ {
			u[i*k+j] *= nrm
		}
	}

	// New eigenvectors of the kept part: Q[:, keep]·U, using the block
	// structure (columns of type 1 are zero in rows [m,n), type 2 in [0,m)).
	res := make([]float64, n*k)
	mulPart := func(r0, r1 int, want uint8) {
		var cols []int
		for i, j := range keep {
			if typ[j]&want != 0 {
				cols = append(cols, i)
			}
		}
		if len(cols) == 0 || r1 <= r0 {
			return
		}
		rows := r1 - r0
		a := make([]float64, rows*len(cols))
		b := make([]float64, len(cols)*k)
		for c, i := range cols {
			col := keep[i]
			for r := 0; r < rows; r++ {
				a[r*len(cols)+c] = q[(r0+r)*ldq+col]
			}
			copy(b[c*k:(c+1)*k], u[i*k:(i+1)*k])
		}
		gemm.Dgemm(false, false, rows, k, len(cols), 1, a, len(cols), b, k, 0, res[r0*k:], k)
	}
	if k > 0 {
		mulPart(0, m, 1)
		mulPart(m, n, 2)
	}

	// Assemble all eigenpairs in ascending order.
	type pair struct {
		val float64
		src int // >= 0: column src of res; < 0: column -src-1 of q
	}
	pairs := make([]pair, 0, n)
	for j := 0; j < k; j++ {
		pairs = append(pairs, pair{dk[org[j]] + tau[j], j})
	}
	for _, j := range defl {
		pairs = append(pairs, pair{d[j], -j - 1})
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].val < pairs[b].val })
	out := make([]float64, n*n)
	for c, p := range pairs {
		d[c] = p.val
		if p.src >= 0 {
			for r := 0; r < n; r++ {
				out[r*n+c] = res[r*k+p.src]
			}
		} else {
			col := -p.src - 1
			for r := 0; r < n; r++ {
				out[r*n+c] = q[r*ldq+col]
			}
		}
	}
	for r := 0; r < n; r++ {
		copy(q[r*ldq:r*ldq+n], out[r*n:(r+1)*n])
	}
	return nil
}

// eps is the float64 unit roundoff (2^-53).
const eps = 0x1p-53

// secularRoot returns the j-th smallest root lambda of
// f(lambda) = 1 + rho·Σ z2_i/(d_i - lambda) for strictly increasing d,
// z2_i > 0 and rho > 0, as lambda = d[o] + tau relative to the nearer pole
// d[o] (so that d_i - lambda is accurate). delta is scratch of len(d).
// The iteration is bracketed bisection combined with Li's "middle way"
// two-pole rational model step, which converges quadratically.
func secularRoot(d, z2 []float64, rho float64, j int, delta []float64) (o int, tau float64) {
	k := len(d)
	var lo, hi float64
	if j < k-1 {
		gap := d[j+1] - d[j]
		mid := gap / 2
		f := 1.0
		for i := range d {
			f += rho * z2[i] / ((d[i] - d[j]) - mid)
		}
		if f >= 0 {
			o, lo, hi = j, 0, mid
		} else {
			o, lo, hi = j+1, -(gap - mid), 0
		}
	} else {
		o, lo = k-1, 0
		for i := range z2 {
			hi += rho * z2[i]
		}
	}
	for i := range d {
		delta[i] = d[i] - d[o]
	}
	tau = (lo + hi) / 2
	for iter := 0; iter < 300; iter++ {
		var psi, dpsi, phi, dphi, abssum float64
		for i := 0; i <= j; i++ {
			t := z2[i] / (delta[i] - tau)
			psi += t
			dpsi += t / (delta[i] - tau)
			abssum -= t
		}
		for i := j + 1; i < k; i++ {
			t := z2[i] / (delta[i] - tau)
			phi += t
			dphi += t / (delta[i] - tau)
			abssum += t
		}
		f := 1 + rho*(psi+phi)
		if f == 0 || math.Abs(f) <= 4*eps*float64(k+2)*(1+rho*abssum) {
			return o, tau
		}
		if f < 0 {
			lo = tau
		} else {
			hi = tau
		}
		if hi-lo <= 4*eps*math.Max(math.Abs(lo), math.Abs(hi)) {
			return o, tau
		}
		// Model step: psi ≈ a1 + b1/(delta_j - t), phi ≈ a2 + b2/(delta_{j+1} - t).
		next := math.NaN()
		p := delta[j]
		b1 := dpsi * (p - tau) * (p - tau)
		a1 := psi - b1/(p-tau)
		if j < k-1 {
			qd := delta[j+1]
			b2 := dphi * (qd - tau) * (qd - tau)
			a2 := phi - b2/(qd-tau)
			c := 1 + rho*(a1+a2)
			B1, B2 := rho*b1, rho*b2
			// c·t² - (c(p+q) + B1 + B2)·t + (c·p·q + B1·q + B2·p) = 0.
			qa := c
			qb := -(c*(p+qd) + B1 + B2)
			qc := c*p*qd + B1*qd + B2*p
			if qa == 0 {
				next = -qc / qb
			} else if disc := qb*qb - 4*qa*qc; disc >= 0 {
				w := -0.5 * (qb + math.Copysign(math.Sqrt(disc), qb))
				r1, r2 := w/qa, qc/w
				if r1 > lo && r1 < hi {
					next = r1
				} else {
					next = r2
				}
			}
		} else if den := 1 + rho*a1; den > 0 {
			next = p + rho*b1/den
		}
		if !(next > lo && next < hi) {
			al, ah := math.Abs(lo), math.Abs(hi)
			if lo != 0 && hi != 0 && (lo > 0) == (hi > 0) && math.Max(al, ah) > 16*math.Min(al, ah) {
				next = math.Copysign(math.Sqrt(al*ah), hi) // geometric bisection
			} else {
				next = lo + (hi-lo)/2
			}
		}
		if math.Abs(next-tau) <= 2*eps*math.Abs(next) {
			return o, next
		}
		tau = next
	}
	return o, tau
}
