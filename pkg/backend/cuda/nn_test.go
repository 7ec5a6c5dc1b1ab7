package cuda

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/pkg/backend/backendtest"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

func f64(t *tensor.Tensor) *tensor.Tensor {
	if t == nil {
		return nil
	}
	return tensor.FromFloat64(t.Shape().Clone(), t.Float64s())
}

// TestBatchNormNVAEShapes checks batch norm in training on NVAE-sized
// inputs (many elements per channel, a mean far from 0, one channel per
// block and many blocks per channel) against the CPU backend in float64
// with the conformance suite's tolerance, and against the CPU backend in
// float32, which the kernels follow formula for formula.
func TestBatchNormNVAEShapes(t *testing.T) {
	b := testBackend(t)
	h := cpu.New()
	r := rand.New(rand.NewSource(3))
	tol := backendtest.Tol("batchnorm", tensor.Float32)
	split, uneven := false, false
	for _, c := range []struct {
		shape  []int
		offset float64
		affine bool
	}{
		{[]int{8, 16, 32, 32}, 3, true},
		{[]int{16, 64, 4, 4}, -1, true},
		{[]int{4, 8, 16, 16}, 10, false},
		{[]int{5, 3, 7}, 0, true},
		{[]int{8, 2, 64, 64}, 3, true},  // several blocks per channel
		{[]int{3, 2, 50, 50}, -4, true}, // and a short last chunk
	} {
		name := fmt.Sprint(c.shape)
		ch := c.shape[1]
		m := tensor.Shape(c.shape).NumElements() / ch
		if splits, chunk := b.bnGrid(m, ch); splits > 1 {
			split = true
			uneven = uneven || m%chunk != 0
		}
		x := randHost(r, c.offset-2, c.offset+2, c.shape...)
		gy := randHost(r, -1, 1, c.shape...)
		var g, be *tensor.Tensor
		if c.affine {
			g, be = randHost(r, 0.5, 1.5, ch), randHost(r, -1, 1, ch)
		}
		eps := 1e-5
		dev := func(t *tensor.Tensor) *tensor.Tensor {
			if t == nil {
				return nil
			}
			return b.FromHost(t)
		}
		y, mean, vr := b.BatchNormTrain(dev(x), dev(g), dev(be), eps)
		gx, gg, gb := b.BatchNormBackward(dev(x), dev(gy), dev(g), mean, vr, eps)
		got := []*tensor.Tensor{y, mean, vr, gx, gg, gb}

		y64, m64, v64 := h.BatchNormTrain(f64(x), f64(g), f64(be), eps)
		gx64, gg64, gb64 := h.BatchNormBackward(f64(x), f64(gy), f64(g), m64, v64, eps)
		y32, m32, v32 := h.BatchNormTrain(x, g, be, eps)
		gx32, gg32, gb32 := h.BatchNormBackward(x, gy, g, m32, v32, eps)
		ref64 := []*tensor.Tensor{y64, m64, v64, gx64, gg64, gb64}
		ref32 := []*tensor.Tensor{y32, m32, v32, gx32, gg32, gb32}
		for i, what := range []string{"y", "mean", "var", "gx", "ggamma", "gbeta"} {
			gv := b.ToHost(got[i]).Float64s()
			compare.Check(t, name+" "+what+" vs float64", gv, ref64[i].Float64s(), tol, compare.ScaleRelative)
			compare.Check(t, name+" "+what+" vs CPU float32", gv, ref32[i].Float64s(), 1e-6, compare.ScaleRelative)
		}
	}
	if !split || !uneven {
		t.Errorf("no case split a channel over blocks (%v) with a short last chunk (%v)", split, uneven)
	}
}

// TestAllFinite puts one NaN, +Inf or −Inf at a time into one of many
// tensors (first, middle, last element; small and large tensors) and
// checks that AllFinite sees it, and that all-finite sets pass.
func TestAllFinite(t *testing.T) {
	b := testBackend(t)
	r := rand.New(rand.NewSource(5))
	shapes := [][]int{{3}, {17, 5}, {1}, {64, 33}, {2, 3, 4, 5}, {7000}}
	host := make([]*tensor.Tensor, len(shapes))
	for i, s := range shapes {
		host[i] = randHost(r, -1e30, 1e30, s...)
	}
	devs := func() []*tensor.Tensor {
		out := []*tensor.Tensor{nil}
		for _, h := range host {
			out = append(out, b.FromHost(h))
		}
		return append(out, b.FromHost(tensor.FromFloat32(tensor.Shape{0}, nil)))
	}
	if !b.AllFinite(devs()) {
		t.Fatal("finite tensors reported non-finite")
	}
	if !b.AllFinite(nil) {
		t.Fatal("no tensors reported non-finite")
	}
	big := float32(math.MaxFloat32)
	host[1].F32()[0] = big
	host[1].F32()[1] = -big
	if !b.AllFinite(devs()) {
		t.Fatal("±MaxFloat32 reported non-finite")
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		for ti, h := range host {
			for _, at := range []int{0, h.Len() / 2, h.Len() - 1} {
				old := h.F32()[at]
				h.F32()[at] = bad
				if b.AllFinite(devs()) {
					t.Errorf("%v at %d of tensor %d (%v) not found", bad, at, ti, h.Shape())
				}
				h.F32()[at] = old
			}
		}
	}
	if !b.AllFinite(devs()) {
		t.Fatal("finite tensors reported non-finite after the checks")
	}
}

// TestAdamaxMatchesCPU: the device step rounds as the CPU backend's does,
// so p, m and u agree bit for bit (no fused multiply-adds).
func TestAdamaxMatchesCPU(t *testing.T) {
	b := testBackend(t)
	h := cpu.New()
	r := rand.New(rand.NewSource(9))
	n := 5003
	p, g := randHost(r, -1, 1, n), randHost(r, -1, 1, n)
	m, u := randHost(r, -0.1, 0.1, n), randHost(r, 0, 0.02, n)
	dp, dm, du := b.FromHost(p), b.FromHost(m), b.FromHost(u)
	for step := 0; step < 3; step++ {
		b.AdamaxStep(dp, b.FromHost(g), dm, du, 0.01, 0.9, 0.999, 1e-3, 3e-4)
		h.AdamaxStep(p, g, m, u, 0.01, 0.9, 0.999, 1e-3, 3e-4)
	}
	for _, c := range []struct {
		what      string
		got, want *tensor.Tensor
	}{{"p", dp, p}, {"m", dm, m}, {"u", du, u}} {
		got, want := b.ToHost(c.got).F32(), c.want.F32()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s[%d] = %g, CPU %g", c.what, i, got[i], want[i])
			}
		}
	}
}
