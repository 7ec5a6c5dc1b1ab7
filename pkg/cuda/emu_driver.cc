// The emulated GPU: the CUDA driver API on the CPU. Device memory is mmap'ed
// per allocation with guard zones and a no-access page behind; streams are
// worker threads; kernels are shared objects built by the emulated NVRTC and
// run block by block on a thread pool, each CUDA thread a fiber so that
// __syncthreads and warp operations are real barriers.
#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "emu.h"

#define NVAE_EMU_CUDA_ABI_ONLY
#include "emu_cuda.h"

// Fibers: a hand-written switch of the callee-saved registers on amd64
// (docs/design.md: ~26 ns a switch, less without the FP control words);
// glibc's ucontext elsewhere or with
// -DNVAE_EMU_UCONTEXT (a system call per switch, about 3 µs).
#if !defined(__x86_64__) || defined(NVAE_EMU_UCONTEXT)
#define EMU_UCONTEXT 1
#include <ucontext.h>
#endif

namespace emu {

static std::string g_header, g_cxx = "c++";
static std::atomic<bool> g_debug{false};
static size_t g_total_mem = size_t(8) << 30;
static std::mutex g_detail_mu;
static std::string g_detail;

const std::string& KernelHeader() { return g_header; }
const std::string& Cxx() { return g_cxx; }
bool Debug() { return g_debug.load(); }
void SetDetail(const std::string& s) {
	std::lock_guard<std::mutex> l(g_detail_mu);
	g_detail = s;
}

static double NowMs() {
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------- memory

static const size_t kPage = 4096, kGuard = 4096;
static const unsigned char kGuardByte = 0xA5;

struct Alloc {
	char* base;     // the mapping
	size_t maplen;  // including the no-access page
	char* data;     // what the caller gets
	size_t size;
};

static std::mutex g_mem_mu;
static std::map<uintptr_t, Alloc> g_allocs;  // by data address
static size_t g_used;

static Alloc* FindLocked(uintptr_t p, size_t n) {
	auto it = g_allocs.upper_bound(p);
	if (it == g_allocs.begin()) return nullptr;
	--it;
	Alloc& a = it->second;
	uintptr_t d = (uintptr_t)a.data;
	if (p < d || p + n > d + a.size || p + n < p) return nullptr;
	return &a;
}

void* Dev(const void* p, size_t n) {
	std::lock_guard<std::mutex> l(g_mem_mu);
	if (n == 0) n = 1;
	return FindLocked((uintptr_t)p, n) ? (void*)p : nullptr;
}

// CheckGuards reports the first allocation whose guard zones were written.
static bool CheckGuards(std::string* what) {
	std::lock_guard<std::mutex> l(g_mem_mu);
	for (auto& kv : g_allocs) {
		Alloc& a = kv.second;
		for (char* q = a.base; q < a.data; q++)
			if ((unsigned char)*q != kGuardByte) {
				char buf[256];
				snprintf(buf, sizeof buf, "out-of-bounds write %zu bytes before allocation 0x%llx (size %zu)",
				         (size_t)(a.data - q), (unsigned long long)(uintptr_t)a.data, a.size);
				*what = buf;
				memset(a.base, kGuardByte, a.data - a.base);
				return false;
			}
		char* end = a.base + a.maplen - kPage;
		for (char* q = a.data + a.size; q < end; q++)
			if ((unsigned char)*q != kGuardByte) {
				char buf[256];
				snprintf(buf, sizeof buf, "out-of-bounds write at byte %zu of allocation 0x%llx (size %zu)",
				         (size_t)(q - a.data), (unsigned long long)(uintptr_t)a.data, a.size);
				*what = buf;
				memset(a.data + a.size, kGuardByte, end - (a.data + a.size));
				return false;
			}
	}
	return true;
}

// ---------------------------------------------------------------- streams

struct Stream;

// A graph being captured, or captured: its nodes in the order the host
// issued them, which is a valid order for the dependencies between the
// streams that joined the capture (through events).
struct Graph {
	std::vector<Task> nodes;
	Stream* origin = nullptr;
	std::vector<Stream*> members;
	bool invalid = false, ended = false;
};
static std::mutex g_cap_mu;  // guards Graph fields during capture

// Spin waits. A model run alternates small launches with synchronous
// copies, so the stream's thread and the host hand work back and forth
// every few microseconds; a sleep on a condition variable and the wake-up
// (a futex system call and a scheduler round trip, tens of microseconds on
// a virtual machine) cost more than the work. Both sides first poll for
// up to kSpin, yielding the processor now and then, and only then sleep:
// the same waits with the same conditions, only less latency.
static const std::chrono::microseconds kSpin(50);

template <class F>
static bool SpinUntil(F done) {
	auto until = std::chrono::steady_clock::now() + kSpin;
	for (int i = 1;; i++) {
		if (done()) return true;
#if defined(__x86_64__)
		__builtin_ia32_pause();
#endif
		if (i % 64 == 0) {
			if (std::chrono::steady_clock::now() > until) return false;
			std::this_thread::yield();
		}
	}
}

struct Stream {
	std::mutex mu;
	std::condition_variable cv, idle;
	std::deque<Task> q;
	bool busy = false, stop = false;
	int err = 0;
	Graph* cap = nullptr;
	bool blocking = true;  // created without CU_STREAM_NON_BLOCKING
	std::atomic<unsigned> work{0};  // tasks queued or running (changed under mu), for the spin waits
	std::thread th;

	Stream() { th = std::thread([this] { Loop(); }); }
	void Loop() {
		std::unique_lock<std::mutex> l(mu);
		for (;;) {
			if (q.empty() && !stop) {
				l.unlock();
				SpinUntil([this] { return work.load(std::memory_order_acquire) != 0; });
				l.lock();
			}
			cv.wait(l, [this] { return stop || !q.empty(); });
			if (q.empty() && stop) return;
			Task t = std::move(q.front());
			q.pop_front();
			busy = true;
			l.unlock();
			int e = t();
			l.lock();
			busy = false;
			if (e && !err) err = e;
			work.fetch_sub(1, std::memory_order_release);
			if (q.empty()) idle.notify_all();
		}
	}
	int Sync() {
		SpinUntil([this] { return work.load(std::memory_order_acquire) == 0; });
		std::unique_lock<std::mutex> l(mu);
		idle.wait(l, [this] { return q.empty() && !busy; });
		int e = err;
		err = 0;
		return e;
	}
};

static std::mutex g_streams_mu;
static std::vector<Stream*> g_streams;  // [0] is the NULL stream
static std::atomic<int> g_capturing{0};
static bool g_inited = false;

static Stream* S(CUstream s) { return s ? (Stream*)s : g_streams[0]; }

int Enqueue(CUstream s, Task t) {
	Stream* st = S(s);
	std::lock_guard<std::mutex> l(st->mu);
	if (st->cap) {
		std::lock_guard<std::mutex> l2(g_cap_mu);
		if (st->cap->invalid) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
		st->cap->nodes.push_back(std::move(t));
		return 0;
	}
	st->q.push_back(std::move(t));
	st->work.fetch_add(1, std::memory_order_release);
	st->cv.notify_one();
	return 0;
}

static int SyncAll() {
	std::vector<Stream*> ss;
	{
		std::lock_guard<std::mutex> l(g_streams_mu);
		ss = g_streams;
	}
	int first = 0;
	for (Stream* s : ss) {
		int e = s->Sync();
		if (e && !first) first = e;
	}
	return first;
}

// Synchronous copies and memsets are ordered on the legacy NULL stream,
// which waits for blocking streams but not for CU_STREAM_NON_BLOCKING ones:
// a missing stream synchronisation shows up here as on a GPU.
static int SyncLegacy() {
	std::vector<Stream*> ss;
	{
		std::lock_guard<std::mutex> l(g_streams_mu);
		for (Stream* s : g_streams)
			if (s->blocking) ss.push_back(s);
	}
	int first = 0;
	for (Stream* s : ss) {
		int e = s->Sync();
		if (e && !first) first = e;
	}
	return first;
}

// A synchronous call while a stream is being captured invalidates the
// capture, as on a GPU.
static int SyncCallAllowed() {
	if (g_capturing.load() == 0) return 0;
	std::lock_guard<std::mutex> l(g_streams_mu);
	for (Stream* s : g_streams) {
		std::lock_guard<std::mutex> l2(s->mu);
		std::lock_guard<std::mutex> l3(g_cap_mu);
		if (s->cap) s->cap->invalid = true;
	}
	return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

// ---------------------------------------------------------------- kernels

// The layout of the first part of a CUDA thread's state and of the runtime
// table, shared with the kernel header (emu_cuda.h).
using Dim3 = ::uint3;
using Ctx = ::__emu_ctx;
using RT = ::__emu_rt_t;

struct Module {
	void* h = nullptr;
	size_t tls = 0;  // static shared memory of the module (its TLS segment)
	int fd = -1;
	void (*tls_touch)() = nullptr;
};

struct Func {
	Module* m;
	std::string name;
	void (*entry)(void**);
	int nargs;
	size_t sizes[64];
	int max_dyn;
};

static const int kMaxThreads = 1024, kSmemDefault = 48 * 1024, kSmemOptin = 227 * 1024;

enum { F_RUN, F_WAIT_BLOCK, F_WAIT_WARP, F_DONE };

struct Fiber {
	Ctx ctx;  // first: the kernel reads it through self()
	void* sp;
#ifdef EMU_UCONTEXT
	ucontext_t uc;
#endif
	int state;
	unsigned long long xval, xres;
	int xpred, xmode, xarg, xwidth, xkind;
};

#ifndef EMU_UCONTEXT
// emu_swap(save, to): save the callee-saved registers and the stack pointer
// in *save and resume the context whose stack pointer is to. The MXCSR and
// x87 control words are not switched (saving and loading them was most of
// a switch's cost): CUDA code has no way to change the rounding mode or
// the denormal handling of the host, so every fiber of a worker runs with
// the worker thread's, as the runner it starts on inherits them.
extern "C" void emu_swap(void** save, void* to);
__asm__(
    ".text\n"
    ".globl emu_swap\n"
    ".type emu_swap,@function\n"
    ".hidden emu_swap\n"
    "emu_swap:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size emu_swap,.-emu_swap\n");
#endif

static const size_t kStack = 256 * 1024;

// A runner: the loop that starts a block's CUDA threads one after another
// by plain calls, on one fiber stack (see RunBlock).
struct Runner {
	bool captured;  // a thread it ran waits at a barrier: the stack is that thread's now
};

struct Worker {
	char* stacks = nullptr;  // kMaxThreads stacks
	Fiber fibers[kMaxThreads];
	void* sched_sp = nullptr;
#ifdef EMU_UCONTEXT
	ucontext_t sched_uc, runner_uc;
#endif
	Fiber* cur = nullptr;
	int n = 0;
	// the block being run
	Dim3 bi, block, grid;
	bool reverse = false;
	Runner* runner = nullptr;  // the runner running now, if any
	int next = 0;              // sweep position of the first thread not yet started
	int pos = 0;               // sweep position of the fiber running in a resume sweep
	int runners = 0;           // runners started in this block, each on its own stack
	int finished = 0;          // threads ended in the current sweep
	std::vector<char> dyn;
	const Func* f = nullptr;
	void** params = nullptr;
	bool deadlock = false;
	std::string trap;

	Worker() {
		stacks = (char*)mmap(nullptr, kStack * kMaxThreads, PROT_READ | PROT_WRITE,
		                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (stacks == MAP_FAILED) abort();
		// a no-access page under every stack: an overflow faults instead of
		// running into the next thread's stack
		for (int i = 0; i < kMaxThreads; i++) mprotect(stacks + (size_t)i * kStack, kPage, PROT_NONE);
		dyn.resize(kSmemOptin + 256);
	}
};

static thread_local Worker* tw;
static Worker* W() {
	if (!tw) tw = new Worker();
	return tw;
}

static void ToScheduler(Worker* w, Fiber* f) {
#ifdef EMU_UCONTEXT
	swapcontext(&f->uc, &w->sched_uc);
#else
	emu_swap(&f->sp, w->sched_sp);
#endif
}

static void ToFiber(Worker* w, Fiber* f) {
#ifdef EMU_UCONTEXT
	swapcontext(&w->sched_uc, &f->uc);
#else
	emu_swap(&w->sched_sp, f->sp);
#endif
}

// ToNext leaves fiber f (which has set its state) during a resume sweep:
// it switches straight to the next fiber of the sweep that can run, as the
// scheduler's loop would resume next, or back to the scheduler at the end
// of the sweep or on a trap. One switch per thread instead of two.
static void ToNext(Worker* w, Fiber* f) {
	if (f->state == F_DONE) w->finished++;
	if (w->trap.empty()) {
		const int n = w->n;
		for (int k = w->pos + 1; k < n; k++) {
			Fiber* g = &w->fibers[w->reverse ? n - 1 - k : k];
			if (g->state != F_RUN) continue;
			w->pos = k;
			w->cur = g;
#ifdef EMU_UCONTEXT
			swapcontext(&f->uc, &g->uc);
#else
			emu_swap(&f->sp, g->sp);
#endif
			return;
		}
	}
	ToScheduler(w, f);
}

// StackColour is how far below its stack's top runner r starts. Stacks
// are kStack apart, so their tops would all fall into the same cache sets
// and every fiber switch would miss the caches; staggered by a page (L2
// sets) and a cache line (L1 sets) per stack, the hot tops of up to 1024
// fibers use distinct sets. At most 64 KiB of each 256 KiB stack go.
static inline size_t StackColour(int r) { return (size_t)(r % 16) * 4096 + (size_t)(r / 16 % 64) * 64; }

// SetCtx gives thread i of the block its coordinates.
static inline void SetCtx(Worker* w, Fiber* f, int i) {
	const Dim3 bd = w->block;
	if (bd.y == 1 && bd.z == 1) f->ctx.threadIdx = {(unsigned)i, 0, 0};
	else f->ctx.threadIdx = {(unsigned)i % bd.x, (unsigned)i / bd.x % bd.y, (unsigned)i / bd.x / bd.y};
	f->ctx.blockIdx = w->bi;
	f->ctx.blockDim = bd;
	f->ctx.gridDim = w->grid;
}

// RunnerMain starts the block's threads not yet started, in sweep order,
// each by a plain call on this runner's stack, until a thread waits at a
// barrier or warp operation (Yield): that thread keeps this stack and
// frame, and the scheduler starts a new runner on a fresh stack for the
// rest. When the captured thread is resumed and returns, it comes back
// here, finds itself captured and ends as a fiber.
static void RunnerMain() {
	Worker* w = tw;
	Runner me{false};
	w->runner = &me;
	const int n = w->n;
	while (w->next < n) {
		int k = w->next++;
		int i = w->reverse ? n - 1 - k : k;
		Fiber* f = &w->fibers[i];
		SetCtx(w, f, i);
		f->state = F_RUN;
		w->cur = f;
		w->f->entry(w->params);
		f->state = F_DONE;
		if (me.captured) {
			ToNext(w, f);
			abort();  // never resumed
		}
		w->finished++;
	}
	w->runner = nullptr;
#ifdef EMU_UCONTEXT
	setcontext(&w->sched_uc);
#else
	void* dead;
	emu_swap(&dead, w->sched_sp);
#endif
	abort();  // never resumed
}

// StartRunner starts a runner on the block's next unused stack and returns
// when it has started every remaining thread or one of them yielded.
static void StartRunner(Worker* w) {
	int r = w->runners++;
	char* top = w->stacks + (size_t)(r + 1) * kStack - StackColour(r);
#ifdef EMU_UCONTEXT
	getcontext(&w->runner_uc);
	w->runner_uc.uc_stack.ss_sp = top - kStack + kPage;
	w->runner_uc.uc_stack.ss_size = kStack - kPage;
	w->runner_uc.uc_link = nullptr;
	makecontext(&w->runner_uc, RunnerMain, 0);
	swapcontext(&w->sched_uc, &w->runner_uc);
#else
	uintptr_t t = ((uintptr_t)top) & ~(uintptr_t)15;
	void** sp = (void**)t;
	*--sp = nullptr;              // fake return address of RunnerMain
	*--sp = (void*)&RunnerMain;   // where emu_swap's ret goes
	for (int i = 0; i < 6; i++) *--sp = nullptr;  // rbp rbx r12..r15
	emu_swap(&w->sched_sp, sp);
#endif
}

static void Yield(int state) {
	Worker* w = tw;
	Fiber* f = w->cur;
	f->state = state;
	if (w->runner) {  // first sweep: this thread keeps the runner's stack
		w->runner->captured = true;
		w->runner = nullptr;
		ToScheduler(w, f);
	} else ToNext(w, f);
}

static Ctx* RtSelf() { return &tw->cur->ctx; }
static void RtSync() { Yield(F_WAIT_BLOCK); }
static int RtSyncOp(int pred, int kind) {
	tw->cur->xpred = pred != 0;
	tw->cur->xkind = kind;
	Yield(F_WAIT_BLOCK);
	return (int)tw->cur->xres;
}
static void RtSyncWarp(unsigned) {
	tw->cur->xmode = -1;
	Yield(F_WAIT_WARP);
}
static unsigned long long RtShfl(unsigned long long v, int mode, int arg, int width) {
	Fiber* f = tw->cur;
	f->xval = v;
	f->xmode = mode;
	f->xarg = arg;
	f->xwidth = width;
	Yield(F_WAIT_WARP);
	return tw->cur->xres;
}
static unsigned RtVote(int pred, int kind) {
	Fiber* f = tw->cur;
	f->xpred = pred != 0;
	f->xmode = 10 + kind;
	Yield(F_WAIT_WARP);
	return (unsigned)tw->cur->xres;
}
static void* RtDyn() { return tw->dyn.data(); }
static void RtTrap(const char* msg) {
	Worker* w = tw;
	if (w->trap.empty()) w->trap = msg;
	Yield(F_DONE);
}

static RT g_rt = {RtSelf, RtSync, RtSyncOp, RtSyncWarp, RtShfl, RtVote, RtDyn, RtTrap};

// ResolveWarp releases warp w if every live lane waits at a warp operation.
static bool ResolveWarp(Worker* w, int warp) {
	int lo = warp * 32, hi = std::min(w->n, lo + 32);
	int waiting = 0;
	for (int i = lo; i < hi; i++) {
		int s = w->fibers[i].state;
		if (s == F_RUN || s == F_WAIT_BLOCK) return false;
		if (s == F_WAIT_WARP) waiting++;
	}
	if (!waiting) return false;
	unsigned ballot = 0;
	int all = 1, any = 0;
	for (int i = lo; i < hi; i++) {
		Fiber& f = w->fibers[i];
		if (f.state != F_WAIT_WARP) continue;
		if (f.xmode >= 10) {
			if (f.xpred) ballot |= 1u << (i - lo), any = 1;
			else all = 0;
		}
	}
	for (int i = lo; i < hi; i++) {
		Fiber& f = w->fibers[i];
		if (f.state != F_WAIT_WARP) continue;
		int lane = i - lo;
		int width = f.xwidth > 0 && f.xwidth <= 32 ? f.xwidth : 32;
		int seg = lane / width * width;
		int src = lane;
		switch (f.xmode) {
		case 0: src = seg + ((f.xarg % width) + width) % width; break;             // __shfl_sync
		case 1: src = lane - f.xarg >= seg ? lane - f.xarg : lane; break;           // up
		case 2: src = lane + f.xarg < seg + width ? lane + f.xarg : lane; break;    // down
		case 3: src = ((lane ^ f.xarg) < seg + width && (lane ^ f.xarg) >= seg) ? (lane ^ f.xarg) : lane; break;  // xor
		}
		if (f.xmode >= 0 && f.xmode <= 3) {
			int j = lo + src;
			f.xres = (j < hi && w->fibers[j].state == F_WAIT_WARP) ? w->fibers[j].xval : f.xval;
		} else if (f.xmode == 10) f.xres = ballot;
		else if (f.xmode == 11) f.xres = all;
		else if (f.xmode == 12) f.xres = any;
	}
	// Release only after every lane has read its source lane's value.
	for (int i = lo; i < hi; i++)
		if (w->fibers[i].state == F_WAIT_WARP) w->fibers[i].state = F_RUN;
	return true;
}

// RunBlock runs one block: every CUDA thread a fiber, in forward or reverse
// order between barriers. Returns 0 or a CUDA error.
//
// The first sweep does not set up a fiber per thread: runners (RunnerMain)
// call the threads one after another, and a thread becomes a fiber of its
// own only when it waits at a barrier or warp operation, keeping the
// runner's stack. The order is the one a fiber per thread gives (each
// thread runs until it ends or waits, then the next starts), so the
// schedule, the barrier semantics and debug mode's reverse order are
// unchanged; a kernel without barriers runs its block with one switch in
// and one out, on one hot stack.
static int RunBlock(Worker* w, const Func* fn, void** params, Dim3 grid, Dim3 block, unsigned long long b,
                    size_t dyn, bool reverse, std::string* why) {
	w->f = fn;
	w->params = params;
	if (!w->trap.empty()) w->trap.clear();
	int n = block.x * block.y * block.z;
	w->n = n;
	w->bi = {(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / grid.x / grid.y)};
	w->block = block;
	w->grid = grid;
	w->reverse = reverse;
	w->runner = nullptr;
	w->next = 0;
	w->runners = 0;
	w->finished = 0;
	if (g_debug) {
		memset(w->dyn.data(), 0xFF, dyn);
		if (fn->m->tls) {
			fn->m->tls_touch();
			void* p = nullptr;
			if (dlinfo(fn->m->h, RTLD_DI_TLS_DATA, &p) == 0 && p) memset(p, 0xFF, fn->m->tls);
		}
	}
	int alive = n;
	for (bool first = true;; first = false) {
		if (first) {
			while (w->next < n) {
				StartRunner(w);
				if (!w->trap.empty()) {
					*why = "trap: " + w->trap;
					return CUDA_ERROR_LAUNCH_FAILED;
				}
			}
			alive -= w->finished;
		} else {
			// Resume the fibers that can run, in sweep order: the first
			// here, each of the others from its predecessor (ToNext).
			w->finished = 0;
			for (int k = 0; k < n; k++) {
				Fiber& f = w->fibers[reverse ? n - 1 - k : k];
				if (f.state != F_RUN) continue;
				w->pos = k;
				w->cur = &f;
				ToFiber(w, &f);
				break;
			}
			alive -= w->finished;
			if (!w->trap.empty()) {
				*why = "trap: " + w->trap;
				return CUDA_ERROR_LAUNCH_FAILED;
			}
		}
		if (alive == 0) return 0;
		bool released = false;
		for (int warp = 0; warp * 32 < n; warp++) released |= ResolveWarp(w, warp);
		if (released) continue;
		int at_block = 0, count = 0, all = 1, any = 0;
		for (int i = 0; i < n; i++) {
			Fiber& f = w->fibers[i];
			if (f.state == F_WAIT_BLOCK) {
				at_block++;
				count += f.xpred;
				all &= f.xpred;
				any |= f.xpred;
			}
		}
		if (at_block != alive) {
			*why = "deadlock: threads wait at different barriers (__syncthreads in divergent code, or a warp operation some lanes never reach)";
			return CUDA_ERROR_LAUNCH_FAILED;
		}
		for (int i = 0; i < n; i++) {
			Fiber& f = w->fibers[i];
			if (f.state != F_WAIT_BLOCK) continue;
			f.xres = f.xkind == 0 ? count : f.xkind == 1 ? all : any;
			f.xpred = 0;
			f.xkind = 0;
			f.state = F_RUN;
		}
	}
}

// ---------------------------------------------------------------- pool

struct Job {
	const Func* fn;
	void** params;
	Dim3 grid, block;
	size_t dyn;
	unsigned long long nblocks;
	std::atomic<unsigned long long> next{0}, done{0};
	std::atomic<int> err{0};
	std::mutex mu;
	std::condition_variable cv;
	std::string why;
};

// Never destroyed: a process that exits through libc's exit (the race
// detector's does) runs static destructors while pool threads still wait
// on the condition variable, and pthread_cond_destroy would wait forever.
static std::mutex& g_pool_mu = *new std::mutex;
static std::condition_variable& g_pool_cv = *new std::condition_variable;
static std::deque<std::shared_ptr<Job>> g_jobs;
static std::vector<std::thread> g_pool;

static void Work(Job* j) {
	Worker* w = W();
	for (;;) {
		unsigned long long b = j->next.fetch_add(1);
		if (b >= j->nblocks) return;
		if (!j->err.load()) {
			std::string why;
			int e = RunBlock(w, j->fn, j->params, j->grid, j->block, b, j->dyn, false, &why);
			if (e) {
				std::lock_guard<std::mutex> l(j->mu);
				if (!j->err) {
					j->err = e;
					j->why = why;
				}
			}
		}
		if (j->done.fetch_add(1) + 1 == j->nblocks) {
			std::lock_guard<std::mutex> l(j->mu);
			j->cv.notify_all();
		}
	}
}

static void PoolLoop() {
	for (;;) {
		std::shared_ptr<Job> j;
		{
			std::unique_lock<std::mutex> l(g_pool_mu);
			g_pool_cv.wait(l, [] { return !g_jobs.empty(); });
			j = g_jobs.front();
			if (j->next.load() >= j->nblocks) {
				g_jobs.pop_front();
				continue;
			}
		}
		Work(j.get());
	}
}

// Grids of at most this many CUDA threads run on the stream's own thread,
// block after block: handing them to the pool (a wake-up, a hand-back and
// a wait) costs more than running them. Blocks of a grid have no order on a
// GPU, so running them in order is one of the schedules a GPU may choose.
static const unsigned long long kSerialThreads = 8192;

static int RunGrid(const Func* fn, void** params, Dim3 grid, Dim3 block, size_t dyn, bool reverse, bool serial,
                   std::string* why) {
	unsigned long long nb = (unsigned long long)grid.x * grid.y * grid.z;
	if (serial || nb == 1 || g_pool.empty() || nb * block.x * block.y * block.z <= kSerialThreads) {
		Worker* w = W();
		for (unsigned long long k = 0; k < nb; k++) {
			unsigned long long b = reverse ? nb - 1 - k : k;
			int e = RunBlock(w, fn, params, grid, block, b, dyn, reverse, why);
			if (e) return e;
		}
		return 0;
	}
	auto jp = std::make_shared<Job>();
	Job& j = *jp;
	j.fn = fn;
	j.params = params;
	j.grid = grid;
	j.block = block;
	j.dyn = dyn;
	j.nblocks = nb;
	{
		std::lock_guard<std::mutex> l(g_pool_mu);
		g_jobs.push_back(jp);
		g_pool_cv.notify_all();
	}
	Work(&j);
	{
		std::unique_lock<std::mutex> l(j.mu);
		j.cv.wait(l, [&] { return j.done.load() >= j.nblocks; });
	}
	{
		std::lock_guard<std::mutex> l(g_pool_mu);
		auto it = std::find(g_jobs.begin(), g_jobs.end(), jp);
		if (it != g_jobs.end()) g_jobs.erase(it);
	}
	std::lock_guard<std::mutex> l(j.mu);
	*why = j.why;
	return j.err.load();
}

// Snapshot of all device memory, for the debug-mode schedule comparison.
static std::vector<std::pair<Alloc, std::vector<char>>> Snapshot() {
	std::lock_guard<std::mutex> l(g_mem_mu);
	std::vector<std::pair<Alloc, std::vector<char>>> s;
	for (auto& kv : g_allocs) s.push_back({kv.second, std::vector<char>(kv.second.data, kv.second.data + kv.second.size)});
	return s;
}

static int Launch(const Func* fn, void** params, Dim3 grid, Dim3 block, size_t dyn) {
	std::string why;
	if (!g_debug) {
		int e = RunGrid(fn, params, grid, block, dyn, false, false, &why);
		if (e) SetDetail("kernel " + fn->name + ": " + why);
		return e;
	}
	// Debug: serial forward run, guard check, then the same launch with the
	// threads of each block (and the blocks) in reverse order from the same
	// starting memory; different results mean a data race.
	auto before = Snapshot();
	int e = RunGrid(fn, params, grid, block, dyn, false, true, &why);
	if (e) {
		SetDetail("kernel " + fn->name + ": " + why);
		return e;
	}
	if (!CheckGuards(&why)) {
		SetDetail("kernel " + fn->name + ": " + why);
		return CUDA_ERROR_ILLEGAL_ADDRESS;
	}
	auto fwd = Snapshot();
	for (auto& s : before) memcpy(s.first.data, s.second.data(), s.first.size);
	e = RunGrid(fn, params, grid, block, dyn, true, true, &why);
	std::string race;
	if (!e && CheckGuards(&why)) {
		for (size_t i = 0; i < fwd.size() && race.empty(); i++) {
			Alloc& a = fwd[i].first;
			const char* r = fwd[i].second.data();
			for (size_t k = 0; k < a.size; k++)
				if (a.data[k] != r[k]) {
					char buf[300];
					snprintf(buf, sizeof buf,
					         "results depend on the order of threads (a data race: missing __syncthreads?): "
					         "allocation 0x%llx byte %zu differs between forward and reverse thread order",
					         (unsigned long long)(uintptr_t)a.data, k);
					race = buf;
					break;
				}
		}
	}
	for (auto& s : fwd) memcpy(s.first.data, s.second.data(), s.first.size);
	if (!race.empty()) {
		SetDetail("kernel " + fn->name + ": " + race);
		return CUDA_ERROR_LAUNCH_FAILED;
	}
	return 0;
}

static void InitOnce() {
	if (g_inited) return;
	g_inited = true;
	g_streams.push_back(new Stream());
	unsigned n = std::thread::hardware_concurrency();
	if (n < 1) n = 1;
	for (unsigned i = 0; i + 1 < n; i++) {
		g_pool.emplace_back(PoolLoop);
		g_pool.back().detach();
	}
}

}  // namespace emu

using namespace emu;

// ---------------------------------------------------------------- C API

extern "C" {

void emu_configure(const char* header, const char* cxx, int debug, long long mem) {
	std::lock_guard<std::mutex> l(g_detail_mu);
	if (header) g_header = header;
	if (cxx && *cxx) g_cxx = cxx;
	g_debug = debug != 0;
	if (mem > 0) g_total_mem = (size_t)mem;
}

const char* emu_last_error_detail(void) {
	static thread_local std::string s;
	std::lock_guard<std::mutex> l(g_detail_mu);
	s = g_detail;
	g_detail.clear();
	return s.c_str();
}

static std::mutex g_init_mu;

int emu_cuInit(unsigned int flags) {
	if (flags) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_init_mu);
	InitOnce();
	return 0;
}

#define NEED_INIT \
	if (!g_inited) return CUDA_ERROR_NOT_INITIALIZED

int emu_cuDriverGetVersion(int* v) {
	if (!v) return CUDA_ERROR_INVALID_VALUE;
	*v = 11080;  // the API level the emulator follows
	return 0;
}

static const struct {
	int code;
	const char* name;
} kNames[] = {
    {0, "CUDA_SUCCESS"},
    {1, "CUDA_ERROR_INVALID_VALUE"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY"},
    {3, "CUDA_ERROR_NOT_INITIALIZED"},
    {101, "CUDA_ERROR_INVALID_DEVICE"},
    {200, "CUDA_ERROR_INVALID_IMAGE"},
    {201, "CUDA_ERROR_INVALID_CONTEXT"},
    {218, "CUDA_ERROR_INVALID_PTX"},
    {400, "CUDA_ERROR_INVALID_HANDLE"},
    {401, "CUDA_ERROR_ILLEGAL_STATE"},
    {500, "CUDA_ERROR_NOT_FOUND"},
    {600, "CUDA_ERROR_NOT_READY"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"},
    {719, "CUDA_ERROR_LAUNCH_FAILED"},
    {801, "CUDA_ERROR_NOT_SUPPORTED"},
    {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"},
    {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"},
    {903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED"},
    {905, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION"},
    {906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT"},
    {999, "CUDA_ERROR_UNKNOWN"},
};

int emu_cuGetErrorName(int e, const char** s) {
	if (!s) return CUDA_ERROR_INVALID_VALUE;
	for (auto& k : kNames)
		if (k.code == e) {
			*s = k.name;
			return 0;
		}
	*s = nullptr;
	return CUDA_ERROR_INVALID_VALUE;
}

int emu_cuDeviceGetCount(int* n) {
	NEED_INIT;
	if (!n) return CUDA_ERROR_INVALID_VALUE;
	*n = 1;
	return 0;
}

int emu_cuDeviceGet(CUdevice* d, int ordinal) {
	NEED_INIT;
	if (!d) return CUDA_ERROR_INVALID_VALUE;
	if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
	*d = 0;
	return 0;
}

int emu_cuDeviceGetName(char* name, int len, CUdevice d) {
	NEED_INIT;
	if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
	snprintf(name, len, "NVAE emulated GPU (CPU, %u threads)", std::thread::hardware_concurrency());
	return 0;
}

int emu_cuDeviceTotalMem(size_t* b, CUdevice d) {
	NEED_INIT;
	if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (!b) return CUDA_ERROR_INVALID_VALUE;
	*b = g_total_mem;
	return 0;
}

int emu_cuDeviceGetAttribute(int* v, int attr, CUdevice d) {
	NEED_INIT;
	if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (!v) return CUDA_ERROR_INVALID_VALUE;
	switch (attr) {
	case 1: *v = kMaxThreads; break;          // MAX_THREADS_PER_BLOCK
	case 2: case 3: *v = 1024; break;         // MAX_BLOCK_DIM_X, Y
	case 4: *v = 64; break;                   // MAX_BLOCK_DIM_Z
	case 5: *v = 2147483647; break;           // MAX_GRID_DIM_X
	case 6: case 7: *v = 65535; break;        // MAX_GRID_DIM_Y, Z
	case 8: *v = kSmemDefault; break;         // MAX_SHARED_MEMORY_PER_BLOCK
	case 9: *v = 65536; break;                // TOTAL_CONSTANT_MEMORY
	case 10: *v = 32; break;                  // WARP_SIZE
	case 12: *v = 65536; break;               // MAX_REGISTERS_PER_BLOCK
	case 13: *v = 1000000; break;             // CLOCK_RATE (kHz)
	case 16: *v = (int)std::thread::hardware_concurrency(); break;  // MULTIPROCESSOR_COUNT
	case 39: *v = 2048; break;                // MAX_THREADS_PER_MULTIPROCESSOR
	case 75: *v = 8; break;                   // COMPUTE_CAPABILITY_MAJOR
	case 76: *v = 0; break;                   // COMPUTE_CAPABILITY_MINOR
	case 81: *v = 228 * 1024; break;          // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
	case 97: *v = kSmemOptin; break;          // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
	case 106: *v = 32; break;                 // MAX_BLOCKS_PER_MULTIPROCESSOR
	default: *v = 0;
	}
	return 0;
}

static int g_primary = 0;
static char g_ctx_token;

int emu_cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) {
	NEED_INIT;
	if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (!c) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_init_mu);
	g_primary++;
	*c = &g_ctx_token;
	return 0;
}

int emu_cuDevicePrimaryCtxRelease(CUdevice d) {
	NEED_INIT;
	if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
	std::lock_guard<std::mutex> l(g_init_mu);
	if (g_primary > 0) g_primary--;
	return 0;
}

int emu_cuCtxSetCurrent(CUcontext c) {
	NEED_INIT;
	if (c && c != &g_ctx_token) return CUDA_ERROR_INVALID_CONTEXT;
	return 0;
}

int emu_cuCtxSynchronize(void) {
	NEED_INIT;
	if (int e = SyncCallAllowed()) return e;
	return SyncAll();
}

int emu_cuMemGetInfo(size_t* f, size_t* t) {
	NEED_INIT;
	if (!f || !t) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_mem_mu);
	*t = g_total_mem;
	*f = g_total_mem - g_used;
	return 0;
}

int emu_cuMemAlloc(CUdeviceptr* p, size_t n) {
	NEED_INIT;
	if (!p || n == 0) return CUDA_ERROR_INVALID_VALUE;
	if (int e = SyncCallAllowed()) return e;  // cuMemAlloc is not allowed during a global-mode capture
	size_t body = (n + kPage - 1) / kPage * kPage;
	size_t maplen = kGuard + body + kGuard + kPage;
	std::lock_guard<std::mutex> l(g_mem_mu);
	if (g_used + n > g_total_mem || n > g_total_mem) return CUDA_ERROR_OUT_OF_MEMORY;
	char* base = (char*)mmap(nullptr, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
	mprotect(base + maplen - kPage, kPage, PROT_NONE);
	Alloc a{base, maplen, base + kGuard, n};
	memset(base, kGuardByte, kGuard);
	memset(a.data + n, kGuardByte, maplen - kPage - kGuard - n);
	g_allocs[(uintptr_t)a.data] = a;
	g_used += n;
	*p = (CUdeviceptr)(uintptr_t)a.data;
	return 0;
}

int emu_cuMemFree(CUdeviceptr p) {
	NEED_INIT;
	if (SyncCallAllowed()) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	SyncAll();  // cuMemFree synchronises with pending work
	std::lock_guard<std::mutex> l(g_mem_mu);
	auto it = g_allocs.find((uintptr_t)p);
	if (it == g_allocs.end()) return CUDA_ERROR_INVALID_VALUE;
	munmap(it->second.base, it->second.maplen);
	g_used -= it->second.size;
	g_allocs.erase(it);
	return 0;
}

static std::mutex g_host_mu;
static std::map<void*, size_t> g_host;

int emu_cuMemHostAlloc(void** p, size_t n, unsigned int) {
	NEED_INIT;
	if (!p || n == 0) return CUDA_ERROR_INVALID_VALUE;
	void* q = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
	std::lock_guard<std::mutex> l(g_host_mu);
	g_host[q] = n;
	*p = q;
	return 0;
}

int emu_cuMemFreeHost(void* p) {
	NEED_INIT;
	SyncAll();
	std::lock_guard<std::mutex> l(g_host_mu);
	auto it = g_host.find(p);
	if (it == g_host.end()) return CUDA_ERROR_INVALID_VALUE;
	munmap(p, it->second);
	g_host.erase(it);
	return 0;
}

static int CheckRange(CUdeviceptr p, size_t n) { return Dev((void*)(uintptr_t)p, n) ? 0 : CUDA_ERROR_INVALID_VALUE; }

int emu_cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream s) {
	NEED_INIT;
	if (CheckRange(p, n)) return CUDA_ERROR_INVALID_VALUE;
	return Enqueue(s, [=] {
		memset((void*)(uintptr_t)p, v, n);
		return 0;
	});
}

int emu_cuMemsetD32Async(CUdeviceptr p, unsigned int v, size_t n, CUstream s) {
	NEED_INIT;
	if (p % 4 || CheckRange(p, n * 4)) return CUDA_ERROR_INVALID_VALUE;
	return Enqueue(s, [=] {
		unsigned int* q = (unsigned int*)(uintptr_t)p;
		for (size_t i = 0; i < n; i++) q[i] = v;
		return 0;
	});
}

// Synchronous calls: wait for all streams, then do the work here.
int emu_cuMemsetD8(CUdeviceptr p, unsigned char v, size_t n) {
	NEED_INIT;
	if (int e = SyncCallAllowed()) return e;
	if (CheckRange(p, n)) return CUDA_ERROR_INVALID_VALUE;
	if (int e = SyncLegacy()) return e;
	memset((void*)(uintptr_t)p, v, n);
	return 0;
}

int emu_cuMemsetD32(CUdeviceptr p, unsigned int v, size_t n) {
	NEED_INIT;
	if (int e = SyncCallAllowed()) return e;
	if (p % 4 || CheckRange(p, n * 4)) return CUDA_ERROR_INVALID_VALUE;
	if (int e = SyncLegacy()) return e;
	unsigned int* q = (unsigned int*)(uintptr_t)p;
	for (size_t i = 0; i < n; i++) q[i] = v;
	return 0;
}

int emu_cuMemcpyHtoD(CUdeviceptr dst, const void* src, size_t n) {
	NEED_INIT;
	if (int e = SyncCallAllowed()) return e;
	if (!src || CheckRange(dst, n)) return CUDA_ERROR_INVALID_VALUE;
	if (int e = SyncLegacy()) return e;
	memcpy((void*)(uintptr_t)dst, src, n);
	return 0;
}

int emu_cuMemcpyDtoH(void* dst, CUdeviceptr src, size_t n) {
	NEED_INIT;
	if (int e = SyncCallAllowed()) return e;
	if (!dst || CheckRange(src, n)) return CUDA_ERROR_INVALID_VALUE;
	if (int e = SyncLegacy()) return e;
	memcpy(dst, (void*)(uintptr_t)src, n);
	return 0;
}

int emu_cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n) {
	NEED_INIT;
	if (int e = SyncCallAllowed()) return e;
	if (CheckRange(dst, n) || CheckRange(src, n)) return CUDA_ERROR_INVALID_VALUE;
	if (int e = SyncLegacy()) return e;
	memmove((void*)(uintptr_t)dst, (void*)(uintptr_t)src, n);
	return 0;
}

int emu_cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
	NEED_INIT;
	if (!src || CheckRange(dst, n)) return CUDA_ERROR_INVALID_VALUE;
	return Enqueue(s, [=] {
		memcpy((void*)(uintptr_t)dst, src, n);
		return 0;
	});
}

int emu_cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t n, CUstream s) {
	NEED_INIT;
	if (!dst || CheckRange(src, n)) return CUDA_ERROR_INVALID_VALUE;
	return Enqueue(s, [=] {
		memcpy(dst, (void*)(uintptr_t)src, n);
		return 0;
	});
}

int emu_cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
	NEED_INIT;
	if (CheckRange(dst, n) || CheckRange(src, n)) return CUDA_ERROR_INVALID_VALUE;
	return Enqueue(s, [=] {
		memmove((void*)(uintptr_t)dst, (void*)(uintptr_t)src, n);
		return 0;
	});
}

int emu_cuStreamCreate(CUstream* s, unsigned int flags) {
	NEED_INIT;
	if (!s || flags > 1) return CUDA_ERROR_INVALID_VALUE;
	Stream* st = new Stream();
	st->blocking = !(flags & 1);
	std::lock_guard<std::mutex> l(g_streams_mu);
	g_streams.push_back(st);
	*s = st;
	return 0;
}

int emu_cuStreamDestroy(CUstream s) {
	NEED_INIT;
	if (!s) return CUDA_ERROR_INVALID_HANDLE;
	Stream* st = (Stream*)s;
	{
		std::lock_guard<std::mutex> l(g_streams_mu);
		auto it = std::find(g_streams.begin(), g_streams.end(), st);
		if (it == g_streams.end()) return CUDA_ERROR_INVALID_HANDLE;
		g_streams.erase(it);
	}
	// Pending work still completes (as documented), then the worker ends.
	{
		std::lock_guard<std::mutex> l(st->mu);
		st->stop = true;
		st->cv.notify_all();
	}
	st->th.join();
	delete st;
	return 0;
}

int emu_cuStreamSynchronize(CUstream s) {
	NEED_INIT;
	Stream* st = S(s);
	{
		std::lock_guard<std::mutex> l(st->mu);
		if (st->cap) {
			std::lock_guard<std::mutex> l2(g_cap_mu);
			st->cap->invalid = true;
			return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		}
	}
	return st->Sync();
}

int emu_cuStreamQuery(CUstream s) {
	NEED_INIT;
	Stream* st = S(s);
	std::lock_guard<std::mutex> l(st->mu);
	return st->q.empty() && !st->busy ? 0 : CUDA_ERROR_NOT_READY;
}

struct Event {
	std::mutex mu;
	std::condition_variable cv;
	unsigned long long recorded = 0, done = 0;
	double t = 0;
	bool timing = true;
	Graph* cap_graph = nullptr;  // recorded during a capture into this graph
};

int emu_cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
	NEED_INIT;
	if (!e) return CUDA_ERROR_INVALID_HANDLE;
	if (flags) return CUDA_ERROR_INVALID_VALUE;
	Event* ev = (Event*)e;
	unsigned long long g;
	Graph* cg;
	{
		std::lock_guard<std::mutex> l(ev->mu);
		g = ev->recorded;
		cg = ev->cap_graph;
	}
	if (cg) {
		// The event was recorded in a capture: s joins that capture (fork).
		Stream* st = S(s);
		std::lock_guard<std::mutex> l(st->mu);
		std::lock_guard<std::mutex> l2(g_cap_mu);
		if (!cg->ended) {
			if (st->cap && st->cap != cg) return CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
			if (!st->cap) {
				if (!s) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;  // the legacy stream cannot join
				st->cap = cg;
				cg->members.push_back(st);
			}
			return 0;
		}
	}
	return Enqueue(s, [=] {
		std::unique_lock<std::mutex> l(ev->mu);
		ev->cv.wait(l, [&] { return ev->done >= g; });
		return 0;
	});
}

int emu_cuEventCreate(CUevent* e, unsigned int flags) {
	NEED_INIT;
	if (!e || flags > 7) return CUDA_ERROR_INVALID_VALUE;
	Event* ev = new Event();
	ev->timing = !(flags & 2);  // CU_EVENT_DISABLE_TIMING
	*e = ev;
	return 0;
}

int emu_cuEventDestroy(CUevent e) {
	NEED_INIT;
	if (!e) return CUDA_ERROR_INVALID_HANDLE;
	Event* ev = (Event*)e;
	{
		// Deferred as on a GPU: wait for a pending record first.
		std::unique_lock<std::mutex> l(ev->mu);
		ev->cv.wait(l, [&] { return ev->done >= ev->recorded; });
	}
	delete ev;
	return 0;
}

int emu_cuEventRecord(CUevent e, CUstream s) {
	NEED_INIT;
	if (!e) return CUDA_ERROR_INVALID_HANDLE;
	Event* ev = (Event*)e;
	{
		// Recorded during a capture: a point in the graph other streams can
		// wait on to join the capture, not a completion on the device.
		Stream* st = S(s);
		std::lock_guard<std::mutex> l(st->mu);
		std::lock_guard<std::mutex> l2(ev->mu);
		if (st->cap) {
			ev->cap_graph = st->cap;
			return 0;
		}
		ev->cap_graph = nullptr;
	}
	unsigned long long g;
	{
		std::lock_guard<std::mutex> l(ev->mu);
		g = ++ev->recorded;
	}
	int r = Enqueue(s, [=] {
		std::lock_guard<std::mutex> l(ev->mu);
		ev->t = NowMs();
		if (ev->done < g) ev->done = g;
		ev->cv.notify_all();
		return 0;
	});
	if (r) {
		std::lock_guard<std::mutex> l(ev->mu);
		ev->recorded--;
	}
	return r;
}

int emu_cuEventSynchronize(CUevent e) {
	NEED_INIT;
	if (!e) return CUDA_ERROR_INVALID_HANDLE;
	Event* ev = (Event*)e;
	std::unique_lock<std::mutex> l(ev->mu);
	unsigned long long g = ev->recorded;
	ev->cv.wait(l, [&] { return ev->done >= g; });
	return 0;
}

int emu_cuEventQuery(CUevent e) {
	NEED_INIT;
	if (!e) return CUDA_ERROR_INVALID_HANDLE;
	Event* ev = (Event*)e;
	std::lock_guard<std::mutex> l(ev->mu);
	return ev->done >= ev->recorded ? 0 : CUDA_ERROR_NOT_READY;
}

int emu_cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
	NEED_INIT;
	if (!ms) return CUDA_ERROR_INVALID_VALUE;
	if (!a || !b) return CUDA_ERROR_INVALID_HANDLE;
	Event* ea = (Event*)a;
	Event* eb = (Event*)b;
	if (!ea->timing || !eb->timing) return CUDA_ERROR_INVALID_HANDLE;
	double ta, tb;
	{
		std::lock_guard<std::mutex> l(ea->mu);
		if (ea->recorded == 0) return CUDA_ERROR_INVALID_HANDLE;
		if (ea->done < ea->recorded) return CUDA_ERROR_NOT_READY;
		ta = ea->t;
	}
	{
		std::lock_guard<std::mutex> l(eb->mu);
		if (eb->recorded == 0) return CUDA_ERROR_INVALID_HANDLE;
		if (eb->done < eb->recorded) return CUDA_ERROR_NOT_READY;
		tb = eb->t;
	}
	*ms = (float)(tb - ta);
	return 0;
}

// Module images from the emulated NVRTC: "NVAEEMU1", a little-endian
// 64-bit length, then the shared object.
static int FindTLS(struct dl_phdr_info* info, size_t, void* data) {
	auto* want = (std::pair<ElfW(Addr), size_t>*)data;
	if (info->dlpi_addr != want->first) return 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_TLS) want->second = info->dlpi_phdr[i].p_memsz;
	return 1;
}

int emu_cuModuleLoadData(CUmodule* m, const void* image) {
	NEED_INIT;
	if (!m || !image) return CUDA_ERROR_INVALID_VALUE;
	const char* p = (const char*)image;
	if (memcmp(p, "NVAEEMU1", 8) != 0) {
		SetDetail("the emulated device loads only images from its own NVRTC (this looks like real PTX or a cubin)");
		return CUDA_ERROR_INVALID_IMAGE;
	}
	unsigned long long n;
	memcpy(&n, p + 8, 8);
	int fd = memfd_create("nvae-emu-module", MFD_CLOEXEC);
	if (fd < 0) return CUDA_ERROR_UNKNOWN;
	const char* q = p + 16;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, q, left);
		if (w <= 0) {
			close(fd);
			return CUDA_ERROR_UNKNOWN;
		}
		q += w;
		left -= (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		SetDetail(std::string("dlopen of the kernel module: ") + dlerror());
		close(fd);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	RT** rt = (RT**)dlsym(h, "__emu_rt");
	if (!rt) {
		dlclose(h);
		close(fd);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	*rt = &g_rt;
	Module* mod = new Module();
	mod->h = h;
	mod->fd = fd;
	mod->tls_touch = (void (*)())dlsym(h, "__emu_tls_touch");
	struct link_map* lm = nullptr;
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
		std::pair<ElfW(Addr), size_t> want{lm->l_addr, 0};
		dl_iterate_phdr(FindTLS, &want);
		mod->tls = want.second;
	}
	*m = mod;
	return 0;
}

int emu_cuModuleUnload(CUmodule m) {
	NEED_INIT;
	if (!m) return CUDA_ERROR_INVALID_HANDLE;
	SyncAll();
	Module* mod = (Module*)m;
	dlclose(mod->h);
	close(mod->fd);
	delete mod;
	return 0;
}

int emu_cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
	NEED_INIT;
	if (!f || !name) return CUDA_ERROR_INVALID_VALUE;
	if (!m) return CUDA_ERROR_INVALID_HANDLE;
	Module* mod = (Module*)m;
	std::string e = std::string("__emu_entry_") + name, a = std::string("__emu_argsizes_") + name;
	void* entry = dlsym(mod->h, e.c_str());
	void* sizes = dlsym(mod->h, a.c_str());
	if (!entry || !sizes) return CUDA_ERROR_NOT_FOUND;
	Func* fn = new Func();
	fn->m = mod;
	fn->name = name;
	fn->entry = (void (*)(void**))entry;
	fn->nargs = ((int (*)(size_t*))sizes)(fn->sizes);
	fn->max_dyn = kSmemDefault - (int)mod->tls;
	if (fn->max_dyn < 0) fn->max_dyn = 0;
	*f = fn;
	return 0;
}

int emu_cuFuncGetAttribute(int* v, int attr, CUfunction f) {
	NEED_INIT;
	if (!v) return CUDA_ERROR_INVALID_VALUE;
	if (!f) return CUDA_ERROR_INVALID_HANDLE;
	Func* fn = (Func*)f;
	switch (attr) {
	case 0: *v = kMaxThreads; break;          // MAX_THREADS_PER_BLOCK
	case 1: *v = (int)fn->m->tls; break;      // SHARED_SIZE_BYTES (the module's static shared memory)
	case 2: case 3: *v = 0; break;            // CONST_SIZE_BYTES, LOCAL_SIZE_BYTES
	case 4: *v = 32; break;                   // NUM_REGS
	case 5: case 6: *v = 80; break;           // PTX_VERSION, BINARY_VERSION
	case 7: *v = 0; break;                    // CACHE_MODE_CA
	case 8: *v = fn->max_dyn; break;          // MAX_DYNAMIC_SHARED_SIZE_BYTES
	case 9: *v = -1; break;                   // PREFERRED_SHARED_MEMORY_CARVEOUT
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	return 0;
}

int emu_cuFuncSetAttribute(CUfunction f, int attr, int v) {
	NEED_INIT;
	if (!f) return CUDA_ERROR_INVALID_HANDLE;
	Func* fn = (Func*)f;
	switch (attr) {
	case 8:
		if (v < 0 || (size_t)v + fn->m->tls > (size_t)kSmemOptin) return CUDA_ERROR_INVALID_VALUE;
		fn->max_dyn = v;
		return 0;
	case 9:
		if (v < -1 || v > 100) return CUDA_ERROR_INVALID_VALUE;
		return 0;
	}
	return CUDA_ERROR_INVALID_VALUE;
}

int emu_cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned smem, CUstream s, void** params, void** extra) {
	NEED_INIT;
	if (!f) return CUDA_ERROR_INVALID_HANDLE;
	Func* fn = (Func*)f;
	if (extra) {
		SetDetail("cuLaunchKernel: the emulator takes kernelParams, not extra");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (!gx || !gy || !gz || !bx || !by || !bz) return CUDA_ERROR_INVALID_VALUE;
	if (bx > 1024 || by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > kMaxThreads) return CUDA_ERROR_INVALID_VALUE;
	if (gx > 2147483647u || gy > 65535 || gz > 65535) return CUDA_ERROR_INVALID_VALUE;
	if ((int)smem > fn->max_dyn || smem + fn->m->tls > (size_t)kSmemOptin) return CUDA_ERROR_INVALID_VALUE;
	if (fn->nargs > 0 && !params) return CUDA_ERROR_INVALID_VALUE;
	// The arguments are copied now, as cuLaunchKernel does.
	size_t total = 0;
	for (int i = 0; i < fn->nargs; i++) total += (fn->sizes[i] + 15) / 16 * 16;
	std::shared_ptr<std::vector<char>> buf = std::make_shared<std::vector<char>>(total + 16);
	std::shared_ptr<std::vector<void*>> ptrs = std::make_shared<std::vector<void*>>(fn->nargs + 1);
	size_t off = 0;
	char* base = (char*)(((uintptr_t)buf->data() + 15) & ~(uintptr_t)15);
	for (int i = 0; i < fn->nargs; i++) {
		if (!params[i]) return CUDA_ERROR_INVALID_VALUE;
		memcpy(base + off, params[i], fn->sizes[i]);
		(*ptrs)[i] = base + off;
		off += (fn->sizes[i] + 15) / 16 * 16;
	}
	Dim3 grid{gx, gy, gz}, block{bx, by, bz};
	return Enqueue(s, [=] {
		(void)buf;  // owns the argument copies ptrs points into
		return Launch(fn, ptrs->data(), grid, block, smem);
	});
}

int emu_cuOccupancyMaxActiveBlocksPerMultiprocessor(int* n, CUfunction f, int block, size_t smem) {
	NEED_INIT;
	if (!n || block <= 0) return CUDA_ERROR_INVALID_VALUE;
	if (!f) return CUDA_ERROR_INVALID_HANDLE;
	Func* fn = (Func*)f;
	if (block > kMaxThreads) {
		*n = 0;
		return 0;
	}
	int warps = (block + 31) / 32;
	int by_threads = 2048 / (warps * 32);
	int by_regs = 65536 / (32 * warps * 32);
	size_t per = smem + fn->m->tls + 1024;  // 1 KiB reserved per block, as on sm_80+
	int by_smem = (int)((228 * 1024) / per);
	*n = std::min(std::min(32, by_threads), std::min(by_regs, by_smem));
	return 0;
}

int emu_cuStreamBeginCapture(CUstream s, int mode) {
	NEED_INIT;
	if (!s) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;  // the legacy NULL stream cannot be captured
	if (mode < 0 || mode > 2) return CUDA_ERROR_INVALID_VALUE;
	Stream* st = (Stream*)s;
	std::lock_guard<std::mutex> l(st->mu);
	if (st->cap) return CUDA_ERROR_ILLEGAL_STATE;
	Graph* g = new Graph();
	g->origin = st;
	g->members.push_back(st);
	st->cap = g;
	g_capturing++;
	return 0;
}

int emu_cuStreamEndCapture(CUstream s, CUgraph* g) {
	NEED_INIT;
	if (!g) return CUDA_ERROR_INVALID_VALUE;
	Stream* st = S(s);
	Graph* gr;
	std::vector<Stream*> members;
	{
		std::lock_guard<std::mutex> l(st->mu);
		if (!st->cap) return CUDA_ERROR_ILLEGAL_STATE;
		gr = st->cap;
		std::lock_guard<std::mutex> l2(g_cap_mu);
		if (gr->origin != st) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
		gr->ended = true;
		members = gr->members;
	}
	for (Stream* m : members) {
		std::lock_guard<std::mutex> l(m->mu);
		m->cap = nullptr;
	}
	g_capturing--;
	if (gr->invalid) {
		delete gr;
		*g = nullptr;
		return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	}
	*g = gr;
	return 0;
}

int emu_cuGraphInstantiateWithFlags(CUgraphExec* e, CUgraph g, unsigned long long flags) {
	NEED_INIT;
	if (!e || flags > 15) return CUDA_ERROR_INVALID_VALUE;
	if (!g) return CUDA_ERROR_INVALID_HANDLE;
	Graph* x = new Graph();
	x->nodes = ((Graph*)g)->nodes;
	*e = x;
	return 0;
}

int emu_cuGraphLaunch(CUgraphExec e, CUstream s) {
	NEED_INIT;
	if (!e) return CUDA_ERROR_INVALID_HANDLE;
	Graph* g = (Graph*)e;
	std::vector<Task> nodes = g->nodes;
	return Enqueue(s, [nodes] {
		for (auto& t : nodes)
			if (int r = t()) return r;
		return 0;
	});
}

int emu_cuGraphExecDestroy(CUgraphExec e) {
	NEED_INIT;
	if (!e) return CUDA_ERROR_INVALID_HANDLE;
	delete (Graph*)e;
	return 0;
}

int emu_cuGraphDestroy(CUgraph g) {
	NEED_INIT;
	if (!g) return CUDA_ERROR_INVALID_HANDLE;
	delete (Graph*)g;
	return 0;
}

}  // extern "C"
