// TEMPORARY stubs, replaced as each emulated library is written.
#include "emu.h"
extern "C" {
size_t emu_cudnnGetVersion(void) { return 0; }
const char* emu_cudnnGetErrorString(int s) { return "stub"; }
int emu_cudnnCreate(cudnnHandle_t* h) { return 3000; }
int emu_cudnnDestroy(cudnnHandle_t h) { return 3000; }
int emu_cudnnSetStream(cudnnHandle_t h, CUstream s) { return 3000; }
int emu_cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) { return 3000; }
int emu_cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, int format, int dtype, int n, int c, int h, int w) { return 3000; }
int emu_cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { return 3000; }
int emu_cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) { return 3000; }
int emu_cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, int dtype, int format, int k, int c, int h, int w) { return 3000; }
int emu_cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return 3000; }
int emu_cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) { return 3000; }
int emu_cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int sh, int sw, int dh, int dw, int mode, int dtype) { return 3000; }
int emu_cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int g) { return 3000; }
int emu_cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, int m) { return 3000; }
int emu_cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { return 3000; }
int emu_cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, int* n, int* k, int* h, int* wd) { return 3000; }
int emu_cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int req, int* got, cudnnConvAlgoPerf* perf) { return 3000; }
int emu_cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int algo, size_t* n) { return 3000; }
int emu_cudnnConvolutionForward(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t xd, const void* x, cudnnFilterDescriptor_t wd, const void* w, cudnnConvolutionDescriptor_t cd, int algo, void* ws, size_t wsn, const void* beta, cudnnTensorDescriptor_t yd, void* y) { return 3000; }
int emu_cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t dx, int req, int* got, cudnnConvAlgoPerf* perf) { return 3000; }
int emu_cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t dx, int algo, size_t* n) { return 3000; }
int emu_cudnnConvolutionBackwardData(cudnnHandle_t h, const void* alpha, cudnnFilterDescriptor_t wd, const void* w, cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd, int algo, void* ws, size_t wsn, const void* beta, cudnnTensorDescriptor_t dxd, void* dx) { return 3000; }
int emu_cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw, int req, int* got, cudnnConvAlgoPerf* perf) { return 3000; }
int emu_cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw, int algo, size_t* n) { return 3000; }
int emu_cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t xd, const void* x, cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd, int algo, void* ws, size_t wsn, const void* beta, cudnnFilterDescriptor_t dwd, void* dw) { return 3000; }
int emu_ncclGetVersion(int* v) { return 3000; }
const char* emu_ncclGetErrorString(int r) { return "stub"; }
int emu_ncclGetUniqueId(ncclUniqueId* id) { return 3000; }
int emu_ncclCommInitRank(ncclComm_t* c, int n, ncclUniqueId id, int rank) { return 3000; }
int emu_ncclCommDestroy(ncclComm_t c) { return 3000; }
int emu_ncclCommCount(ncclComm_t c, int* n) { return 3000; }
int emu_ncclCommUserRank(ncclComm_t c, int* r) { return 3000; }
int emu_ncclAllReduce(const void* s, void* r, size_t n, int dtype, int op, ncclComm_t c, CUstream st) { return 3000; }
int emu_ncclBroadcast(const void* s, void* r, size_t n, int dtype, int root, ncclComm_t c, CUstream st) { return 3000; }
int emu_ncclAllGather(const void* s, void* r, size_t n, int dtype, ncclComm_t c, CUstream st) { return 3000; }
int emu_ncclGroupStart(void) { return 3000; }
int emu_ncclGroupEnd(void) { return 3000; }
}
