// Our own declarations of the CUDA driver, NVRTC, cuBLAS, cuDNN and NCCL
// calls the project uses (no CUDA headers at build time). Each library is a
// table of function pointers, filled either from dlsym on the real library
// or from the emulator's functions (emu_<name>), so the Go code calls the
// same table either way. The lists are X-macros: X(ret, field, "symbol", params, args);
// a symbol "a|b" tries a first, then b.
#ifndef NVAE_CUDA_API_H
#define NVAE_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned long long CUdeviceptr;
typedef int CUdevice;
typedef void* CUcontext;
typedef void* CUstream;
typedef void* CUevent;
typedef void* CUmodule;
typedef void* CUfunction;
typedef void* CUgraph;
typedef void* CUgraphExec;
typedef void* nvrtcProgram;
typedef void* cublasHandle_t;
typedef void* cudnnHandle_t;
typedef void* cudnnTensorDescriptor_t;
typedef void* cudnnFilterDescriptor_t;
typedef void* cudnnConvolutionDescriptor_t;
typedef void* ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;

// cudnnConvolutionFwdAlgoPerf_t, ...BwdDataAlgoPerf_t and ...BwdFilterAlgoPerf_t
// share this layout.
typedef struct {
	int algo;
	int status;
	float time;
	size_t memory;
	int determinism;
	int mathType;
	int reserved[3];
} cudnnConvAlgoPerf;

#define NV_DRIVER_API(X) \
	X(int, cuInit, "cuInit", (unsigned int flags), (flags)) \
	X(int, cuDriverGetVersion, "cuDriverGetVersion", (int* v), (v)) \
	X(int, cuGetErrorName, "cuGetErrorName", (int e, const char** s), (e, s)) \
	X(int, cuDeviceGetCount, "cuDeviceGetCount", (int* n), (n)) \
	X(int, cuDeviceGet, "cuDeviceGet", (CUdevice* d, int ordinal), (d, ordinal)) \
	X(int, cuDeviceGetName, "cuDeviceGetName", (char* name, int len, CUdevice d), (name, len, d)) \
	X(int, cuDeviceTotalMem, "cuDeviceTotalMem_v2", (size_t* bytes, CUdevice d), (bytes, d)) \
	X(int, cuDeviceGetAttribute, "cuDeviceGetAttribute", (int* v, int attr, CUdevice d), (v, attr, d)) \
	X(int, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext* c, CUdevice d), (c, d)) \
	X(int, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2|cuDevicePrimaryCtxRelease", (CUdevice d), (d)) \
	X(int, cuCtxSetCurrent, "cuCtxSetCurrent", (CUcontext c), (c)) \
	X(int, cuCtxSynchronize, "cuCtxSynchronize", (void), ()) \
	X(int, cuMemGetInfo, "cuMemGetInfo_v2", (size_t* free_, size_t* total), (free_, total)) \
	X(int, cuMemAlloc, "cuMemAlloc_v2", (CUdeviceptr* p, size_t n), (p, n)) \
	X(int, cuMemFree, "cuMemFree_v2", (CUdeviceptr p), (p)) \
	X(int, cuMemHostAlloc, "cuMemHostAlloc", (void** p, size_t n, unsigned int flags), (p, n, flags)) \
	X(int, cuMemFreeHost, "cuMemFreeHost", (void* p), (p)) \
	X(int, cuMemsetD8, "cuMemsetD8_v2", (CUdeviceptr p, unsigned char v, size_t n), (p, v, n)) \
	X(int, cuMemsetD32, "cuMemsetD32_v2", (CUdeviceptr p, unsigned int v, size_t n), (p, v, n)) \
	X(int, cuMemsetD8Async, "cuMemsetD8Async", (CUdeviceptr p, unsigned char v, size_t n, CUstream s), (p, v, n, s)) \
	X(int, cuMemsetD32Async, "cuMemsetD32Async", (CUdeviceptr p, unsigned int v, size_t n, CUstream s), (p, v, n, s)) \
	X(int, cuMemcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr dst, const void* src, size_t n), (dst, src, n)) \
	X(int, cuMemcpyDtoH, "cuMemcpyDtoH_v2", (void* dst, CUdeviceptr src, size_t n), (dst, src, n)) \
	X(int, cuMemcpyDtoD, "cuMemcpyDtoD_v2", (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n)) \
	X(int, cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", (CUdeviceptr dst, const void* src, size_t n, CUstream s), (dst, src, n, s)) \
	X(int, cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", (void* dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s)) \
	X(int, cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s)) \
	X(int, cuStreamCreate, "cuStreamCreate", (CUstream* s, unsigned int flags), (s, flags)) \
	X(int, cuStreamDestroy, "cuStreamDestroy_v2", (CUstream s), (s)) \
	X(int, cuStreamSynchronize, "cuStreamSynchronize", (CUstream s), (s)) \
	X(int, cuStreamQuery, "cuStreamQuery", (CUstream s), (s)) \
	X(int, cuStreamWaitEvent, "cuStreamWaitEvent", (CUstream s, CUevent e, unsigned int flags), (s, e, flags)) \
	X(int, cuEventCreate, "cuEventCreate", (CUevent* e, unsigned int flags), (e, flags)) \
	X(int, cuEventDestroy, "cuEventDestroy_v2", (CUevent e), (e)) \
	X(int, cuEventRecord, "cuEventRecord", (CUevent e, CUstream s), (e, s)) \
	X(int, cuEventSynchronize, "cuEventSynchronize", (CUevent e), (e)) \
	X(int, cuEventQuery, "cuEventQuery", (CUevent e), (e)) \
	X(int, cuEventElapsedTime, "cuEventElapsedTime_v2|cuEventElapsedTime", (float* ms, CUevent a, CUevent b), (ms, a, b)) \
	X(int, cuModuleLoadData, "cuModuleLoadData", (CUmodule* m, const void* image), (m, image)) \
	X(int, cuModuleUnload, "cuModuleUnload", (CUmodule m), (m)) \
	X(int, cuModuleGetFunction, "cuModuleGetFunction", (CUfunction* f, CUmodule m, const char* name), (f, m, name)) \
	X(int, cuFuncGetAttribute, "cuFuncGetAttribute", (int* v, int attr, CUfunction f), (v, attr, f)) \
	X(int, cuFuncSetAttribute, "cuFuncSetAttribute", (CUfunction f, int attr, int v), (f, attr, v)) \
	X(int, cuLaunchKernel, "cuLaunchKernel", (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned smem, CUstream s, void** params, void** extra), (f, gx, gy, gz, bx, by, bz, smem, s, params, extra)) \
	X(int, cuOccupancyMaxActiveBlocksPerMultiprocessor, "cuOccupancyMaxActiveBlocksPerMultiprocessor", (int* n, CUfunction f, int block, size_t smem), (n, f, block, smem)) \
	X(int, cuStreamBeginCapture, "cuStreamBeginCapture_v2", (CUstream s, int mode), (s, mode)) \
	X(int, cuStreamEndCapture, "cuStreamEndCapture", (CUstream s, CUgraph* g), (s, g)) \
	X(int, cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", (CUgraphExec* e, CUgraph g, unsigned long long flags), (e, g, flags)) \
	X(int, cuGraphLaunch, "cuGraphLaunch", (CUgraphExec e, CUstream s), (e, s)) \
	X(int, cuGraphExecDestroy, "cuGraphExecDestroy", (CUgraphExec e), (e)) \
	X(int, cuGraphDestroy, "cuGraphDestroy", (CUgraph g), (g))

#define NV_NVRTC_API(X) \
	X(int, nvrtcVersion, "nvrtcVersion", (int* major, int* minor), (major, minor)) \
	X(const char*, nvrtcGetErrorString, "nvrtcGetErrorString", (int r), (r)) \
	X(int, nvrtcCreateProgram, "nvrtcCreateProgram", (nvrtcProgram* p, const char* src, const char* name, int nh, const char* const* headers, const char* const* includeNames), (p, src, name, nh, headers, includeNames)) \
	X(int, nvrtcDestroyProgram, "nvrtcDestroyProgram", (nvrtcProgram* p), (p)) \
	X(int, nvrtcAddNameExpression, "nvrtcAddNameExpression", (nvrtcProgram p, const char* expr), (p, expr)) \
	X(int, nvrtcCompileProgram, "nvrtcCompileProgram", (nvrtcProgram p, int n, const char* const* opts), (p, n, opts)) \
	X(int, nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", (nvrtcProgram p, size_t* n), (p, n)) \
	X(int, nvrtcGetProgramLog, "nvrtcGetProgramLog", (nvrtcProgram p, char* log), (p, log)) \
	X(int, nvrtcGetPTXSize, "nvrtcGetPTXSize", (nvrtcProgram p, size_t* n), (p, n)) \
	X(int, nvrtcGetPTX, "nvrtcGetPTX", (nvrtcProgram p, char* ptx), (p, ptx)) \
	X(int, nvrtcGetLoweredName, "nvrtcGetLoweredName", (nvrtcProgram p, const char* expr, const char** lowered), (p, expr, lowered))

#define NV_CUBLAS_API(X) \
	X(int, cublasCreate, "cublasCreate_v2", (cublasHandle_t* h), (h)) \
	X(int, cublasDestroy, "cublasDestroy_v2", (cublasHandle_t h), (h)) \
	X(int, cublasGetProperty, "cublasGetProperty", (int type, int* v), (type, v)) \
	X(int, cublasSetStream, "cublasSetStream_v2", (cublasHandle_t h, CUstream s), (h, s)) \
	X(int, cublasSetMathMode, "cublasSetMathMode", (cublasHandle_t h, int mode), (h, mode)) \
	X(int, cublasSgemm, "cublasSgemm_v2", (cublasHandle_t h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc), (h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)) \
	X(int, cublasSgemmStridedBatched, "cublasSgemmStridedBatched", (cublasHandle_t h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, long long sA, const float* B, int ldb, long long sB, const float* beta, float* C, int ldc, long long sC, int batch), (h, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch))

#define NV_CUDNN_API(X) \
	X(size_t, cudnnGetVersion, "cudnnGetVersion", (void), ()) \
	X(const char*, cudnnGetErrorString, "cudnnGetErrorString", (int s), (s)) \
	X(int, cudnnCreate, "cudnnCreate", (cudnnHandle_t* h), (h)) \
	X(int, cudnnDestroy, "cudnnDestroy", (cudnnHandle_t h), (h)) \
	X(int, cudnnSetStream, "cudnnSetStream", (cudnnHandle_t h, CUstream s), (h, s)) \
	X(int, cudnnCreateTensorDescriptor, "cudnnCreateTensorDescriptor", (cudnnTensorDescriptor_t* d), (d)) \
	X(int, cudnnSetTensor4dDescriptor, "cudnnSetTensor4dDescriptor", (cudnnTensorDescriptor_t d, int format, int dtype, int n, int c, int h, int w), (d, format, dtype, n, c, h, w)) \
	X(int, cudnnDestroyTensorDescriptor, "cudnnDestroyTensorDescriptor", (cudnnTensorDescriptor_t d), (d)) \
	X(int, cudnnCreateFilterDescriptor, "cudnnCreateFilterDescriptor", (cudnnFilterDescriptor_t* d), (d)) \
	X(int, cudnnSetFilter4dDescriptor, "cudnnSetFilter4dDescriptor", (cudnnFilterDescriptor_t d, int dtype, int format, int k, int c, int h, int w), (d, dtype, format, k, c, h, w)) \
	X(int, cudnnDestroyFilterDescriptor, "cudnnDestroyFilterDescriptor", (cudnnFilterDescriptor_t d), (d)) \
	X(int, cudnnCreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor", (cudnnConvolutionDescriptor_t* d), (d)) \
	X(int, cudnnSetConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor", (cudnnConvolutionDescriptor_t d, int ph, int pw, int sh, int sw, int dh, int dw, int mode, int dtype), (d, ph, pw, sh, sw, dh, dw, mode, dtype)) \
	X(int, cudnnSetConvolutionGroupCount, "cudnnSetConvolutionGroupCount", (cudnnConvolutionDescriptor_t d, int g), (d, g)) \
	X(int, cudnnSetConvolutionMathType, "cudnnSetConvolutionMathType", (cudnnConvolutionDescriptor_t d, int m), (d, m)) \
	X(int, cudnnDestroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor", (cudnnConvolutionDescriptor_t d), (d)) \
	X(int, cudnnGetConvolution2dForwardOutputDim, "cudnnGetConvolution2dForwardOutputDim", (cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, int* n, int* k, int* h, int* wd), (c, x, w, n, k, h, wd)) \
	X(int, cudnnGetConvolutionForwardAlgorithm_v7, "cudnnGetConvolutionForwardAlgorithm_v7", (cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int req, int* got, cudnnConvAlgoPerf* perf), (h, x, w, c, y, req, got, perf)) \
	X(int, cudnnGetConvolutionForwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize", (cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int algo, size_t* n), (h, x, w, c, y, algo, n)) \
	X(int, cudnnConvolutionForward, "cudnnConvolutionForward", (cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t xd, const void* x, cudnnFilterDescriptor_t wd, const void* w, cudnnConvolutionDescriptor_t cd, int algo, void* ws, size_t wsn, const void* beta, cudnnTensorDescriptor_t yd, void* y), (h, alpha, xd, x, wd, w, cd, algo, ws, wsn, beta, yd, y)) \
	X(int, cudnnGetConvolutionBackwardDataAlgorithm_v7, "cudnnGetConvolutionBackwardDataAlgorithm_v7", (cudnnHandle_t h, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t dx, int req, int* got, cudnnConvAlgoPerf* perf), (h, w, dy, c, dx, req, got, perf)) \
	X(int, cudnnGetConvolutionBackwardDataWorkspaceSize, "cudnnGetConvolutionBackwardDataWorkspaceSize", (cudnnHandle_t h, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t dx, int algo, size_t* n), (h, w, dy, c, dx, algo, n)) \
	X(int, cudnnConvolutionBackwardData, "cudnnConvolutionBackwardData", (cudnnHandle_t h, const void* alpha, cudnnFilterDescriptor_t wd, const void* w, cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd, int algo, void* ws, size_t wsn, const void* beta, cudnnTensorDescriptor_t dxd, void* dx), (h, alpha, wd, w, dyd, dy, cd, algo, ws, wsn, beta, dxd, dx)) \
	X(int, cudnnGetConvolutionBackwardFilterAlgorithm_v7, "cudnnGetConvolutionBackwardFilterAlgorithm_v7", (cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw, int req, int* got, cudnnConvAlgoPerf* perf), (h, x, dy, c, dw, req, got, perf)) \
	X(int, cudnnGetConvolutionBackwardFilterWorkspaceSize, "cudnnGetConvolutionBackwardFilterWorkspaceSize", (cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw, int algo, size_t* n), (h, x, dy, c, dw, algo, n)) \
	X(int, cudnnConvolutionBackwardFilter, "cudnnConvolutionBackwardFilter", (cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t xd, const void* x, cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd, int algo, void* ws, size_t wsn, const void* beta, cudnnFilterDescriptor_t dwd, void* dw), (h, alpha, xd, x, dyd, dy, cd, algo, ws, wsn, beta, dwd, dw))

#define NV_NCCL_API(X) \
	X(int, ncclGetVersion, "ncclGetVersion", (int* v), (v)) \
	X(const char*, ncclGetErrorString, "ncclGetErrorString", (int r), (r)) \
	X(int, ncclGetUniqueId, "ncclGetUniqueId", (ncclUniqueId* id), (id)) \
	X(int, ncclCommInitRank, "ncclCommInitRank", (ncclComm_t* c, int n, ncclUniqueId id, int rank), (c, n, id, rank)) \
	X(int, ncclCommDestroy, "ncclCommDestroy", (ncclComm_t c), (c)) \
	X(int, ncclCommCount, "ncclCommCount", (ncclComm_t c, int* n), (c, n)) \
	X(int, ncclCommUserRank, "ncclCommUserRank", (ncclComm_t c, int* r), (c, r)) \
	X(int, ncclAllReduce, "ncclAllReduce", (const void* s, void* r, size_t n, int dtype, int op, ncclComm_t c, CUstream st), (s, r, n, dtype, op, c, st)) \
	X(int, ncclBroadcast, "ncclBroadcast", (const void* s, void* r, size_t n, int dtype, int root, ncclComm_t c, CUstream st), (s, r, n, dtype, root, c, st)) \
	X(int, ncclAllGather, "ncclAllGather", (const void* s, void* r, size_t n, int dtype, ncclComm_t c, CUstream st), (s, r, n, dtype, c, st)) \
	X(int, ncclGroupStart, "ncclGroupStart", (void), ()) \
	X(int, ncclGroupEnd, "ncclGroupEnd", (void), ())

#define NV_FIELD(r, n, s, p, a) r (*n) p;
typedef struct { NV_DRIVER_API(NV_FIELD) } nv_driver_t;
typedef struct { NV_NVRTC_API(NV_FIELD) } nv_nvrtc_t;
typedef struct { NV_CUBLAS_API(NV_FIELD) } nv_cublas_t;
typedef struct { NV_CUDNN_API(NV_FIELD) } nv_cudnn_t;
typedef struct { NV_NCCL_API(NV_FIELD) } nv_nccl_t;

extern nv_driver_t nv_driver;
extern nv_cublas_t nv_cublas;
extern nv_cudnn_t nv_cudnn;
extern nv_nccl_t nv_nccl;

// The emulator's implementations (emu_*.cc).
#define NV_EMU_DECL(r, n, s, p, a) r emu_##n p;
NV_DRIVER_API(NV_EMU_DECL)
NV_NVRTC_API(NV_EMU_DECL)
NV_CUBLAS_API(NV_EMU_DECL)
NV_CUDNN_API(NV_EMU_DECL)
NV_NCCL_API(NV_EMU_DECL)

// Loading: from a dlopen handle (missing gets the first absent symbol) or
// from the emulator. Return 0 on success.
int nv_load_driver(void* h, char* missing, int n);
int nv_load_nvrtc(nv_nvrtc_t* t, void* h, char* missing, int n);
int nv_load_cublas(void* h, char* missing, int n);
int nv_load_cudnn(void* h, char* missing, int n);
int nv_load_nccl(void* h, char* missing, int n);
void nv_emu_fill(void);
void nv_emu_fill_nvrtc(nv_nvrtc_t* t);

// The context made current before every call (CUDA contexts are per OS
// thread; goroutines move between threads).
extern CUcontext nv_cur_ctx;

// Emulator configuration and diagnostics (not CUDA API).
void emu_configure(const char* kernel_header, const char* cxx, int debug, long long mem_bytes);
const char* emu_last_error_detail(void);

#ifdef __cplusplus
}
#endif

// Callers from Go: call_<field>(args) goes through the table.
#define NV_BIND() \
	do { \
		if (nv_cur_ctx) nv_driver.cuCtxSetCurrent(nv_cur_ctx); \
	} while (0)
#define NV_WRAP_DRIVER(r, n, s, p, a) static inline r call_##n p { NV_BIND(); return nv_driver.n a; }
#define NV_WRAP_CUBLAS(r, n, s, p, a) static inline r call_##n p { NV_BIND(); return nv_cublas.n a; }
#define NV_WRAP_CUDNN(r, n, s, p, a) static inline r call_##n p { NV_BIND(); return nv_cudnn.n a; }
#define NV_WRAP_NCCL(r, n, s, p, a) static inline r call_##n p { NV_BIND(); return nv_nccl.n a; }
// NVRTC tables are per instance: the real NVRTC can be loaded beside the
// emulated device (the compile check of every kernel).
#define NV_NVRTC_ARGS(...) (t, ##__VA_ARGS__)
#define NV_WRAP_NVRTC(r, n, s, p, a) static inline r call_##n(nv_nvrtc_t* t, NV_UNPAREN p) { return t->n a; }
#define NV_UNPAREN(...) __VA_ARGS__
#define NV_WRAP_ALL \
	NV_DRIVER_API(NV_WRAP_DRIVER) NV_NVRTC_API(NV_WRAP_NVRTC) NV_CUBLAS_API(NV_WRAP_CUBLAS) \
	NV_CUDNN_API(NV_WRAP_CUDNN) NV_NCCL_API(NV_WRAP_NCCL)

#endif
