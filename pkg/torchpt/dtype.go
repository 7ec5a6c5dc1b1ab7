package torchpt

import (
	"fmt"

	tc "github.com/nvaego/nvae/pkg/tensorcodec"
)

// NumElements returns the product of the shape (1 for a 0-d tensor).
func (t Tensor) NumElements() int { return tc.NumElements(t.Shape) }

// Float64 returns the elements converted to float64 (exact except for
// 64-bit integers beyond 2^53).
func (t Tensor) Float64() ([]float64, error) {
	v, err := tc.Float64(tc.DType(t.DType), t.Shape, t.Data)
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	return v, nil
}

// Float32 returns the elements converted to float32 (exact for F32, F16,
// BF16 and small integer types; rounded to nearest for F64, I32, I64).
func (t Tensor) Float32() ([]float32, error) {
	v, err := tc.Float32(tc.DType(t.DType), t.Shape, t.Data)
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	return v, nil
}
