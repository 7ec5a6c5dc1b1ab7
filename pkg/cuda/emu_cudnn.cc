// The emulated cuDNN (legacy convolution API, cuDNN 9 status codes):
// reference loops written from the cuDNN documentation. NCHW float
// tensors, KCRS filters, padding/stride/dilation/groups, convolution or
// cross-correlation mode; y = alpha*op + beta*y with y not read when
// beta == 0. Algorithms have documented workspace sizes; a call with too
// small a workspace fails as it does on a GPU, and the workspace is
// scribbled on so that a caller sharing it with live data sees the damage.
// Each output element is a double sum in the reference loop's order, so
// results are exact references, bit for bit the same however the work is
// split over the library's threads (emu::ParallelFor, defined here).
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "emu.h"

namespace {

enum {
	CUDNN_STATUS_SUCCESS = 0,
	CUDNN_STATUS_NOT_INITIALIZED = 1001,
	CUDNN_STATUS_BAD_PARAM = 2000,
	CUDNN_STATUS_BAD_PARAM_NULL_POINTER = 2002,
	CUDNN_STATUS_NOT_SUPPORTED = 3000,
	CUDNN_STATUS_EXECUTION_FAILED = 5000,
};

struct Handle {
	CUstream stream = nullptr;
};
struct Tensor {
	bool set = false;
	int n = 0, c = 0, h = 0, w = 0;
};
struct Filter {
	bool set = false;
	int k = 0, c = 0, h = 0, w = 0;
};
struct Conv {
	bool set = false;
	int ph = 0, pw = 0, sh = 1, sw = 1, dh = 1, dw = 1, mode = 1, groups = 1, math = 0;
};

struct Shape {
	int N, C, H, W, K, KH, KW, OH, OW, G;
	const Conv* cv;
};

int OutDim(const Conv* cv, const Tensor* x, const Filter* w, int* n, int* k, int* h, int* wd) {
	if (!cv || !x || !w || !cv->set || !x->set || !w->set) return CUDNN_STATUS_BAD_PARAM;
	if (x->c != w->c * cv->groups || w->k % cv->groups != 0) return CUDNN_STATUS_BAD_PARAM;
	int eh = (w->h - 1) * cv->dh + 1, ew = (w->w - 1) * cv->dw + 1;
	int sh = x->h + 2 * cv->ph - eh, sw = x->w + 2 * cv->pw - ew;
	if (sh < 0 || sw < 0) return CUDNN_STATUS_BAD_PARAM;
	*n = x->n;
	*k = w->k;
	*h = sh / cv->sh + 1;
	*wd = sw / cv->sw + 1;
	return 0;
}

int MakeShape(const Conv* cv, const Tensor* x, const Filter* w, const Tensor* y, Shape* s) {
	int n, k, h, wd;
	if (int e = OutDim(cv, x, w, &n, &k, &h, &wd)) return e;
	if (!y || !y->set || y->n != n || y->c != k || y->h != h || y->w != wd) return CUDNN_STATUS_BAD_PARAM;
	*s = Shape{x->n, x->c, x->h, x->w, w->k, w->h, w->w, h, wd, cv->groups, cv};
	return 0;
}

size_t ColBytes(const Shape& s) { return (size_t)(s.C / s.G) * s.KH * s.KW * s.OH * s.OW * 4; }

// Workspace per algorithm, or -1 when the emulator does not offer it.
long long FwdWs(const Shape& s, int algo) {
	switch (algo) {
	case 0: return 0;                                          // IMPLICIT_GEMM
	case 1: return (long long)(s.C / s.G) * s.KH * s.KW * 4;   // IMPLICIT_PRECOMP_GEMM: index table
	case 2: return (long long)ColBytes(s);                     // GEMM: im2col buffer
	}
	return -1;
}
long long BwdDataWs(const Shape& s, int algo) {
	switch (algo) {
	case 0: return 0;
	case 1: return (long long)ColBytes(s);
	}
	return -1;
}
long long BwdFilterWs(const Shape& s, int algo) {
	switch (algo) {
	case 0: return 0;
	case 1: case 3: return (long long)ColBytes(s);
	}
	return -1;
}

// The valid range [*lo, *hi) of output positions o (0 <= o < O) whose input
// position o*st + off lies inside [0, L).
inline void Range(int O, int L, int st, int off, int* lo, int* hi) {
	*lo = off >= 0 ? 0 : (-off + st - 1) / st;
	*hi = L - 1 - off < 0 ? 0 : (L - 1 - off) / st + 1;
	if (*hi > O) *hi = O;
	if (*lo > *hi) *lo = *hi;
}

// *o = alpha*acc + beta*(*o), *o not read when beta == 0 (it may hold NaN).
inline void Blend1(float* o, double acc, float alpha, float beta) {
	*o = beta == 0.0f ? (float)(alpha * acc) : (float)(alpha * acc + (double)beta * *o);
}

// The three directions. Every output element is the double sum of its
// products in the order of the reference loop nest
//   for n, k, oh, ow (the output position), c, r, t (the filter tap)
// that visits every (input, tap, output) triple whose input lies inside the
// image: for y by (c, r, t), for dx by (k, oh, ow), for dw by (n, oh, ow).
// The loops below keep those orders (so results are the reference's, bit
// for bit) but run the innermost loop over output (or input) positions of
// one row, a plain multiply-add over contiguous memory, and each call
// computes a disjoint part of the output so that the parts can run on
// different threads in any order.

struct Dims {
	int N, C, H, W, K, KH, KW, OH, OW, Cg, Kg, ph, pw, sh, sw, dh, dw;
	bool flip;
	// Per filter row r (column t): the output rows (columns) whose input
	// row (column) lies inside the image, [ohLo[r], ohHi[r]).
	std::vector<int> ohLo, ohHi, owLo, owHi;
	Dims(const Shape& s)
	    : N(s.N), C(s.C), H(s.H), W(s.W), K(s.K), KH(s.KH), KW(s.KW), OH(s.OH), OW(s.OW), Cg(s.C / s.G),
	      Kg(s.K / s.G), ph(s.cv->ph), pw(s.cv->pw), sh(s.cv->sh), sw(s.cv->sw), dh(s.cv->dh), dw(s.cv->dw),
	      flip(s.cv->mode == 0), ohLo(KH), ohHi(KH), owLo(KW), owHi(KW) {
		for (int r = 0; r < KH; r++) Range(OH, H, sh, r * dh - ph, &ohLo[r], &ohHi[r]);
		for (int t = 0; t < KW; t++) Range(OW, W, sw, t * dw - pw, &owLo[t], &owHi[t]);
	}
	// The filter tap used at (r, t): flipped in convolution mode.
	size_t Tap(int k, int c, int r, int t) const {
		if (flip) r = KH - 1 - r, t = KW - 1 - t;
		return (((size_t)k * Cg + c) * KH + r) * KW + t;
	}
};

// Forward, one (image n, output channel k): y[n, k, :, :].
void FwdPart(const Dims& d, const float* X, const float* Wt, float* Y, float alpha, float beta, size_t u,
             std::vector<double>& acc) {
	int n = (int)(u / d.K), k = (int)(u % d.K), g = k / d.Kg;
	size_t plane = (size_t)d.OH * d.OW;
	acc.assign(plane, 0.0);
	double* A = acc.data();
	for (int c = 0; c < d.Cg; c++) {
		const float* xc = X + ((size_t)n * d.C + (size_t)g * d.Cg + c) * d.H * d.W;
		for (int r = 0; r < d.KH; r++) {
			int oh0 = d.ohLo[r], oh1 = d.ohHi[r], offh = r * d.dh - d.ph;
			for (int t = 0; t < d.KW; t++) {
				int ow0 = d.owLo[t], ow1 = d.owHi[t], offw = t * d.dw - d.pw;
				double wv = Wt[d.Tap(k, c, r, t)];
				int len = ow1 - ow0;
				for (int oh = oh0; oh < oh1; oh++) {
					const float* xr = xc + (size_t)(oh * d.sh + offh) * d.W + (ow0 * d.sw + offw);
					double* ar = A + (size_t)oh * d.OW + ow0;
					if (d.sw == 1)
						emu::Axpy(ar, xr, wv, len);
					else
						for (int i = 0; i < len; i++) ar[i] += (double)xr[(size_t)i * d.sw] * wv;
				}
			}
		}
	}
	float* y = Y + u * plane;
	for (size_t i = 0; i < plane; i++) Blend1(y + i, A[i], alpha, beta);
}

// Backward data, one (image n, input channel ci): dx[n, ci, :, :]. For an
// input element and fixed (k, oh), the taps t that reach it come from
// output columns ow that fall as t rises: t runs downwards so that the
// products arrive in rising ow.
void BwdDataPart(const Dims& d, const float* DY, const float* Wt, float* DX, float alpha, float beta, size_t u,
                 std::vector<double>& acc) {
	int n = (int)(u / d.C), ci = (int)(u % d.C), g = ci / d.Cg, c = ci % d.Cg;
	size_t plane = (size_t)d.H * d.W;
	acc.assign(plane, 0.0);
	double* A = acc.data();
	for (int k = g * d.Kg; k < (g + 1) * d.Kg; k++) {
		const float* dyk = DY + ((size_t)n * d.K + k) * d.OH * d.OW;
		for (int oh = 0; oh < d.OH; oh++) {
			const float* dyr = dyk + (size_t)oh * d.OW;
			for (int r = 0; r < d.KH; r++) {
				int ih = oh * d.sh - d.ph + r * d.dh;
				if (ih < 0 || ih >= d.H) continue;
				double* arow = A + (size_t)ih * d.W;
				for (int t = d.KW - 1; t >= 0; t--) {
					int ow0 = d.owLo[t], ow1 = d.owHi[t], offw = t * d.dw - d.pw;
					double wv = Wt[d.Tap(k, c, r, t)];
					double* ar = arow + (ow0 * d.sw + offw);
					const float* dr = dyr + ow0;
					int len = ow1 - ow0;
					if (d.sw == 1)
						emu::Axpy(ar, dr, wv, len);
					else
						for (int i = 0; i < len; i++) ar[(size_t)i * d.sw] += (double)dr[i] * wv;
				}
			}
		}
	}
	float* dx = DX + u * plane;
	for (size_t i = 0; i < plane; i++) Blend1(dx + i, A[i], alpha, beta);
}

// Backward filter for KB output channels k0.. of one group and one input
// channel c of it: dw[k0..k0+KB-1, c, :, :]. Each tap's sum is one chain in
// (n, oh, ow) order; the KB channels' chains run side by side.
template <int KB>
void BwdFilterBlock(const Dims& d, const float* X, const float* DY, float* DW, float alpha, float beta, int k0, int c,
                    std::vector<double>& acc) {
	int g = k0 / d.Kg, taps = d.KH * d.KW;
	size_t plane = (size_t)d.OH * d.OW;
	acc.assign((size_t)KB * taps, 0.0);
	double* A = acc.data();
	for (int n = 0; n < d.N; n++) {
		const float* xc = X + ((size_t)n * d.C + (size_t)g * d.Cg + c) * d.H * d.W;
		const float* dyn = DY + ((size_t)n * d.K + k0) * plane;
		for (int oh = 0; oh < d.OH; oh++) {
			for (int r = 0; r < d.KH; r++) {
				int ih = oh * d.sh - d.ph + r * d.dh;
				if (ih < 0 || ih >= d.H) continue;
				for (int t = 0; t < d.KW; t++) {
					int ow0 = d.owLo[t], ow1 = d.owHi[t], offw = t * d.dw - d.pw;
					const float* xr = xc + (size_t)ih * d.W + (ow0 * d.sw + offw);
					const float* dr = dyn + (size_t)oh * d.OW + ow0;
					double a[KB];
					for (int j = 0; j < KB; j++) a[j] = A[j * taps + r * d.KW + t];
					int len = ow1 - ow0;
					for (int i = 0; i < len; i++) {
						double xv = xr[(size_t)i * d.sw];
						for (int j = 0; j < KB; j++) a[j] += xv * dr[j * plane + i];
					}
					for (int j = 0; j < KB; j++) A[j * taps + r * d.KW + t] = a[j];
				}
			}
		}
	}
	for (int j = 0; j < KB; j++)
		for (int r = 0; r < d.KH; r++)
			for (int t = 0; t < d.KW; t++) {
				Blend1(DW + d.Tap(k0 + j, c, r, t), A[j * taps + r * d.KW + t], alpha, beta);
			}
}

const int kFilterBlock = 4;

// Units of backward-filter work: per group, the output channels in blocks
// of kFilterBlock times the group's input channels.
size_t FilterBlocks(const Dims& d) { return (size_t)(d.Kg + kFilterBlock - 1) / kFilterBlock; }

void BwdFilterPart(const Dims& d, const float* X, const float* DY, float* DW, float alpha, float beta, size_t u,
                   std::vector<double>& acc) {
	size_t nb = FilterBlocks(d);
	int c = (int)(u % d.Cg);
	size_t gb = u / d.Cg;
	int g = (int)(gb / nb), b = (int)(gb % nb);
	int k0 = g * d.Kg + b * kFilterBlock, kb = d.Kg - b * kFilterBlock;
	switch (kb >= kFilterBlock ? kFilterBlock : kb) {
	case 1: BwdFilterBlock<1>(d, X, DY, DW, alpha, beta, k0, c, acc); break;
	case 2: BwdFilterBlock<2>(d, X, DY, DW, alpha, beta, k0, c, acc); break;
	case 3: BwdFilterBlock<3>(d, X, DY, DW, alpha, beta, k0, c, acc); break;
	default: BwdFilterBlock<4>(d, X, DY, DW, alpha, beta, k0, c, acc); break;
	}
}

int CheckPtrs(std::initializer_list<std::pair<const void*, size_t>> ps) {
	for (auto& p : ps)
		if (!emu::Dev(p.first, p.second)) {
			emu::SetDetail("cuDNN: a tensor is not inside one device allocation");
			return CUDNN_STATUS_BAD_PARAM;
		}
	return 0;
}

int CheckWs(long long need, void* ws, size_t wsn) {
	if (need < 0) return CUDNN_STATUS_NOT_SUPPORTED;
	if ((size_t)need > wsn) {
		emu::SetDetail("cuDNN: workspace smaller than the algorithm needs");
		return CUDNN_STATUS_BAD_PARAM;
	}
	if (need > 0 && !emu::Dev(ws, (size_t)need)) {
		emu::SetDetail("cuDNN: workspace is not device memory");
		return CUDNN_STATUS_BAD_PARAM;
	}
	return 0;
}

int Perf(int req, int* got, cudnnConvAlgoPerf* perf, int nalgo, long long (*ws)(const Shape&, int), const Shape& s) {
	if (req < 1 || !got || !perf) return CUDNN_STATUS_BAD_PARAM;
	std::vector<cudnnConvAlgoPerf> v;
	for (int pass = 0; pass < 2; pass++)
		for (int a = 0; a < nalgo; a++) {
			long long w = ws(s, a);
			if ((pass == 0) != (w >= 0)) continue;
			cudnnConvAlgoPerf p;
			memset(&p, 0, sizeof p);
			p.algo = a;
			p.status = w >= 0 ? 0 : CUDNN_STATUS_NOT_SUPPORTED;
			p.time = w >= 0 ? 1.0f + a : -1.0f;
			p.memory = w >= 0 ? (size_t)w : 0;
			p.determinism = 1;
			p.mathType = s.cv->math;
			v.push_back(p);
		}
	int n = (int)v.size() < req ? (int)v.size() : req;
	for (int i = 0; i < n; i++) perf[i] = v[i];
	*got = n;
	return 0;
}

// AlgoPerf and WsSize are the algorithm list and the workspace size of the
// convolution on x, w and y for the three directions, whose workspace per
// algorithm wsFn gives (nalgo algorithms).
int AlgoPerf(cudnnHandle_t h, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
             cudnnTensorDescriptor_t y, int req, int* got, cudnnConvAlgoPerf* perf, int nalgo,
             long long (*wsFn)(const Shape&, int)) {
	if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
	Shape s;
	if (int e = MakeShape((Conv*)c, (Tensor*)x, (Filter*)w, (Tensor*)y, &s)) return e;
	return Perf(req, got, perf, nalgo, wsFn, s);
}
int WsSize(cudnnHandle_t h, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
           cudnnTensorDescriptor_t y, int algo, size_t* n, long long (*wsFn)(const Shape&, int)) {
	if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
	if (!n) return CUDNN_STATUS_BAD_PARAM;
	Shape s;
	if (int e = MakeShape((Conv*)c, (Tensor*)x, (Filter*)w, (Tensor*)y, &s)) return e;
	long long ws = wsFn(s, algo);
	if (ws < 0) return CUDNN_STATUS_NOT_SUPPORTED;
	*n = (size_t)ws;
	return 0;
}

// RunConv is what the three convolutions share: it checks the handle, the
// pointers, the shape, the workspace (wsFn's size for algo) and the tensors
// x, w and y, then enqueues the work on the handle's stream as one task, in
// order with the stream's kernels and copies. The task poisons the
// workspace and computes the output (out: 0 for x, backward data; 1 for w,
// backward filter; 2 for y, forward) from the other two, blending it into
// the output with alpha and beta, in parts spread over threads (ParallelFor).
int RunConv(cudnnHandle_t hh, const void* alpha, const void* beta, cudnnConvolutionDescriptor_t cd,
            cudnnTensorDescriptor_t xd, cudnnFilterDescriptor_t wd, cudnnTensorDescriptor_t yd,
            long long (*wsFn)(const Shape&, int), int algo, void* ws, size_t wsn, const void* x, const void* w,
            const void* y, int out) {
	Handle* h = (Handle*)hh;
	if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
	if (!alpha || !beta || !x || !w || !y) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
	Shape s;
	if (int e = MakeShape((Conv*)cd, (Tensor*)xd, (Filter*)wd, (Tensor*)yd, &s)) return e;
	long long need = wsFn(s, algo);
	if (int e = CheckWs(need, ws, wsn)) return e;
	size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * (s.C / s.G) * s.KH * s.KW,
	       ny = (size_t)s.N * s.K * s.OH * s.OW;
	if (int e = CheckPtrs({{x, nx * 4}, {w, nw * 4}, {y, ny * 4}})) return e;
	float al = *(const float*)alpha, be = *(const float*)beta;
	Dims d(s);  // the descriptor's settings now: the caller may change it once this returns
	float *X = (float*)x, *Wt = (float*)w, *Y = (float*)y;
	int r = emu::Enqueue(h->stream, [=] {
		if (need > 0) memset(ws, 0xFF, (size_t)need);
		double macs = (double)ny * d.Cg * d.KH * d.KW;
		size_t units = out == 2   ? (size_t)d.N * d.K
		               : out == 0 ? (size_t)d.N * d.C
		                          : (size_t)(d.K / d.Kg) * FilterBlocks(d) * d.Cg;
		emu::ParallelFor(units, macs, [&](size_t u) {
			static thread_local std::vector<double> acc;
			if (out == 2) FwdPart(d, X, Wt, Y, al, be, u, acc);
			else if (out == 0) BwdDataPart(d, Y, Wt, X, al, be, u, acc);
			else BwdFilterPart(d, X, Y, Wt, al, be, u, acc);
		});
		return 0;
	});
	return r ? CUDNN_STATUS_EXECUTION_FAILED : 0;
}

}  // namespace

// ---------------------------------------------------------------- threads

namespace emu {
namespace {

// The library pool: helper threads of ParallelFor, separate from the
// kernel pool of emu_driver.cc (a library call runs in its stream's task,
// as a kernel's blocks do, and must not wait behind them). Never destroyed,
// as the kernel pool is not: a process that exits through libc's exit runs
// static destructors while helpers still wait on the condition variable.
struct PJob {
	const std::function<void(size_t)>* f;
	size_t n;
	std::atomic<size_t> next{0}, done{0};
	std::mutex mu;
	std::condition_variable cv;
};
std::mutex& g_lib_mu = *new std::mutex;
std::condition_variable& g_lib_cv = *new std::condition_variable;
std::deque<std::shared_ptr<PJob>>& g_lib_jobs = *new std::deque<std::shared_ptr<PJob>>;
unsigned g_lib_helpers = 0;
std::once_flag g_lib_once;

void Drain(PJob* j) {
	for (;;) {
		size_t i = j->next.fetch_add(1);
		if (i >= j->n) return;
		(*j->f)(i);
		if (j->done.fetch_add(1) + 1 == j->n) {
			std::lock_guard<std::mutex> l(j->mu);
			j->cv.notify_all();
		}
	}
}

void Helper() {
	for (;;) {
		std::shared_ptr<PJob> j;
		{
			std::unique_lock<std::mutex> l(g_lib_mu);
			g_lib_cv.wait(l, [] { return !g_lib_jobs.empty(); });
			j = g_lib_jobs.front();
			if (j->next.load() >= j->n) {
				g_lib_jobs.pop_front();
				continue;
			}
		}
		Drain(j.get());
	}
}

// Below this many multiply-adds a call runs on the calling thread alone:
// waking helpers costs more than they save.
const double kParallelWork = 1 << 18;

}  // namespace

void ParallelFor(size_t n, double work, const std::function<void(size_t)>& f) {
	std::call_once(g_lib_once, [] {
		unsigned hc = std::thread::hardware_concurrency();
		for (unsigned i = 1; i < hc; i++) {
			std::thread(Helper).detach();
			g_lib_helpers++;
		}
	});
	if (n <= 1 || g_lib_helpers == 0 || work < kParallelWork) {
		for (size_t i = 0; i < n; i++) f(i);
		return;
	}
	auto jp = std::make_shared<PJob>();
	jp->f = &f;
	jp->n = n;
	{
		std::lock_guard<std::mutex> l(g_lib_mu);
		g_lib_jobs.push_back(jp);
	}
	g_lib_cv.notify_all();
	Drain(jp.get());
	{
		std::unique_lock<std::mutex> l(jp->mu);
		jp->cv.wait(l, [&] { return jp->done.load() >= n; });
	}
	std::lock_guard<std::mutex> l(g_lib_mu);
	auto it = std::find(g_lib_jobs.begin(), g_lib_jobs.end(), jp);
	if (it != g_lib_jobs.end()) g_lib_jobs.erase(it);
}

}  // namespace emu

extern "C" {

size_t emu_cudnnGetVersion(void) { return 90000; }  // the cuDNN 9 API the emulator follows

const char* emu_cudnnGetErrorString(int s) {
	switch (s) {
	case 0: return "CUDNN_STATUS_SUCCESS";
	case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
	case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
	case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
	case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
	case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
	}
	return "CUDNN_STATUS_UNKNOWN";
}

int emu_cudnnCreate(cudnnHandle_t* h) {
	if (!h) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
	*h = new Handle();
	return 0;
}
int emu_cudnnDestroy(cudnnHandle_t h) {
	if (!h) return CUDNN_STATUS_BAD_PARAM;
	delete (Handle*)h;
	return 0;
}
int emu_cudnnSetStream(cudnnHandle_t h, CUstream s) {
	if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
	((Handle*)h)->stream = s;
	return 0;
}

int emu_cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
	if (!d) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
	*d = new Tensor();
	return 0;
}
int emu_cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, int format, int dtype, int n, int c, int h, int w) {
	if (!d) return CUDNN_STATUS_BAD_PARAM;
	if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || format < 0 || format > 2 || dtype < 0) return CUDNN_STATUS_BAD_PARAM;
	if (format != 0 || dtype != 0) return CUDNN_STATUS_NOT_SUPPORTED;  // NCHW float only
	*(Tensor*)d = Tensor{true, n, c, h, w};
	return 0;
}
int emu_cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
	delete (Tensor*)d;
	return 0;
}
int emu_cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) {
	if (!d) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
	*d = new Filter();
	return 0;
}
int emu_cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, int dtype, int format, int k, int c, int h, int w) {
	if (!d) return CUDNN_STATUS_BAD_PARAM;
	if (k <= 0 || c <= 0 || h <= 0 || w <= 0 || format < 0 || format > 2 || dtype < 0) return CUDNN_STATUS_BAD_PARAM;
	if (format != 0 || dtype != 0) return CUDNN_STATUS_NOT_SUPPORTED;
	*(Filter*)d = Filter{true, k, c, h, w};
	return 0;
}
int emu_cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) {
	delete (Filter*)d;
	return 0;
}
int emu_cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
	if (!d) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
	*d = new Conv();
	return 0;
}
int emu_cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int sh, int sw, int dh, int dw,
                                        int mode, int dtype) {
	if (!d) return CUDNN_STATUS_BAD_PARAM;
	if (ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || mode < 0 || mode > 1) return CUDNN_STATUS_BAD_PARAM;
	if (dtype != 0) return CUDNN_STATUS_NOT_SUPPORTED;
	Conv* c = (Conv*)d;
	int g = c->groups, m = c->math;
	*c = Conv{true, ph, pw, sh, sw, dh, dw, mode, g, m};
	return 0;
}
int emu_cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int g) {
	if (!d || g < 1) return CUDNN_STATUS_BAD_PARAM;
	((Conv*)d)->groups = g;
	return 0;
}
int emu_cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, int m) {
	if (!d || m < 0 || m > 3) return CUDNN_STATUS_BAD_PARAM;
	((Conv*)d)->math = m;
	return 0;
}
int emu_cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
	delete (Conv*)d;
	return 0;
}

int emu_cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x,
                                              cudnnFilterDescriptor_t w, int* n, int* k, int* h, int* wd) {
	if (!n || !k || !h || !wd) return CUDNN_STATUS_BAD_PARAM;
	return OutDim((Conv*)c, (Tensor*)x, (Filter*)w, n, k, h, wd);
}

int emu_cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                               cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int req,
                                               int* got, cudnnConvAlgoPerf* perf) {
	return AlgoPerf(h, c, x, w, y, req, got, perf, 8, FwdWs);
}

int emu_cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                                cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int algo,
                                                size_t* n) {
	return WsSize(h, c, x, w, y, algo, n, FwdWs);
}

int emu_cudnnConvolutionForward(cudnnHandle_t hh, const void* alpha, cudnnTensorDescriptor_t xd, const void* x,
                                cudnnFilterDescriptor_t wd, const void* w, cudnnConvolutionDescriptor_t cd, int algo,
                                void* ws, size_t wsn, const void* beta, cudnnTensorDescriptor_t yd, void* y) {
	return RunConv(hh, alpha, beta, cd, xd, wd, yd, FwdWs, algo, ws, wsn, x, w, y, 2);
}

int emu_cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                    cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                    cudnnTensorDescriptor_t dx, int req, int* got,
                                                    cudnnConvAlgoPerf* perf) {
	return AlgoPerf(h, c, dx, w, dy, req, got, perf, 6, BwdDataWs);
}

int emu_cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                     cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                     cudnnTensorDescriptor_t dx, int algo, size_t* n) {
	return WsSize(h, c, dx, w, dy, algo, n, BwdDataWs);
}

int emu_cudnnConvolutionBackwardData(cudnnHandle_t hh, const void* alpha, cudnnFilterDescriptor_t wd, const void* w,
                                     cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd,
                                     int algo, void* ws, size_t wsn, const void* beta, cudnnTensorDescriptor_t dxd,
                                     void* dx) {
	return RunConv(hh, alpha, beta, cd, dxd, wd, dyd, BwdDataWs, algo, ws, wsn, dx, w, dy, 0);
}

int emu_cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                      cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                      cudnnFilterDescriptor_t dw, int req, int* got,
                                                      cudnnConvAlgoPerf* perf) {
	return AlgoPerf(h, c, x, dw, dy, req, got, perf, 7, BwdFilterWs);
}

int emu_cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                       cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                       cudnnFilterDescriptor_t dw, int algo, size_t* n) {
	return WsSize(h, c, x, dw, dy, algo, n, BwdFilterWs);
}

int emu_cudnnConvolutionBackwardFilter(cudnnHandle_t hh, const void* alpha, cudnnTensorDescriptor_t xd, const void* x,
                                       cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd,
                                       int algo, void* ws, size_t wsn, const void* beta, cudnnFilterDescriptor_t dwd,
                                       void* dw) {
	return RunConv(hh, alpha, beta, cd, xd, dwd, dyd, BwdFilterWs, algo, ws, wsn, x, dw, dy, 1);
}

}  // extern "C"
