// Package gemm holds the general matrix multiply used by the CPU backend
// (convolutions through im2col, matmul, linear layers).
//
// All matrices are row-major. C = alpha*op(A)*op(B) + beta*C with op(X) = X
// or Xᵀ; op(A) is m×k, op(B) is k×n, C is m×n. When beta is zero C is
// overwritten without being read, so it may hold NaN or garbage.
//
// The implementation is a packed, cache-blocked GEMM in the Goto/BLIS
// style. Panels of op(A) (mr rows) and op(B) (nr columns) are copied into
// contiguous, 64-byte aligned buffers taken from per-size sync.Pools; K is
// cut into equal blocks of at most kc and N into blocks whose packed B fits
// in L2; a register-tiled micro-kernel then runs over every mr×nr tile,
// keeping the A micro-panel in L1 while B micro-panels stream from L2.
//
// Micro-kernels (generated Go assembly, see gen_kernels.go):
//   - AVX-512 (AVX512F+DQ, detected with golang.org/x/sys/cpu): float32
//     8×48 and float64 8×24 tiles, one kernel per row count so edge rows
//     cost nothing, opmask registers for edge columns;
//   - AVX2+FMA, float32 6×16, for CPUs without AVX-512 (edge columns go
//     through a small buffer);
//   - plain Go 4×4, used for float64 without AVX-512, on other
//     architectures and with the purego build tag.
//
// Products of at least 2 MFLOP run on par.Workers cores: the operand shared
// by all cores (op(A) when N is split, op(B) when M is split) is packed
// once by the workers together, then they take balanced chunks of the other
// dimension from a shared counter. GemmPackB takes B as a function that
// writes the packed panels directly (convolutions generate im2col columns
// that way). Tiny products (m·n·k < 256) use direct
// loops. Single-core calls allocate nothing once the pools are warm.
package gemm

import "fmt"

// Float is the set of element types the kernels are generic over.
type Float interface{ ~float32 | ~float64 }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C in float32.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(sEngine, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm computes C = alpha*op(A)*op(B) + beta*C in float64.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(dEngine, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Gemm dispatches to Sgemm or Dgemm by element type.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch av := any(a).(type) {
	case []float32:
		Sgemm(transA, transB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		Dgemm(transA, transB, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	default:
		panic("gemm: unsupported element type")
	}
}

// checkMatrix panics unless a rows×cols row-major matrix with stride ld
// fits in a slice of length n.
func checkMatrix(name string, rows, cols, ld, n int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: ld%s = %d is less than its row length %d", name, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; n < need {
		panic(fmt.Sprintf("gemm: %s has %d elements, a %d×%d matrix with stride %d needs %d", name, n, rows, cols, ld, need))
	}
}

// gemm validates the arguments and runs the call on engine e.
func gemm[T Float](e *engine[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ra, ca := m, k
	if transA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if transB {
		rb, cb = n, k
	}
	checkMatrix("a", ra, ca, lda, len(a))
	checkMatrix("b", rb, cb, ldb, len(b))
	checkMatrix("c", m, n, ldc, len(c))
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if m*n*k <= smallWork {
		small(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	j := job[T]{e: e, transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc}
	if j.serial() {
		j.runSerial()
		return
	}
	runParallel(j)
}

// PackB writes the block op(B)[pc:pc+kb, jc:jc+nb] of a k×n matrix B, which
// exists only through this function, into dst (length ⌈nb/nr⌉·nr·kb) as
// micro-panels of nr columns: element (p, q·nr+j) of the block at
// q·nr·kb + p·nr + j, columns past nb zero. With nr = nb = n and the whole K
// range it writes B itself, row-major. It may be called from several
// goroutines at once (on disjoint dst).
type PackB[T Float] func(dst []T, nr, pc, kb, jc, nb int)

// GemmPackB computes C = alpha*A*B + beta*C for a row-major m×k A and a
// k×n B given by pack, so that callers can generate B (im2col, say)
// straight into the kernels' panel buffers instead of materialising it.
// The result is bit-for-bit that of Gemm(false, false, ...) on the
// materialised B: packing only moves elements, and the K blocking and
// summation order are the same.
func GemmPackB[T Float](m, n, k int, alpha T, a []T, lda int, pack PackB[T], beta T, c []T, ldc int) {
	switch av := any(a).(type) {
	case []float32:
		gemmPackB(sEngine, m, n, k, float32(alpha), av, lda, any(pack).(PackB[float32]), float32(beta), any(c).([]float32), ldc)
	case []float64:
		gemmPackB(dEngine, m, n, k, float64(alpha), av, lda, any(pack).(PackB[float64]), float64(beta), any(c).([]float64), ldc)
	default:
		panic("gemm: unsupported element type")
	}
}

func gemmPackB[T Float](e *engine[T], m, n, k int, alpha T, a []T, lda int, pack PackB[T], beta T, c []T, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkMatrix("a", m, k, lda, len(a))
	checkMatrix("c", m, n, ldc, len(c))
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 || m*n*k <= smallWork {
		// The direct loops read B row-major: one panel as wide as B.
		b := make([]T, k*n)
		if k > 0 {
			pack(b, n, 0, k, 0, n)
		}
		gemm(e, false, false, m, n, k, alpha, a, lda, b, max(n, 1), beta, c, ldc)
		return
	}
	j := job[T]{e: e, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, c: c, lda: lda, ldc: ldc, packFn: pack}
	if j.serial() {
		j.runSerial()
		return
	}
	runParallel(j)
}
