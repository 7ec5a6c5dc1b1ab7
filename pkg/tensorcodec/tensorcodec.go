// Package tensorcodec decodes and encodes the elements of dense row-major
// little-endian tensors: the one element codec behind pkg/npz,
// pkg/safetensors and pkg/torchpt (dtype table, half-float decoding, shape
// checks, conversions). Element types use the safetensors names.
package tensorcodec

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// DType names an element type as spelled in safetensors headers.
type DType string

// The element types of the codec.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size returns the size in bytes of one element of d, or 0 if d is unknown.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// Valid reports whether d is one of the supported element types.
func (d DType) Valid() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// NumElements returns the product of the shape (1 for a scalar, shape []),
// unchecked.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Numel returns the element count of a shape with overflow and sign checks.
func Numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}

// Check verifies that d is known and data has exactly the size shape
// implies; it returns the element count.
func Check(d DType, shape []int, data []byte) (int, error) {
	es := d.Size()
	if es == 0 {
		return 0, fmt.Errorf("unsupported dtype %q", d)
	}
	n, err := Numel(shape)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64/es || len(data) != n*es {
		return 0, fmt.Errorf("dtype %s shape %v needs %d elements of %d bytes but data has %d bytes", d, shape, n, es, len(data))
	}
	return n, nil
}

// Float16ToFloat32 converts IEEE 754 binary16 bits to float32 exactly.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or nan
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = mant * 2^-24, exactly representable in float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// BFloat16ToFloat32 converts bfloat16 bits to float32 exactly.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// floatAt returns the accessor of the elements of a floating-point dtype
// as float64 (exact), or nil for other dtypes.
func floatAt(dt DType, d []byte) func(i int) float64 {
	le := binary.LittleEndian
	switch dt {
	case F64:
		return func(i int) float64 { return math.Float64frombits(le.Uint64(d[8*i:])) }
	case F32:
		return func(i int) float64 { return float64(math.Float32frombits(le.Uint32(d[4*i:]))) }
	case F16:
		return func(i int) float64 { return float64(Float16ToFloat32(le.Uint16(d[2*i:]))) }
	case BF16:
		return func(i int) float64 { return float64(BFloat16ToFloat32(le.Uint16(d[2*i:]))) }
	}
	return nil
}

// intAt returns the accessor of the elements of an integer, U8 or BOOL
// dtype as int64 (exact), or nil for other dtypes.
func intAt(dt DType, d []byte) func(i int) int64 {
	le := binary.LittleEndian
	switch dt {
	case I64:
		return func(i int) int64 { return int64(le.Uint64(d[8*i:])) }
	case I32:
		return func(i int) int64 { return int64(int32(le.Uint32(d[4*i:]))) }
	case I16:
		return func(i int) int64 { return int64(int16(le.Uint16(d[2*i:]))) }
	case I8:
		return func(i int) int64 { return int64(int8(d[i])) }
	case U8:
		return func(i int) int64 { return int64(d[i]) }
	case BOOL:
		return func(i int) int64 {
			if d[i] != 0 {
				return 1
			}
			return 0
		}
	}
	return nil
}

// Float64 returns the elements converted to float64 (exact for every
// dtype except I64 values beyond 2^53).
func Float64(dt DType, shape []int, d []byte) ([]float64, error) {
	return floats[float64](dt, shape, d)
}

// Float32 returns the elements converted to float32: exact for F32, F16,
// BF16, U8, I8, I16 and BOOL; rounded to nearest for F64, I32 and I64.
func Float32(dt DType, shape []int, d []byte) ([]float32, error) {
	if dt == F32 { // the common case, without the accessor
		n, err := Check(dt, shape, d)
		if err != nil {
			return nil, err
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
		return out, nil
	}
	return floats[float32](dt, shape, d)
}

// floats converts every element to T with one rounding.
func floats[T float32 | float64](dt DType, shape []int, d []byte) ([]T, error) {
	n, err := Check(dt, shape, d)
	if err != nil {
		return nil, err
	}
	out := make([]T, n)
	if at := floatAt(dt, d); at != nil {
		for i := range out {
			out[i] = T(at(i))
		}
		return out, nil
	}
	at := intAt(dt, d)
	for i := range out {
		out[i] = T(at(i))
	}
	return out, nil
}

// Int64 returns the elements as int64. Integer, U8 and BOOL tensors convert
// exactly; floating-point tensors convert only if every value is an integer
// in int64 range, otherwise an error is returned.
func Int64(dt DType, shape []int, d []byte) ([]int64, error) {
	n, err := Check(dt, shape, d)
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	if at := intAt(dt, d); at != nil {
		for i := range out {
			out[i] = at(i)
		}
		return out, nil
	}
	at := floatAt(dt, d)
	for i := range out {
		v := at(i)
		if v != math.Trunc(v) || v < -(1<<63) || v >= 1<<63 {
			return nil, fmt.Errorf("%s element %d = %v is not an int64", dt, i, v)
		}
		out[i] = int64(v)
	}
	return out, nil
}

// CopyShape returns a copy of shape.
func CopyShape(shape []int) []int {
	s := make([]int, len(shape))
	copy(s, shape)
	return s
}

// MustMatch panics (with the caller's package name in the message) if
// shape does not hold n values.
func MustMatch(pkg string, shape []int, n int) {
	m, err := Numel(shape)
	if err != nil || m != n {
		panic(fmt.Sprintf("%s: shape %v does not match %d values", pkg, shape, n))
	}
}

// FromFloat32 encodes float32 values.
func FromFloat32(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// FromFloat64 encodes float64 values.
func FromFloat64(v []float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

// FromInt64 encodes int64 values.
func FromInt64(v []int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

// ReadFile opens the file at path and hands it, with its size, to read, the
// reader of a file format. Open errors carry the prefix pkg ("safetensors:
// ..."), read errors the path.
func ReadFile[T any](pkg, path string, read func(r io.ReaderAt, size int64) (T, error)) (T, error) {
	var zero T
	f, size, err := Open(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", pkg, err)
	}
	defer f.Close()
	v, err := read(f, size)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Open opens the file at path for a reader of a file format and returns
// it (for the caller to close) with its size.
func Open(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
