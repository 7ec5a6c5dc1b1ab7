// Layout and image kernels of the CUDA backend: 2x upsampling and its
// adjoint, argmax, one-hot, pooling and bilinear resizing. Permute,
// slice, broadcast and concat use bk_gather/bk_scatter of bk_memory.cu.
//
// Every kernel writes each output element once (adjoints gather their
// terms instead of accumulating into memory), so no output needs zeroing.
// Where the CPU backend computes in float64 (bilinear weights) or in a
// given order (float32 accumulations), these kernels do the same.
#include "nvae_common.cuh"

// bk_taps2x gives, for output index o of a 2x align_corners=True
// upsampling from size n, the two source indices and the weight of the
// second (the CPU backend's bilinearTaps).
__device__ __forceinline__ void bk_taps2x(int o, int n, int& i0, int& i1, double& f) {
	if (n == 1) {
		i0 = 0;
		i1 = 0;
		f = 0.0;
		return;
	}
	double src = (double)o * (double)(n - 1) / (double)(2 * n - 1);
	i0 = (int)src;
	if (i0 > n - 1) i0 = n - 1;
	i1 = i0 + 1;
	if (i1 > n - 1) i1 = n - 1;
	f = src - (double)i0;
}

// Nearest 2x: y [planes, 2h, 2w] from x [planes, h, w].
extern "C" __global__ void bk_upsample_nearest(float* __restrict__ y, const float* __restrict__ x, int h, int w, long long n) {
	int bw = 2 * w, bh = 2 * h;
	NVAE_FOR(i, n) {
		long long r = i / bw;
		int ox = (int)(i - r * bw);
		long long pl = r / bh;
		int oy = (int)(r - pl * bh);
		y[i] = x[(pl * h + (oy >> 1)) * w + (ox >> 1)];
	}
}

// Bilinear (align_corners=True) 2x, the CPU's float64 expression.
extern "C" __global__ void bk_upsample_bilinear(float* __restrict__ y, const float* __restrict__ x, int h, int w, long long n) {
	int bw = 2 * w, bh = 2 * h;
	NVAE_FOR(i, n) {
		long long r = i / bw;
		int ox = (int)(i - r * bw);
		long long pl = r / bh;
		int oy = (int)(r - pl * bh);
		int y0, y1, x0, x1;
		double fy, fx;
		bk_taps2x(oy, h, y0, y1, fy);
		bk_taps2x(ox, w, x0, x1, fx);
		double w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx;
		double w10 = fy * (1 - fx), w11 = fy * fx;
		const float* p = x + pl * h * w;
		double v = w00 * (double)p[y0 * w + x0] + w01 * (double)p[y0 * w + x1] + w10 * (double)p[y1 * w + x0] + w11 * (double)p[y1 * w + x1];
		y[i] = (float)v;
	}
}

// Adjoint of nearest 2x: gx [planes, h, w] from gy [planes, 2h, 2w], the
// four terms added in float32 in the CPU backend's order.
extern "C" __global__ void bk_upsample_nearest_back(float* __restrict__ gx, const float* __restrict__ gy, int h, int w, long long n) {
	int bw = 2 * w;
	NVAE_FOR(i, n) {
		long long r = i / w;
		int sx = (int)(i - r * w);
		long long pl = r / h;
		int sy = (int)(r - pl * h);
		const float* g = gy + (pl * 2 * h + 2 * sy) * bw + 2 * sx;
		float s = 0.0f;
		s += g[0];
		s += g[1];
		s += g[bw];
		s += g[bw + 1];
		gx[i] = s;
	}
}

// bk_taps_range bounds the big indices o in [lo, hi] whose taps can reach
// small index s (a tap of o lies in floor(o·(n−1)/(2n−1)) + {0, 1}), with
// one index of slack either side for rounding.
__device__ __forceinline__ void bk_taps_range(int s, int n, int& lo, int& hi) {
	if (n == 1) {
		lo = 0;
		hi = 1;
		return;
	}
	long long a = (long long)(s - 1) * (2 * n - 1), b = (long long)(s + 1) * (2 * n - 1);
	lo = (int)(a / (n - 1)) - 1;
	hi = (int)(b / (n - 1)) + 1;
	if (lo < 0) lo = 0;
	if (hi > 2 * n - 1) hi = 2 * n - 1;
}

// Adjoint of bilinear 2x: each small pixel gathers w·gy over the big
// pixels whose taps include it, in the CPU backend's order (big pixels row
// by row, taps 00, 01, 10, 11, each term rounded to float32 and added).
extern "C" __global__ void bk_upsample_bilinear_back(float* __restrict__ gx, const float* __restrict__ gy, int h, int w, long long n) {
	int bw = 2 * w;
	NVAE_FOR(i, n) {
		long long r = i / w;
		int sx = (int)(i - r * w);
		long long pl = r / h;
		int sy = (int)(r - pl * h);
		const float* g = gy + pl * 4 * h * w;
		int ylo, yhi, xlo, xhi;
		bk_taps_range(sy, h, ylo, yhi);
		bk_taps_range(sx, w, xlo, xhi);
		float s = 0.0f;
		for (int oy = ylo; oy <= yhi; oy++) {
			int y0, y1;
			double fy;
			bk_taps2x(oy, h, y0, y1, fy);
			if (y0 != sy && y1 != sy) continue;
			for (int ox = xlo; ox <= xhi; ox++) {
				int x0, x1;
				double fx;
				bk_taps2x(ox, w, x0, x1, fx);
				if (x0 != sx && x1 != sx) continue;
				double gv = (double)g[oy * bw + ox];
				if (y0 == sy && x0 == sx) s += (float)((1 - fy) * (1 - fx) * gv);
				if (y0 == sy && x1 == sx) s += (float)((1 - fy) * fx * gv);
				if (y1 == sy && x0 == sx) s += (float)(fy * (1 - fx) * gv);
				if (y1 == sy && x1 == sx) s += (float)(fy * fx * gv);
			}
		}
		gx[i] = s;
	}
}

// Argmax over the middle axis of x [outer, k, inner]: the first maximum
// wins, as a float index (the CPU backend's rule, a leading NaN included).
extern "C" __global__ void bk_argmax(float* __restrict__ y, const float* __restrict__ x, long long k, long long inner, long long n) {
	NVAE_FOR(i, n) {
		long long o = i / inner, j = i - o * inner;
		const float* p = x + o * k * inner + j;
		float best = p[0];
		long long bi = 0;
		for (long long t = 1; t < k; t++) {
			float v = p[t * inner];
			if (v > best) {
				best = v;
				bi = t;
			}
		}
		y[i] = (float)bi;
	}
}

// One-hot y [outer, k, inner] of idx [outer, inner]: 1 where the index,
// truncated toward zero, equals the position; an index outside [0, k)
// (or NaN) gives a row of zeros.
extern "C" __global__ void bk_one_hot(float* __restrict__ y, const float* __restrict__ idx, long long k, long long inner, long long n) {
	NVAE_FOR(i, n) {
		long long r = i / inner, j = i - r * inner;
		long long o = r / k, t = r - o * k;
		float v = idx[o * inner + j];
		long long want = (v > -1.0f && v < (float)k) ? (long long)v : -1;
		y[i] = want == t ? 1.0f : 0.0f;
	}
}

// Pooling of x [planes, h, w] into y [planes, oh, ow] with k×k windows,
// stride s, padding p, clipped to the image. mode 0: max (NaN wins, like
// the CPU backend); 1: average over k·k; 2: average over the clipped
// window. Sums are float32 in row-major window order, like the CPU.
extern "C" __global__ void bk_pool2d(float* __restrict__ y, const float* __restrict__ x, int h, int w, int oh, int ow, int k, int s,
                                     int p, int mode, long long n) {
	NVAE_FOR(i, n) {
		long long r = i / ow;
		int ox = (int)(i - r * ow);
		long long pl = r / oh;
		int oy = (int)(r - pl * oh);
		int ylo = oy * s - p, xlo = ox * s - p;
		int yhi = ylo + k, xhi = xlo + k;
		if (ylo < 0) ylo = 0;
		if (xlo < 0) xlo = 0;
		if (yhi > h) yhi = h;
		if (xhi > w) xhi = w;
		const float* src = x + pl * h * w;
		if (mode == 0) {
			float best = __int_as_float(0xff800000);
			for (int yy = ylo; yy < yhi; yy++)
				for (int xx = xlo; xx < xhi; xx++) {
					float v = src[yy * w + xx];
					if (v > best || v != v) best = v;
				}
			y[i] = best;
			continue;
		}
		float sum = 0.0f;
		for (int yy = ylo; yy < yhi; yy++)
			for (int xx = xlo; xx < xhi; xx++) sum += src[yy * w + xx];
		int div = mode == 1 ? k * k : (yhi - ylo) * (xhi - xlo);
		y[i] = sum / (float)div;
	}
}

// bk_src_index maps output coordinate o to source taps like PyTorch's
// upsample_bilinear2d (the CPU backend's srcIndex).
__device__ __forceinline__ void bk_src_index(int o, int in, int out, int align, int& i0, int& i1, double& f) {
	double src = 0.0;
	if (align) {
		if (out > 1) src = (double)o * (double)(in - 1) / (double)(out - 1);
	} else {
		src = ((double)o + 0.5) * (double)in / (double)out - 0.5;
		if (src < 0) src = 0;
	}
	i0 = (int)src;
	if (i0 > in - 1) i0 = in - 1;
	i1 = i0 + 1;
	if (i1 > in - 1) i1 = in - 1;
	f = src - (double)i0;
}

// Bilinear resize of x [planes, h, w] to y [planes, oh, ow] (F.interpolate
// with the given align_corners), the CPU's float64 expression.
extern "C" __global__ void bk_resize_bilinear(float* __restrict__ y, const float* __restrict__ x, int h, int w, int oh, int ow,
                                              int align, long long n) {
	NVAE_FOR(i, n) {
		long long r = i / ow;
		int ox = (int)(i - r * ow);
		long long pl = r / oh;
		int oy = (int)(r - pl * oh);
		int y0, y1, x0, x1;
		double fy, fx;
		bk_src_index(oy, h, oh, align, y0, y1, fy);
		bk_src_index(ox, w, ow, align, x0, x1, fx);
		const float* p = x + pl * h * w;
		double v = (1 - fy) * ((1 - fx) * (double)p[y0 * w + x0] + fx * (double)p[y0 * w + x1]) +
		           fy * ((1 - fx) * (double)p[y1 * w + x0] + fx * (double)p[y1 * w + x1]);
		y[i] = (float)v;
	}
}
