// The function tables: filled from dlsym on the real libraries or from the
// emulator's functions.
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include "api.h"

nv_driver_t nv_driver;
CUcontext nv_cur_ctx;
nv_cublas_t nv_cublas;
nv_cudnn_t nv_cudnn;
nv_nccl_t nv_nccl;

// nv_sym resolves "a|b|c": the first of the alternatives present.
static void* nv_sym(void* h, const char* spec) {
	char buf[256];
	const char* p = spec;
	while (*p) {
		const char* bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n >= sizeof buf) return NULL;
		memcpy(buf, p, n);
		buf[n] = 0;
		void* f = dlsym(h, buf);
		if (f) return f;
		if (!bar) break;
		p = bar + 1;
	}
	return NULL;
}

#define NV_LOAD(r, n, s, p, a) \
	t->n = (r(*) p)nv_sym(h, s); \
	if (!t->n) { snprintf(missing, mn, "%s", s); return 1; }

int nv_load_driver(void* h, char* missing, int mn) { nv_driver_t* t = &nv_driver; NV_DRIVER_API(NV_LOAD) return 0; }
int nv_load_nvrtc(nv_nvrtc_t* t, void* h, char* missing, int mn) { NV_NVRTC_API(NV_LOAD) return 0; }
int nv_load_cublas(void* h, char* missing, int mn) { nv_cublas_t* t = &nv_cublas; NV_CUBLAS_API(NV_LOAD) return 0; }
int nv_load_cudnn(void* h, char* missing, int mn) { nv_cudnn_t* t = &nv_cudnn; NV_CUDNN_API(NV_LOAD) return 0; }
int nv_load_nccl(void* h, char* missing, int mn) { nv_nccl_t* t = &nv_nccl; NV_NCCL_API(NV_LOAD) return 0; }

#define NV_EMU_FILL(r, n, s, p, a) t->n = emu_##n;
void nv_emu_fill(void) {
	{ nv_driver_t* t = &nv_driver; NV_DRIVER_API(NV_EMU_FILL) }
	{ nv_cublas_t* t = &nv_cublas; NV_CUBLAS_API(NV_EMU_FILL) }
	{ nv_cudnn_t* t = &nv_cudnn; NV_CUDNN_API(NV_EMU_FILL) }
	{ nv_nccl_t* t = &nv_nccl; NV_NCCL_API(NV_EMU_FILL) }
}

void nv_emu_fill_nvrtc(nv_nvrtc_t* t) { NV_NVRTC_API(NV_EMU_FILL) }
