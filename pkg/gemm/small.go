package gemm

// smallWork is the largest m·n·k computed by the direct loops in small
// instead of the packed kernels: below it, packing costs more than it saves
// (measured: the packed path wins from 8×8×8 on).
const smallWork = 255

// small computes C = alpha*op(A)*op(B) + beta*C with plain loops and no
// packing, for tiny products.
func small[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if transB && !transA {
			// Dot products of contiguous rows of A and B.
			arow := a[i*lda : i*lda+k]
			for j := range crow {
				brow := b[j*ldb : j*ldb+k]
				var s T
				for p, av := range arow {
					s += av * brow[p]
				}
				if beta == 0 {
					crow[j] = alpha * s
				} else {
					crow[j] = alpha*s + beta*crow[j]
				}
			}
			continue
		}
		switch beta {
		case 0:
			clear(crow)
		case 1:
		default:
			for j := range crow {
				crow[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av T
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if !transB {
				brow := b[p*ldb : p*ldb+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
				continue
			}
			for j := range crow {
				crow[j] += av * b[j*ldb+p]
			}
		}
	}
}
