package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// check runs For over n items and verifies every index is visited once.
func check(t *testing.T, n, grain int) {
	t.Helper()
	seen := make([]atomic.Int32, n)
	For(n, grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("n %d grain %d: index %d visited %d times", n, grain, i, c)
		}
	}
}

func TestForCoversOnce(t *testing.T) {
	saved := Workers
	defer func() { Workers = saved }()
	for _, w := range []int{1, 2, 3, 7} {
		Workers = w
		for _, n := range []int{0, 1, 2, 5, 64, 1000, 4097} {
			for _, g := range []int{0, 1, 3, 100, 5000} {
				check(t, n, g)
			}
		}
	}
}

// Nested and concurrent loops finish (a busy worker's chunk runs on the
// caller) and still visit every index once.
func TestForNestedConcurrent(t *testing.T) {
	saved := Workers
	defer func() { Workers = saved }()
	Workers = 4
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 50; r++ {
				var total atomic.Int64
				For(16, 1, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						For(100, 10, func(a, b int) { total.Add(int64(b - a)) })
					}
				})
				if total.Load() != 16*100 {
					t.Errorf("nested loops covered %d items, want 1600", total.Load())
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Chunks run on other goroutines while the caller runs its own: a chunk
// that waits for another one to start completes.
func TestForRunsChunksConcurrently(t *testing.T) {
	saved := Workers
	defer func() { Workers = saved }()
	Workers = 2
	var started atomic.Int32
	var together atomic.Bool
	For(2, 1, func(lo, hi int) {
		started.Add(1)
		if lo != 0 {
			return
		}
		// The caller's chunk waits (up to 10 s) for the other to start.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			if started.Load() == 2 {
				together.Store(true)
				return
			}
			runtime.Gosched()
		}
	})
	if !together.Load() {
		t.Fatal("the second chunk did not start while the first ran")
	}
}

// With polling off (SetSpin(0), as multi-rank runs set it) loops still
// finish and cover every index once; the caller blocks instead of polling.
func TestForWithoutSpin(t *testing.T) {
	saved, savedSpin := Workers, spinWait.Load()
	defer func() { Workers = saved; spinWait.Store(savedSpin) }()
	Workers = 3
	SetSpin(0)
	if !spinFixed && spinWait.Load() != 0 {
		t.Fatal("SetSpin(0) did not take")
	}
	for r := 0; r < 200; r++ {
		check(t, 1000, 10)
	}
}
