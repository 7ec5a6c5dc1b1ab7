// TEMPORARY stubs, replaced as each emulated library is written.
#include "emu.h"
extern "C" {
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
