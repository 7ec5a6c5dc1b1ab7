// Reductions: one partial sum per block (shared-memory tree, then warp
// shuffles), summed by a second launch of the same kernel.

__device__ __forceinline__ float nvae_warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
	return v;
}

// out[blockIdx.x] = sum of x over the block's grid-stride range.
// Needs blockDim.x a multiple of 32, at most 1024, and blockDim.x/32 floats
// of dynamic shared memory.
extern "C" __global__ void nvae_sum_f32(float* __restrict__ out, const float* __restrict__ x, long long n) {
	extern __shared__ float nvae_warp_sums[];
	float v = 0.0f;
	long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	long long stride = (long long)gridDim.x * blockDim.x;
	for (; i < n; i += stride) v += x[i];
	v = nvae_warp_sum(v);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	if (lane == 0) nvae_warp_sums[warp] = v;
	__syncthreads();
	if (warp == 0) {
		int nw = blockDim.x >> 5;
		v = lane < nw ? nvae_warp_sums[lane] : 0.0f;
		v = nvae_warp_sum(v);
		if (lane == 0) out[blockIdx.x] = v;
	}
}
