// NN kernels of the CUDA backend: the per-channel bias of a convolution,
// batch norm in training (statistics, forward, backward), the Adamax step,
// the all-finite check of many tensors and the Philox random streams of
// pkg/rng. GEMMs and convolutions themselves are cuBLAS and cuDNN calls.
#include "nvae_common.cuh"

// The CPU reference (Go on amd64) rounds every product before a sum; NVRTC
// would contract a*b+c into one FMA, which rounds once. Where the backend
// promises the CPU's rounding, the kernels use the _rn intrinsics, which
// are never contracted. The emulator compiles with the host compiler for
// plain x86-64 (no FMA instructions), where plain operations round alike.
#ifdef NVAE_EMU_CUDA_H
__device__ __forceinline__ double nn_dmul(double a, double b) { return a * b; }
__device__ __forceinline__ double nn_dadd(double a, double b) { return a + b; }
#else
__device__ __forceinline__ double nn_dmul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double nn_dadd(double a, double b) { return __dadd_rn(a, b); }
#endif

// ---- convolution bias

// y[n, c, :] += bias[c] for y [N, C, HW] viewed as planes = N·C planes of
// hw elements: blockIdx.y strides over planes, x-blocks over a plane.
extern "C" __global__ void bk_bias_add(float* __restrict__ y, const float* __restrict__ bias, long long planes, int c,
                                       long long hw) {
	for (long long p = blockIdx.y; p < planes; p += gridDim.y) {
		float b = bias[p % c];
		float* row = y + p * hw;
		for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < hw; i += (long long)gridDim.x * blockDim.x)
			row[i] += b;
	}
}

// ---- batch norm (training)
//
// x is [N, C, HW]; channel c's m = N·HW elements have flat index j in
// [0, m): element (j / hw, c, j % hw). Block (s, c) of a grid (splits, C)
// owns the chunk [s·chunk, min(m, (s+1)·chunk)) of channel c and leaves its
// float64 partial sums in part[c·splits + s]; later kernels add a channel's
// partials in index order, so every block (and every run) gets the same
// totals.

// nn_addr is the element offset of channel c's flat index j.
__device__ __forceinline__ long long nn_addr(unsigned j, unsigned hw, int c, int C) {
	unsigned n = j / hw;
	return ((long long)n * C + c) * hw + (j - n * hw);
}

// nn_block_sum2 adds a and b over the block (blockDim.x a multiple of 32, at
// most 1024); thread 0 gets the totals. scratch holds 64 doubles.
__device__ __forceinline__ void nn_block_sum2(double& a, double& b, double* scratch) {
	for (int o = 16; o > 0; o >>= 1) {
		a += __shfl_down_sync(0xffffffffu, a, o);
		b += __shfl_down_sync(0xffffffffu, b, o);
	}
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	__syncthreads();
	if (lane == 0) {
		scratch[warp] = a;
		scratch[32 + warp] = b;
	}
	__syncthreads();
	if (threadIdx.x == 0) {
		a = 0.0;
		b = 0.0;
		for (int k = 0; k < (int)(blockDim.x >> 5); k++) {
			a += scratch[k];
			b += scratch[32 + k];
		}
	}
}

// nn_total adds channel c's partials (stride apart) in index order.
__device__ __forceinline__ double nn_total(const double* part, int c, int splits, int stride, int which) {
	double t = 0.0;
	for (int s = 0; s < splits; s++) t += part[((long long)c * splits + s) * stride + which];
	return t;
}

// Pass 1: part[c·splits + s] = Σ x over the block's chunk.
extern "C" __global__ void bk_bn_sum(const float* __restrict__ x, double* __restrict__ part, unsigned m, unsigned hw,
                                     int C, unsigned chunk) {
	__shared__ double scratch[64];
	int c = blockIdx.y, s = blockIdx.x;
	unsigned lo = s * chunk, hi = min(m, lo + chunk);
	double a = 0.0, unused = 0.0;
	for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x) a += (double)x[nn_addr(j, hw, c, C)];
	nn_block_sum2(a, unused, scratch);
	if (threadIdx.x == 0) part[(long long)c * gridDim.x + s] = a;
}

// Pass 2: the mean from pass 1's partials, then
// sq[c·splits + s] = Σ (x − mean)² over the block's chunk.
extern "C" __global__ void bk_bn_sqdev(const float* __restrict__ x, const double* __restrict__ sum,
                                       double* __restrict__ sq, unsigned m, unsigned hw, int C, unsigned chunk) {
	__shared__ double scratch[64];
	__shared__ double mu_s;
	int c = blockIdx.y, s = blockIdx.x, splits = gridDim.x;
	if (threadIdx.x == 0) mu_s = nn_total(sum, c, splits, 1, 0) / (double)m;
	__syncthreads();
	double mu = mu_s;
	unsigned lo = s * chunk, hi = min(m, lo + chunk);
	double a = 0.0, unused = 0.0;
	for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x) {
		double d = (double)x[nn_addr(j, hw, c, C)] - mu;
		a += d * d;
	}
	nn_block_sum2(a, unused, scratch);
	if (threadIdx.x == 0) sq[(long long)c * splits + s] = a;
}

// Pass 3: mean and biased variance from the partials (written by the
// blocks s = 0), then y = x·scale + shift over the block's chunk, with
// scale = γ/sqrt(var+eps) and shift = β − mean·scale computed in float64
// and rounded to float32, the product rounded before the sum (the CPU's
// formula). gamma and beta may be null (1 and 0).
extern "C" __global__ void bk_bn_apply(const float* __restrict__ x, float* __restrict__ y,
                                       const double* __restrict__ sum, const double* __restrict__ sq,
                                       const float* __restrict__ gamma, const float* __restrict__ beta,
                                       float* __restrict__ mean, float* __restrict__ var, double eps, unsigned m,
                                       unsigned hw, int C, unsigned chunk) {
	__shared__ float ab[2];
	int c = blockIdx.y, s = blockIdx.x, splits = gridDim.x;
	if (threadIdx.x == 0) {
		double cnt = (double)m;
		double mu = nn_total(sum, c, splits, 1, 0) / cnt;
		double v = nn_total(sq, c, splits, 1, 0) / cnt;
		if (s == 0) {
			mean[c] = (float)mu;
			var[c] = (float)v;
		}
		double inv = 1.0 / sqrt(v + eps);
		double g = gamma ? (double)gamma[c] : 1.0, b = beta ? (double)beta[c] : 0.0;
		double scale = nn_dmul(g, inv);
		double shift = nn_dadd(b, -nn_dmul(mu, scale));
		ab[0] = (float)scale;
		ab[1] = (float)shift;
	}
	__syncthreads();
	float ts = ab[0], tb = ab[1];
	unsigned lo = s * chunk, hi = min(m, lo + chunk);
	for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x) {
		long long o = nn_addr(j, hw, c, C);
		y[o] = __fadd_rn(__fmul_rn(x[o], ts), tb);
	}
}

// Backward pass 1: part[2(c·splits + s)] = Σ gy and part[2(c·splits+s)+1]
// = Σ gy·(x − mean) over the block's chunk (mean as the float32 the
// forward pass returned, widened).
extern "C" __global__ void bk_bn_back_sum(const float* __restrict__ x, const float* __restrict__ gy,
                                          const float* __restrict__ mean, double* __restrict__ part, unsigned m,
                                          unsigned hw, int C, unsigned chunk) {
	__shared__ double scratch[64];
	int c = blockIdx.y, s = blockIdx.x;
	double mu = (double)mean[c];
	unsigned lo = s * chunk, hi = min(m, lo + chunk);
	double a = 0.0, b = 0.0;
	for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x) {
		long long o = nn_addr(j, hw, c, C);
		double g = (double)gy[o];
		a += g;
		b += g * ((double)x[o] - mu);
	}
	nn_block_sum2(a, b, scratch);
	if (threadIdx.x == 0) {
		long long k = ((long long)c * gridDim.x + s) * 2;
		part[k] = a;
		part[k + 1] = b;
	}
}

// Backward pass 2: dγ = Σ gy·x̂ and dβ = Σ gy (written by the blocks
// s = 0), then gx = A·gy + B·(x − mean) + C' over the block's chunk with
// A = k·cnt, B = −k·dγ·inv, C' = −k·dβ, k = γ·inv/cnt, inv =
// 1/sqrt(var+eps): the CPU's formula and rounding order. gamma may be null.
extern "C" __global__ void bk_bn_back_apply(const float* __restrict__ x, const float* __restrict__ gy,
                                            float* __restrict__ gx, const double* __restrict__ part,
                                            const float* __restrict__ gamma, const float* __restrict__ mean,
                                            const float* __restrict__ var, float* __restrict__ ggamma,
                                            float* __restrict__ gbeta, double eps, unsigned m, unsigned hw, int C,
                                            unsigned chunk) {
	__shared__ float abc[4];
	int c = blockIdx.y, s = blockIdx.x, splits = gridDim.x;
	if (threadIdx.x == 0) {
		double cnt = (double)m;
		double sg = nn_total(part, c, splits, 2, 0), sgc = nn_total(part, c, splits, 2, 1);
		double inv = 1.0 / sqrt((double)var[c] + eps);
		double sgx = sgc * inv;
		if (s == 0) {
			ggamma[c] = (float)sgx;
			gbeta[c] = (float)sg;
		}
		double g = gamma ? (double)gamma[c] : 1.0;
		double k = g * inv / cnt;
		abc[0] = (float)(k * cnt);
		abc[1] = (float)(-k * sgx * inv);
		abc[2] = (float)(-k * sg);
		abc[3] = mean[c];
	}
	__syncthreads();
	float ta = abc[0], tb = abc[1], tc = abc[2], tmu = abc[3];
	unsigned lo = s * chunk, hi = min(m, lo + chunk);
	for (unsigned j = lo + threadIdx.x; j < hi; j += blockDim.x) {
		long long o = nn_addr(j, hw, c, C);
		gx[o] = __fadd_rn(__fadd_rn(__fmul_rn(ta, gy[o]), __fmul_rn(tb, x[o] - tmu)), tc);
	}
}

// ---- optimizer

// The official Adamax in float32, in place, each operation rounded as the
// CPU rounds it: g' = g + wd·p; m = β1·m + (1−β1)·g'; u = max(β2·u,
// |g'| + eps); p −= clr·(m/u). omb1 is float32(1 − β1).
extern "C" __global__ void bk_adamax(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                     float* __restrict__ u, long long n, float clr, float b1, float omb1, float b2,
                                     float eps, float wd) {
	NVAE_FOR(i, n) {
		float pi = p[i];
		float gi = __fadd_rn(g[i], __fmul_rn(wd, pi));
		float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(omb1, gi));
		float a = __fadd_rn(fabsf(gi), eps);
		float v = __fmul_rn(b2, u[i]);
		if (v > a) a = v;
		m[i] = mi;
		u[i] = a;
		p[i] = __fadd_rn(pi, -__fmul_rn(clr, mi / a));
	}
}

// ---- all finite

// nn_tensor_ref is one row of bk_nonfinite's table: a float32 buffer and
// its length.
struct nn_tensor_ref {
	const float* p;
	long long n;
};

// Sets *flag when any element of any of the count tables rows is NaN or
// ±Inf (exponent bits all ones). blockIdx.y strides over the tensors,
// the x-blocks over a tensor's elements.
extern "C" __global__ void bk_nonfinite(const nn_tensor_ref* __restrict__ table, int count, int* flag) {
	for (int t = blockIdx.y; t < count; t += gridDim.y) {
		const float* p = table[t].p;
		long long n = table[t].n;
		int bad = 0;
		for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
			bad |= (__float_as_uint(p[i]) & 0x7f800000u) == 0x7f800000u;
		if (bad) atomicOr(flag, 1);
	}
}

// ---- random streams (pkg/rng)

// nn_philox is Philox4x32-10 of block b under key seed: counter
// (uint32(b), uint32(b>>32), 0, 0), key (uint32(seed), uint32(seed>>32)).
__device__ __forceinline__ void nn_philox(unsigned long long b, unsigned long long seed, unsigned w[4]) {
	unsigned c0 = (unsigned)b, c1 = (unsigned)(b >> 32), c2 = 0u, c3 = 0u;
	unsigned k0 = (unsigned)seed, k1 = (unsigned)(seed >> 32);
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k0 += 0x9E3779B9u;
			k1 += 0xBB67AE85u;
		}
		unsigned long long p0 = 0xD2511F53ull * c0, p1 = 0xCD9E8D57ull * c2;
		unsigned hi0 = (unsigned)(p0 >> 32), lo0 = (unsigned)p0;
		unsigned hi1 = (unsigned)(p1 >> 32), lo1 = (unsigned)p1;
		c0 = hi1 ^ c1 ^ k0;
		c1 = lo1;
		c2 = hi0 ^ c3 ^ k1;
		c3 = lo0;
	}
	w[0] = c0;
	w[1] = c1;
	w[2] = c2;
	w[3] = c3;
}

// nn_u64 is the float64 uniform of a word, (u + 1)·2^-32 (exact).
__device__ __forceinline__ double nn_u64(unsigned u) { return ((double)u + 1.0) * (1.0 / 4294967296.0); }

// y[e − offset] = U32(e) for e in [offset, offset+n): thread q computes
// Philox block offset/4 + q and writes the words of it that the draw
// covers (nblocks blocks in all).
extern "C" __global__ void bk_rand_uniform(float* __restrict__ y, unsigned long long seed, unsigned long long offset,
                                           unsigned long long n, long long nblocks) {
	NVAE_FOR(q, nblocks) {
		unsigned long long b = offset / 4 + (unsigned long long)q, e0 = b * 4;
		unsigned w[4];
		nn_philox(b, seed, w);
		unsigned first = e0 < offset ? (unsigned)(offset - e0) : 0u;
		unsigned last = offset + n - e0 < 4 ? (unsigned)(offset + n - e0) : 4u;
		for (unsigned k = first; k < last; k++) y[e0 + k - offset] = ((float)(w[k] >> 8) + 1.0f) * (1.0f / 16777216.0f);
	}
}

// y[e − offset] = float32(N64(e)): Box–Muller in float64 on the pairs
// (2j, 2j+1) of each block, r = sqrt(−2·log a), t = 2π·c, N = r·cos t and
// r·sin t, computing only the pairs the draw covers.
extern "C" __global__ void bk_rand_normal(float* __restrict__ y, unsigned long long seed, unsigned long long offset,
                                          unsigned long long n, long long nblocks) {
	NVAE_FOR(q, nblocks) {
		unsigned long long b = offset / 4 + (unsigned long long)q, e0 = b * 4;
		unsigned w[4];
		nn_philox(b, seed, w);
		unsigned first = e0 < offset ? (unsigned)(offset - e0) : 0u;
		unsigned last = offset + n - e0 < 4 ? (unsigned)(offset + n - e0) : 4u;
		double z[4] = {0.0, 0.0, 0.0, 0.0};
		for (unsigned pr = 0; pr < 4; pr += 2) {
			if (pr + 2 <= first || pr >= last) continue;
			double r = sqrt(-2.0 * log(nn_u64(w[pr])));
			double t = (2.0 * 3.14159265358979323846) * nn_u64(w[pr + 1]);
			z[pr] = r * cos(t);
			z[pr + 1] = r * sin(t);
		}
		for (unsigned k = first; k < last; k++) y[e0 + k - offset] = (float)z[k];
	}
}
