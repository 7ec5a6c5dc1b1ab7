package fid

import (
	"errors"
	"math"

	"github.com/nvaego/nvae/pkg/gemm"
	"github.com/nvaego/nvae/pkg/par"
)

// Eigenvalues of large symmetric matrices without eigenvectors, and the
// Cholesky factor used by the fast tr sqrtm route. The heavy products run
// on pkg/gemm's float64 kernels; the matrix-vector products of the
// tridiagonal reduction (memory bound) run over all cores.

// tridiagBlock is the panel width of the blocked tridiagonal reduction.
const tridiagBlock = 32

// symEigenvalues returns the eigenvalues (ascending) of the symmetric n×n
// matrix a (row-major, both triangles stored and equal). a is overwritten.
func symEigenvalues(a []float64, n int) ([]float64, error) {
	d, e := tridiagonalize(a, n)
	if n > 1 && !lapackImpl.Dsterf(n, d, e) {
		return nil, errors.New("tridiagonal QR iteration did not converge")
	}
	return d, nil
}

// tridiagonalize reduces the symmetric n×n matrix a (row-major, full
// storage; destroyed) to a symmetric tridiagonal matrix T = Qᵀ·a·Q by
// Householder reflections and returns its diagonal d and off-diagonal e
// (Q is not formed). It is LAPACK's blocked dsytrd/dlatrd for the lower
// triangle, transposed to row-major (row i holds column i): inside a panel
// the trailing matrix is updated lazily, at the end of the panel all at
// once as a rank-2·nb GEMM, so half the work is GEMM and half matrix-vector
// products.
func tridiagonalize(a []float64, n int) (d, e []float64) {
	d = make([]float64, n)
	e = make([]float64, max(n-1, 0))
	if n == 0 {
		return d, e
	}
	nb := tridiagBlock
	// Panel storage: V and W are m×nb row-major (row r-k for matrix row r).
	vbuf := make([]float64, n*nb)
	wbuf := make([]float64, n*nb)
	u1 := make([]float64, n*2*nb)
	u2 := make([]float64, n*2*nb)
	y := make([]float64, n)
	tmp := make([]float64, 2*nb)
	for k := 0; k < n-1; k += nb {
		b := min(nb, n-1-k)
		m := n - k
		V, W := vbuf[:m*nb], wbuf[:m*nb]
		clear(V)
		clear(W)
		for j := 0; j < b; j++ {
			i := k + j
			row := a[i*n : (i+1)*n]
			// Bring row i (= column i) up to date with the panel so far:
			// a[i, c] -= Σ_p V[i,p]·W[c,p] + W[i,p]·V[c,p] for c ≥ i.
			if j > 0 {
				vi, wi := V[(i-k)*nb:(i-k)*nb+j], W[(i-k)*nb:(i-k)*nb+j]
				for c := i; c < n; c++ {
					vc, wc := V[(c-k)*nb:(c-k)*nb+j], W[(c-k)*nb:(c-k)*nb+j]
					s := 0.0
					for p := range vi {
						s += vi[p]*wc[p] + wi[p]*vc[p]
					}
					row[c] -= s
				}
			}
			d[i] = row[i]
			// Householder reflector H = I - tau·v·vᵀ with v[0] = 1 mapping
			// x = a[i+1:, i] to (beta, 0, ..., 0) (LAPACK dlarfg).
			x := row[i+1:]
			alpha := x[0]
			xnorm := norm2(x[1:])
			var tau, beta float64
			if xnorm == 0 {
				tau, beta = 0, alpha
			} else {
				beta = -math.Copysign(math.Hypot(alpha, xnorm), alpha)
				tau = (beta - alpha) / beta
				s := 1 / (alpha - beta)
				for t := 1; t < len(x); t++ {
					x[t] *= s
				}
			}
			e[i] = beta
			x[0] = 1
			v := x // rows i+1..n-1
			mv := len(v)
			// y = A[i+1:, i+1:]·v on the matrix as of the panel start.
			yv := y[:mv]
			symv(a, n, i+1, v, yv)
			// w = tau·(y - V·(Wᵀv) - W·(Vᵀv)) over rows i+1.., then
			// w -= (tau/2)·(wᵀv)·v.
			if j > 0 {
				wtv, vtv := tmp[:j], tmp[nb:nb+j]
				clear(wtv)
				clear(vtv)
				for r := 0; r < mv; r++ {
					o := (i + 1 + r - k) * nb
					vr, wr := V[o:o+j], W[o:o+j]
					for p := 0; p < j; p++ {
						wtv[p] += wr[p] * v[r]
						vtv[p] += vr[p] * v[r]
					}
				}
				for r := 0; r < mv; r++ {
					o := (i + 1 + r - k) * nb
					vr, wr := V[o:o+j], W[o:o+j]
					s := 0.0
					for p := 0; p < j; p++ {
						s += vr[p]*wtv[p] + wr[p]*vtv[p]
					}
					yv[r] -= s
				}
			}
			dot := 0.0
			for r := 0; r < mv; r++ {
				yv[r] *= tau
				dot += yv[r] * v[r]
			}
			h := -0.5 * tau * dot
			for r := 0; r < mv; r++ {
				o := (i+1+r-k)*nb + j
				V[o] = v[r]
				W[o] = yv[r] + h*v[r]
			}
			x[0] = beta
		}
		// Trailing update A22 -= V·Wᵀ + W·Vᵀ over rows/columns k+b.. as
		// one GEMM with [V W]·[W V]ᵀ.
		r0 := k + b
		m2 := n - r0
		if m2 > 0 {
			U1, U2 := u1[:m2*2*b], u2[:m2*2*b]
			for r := 0; r < m2; r++ {
				o := (r0 - k + r) * nb
				copy(U1[r*2*b:r*2*b+b], V[o:o+b])
				copy(U1[r*2*b+b:r*2*b+2*b], W[o:o+b])
				copy(U2[r*2*b:r*2*b+b], W[o:o+b])
				copy(U2[r*2*b+b:r*2*b+2*b], V[o:o+b])
			}
			gemm.Dgemm(false, true, m2, m2, 2*b, -1, U1, 2*b, U2, 2*b, 1, a[r0*n+r0:], n)
		}
	}
	d[n-1] = a[(n-1)*n+n-1]
	return d, e
}

// symv sets y = A[o:, o:]·v for the symmetric trailing block of a (row
// stride n), reading only its upper triangle: row r contributes
// A[r,r]·v[r] + Σ_{c>r} A[r,c]·v[c] to y[r] and A[r,c]·v[r] to y[c], so the
// block is streamed from memory once, half of it. Rows are split between
// the cores in pieces of equal work, each core with its own y.
func symv(a []float64, n, o int, v, y []float64) {
	m := len(v)
	w := par.Workers
	if m < 256 {
		w = 1
	}
	ys := make([][]float64, w)
	ys[0] = y
	for t := 1; t < w; t++ {
		ys[t] = make([]float64, m)
	}
	clear(y)
	// Split rows so that each piece holds about the same number of upper
	// triangle elements: row r has m-r of them.
	bounds := make([]int, w+1)
	total := float64(m) * float64(m+1) / 2
	r := 0
	for t := 1; t < w; t++ {
		target := total * float64(t) / float64(w)
		// rows [0, r) hold m·r - r(r-1)/2 elements
		for r < m && float64(m)*float64(r)-float64(r)*float64(r-1)/2 < target {
			r++
		}
		bounds[t] = r
	}
	bounds[w] = m
	par.For(w, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			yt := ys[t]
			for r := bounds[t]; r < bounds[t+1]; r++ {
				row := a[(o+r)*n+o+r : (o+r)*n+o+m]
				vr := v[r]
				yt[r] += row[0] * vr
				yr := symvRow(row[1:], v[r+1:], yt[r+1:], vr)
				yt[r] += yr
			}
		}
	})
	for t := 1; t < w; t++ {
		for i, x := range ys[t] {
			y[i] += x
		}
	}
}

// symvRow returns Σ row[c]·v[c] and adds row[c]·s to y[c].
func symvRow(row, v, y []float64, s float64) float64 {
	n := len(row)
	v, y = v[:n], y[:n]
	var d0, d1, d2, d3 float64
	c := 0
	for ; c+4 <= n; c += 4 {
		a0, a1, a2, a3 := row[c], row[c+1], row[c+2], row[c+3]
		d0 += a0 * v[c]
		d1 += a1 * v[c+1]
		d2 += a2 * v[c+2]
		d3 += a3 * v[c+3]
		y[c] += a0 * s
		y[c+1] += a1 * s
		y[c+2] += a2 * s
		y[c+3] += a3 * s
	}
	for ; c < n; c++ {
		d0 += row[c] * v[c]
		y[c] += row[c] * s
	}
	return (d0 + d1) + (d2 + d3)
}

func norm2(x []float64) float64 {
	scale, ssq := 0.0, 1.0
	for _, v := range x {
		if v == 0 {
			continue
		}
		a := math.Abs(v)
		if scale < a {
			ssq = 1 + ssq*(scale/a)*(scale/a)
			scale = a
		} else {
			ssq += (a / scale) * (a / scale)
		}
	}
	return scale * math.Sqrt(ssq)
}

// cholBlock is the panel width of the blocked Cholesky factorisation.
const cholBlock = 128

// cholesky overwrites the symmetric n×n matrix a (row-major, lower triangle
// read) with its lower Cholesky factor L (a = L·Lᵀ), zeroing the strict
// upper triangle. It reports false when a is not numerically positive
// definite: a pivot is not positive or below n·ε times the largest diagonal
// element (the factor would then be dominated by rounding).
func cholesky(a []float64, n int) bool {
	maxDiag := 0.0
	for i := 0; i < n; i++ {
		maxDiag = math.Max(maxDiag, a[i*n+i])
	}
	tiny := float64(n) * 0x1p-52 * maxDiag
	for k := 0; k < n; k += cholBlock {
		b := min(cholBlock, n-k)
		// Factor the diagonal block (already updated by earlier panels).
		for j := k; j < k+b; j++ {
			rj := a[j*n : (j+1)*n]
			s := rj[j]
			for p := k; p < j; p++ {
				s -= rj[p] * rj[p]
			}
			if !(s > tiny) {
				return false
			}
			ljj := math.Sqrt(s)
			rj[j] = ljj
			for i := j + 1; i < k+b; i++ {
				ri := a[i*n : (i+1)*n]
				t := ri[j]
				for p := k; p < j; p++ {
					t -= ri[p] * rj[p]
				}
				ri[j] = t / ljj
			}
		}
		// Panel below: L21 = A21·L11⁻ᵀ (row by row forward substitution).
		par.For(n-k-b, 16, func(lo, hi int) {
			for i := k + b + lo; i < k+b+hi; i++ {
				ri := a[i*n : (i+1)*n]
				for j := k; j < k+b; j++ {
					rj := a[j*n : (j+1)*n]
					t := ri[j]
					for p := k; p < j; p++ {
						t -= ri[p] * rj[p]
					}
					ri[j] = t / rj[j]
				}
			}
		})
		// Trailing update A22 -= L21·L21ᵀ.
		if r0 := k + b; r0 < n {
			gemm.Dgemm(false, true, n-r0, n-r0, b, -1, a[r0*n+k:], n, a[r0*n+k:], n, 1, a[r0*n+r0:], n)
		}
	}
	for i := 0; i < n; i++ {
		clear(a[i*n+i+1 : (i+1)*n])
	}
	return true
}
