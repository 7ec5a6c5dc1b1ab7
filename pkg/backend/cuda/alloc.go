package cuda

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nvaego/nvae/pkg/backend"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Memory lifetime. Go's collector cannot see device memory, so the
// backend frees it in three ways, all into one caching allocator (freed
// blocks are kept in per-size-class lists and handed out again without a
// cudaFree/cudaMalloc pair):
//
//   - Release (backend.Releaser): inference frees each intermediate as soon
//     as it is consumed;
//   - steps (backend.Stepper): every buffer allocated between BeginStep and
//     EndStep is freed at EndStep, except those adopted with Keep (state
//     that outlives the step: parameters, optimizer moments, BN running
//     statistics and spectral vectors are updated in place or kept);
//   - a cleanup attached to every Buf returns its block when the collector
//     finds the Buf unreachable (the backstop for everything else), and an
//     allocation that does not fit runs the collector once before failing.
//
// A tensor used after its block was freed panics naming the reason, instead
// of reading memory that now belongs to another tensor.

type block struct {
	ptr    cu.DevicePtr
	size   int // bytes (the size class)
	freed  atomic.Bool
	kept   atomic.Bool
	reason atomic.Int32
}

const (
	freedReleased int32 = iota + 1
	freedStepEnd
	freedCollected
)

func (k *block) why() string {
	switch k.reason.Load() {
	case freedReleased:
		return "Release"
	case freedStepEnd:
		return "allocated inside a step and freed at EndStep; Keep it if it must outlive the step"
	case freedCollected:
		return "collected"
	}
	return "unknown"
}

type allocator struct {
	ctx *cu.Context

	mu       sync.Mutex
	free     map[int][]cu.DevicePtr
	inUse    int64 // bytes handed out (size classes)
	peak     int64
	reserved int64 // bytes obtained from the driver (in use + cached)
	lastGC   int64 // reserved at the last forced collection
	inStep   bool
	scope    []*block
}

func newAllocator(ctx *cu.Context) *allocator {
	return &allocator{ctx: ctx, free: map[int][]cu.DevicePtr{}}
}

// sizeClass rounds n bytes up to 512 B, then to one of eight classes per
// power of two (at most 12.5 % waste).
func sizeClass(n int) int {
	if n <= 512 {
		return 512
	}
	shift := bits.Len(uint(n-1)) - 3
	unit := 1 << shift
	return (n + unit - 1) / unit * unit
}

// gcGrowth is how much the driver memory may grow between two forced
// collections: tensors the program dropped without Release come back only
// when the collector runs, and the collector does not see device memory,
// so the allocator runs it itself once the cache keeps missing.
func (a *allocator) gcGrowth() int64 { return max(256<<20, a.reserved/4) }

// fromCache pops a cached block of size, or returns false.
func (a *allocator) fromCache(size int) (cu.DevicePtr, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.free[size]; len(l) > 0 {
		p := l[len(l)-1]
		a.free[size] = l[:len(l)-1]
		return p, true
	}
	return 0, false
}

// allocRaw returns size bytes (a size class) from the cache or the driver.
func (a *allocator) allocRaw(size int) cu.DevicePtr {
	if p, ok := a.fromCache(size); ok {
		return p
	}
	a.mu.Lock()
	collect := a.reserved-a.lastGC > a.gcGrowth()
	if collect {
		a.lastGC = a.reserved
	}
	a.mu.Unlock()
	if collect {
		runtime.GC()
		for i := 0; i < 20; i++ { // let the cleanups return what was collected
			if p, ok := a.fromCache(size); ok {
				return p
			}
			time.Sleep(500 * time.Microsecond)
		}
	}
	// Small classes are carved out of chunks: one driver allocation holds
	// many blocks (driver allocations are slow and, on the emulated GPU,
	// each is a mapping of the process).
	get := size
	if size <= smallMax {
		get = chunkSize(size)
	}
	for attempt := 0; ; attempt++ {
		p, err := a.ctx.Alloc(get)
		if err == nil {
			a.mu.Lock()
			a.reserved += int64(get)
			for off := size; off+size <= get; off += size {
				a.free[size] = append(a.free[size], p+cu.DevicePtr(off))
			}
			a.mu.Unlock()
			return p
		}
		switch attempt {
		case 0: // give cached blocks of other sizes back to the driver
			a.emptyCache()
		case 1: // let the collector return unreachable tensors
			runtime.GC()
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
			if p, ok := a.fromCache(size); ok {
				return p
			}
			a.emptyCache()
		default:
			st := a.stats()
			panic(fmt.Sprintf("cuda backend: out of device memory allocating %s (in use %s, peak %s): %v; lower --batch_size",
				mib(int64(size)), mib(st.InUse), mib(st.Peak), err))
		}
	}
}

// freeRaw puts a block back in the cache.
func (a *allocator) freeRaw(p cu.DevicePtr, size int) {
	a.mu.Lock()
	a.free[size] = append(a.free[size], p)
	a.mu.Unlock()
}

// smallMax is the largest size class carved out of chunks; chunkSize is
// the chunk of a small class (32 blocks, at least 64 KiB, at most 2 MiB).
const smallMax = 1 << 20

func chunkSize(size int) int {
	c := min(max(64<<10, 32*size), 2<<20)
	return c / size * size
}

// emptyCache returns every cached block of a large class to the driver
// (chunks of the small classes stay: their blocks may be in use).
func (a *allocator) emptyCache() {
	a.mu.Lock()
	lists := map[int][]cu.DevicePtr{}
	for size, l := range a.free {
		if size > smallMax {
			lists[size] = l
			delete(a.free, size)
		}
	}
	a.mu.Unlock()
	if len(lists) > 0 {
		a.ctx.Synchronize() // a queued kernel may still use a cached block
	}
	for size, l := range lists {
		for _, p := range l {
			if a.ctx.Free(p) == nil {
				a.mu.Lock()
				a.reserved -= int64(size)
				a.mu.Unlock()
			}
		}
	}
}

// newBuf allocates storage for n elements of dt.
func (a *allocator) newBuf(n int, dt tensor.DType) *Buf {
	size := sizeClass(max(n, 1) * dt.Size())
	blk := &block{ptr: a.allocRaw(size), size: size}
	a.mu.Lock()
	a.inUse += int64(size)
	if a.inUse > a.peak {
		a.peak = a.inUse
	}
	if a.inStep {
		a.scope = append(a.scope, blk)
	}
	a.mu.Unlock()
	s := &Buf{blk: blk, n: n, dt: dt}
	runtime.AddCleanup(s, func(k *block) { a.put(k, freedCollected) }, blk)
	return s
}

// put frees a block once (later calls do nothing).
func (a *allocator) put(k *block, reason int32) {
	if !k.freed.CompareAndSwap(false, true) {
		return
	}
	k.reason.Store(reason)
	a.mu.Lock()
	a.inUse -= int64(k.size)
	a.free[k.size] = append(a.free[k.size], k.ptr)
	a.mu.Unlock()
}

func (a *allocator) stats() backend.MemStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return backend.MemStats{InUse: a.inUse, Peak: a.peak, Reserved: a.reserved}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Release implements backend.Releaser.
func (b *Backend) Release(t *tensor.Tensor) {
	if t == nil {
		return
	}
	if s, ok := t.Storage().(*Buf); ok {
		b.mem.put(s.blk, freedReleased)
	}
}

// BeginStep implements backend.Stepper: buffers allocated from now until
// EndStep are freed at EndStep unless kept.
func (b *Backend) BeginStep() {
	a := b.mem
	a.mu.Lock()
	a.inStep = true
	a.scope = a.scope[:0]
	a.mu.Unlock()
}

// EndStep implements backend.Stepper.
func (b *Backend) EndStep() {
	a := b.mem
	a.mu.Lock()
	scope := a.scope
	a.scope = nil
	a.inStep = false
	a.mu.Unlock()
	for _, k := range scope {
		if !k.kept.Load() {
			a.put(k, freedStepEnd)
		}
	}
}

// Keep implements backend.Stepper: t's memory outlives the current step.
func (b *Backend) Keep(t *tensor.Tensor) {
	if t == nil {
		return
	}
	if s, ok := t.Storage().(*Buf); ok {
		s.blk.kept.Store(true)
	}
}

// MemStats implements backend.MemReporter.
func (b *Backend) MemStats() backend.MemStats { return b.mem.stats() }
