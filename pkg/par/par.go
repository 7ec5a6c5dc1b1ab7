// Package par runs loops over all cores.
//
// For hands chunks to a pool of long-lived worker goroutines that keep
// polling for work for a short while (spinWait) after each chunk before
// they go to sleep. Inference issues hundreds of parallel loops of tens of
// microseconds each, back to back; starting a goroutine per chunk made the
// runtime wake an idle core (a futex, on virtual machines an inter-
// processor interrupt) for every loop, which cost about as much as the
// loop itself. A worker that is busy (another For, or a nested one) is not
// waited for: its chunk runs on the calling goroutine instead, so nested
// and concurrent calls cannot deadlock.
package par

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Workers is the number of chunks For splits a loop into at most (the
// calling goroutine runs one of them); it defaults to GOMAXPROCS.
var Workers = runtime.GOMAXPROCS(0)

// spinWait is how long an idle worker keeps polling for the next chunk
// before it sleeps, in nanoseconds (SetSpin).
var spinWait atomic.Int64

func init() {
	spinWait.Store(int64(100 * time.Microsecond))
	if v, ok := os.LookupEnv("NVAE_PAR_SPIN"); ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			spinWait.Store(int64(d))
			spinFixed = true
		}
	}
}

// spinFixed records that NVAE_PAR_SPIN set the polling time.
var spinFixed bool

// SetSpin sets how long idle workers poll for the next chunk before they
// sleep (default 100 µs; 0: sleep at once, as processes that share their
// cores with other ranks should). The environment variable NVAE_PAR_SPIN
// (a Go duration, e.g. "0" or "50us"), when set, takes precedence.
func SetSpin(d time.Duration) {
	if !spinFixed && d >= 0 {
		spinWait.Store(int64(d))
	}
}

// task is one chunk of a loop.
type task struct {
	fn      func(lo, hi int)
	lo, hi  int
	pending *atomic.Int32
	wg      *sync.WaitGroup
}

type worker struct {
	claimed atomic.Bool // a caller owns the worker until its chunk is done
	asleep  atomic.Bool
	slot    atomic.Pointer[task]
	wake    chan struct{}
}

func (w *worker) loop() {
	for {
		if poll(func() bool { return w.slot.Load() != nil }) {
			t := w.slot.Load()
			w.slot.Store(nil)
			t.fn(t.lo, t.hi)
			w.claimed.Store(false)
			t.pending.Add(-1)
			t.wg.Done()
			continue
		}
		// Sleep unless a chunk arrived meanwhile: a caller stores its chunk
		// before it reads asleep, and the worker sets asleep before it
		// reads the slot, so one of them sees the other.
		w.asleep.Store(true)
		if w.slot.Load() == nil {
			<-w.wake
		}
		w.asleep.Store(false)
	}
}

// poll yields (runtime.Gosched) until ready reports true or the polling
// time has passed, and reports whether ready did.
func poll(ready func() bool) bool {
	spin := time.Duration(spinWait.Load())
	deadline := time.Now().Add(spin)
	for n := 0; ; n++ {
		if ready() {
			return true
		}
		if spin == 0 || n%64 == 63 && time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
}

var pool struct {
	mu      sync.Mutex
	workers atomic.Pointer[[]*worker]
}

// workers returns at least n pool workers (fewer only for n < 0).
func workers(n int) []*worker {
	if p := pool.workers.Load(); p != nil && len(*p) >= n {
		return *p
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	var ws []*worker
	if p := pool.workers.Load(); p != nil {
		ws = *p
	}
	for len(ws) < n {
		w := &worker{wake: make(chan struct{}, 1)}
		go w.loop()
		ws = append(ws[:len(ws):len(ws)], w)
	}
	pool.workers.Store(&ws)
	return ws
}

// For calls fn(lo, hi) on disjoint chunks covering [0, n). Chunks hold at
// least grain items; when the range is small it runs inline. It returns
// when every chunk is done.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	w := Workers
	if max := (n + grain - 1) / grain; w > max {
		w = max
	}
	if w <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + w - 1) / w
	var pending atomic.Int32
	var wg sync.WaitGroup
	var inline []int // starts of chunks no idle worker took
	ws := workers(w - 1)
	next := 0
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		var wk *worker
		for next < len(ws) && wk == nil {
			if ws[next].claimed.CompareAndSwap(false, true) {
				wk = ws[next]
			}
			next++
		}
		if wk == nil {
			inline = append(inline, lo)
			continue
		}
		pending.Add(1)
		wg.Add(1)
		wk.slot.Store(&task{fn: fn, lo: lo, hi: hi, pending: &pending, wg: &wg})
		if wk.asleep.Load() {
			select {
			case wk.wake <- struct{}{}:
			default:
			}
		}
	}
	fn(0, min(chunk, n))
	for _, lo := range inline {
		fn(lo, min(lo+chunk, n))
	}
	// Poll for the workers' chunks as long as workers poll for work, then
	// block (so that a process sharing its cores does not spin).
	poll(func() bool { return pending.Load() == 0 })
	wg.Wait()
}
