// Element-wise kernels. Kept to the CUDA 11.8 language level (the NVRTC
// compile check runs CUDA 11.8's NVRTC) and to extern "C" entry points.

extern "C" __global__ void nvae_fill_f32(float* __restrict__ y, float v, long long n) {
	long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	long long stride = (long long)gridDim.x * blockDim.x;
	for (; i < n; i += stride) y[i] = v;
}

// y = a*x + y
extern "C" __global__ void nvae_axpy_f32(float* __restrict__ y, const float* __restrict__ x, float a, long long n) {
	long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	long long stride = (long long)gridDim.x * blockDim.x;
	for (; i < n; i += stride) y[i] = fmaf(a, x[i], y[i]);
}

// y = x * sigmoid(x) (Swish), the NVAE activation.
extern "C" __global__ void nvae_swish_f32(float* __restrict__ y, const float* __restrict__ x, long long n) {
	long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	long long stride = (long long)gridDim.x * blockDim.x;
	for (; i < n; i += stride) {
		float v = x[i];
		y[i] = v / (1.0f + __expf(-v));
	}
}
