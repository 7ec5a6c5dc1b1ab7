// Reduction kernels of the CUDA backend (Sum, MaxReduce, SumTo).
//
// The Go side (pkg/backend/cuda/reduce.go) merges adjacent axes of x into
// groups and views x as two strided index spaces: the kept axes ("kept",
// row-major order of the output) and the reduced axes ("red"). Sums are
// accumulated in double (sequential per thread, then a shuffle/shared-
// memory tree), maxima in float with NaN propagating like the CPU backend.
//
//   - rows kernels: the innermost axis is reduced, so consecutive threads
//     read consecutive elements of one output's range. One thread per
//     output (short ranges), one warp per output (medium), or one block
//     per output, optionally split over several blocks whose partials
//     bk_*_finish combines (long ranges, few outputs: whole-tensor loss
//     sums, per-channel sums over (N, H, W)).
//   - cols kernel: the innermost axis is kept, so threads along x take
//     consecutive outputs (coalesced) and threads along y share the
//     reduced range; a shared-memory tree combines them.
#include "nvae_common.cuh"

struct bk_sum_op {
	typedef double acc;
	static __device__ __forceinline__ double init() { return 0.0; }
	static __device__ __forceinline__ double add(double a, float v) { return a + (double)v; }
	static __device__ __forceinline__ double comb(double a, double b) { return a + b; }
	static __device__ __forceinline__ float out(double a) { return (float)a; }
};

// Like the CPU backend: a larger value or a NaN replaces the running
// maximum, and a NaN is never replaced.
struct bk_max_op {
	typedef float acc;
	static __device__ __forceinline__ float init() { return __int_as_float(0xff800000); }
	static __device__ __forceinline__ float add(float a, float v) { return (v > a || v != v) ? v : a; }
	static __device__ __forceinline__ float comb(float a, float b) { return (b > a || b != b) ? b : a; }
	static __device__ __forceinline__ float out(float a) { return a; }
};

// bk_off maps the row-major index i of view d to its element offset: a
// multiply for one axis, 32-bit divisions when the view has fewer than
// 2^31 elements (small != 0), 64-bit ones otherwise.
__device__ __forceinline__ long long bk_off(const nvae_dims& d, long long i, int small) {
	if (d.rank == 1) return i * d.stride[0];
	if (small) {
		unsigned u = (unsigned)i;
		long long off = 0;
		for (int k = d.rank - 1; k >= 0; k--) {
			unsigned s = (unsigned)d.shape[k];
			unsigned q = u / s;
			off += (long long)(u - q * s) * d.stride[k];
			u = q;
		}
		return off;
	}
	return nvae_offset(d, i);
}

__device__ __forceinline__ long long bk_minll(long long a, long long b) { return a < b ? a : b; }

// Warp tree: lane 0 gets the warp's total.
template <class Op>
__device__ __forceinline__ typename Op::acc bk_warp_reduce(typename Op::acc v) {
	for (int o = 16; o > 0; o >>= 1) v = Op::comb(v, __shfl_down_sync(0xffffffffu, v, o));
	return v;
}

// Block tree (blockDim.x a multiple of 32, at most 1024): thread 0 gets
// the block's total. scratch holds 32 accumulators.
template <class Op>
__device__ __forceinline__ typename Op::acc bk_block_reduce(typename Op::acc v, typename Op::acc* scratch) {
	v = bk_warp_reduce<Op>(v);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	__syncthreads(); // scratch may still be read by the previous round
	if (lane == 0) scratch[warp] = v;
	__syncthreads();
	if (warp == 0) {
		int nw = blockDim.x >> 5;
		v = lane < nw ? scratch[lane] : Op::init();
		v = bk_warp_reduce<Op>(v);
	}
	return v;
}

// One thread per output.
template <class Op>
__device__ __forceinline__ void bk_rows_thread(float* __restrict__ y, const float* __restrict__ x, const nvae_dims& kept,
                                               const nvae_dims& red, long long nout, long long r, int small) {
	NVAE_FOR(o, nout) {
		long long base = bk_off(kept, o, small);
		typename Op::acc a = Op::init();
		for (long long j = 0; j < r; j++) a = Op::add(a, x[base + bk_off(red, j, small)]);
		y[o] = Op::out(a);
	}
}

// One warp per output.
template <class Op>
__device__ __forceinline__ void bk_rows_warp(float* __restrict__ y, const float* __restrict__ x, const nvae_dims& kept,
                                             const nvae_dims& red, long long nout, long long r, int small) {
	long long gw = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
	long long nw = ((long long)gridDim.x * blockDim.x) >> 5;
	int lane = threadIdx.x & 31;
	for (long long o = gw; o < nout; o += nw) {
		long long base = bk_off(kept, o, small);
		typename Op::acc a = Op::init();
		for (long long j = lane; j < r; j += 32) a = Op::add(a, x[base + bk_off(red, j, small)]);
		a = bk_warp_reduce<Op>(a);
		if (lane == 0) y[o] = Op::out(a);
	}
}

// One block per (output, split): split s covers [s*chunk, (s+1)*chunk) of
// the reduced range. With one split the block writes y, else its partial
// part[o*splits+s].
template <class Op>
__device__ __forceinline__ void bk_rows_block(float* __restrict__ y, typename Op::acc* __restrict__ part, const float* __restrict__ x,
                                              const nvae_dims& kept, const nvae_dims& red, long long nout, long long r,
                                              long long chunk, int splits, int small, typename Op::acc* scratch) {
	long long nb = nout * splits;
	for (long long b = blockIdx.x; b < nb; b += gridDim.x) {
		long long o = b / splits;
		long long s = b - o * splits;
		long long base = bk_off(kept, o, small);
		long long hi = bk_minll(r, (s + 1) * chunk);
		typename Op::acc a = Op::init();
		for (long long j = s * chunk + threadIdx.x; j < hi; j += blockDim.x) a = Op::add(a, x[base + bk_off(red, j, small)]);
		a = bk_block_reduce<Op>(a, scratch);
		if (threadIdx.x == 0) {
			if (splits == 1) y[o] = Op::out(a);
			else part[b] = a;
		}
	}
}

// The innermost axis (inner outputs, stride 1) is kept. Block (bx, by),
// bx*by == 256 and by a power of two: thread (tx, ty) accumulates output
// column xb*bx+tx over the reduced indices ty, ty+by, ... of its split.
template <class Op>
__device__ __forceinline__ void bk_cols(float* __restrict__ y, typename Op::acc* __restrict__ part, const float* __restrict__ x,
                                        const nvae_dims& kept, const nvae_dims& red, long long nout, long long inner, long long r,
                                        long long chunk, int splits, int small, typename Op::acc* sh) {
	int bx = blockDim.x, by = blockDim.y;
	long long nxb = (inner + bx - 1) / bx;
	long long nb = nxb * (nout / inner) * splits;
	int tid = threadIdx.y * bx + threadIdx.x;
	for (long long b = blockIdx.x; b < nb; b += gridDim.x) {
		long long s = b % splits, t = b / splits;
		long long xb = t % nxb, p = t / nxb;
		long long i = xb * bx + threadIdx.x;
		bool ok = i < inner;
		long long o = p * inner + i;
		typename Op::acc a = Op::init();
		if (ok) {
			long long base = bk_off(kept, o, small);
			long long hi = bk_minll(r, (s + 1) * chunk);
			for (long long j = s * chunk + threadIdx.y; j < hi; j += by) a = Op::add(a, x[base + bk_off(red, j, small)]);
		}
		__syncthreads();
		sh[tid] = a;
		__syncthreads();
		for (int h = by >> 1; h > 0; h >>= 1) {
			if ((int)threadIdx.y < h) sh[tid] = Op::comb(sh[tid], sh[tid + h * bx]);
			__syncthreads();
		}
		if (threadIdx.y == 0 && ok) {
			if (splits == 1) y[o] = Op::out(sh[threadIdx.x]);
			else part[o * splits + s] = sh[threadIdx.x];
		}
	}
}

// Combines the splits partials of each output in order.
template <class Op>
__device__ __forceinline__ void bk_finish(float* __restrict__ y, const typename Op::acc* __restrict__ part, long long nout, int splits) {
	NVAE_FOR(o, nout) {
		typename Op::acc a = part[o * splits];
		for (int s = 1; s < splits; s++) a = Op::comb(a, part[o * splits + s]);
		y[o] = Op::out(a);
	}
}

// ---- sum

extern "C" __global__ void bk_sum_rows_thread(float* __restrict__ y, const float* __restrict__ x, nvae_dims kept, nvae_dims red,
                                              long long nout, long long r, int small) {
	bk_rows_thread<bk_sum_op>(y, x, kept, red, nout, r, small);
}

extern "C" __global__ void bk_sum_rows_warp(float* __restrict__ y, const float* __restrict__ x, nvae_dims kept, nvae_dims red,
                                            long long nout, long long r, int small) {
	bk_rows_warp<bk_sum_op>(y, x, kept, red, nout, r, small);
}

extern "C" __global__ void bk_sum_rows_block(float* __restrict__ y, double* __restrict__ part, const float* __restrict__ x,
                                             nvae_dims kept, nvae_dims red, long long nout, long long r, long long chunk,
                                             int splits, int small) {
	__shared__ double scratch[32];
	bk_rows_block<bk_sum_op>(y, part, x, kept, red, nout, r, chunk, splits, small, scratch);
}

extern "C" __global__ void bk_sum_cols(float* __restrict__ y, double* __restrict__ part, const float* __restrict__ x, nvae_dims kept,
                                       nvae_dims red, long long nout, long long inner, long long r, long long chunk, int splits,
                                       int small) {
	__shared__ double sh[256];
	bk_cols<bk_sum_op>(y, part, x, kept, red, nout, inner, r, chunk, splits, small, sh);
}

extern "C" __global__ void bk_sum_finish(float* __restrict__ y, const double* __restrict__ part, long long nout, int splits) {
	bk_finish<bk_sum_op>(y, part, nout, splits);
}

// ---- max

extern "C" __global__ void bk_max_rows_thread(float* __restrict__ y, const float* __restrict__ x, nvae_dims kept, nvae_dims red,
                                              long long nout, long long r, int small) {
	bk_rows_thread<bk_max_op>(y, x, kept, red, nout, r, small);
}

extern "C" __global__ void bk_max_rows_warp(float* __restrict__ y, const float* __restrict__ x, nvae_dims kept, nvae_dims red,
                                            long long nout, long long r, int small) {
	bk_rows_warp<bk_max_op>(y, x, kept, red, nout, r, small);
}

extern "C" __global__ void bk_max_rows_block(float* __restrict__ y, float* __restrict__ part, const float* __restrict__ x,
                                             nvae_dims kept, nvae_dims red, long long nout, long long r, long long chunk,
                                             int splits, int small) {
	__shared__ float scratch[32];
	bk_rows_block<bk_max_op>(y, part, x, kept, red, nout, r, chunk, splits, small, scratch);
}

extern "C" __global__ void bk_max_cols(float* __restrict__ y, float* __restrict__ part, const float* __restrict__ x, nvae_dims kept,
                                       nvae_dims red, long long nout, long long inner, long long r, long long chunk, int splits,
                                       int small) {
	__shared__ float sh[256];
	bk_cols<bk_max_op>(y, part, x, kept, red, nout, inner, r, chunk, splits, small, sh);
}

extern "C" __global__ void bk_max_finish(float* __restrict__ y, const float* __restrict__ part, long long nout, int splits) {
	bk_finish<bk_max_op>(y, part, nout, splits);
}
