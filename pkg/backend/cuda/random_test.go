package cuda

import (
	"fmt"
	"math"
	"testing"

	"github.com/nvaego/nvae/pkg/rng"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestRandMatchesRNG compares the device streams with pkg/rng at offsets
// and lengths that start and end mid-pair and mid-block: uniforms bit for
// bit, normals bit for bit but for at most one value per draw, which may
// differ by one float32 ulp (float64 log/cos/sin of two math libraries may
// differ in the last bit, visible after rounding only at a float32
// rounding boundary).
func TestRandMatchesRNG(t *testing.T) {
	b := testBackend(t)
	cases := []struct {
		seed, off uint64
		shape     []int
	}{
		{1, 0, []int{1}},
		{1, 1, []int{1}},
		{1, 3, []int{2}},
		{7, 5, []int{3, 3}},
		{42, 2, []int{5}},
		{123456789, 13, []int{7, 11, 13}},
		{0xDEADBEEFCAFEF00D, 1<<32 - 3, []int{2, 1001}}, // counter crosses 2^32 elements
		{3, 1<<34 + 1, []int{999}},                      // high counter word
		{99, 6, []int{4096 + 3}},
	}
	for _, c := range cases {
		n := tensor.Shape(c.shape).NumElements()
		name := fmt.Sprintf("seed=%d off=%d n=%d", c.seed, c.off, n)
		g := rng.New(c.seed)
		g.SetState(rng.State{Seed: c.seed, Offset: c.off})
		wantU := make([]float32, n)
		g.Uniform32(wantU)
		g.SetState(rng.State{Seed: c.seed, Offset: c.off})
		wantN := make([]float32, n)
		g.Normal32(wantN)

		u := b.RandUniform(tensor.Float32, c.seed, c.off, c.shape...)
		z := b.RandNormal(tensor.Float32, c.seed, c.off, c.shape...)
		if !u.Shape().Equal(tensor.Shape(c.shape)) || !z.Shape().Equal(tensor.Shape(c.shape)) {
			t.Fatalf("%s: shapes %v, %v", name, u.Shape(), z.Shape())
		}
		gotU, gotN := b.ToHost(u).F32(), b.ToHost(z).F32()
		for i := range wantU {
			if math.Float32bits(gotU[i]) != math.Float32bits(wantU[i]) {
				t.Fatalf("%s: uniform %d = %g, want %g", name, i, gotU[i], wantU[i])
			}
		}
		diff := 0
		for i := range wantN {
			if gotN[i] == wantN[i] {
				continue
			}
			diff++
			ulp := math.Abs(float64(math.Nextafter32(wantN[i], float32(math.Inf(1))) - wantN[i]))
			if math.Abs(float64(gotN[i]-wantN[i])) > ulp || diff > 1 {
				t.Fatalf("%s: normal %d = %g, want %g (%d differences)", name, i, gotN[i], wantN[i], diff)
			}
		}
	}
}

// TestRandEmpty: an empty draw is an empty tensor.
func TestRandEmpty(t *testing.T) {
	b := testBackend(t)
	if u := b.RandNormal(tensor.Float32, 1, 3, 0, 4); u.Len() != 0 || !u.Shape().Equal(tensor.Shape{0, 4}) {
		t.Fatalf("empty draw: %v", u.Shape())
	}
}
