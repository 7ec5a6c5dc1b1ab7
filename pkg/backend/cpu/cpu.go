// Package cpu is the pure-Go reference backend. Every kernel is generic over
// float32 and float64 (the float64 path serves gradient checks and oracle
// comparisons) and runs over all cores with goroutines.
package cpu

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Float is the set of element types the kernels are generic over.
type Float interface{ ~float32 | ~float64 }

// Backend is the CPU backend. The zero value is ready to use.
type Backend struct{}

// New returns the CPU backend.
func New() *Backend { return &Backend{} }

var _ backend.Backend = (*Backend)(nil)

// Name implements backend.Backend.
func (*Backend) Name() string { return "cpu" }

// grain is the minimum number of elements per goroutine for element-wise work.
const grain = 1 << 14

func host[T Float](t *tensor.Tensor) []T {
	switch s := t.Storage().(type) {
	case tensor.HostF32:
		if v, ok := any([]float32(s)).([]T); ok {
			return v
		}
	case tensor.HostF64:
		if v, ok := any([]float64(s)).([]T); ok {
			return v
		}
	}
	panic(fmt.Sprintf("cpu: tensor %v is not host %T data", t, *new(T)))
}

func alloc[T Float](shape tensor.Shape) *tensor.Tensor {
	n := shape.NumElements()
	if b := get[T](n); b != nil {
		clear(b)
		return wrap(shape, b)
	}
	var z T
	switch any(z).(type) {
	case float32:
		return tensor.New(shape, make(tensor.HostF32, n))
	default:
		return tensor.New(shape, make(tensor.HostF64, n))
	}
}

func checkHost(ts ...*tensor.Tensor) tensor.DType {
	dt := ts[0].DType()
	for _, t := range ts {
		if t == nil {
			continue
		}
		if !t.OnHost() {
			panic("cpu: tensor is not in host memory")
		}
		if t.DType() != dt {
			panic(fmt.Sprintf("cpu: mixed dtypes %v and %v", dt, t.DType()))
		}
	}
	return dt
}

// Zeros implements backend.Backend.
func (*Backend) Zeros(dt tensor.DType, shape ...int) *tensor.Tensor { return tensor.Host(dt, shape...) }

// Full implements backend.Backend.
func (*Backend) Full(dt tensor.DType, v float64, shape ...int) *tensor.Tensor {
	t := tensor.Host(dt, shape...)
	switch dt {
	case tensor.Float32:
		s := t.F32()
		for i := range s {
			s[i] = float32(v)
		}
	default:
		s := t.F64()
		for i := range s {
			s[i] = v
		}
	}
	return t
}

// FromHost implements backend.Backend.
func (*Backend) FromHost(t *tensor.Tensor) *tensor.Tensor { checkHost(t); return t }

// ToHost implements backend.Backend.
func (*Backend) ToHost(t *tensor.Tensor) *tensor.Tensor { checkHost(t); return t }

// Copy implements backend.Backend.
func (*Backend) Copy(t *tensor.Tensor) *tensor.Tensor {
	switch t.DType() {
	case tensor.Float32:
		return tensor.FromFloat32(t.Shape(), append([]float32(nil), t.F32()...))
	default:
		return tensor.FromFloat64(t.Shape(), append([]float64(nil), t.F64()...))
	}
}

// Cast implements backend.Backend.
func (b *Backend) Cast(t *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	if t.DType() == dt {
		return b.Copy(t)
	}
	if dt == tensor.Float32 {
		return tensor.FromFloat32(t.Shape(), t.Float32s())
	}
	return tensor.FromFloat64(t.Shape(), t.Float64s())
}

// AddInto implements backend.Backend.
func (*Backend) AddInto(dst, src *tensor.Tensor) {
	checkHost(dst, src)
	if !dst.Shape().Equal(src.Shape()) {
		panic(fmt.Sprintf("cpu: AddInto shapes %v and %v", dst.Shape(), src.Shape()))
	}
	if dst.DType() == tensor.Float32 {
		addInto(dst.F32(), src.F32())
	} else {
		addInto(dst.F64(), src.F64())
	}
}

func addInto[T Float](d, s []T) {
	parFor(len(d), func(lo, hi int) {
		d, s := d[lo:hi], s[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}
