package cuda

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// The element-wise ops against the CPU backend, bit for bit where both
// round once in float32 (binary ops, comparisons, where, clamp, affine,
// the fused ops), on shapes that take each of the kernels' paths (equal
// shapes, scalar operands either side, a per-channel or per-(sample,
// channel) operand either side, general broadcasting), NVAE's shapes, and
// edge values.

func randHost(r *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.Shape(shape).NumElements())
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return tensor.FromFloat32(tensor.Shape(shape).Clone(), v)
}

// sameBits fails unless got (device) and want (host) hold the same shape
// and the same float32 bits (any NaN matches any NaN).
func sameBits(t *testing.T, b *Backend, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
		return
	}
	g, w := b.ToHost(got).Float32s(), want.Float32s()
	for i := range w {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] != g[i] && w[i] != w[i]) {
			t.Errorf("%s [%d] = %v, CPU backend %v", what, i, g[i], w[i])
			return
		}
	}
}

var ewShapePairs = [][2][]int{
	{{2, 3, 4, 5}, {2, 3, 4, 5}}, // equal
	{{3, 4}, {1, 3, 4}},          // equal after a leading 1
	{{2, 3, 4, 5}, {}},           // scalar
	{{1}, {2, 3, 4, 5}},          // scalar first
	{{}, {}},                     // rank 0
	{{8, 16, 6, 6}, {1, 16, 1, 1}},
	{{1, 16, 1, 1}, {8, 16, 6, 6}},
	{{8, 16, 6, 6}, {8, 16, 1, 1}}, // a squeeze-and-excitation gate
	{{8, 16, 1, 1}, {8, 16, 6, 6}},
	{{8, 16, 6, 6}, {16, 1, 1}},
	{{5, 7}, {7}}, // a bias per column
	{{7}, {5, 7}},
	{{6, 5}, {6, 1}},
	{{2, 3, 4, 5}, {2, 1, 1, 1}},
	{{4, 1}, {1, 5}}, // general
	{{2, 3, 1, 5}, {2, 1, 4, 1}},
	{{2, 1, 4, 5}, {1, 3, 4, 1}},
	{{2, 3, 4, 5, 1, 2, 3, 2}, {4, 1, 1, 2, 1, 2}}, // rank 8
	{{0, 3}, {1, 3}},                               // empty
}

func TestBinaryCompareMatchCPU(t *testing.T) {
	b := testBackend(t)
	c := cpu.New()
	r := rand.New(rand.NewSource(1))
	for _, p := range ewShapePairs {
		x, y := randHost(r, -2, 2, p[0]...), randHost(r, -2, 2, p[1]...)
		// ties and NaNs for max/min and the comparisons
		if xv, yv := x.Float32s(), y.Float32s(); len(xv) > 2 && len(yv) > 2 {
			yv[0] = xv[0]
			xv[1] = float32(math.NaN())
			yv[2] = float32(math.NaN())
		}
		dx, dy := b.FromHost(x), b.FromHost(y)
		for op := backend.Add; op <= backend.Min; op++ {
			sameBits(t, b, fmt.Sprintf("Binary %v %v %v", op, p[0], p[1]), b.Binary(op, dx, dy), c.Binary(op, x, y))
		}
		for op := backend.GT; op <= backend.EQ; op++ {
			sameBits(t, b, fmt.Sprintf("Compare %d %v %v", op, p[0], p[1]), b.Compare(op, dx, dy), c.Compare(op, x, y))
		}
	}
}

func TestWhereMatchCPU(t *testing.T) {
	b := testBackend(t)
	c := cpu.New()
	r := rand.New(rand.NewSource(2))
	for _, s := range [][3][]int{
		{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}},
		{{2, 1, 4}, {2, 3, 4}, {3, 1}},
		{{}, {2, 3}, {2, 3}},
		{{4, 1, 1}, {1, 5, 1}, {1, 1, 6}},
	} {
		cond := randHost(r, -1, 1, s[0]...)
		cv := cond.Float32s()
		for i := range cv {
			if cv[i] < 0 {
				cv[i] = 0
			}
		}
		if len(cv) > 1 {
			cv[1] = float32(math.NaN()) // selects a, as on the CPU
		}
		x, y := randHost(r, -1, 1, s[1]...), randHost(r, -1, 1, s[2]...)
		sameBits(t, b, fmt.Sprintf("Where %v", s), b.Where(b.FromHost(cond), b.FromHost(x), b.FromHost(y)), c.Where(cond, x, y))
	}
}

func TestAffineClampMatchCPU(t *testing.T) {
	b := testBackend(t)
	c := cpu.New()
	r := rand.New(rand.NewSource(3))
	x := randHost(r, -2, 2, 3, 50)
	xv := x.Float32s()
	xv[0], xv[1], xv[2] = float32(0.1), float32(-0.3), float32(math.NaN())
	xv[3], xv[4] = float32(math.Inf(1)), float32(math.Inf(-1))
	gy := randHost(r, -1, 1, 3, 50)
	dx, dg := b.FromHost(x), b.FromHost(gy)
	for _, ab := range [][2]float64{{-1.5, 0.25}, {0.1, 1.0 / 3}, {2, 0}, {0, -0.0}} {
		sameBits(t, b, fmt.Sprintf("Affine %v", ab), b.Affine(dx, ab[0], ab[1]), c.Affine(x, ab[0], ab[1]))
	}
	// bounds that float32 cannot hold (0.1 rounds up, -0.3 rounds down)
	for _, lh := range [][2]float64{{-0.5, 0.75}, {-0.3, 0.1}, {0.1, math.Inf(1)}, {math.Inf(-1), -0.3}, {-1e300, 1e300}, {1, -1}} {
		sameBits(t, b, fmt.Sprintf("Clamp %v", lh), b.Clamp(dx, lh[0], lh[1]), c.Clamp(x, lh[0], lh[1]))
		sameBits(t, b, fmt.Sprintf("ClampBackward %v", lh), b.ClampBackward(dx, dg, lh[0], lh[1]), c.ClampBackward(x, gy, lh[0], lh[1]))
	}
}

func TestChannelAffineGateMatchCPU(t *testing.T) {
	b := testBackend(t)
	c := cpu.New()
	r := rand.New(rand.NewSource(4))
	for _, sh := range [][]int{{2, 3}, {2, 3, 4, 5}, {3, 5, 37, 41}, {1, 16, 4, 4}} {
		n, ch := sh[0], sh[1]
		x, sc, sf := randHost(r, -3, 3, sh...), randHost(r, 0.5, 2, ch), randHost(r, -1, 1, ch)
		dx, dsc, dsf := b.FromHost(x), b.FromHost(sc), b.FromHost(sf)
		ca := b.ChannelAffine(dx, dsc, dsf)
		sameBits(t, b, fmt.Sprintf("ChannelAffine %v", sh), ca, c.ChannelAffine(x, sc, sf))
		for _, op := range backend.UnaryOps() {
			two := b.Unary(op, ca)
			sameBits(t, b, fmt.Sprintf("ChannelAffineUnary %v %v vs Unary(ChannelAffine)", sh, op), b.ChannelAffineUnary(dx, dsc, dsf, op), b.ToHost(two))
			in := b.Copy(dx)
			b.ChannelAffineUnaryInPlace(in, dsc, dsf, op)
			sameBits(t, b, fmt.Sprintf("ChannelAffineUnaryInPlace %v %v", sh, op), in, b.ToHost(two))
		}
		y, g := randHost(r, -2, 2, sh...), randHost(r, 0, 1, n, ch)
		dy, dg := b.FromHost(y), b.FromHost(g)
		for _, s := range []float64{0.1, 1, -0.7} {
			sameBits(t, b, fmt.Sprintf("GateScaleAdd %v s=%v", sh, s), b.GateScaleAdd(dy, dx, nil, s), c.GateScaleAdd(y, x, nil, s))
			sameBits(t, b, fmt.Sprintf("GateScaleAdd %v s=%v gated", sh, s), b.GateScaleAdd(dy, dx, dg, s), c.GateScaleAdd(y, x, g, s))
			// and the composed ops on this backend
			gb := append(tensor.Shape{n, ch}, make([]int, len(sh)-2)...)
			for i := 2; i < len(gb); i++ {
				gb[i] = 1
			}
			prod := b.Binary(backend.Mul, dx, dg.Reshape(gb...))
			two := b.Binary(backend.Add, dy, b.Affine(prod, s, 0))
			sameBits(t, b, fmt.Sprintf("GateScaleAdd %v s=%v vs composed ops", sh, s), b.GateScaleAdd(dy, dx, dg, s), b.ToHost(two))
		}
	}
}

// TestUnaryEdges: stability at large |x| (no overflow in sigmoid,
// softplus, logsigmoid, swish), the PyTorch derivatives at 0 (relu'(0) =
// abs'(0) = 0) and at the domain's edge, all as the CPU backend (or, for
// the tanh and sigmoid derivatives far from 0, closer to the true value).
func TestUnaryEdges(t *testing.T) {
	b := testBackend(t)
	c := cpu.New()
	xs := []float32{-200, -100, -30, -10, -1, -0.0, 0, 1e-30, 0.5, 3, 10, 30, 100, 200}
	x := tensor.FromFloat32(tensor.Shape{len(xs)}, xs)
	ones := make([]float32, len(xs))
	for i := range ones {
		ones[i] = 1
	}
	gy := tensor.FromFloat32(tensor.Shape{len(xs)}, ones)
	dx, dg := b.FromHost(x), b.FromHost(gy)
	for _, op := range backend.UnaryOps() {
		y, want := b.ToHost(b.Unary(op, dx)).Float32s(), c.Unary(op, x).Float32s()
		gx, wantg := b.ToHost(b.UnaryBackward(op, dx, nil, dg)).Float32s(), c.UnaryBackward(op, x, nil, gy).Float32s()
		for i, v := range xs {
			if !close32(y[i], want[i]) {
				t.Errorf("%v(%v) = %v, CPU backend %v", op, v, y[i], want[i])
			}
			if !close32(gx[i], wantg[i]) && !matchStable(op, v, gx[i]) {
				t.Errorf("%v'(%v) = %v, CPU backend %v", op, v, gx[i], wantg[i])
			}
		}
	}
}

// matchStable reports whether g is f'(x) for the ops whose CPU formula
// cancels in float64 (1 - y² and y(1-y) when y rounds to 1) while this
// backend's does not.
func matchStable(op backend.UnaryOp, x, g float32) bool {
	var want float64
	switch op {
	case backend.Tanh:
		e := math.Exp(-2 * math.Abs(float64(x)))
		want = 4 * e / ((1 + e) * (1 + e))
	case backend.Sigmoid:
		e := math.Exp(-math.Abs(float64(x)))
		want = e / ((1 + e) * (1 + e))
	default:
		return false
	}
	return close32(g, float32(want))
}

// close32 is equality up to 4 ulps, or 1e-37 among subnormals (NaNs and
// infinities exactly).
func close32(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	if math.IsInf(float64(a), 0) || math.IsInf(float64(b), 0) || a == b {
		return a == b
	}
	d := math.Abs(float64(a) - float64(b))
	return d <= 1e-37 || d <= 4*ulp32(max(float32(math.Abs(float64(a))), float32(math.Abs(float64(b)))))
}

func ulp32(v float32) float64 {
	return float64(math.Nextafter32(v, float32(math.Inf(1))) - v)
}

func TestCoalesce(t *testing.T) {
	sh, st := coalesce(tensor.Shape{8, 16, 6, 6}, []int{576, 36, 6, 1}, []int{0, 1, 0, 0})
	if fmt.Sprint(sh, st) != "[8 16 36] [[576 36 1] [0 1 0]]" {
		t.Errorf("coalesce per-channel: %v %v", sh, st)
	}
	if c, inner, ok := vectorAxis(sh, st[1]); !ok || c != 16 || inner != 36 {
		t.Errorf("vectorAxis per-channel: %d %d %v", c, inner, ok)
	}
	sh, st = coalesce(tensor.Shape{8, 16, 6, 6}, []int{576, 36, 6, 1}, []int{16, 1, 0, 0})
	if fmt.Sprint(sh, st) != "[128 36] [[36 1] [1 0]]" {
		t.Errorf("coalesce gate: %v %v", sh, st)
	}
	if c, inner, ok := vectorAxis(sh, st[1]); !ok || c != 128 || inner != 36 {
		t.Errorf("vectorAxis gate: %d %d %v", c, inner, ok)
	}
	sh, st = coalesce(tensor.Shape{4, 5}, []int{1, 0}, []int{0, 1})
	if c, inner, ok := vectorAxis(sh, st[1]); !ok || c != 5 || inner != 1 || fmt.Sprint(sh) != "[4 5]" {
		t.Errorf("coalesce outer product: %v %v: %d %d %v", sh, st, c, inner, ok)
	}
	sh, st = coalesce(tensor.Shape{2, 3, 4, 5}, []int{15, 5, 0, 1}, []int{4, 0, 1, 0})
	if _, _, ok := vectorAxis(sh, st[1]); ok || fmt.Sprint(sh) != "[2 3 4 5]" {
		t.Errorf("coalesce general: %v %v", sh, st)
	}
	if _, _, ok := vectorAxis(tensor.Shape{3, 4}, []int{0, 2}); ok {
		t.Error("vectorAxis took a strided operand")
	}
	sh, st = coalesce(tensor.Shape{1, 1}, []int{0, 0})
	if fmt.Sprint(sh, st) != "[1] [[0]]" {
		t.Errorf("coalesce of ones: %v %v", sh, st)
	}
	if ceil32(0.1) < float32(0.1) || float64(ceil32(0.1)) < 0.1 || float64(floor32(0.1)) > 0.1 || ceil32(-0.3) != math.Nextafter32(float32(-0.3), 0) {
		t.Errorf("ceil32/floor32: %v %v %v", ceil32(0.1), floor32(0.1), ceil32(-0.3))
	}
}
