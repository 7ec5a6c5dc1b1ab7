// Internal interfaces shared by the emulator's C++ files (not CUDA API).
#ifndef NVAE_CUDA_EMU_H
#define NVAE_CUDA_EMU_H

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

}  // namespace emu

#endif
