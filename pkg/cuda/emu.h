// Internal interfaces shared by the emulator's C++ files (not CUDA API).
#ifndef NVAE_CUDA_EMU_H
#define NVAE_CUDA_EMU_H

#include <cstring>
#include <functional>
#include <string>

#include "api.h"

namespace emu {

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_OUT_OF_MEMORY = 2,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_INVALID_DEVICE = 101,
	CUDA_ERROR_INVALID_IMAGE = 200,
	CUDA_ERROR_INVALID_CONTEXT = 201,
	CUDA_ERROR_INVALID_PTX = 218,
	CUDA_ERROR_INVALID_HANDLE = 400,
	CUDA_ERROR_ILLEGAL_STATE = 401,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_NOT_READY = 600,
	CUDA_ERROR_ILLEGAL_ADDRESS = 700,
	CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
	CUDA_ERROR_LAUNCH_FAILED = 719,
	CUDA_ERROR_NOT_SUPPORTED = 801,
	CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
	CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
	CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903,
	CUDA_ERROR_STREAM_CAPTURE_ISOLATION = 905,
	CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
	CUDA_ERROR_UNKNOWN = 999,
};

// A unit of stream work; nonzero is a CUDA error recorded on the stream.
typedef std::function<int()> Task;

// Enqueue runs t on stream s in order (or records it into the graph being
// captured on s). Returns a CUDA status.
int Enqueue(CUstream s, Task t);
// Translate a device pointer range to host memory for the emulator's own
// library code; nullptr if [p, p+n) is not inside one allocation.
void* Dev(const void* p, size_t n);
// Record a human-readable detail for the last error.
void SetDetail(const std::string& s);
// Settings from emu_configure.
const std::string& KernelHeader();
const std::string& Cxx();
bool Debug();
// ParallelFor calls f(i) once for every i in [0, n), on the calling thread
// and, when work (a rough count of multiply-adds in all the calls) is large
// enough to pay for the hand-off, on helper threads too. The calls must
// write disjoint memory; which thread runs which i is not fixed, so a
// result must not depend on it. Returns when every call has returned. For
// library work already running in a stream's task (its order on the stream
// is the task's).
void ParallelFor(size_t n, double work, const std::function<void(size_t)>& f);

// Axpy adds x[i]*w to a[i] for i < n in double, two elements to a vector
// (the -O2 build does not vectorise the plain loop). Each element gets one
// exact product (w holds a float), so the result is the plain loop's.
typedef double V2d __attribute__((vector_size(16)));
inline void Axpy(double* __restrict a, const float* __restrict x, double w, int n) {
	V2d wv = {w, w};
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		V2d a0, a1;
		memcpy(&a0, a + i, 16);
		memcpy(&a1, a + i + 2, 16);
		V2d x0 = {(double)x[i], (double)x[i + 1]}, x1 = {(double)x[i + 2], (double)x[i + 3]};
		a0 += x0 * wv;
		a1 += x1 * wv;
		memcpy(a + i, &a0, 16);
		memcpy(a + i + 2, &a1, 16);
	}
	for (; i < n; i++) a[i] += (double)x[i] * w;
}

}  // namespace emu

#endif
