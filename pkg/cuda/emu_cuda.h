// CUDA's built-ins for the emulated device: the emulated NVRTC compiles a
// kernel source with the host C++ compiler after this header. Each CUDA
// thread is a fiber of the emulator; __syncthreads and the warp operations
// switch fibers, so they are real barriers. __shared__ variables are
// thread-local: one OS thread runs one block at a time.

// The layout of a CUDA thread's coordinates and of the emulator's runtime
// table comes first: emu_driver.cc includes this header with
// NVAE_EMU_CUDA_ABI_ONLY defined to get just that part.
#ifndef NVAE_EMU_CUDA_ABI
#define NVAE_EMU_CUDA_ABI
struct uint3 {
	unsigned int x, y, z;
};
struct dim3 {
	unsigned int x, y, z;
	dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
	dim3(uint3 u) : x(u.x), y(u.y), z(u.z) {}
};
struct __emu_ctx {
	uint3 threadIdx, blockIdx, blockDim, gridDim;
};
struct __emu_rt_t {
	__emu_ctx* (*self)();
	void (*syncthreads)();
	int (*syncthreads_op)(int pred, int kind);
	void (*syncwarp)(unsigned mask);
	unsigned long long (*shfl)(unsigned long long v, int mode, int arg, int width);
	unsigned (*vote)(int pred, int kind);
	void* (*dyn_smem)();
	void (*trap)(const char* msg);
};
#endif

#if !defined(NVAE_EMU_CUDA_H) && !defined(NVAE_EMU_CUDA_ABI_ONLY)
#define NVAE_EMU_CUDA_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <type_traits>
#include <utility>

extern "C" {
__attribute__((visibility("default"))) __emu_rt_t* __emu_rt;
__attribute__((visibility("default"))) void __emu_tls_touch() {
	static thread_local char anchor;
	__asm__ volatile("" : : "r"(&anchor) : "memory");
}
}

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __EMU_DYN_SHARED(T, name) T* name = (T*)__emu_rt->dyn_smem()

#define threadIdx (__emu_rt->self()->threadIdx)
#define blockIdx (__emu_rt->self()->blockIdx)
#define blockDim (__emu_rt->self()->blockDim)
#define gridDim (__emu_rt->self()->gridDim)
#define warpSize 32

static inline void __syncthreads() { __emu_rt->syncthreads(); }
static inline int __syncthreads_count(int p) { return __emu_rt->syncthreads_op(p, 0); }
static inline int __syncthreads_and(int p) { return __emu_rt->syncthreads_op(p, 1); }
static inline int __syncthreads_or(int p) { return __emu_rt->syncthreads_op(p, 2); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) { __emu_rt->syncwarp(mask); }
static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __trap() { __emu_rt->trap("__trap()"); }
static inline unsigned __activemask() { return 0xffffffffu; }

template <class T>
static inline T __emu_shfl(T v, int mode, int arg, int width) {
	static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
	unsigned long long b = 0;
	memcpy(&b, &v, sizeof(T));
	b = __emu_rt->shfl(b, mode, arg, width);
	T r;
	memcpy(&r, &b, sizeof(T));
	return r;
}
template <class T>
static inline T __shfl_sync(unsigned, T v, int src, int width = 32) { return __emu_shfl(v, 0, src, width); }
template <class T>
static inline T __shfl_up_sync(unsigned, T v, unsigned d, int width = 32) { return __emu_shfl(v, 1, (int)d, width); }
template <class T>
static inline T __shfl_down_sync(unsigned, T v, unsigned d, int width = 32) { return __emu_shfl(v, 2, (int)d, width); }
template <class T>
static inline T __shfl_xor_sync(unsigned, T v, int m, int width = 32) { return __emu_shfl(v, 3, m, width); }
static inline unsigned __ballot_sync(unsigned, int p) { return __emu_rt->vote(p, 0); }
static inline int __all_sync(unsigned, int p) { return (int)__emu_rt->vote(p, 1); }
static inline int __any_sync(unsigned, int p) { return (int)__emu_rt->vote(p, 2); }

// Atomics: blocks run in parallel on OS threads, so these are real atomics.
#define __EMU_ATOMIC_INT(T)                                                                             \
	static inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }         \
	static inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }         \
	static inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }       \
	static inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }         \
	static inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }           \
	static inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }         \
	static inline T atomicCAS(T* p, T cmp, T v) {                                                       \
		__atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);             \
		return cmp;                                                                                     \
	}                                                                                                   \
	static inline T atomicMax(T* p, T v) {                                                              \
		T o = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                     \
		while (o < v && !__atomic_compare_exchange_n(p, &o, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) \
			;                                                                                           \
		return o;                                                                                       \
	}                                                                                                   \
	static inline T atomicMin(T* p, T v) {                                                              \
		T o = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                     \
		while (o > v && !__atomic_compare_exchange_n(p, &o, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) \
			;                                                                                           \
		return o;                                                                                       \
	}
__EMU_ATOMIC_INT(int)
__EMU_ATOMIC_INT(unsigned int)
__EMU_ATOMIC_INT(unsigned long long)
#undef __EMU_ATOMIC_INT

template <class F, class U>
static inline F __emu_atomic_float(F* p, F v, int op) {
	static_assert(sizeof(F) == sizeof(U), "size");
	U* q = (U*)p;
	U o = __atomic_load_n(q, __ATOMIC_SEQ_CST), n;
	for (;;) {
		F of, nf;
		memcpy(&of, &o, sizeof o);
		nf = op == 0 ? of + v : op == 1 ? (of > v ? of : v) : (of < v ? of : v);
		memcpy(&n, &nf, sizeof n);
		if (__atomic_compare_exchange_n(q, &o, n, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return of;
	}
}
static inline float atomicAdd(float* p, float v) { return __emu_atomic_float<float, unsigned>(p, v, 0); }
static inline double atomicAdd(double* p, double v) { return __emu_atomic_float<double, unsigned long long>(p, v, 0); }
static inline float atomicExch(float* p, float v) {
	unsigned u;
	memcpy(&u, &v, 4);
	u = __atomic_exchange_n((unsigned*)p, u, __ATOMIC_SEQ_CST);
	float r;
	memcpy(&r, &u, 4);
	return r;
}

// Math intrinsics: the fast forms are the accurate ones here.
// (glibc declares functions of these names, so they are macros here.)
#define __expf(x) expf(x)
#define __logf(x) logf(x)
#define __log2f(x) log2f(x)
#define __sinf(x) sinf(x)
#define __cosf(x) cosf(x)
#define __tanf(x) tanf(x)
#define __powf(a, b) powf(a, b)
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __frcp_rn(float x) { return 1.0f / x; }
static inline float __fsqrt_rn(float x) { return sqrtf(x); }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
static inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
static inline int __float2int_rz(float x) { return (int)x; }
static inline float __int2float_rn(int x) { return (float)x; }
static inline float __int_as_float(int x) { float f; memcpy(&f, &x, 4); return f; }
static inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
static inline unsigned __float_as_uint(float x) { unsigned i; memcpy(&i, &x, 4); return i; }
static inline float __uint_as_float(unsigned x) { float f; memcpy(&f, &x, 4); return f; }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
template <class T>
static inline T __ldg(const T* p) { return *p; }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }

// __half and __nv_bfloat16: storage types with float arithmetic.
struct __half {
	unsigned short x;
};
struct __nv_bfloat16 {
	unsigned short x;
};
static inline float __half2float(__half h) {
	unsigned s = (h.x >> 15) & 1, e = (h.x >> 10) & 31, m = h.x & 1023, u;
	if (e == 0) {
		if (m == 0) u = s << 31;
		else {
			e = 113;
			while (!(m & 1024)) m <<= 1, e--;
			u = (s << 31) | (e << 23) | ((m & 1023) << 13);
		}
	} else if (e == 31) u = (s << 31) | 0x7f800000u | (m << 13);
	else u = (s << 31) | ((e + 112) << 23) | (m << 13);
	return __uint_as_float(u);
}
static inline __half __float2half(float f) {
	unsigned u = __float_as_uint(f), s = (u >> 16) & 0x8000;
	int e = (int)((u >> 23) & 255) - 127 + 15;
	unsigned m = u & 0x7fffff;
	__half h;
	if (((u >> 23) & 255) == 255) h.x = (unsigned short)(s | 0x7c00 | (m ? 0x200 : 0));
	else if (e >= 31) h.x = (unsigned short)(s | 0x7c00);
	else if (e <= 0) {
		if (e < -10) h.x = (unsigned short)s;
		else {
			m |= 0x800000;
			unsigned shift = (unsigned)(14 - e);
			unsigned r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
			if (rem > half || (rem == half && (r & 1))) r++;
			h.x = (unsigned short)(s | r);
		}
	} else {
		unsigned r = ((unsigned)e << 10) | (m >> 13), rem = m & 0x1fff;
		if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
		h.x = (unsigned short)(s | r);
	}
	return h;
}
static inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float((unsigned)b.x << 16); }
static inline __nv_bfloat16 __float2bfloat16(float f) {
	unsigned u = __float_as_uint(f);
	__nv_bfloat16 b;
	if ((u & 0x7fffffff) > 0x7f800000) b.x = (unsigned short)((u >> 16) | 0x40);
	else b.x = (unsigned short)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
	return b;
}

// Argument unpacking for the entry points the emulated NVRTC appends:
// __emu_entry_NAME(void** p) calls NAME(*(A0*)p[0], *(A1*)p[1], ...).
template <class... A, size_t... I>
static inline void __emu_invoke_i(void (*f)(A...), void** p, std::index_sequence<I...>) {
	f(*(typename std::remove_cv<typename std::remove_reference<A>::type>::type*)p[I]...);
}
template <class... A>
static inline void __emu_invoke(void (*f)(A...), void** p) {
	__emu_invoke_i(f, p, std::index_sequence_for<A...>{});
}
template <class... A>
static inline int __emu_argsizes(void (*)(A...), size_t* s) {
	size_t z[] = {sizeof(A)..., 0};
	for (size_t i = 0; i < sizeof...(A); i++) s[i] = z[i];
	return (int)sizeof...(A);
}

#endif
