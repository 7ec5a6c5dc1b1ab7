// The emulated NCCL: ranks are processes (or threads) on one machine that
// meet in a shared-memory file /dev/shm/nvae-nccl-<id> named by the unique
// id. Each rank has a staging slot; a collective copies its part in, waits
// at a barrier, computes from all slots in rank order (so every rank gets
// bit-identical results), and waits again. Work runs on the stream given,
// in order with the rest of the stream. Group calls defer the operations to
// ncclGroupEnd, as NCCL does.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "emu.h"

namespace {

enum {
	ncclSuccess = 0,
	ncclUnhandledCudaError = 1,
	ncclSystemError = 2,
	ncclInternalError = 3,
	ncclInvalidArgument = 4,
	ncclInvalidUsage = 5,
	ncclRemoteError = 6,
};
enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };

const size_t kSlot = 4 << 20;
const int kMaxRanks = 64;
const double kTimeoutS = 120;

struct Hdr {
	int inited;
	int nranks;
	unsigned bar_count;
	unsigned bar_gen;
	int failed;
};

struct Comm {
	int n, rank;
	char* base;
	size_t len;
	Hdr* h;
	char* Slot(int r) { return base + 4096 + (size_t)r * kSlot; }
};

double Now() {
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void Pause(int spins) {
	if (spins < 1000) return;
	timespec ts{0, spins < 10000 ? 1000 : 50000};
	nanosleep(&ts, nullptr);
}

int Barrier(Comm* c) {
	Hdr* h = c->h;
	unsigned g = __atomic_load_n(&h->bar_gen, __ATOMIC_ACQUIRE);
	if (__atomic_add_fetch(&h->bar_count, 1, __ATOMIC_ACQ_REL) == (unsigned)c->n) {
		__atomic_store_n(&h->bar_count, 0, __ATOMIC_RELAXED);
		__atomic_add_fetch(&h->bar_gen, 1, __ATOMIC_RELEASE);
		return 0;
	}
	double t0 = Now();
	for (int spins = 0; __atomic_load_n(&h->bar_gen, __ATOMIC_ACQUIRE) == g; spins++) {
		if (__atomic_load_n(&h->failed, __ATOMIC_RELAXED)) return ncclRemoteError;
		Pause(spins);
		if (spins % 1000 == 0 && Now() - t0 > kTimeoutS) {
			__atomic_store_n(&h->failed, 1, __ATOMIC_RELAXED);
			emu::SetDetail("NCCL (emulated): a peer did not reach the collective within 120 s");
			return ncclRemoteError;
		}
	}
	return 0;
}

size_t Size(int dt) {
	switch (dt) {
	case 0: case 1: return 1;
	case 2: case 3: case 7: return 4;
	case 4: case 5: case 8: return 8;
	}
	return 0;  // float16/bfloat16 are not emulated
}

template <class T>
void ReduceT(Comm* c, char* out, size_t count, int op) {
	T* o = (T*)out;
	for (size_t i = 0; i < count; i++) {
		T acc = ((T*)c->Slot(0))[i];
		for (int r = 1; r < c->n; r++) {
			T v = ((T*)c->Slot(r))[i];
			switch (op) {
			case ncclSum: case ncclAvg: acc = acc + v; break;
			case ncclProd: acc = acc * v; break;
			case ncclMax: acc = v > acc ? v : acc; break;
			case ncclMin: acc = v < acc ? v : acc; break;
			}
		}
		if (op == ncclAvg) acc = (T)(acc / (T)c->n);
		o[i] = acc;
	}
}

void Reduce(Comm* c, int dt, char* out, size_t count, int op) {
	switch (dt) {
	case 0: ReduceT<int8_t>(c, out, count, op); break;
	case 1: ReduceT<uint8_t>(c, out, count, op); break;
	case 2: ReduceT<int32_t>(c, out, count, op); break;
	case 3: ReduceT<uint32_t>(c, out, count, op); break;
	case 4: ReduceT<int64_t>(c, out, count, op); break;
	case 5: ReduceT<uint64_t>(c, out, count, op); break;
	case 7: ReduceT<float>(c, out, count, op); break;
	case 8: ReduceT<double>(c, out, count, op); break;
	}
}

thread_local int g_group = 0;
thread_local std::vector<std::pair<CUstream, emu::Task>>* g_pending = nullptr;

int Submit(CUstream s, emu::Task t) {
	if (g_group > 0) {
		if (!g_pending) g_pending = new std::vector<std::pair<CUstream, emu::Task>>();
		g_pending->push_back({s, std::move(t)});
		return 0;
	}
	return emu::Enqueue(s, std::move(t)) ? ncclUnhandledCudaError : 0;
}

// A failed collective is reported on its stream as a launch failure.
int Fail(int r) { return r ? 719 : 0; }

}  // namespace

extern "C" {

int emu_ncclGetVersion(int* v) {
	if (!v) return ncclInvalidArgument;
	*v = 21800;  // the NCCL 2.18 API the emulator follows
	return 0;
}

const char* emu_ncclGetErrorString(int r) {
	static const char* s[] = {"no error", "unhandled cuda error", "unhandled system error", "internal error",
	                          "invalid argument", "invalid usage", "remote process exited or there was a network error"};
	return r >= 0 && r <= 6 ? s[r] : "unknown result code";
}

int emu_ncclGetUniqueId(ncclUniqueId* id) {
	if (!id) return ncclInvalidArgument;
	memset(id, 0, sizeof *id);
	unsigned char rnd[16];
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
		if (fd >= 0) close(fd);
		return ncclSystemError;
	}
	close(fd);
	memcpy(id->internal, "NVAEEMU", 7);
	for (int i = 0; i < 16; i++) snprintf(id->internal + 8 + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

int emu_ncclCommInitRank(ncclComm_t* comm, int n, ncclUniqueId id, int rank) {
	if (!comm || n < 1 || n > kMaxRanks || rank < 0 || rank >= n) return ncclInvalidArgument;
	if (memcmp(id.internal, "NVAEEMU", 7) != 0) return ncclInvalidArgument;
	std::string name = "/dev/shm/nvae-nccl-" + std::string(id.internal + 8, 32);
	int fd = open(name.c_str(), O_RDWR | O_CREAT, 0600);
	if (fd < 0) return ncclSystemError;
	size_t len = 4096 + (size_t)n * kSlot;
	if (ftruncate(fd, (off_t)len) != 0) {
		close(fd);
		return ncclSystemError;
	}
	char* base = (char*)mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) return ncclSystemError;
	Comm* c = new Comm{n, rank, base, len, (Hdr*)base};
	int prev = __atomic_fetch_add(&c->h->inited, 1, __ATOMIC_ACQ_REL);
	if (prev == 0) __atomic_store_n(&c->h->nranks, n, __ATOMIC_RELEASE);
	double t0 = Now();
	for (int spins = 0; __atomic_load_n(&c->h->inited, __ATOMIC_ACQUIRE) < n; spins++) {
		Pause(spins);
		if (spins % 1000 == 0 && Now() - t0 > kTimeoutS) {
			emu::SetDetail("ncclCommInitRank (emulated): not all ranks arrived within 120 s");
			munmap(base, len);
			delete c;
			return ncclSystemError;
		}
	}
	int nr = __atomic_load_n(&c->h->nranks, __ATOMIC_ACQUIRE);
	if (nr != n || __atomic_load_n(&c->h->inited, __ATOMIC_ACQUIRE) != n) {
		emu::SetDetail("ncclCommInitRank (emulated): ranks disagree on the number of ranks");
		munmap(base, len);
		delete c;
		return ncclInvalidUsage;
	}
	if (Barrier(c) != 0) return ncclRemoteError;
	if (rank == 0) unlink(name.c_str());  // everyone has it mapped
	*comm = c;
	return 0;
}

int emu_ncclCommDestroy(ncclComm_t comm) {
	if (!comm) return ncclInvalidArgument;
	Comm* c = (Comm*)comm;
	munmap(c->base, c->len);
	delete c;
	return 0;
}

int emu_ncclCommCount(ncclComm_t comm, int* n) {
	if (!comm || !n) return ncclInvalidArgument;
	*n = ((Comm*)comm)->n;
	return 0;
}

int emu_ncclCommUserRank(ncclComm_t comm, int* r) {
	if (!comm || !r) return ncclInvalidArgument;
	*r = ((Comm*)comm)->rank;
	return 0;
}

int emu_ncclAllReduce(const void* s, void* r, size_t count, int dt, int op, ncclComm_t comm, CUstream st) {
	if (!comm || op < 0 || op > 4) return ncclInvalidArgument;
	size_t es = Size(dt);
	if (!es) return ncclInvalidArgument;
	if (count == 0) return 0;
	if (!emu::Dev(s, count * es) || !emu::Dev(r, count * es)) return ncclInvalidArgument;
	Comm* c = (Comm*)comm;
	return Submit(st, [=] {
		size_t per = kSlot / es;
		for (size_t off = 0; off < count; off += per) {
			size_t m = count - off < per ? count - off : per;
			memcpy(c->Slot(c->rank), (const char*)s + off * es, m * es);
			if (int e = Barrier(c)) return Fail(e);
			Reduce(c, dt, (char*)r + off * es, m, op);
			if (int e = Barrier(c)) return Fail(e);
		}
		return 0;
	});
}

int emu_ncclBroadcast(const void* s, void* r, size_t count, int dt, int root, ncclComm_t comm, CUstream st) {
	if (!comm) return ncclInvalidArgument;
	Comm* c = (Comm*)comm;
	size_t es = Size(dt);
	if (!es || root < 0 || root >= c->n) return ncclInvalidArgument;
	if (count == 0) return 0;
	if ((c->rank == root && !emu::Dev(s, count * es)) || !emu::Dev(r, count * es)) return ncclInvalidArgument;
	return Submit(st, [=] {
		size_t per = kSlot / es;
		for (size_t off = 0; off < count; off += per) {
			size_t m = count - off < per ? count - off : per;
			if (c->rank == root) memcpy(c->Slot(root), (const char*)s + off * es, m * es);
			if (int e = Barrier(c)) return Fail(e);
			memcpy((char*)r + off * es, c->Slot(root), m * es);
			if (int e = Barrier(c)) return Fail(e);
		}
		return 0;
	});
}

int emu_ncclAllGather(const void* s, void* r, size_t count, int dt, ncclComm_t comm, CUstream st) {
	if (!comm) return ncclInvalidArgument;
	Comm* c = (Comm*)comm;
	size_t es = Size(dt);
	if (!es) return ncclInvalidArgument;
	if (count == 0) return 0;
	if (!emu::Dev(s, count * es) || !emu::Dev(r, count * es * c->n)) return ncclInvalidArgument;
	return Submit(st, [=] {
		size_t per = kSlot / es;
		for (size_t off = 0; off < count; off += per) {
			size_t m = count - off < per ? count - off : per;
			memcpy(c->Slot(c->rank), (const char*)s + off * es, m * es);
			if (int e = Barrier(c)) return Fail(e);
			for (int q = 0; q < c->n; q++) memcpy((char*)r + ((size_t)q * count + off) * es, c->Slot(q), m * es);
			if (int e = Barrier(c)) return Fail(e);
		}
		return 0;
	});
}

int emu_ncclGroupStart(void) {
	g_group++;
	return 0;
}

int emu_ncclGroupEnd(void) {
	if (g_group <= 0) return ncclInvalidUsage;
	if (--g_group > 0 || !g_pending) return 0;
	auto ops = std::move(*g_pending);
	g_pending->clear();
	for (auto& o : ops)
		if (emu::Enqueue(o.first, std::move(o.second))) return ncclUnhandledCudaError;
	return 0;
}

}  // extern "C"
