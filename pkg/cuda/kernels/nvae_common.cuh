// Shared definitions of the CUDA backend's kernels (pkg/backend/cuda).
// Kept to the CUDA 11.8 language level; every entry point is extern "C".
#pragma once

// NVAE_MAX_DIMS is the highest tensor rank a strided kernel takes.
#define NVAE_MAX_DIMS 8

// nvae_dims describes a strided view: the logical shape and, per axis, the
// element stride in the underlying buffer (0 on broadcast axes). Mirrors
// the Go struct dims in pkg/backend/cuda (same layout, passed by value).
struct nvae_dims {
	int rank;
	int pad_;
	long long shape[NVAE_MAX_DIMS];
	long long stride[NVAE_MAX_DIMS];
};

// nvae_offset maps the row-major linear index i of the logical shape to an
// element offset through the strides.
__device__ __forceinline__ long long nvae_offset(const nvae_dims& d, long long i) {
	long long off = 0;
	for (int k = d.rank - 1; k >= 0; k--) {
		long long s = d.shape[k];
		long long q = i / s;
		off += (i - q * s) * d.stride[k];
		i = q;
	}
	return off;
}

// Grid-stride loop over [0, n).
#define NVAE_FOR(i, n)                                                                                   \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, nvae_stride_ = (long long)gridDim.x * blockDim.x; \
	     i < (n); i += nvae_stride_)

// Block-wide sum of one float per thread (blockDim.x a multiple of 32, at
// most 1024); every thread gets the total. scratch holds 32 floats.
__device__ __forceinline__ float nvae_block_sum(float v, float* scratch) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	__syncthreads();
	if (lane == 0) scratch[warp] = v;
	__syncthreads();
	int nw = blockDim.x >> 5;
	float t = 0.0f;
	for (int k = 0; k < nw; k++) t += scratch[k];
	return t;
}
