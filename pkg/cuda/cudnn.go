package cuda

/*
#include "api.h"
NV_WRAP_ALL
#define P(p) ((void*)(uintptr_t)(p))
static int dnn_fwd(cudnnHandle_t h, float alpha, cudnnTensorDescriptor_t xd, CUdeviceptr x, cudnnFilterDescriptor_t wd,
                   CUdeviceptr w, cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws, size_t wsn, float beta,
                   cudnnTensorDescriptor_t yd, CUdeviceptr y) {
	return call_cudnnConvolutionForward(h, &alpha, xd, P(x), wd, P(w), cd, algo, P(ws), wsn, &beta, yd, P(y));
}
static int dnn_bwd_data(cudnnHandle_t h, float alpha, cudnnFilterDescriptor_t wd, CUdeviceptr w, cudnnTensorDescriptor_t dyd,
                        CUdeviceptr dy, cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws, size_t wsn, float beta,
                        cudnnTensorDescriptor_t dxd, CUdeviceptr dx) {
	return call_cudnnConvolutionBackwardData(h, &alpha, wd, P(w), dyd, P(dy), cd, algo, P(ws), wsn, &beta, dxd, P(dx));
}
static int dnn_bwd_filter(cudnnHandle_t h, float alpha, cudnnTensorDescriptor_t xd, CUdeviceptr x, cudnnTensorDescriptor_t dyd,
                          CUdeviceptr dy, cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws, size_t wsn, float beta,
                          cudnnFilterDescriptor_t dwd, CUdeviceptr dw) {
	return call_cudnnConvolutionBackwardFilter(h, &alpha, xd, P(x), dyd, P(dy), cd, algo, P(ws), wsn, &beta, dwd, P(dw));
}
*/
import "C"

import "fmt"

// DNN is a cuDNN handle.
type DNN struct{ h C.cudnnHandle_t }

// NewDNN creates a cuDNN handle.
func (c *Context) NewDNN() (*DNN, error) {
	var h C.cudnnHandle_t
	if err := newHandle(loadCudnn, checkCudnn, "cudnnCreate", func() C.int { return C.call_cudnnCreate(&h) }); err != nil {
		return nil, err
	}
	return &DNN{h: h}, nil
}

// DNNVersion is cuDNN's major.minor.patch.
func DNNVersion() (string, error) {
	if _, err := loadCudnn(); err != nil {
		return "", err
	}
	v := int(C.call_cudnnGetVersion())
	if v >= 90000 {
		return fmt.Sprintf("%d.%d.%d", v/10000, v%10000/100, v%100), nil
	}
	return fmt.Sprintf("%d.%d.%d", v/1000, v%1000/100, v%100), nil
}

// Destroy releases the handle.
func (d *DNN) Destroy() error { return checkCudnn("cudnnDestroy", C.call_cudnnDestroy(d.h)) }

// SetStream orders the handle's work on s.
func (d *DNN) SetStream(s *Stream) error {
	return checkCudnn("cudnnSetStream", C.call_cudnnSetStream(d.h, s.handle()))
}

// ConvShape is a 2-D convolution over NCHW float32 tensors with KCRS
// filters (the fields of pkg/conv.Params).
type ConvShape struct {
	N, C, H, W int
	K, KH, KW  int
	SH, SW     int
	PH, PW     int
	DH, DW     int
	Groups     int
}

// Conv holds the descriptors and chosen algorithms of one convolution shape.
type Conv struct {
	Shape                               ConvShape
	OH, OW                              int
	FwdAlgo, BwdDataAlgo, BwdFilterAlgo int
	FwdWs, BwdDataWs, BwdFilterWs       int // workspace bytes of the chosen algorithms
	d                                   *DNN
	x, y                                C.cudnnTensorDescriptor_t
	w                                   C.cudnnFilterDescriptor_t
	cd                                  C.cudnnConvolutionDescriptor_t
}

// NewConv describes a convolution (cross-correlation, as deep-learning
// convolutions are) and chooses, per direction, the fastest algorithm
// cuDNN reports whose workspace fits in maxWs bytes. tensorOps allows
// tensor-core math (TF32).
func (d *DNN) NewConv(s ConvShape, tensorOps bool, maxWs int) (*Conv, error) {
	g := s.Groups
	if g < 1 {
		g = 1
	}
	if s.C%g != 0 || s.K%g != 0 {
		return nil, fmt.Errorf("cudnn: C=%d and K=%d not divisible by groups %d", s.C, s.K, g)
	}
	cv := &Conv{Shape: s, d: d}
	if err := checkCudnn("cudnnCreateTensorDescriptor", C.call_cudnnCreateTensorDescriptor(&cv.x)); err != nil {
		return nil, err
	}
	if err := checkCudnn("cudnnCreateTensorDescriptor", C.call_cudnnCreateTensorDescriptor(&cv.y)); err != nil {
		return nil, err
	}
	if err := checkCudnn("cudnnCreateFilterDescriptor", C.call_cudnnCreateFilterDescriptor(&cv.w)); err != nil {
		return nil, err
	}
	if err := checkCudnn("cudnnCreateConvolutionDescriptor", C.call_cudnnCreateConvolutionDescriptor(&cv.cd)); err != nil {
		return nil, err
	}
	// CUDNN_TENSOR_NCHW = 0, CUDNN_DATA_FLOAT = 0, CUDNN_CROSS_CORRELATION = 1
	if err := checkCudnn("cudnnSetTensor4dDescriptor", C.call_cudnnSetTensor4dDescriptor(cv.x, 0, 0, C.int(s.N), C.int(s.C), C.int(s.H), C.int(s.W))); err != nil {
		return nil, err
	}
	if err := checkCudnn("cudnnSetFilter4dDescriptor", C.call_cudnnSetFilter4dDescriptor(cv.w, 0, 0, C.int(s.K), C.int(s.C/g), C.int(s.KH), C.int(s.KW))); err != nil {
		return nil, err
	}
	dh, dw := s.DH, s.DW
	if dh == 0 {
		dh = 1
	}
	if dw == 0 {
		dw = 1
	}
	if err := checkCudnn("cudnnSetConvolution2dDescriptor", C.call_cudnnSetConvolution2dDescriptor(cv.cd, C.int(s.PH), C.int(s.PW), C.int(s.SH), C.int(s.SW), C.int(dh), C.int(dw), 1, 0)); err != nil {
		return nil, err
	}
	if err := checkCudnn("cudnnSetConvolutionGroupCount", C.call_cudnnSetConvolutionGroupCount(cv.cd, C.int(g))); err != nil {
		return nil, err
	}
	math := C.int(3) // CUDNN_FMA_MATH: no tensor cores
	if tensorOps {
		math = 1 // CUDNN_TENSOR_OP_MATH
	}
	if err := checkCudnn("cudnnSetConvolutionMathType", C.call_cudnnSetConvolutionMathType(cv.cd, math)); err != nil {
		return nil, err
	}
	var n, k, oh, ow C.int
	if err := checkCudnn("cudnnGetConvolution2dForwardOutputDim", C.call_cudnnGetConvolution2dForwardOutputDim(cv.cd, cv.x, cv.w, &n, &k, &oh, &ow)); err != nil {
		return nil, err
	}
	cv.OH, cv.OW = int(oh), int(ow)
	if err := checkCudnn("cudnnSetTensor4dDescriptor", C.call_cudnnSetTensor4dDescriptor(cv.y, 0, 0, n, k, oh, ow)); err != nil {
		return nil, err
	}
	var perf [8]C.cudnnConvAlgoPerf
	var got C.int
	pick := func(call string, st C.int) (int, int, error) {
		if err := checkCudnn(call, st); err != nil {
			return 0, 0, err
		}
		for i := 0; i < int(got); i++ {
			if perf[i].status == 0 && int(perf[i].memory) <= maxWs {
				return int(perf[i].algo), int(perf[i].memory), nil
			}
		}
		return 0, 0, fmt.Errorf("%s: no algorithm fits a %d-byte workspace", call, maxWs)
	}
	var err error
	if cv.FwdAlgo, cv.FwdWs, err = pick("cudnnGetConvolutionForwardAlgorithm_v7",
		C.call_cudnnGetConvolutionForwardAlgorithm_v7(d.h, cv.x, cv.w, cv.cd, cv.y, 8, &got, &perf[0])); err != nil {
		return nil, err
	}
	if cv.BwdDataAlgo, cv.BwdDataWs, err = pick("cudnnGetConvolutionBackwardDataAlgorithm_v7",
		C.call_cudnnGetConvolutionBackwardDataAlgorithm_v7(d.h, cv.w, cv.y, cv.cd, cv.x, 8, &got, &perf[0])); err != nil {
		return nil, err
	}
	if cv.BwdFilterAlgo, cv.BwdFilterWs, err = pick("cudnnGetConvolutionBackwardFilterAlgorithm_v7",
		C.call_cudnnGetConvolutionBackwardFilterAlgorithm_v7(d.h, cv.x, cv.y, cv.cd, cv.w, 8, &got, &perf[0])); err != nil {
		return nil, err
	}
	return cv, nil
}

// Workspace is the largest workspace the chosen algorithms need.
func (cv *Conv) Workspace() int { return max(cv.FwdWs, cv.BwdDataWs, cv.BwdFilterWs) }

// WorkspaceSize asks cuDNN for the forward workspace of an algorithm.
func (cv *Conv) WorkspaceSize(fwdAlgo int) (int, error) {
	var n C.size_t
	err := checkCudnn("cudnnGetConvolutionForwardWorkspaceSize", C.call_cudnnGetConvolutionForwardWorkspaceSize(cv.d.h, cv.x, cv.w, cv.cd, cv.y, C.int(fwdAlgo), &n))
	return int(n), err
}

// Forward: y = alpha*conv(x, w) + beta*y with the chosen algorithm.
func (cv *Conv) Forward(alpha float32, x, w DevicePtr, beta float32, y, ws DevicePtr, wsBytes int) error {
	return cv.ForwardAlgo(cv.FwdAlgo, alpha, x, w, beta, y, ws, wsBytes)
}

// ForwardAlgo runs a given forward algorithm.
func (cv *Conv) ForwardAlgo(algo int, alpha float32, x, w DevicePtr, beta float32, y, ws DevicePtr, wsBytes int) error {
	return checkCudnn("cudnnConvolutionForward", C.dnn_fwd(cv.d.h, C.float(alpha), cv.x, C.CUdeviceptr(x), cv.w, C.CUdeviceptr(w),
		cv.cd, C.int(algo), C.CUdeviceptr(ws), C.size_t(wsBytes), C.float(beta), cv.y, C.CUdeviceptr(y)))
}

// BackwardData: dx = alpha*convᵀ(dy, w) + beta*dx.
func (cv *Conv) BackwardData(alpha float32, w, dy DevicePtr, beta float32, dx, ws DevicePtr, wsBytes int) error {
	return checkCudnn("cudnnConvolutionBackwardData", C.dnn_bwd_data(cv.d.h, C.float(alpha), cv.w, C.CUdeviceptr(w), cv.y, C.CUdeviceptr(dy),
		cv.cd, C.int(cv.BwdDataAlgo), C.CUdeviceptr(ws), C.size_t(wsBytes), C.float(beta), cv.x, C.CUdeviceptr(dx)))
}

// BackwardFilter: dw = alpha*(x ⋆ dy) + beta*dw.
func (cv *Conv) BackwardFilter(alpha float32, x, dy DevicePtr, beta float32, dw, ws DevicePtr, wsBytes int) error {
	return checkCudnn("cudnnConvolutionBackwardFilter", C.dnn_bwd_filter(cv.d.h, C.float(alpha), cv.x, C.CUdeviceptr(x), cv.y, C.CUdeviceptr(dy),
		cv.cd, C.int(cv.BwdFilterAlgo), C.CUdeviceptr(ws), C.size_t(wsBytes), C.float(beta), cv.w, C.CUdeviceptr(dw)))
}

// Destroy releases the descriptors.
func (cv *Conv) Destroy() {
	C.call_cudnnDestroyTensorDescriptor(cv.x)
	C.call_cudnnDestroyTensorDescriptor(cv.y)
	C.call_cudnnDestroyFilterDescriptor(cv.w)
	C.call_cudnnDestroyConvolutionDescriptor(cv.cd)
}
