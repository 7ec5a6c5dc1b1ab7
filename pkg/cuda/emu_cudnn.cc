// The emulated cuDNN (legacy convolution API, cuDNN 9 status codes):
// reference loops written from the cuDNN documentation. NCHW float
// tensors, KCRS filters, padding/stride/dilation/groups, convolution or
// cross-correlation mode; y = alpha*op + beta*y with y not read when
// beta == 0. Algorithms have documented workspace sizes; a call with too
// small a workspace fails as it does on a GPU, and the workspace is
// scribbled on so that a caller sharing it with live data sees the damage.
#include <cstring>
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

// The filter tap used at (r, t): flipped in convolution mode.
inline size_t Tap(const Shape& s, int k, int c, int r, int t) {
	if (s.cv->mode == 0) r = s.KH - 1 - r, t = s.KW - 1 - t;
	return (((size_t)k * (s.C / s.G) + c) * s.KH + r) * s.KW + t;
}

// Visit every (output position, filter tap) pair with its input position
// inside the image: f(xi, wi, yi).
template <class F>
void ForEach(const Shape& s, F f) {
	int Cg = s.C / s.G, Kg = s.K / s.G;
	for (int n = 0; n < s.N; n++)
		for (int k = 0; k < s.K; k++) {
			int g = k / Kg;
			for (int oh = 0; oh < s.OH; oh++)
				for (int ow = 0; ow < s.OW; ow++) {
					size_t yi = (((size_t)n * s.K + k) * s.OH + oh) * s.OW + ow;
					for (int c = 0; c < Cg; c++)
						for (int r = 0; r < s.KH; r++) {
							int ih = oh * s.cv->sh - s.cv->ph + r * s.cv->dh;
							if (ih < 0 || ih >= s.H) continue;
							for (int t = 0; t < s.KW; t++) {
								int iw = ow * s.cv->sw - s.cv->pw + t * s.cv->dw;
								if (iw < 0 || iw >= s.W) continue;
								size_t xi = (((size_t)n * s.C + g * Cg + c) * s.H + ih) * s.W + iw;
								f(xi, Tap(s, k, c, r, t), yi);
							}
						}
				}
		}
}

void Blend(float* out, const std::vector<double>& acc, float alpha, float beta) {
	for (size_t i = 0; i < acc.size(); i++)
		out[i] = beta == 0.0f ? (float)(alpha * acc[i]) : (float)(alpha * acc[i] + (double)beta * out[i]);
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
// x, w and y, then enqueues the reference loop on the handle's stream. The
// loop poisons the workspace, lets term(acc, xi, wi, yi) add the product of
// every (input, filter tap, output) triple into acc, a double accumulator
// shaped like the output (out: 0 for x, 1 for w, 2 for y), and blends acc
// into that output.
template <class Term>
int RunConv(cudnnHandle_t hh, const void* alpha, const void* beta, cudnnConvolutionDescriptor_t cd,
            cudnnTensorDescriptor_t xd, cudnnFilterDescriptor_t wd, cudnnTensorDescriptor_t yd,
            long long (*wsFn)(const Shape&, int), int algo, void* ws, size_t wsn, const void* x, const void* w,
            const void* y, int out, Term term) {
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
	Conv cv = *s.cv;
	float* o = (float*)(out == 0 ? x : out == 1 ? w : y);
	size_t no = out == 0 ? nx : out == 1 ? nw : ny;
	int r = emu::Enqueue(h->stream, [=] {
		Shape sh = s;
		sh.cv = &cv;
		if (need > 0) memset(ws, 0xFF, (size_t)need);
		std::vector<double> acc(no, 0.0);
		double* a = acc.data();
		ForEach(sh, [&](size_t xi, size_t wi, size_t yi) { term(a, xi, wi, yi); });
		Blend(o, acc, al, be);
		return 0;
	});
	return r ? CUDNN_STATUS_EXECUTION_FAILED : 0;
}

}  // namespace

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
	const float *X = (const float*)x, *Wt = (const float*)w;
	return RunConv(hh, alpha, beta, cd, xd, wd, yd, FwdWs, algo, ws, wsn, x, w, y, 2,
	               [=](double* acc, size_t xi, size_t wi, size_t yi) { acc[yi] += (double)X[xi] * Wt[wi]; });
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
	const float *DY = (const float*)dy, *Wt = (const float*)w;
	return RunConv(hh, alpha, beta, cd, dxd, wd, dyd, BwdDataWs, algo, ws, wsn, dx, w, dy, 0,
	               [=](double* acc, size_t xi, size_t wi, size_t yi) { acc[xi] += (double)DY[yi] * Wt[wi]; });
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
	const float *X = (const float*)x, *DY = (const float*)dy;
	return RunConv(hh, alpha, beta, cd, xd, dwd, dyd, BwdFilterWs, algo, ws, wsn, x, dw, dy, 1,
	               [=](double* acc, size_t xi, size_t wi, size_t yi) { acc[wi] += (double)X[xi] * DY[yi]; });
}

}  // extern "C"
