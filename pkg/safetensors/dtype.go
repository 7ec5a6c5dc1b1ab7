// Package safetensors reads and writes the safetensors tensor file format:
// an 8-byte little-endian header length N, N bytes of JSON header, then the
// raw little-endian tensor data. The header maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative to the
// start of the data section) and may carry a "__metadata__" string map.
// The element codec is pkg/tensorcodec.
package safetensors

import tc "github.com/nvaego/nvae/pkg/tensorcodec"

// DType names the element type of a tensor as spelled in safetensors headers.
type DType = tc.DType

// The element types this package understands.
const (
	F64  = tc.F64
	F32  = tc.F32
	F16  = tc.F16
	BF16 = tc.BF16
	I64  = tc.I64
	I32  = tc.I32
	I16  = tc.I16
	I8   = tc.I8
	U8   = tc.U8
	BOOL = tc.BOOL
)

// Float16ToFloat32 converts IEEE 754 binary16 bits to float32 exactly.
func Float16ToFloat32(h uint16) float32 { return tc.Float16ToFloat32(h) }

// BFloat16ToFloat32 converts bfloat16 bits to float32 exactly.
func BFloat16ToFloat32(b uint16) float32 { return tc.BFloat16ToFloat32(b) }

// Tensor is a dense row-major tensor whose Data holds the raw little-endian
// bytes of its elements.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// NumElements returns the product of the shape (1 for a scalar, shape []).
func (t Tensor) NumElements() int { return tc.NumElements(t.Shape) }

// check verifies that the dtype is known and Data has exactly the size the
// shape implies; it returns the element count.
func (t Tensor) check() (int, error) { return tc.Check(t.DType, t.Shape, t.Data) }

// Float64 returns the elements converted to float64 (exact for every
// supported dtype except I64 values beyond 2^53).
func (t Tensor) Float64() ([]float64, error) { return tc.Float64(t.DType, t.Shape, t.Data) }

// Float32 returns the elements converted to float32: exact for F32, F16,
// BF16, U8, I8, I16 and BOOL; rounded to nearest for F64, I32 and I64.
func (t Tensor) Float32() ([]float32, error) { return tc.Float32(t.DType, t.Shape, t.Data) }

// Int64 returns the elements as int64. Integer, U8 and BOOL tensors convert
// exactly; floating-point tensors convert only if every value is an integer
// in int64 range, otherwise an error is returned.
func (t Tensor) Int64() ([]int64, error) { return tc.Int64(t.DType, t.Shape, t.Data) }

// FromFloat32 builds an F32 tensor; it panics if len(v) does not match shape.
func FromFloat32(shape []int, v []float32) Tensor {
	tc.MustMatch("safetensors", shape, len(v))
	return Tensor{DType: F32, Shape: tc.CopyShape(shape), Data: tc.FromFloat32(v)}
}

// FromFloat64 builds an F64 tensor; it panics if len(v) does not match shape.
func FromFloat64(shape []int, v []float64) Tensor {
	tc.MustMatch("safetensors", shape, len(v))
	return Tensor{DType: F64, Shape: tc.CopyShape(shape), Data: tc.FromFloat64(v)}
}

// FromInt64 builds an I64 tensor; it panics if len(v) does not match shape.
func FromInt64(shape []int, v []int64) Tensor {
	tc.MustMatch("safetensors", shape, len(v))
	return Tensor{DType: I64, Shape: tc.CopyShape(shape), Data: tc.FromInt64(v)}
}

// FromUint8 builds a U8 tensor; it panics if len(v) does not match shape.
func FromUint8(shape []int, v []uint8) Tensor {
	tc.MustMatch("safetensors", shape, len(v))
	return Tensor{DType: U8, Shape: tc.CopyShape(shape), Data: append(make([]byte, 0, len(v)), v...)}
}
