// Element-wise kernels of the CUDA backend: unary functions and their
// derivatives, affine, clamp, broadcasting binary ops and comparisons,
// where, the per-channel affine (eval-mode batch norm) with an optional
// fused activation, and the gated residual sum.
//
// Semantics follow the CPU backend (pkg/backend/cpu). Where the interface
// asks for the rounding of composed ops (ChannelAffineUnary, GateScaleAdd,
// Affine's product rounded before the sum), the products and sums are
// written with __fmul_rn/__fadd_rn so that NVRTC's default FMA contraction
// cannot merge them.
//
// Index arithmetic: every kernel takes n as a 64-bit count but runs its
// loop in 32-bit unsigned arithmetic when n < 2^31 (a uniform branch), so
// the divisions of the broadcast paths are 32-bit ones; the equal-shape
// paths index linearly and divide nothing.
#include "nvae_common.cuh"

// BK_SMALL is the largest n the 32-bit index paths take (i + grid stride
// stays below 2^32).
#define BK_SMALL 0x7fffffffLL

// bk_for runs f(i) for i in [0, n) over the grid, i of type I.
template <typename I, class F>
__device__ __forceinline__ void bk_for(I n, F f) {
	I i = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x;
	I st = (I)gridDim.x * (I)blockDim.x;
	for (; i < n; i += st) f(i);
}

// BK_FOR_ANY(n, {body}) runs body for i in [0, n) over the grid, with
// 32-bit indices (I = unsigned) when n allows.
#define BK_FOR_ANY(n, ...)                                  \
	do {                                                    \
		if ((n) <= BK_SMALL) {                              \
			typedef unsigned I;                             \
			bk_for<I>((I)(n), [&](I i) __VA_ARGS__);        \
		} else {                                            \
			typedef unsigned long long I;                   \
			bk_for<I>((I)(n), [&](I i) __VA_ARGS__);        \
		}                                                   \
	} while (0)

// ---- unary functions (op numbers of backend.UnaryOp)

#define BK_EXP 0
#define BK_LOG 1
#define BK_TANH 2
#define BK_SIGMOID 3
#define BK_SOFTPLUS 4
#define BK_ELU 5
#define BK_SWISH 6
#define BK_RELU 7
#define BK_ABS 8
#define BK_SQRT 9
#define BK_SQUARE 10
#define BK_NEG 11
#define BK_LOGSIGMOID 12

// bk_sigmoid never overflows: exp of a non-positive argument only.
__device__ __forceinline__ float bk_sigmoid(float x) {
	if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
	float e = expf(x);
	return e / (1.0f + e);
}

// bk_softplus is log(1+exp(x)) computed without overflow.
__device__ __forceinline__ float bk_softplus(float x) {
	return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

template <int OP>
__device__ __forceinline__ float bk_unary_f(float x) {
	switch (OP) {
	case BK_EXP: return expf(x);
	case BK_LOG: return logf(x);
	case BK_TANH: return tanhf(x);
	case BK_SIGMOID: return bk_sigmoid(x);
	case BK_SOFTPLUS: return bk_softplus(x);
	case BK_ELU: return x > 0.0f ? x : expm1f(x);
	case BK_SWISH: return x * bk_sigmoid(x);
	case BK_RELU: return x > 0.0f ? x : 0.0f;
	case BK_ABS: return fabsf(x);
	case BK_SQRT: return sqrtf(x);
	case BK_SQUARE: return x * x;
	case BK_NEG: return -x;
	case BK_LOGSIGMOID: return -bk_softplus(-x);
	}
	return 0.0f;
}

// bk_unary_grad is gy·f'(x); y = f(x) is used when HAS_Y (else computed).
// The derivatives follow PyTorch: relu'(0) = abs'(0) = 0.
template <int OP, bool HAS_Y>
__device__ __forceinline__ float bk_unary_grad(float x, float y, float gy) {
	switch (OP) {
	case BK_EXP: return gy * (HAS_Y ? y : expf(x));
	case BK_LOG: return gy / x;
	case BK_TANH: {
		if (HAS_Y) return gy * fmaf(-y, y, 1.0f);
		float e = expf(-2.0f * fabsf(x)), d = 1.0f + e; // 1 - tanh² = 4e/(1+e)², no cancellation
		return gy * (4.0f * e / (d * d));
	}
	case BK_SIGMOID: {
		if (HAS_Y) return gy * (y * (1.0f - y));
		float e = expf(-fabsf(x)), d = 1.0f + e; // σ(x)σ(-x) = e/(1+e)², no cancellation
		return gy * (e / (d * d));
	}
	case BK_SOFTPLUS: return gy * bk_sigmoid(x);
	case BK_ELU: return x > 0.0f ? gy : gy * expf(x);
	case BK_SWISH: {
		float s = bk_sigmoid(x);
		return gy * (s * (1.0f + x * (1.0f - s)));
	}
	case BK_RELU: return gy * (x > 0.0f ? 1.0f : 0.0f);
	case BK_ABS: return gy * (x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f);
	case BK_SQRT: return gy * (0.5f / (HAS_Y ? y : sqrtf(x)));
	case BK_SQUARE: return gy * (2.0f * x);
	case BK_NEG: return -gy;
	case BK_LOGSIGMOID: return gy * bk_sigmoid(-x);
	}
	return 0.0f;
}

// BK_UNARY_SWITCH expands F(K) for the unary op number op.
#define BK_UNARY_SWITCH(op, F) \
	switch (op) {              \
	case 0: F(0); break;       \
	case 1: F(1); break;       \
	case 2: F(2); break;       \
	case 3: F(3); break;       \
	case 4: F(4); break;       \
	case 5: F(5); break;       \
	case 6: F(6); break;       \
	case 7: F(7); break;       \
	case 8: F(8); break;       \
	case 9: F(9); break;       \
	case 10: F(10); break;     \
	case 11: F(11); break;     \
	case 12: F(12); break;     \
	}

template <int OP>
__device__ __forceinline__ void bk_unary_run(float* __restrict__ y, const float* __restrict__ x, long long n) {
	BK_FOR_ANY(n, { y[i] = bk_unary_f<OP>(x[i]); });
}

// y = op(x)
extern "C" __global__ void bk_unary(int op, float* __restrict__ y, const float* __restrict__ x, long long n) {
#define F(K) bk_unary_run<K>(y, x, n)
	BK_UNARY_SWITCH(op, F)
#undef F
}

template <int OP, bool HAS_Y>
__device__ __forceinline__ void bk_unary_back_run(float* __restrict__ gx, const float* __restrict__ x,
                                                  const float* __restrict__ y, const float* __restrict__ gy, long long n) {
	BK_FOR_ANY(n, { gx[i] = bk_unary_grad<OP, HAS_Y>(x[i], HAS_Y ? y[i] : 0.0f, gy[i]); });
}

// gx = gy·op'(x); y = op(x) may be null.
extern "C" __global__ void bk_unary_backward(int op, float* __restrict__ gx, const float* __restrict__ x,
                                             const float* __restrict__ y, const float* __restrict__ gy, long long n) {
	if (y) {
#define F(K) bk_unary_back_run<K, true>(gx, x, y, gy, n)
		BK_UNARY_SWITCH(op, F)
#undef F
	} else {
#define F(K) bk_unary_back_run<K, false>(gx, x, y, gy, n)
		BK_UNARY_SWITCH(op, F)
#undef F
	}
}

// ---- affine and clamp

// y = x·a + b, the product rounded before the sum.
extern "C" __global__ void bk_affine(float* __restrict__ y, const float* __restrict__ x, float a, float b, long long n) {
	BK_FOR_ANY(n, { y[i] = __fadd_rn(__fmul_rn(x[i], a), b); });
}

// y = lov where x < lo, hiv where x > hi, else x. lo and hi are the
// float32 bounds equivalent to the float64 ones under comparison with a
// float32 (rounded up and down), lov and hiv the bounds' nearest floats.
extern "C" __global__ void bk_clamp(float* __restrict__ y, const float* __restrict__ x, float lo, float hi, float lov,
                                    float hiv, long long n) {
	BK_FOR_ANY(n, {
		float v = x[i];
		if (v < lo) v = lov;
		if (v > hi) v = hiv;
		y[i] = v;
	});
}

// gx = gy where lo <= x <= hi (the bounds pass the gradient), else 0.
extern "C" __global__ void bk_clamp_backward(float* __restrict__ gx, const float* __restrict__ x,
                                             const float* __restrict__ gy, float lo, float hi, long long n) {
	BK_FOR_ANY(n, {
		float v = x[i];
		gx[i] = (v >= lo && v <= hi) ? gy[i] : 0.0f;
	});
}

// ---- binary ops and comparisons (op numbers: backend.BinaryOp, then
// 6 + backend.CompareOp)

template <int OP>
__device__ __forceinline__ float bk_bin(float a, float b) {
	switch (OP) {
	case 0: return a + b;
	case 1: return a - b;
	case 2: return a * b;
	case 3: return a / b;
	case 4: return (b > a || b != b) ? b : a; // max: NaN propagates from either side
	case 5: return (b < a || b != b) ? b : a; // min
	case 6: return a > b ? 1.0f : 0.0f;
	case 7: return a >= b ? 1.0f : 0.0f;
	case 8: return a < b ? 1.0f : 0.0f;
	case 9: return a <= b ? 1.0f : 0.0f;
	case 10: return a == b ? 1.0f : 0.0f;
	}
	return 0.0f;
}

#define BK_BIN_SWITCH(op, F) \
	switch (op) {            \
	case 0: F(0); break;     \
	case 1: F(1); break;     \
	case 2: F(2); break;     \
	case 3: F(3); break;     \
	case 4: F(4); break;     \
	case 5: F(5); break;     \
	case 6: F(6); break;     \
	case 7: F(7); break;     \
	case 8: F(8); break;     \
	case 9: F(9); break;     \
	case 10: F(10); break;   \
	}

template <int OP>
__device__ __forceinline__ void bk_binary_same_run(float* __restrict__ y, const float* __restrict__ a,
                                                   const float* __restrict__ b, long long n) {
	BK_FOR_ANY(n, { y[i] = bk_bin<OP>(a[i], b[i]); });
}

// y = a op b, a and b of y's shape (linear index).
extern "C" __global__ void bk_binary_same(int op, float* __restrict__ y, const float* __restrict__ a,
                                          const float* __restrict__ b, long long n) {
#define F(K) bk_binary_same_run<K>(y, a, b, n)
	BK_BIN_SWITCH(op, F)
#undef F
}

template <int OP, bool FLIP>
__device__ __forceinline__ void bk_binary_scalar_run(float* __restrict__ y, const float* __restrict__ x, float s,
                                                     long long n) {
	BK_FOR_ANY(n, { y[i] = FLIP ? bk_bin<OP>(s, x[i]) : bk_bin<OP>(x[i], s); });
}

// y = x op s[0], or s[0] op x when flip (s a one-element tensor).
extern "C" __global__ void bk_binary_scalar(int op, int flip, float* __restrict__ y, const float* __restrict__ x,
                                            const float* __restrict__ s, long long n) {
	float v = s[0];
	if (flip) {
#define F(K) bk_binary_scalar_run<K, true>(y, x, v, n)
		BK_BIN_SWITCH(op, F)
#undef F
	} else {
#define F(K) bk_binary_scalar_run<K, false>(y, x, v, n)
		BK_BIN_SWITCH(op, F)
#undef F
	}
}

template <int OP, bool FLIP>
__device__ __forceinline__ void bk_binary_chan_run(float* __restrict__ y, const float* __restrict__ x,
                                                   const float* __restrict__ v, unsigned c, unsigned inner, unsigned n) {
	bk_for<unsigned>(n, [&](unsigned i) {
		float w = v[(i / inner) % c];
		y[i] = FLIP ? bk_bin<OP>(w, x[i]) : bk_bin<OP>(x[i], w);
	});
}

// y = x op v[(i/inner) % c] (v broadcast along the other axes: a bias per
// channel, a gate per (sample, channel)), or v op x when flip; n < 2^31.
extern "C" __global__ void bk_binary_chan(int op, int flip, float* __restrict__ y, const float* __restrict__ x,
                                          const float* __restrict__ v, int c, int inner, long long n) {
	unsigned cc = (unsigned)c, in = (unsigned)inner, nn = (unsigned)n;
	if (flip) {
#define F(K) bk_binary_chan_run<K, true>(y, x, v, cc, in, nn)
		BK_BIN_SWITCH(op, F)
#undef F
	} else {
#define F(K) bk_binary_chan_run<K, false>(y, x, v, cc, in, nn)
		BK_BIN_SWITCH(op, F)
#undef F
	}
}

// bk_offsets maps the row-major index i of shape d[0]'s shape to the
// offsets of NOPS operands through their strides (one division per axis,
// shared by the operands).
template <typename I, int NOPS>
__device__ __forceinline__ void bk_offsets(const nvae_dims* d, I i, I* off) {
	for (int k = 0; k < NOPS; k++) off[k] = 0;
	for (int ax = d[0].rank - 1; ax >= 0; ax--) {
		I s = (I)d[0].shape[ax];
		I q = i / s;
		I r = i - q * s;
		for (int k = 0; k < NOPS; k++) off[k] += r * (I)d[k].stride[ax];
		i = q;
	}
}

template <int OP>
__device__ __forceinline__ void bk_binary_bcast_run(float* __restrict__ y, const float* __restrict__ a,
                                                    const float* __restrict__ b, const nvae_dims* d, long long n) {
	BK_FOR_ANY(n, {
		I off[2];
		bk_offsets<I, 2>(d, i, off);
		y[i] = bk_bin<OP>(a[off[0]], b[off[1]]);
	});
}

// y = a op b with general broadcasting: da and db view a and b as y's
// (coalesced) shape, with 0 strides on the broadcast axes.
extern "C" __global__ void bk_binary_bcast(int op, float* __restrict__ y, const float* __restrict__ a,
                                           const float* __restrict__ b, nvae_dims da, nvae_dims db, long long n) {
	nvae_dims d[2] = {da, db};
#define F(K) bk_binary_bcast_run<K>(y, a, b, d, n)
	BK_BIN_SWITCH(op, F)
#undef F
}

// ---- where

// y = cond != 0 ? a : b, all of y's shape.
extern "C" __global__ void bk_where_same(float* __restrict__ y, const float* __restrict__ cond,
                                        const float* __restrict__ a, const float* __restrict__ b, long long n) {
	BK_FOR_ANY(n, { y[i] = cond[i] != 0.0f ? a[i] : b[i]; });
}

// bk_where_same with broadcasting: dc, da, db view cond, a, b as y's
// (coalesced) shape.
extern "C" __global__ void bk_where_bcast(float* __restrict__ y, const float* __restrict__ cond,
                                         const float* __restrict__ a, const float* __restrict__ b, nvae_dims dc,
                                         nvae_dims da, nvae_dims db, long long n) {
	nvae_dims d[3] = {dc, da, db};
	BK_FOR_ANY(n, {
		I off[3];
		bk_offsets<I, 3>(d, i, off);
		y[i] = cond[off[0]] != 0.0f ? a[off[1]] : b[off[2]];
	});
}

// ---- per-channel affine and the gated residual sum

// OP < 0: no activation.
template <int OP, typename I>
__device__ __forceinline__ void bk_chan_affine_loop(float* y, const float* x, const float* __restrict__ scale,
                                                    const float* __restrict__ shift, I c, I hw, I n) {
	bk_for<I>(n, [&](I i) {
		I ch = (i / hw) % c;
		float v = __fadd_rn(__fmul_rn(x[i], scale[ch]), shift[ch]);
		if (OP >= 0) v = bk_unary_f<(OP < 0 ? 0 : OP)>(v);
		y[i] = v;
	});
}

template <int OP>
__device__ __forceinline__ void bk_chan_affine_run(float* y, const float* x, const float* __restrict__ scale,
                                                   const float* __restrict__ shift, long long c, long long hw,
                                                   long long n) {
	if (n <= BK_SMALL)
		bk_chan_affine_loop<OP, unsigned>(y, x, scale, shift, (unsigned)c, (unsigned)hw, (unsigned)n);
	else
		bk_chan_affine_loop<OP, unsigned long long>(y, x, scale, shift, (unsigned long long)c,
		                                            (unsigned long long)hw, (unsigned long long)n);
}

// y = op(x·scale[c] + shift[c]) over x [N, C, hw] (op < 0: no activation),
// rounded like the affine followed by Unary. y may be x (in place), so
// neither is __restrict__.
extern "C" __global__ void bk_channel_affine(int op, float* y, const float* x, const float* __restrict__ scale,
                                             const float* __restrict__ shift, long long c, long long hw, long long n) {
	if (op < 0) {
		bk_chan_affine_run<-1>(y, x, scale, shift, c, hw, n);
		return;
	}
#define F(K) bk_chan_affine_run<K>(y, x, scale, shift, c, hw, n)
	BK_UNARY_SWITCH(op, F)
#undef F
}

// out = y + ((x·gate[i/hw])·s + 0), or y + (x·s + 0) without a gate: the
// rounding of Add(y, Affine(Mul(x, gate), s, 0)).
extern "C" __global__ void bk_gate_scale_add(float* __restrict__ out, const float* __restrict__ y,
                                             const float* __restrict__ x, const float* __restrict__ gate, float s,
                                             long long hw, long long n) {
	if (gate) {
		BK_FOR_ANY(n, {
			float p = __fmul_rn(x[i], gate[i / (I)hw]);
			out[i] = __fadd_rn(y[i], __fadd_rn(__fmul_rn(p, s), 0.0f));
		});
	} else {
		BK_FOR_ANY(n, { out[i] = __fadd_rn(y[i], __fadd_rn(__fmul_rn(x[i], s), 0.0f)); });
	}
}
