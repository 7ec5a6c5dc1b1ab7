package cuda

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// The conformance suite checks every op on one small shape; these tests
// compare the reduction and layout kernels with the CPU backend on NVAE's
// shapes and on the paths the small shapes do not reach: ranges split over
// several blocks, column reductions, size-1 axes, NaN, odd image sizes,
// outputs written into recycled (garbage) memory.

func layRand(r *rand.Rand, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.Shape(shape).NumElements())
	for i := range v {
		v[i] = float32(2*r.Float64() - 1)
	}
	return tensor.FromFloat32(shape, v)
}

// layDirty fills and releases a few buffers of n elements so that the next
// allocations of that size get memory holding garbage.
func layDirty(b *Backend, n int) {
	var ts []*tensor.Tensor
	for range 4 {
		ts = append(ts, b.Full(tensor.Float32, 7, n))
	}
	for _, t := range ts {
		b.Release(t)
	}
}

// laySame checks got (device) against want (CPU backend) within tol under mode.
func laySame(t *testing.T, b *Backend, what string, got, want *tensor.Tensor, tol float64, mode compare.Mode) {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
		return
	}
	compare.Check(t, what, b.ToHost(got).Float64s(), want.Float64s(), tol, mode)
}

// layTol is the tolerance of kernels that repeat the CPU backend's float64
// expressions: exact on the emulator (g++ does not fuse multiply-adds),
// an ulp or two on a GPU, whose compiler may.
func layTol() float64 {
	if device == cu.DeviceReal {
		return 3e-7
	}
	return 0
}

func TestReduceShapes(t *testing.T) {
	b, c := testBackend(t), cpu.New()
	r := rand.New(rand.NewSource(1))
	cases := []struct {
		shape []int
		axes  [][]int
	}{
		{[]int{8, 16, 32, 32}, [][]int{nil, {0, 2, 3}, {1, 2, 3}, {0}, {1}, {3}, {2, 3}, {0, 1}, {0, 2}, {1, 3}}},
		{[]int{4096, 3}, [][]int{{0}, {1}, nil}},
		{[]int{3, 5000}, [][]int{{0}, {1}}},
		{[]int{50000}, [][]int{nil, {0}}},
		{[]int{2, 1, 3}, [][]int{{1}, {0, 1}, {}}},
		{[]int{1}, [][]int{nil, {}}},
		{[]int{16, 64, 1, 1}, [][]int{{0, 2, 3}, {1, 2, 3}}},
		{[]int{2, 700, 3}, [][]int{{1}, {0, 1}}},
	}
	for _, tc := range cases {
		xh := layRand(r, tc.shape...)
		x := b.FromHost(xh)
		for _, axes := range tc.axes {
			for _, keep := range []bool{false, true} {
				what := fmt.Sprintf("%v axes %v keep %v", tc.shape, axes, keep)
				// Both accumulate in float64: at most a rounding apart.
				laySame(t, b, "Sum "+what, b.Sum(x, axes, keep), c.Sum(xh, axes, keep), 2.4e-7, compare.Elementwise(0))
				laySame(t, b, "MaxReduce "+what, b.MaxReduce(x, axes, keep), c.MaxReduce(xh, axes, keep), 0, compare.Absolute)
			}
		}
	}
	for _, sc := range []struct{ from, to []int }{
		{[]int{8, 64, 8, 8}, []int{1, 64, 1, 1}},
		{[]int{32, 64}, []int{64}},
		{[]int{8, 4, 16, 16}, []int{1, 1, 16, 16}},
		{[]int{8, 4, 16, 16}, []int{4, 1, 1}},
		{[]int{8, 4, 16, 16}, []int{1}},
	} {
		xh := layRand(r, sc.from...)
		laySame(t, b, fmt.Sprintf("SumTo %v from %v", sc.to, sc.from), b.SumTo(b.FromHost(xh), sc.to), c.SumTo(xh, sc.to), 2.4e-7, compare.Elementwise(0))
	}
}

// A NaN in a reduced range gives NaN on every path (thread, warp, block,
// split block, column); the other outputs are unaffected.
func TestMaxReduceNaN(t *testing.T) {
	b := testBackend(t)
	for _, tc := range []struct {
		shape []int
		axes  []int
	}{
		{[]int{6, 20}, []int{1}}, {[]int{6, 500}, []int{1}}, {[]int{6, 5000}, []int{1}}, {[]int{2, 60000}, []int{1}},
		{[]int{500, 6}, []int{0}}, {[]int{5000, 6}, []int{0}},
	} {
		r := rand.New(rand.NewSource(2))
		xh := layRand(r, tc.shape...)
		v := xh.Float32s()
		nanAt := len(v) / 2
		v[nanAt] = float32(math.NaN())
		xh = tensor.FromFloat32(tc.shape, v)
		got := b.ToHost(b.MaxReduce(b.FromHost(xh), tc.axes, false)).Float64s()
		want := cpu.New().MaxReduce(xh, tc.axes, false).Float64s()
		for i := range want {
			if math.IsNaN(want[i]) != math.IsNaN(got[i]) || (!math.IsNaN(want[i]) && want[i] != got[i]) {
				t.Errorf("MaxReduce %v %v with a NaN: [%d] = %v, want %v", tc.shape, tc.axes, i, got[i], want[i])
			}
		}
	}
}

func TestLayoutShapes(t *testing.T) {
	b, c := testBackend(t), cpu.New()
	r := rand.New(rand.NewSource(3))
	xh := layRand(r, 2, 3, 4, 5, 6)
	x := b.FromHost(xh)
	for _, p := range [][]int{{4, 3, 2, 1, 0}, {0, 2, 3, 4, 1}, {1, 0, 2, 3, 4}} {
		laySame(t, b, fmt.Sprintf("Permute %v", p), b.Permute(x, p), c.Permute(xh, p), 0, compare.Absolute)
	}
	bh := layRand(r, 3, 1, 5)
	laySame(t, b, "BroadcastTo", b.BroadcastTo(b.FromHost(bh), tensor.Shape{2, 3, 4, 5}), c.BroadcastTo(bh, tensor.Shape{2, 3, 4, 5}), 0, compare.Absolute)
	starts, sizes := []int{1, 0, 1, 2, 3}, []int{1, 3, 2, 2, 3}
	laySame(t, b, "Slice", b.Slice(x, starts, sizes), c.Slice(xh, starts, sizes), 0, compare.Absolute)
	gh := layRand(r, sizes...)
	layDirty(b, xh.Len())
	laySame(t, b, "SliceBackward into recycled memory", b.SliceBackward(b.FromHost(gh), xh.Shape(), starts), c.SliceBackward(gh, xh.Shape(), starts), 0, compare.Absolute)
	for _, axis := range []int{0, 2, -1} {
		s1 := []int{2, 3, 4, 5, 6}
		s2 := append([]int(nil), s1...)
		a := axis
		if a < 0 {
			a += len(s1)
		}
		s2[a] = 1
		s3 := append([]int(nil), s1...)
		s3[a] = 3
		h2, h3 := layRand(r, s2...), layRand(r, s3...)
		laySame(t, b, fmt.Sprintf("Concat axis %d", axis), b.Concat(axis, []*tensor.Tensor{x, b.FromHost(h2), b.FromHost(h3)}),
			c.Concat(axis, []*tensor.Tensor{xh, h2, h3}), 0, compare.Absolute)
	}
}

func TestUpsampleShapes(t *testing.T) {
	b, c := testBackend(t), cpu.New()
	r := rand.New(rand.NewSource(4))
	for _, s := range [][]int{{2, 3, 1, 1}, {2, 2, 7, 6}, {1, 4, 16, 16}, {1, 2, 1, 9}, {3, 2, 2, 2}} {
		xh := layRand(r, s...)
		gh := layRand(r, s[0], s[1], 2*s[2], 2*s[3])
		for _, mode := range []backend.UpsampleMode{backend.Nearest, backend.BilinearAlign} {
			tol := 0.0
			if mode == backend.BilinearAlign {
				tol = layTol()
			}
			laySame(t, b, fmt.Sprintf("Upsample2x %v mode %d", s, mode), b.Upsample2x(b.FromHost(xh), mode), c.Upsample2x(xh, mode), tol, compare.ScaleRelative)
			layDirty(b, xh.Len())
			laySame(t, b, fmt.Sprintf("Upsample2xBackward %v mode %d", s, mode), b.Upsample2xBackward(b.FromHost(gh), mode), c.Upsample2xBackward(gh, mode), tol, compare.ScaleRelative)
		}
	}
}

func TestPoolResizeShapes(t *testing.T) {
	b, c := testBackend(t), cpu.New()
	r := rand.New(rand.NewSource(5))
	xh := layRand(r, 2, 3, 9, 8)
	x := b.FromHost(xh)
	for _, k := range [][3]int{{3, 2, 1}, {2, 2, 0}, {3, 1, 1}, {3, 2, 0}, {1, 1, 0}, {5, 3, 2}} {
		what := fmt.Sprintf("k %d s %d p %d", k[0], k[1], k[2])
		laySame(t, b, "MaxPool2D "+what, b.MaxPool2D(x, k[0], k[1], k[2]), c.MaxPool2D(xh, k[0], k[1], k[2]), 0, compare.Absolute)
		for _, inc := range []bool{false, true} {
			laySame(t, b, fmt.Sprintf("AvgPool2D %s include pad %v", what, inc), b.AvgPool2D(x, k[0], k[1], k[2], inc), c.AvgPool2D(xh, k[0], k[1], k[2], inc), 0, compare.Absolute)
		}
	}
	for _, sz := range [][2]int{{1, 1}, {17, 3}, {4, 16}, {299, 299}} {
		for _, align := range []bool{false, true} {
			laySame(t, b, fmt.Sprintf("ResizeBilinear %v align %v", sz, align), b.ResizeBilinear(x, sz[0], sz[1], align), c.ResizeBilinear(xh, sz[0], sz[1], align), layTol(), compare.ScaleRelative)
		}
	}
}

func TestArgmaxOneHotShapes(t *testing.T) {
	b, c := testBackend(t), cpu.New()
	r := rand.New(rand.NewSource(6))
	v := make([]float32, 4*7*5)
	for i := range v {
		v[i] = float32(r.Intn(3)) // ties: the first maximum wins
	}
	xh := tensor.FromFloat32([]int{4, 7, 5}, v)
	x := b.FromHost(xh)
	for _, axis := range []int{0, 1, 2, -1} {
		idx := c.Argmax(xh, axis)
		laySame(t, b, fmt.Sprintf("Argmax axis %d", axis), b.Argmax(x, axis), idx, 0, compare.Absolute)
		for _, oa := range []int{0, 1, -1} {
			n := 7
			laySame(t, b, fmt.Sprintf("OneHot of argmax %d at %d", axis, oa), b.OneHot(b.FromHost(idx), n, oa, tensor.Float32), c.OneHot(idx, n, oa, tensor.Float32), 0, compare.Absolute)
		}
	}
	// Indices truncate toward zero; outside [0, n) they give zeros.
	ih := tensor.FromFloat32([]int{5}, []float32{-0.5, 2.9, 3, -1, float32(math.NaN())})
	got := b.ToHost(b.OneHot(b.FromHost(ih), 3, -1, tensor.Float32)).Float64s()
	want := []float64{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	compare.Check(t, "OneHot of fractional and out-of-range indices", got, want, 0, compare.Absolute)
}
