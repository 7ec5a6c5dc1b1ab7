package cpu

import (
	"math"
	"sync"
	"unsafe"

	"github.com/nvaego/nvae/pkg/tensor"
)

// Large host buffers given back with Release are kept here and handed out
// again by alloc and allocFull. A fresh large allocation costs far more
// than the element-wise kernel that fills it (the runtime zeroes it, and
// memory new to the process page-faults on first touch), so inference,
// which can tell when an intermediate dies, recycles them instead.
const (
	// poolMinElems is the least length worth recycling.
	poolMinElems = 1 << 12
	// poolMaxBytes bounds the memory the pool holds; beyond it, released
	// buffers are left to the garbage collector.
	poolMaxBytes = 1 << 30
)

// bufPool keeps released buffers by element size and length (float32 and
// float64 buffers never share a key).
type bufPool struct {
	mu    sync.Mutex
	free  map[poolKey][]unsafe.Pointer
	bytes int
}

type poolKey struct{ elem, n int }

var pool = bufPool{free: map[poolKey][]unsafe.Pointer{}}

func keyOf[T Float](n int) poolKey {
	var z T
	return poolKey{elem: int(unsafe.Sizeof(z)), n: n}
}

// get returns a recycled buffer of exactly n elements, or nil.
func get[T Float](n int) []T {
	if n < poolMinElems {
		return nil
	}
	k := keyOf[T](n)
	pool.mu.Lock()
	defer pool.mu.Unlock()
	l := pool.free[k]
	if len(l) == 0 {
		return nil
	}
	p := l[len(l)-1]
	pool.free[k] = l[:len(l)-1]
	pool.bytes -= k.elem * n
	return unsafe.Slice((*T)(p), n)
}

// put recycles b unless it is small, the pool is full or b is already in
// it (a double release).
func put[T Float](b []T) {
	n := len(b)
	if n < poolMinElems {
		return
	}
	k := keyOf[T](n)
	p := unsafe.Pointer(unsafe.SliceData(b))
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.bytes+k.elem*n > poolMaxBytes {
		return
	}
	for _, o := range pool.free[k] {
		if o == p {
			return
		}
	}
	pool.free[k] = append(pool.free[k], p)
	pool.bytes += k.elem * n
}

func wrap[T Float](shape tensor.Shape, b []T) *tensor.Tensor {
	switch v := any(b).(type) {
	case []float32:
		return tensor.New(shape, tensor.HostF32(v))
	default:
		return tensor.New(shape, tensor.HostF64(any(b).([]float64)))
	}
}

// allocFull returns a tensor whose contents are arbitrary: for kernels that
// overwrite every element of their output.
func allocFull[T Float](shape tensor.Shape) *tensor.Tensor {
	n := shape.NumElements()
	b := get[T](n)
	if b == nil {
		b = make([]T, n)
	}
	if poisonFull {
		nan := T(math.NaN())
		for i := range b {
			b[i] = nan
		}
	}
	return wrap(shape, b)
}

// poisonFull fills every allocFull result with NaN (tests: a kernel that
// leaves part of such an output unwritten then shows up).
var poisonFull = false

// Release implements backend.Releaser: t's storage (host memory of a
// tensor this backend made) is recycled for later results. The caller
// must not use t, or any tensor sharing its storage, afterwards.
func (*Backend) Release(t *tensor.Tensor) {
	if t == nil {
		return
	}
	switch s := t.Storage().(type) {
	case tensor.HostF32:
		put([]float32(s))
	case tensor.HostF64:
		put([]float64(s))
	}
}

// allocFullDT is allocFull by dtype.
func allocFullDT(dt tensor.DType, shape tensor.Shape) *tensor.Tensor {
	if dt == tensor.Float32 {
		return allocFull[float32](shape)
	}
	return allocFull[float64](shape)
}
