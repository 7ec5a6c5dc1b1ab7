package cuda

/*
#include "api.h"
NV_WRAP_ALL
#define F(p) ((float*)(uintptr_t)(p))
static int blas_sgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr A, int lda,
                      CUdeviceptr B, int ldb, float beta, CUdeviceptr C, int ldc) {
	return call_cublasSgemm(h, ta, tb, m, n, k, &alpha, F(A), lda, F(B), ldb, &beta, F(C), ldc);
}
static int blas_sgemm_sb(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr A, int lda,
                         long long sA, CUdeviceptr B, int ldb, long long sB, float beta, CUdeviceptr C, int ldc,
                         long long sC, int batch) {
	return call_cublasSgemmStridedBatched(h, ta, tb, m, n, k, &alpha, F(A), lda, sA, F(B), ldb, sB, &beta, F(C), ldc, sC, batch);
}
*/
import "C"

import "fmt"

// Blas is a cuBLAS handle (column-major, as cuBLAS is).
type Blas struct {
	h C.cublasHandle_t
}

// cuBLAS math modes.
const (
	BlasDefaultMath = 0
	BlasTF32Math    = 3 // CUBLAS_TF32_TENSOR_OP_MATH
)

// NewBlas creates a cuBLAS handle on the current device.
func (c *Context) NewBlas() (*Blas, error) {
	var h C.cublasHandle_t
	if err := newHandle(loadCublas, checkCublas, "cublasCreate", func() C.int { return C.call_cublasCreate(&h) }); err != nil {
		return nil, err
	}
	return &Blas{h: h}, nil
}

// BlasVersion is cuBLAS's major.minor.patch.
func BlasVersion() (string, error) {
	if _, err := loadCublas(); err != nil {
		return "", err
	}
	var v [3]C.int
	for i := range v {
		if err := checkCublas("cublasGetProperty", C.call_cublasGetProperty(C.int(i), &v[i])); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]), nil
}

// Destroy releases the handle.
func (b *Blas) Destroy() error { return checkCublas("cublasDestroy", C.call_cublasDestroy(b.h)) }

// SetStream orders the handle's work on s.
func (b *Blas) SetStream(s *Stream) error {
	return checkCublas("cublasSetStream", C.call_cublasSetStream(b.h, s.handle()))
}

// SetTF32 allows (true) or forbids (false) TF32 tensor-core math for float32 GEMMs.
func (b *Blas) SetTF32(on bool) error {
	m := C.int(BlasDefaultMath)
	if on {
		m = BlasTF32Math
	}
	return checkCublas("cublasSetMathMode", C.call_cublasSetMathMode(b.h, m))
}

func blasOp(t bool) C.int {
	if t {
		return 1
	}
	return 0
}

// Sgemm is cublasSgemm: column-major C = alpha*op(A)*op(B) + beta*C with
// op(A) m×k, op(B) k×n.
func (b *Blas) Sgemm(transA, transB bool, m, n, k int, alpha float32, A DevicePtr, lda int, B DevicePtr, ldb int, beta float32, Cm DevicePtr, ldc int) error {
	return checkCublas("cublasSgemm", C.blas_sgemm(b.h, blasOp(transA), blasOp(transB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), C.CUdeviceptr(A), C.int(lda), C.CUdeviceptr(B), C.int(ldb), C.float(beta), C.CUdeviceptr(Cm), C.int(ldc)))
}

// SgemmStridedBatched runs batch GEMMs whose operands are strideX floats apart.
func (b *Blas) SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, A DevicePtr, lda, strideA int, B DevicePtr, ldb, strideB int, beta float32, Cm DevicePtr, ldc, strideC, batch int) error {
	return checkCublas("cublasSgemmStridedBatched", C.blas_sgemm_sb(b.h, blasOp(transA), blasOp(transB),
		C.int(m), C.int(n), C.int(k), C.float(alpha), C.CUdeviceptr(A), C.int(lda), C.longlong(strideA),
		C.CUdeviceptr(B), C.int(ldb), C.longlong(strideB), C.float(beta), C.CUdeviceptr(Cm), C.int(ldc), C.longlong(strideC), C.int(batch)))
}

// SgemmRowMajor computes the row-major product (the convention of
// pkg/gemm) with column-major cuBLAS: row-major C = op(A)·op(B) is
// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so the operands swap.
func (b *Blas) SgemmRowMajor(transA, transB bool, m, n, k int, alpha float32, A DevicePtr, lda int, B DevicePtr, ldb int, beta float32, Cm DevicePtr, ldc int) error {
	return b.Sgemm(transB, transA, n, m, k, alpha, B, ldb, A, lda, beta, Cm, ldc)
}
