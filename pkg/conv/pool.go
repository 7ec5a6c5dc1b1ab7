package conv

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Scratch buffers (im2col columns, padded planes, partial sums) come from
// pools bucketed by element size and power-of-two capacity, so steady-state
// calls allocate nothing large.
var (
	pool4 [64]sync.Pool // *[]T with 4-byte T, by log2 of capacity
	pool8 [64]sync.Pool // *[]T with 8-byte T
	poolI [64]sync.Pool // *[]int
)

func sizeClass(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// getBuf returns a scratch slice of length n with unspecified contents.
func getBuf[T Float](n int) *[]T {
	c := sizeClass(n)
	pl := &pool8[c]
	if unsafe.Sizeof(T(0)) == 4 {
		pl = &pool4[c]
	}
	if v, ok := pl.Get().(*[]T); ok {
		*v = (*v)[:n]
		return v
	}
	b := make([]T, n, 1<<c)
	return &b
}

// putBuf returns a slice obtained from getBuf to its pool.
func putBuf[T Float](b *[]T) {
	c := sizeClass(cap(*b))
	if unsafe.Sizeof(T(0)) == 4 {
		pool4[c].Put(b)
	} else {
		pool8[c].Put(b)
	}
}

// getZeroBuf returns a zeroed scratch slice of length n.
func getZeroBuf[T Float](n int) *[]T {
	b := getBuf[T](n)
	clear(*b)
	return b
}

// getInts returns a scratch []int of length n with unspecified contents.
func getInts(n int) *[]int {
	c := sizeClass(n)
	if v, ok := poolI[c].Get().(*[]int); ok {
		*v = (*v)[:n]
		return v
	}
	b := make([]int, n, 1<<c)
	return &b
}

func putInts(b *[]int) { poolI[sizeClass(cap(*b))].Put(b) }
