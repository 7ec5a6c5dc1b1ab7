package formula

import (
	"math"
	"strconv"
	"testing"
)

// The reference values of the FID test-data README, section 1.
func TestParts(t *testing.T) {
	if h := FNV1a64("a"); h != 0xaf63dc4c8601ec8c {
		t.Errorf("FNV-1a 64 of %q = %#x, want 0xaf63dc4c8601ec8c", "a", h)
	}
	for i, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4} {
		if z := SplitMix64(0, uint64(i)); z != want {
			t.Errorf("SplitMix64(0, %d) = %#x, want %#x", i, z, want)
		}
	}
	u := Uniform(FNV1a64("Conv2d_1a_3x3.conv.weight"), 0)
	if got := strconv.FormatFloat(u, 'g', 17, 64); got != "0.33879617009907581" {
		t.Errorf("u of element 0 = %s, want 0.33879617009907581", got)
	}
}

func TestSelfTestValues(t *testing.T) {
	cases := []struct {
		key   string
		shape []int
		hash  uint64
		first []string // elements 0..2, float32 printed with 9 significant digits
	}{
		{key: "Conv2d_1a_3x3.conv.weight", shape: []int{32, 3, 3, 3}, hash: 0xb233eed710c5459d,
			first: []string{"-0.151984423", "0.121422492", "-0.304633617"}},
		{key: "fc.bias", shape: []int{1008}, hash: 0x145e200af8fe4b85,
			first: []string{"-0.000446973863", "-0.000385363615", "-0.0043987385"}},
	}
	for _, c := range cases {
		if h := FNV1a64(c.key); h != c.hash {
			t.Errorf("%s: hash %#x, want %#x", c.key, h, c.hash)
		}
		v, ok := Tensor(c.key, c.shape)
		if !ok {
			t.Fatalf("%s: no formula", c.key)
		}
		n := 1
		for _, d := range c.shape {
			n *= d
		}
		if len(v) != n {
			t.Fatalf("%s: %d values, want %d", c.key, len(v), n)
		}
		for i, want := range c.first {
			if got := strconv.FormatFloat(float64(v[i]), 'g', 9, 32); got != want {
				t.Errorf("%s[%d] = %s, want %s", c.key, i, got, want)
			}
		}
	}
}

// TestRanges checks every kind against its documented interval.
func TestRanges(t *testing.T) {
	cases := []struct {
		key    string
		shape  []int
		lo, hi float64
	}{
		{key: "x.conv.weight", shape: []int{8, 4, 3, 3}, lo: -math.Sqrt(6.0 / 36), hi: math.Sqrt(6.0 / 36)},
		{key: "x.bn.weight", shape: []int{500}, lo: 0.8, hi: 1.2},
		{key: "x.bn.running_var", shape: []int{500}, lo: 0.8, hi: 1.2},
		{key: "x.bn.bias", shape: []int{500}, lo: 0, hi: 0.2},
		{key: "x.bn.running_mean", shape: []int{500}, lo: -0.1, hi: 0.1},
		{key: "fc.weight", shape: []int{10, 50}, lo: -0.01, hi: 0.01},
	}
	for _, c := range cases {
		v, ok := Tensor(c.key, c.shape)
		if !ok || len(v) == 0 {
			t.Fatalf("%s: no values", c.key)
		}
		for i, x := range v {
			if !(float64(x) >= f32(c.lo) && float64(x) <= f32(c.hi)) {
				t.Fatalf("%s[%d] = %v outside [%v, %v]", c.key, i, x, c.lo, c.hi)
			}
		}
	}
	for _, key := range []string{"x.bn.num_batches_tracked", "x.unknown"} {
		if _, ok := Tensor(key, []int{}); ok {
			t.Errorf("%s: has a formula, want none", key)
		}
	}
}

// f32 is x rounded to float32 (a value just inside the float64 interval
// may round onto its end).
func f32(x float64) float64 { return float64(float32(x)) }
