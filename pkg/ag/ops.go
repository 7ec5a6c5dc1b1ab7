package ag

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Unary applies an element-wise function.
func (c *Ctx) Unary(op backend.UnaryOp, x *Var) *Var {
	y := c.B.Unary(op, x.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.B.UnaryBackward(op, x.Value, y, g)}
	}, x)
}

// Exp is e^x.
func (c *Ctx) Exp(x *Var) *Var { return c.Unary(backend.Exp, x) }

// Log is the natural logarithm.
func (c *Ctx) Log(x *Var) *Var { return c.Unary(backend.Log, x) }

// Tanh is the hyperbolic tangent.
func (c *Ctx) Tanh(x *Var) *Var { return c.Unary(backend.Tanh, x) }

// Sigmoid is 1/(1+e^-x).
func (c *Ctx) Sigmoid(x *Var) *Var { return c.Unary(backend.Sigmoid, x) }

// Softplus is log(1+e^x).
func (c *Ctx) Softplus(x *Var) *Var { return c.Unary(backend.Softplus, x) }

// LogSigmoid is log σ(x).
func (c *Ctx) LogSigmoid(x *Var) *Var { return c.Unary(backend.LogSigmoid, x) }

// ELU with alpha 1.
func (c *Ctx) ELU(x *Var) *Var { return c.Unary(backend.ELU, x) }

// Swish is x·σ(x).
func (c *Ctx) Swish(x *Var) *Var { return c.Unary(backend.Swish, x) }

// ReLU is max(x, 0).
func (c *Ctx) ReLU(x *Var) *Var { return c.Unary(backend.ReLU, x) }

// Abs is |x|.
func (c *Ctx) Abs(x *Var) *Var { return c.Unary(backend.Abs, x) }

// Sqrt is √x.
func (c *Ctx) Sqrt(x *Var) *Var { return c.Unary(backend.Sqrt, x) }

// Square is x².
func (c *Ctx) Square(x *Var) *Var { return c.Unary(backend.Square, x) }

// Neg is -x.
func (c *Ctx) Neg(x *Var) *Var { return c.Unary(backend.Neg, x) }

// Affine is a·x + b with constants a, b.
func (c *Ctx) Affine(x *Var, a, b float64) *Var {
	y := c.B.Affine(x.Value, a, b)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.B.Affine(g, a, 0)}
	}, x)
}

// AddScalar is x + s.
func (c *Ctx) AddScalar(x *Var, s float64) *Var { return c.Affine(x, 1, s) }

// MulScalar is x·s.
func (c *Ctx) MulScalar(x *Var, s float64) *Var { return c.Affine(x, s, 0) }

// Clamp limits x to [lo, hi] (±Inf for one side). As in PyTorch, the
// gradient passes where lo ≤ x ≤ hi, bounds included.
func (c *Ctx) Clamp(x *Var, lo, hi float64) *Var {
	y := c.B.Clamp(x.Value, lo, hi)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.B.ClampBackward(x.Value, g, lo, hi)}
	}, x)
}

// ClampMin is max(x, lo) with clamp gradient semantics.
func (c *Ctx) ClampMin(x *Var, lo float64) *Var { return c.Clamp(x, lo, math.Inf(1)) }

func (c *Ctx) sumTo(g *tensor.Tensor, s tensor.Shape) *tensor.Tensor {
	if g.Shape().Equal(s) {
		return g
	}
	return c.B.SumTo(g, s)
}

// Add is a + b with broadcasting.
func (c *Ctx) Add(a, b *Var) *Var {
	y := c.B.Binary(backend.Add, a.Value, b.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.sumTo(g, a.Shape()), c.sumTo(g, b.Shape())}
	}, a, b)
}

// Sub is a - b with broadcasting.
func (c *Ctx) Sub(a, b *Var) *Var {
	y := c.B.Binary(backend.Sub, a.Value, b.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		var gb *tensor.Tensor
		if b.requiresGrad {
			gb = c.sumTo(c.B.Affine(g, -1, 0), b.Shape())
		}
		return []*tensor.Tensor{c.sumTo(g, a.Shape()), gb}
	}, a, b)
}

// Mul is a·b with broadcasting.
func (c *Ctx) Mul(a, b *Var) *Var {
	y := c.B.Binary(backend.Mul, a.Value, b.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		var ga, gb *tensor.Tensor
		if a.requiresGrad {
			ga = c.sumTo(c.B.Binary(backend.Mul, g, b.Value), a.Shape())
		}
		if b.requiresGrad {
			gb = c.sumTo(c.B.Binary(backend.Mul, g, a.Value), b.Shape())
		}
		return []*tensor.Tensor{ga, gb}
	}, a, b)
}

// Div is a/b with broadcasting.
func (c *Ctx) Div(a, b *Var) *Var {
	y := c.B.Binary(backend.Div, a.Value, b.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		var ga, gb *tensor.Tensor
		gOverB := c.B.Binary(backend.Div, g, b.Value)
		if a.requiresGrad {
			ga = c.sumTo(gOverB, a.Shape())
		}
		if b.requiresGrad {
			gb = c.sumTo(c.B.Affine(c.B.Binary(backend.Mul, gOverB, y), -1, 0), b.Shape())
		}
		return []*tensor.Tensor{ga, gb}
	}, a, b)
}

// Maximum is the element-wise maximum with broadcasting; on ties the
// gradient is split evenly, as in PyTorch.
func (c *Ctx) Maximum(a, b *Var) *Var { return c.minmax(backend.Max, backend.GT, a, b) }

// Minimum is the element-wise minimum with broadcasting.
func (c *Ctx) Minimum(a, b *Var) *Var { return c.minmax(backend.Min, backend.LT, a, b) }

func (c *Ctx) minmax(op backend.BinaryOp, cmp backend.CompareOp, a, b *Var) *Var {
	y := c.B.Binary(op, a.Value, b.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		win := c.B.Compare(cmp, a.Value, b.Value)
		tie := c.B.Compare(backend.EQ, a.Value, b.Value)
		wa := c.B.Binary(backend.Add, win, c.B.Affine(tie, 0.5, 0)) // weight of a
		wb := c.B.Affine(wa, -1, 1)
		return []*tensor.Tensor{
			c.sumTo(c.B.Binary(backend.Mul, g, wa), a.Shape()),
			c.sumTo(c.B.Binary(backend.Mul, g, wb), b.Shape()),
		}
	}, a, b)
}

// Where picks a where cond ≠ 0, else b; cond gets no gradient.
func (c *Ctx) Where(cond, a, b *Var) *Var {
	y := c.B.Where(cond.Value, a.Value, b.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		zero := c.B.Zeros(g.DType())
		var ga, gb *tensor.Tensor
		if a.requiresGrad {
			ga = c.sumTo(c.B.Where(cond.Value, g, zero), a.Shape())
		}
		if b.requiresGrad {
			gb = c.sumTo(c.B.Where(cond.Value, zero, g), b.Shape())
		}
		return []*tensor.Tensor{nil, ga, gb}
	}, nil, a, b)
}

// Compare returns a constant 0/1 mask (no gradient).
func (c *Ctx) Compare(op backend.CompareOp, a, b *Var) *Var {
	return c.Const(c.B.Compare(op, a.Value, b.Value))
}

// Sum reduces over axes (all axes when none are given).
func (c *Ctx) Sum(x *Var, axes []int, keep bool) *Var {
	if axes == nil {
		axes = allAxes(x.Value.Rank())
	}
	axes = backend.NormAxes(axes, x.Value.Rank())
	y := c.B.Sum(x.Value, axes, keep)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		kept := backend.ReducedShape(x.Shape(), axes, true)
		return []*tensor.Tensor{c.B.BroadcastTo(g.Reshape(kept...), x.Shape())}
	}, x)
}

// SumAll reduces to a scalar.
func (c *Ctx) SumAll(x *Var) *Var { return c.Sum(x, nil, false) }

// Mean averages over axes (all when none are given).
func (c *Ctx) Mean(x *Var, axes []int, keep bool) *Var {
	if axes == nil {
		axes = allAxes(x.Value.Rank())
	}
	axes = backend.NormAxes(axes, x.Value.Rank())
	n := 1
	for _, a := range axes {
		n *= x.Dim(a)
	}
	return c.MulScalar(c.Sum(x, axes, keep), 1/float64(n))
}

// MaxReduce takes the maximum over axes. The gradient goes to the maximal
// elements, split evenly among ties (like torch.amax).
func (c *Ctx) MaxReduce(x *Var, axes []int, keep bool) *Var {
	if axes == nil {
		axes = allAxes(x.Value.Rank())
	}
	axes = backend.NormAxes(axes, x.Value.Rank())
	y := c.B.MaxReduce(x.Value, axes, keep)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		kept := backend.ReducedShape(x.Shape(), axes, true)
		mask := c.B.Compare(backend.EQ, x.Value, y.Reshape(kept...))
		cnt := c.B.Sum(mask, axes, true)
		w := c.B.Binary(backend.Div, g.Reshape(kept...), cnt)
		return []*tensor.Tensor{c.B.Binary(backend.Mul, mask, w)}
	}, x)
}

// LogSumExp is log Σ exp(x) over axes, computed stably.
func (c *Ctx) LogSumExp(x *Var, axes []int, keep bool) *Var {
	if axes == nil {
		axes = allAxes(x.Value.Rank())
	}
	axes = backend.NormAxes(axes, x.Value.Rank())
	m := c.Const(c.B.MaxReduce(x.Value, axes, true))
	s := c.Log(c.Sum(c.Exp(c.Sub(x, m)), axes, true))
	out := c.Add(s, m)
	if !keep {
		out = c.Reshape(out, backend.ReducedShape(x.Shape(), axes, false)...)
	}
	return out
}

// LogSoftmax is x - logsumexp(x) along axis.
func (c *Ctx) LogSoftmax(x *Var, axis int) *Var {
	return c.Sub(x, c.LogSumExp(x, []int{axis}, true))
}

// Softmax along axis.
func (c *Ctx) Softmax(x *Var, axis int) *Var { return c.Exp(c.LogSoftmax(x, axis)) }

func allAxes(r int) []int {
	a := make([]int, r)
	for i := range a {
		a[i] = i
	}
	return a
}

// Reshape views x with a new shape (one -1 allowed).
func (c *Ctx) Reshape(x *Var, shape ...int) *Var {
	y := x.Value.Reshape(shape...)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Reshape(x.Shape()...)}
	}, x)
}

// Permute reorders axes.
func (c *Ctx) Permute(x *Var, perm ...int) *Var {
	y := c.B.Permute(x.Value, perm)
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.B.Permute(g, inv)}
	}, x)
}

// BroadcastTo expands x to shape (NumPy rules).
func (c *Ctx) BroadcastTo(x *Var, shape ...int) *Var {
	y := c.B.BroadcastTo(x.Value, shape)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.sumTo(g, x.Shape())}
	}, x)
}

// Slice copies the box at starts with sizes.
func (c *Ctx) Slice(x *Var, starts, sizes []int) *Var {
	starts, sizes = append([]int(nil), starts...), append([]int(nil), sizes...)
	y := c.B.Slice(x.Value, starts, sizes)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.B.SliceBackward(g, x.Shape(), starts)}
	}, x)
}

// Narrow takes length elements from start along axis (x.narrow in PyTorch).
func (c *Ctx) Narrow(x *Var, axis, start, length int) *Var {
	if axis < 0 {
		axis += x.Value.Rank()
	}
	starts := make([]int, x.Value.Rank())
	sizes := x.Shape().Clone()
	starts[axis], sizes[axis] = start, length
	return c.Slice(x, starts, sizes)
}

// Concat joins along axis.
func (c *Ctx) Concat(axis int, xs ...*Var) *Var {
	vals := make([]*tensor.Tensor, len(xs))
	for i, x := range xs {
		vals[i] = x.Value
	}
	y := c.B.Concat(axis, vals)
	if axis < 0 {
		axis += y.Rank()
	}
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		out := make([]*tensor.Tensor, len(xs))
		starts := make([]int, g.Rank())
		for i, x := range xs {
			if x.requiresGrad {
				out[i] = c.B.Slice(g, starts, x.Shape())
			}
			starts[axis] += x.Dim(axis)
		}
		return out
	}, xs...)
}

// Split cuts x along axis into pieces of the given sizes.
func (c *Ctx) Split(x *Var, axis int, sizes ...int) []*Var {
	out := make([]*Var, len(sizes))
	at := 0
	for i, s := range sizes {
		out[i] = c.Narrow(x, axis, at, s)
		at += s
	}
	if axis < 0 {
		axis += x.Value.Rank()
	}
	if at != x.Dim(axis) {
		panic(fmt.Sprintf("ag: split sizes %v do not cover dimension %d of %v", sizes, axis, x.Shape()))
	}
	return out
}

// Chunk cuts x into n pieces along axis like torch.chunk (the last may be smaller).
func (c *Ctx) Chunk(x *Var, n, axis int) []*Var {
	if axis < 0 {
		axis += x.Value.Rank()
	}
	d := x.Dim(axis)
	size := (d + n - 1) / n
	var sizes []int
	for at := 0; at < d; at += size {
		s := size
		if at+s > d {
			s = d - at
		}
		sizes = append(sizes, s)
	}
	return c.Split(x, axis, sizes...)
}

// MatMul multiplies op(a)·op(b) (rank 2, or rank 3 batched).
func (c *Ctx) MatMul(a, b *Var, transA, transB bool) *Var {
	y := c.B.MatMul(a.Value, b.Value, transA, transB)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		var ga, gb *tensor.Tensor
		if a.requiresGrad {
			if !transA {
				ga = c.B.MatMul(g, b.Value, false, !transB)
			} else {
				ga = c.B.MatMul(b.Value, g, transB, true)
			}
		}
		if b.requiresGrad {
			if !transB {
				gb = c.B.MatMul(a.Value, g, !transA, false)
			} else {
				gb = c.B.MatMul(g, a.Value, true, transA)
			}
		}
		return []*tensor.Tensor{ga, gb}
	}, a, b)
}

// Linear is x·wᵀ + b for x [N, in], w [out, in], b [out] (b may be nil).
func (c *Ctx) Linear(x, w, b *Var) *Var {
	y := c.MatMul(x, w, false, true)
	if b != nil {
		y = c.Add(y, b)
	}
	return y
}

// Conv2D is a 2-D convolution with optional bias (nil).
func (c *Ctx) Conv2D(x, w, bias *Var, p backend.ConvParams) *Var {
	var bv *tensor.Tensor
	if bias != nil {
		bv = bias.Value
	}
	y := c.B.Conv2D(x.Value, w.Value, bv, p)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		out := make([]*tensor.Tensor, 3)
		if x.requiresGrad {
			out[0] = c.B.Conv2DBackwardData(g, w.Value, x.Shape(), p)
		}
		if w.requiresGrad {
			out[1] = c.B.Conv2DBackwardFilter(x.Value, g, w.Shape(), p)
		}
		if bias != nil && bias.requiresGrad {
			out[2] = c.B.Sum(g, []int{0, 2, 3}, false)
		}
		return out
	}, x, w, bias)
}

// Conv2DAffine is ChannelAffineUnary(Conv2D(x, w, bias, p), scale, shift,
// act), or ChannelAffine of the convolution when act is backend.NoAct (a
// convolution followed by an eval-mode batch norm and its activation).
// Without gradients it is one pass on a backend.ConvAffiner, else the
// convolution and a fused affine pass over its output; with gradients, the
// differentiable ops. All round alike.
func (c *Ctx) Conv2DAffine(x, w, bias, scale, shift *Var, p backend.ConvParams, act backend.UnaryOp) *Var {
	if c.grad && (x.requiresGrad || w.requiresGrad || (bias != nil && bias.requiresGrad) || scale.requiresGrad || shift.requiresGrad) {
		y := c.ChannelAffine(c.Conv2D(x, w, bias, p), scale, shift)
		if act == backend.NoAct {
			return y
		}
		return c.Unary(act, y)
	}
	var bv *tensor.Tensor
	if bias != nil {
		bv = bias.Value
	}
	if ca, ok := c.B.(backend.ConvAffiner); ok {
		return c.Const(ca.Conv2DAffine(x.Value, w.Value, bv, scale.Value, shift.Value, p, act))
	}
	y := c.B.Conv2D(x.Value, w.Value, bv, p)
	if act == backend.NoAct {
		yv := c.Const(y)
		out := c.Const(c.B.ChannelAffine(y, scale.Value, shift.Value))
		c.Release(yv)
		return out
	}
	c.B.ChannelAffineUnaryInPlace(y, scale.Value, shift.Value, act)
	return c.Const(y)
}

// ChannelAffineUnary is op(ChannelAffine(x, scale, shift)): one fused
// kernel when no gradient is recorded (eval-mode batch norm and its
// activation), the two differentiable ops otherwise. Both round alike.
func (c *Ctx) ChannelAffineUnary(x, scale, shift *Var, op backend.UnaryOp) *Var {
	if c.grad && (x.requiresGrad || scale.requiresGrad || shift.requiresGrad) {
		return c.Unary(op, c.ChannelAffine(x, scale, shift))
	}
	return c.Const(c.B.ChannelAffineUnary(x.Value, scale.Value, shift.Value, op))
}

// ChannelAffineUnaryInPlace is ChannelAffineUnary computed over x's memory
// when no gradient is recorded: x must be an intermediate that nothing else
// reads (its Value is set to nil; the result holds the memory). With
// gradients it is ChannelAffineUnary.
func (c *Ctx) ChannelAffineUnaryInPlace(x, scale, shift *Var, op backend.UnaryOp) *Var {
	if c.grad || x.requiresGrad || x.Value == nil {
		return c.ChannelAffineUnary(x, scale, shift, op)
	}
	t := x.Value
	c.B.ChannelAffineUnaryInPlace(t, scale.Value, shift.Value, op)
	x.Value = nil
	return c.Const(t)
}

// GateScaleAdd is y + (x·gate)·s with gate [N, C] broadcast over the
// spatial axes of x (nil: y + x·s): one fused kernel when no gradient is
// recorded, the differentiable ops (same rounding) otherwise.
func (c *Ctx) GateScaleAdd(y, x, gate *Var, s float64) *Var {
	if c.grad && (y.requiresGrad || x.requiresGrad || (gate != nil && gate.requiresGrad)) {
		t := x
		if gate != nil {
			shape := make([]int, x.Value.Rank())
			for i := range shape {
				shape[i] = 1
			}
			shape[0], shape[1] = x.Dim(0), x.Dim(1)
			t = c.Mul(x, c.Reshape(gate, shape...))
		}
		return c.Add(y, c.MulScalar(t, s))
	}
	var g *tensor.Tensor
	if gate != nil {
		g = gate.Value
	}
	return c.Const(c.B.GateScaleAdd(y.Value, x.Value, g, s))
}

// ChannelAffine is x·scale[c] + shift[c] with scale and shift of shape [C].
func (c *Ctx) ChannelAffine(x, scale, shift *Var) *Var {
	y := c.B.ChannelAffine(x.Value, scale.Value, shift.Value)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		bshape := make([]int, x.Value.Rank())
		for i := range bshape {
			bshape[i] = 1
		}
		bshape[1] = x.Dim(1)
		axes := []int{0}
		for i := 2; i < x.Value.Rank(); i++ {
			axes = append(axes, i)
		}
		out := make([]*tensor.Tensor, 3)
		if x.requiresGrad {
			out[0] = c.B.Binary(backend.Mul, g, scale.Value.Reshape(bshape...))
		}
		if scale.requiresGrad {
			out[1] = c.B.Sum(c.B.Binary(backend.Mul, g, x.Value), axes, false)
		}
		if shift.requiresGrad {
			out[2] = c.B.Sum(g, axes, false)
		}
		return out
	}, x, scale, shift)
}

// BatchNormTrain normalises x [N, C, ...] with batch statistics; gamma and
// beta ([C]) may be nil. It also returns the batch mean and biased variance
// as constants (for running-statistic updates).
func (c *Ctx) BatchNormTrain(x, gamma, beta *Var, eps float64) (y, mean, variance *Var) {
	var gv, bv *tensor.Tensor
	if gamma != nil {
		gv = gamma.Value
	}
	if beta != nil {
		bv = beta.Value
	}
	out, m, v := c.B.BatchNormTrain(x.Value, gv, bv, eps)
	y = c.node(out, func(g *tensor.Tensor) []*tensor.Tensor {
		gx, gg, gb := c.B.BatchNormBackward(x.Value, g, gv, m, v, eps)
		return []*tensor.Tensor{gx, gg, gb}
	}, x, gamma, beta)
	return y, c.Const(m), c.Const(v)
}

// Upsample2x doubles H and W (nearest, or bilinear with align_corners=True).
func (c *Ctx) Upsample2x(x *Var, mode backend.UpsampleMode) *Var {
	y := c.B.Upsample2x(x.Value, mode)
	return c.node(y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{c.B.Upsample2xBackward(g, mode)}
	}, x)
}

// Argmax along axis (no gradient).
func (c *Ctx) Argmax(x *Var, axis int) *Var { return c.Const(c.B.Argmax(x.Value, axis)) }

// OneHot of integer-valued indices, new axis at axis (no gradient).
func (c *Ctx) OneHot(idx *Var, n, axis int) *Var {
	return c.Const(c.B.OneHot(idx.Value, n, axis, c.DType))
}
