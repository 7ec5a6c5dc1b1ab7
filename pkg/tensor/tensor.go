// Package tensor holds shapes, element types and storage placement. It knows
// nothing about computation: kernels live behind the backend interface.
package tensor

import (
	"fmt"
	"strings"
)

// DType is an element type. Float32 is the working type; Float64 exists for
// gradient checks and oracle comparisons.
type DType uint8

// Element types.
const (
	Float32 DType = iota
	Float64
)

// Size is the element size in bytes.
func (d DType) Size() int {
	if d == Float64 {
		return 8
	}
	return 4
}

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// Shape is a list of dimension sizes, outermost first (NCHW for images).
type Shape []int

// NumElements is the product of the dimensions (1 for a scalar).
func (s Shape) NumElements() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether two shapes are identical.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of the shape.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Strides returns the row-major (C-order) element strides.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Storage is the memory behind a tensor: a host slice or a device buffer.
type Storage interface {
	DType() DType
	Len() int
	// OnHost reports whether the elements are addressable Go memory.
	OnHost() bool
}

// HostF32 is float32 host storage.
type HostF32 []float32

// DType implements Storage.
func (HostF32) DType() DType { return Float32 }

// Len implements Storage.
func (h HostF32) Len() int { return len(h) }

// OnHost implements Storage.
func (HostF32) OnHost() bool { return true }

// HostF64 is float64 host storage.
type HostF64 []float64

// DType implements Storage.
func (HostF64) DType() DType { return Float64 }

// Len implements Storage.
func (h HostF64) Len() int { return len(h) }

// OnHost implements Storage.
func (HostF64) OnHost() bool { return true }

// Tensor is a dense, contiguous, row-major array. Tensors are values that
// kernels never mutate in place unless a kernel says so.
type Tensor struct {
	shape Shape
	st    Storage
}

// New wraps storage in a tensor; the storage length must match the shape.
func New(shape Shape, st Storage) *Tensor {
	if shape.NumElements() != st.Len() {
		panic(fmt.Sprintf("tensor: shape %v needs %d elements, storage has %d", shape, shape.NumElements(), st.Len()))
	}
	return &Tensor{shape: shape.Clone(), st: st}
}

// Host allocates a zeroed host tensor.
func Host(dt DType, shape ...int) *Tensor {
	n := Shape(shape).NumElements()
	if dt == Float64 {
		return New(shape, make(HostF64, n))
	}
	return New(shape, make(HostF32, n))
}

// FromFloat32 wraps a float32 slice (not copied).
func FromFloat32(shape []int, v []float32) *Tensor { return New(shape, HostF32(v)) }

// FromFloat64 wraps a float64 slice (not copied).
func FromFloat64(shape []int, v []float64) *Tensor { return New(shape, HostF64(v)) }

// Scalar returns a host scalar of the given type.
func Scalar(dt DType, v float64) *Tensor {
	t := Host(dt)
	t.Set(0, v)
	return t
}

// Shape returns the shape (do not modify).
func (t *Tensor) Shape() Shape { return t.shape }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len is the number of elements.
func (t *Tensor) Len() int { return t.st.Len() }

// DType is the element type.
func (t *Tensor) DType() DType { return t.st.DType() }

// Storage returns the underlying storage.
func (t *Tensor) Storage() Storage { return t.st }

// OnHost reports whether the data is in Go memory.
func (t *Tensor) OnHost() bool { return t.st.OnHost() }

// Reshape returns a tensor sharing storage with a new shape; one dimension
// may be -1.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	return &Tensor{shape: ResolveShape(t.Len(), shape), st: t.st}
}

// ResolveShape fills in a -1 dimension and checks the element count.
func ResolveShape(n int, shape []int) Shape {
	s := Shape(shape).Clone()
	known, neg := 1, -1
	for i, d := range s {
		if d == -1 {
			if neg >= 0 {
				panic("tensor: more than one -1 in reshape")
			}
			neg = i
			continue
		}
		known *= d
	}
	if neg >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("tensor: cannot reshape %d elements to %v", n, shape))
		}
		s[neg] = n / known
	}
	if s.NumElements() != n {
		panic(fmt.Sprintf("tensor: cannot reshape %d elements to %v", n, shape))
	}
	return s
}

// F32 returns the float32 host data (panics for other storage).
func (t *Tensor) F32() []float32 { return []float32(t.st.(HostF32)) }

// F64 returns the float64 host data (panics for other storage).
func (t *Tensor) F64() []float64 { return []float64(t.st.(HostF64)) }

// At reads element i of a host tensor as float64.
func (t *Tensor) At(i int) float64 {
	switch s := t.st.(type) {
	case HostF32:
		return float64(s[i])
	case HostF64:
		return s[i]
	}
	panic("tensor: At on device storage")
}

// Set writes element i of a host tensor.
func (t *Tensor) Set(i int, v float64) {
	switch s := t.st.(type) {
	case HostF32:
		s[i] = float32(v)
	case HostF64:
		s[i] = v
	default:
		panic("tensor: Set on device storage")
	}
}

// Float64s returns a copy of host data as float64.
func (t *Tensor) Float64s() []float64 {
	out := make([]float64, t.Len())
	switch s := t.st.(type) {
	case HostF32:
		for i, v := range s {
			out[i] = float64(v)
		}
	case HostF64:
		copy(out, s)
	default:
		panic("tensor: Float64s on device storage")
	}
	return out
}

// Float32s returns a copy of host data as float32.
func (t *Tensor) Float32s() []float32 {
	out := make([]float32, t.Len())
	switch s := t.st.(type) {
	case HostF32:
		copy(out, s)
	case HostF64:
		for i, v := range s {
			out[i] = float32(v)
		}
	default:
		panic("tensor: Float32s on device storage")
	}
	return out
}

func (t *Tensor) String() string {
	return fmt.Sprintf("Tensor(%v, %v)", t.DType(), t.shape)
}
