package tensorcodec

import (
	"math"
	"testing"
)

func TestConversions(t *testing.T) {
	// F16: one, negative zero, the smallest subnormal, infinity.
	f16 := []byte{0x00, 0x3c, 0x00, 0x80, 0x01, 0x00, 0x00, 0x7c}
	v, err := Float64(F16, []int{4}, f16)
	if err != nil || v[0] != 1 || !math.Signbit(v[1]) || v[1] != 0 || v[2] != math.Ldexp(1, -24) || !math.IsInf(v[3], 1) {
		t.Fatalf("F16: %v %v", v, err)
	}
	// I32 2^24+1 rounds to 2^24 in float32; I64 beyond 2^53 stays exact in Int64.
	i64 := FromInt64([]int64{1<<53 + 1})
	if got, _ := Int64(I64, []int{1}, i64); got[0] != 1<<53+1 {
		t.Errorf("I64 = %v", got)
	}
	if got, _ := Float32(I32, []int{1}, []byte{1, 0, 0, 1}); got[0] != 1<<24 {
		t.Errorf("I32 → float32 = %v", got)
	}
	if _, err := Int64(F64, []int{1}, FromFloat64([]float64{1.5})); err == nil {
		t.Error("Int64 of 1.5 succeeded")
	}
	if got, _ := Float32(F64, []int{2}, FromFloat64([]float64{0.1, -2})); got[0] != float32(0.1) || got[1] != -2 {
		t.Errorf("F64 → float32 = %v", got)
	}
	if got, _ := Float64(BOOL, []int{2}, []byte{0, 7}); got[0] != 0 || got[1] != 1 {
		t.Errorf("BOOL = %v", got)
	}
	for _, bad := range []struct {
		dt    DType
		shape []int
		n     int
	}{{"X", []int{1}, 1}, {F32, []int{-1}, 0}, {F32, []int{2}, 4}, {F64, []int{1 << 32, 1 << 32}, 0}} {
		if _, err := Check(bad.dt, bad.shape, make([]byte, bad.n)); err == nil {
			t.Errorf("Check(%v) succeeded", bad)
		}
	}
}
