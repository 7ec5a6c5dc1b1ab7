package ag_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

const (
	gcStep  = 1e-3
	gcFloor = 1e-3
	gcTol   = 1e-6
)

func randT(r *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	t := tensor.Host(tensor.Float64, shape...)
	d := t.F64()
	for i := range d {
		d[i] = lo + (hi-lo)*r.Float64()
	}
	return t
}

// awayFrom returns values in [lo, hi] at least gap away from each kink.
func awayFrom(r *rand.Rand, lo, hi, gap float64, kinks []float64, shape ...int) *tensor.Tensor {
	t := randT(r, lo, hi, shape...)
	d := t.F64()
	for i := range d {
		for _, k := range kinks {
			if math.Abs(d[i]-k) < gap {
				d[i] = k + math.Copysign(gap+gap*r.Float64(), d[i]-k)
			}
		}
	}
	return t
}

// weighted turns an output into a scalar with fixed random weights, so every
// output element carries a distinct upstream gradient.
func weighted(c *ag.Ctx, y *ag.Var, seed int64) *ag.Var {
	r := rand.New(rand.NewSource(seed))
	w := randT(r, -1, 1, y.Shape()...)
	return c.SumAll(c.Mul(y, c.Const(w)))
}

func check(t *testing.T, name string, f func(c *ag.Ctx, in []*ag.Var) *ag.Var, inputs ...*tensor.Tensor) {
	t.Helper()
	checkH(t, gcStep, name, f, inputs...)
}

// checkH uses step h; piecewise functions (max, min) take a small step so
// that no perturbation crosses a tie.
func checkH(t *testing.T, h float64, name string, f func(c *ag.Ctx, in []*ag.Var) *ag.Var, inputs ...*tensor.Tensor) {
	t.Helper()
	c := ag.New(cpu.New(), tensor.Float64)
	res := ag.GradCheck(c, func(in []*ag.Var) *ag.Var { return weighted(c, f(c, in), 99) }, inputs, h, gcFloor)
	if res.RelErr > gcTol || res.RelErr < 0 {
		t.Errorf("%s: gradient check failed: %v", name, res)
	} else {
		t.Logf("%s: %v", name, res)
	}
}

func TestGradUnary(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, op := range backend.UnaryOps() {
		var x *tensor.Tensor
		switch op {
		case backend.Log, backend.Sqrt:
			x = randT(r, 0.2, 3, 2, 3, 4)
		case backend.ReLU, backend.Abs, backend.ELU:
			x = awayFrom(r, -3, 3, 0.05, []float64{0}, 2, 3, 4)
		default:
			x = randT(r, -4, 4, 2, 3, 4)
		}
		op := op
		check(t, op.String(), func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Unary(op, in[0]) }, x)
	}
}

func TestGradAffineClamp(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	check(t, "affine", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Affine(in[0], -2.5, 0.3) }, randT(r, -1, 1, 3, 5))
	check(t, "clamp", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Clamp(in[0], -0.5, 0.7) },
		awayFrom(r, -2, 2, 0.02, []float64{-0.5, 0.7}, 4, 6))
	check(t, "clampmin", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.ClampMin(in[0], -7) },
		awayFrom(r, -9, -5, 0.02, []float64{-7}, 4, 6))
}

// TestClampBoundGradient checks PyTorch's semantics: at the bounds the
// gradient passes.
func TestClampBoundGradient(t *testing.T) {
	c := ag.New(cpu.New(), tensor.Float64)
	x := c.Param(tensor.FromFloat64([]int{4}, []float64{-1, 0, 1, 2}), "x")
	c.Backward(c.SumAll(c.Clamp(x, 0, 1)))
	want := []float64{0, 1, 1, 0}
	for i, w := range want {
		if g := x.Grad.At(i); g != w {
			t.Fatalf("clamp grad at %v: %v, want %v", x.Value.At(i), g, w)
		}
	}
}

// NVAE's broadcast shapes: per-channel scale/shift, per-example, scalar, SE scaling.
var broadcastPairs = [][2][]int{
	{{2, 3, 4, 5}, {2, 3, 4, 5}},
	{{2, 3, 4, 5}, {1, 3, 1, 1}},
	{{2, 3, 4, 5}, {3, 1, 1}},
	{{2, 3, 4, 5}, {2, 1, 1, 1}},
	{{2, 3, 4, 5}, {}},
	{{2, 3, 4, 5}, {2, 3, 1, 1}},
	{{1, 3, 1, 1}, {2, 3, 4, 5}},
	{{4, 1}, {1, 5}},
}

func TestGradBinaryBroadcast(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	ops := map[string]func(c *ag.Ctx, a, b *ag.Var) *ag.Var{
		"add": (*ag.Ctx).Add, "sub": (*ag.Ctx).Sub, "mul": (*ag.Ctx).Mul, "div": (*ag.Ctx).Div,
		"max": (*ag.Ctx).Maximum, "min": (*ag.Ctx).Minimum,
	}
	for name, op := range ops {
		for _, p := range broadcastPairs {
			a := randT(r, -2, 2, p[0]...)
			b := randT(r, -2, 2, p[1]...)
			if name == "div" {
				b = awayFrom(r, -2, 2, 0.5, []float64{0}, p[1]...)
			}
			op := op
			h := gcStep
			if name == "max" || name == "min" {
				h = 1e-5
			}
			checkH(t, h, name+tensor.Shape(p[0]).String()+tensor.Shape(p[1]).String(),
				func(c *ag.Ctx, in []*ag.Var) *ag.Var { return op(c, in[0], in[1]) }, a, b)
		}
	}
}

func TestGradWhere(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	cond := randT(r, -1, 1, 2, 3, 4)
	check(t, "where", func(c *ag.Ctx, in []*ag.Var) *ag.Var {
		mask := c.Compare(backend.GT, c.Const(cond), c.Scalar(0))
		return c.Where(mask, in[0], in[1])
	}, randT(r, -1, 1, 2, 3, 4), randT(r, -1, 1, 1, 3, 1))
}

func TestGradReductions(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	shape := []int{2, 3, 4, 5}
	for _, axes := range [][]int{nil, {0}, {1}, {2, 3}, {0, 2, 3}, {-1}, {1, 2, 3}} {
		for _, keep := range []bool{false, true} {
			axes, keep := axes, keep
			check(t, "sum", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Sum(in[0], axes, keep) }, randT(r, -1, 1, shape...))
			check(t, "mean", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Mean(in[0], axes, keep) }, randT(r, -1, 1, shape...))
			checkH(t, 1e-5, "max", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.MaxReduce(in[0], axes, keep) }, randT(r, -1, 1, shape...))
			check(t, "logsumexp", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.LogSumExp(in[0], axes, keep) }, randT(r, -3, 3, shape...))
		}
	}
	for _, axis := range []int{0, 1, 3} {
		axis := axis
		check(t, "logsoftmax", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.LogSoftmax(in[0], axis) }, randT(r, -3, 3, shape...))
	}
}

func TestGradMatMul(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	m, k, n := 3, 4, 5
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			as := []int{m, k}
			if ta {
				as = []int{k, m}
			}
			bs := []int{k, n}
			if tb {
				bs = []int{n, k}
			}
			ta, tb := ta, tb
			check(t, "matmul", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.MatMul(in[0], in[1], ta, tb) },
				randT(r, -1, 1, as...), randT(r, -1, 1, bs...))
			check(t, "bmm", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.MatMul(in[0], in[1], ta, tb) },
				randT(r, -1, 1, append([]int{2}, as...)...), randT(r, -1, 1, append([]int{2}, bs...)...))
		}
	}
	check(t, "linear", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Linear(in[0], in[1], in[2]) },
		randT(r, -1, 1, 4, 6), randT(r, -1, 1, 3, 6), randT(r, -1, 1, 3))
}

func TestGradLayout(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	x := func() *tensor.Tensor { return randT(r, -1, 1, 2, 6, 4, 4) }
	check(t, "reshape", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Reshape(in[0], 2, -1) }, x())
	check(t, "permute", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Permute(in[0], 0, 2, 3, 1) }, x())
	check(t, "broadcast", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.BroadcastTo(in[0], 3, 6, 4, 4) }, randT(r, -1, 1, 1, 6, 4, 4))
	// x[:, :, 1:, 1:] as in FactorizedReduce
	check(t, "slice[:,:,1:,1:]", func(c *ag.Ctx, in []*ag.Var) *ag.Var {
		return c.Slice(in[0], []int{0, 0, 1, 1}, []int{2, 6, 3, 3})
	}, x())
	check(t, "slice[:,:,:,1:]", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Narrow(in[0], 3, 1, 3) }, x())
	// chunk of channel halves (Normal parameters)
	check(t, "chunk", func(c *ag.Ctx, in []*ag.Var) *ag.Var {
		h := c.Chunk(in[0], 2, 1)
		return c.Mul(c.Exp(h[1]), h[0])
	}, x())
	check(t, "split-uneven", func(c *ag.Ctx, in []*ag.Var) *ag.Var {
		p := c.Split(in[0], 1, 1, 2, 3)
		return c.Concat(1, p[2], c.Square(p[0]), p[1])
	}, x())
	for _, axis := range []int{0, 1, 2, 3} {
		axis := axis
		check(t, "concat", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Concat(axis, in[0], c.Square(in[1])) }, x(), x())
	}
}

func TestGradUpsample(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	check(t, "nearest", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Upsample2x(in[0], backend.Nearest) }, randT(r, -1, 1, 2, 3, 3, 4))
	check(t, "bilinear", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Upsample2x(in[0], backend.BilinearAlign) }, randT(r, -1, 1, 2, 3, 3, 4))
	check(t, "bilinear1x1", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.Upsample2x(in[0], backend.BilinearAlign) }, randT(r, -1, 1, 1, 2, 1, 1))
}

func TestGradConv2D(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	cases := []struct {
		name          string
		n, c, h, w, k int
		kh, kw        int
		p             backend.ConvParams
		bias          bool
	}{
		{"3x3", 2, 3, 5, 6, 4, 3, 3, backend.Conv(1, 1, 1, 1), true},
		{"3x3s2", 2, 3, 6, 6, 4, 3, 3, backend.Conv(2, 1, 1, 1), true},
		{"1x1s2", 2, 4, 6, 6, 2, 1, 1, backend.Conv(2, 0, 1, 1), true},
		{"dil2", 1, 2, 7, 7, 3, 3, 3, backend.Conv(1, 2, 2, 1), false},
		{"groups2", 2, 4, 5, 5, 6, 3, 3, backend.Conv(1, 1, 1, 2), false},
		{"depthwise5x5", 2, 4, 6, 6, 4, 5, 5, backend.Conv(1, 2, 1, 4), false},
		{"depthwise5x5s2", 1, 3, 7, 7, 3, 5, 5, backend.Conv(2, 2, 1, 3), false},
		{"nonsquare", 1, 2, 5, 4, 2, 1, 3, backend.ConvParams{StrideH: 1, StrideW: 2, PadH: 0, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1}, true},
	}
	for _, tc := range cases {
		tc := tc
		inputs := []*tensor.Tensor{randT(r, -1, 1, tc.n, tc.c, tc.h, tc.w), randT(r, -1, 1, tc.k, tc.c/tc.p.Groups, tc.kh, tc.kw)}
		if tc.bias {
			inputs = append(inputs, randT(r, -1, 1, tc.k))
		}
		check(t, "conv "+tc.name, func(c *ag.Ctx, in []*ag.Var) *ag.Var {
			var b *ag.Var
			if len(in) > 2 {
				b = in[2]
			}
			return c.Conv2D(in[0], in[1], b, tc.p)
		}, inputs...)
	}
}

func TestGradChannelAffine(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	check(t, "channel-affine", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.ChannelAffine(in[0], in[1], in[2]) },
		randT(r, -2, 2, 3, 4, 3, 5), randT(r, 0.5, 1.5, 4), randT(r, -1, 1, 4))
}

func TestGradChannelAffineUnary(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	for _, op := range []backend.UnaryOp{backend.Swish, backend.ELU} {
		check(t, "channel-affine-"+op.String(), func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.ChannelAffineUnary(in[0], in[1], in[2], op) },
			randT(r, -2, 2, 3, 4, 3, 5), randT(r, 0.5, 1.5, 4), randT(r, -1, 1, 4))
	}
}

func TestGradGateScaleAdd(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	check(t, "gate-scale-add", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.GateScaleAdd(in[0], in[1], in[2], 0.1) },
		randT(r, -2, 2, 2, 3, 3, 4), randT(r, -2, 2, 2, 3, 3, 4), randT(r, 0, 1, 2, 3))
	check(t, "scale-add", func(c *ag.Ctx, in []*ag.Var) *ag.Var { return c.GateScaleAdd(in[0], in[1], nil, 0.1) },
		randT(r, -2, 2, 2, 3, 3, 4), randT(r, -2, 2, 2, 3, 3, 4))
}

func TestGradBatchNorm(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	check(t, "bn-train", func(c *ag.Ctx, in []*ag.Var) *ag.Var {
		y, _, _ := c.BatchNormTrain(in[0], in[1], in[2], 1e-5)
		return y
	}, randT(r, -2, 2, 3, 4, 3, 3), randT(r, 0.5, 1.5, 4), randT(r, -1, 1, 4))
	check(t, "bn-train-noaffine", func(c *ag.Ctx, in []*ag.Var) *ag.Var {
		y, _, _ := c.BatchNormTrain(in[0], nil, nil, 1e-5)
		return y
	}, randT(r, -2, 2, 2, 3, 2, 2))
}

// TestGradAccumulates checks that leaf gradients add up across Backward calls
// and that Detach and NoGrad stop gradients.
func TestGradAccumulates(t *testing.T) {
	c := ag.New(cpu.New(), tensor.Float64)
	x := c.Param(tensor.FromFloat64([]int{2}, []float64{1, 2}), "x")
	c.Backward(c.SumAll(c.Square(x)))
	c.Backward(c.SumAll(c.Square(x)))
	if x.Grad.At(0) != 4 || x.Grad.At(1) != 8 {
		t.Fatalf("accumulated grad %v, want [4 8]", x.Grad.Float64s())
	}
	x.ZeroGrad()
	y := c.Mul(x, c.Detach(x))
	c.Backward(c.SumAll(y))
	if x.Grad.At(0) != 1 || x.Grad.At(1) != 2 {
		t.Fatalf("detach grad %v, want [1 2]", x.Grad.Float64s())
	}
	var z *ag.Var
	c.NoGrad(func() { z = c.Square(x) })
	if z.RequiresGrad() {
		t.Fatal("no-grad mode recorded an op")
	}
}

func TestGradConv2DAffine(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	for _, act := range []backend.UnaryOp{backend.NoAct, backend.Swish, backend.ELU} {
		for _, p := range []backend.ConvParams{backend.Conv(1, 1, 1, 1), backend.Conv(1, 2, 1, 4)} {
			act, p := act, p
			kh := 3
			if p.Groups > 1 {
				kh = 5
			}
			check(t, fmt.Sprintf("conv-affine %v groups %d", act, p.Groups), func(c *ag.Ctx, in []*ag.Var) *ag.Var {
				return c.Conv2DAffine(in[0], in[1], in[2], in[3], in[4], p, act)
			}, randT(r, -1, 1, 2, 4, 5, 5), randT(r, -1, 1, 4, 4/p.Groups, kh, kh), randT(r, -1, 1, 4), randT(r, 0.5, 1.5, 4), randT(r, -1, 1, 4))
		}
	}
}

// TestConv2DAffineNoGrad checks that without gradients Conv2DAffine, fused
// on the CPU backend and composed on a backend without backend.ConvAffiner,
// gives bit for bit the differentiable ops' result.
func TestConv2DAffineNoGrad(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	type plain struct{ backend.Backend } // hides ConvAffiner and Releaser
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		in := []*tensor.Tensor{randT(r, -1, 1, 3, 8, 6, 6), randT(r, -1, 1, 8, 8, 1, 1), randT(r, -1, 1, 8), randT(r, 0.5, 1.5, 8), randT(r, -1, 1, 8)}
		for i, x := range in {
			if dt == tensor.Float32 {
				in[i] = tensor.FromFloat32(x.Shape(), x.Float32s())
			}
		}
		p := backend.Conv(1, 0, 1, 1)
		for _, act := range []backend.UnaryOp{backend.NoAct, backend.Swish, backend.ReLU} {
			want := func() []float64 {
				c := ag.New(cpu.New(), dt)
				v := make([]*ag.Var, len(in))
				for i, x := range in {
					v[i] = c.Param(x, fmt.Sprint(i))
				}
				y := c.ChannelAffine(c.Conv2D(v[0], v[1], v[2], p), v[3], v[4])
				if act != backend.NoAct {
					y = c.Unary(act, y)
				}
				return y.Value.Float64s()
			}()
			for _, b := range []backend.Backend{cpu.New(), plain{cpu.New()}} {
				c := ag.New(b, dt)
				c.SetGrad(false)
				v := make([]*ag.Var, len(in))
				for i, x := range in {
					v[i] = c.Const(x)
				}
				got := c.Conv2DAffine(v[0], v[1], v[2], v[3], v[4], p, act).Value.Float64s()
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%v %v %T: [%d] = %v, the differentiable ops give %v", dt, act, b, i, got[i], want[i])
					}
				}
			}
		}
	}
}
