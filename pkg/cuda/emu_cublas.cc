// The emulated cuBLAS: reference loops written from the cuBLAS
// documentation (column-major storage, op(A) m×k, op(B) k×n, C m×n,
// leading dimensions checked as documented, the work ordered on the
// handle's stream). CUBLAS_TF32_TENSOR_OP_MATH rounds the inputs to TF32
// (10 mantissa bits) as the tensor cores do; accumulation is in double,
// each element's sum in rising inner index. The columns of C are computed
// in blocks spread over threads (emu::ParallelFor); the result does not
// depend on the split.
#include <cstring>
#include <vector>

#include "emu.h"

namespace {

enum {
	CUBLAS_STATUS_SUCCESS = 0,
	CUBLAS_STATUS_NOT_INITIALIZED = 1,
	CUBLAS_STATUS_INVALID_VALUE = 7,
	CUBLAS_STATUS_EXECUTION_FAILED = 13,
};
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };

struct Handle {
	CUstream stream = nullptr;
	int math = 0;
};

float TF32(float x) {
	unsigned u;
	memcpy(&u, &x, 4);
	if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, nan
	u += 0xfffu + ((u >> 13) & 1);                     // round to nearest even at bit 13
	u &= 0xffffe000u;
	memcpy(&x, &u, 4);
	return x;
}

int Check(Handle* h, int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc) {
	if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
	if (ta < 0 || ta > 2 || tb < 0 || tb > 2 || m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
	int rowsA = ta == CUBLAS_OP_N ? m : k, rowsB = tb == CUBLAS_OP_N ? k : n;
	if (lda < (rowsA > 1 ? rowsA : 1) || ldb < (rowsB > 1 ? rowsB : 1) || ldc < (m > 1 ? m : 1))
		return CUBLAS_STATUS_INVALID_VALUE;
	return 0;
}

// Extent in elements of a column-major operand with ld and cols columns.
size_t Extent(int rows, int cols, int ld) { return rows == 0 || cols == 0 ? 0 : (size_t)ld * (cols - 1) + rows; }

// One GEMM's columns j0..j0+JB-1 of C. Ap is op(A) column-major (m×k,
// leading dimension lda, already TF32-rounded when tf32 is set); each
// column p of it is added to the JB accumulator columns with the weights
// op(B)[p, j], so every element's sum runs over p in rising order.
template <int JB>
void GemmCols(bool tf32, int tb, int m, int k, float alpha, const float* Ap, size_t lda, const float* B, int ldb,
              float beta, float* C, int ldc, int j0, std::vector<double>& accv) {
	accv.assign((size_t)JB * m, 0.0);
	double* acc = accv.data();
	for (int p = 0; p < k; p++) {
		const float* a = Ap + p * lda;
		double bv[JB];
		for (int q = 0; q < JB; q++) {
			float b = tb == CUBLAS_OP_N ? B[p + (size_t)(j0 + q) * ldb] : B[(j0 + q) + (size_t)p * ldb];
			bv[q] = tf32 ? TF32(b) : b;
		}
		for (int q = 0; q < JB; q++) emu::Axpy(acc + (size_t)q * m, a, bv[q], m);
	}
	for (int q = 0; q < JB; q++) {
		float* c = C + (size_t)(j0 + q) * ldc;
		const double* s = acc + (size_t)q * m;
		// beta == 0: C is not read (it may hold NaN), as documented.
		for (int i = 0; i < m; i++)
			c[i] = beta == 0.0f ? (float)(alpha * s[i]) : (float)(alpha * s[i] + (double)beta * c[i]);
	}
}

const int kColBlock = 4;

// Gemm runs a strided batch of GEMMs, in units of kColBlock columns of one
// GEMM's C.
void Gemm(bool tf32, int ta, int tb, int m, int n, int k, float alpha, const float* A, int lda, long long sA,
          const float* B, int ldb, long long sB, float beta, float* C, int ldc, long long sC, int batch) {
	// op(A) as a column-major m×k matrix: A itself when it already is one,
	// else a copy (transposed and/or TF32-rounded) per GEMM.
	bool pack = ta != CUBLAS_OP_N || tf32;
	std::vector<float> packed;
	size_t ldp = pack ? (size_t)m : (size_t)lda, sp = pack ? (size_t)m * k : (size_t)sA;
	if (pack && k > 0) {
		packed.resize((size_t)batch * m * k);
		for (int b = 0; b < batch; b++) {
			const float* a = A + b * sA;
			float* o = packed.data() + (size_t)b * m * k;
			for (int p = 0; p < k; p++)
				for (int i = 0; i < m; i++) {
					float v = ta == CUBLAS_OP_N ? a[i + (size_t)p * lda] : a[p + (size_t)i * lda];
					o[i + (size_t)p * m] = tf32 ? TF32(v) : v;
				}
		}
	}
	const float* Ap = pack ? packed.data() : A;
	size_t blocks = (size_t)(n + kColBlock - 1) / kColBlock;
	emu::ParallelFor((size_t)batch * blocks, (double)batch * m * n * k, [&](size_t u) {
		static thread_local std::vector<double> acc;
		int b = (int)(u / blocks), j0 = (int)(u % blocks) * kColBlock;
		const float *a = Ap + b * sp, *bb = B + b * sB;
		float* c = C + b * sC;
		switch (n - j0 >= kColBlock ? kColBlock : n - j0) {
		case 1: GemmCols<1>(tf32, tb, m, k, alpha, a, ldp, bb, ldb, beta, c, ldc, j0, acc); break;
		case 2: GemmCols<2>(tf32, tb, m, k, alpha, a, ldp, bb, ldb, beta, c, ldc, j0, acc); break;
		case 3: GemmCols<3>(tf32, tb, m, k, alpha, a, ldp, bb, ldb, beta, c, ldc, j0, acc); break;
		default: GemmCols<kColBlock>(tf32, tb, m, k, alpha, a, ldp, bb, ldb, beta, c, ldc, j0, acc); break;
		}
	});
}

}  // namespace

extern "C" {

int emu_cublasCreate(cublasHandle_t* h) {
	if (!h) return CUBLAS_STATUS_INVALID_VALUE;
	*h = new Handle();
	return 0;
}

int emu_cublasDestroy(cublasHandle_t h) {
	if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
	delete (Handle*)h;
	return 0;
}

int emu_cublasGetProperty(int type, int* v) {
	if (!v) return CUBLAS_STATUS_INVALID_VALUE;
	static const int ver[3] = {11, 11, 3};  // the cuBLAS of CUDA 11.8, whose API the emulator follows
	if (type < 0 || type > 2) return CUBLAS_STATUS_INVALID_VALUE;
	*v = ver[type];
	return 0;
}

int emu_cublasSetStream(cublasHandle_t h, CUstream s) {
	if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
	((Handle*)h)->stream = s;
	return 0;
}

int emu_cublasSetMathMode(cublasHandle_t h, int mode) {
	if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
	int base = mode & 0xf;  // CUBLAS_DEFAULT_MATH 0, TENSOR_OP 1, PEDANTIC 2, TF32_TENSOR_OP 3
	if (base > 3) return CUBLAS_STATUS_INVALID_VALUE;
	((Handle*)h)->math = mode;
	return 0;
}

int emu_cublasSgemmStridedBatched(cublasHandle_t hh, int ta, int tb, int m, int n, int k, const float* alpha,
                                  const float* A, int lda, long long sA, const float* B, int ldb, long long sB,
                                  const float* beta, float* C, int ldc, long long sC, int batch) {
	Handle* h = (Handle*)hh;
	if (int e = Check(h, ta, tb, m, n, k, lda, ldb, ldc)) return e;
	if (batch < 0 || !alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
	if (m == 0 || n == 0 || batch == 0) return 0;
	float al = *alpha, be = *beta;  // host pointer mode: read now
	int rowsA = ta == CUBLAS_OP_N ? m : k, colsA = ta == CUBLAS_OP_N ? k : m;
	int rowsB = tb == CUBLAS_OP_N ? k : n, colsB = tb == CUBLAS_OP_N ? n : k;
	for (int b = 0; b < batch; b++) {
		if ((k > 0 && (!emu::Dev(A + b * sA, 4 * Extent(rowsA, colsA, lda)) ||
		               !emu::Dev(B + b * sB, 4 * Extent(rowsB, colsB, ldb)))) ||
		    !emu::Dev(C + b * sC, 4 * Extent(m, n, ldc))) {
			emu::SetDetail("cublasSgemm: an operand is not inside one device allocation");
			return CUBLAS_STATUS_EXECUTION_FAILED;
		}
	}
	bool tf32 = (h->math & 0xf) == 3;
	int r = emu::Enqueue(h->stream, [=] {
		Gemm(tf32, ta, tb, m, n, k, al, A, lda, sA, B, ldb, sB, be, C, ldc, sC, batch);
		return 0;
	});
	return r ? CUBLAS_STATUS_EXECUTION_FAILED : 0;
}

int emu_cublasSgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                    const float* B, int ldb, const float* beta, float* C, int ldc) {
	return emu_cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

}  // extern "C"
