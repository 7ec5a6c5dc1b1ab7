// Memory kernels of the CUDA backend: fill, accumulate, cast, strided copy.
#include "nvae_common.cuh"

extern "C" __global__ void bk_fill(float* __restrict__ y, float v, long long n) {
	NVAE_FOR(i, n) y[i] = v;
}

// dst += src
extern "C" __global__ void bk_add_into(float* __restrict__ dst, const float* __restrict__ src, long long n) {
	NVAE_FOR(i, n) dst[i] += src[i];
}

// y[i] = x[offset(i)]: materialises a strided view (broadcast, permute,
// slice) of x in row-major order of d's shape.
extern "C" __global__ void bk_gather(float* __restrict__ y, const float* __restrict__ x, nvae_dims d, long long n) {
	NVAE_FOR(i, n) y[i] = x[nvae_offset(d, i)];
}

// y[offset(i)] = x[i]: the scatter twin of bk_gather (slice adjoint, concat).
extern "C" __global__ void bk_scatter(float* __restrict__ y, const float* __restrict__ x, nvae_dims d, long long n) {
	NVAE_FOR(i, n) y[nvae_offset(d, i)] = x[i];
}

extern "C" __global__ void bk_cast_f32_f64(double* __restrict__ y, const float* __restrict__ x, long long n) {
	NVAE_FOR(i, n) y[i] = (double)x[i];
}

extern "C" __global__ void bk_cast_f64_f32(float* __restrict__ y, const double* __restrict__ x, long long n) {
	NVAE_FOR(i, n) y[i] = (float)x[i];
}
