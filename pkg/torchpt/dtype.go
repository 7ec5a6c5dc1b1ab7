package torchpt

import (
	"encoding/binary"
	"fmt"
	"math"
)

// elemSize returns the byte size of one element of a dtype name, or 0.
func elemSize(dtype string) int {
	switch dtype {
	case "F64", "I64":
		return 8
	case "F32", "I32":
		return 4
	case "F16", "BF16", "I16":
		return 2
	case "I8", "U8", "BOOL":
		return 1
	}
	return 0
}

// NumElements returns the product of the shape (1 for a 0-d tensor).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	}
	v := float32(mant) * (1.0 / (1 << 24)) // zero or subnormal, exact
	if sign != 0 {
		v = -v
	}
	return v
}

// Float64 returns the elements converted to float64 (exact except for
// 64-bit integers beyond 2^53).
func (t Tensor) Float64() ([]float64, error) {
	es := elemSize(t.DType)
	if es == 0 {
		return nil, fmt.Errorf("torchpt: unsupported dtype %q", t.DType)
	}
	n := t.NumElements()
	if n < 0 || len(t.Data) != n*es {
		return nil, fmt.Errorf("torchpt: %s tensor of shape %v has %d data bytes, want %d", t.DType, t.Shape, len(t.Data), n*es)
	}
	le := binary.LittleEndian
	d := t.Data
	out := make([]float64, n)
	for i := range out {
		switch t.DType {
		case "F64":
			out[i] = math.Float64frombits(le.Uint64(d[8*i:]))
		case "F32":
			out[i] = float64(math.Float32frombits(le.Uint32(d[4*i:])))
		case "F16":
			out[i] = float64(half(le.Uint16(d[2*i:])))
		case "BF16":
			out[i] = float64(math.Float32frombits(uint32(le.Uint16(d[2*i:])) << 16))
		case "I64":
			out[i] = float64(int64(le.Uint64(d[8*i:])))
		case "I32":
			out[i] = float64(int32(le.Uint32(d[4*i:])))
		case "I16":
			out[i] = float64(int16(le.Uint16(d[2*i:])))
		case "I8":
			out[i] = float64(int8(d[i]))
		case "U8":
			out[i] = float64(d[i])
		case "BOOL":
			if d[i] != 0 {
				out[i] = 1
			}
		}
	}
	return out, nil
}

// Float32 returns the elements converted to float32 (exact for F32, F16,
// BF16 and small integer types; rounded to nearest for F64, I32, I64).
func (t Tensor) Float32() ([]float32, error) {
	if t.DType == "F32" {
		n := t.NumElements()
		if n < 0 || len(t.Data) != 4*n {
			return nil, fmt.Errorf("torchpt: F32 tensor of shape %v has %d data bytes, want %d", t.Shape, len(t.Data), 4*n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return out, nil
	}
	if t.DType == "I64" {
		n := t.NumElements()
		if n < 0 || len(t.Data) != 8*n {
			return nil, fmt.Errorf("torchpt: I64 tensor of shape %v has %d data bytes, want %d", t.Shape, len(t.Data), 8*n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(int64(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
		return out, nil
	}
	f, err := t.Float64()
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(f))
	for i, v := range f {
		out[i] = float32(v)
	}
	return out, nil
}
