package fid

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// Tolerances of ValidateStats: asymmetry relative to the diagonal scale,
// and the diagonal shift (relative to the trace) under which a covariance
// must factorise, so that rounding in a singular but valid covariance
// (fewer images than dimensions, dead units) is accepted.
const (
	SymmetryTol = 1e-5
	PSDTol      = 1e-6
)

// ValidateStats checks Inception statistics before a Fréchet distance is
// computed from them: mu [d] and sigma [d,d] finite, sigma symmetric with a
// non-negative diagonal and positive semi-definite within PSDTol (Cholesky
// of sigma + PSDTol·tr(sigma)·I succeeds). An invalid covariance otherwise
// gives a meaningless (even negative) FID.
func ValidateStats(mu, sigma []float64, d int) error {
	if d < 1 || len(mu) != d || len(sigma) != d*d {
		return fmt.Errorf("mu has %d and sigma %d entries, want %d and %d×%d", len(mu), len(sigma), d, d, d)
	}
	for i, v := range mu {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("mu[%d] is %v: the statistics are not finite", i, v)
		}
	}
	trace := 0.0
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			if v := sigma[i*d+j]; math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("sigma[%d,%d] is %v: the statistics are not finite", i, j, v)
			}
		}
		v := sigma[i*d+i]
		if v < 0 {
			return fmt.Errorf("sigma[%d,%d] = %g is a negative variance: not a covariance matrix", i, i, v)
		}
		trace += v
	}
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			a, b := sigma[i*d+j], sigma[j*d+i]
			scale := math.Sqrt(sigma[i*d+i]*sigma[j*d+j]) + trace/float64(d)*1e-12
			if !(math.Abs(a-b) <= SymmetryTol*scale) {
				return fmt.Errorf("sigma is not symmetric: [%d,%d] = %g but [%d,%d] = %g", i, j, a, j, i, b)
			}
		}
	}
	if trace == 0 {
		return nil // all zero: the statistics of identical images
	}
	a := make([]float64, d*d)
	copy(a, sigma)
	shift := PSDTol * trace
	for i := 0; i < d; i++ {
		a[i*d+i] += shift
	}
	if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: a}); !ok {
		return fmt.Errorf("sigma is not positive semi-definite (Cholesky fails even with %g·trace added to the diagonal): not a covariance matrix", PSDTol)
	}
	return nil
}
