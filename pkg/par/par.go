// Package par runs loops over all cores with goroutines.
package par

import (
	"runtime"
	"sync"
)

// Workers is the number of goroutines For uses; it defaults to GOMAXPROCS.
var Workers = runtime.GOMAXPROCS(0)

// For calls fn(lo, hi) on disjoint chunks covering [0, n). Chunks hold at
// least grain items; when the range is small it runs inline.
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
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for lo := 0; lo < n; lo += chunk {
		hi := lo + chunk
		if hi > n {
			hi = n
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
}
