package cuda

// Element-wise ops: unary functions and their derivatives, affine, clamp,
// broadcasting binary ops, comparisons, where, the per-channel affine with
// an optional fused activation, and the gated residual sum. Kernels in
// pkg/cuda/kernels/bk_elementwise.cu.

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/backend"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

const ewFile = "bk_elementwise.cu"

// smallN is the largest element count the 32-bit index kernels take
// (BK_SMALL of the kernels).
const smallN = math.MaxInt32

// numUnary is the number of backend.UnaryOp values.
var numUnary = len(backend.UnaryOps())

func checkUnary(what string, op backend.UnaryOp) {
	if int(op) >= numUnary {
		panic(fmt.Sprintf("cuda backend: %s: unknown unary op %v", what, op))
	}
}

// Unary implements backend.Backend.
func (b *Backend) Unary(op backend.UnaryOp, x *tensor.Tensor) *tensor.Tensor {
	checkUnary("Unary", op)
	f32("Unary", x)
	y := b.alloc(x.Shape()...)
	b.launch1D(ewFile, "bk_unary", y.Len(), int32(op), ptr(y), ptr(x), int64(y.Len()))
	return y
}

// UnaryBackward implements backend.Backend; y may be nil.
func (b *Backend) UnaryBackward(op backend.UnaryOp, x, y, gy *tensor.Tensor) *tensor.Tensor {
	checkUnary("UnaryBackward", op)
	f32("UnaryBackward", x, y, gy)
	if x.Len() != gy.Len() || (y != nil && y.Len() != x.Len()) {
		panic(fmt.Sprintf("cuda backend: UnaryBackward %v: shapes %s", op, shapeString(nonNil(x, y, gy)...)))
	}
	var yp cu.DevicePtr
	if y != nil {
		yp = ptr(y)
	}
	gx := b.alloc(x.Shape()...)
	b.launch1D(ewFile, "bk_unary_backward", gx.Len(), int32(op), ptr(gx), ptr(x), yp, ptr(gy), int64(gx.Len()))
	return gx
}

// Affine implements backend.Backend: x·float32(a) + float32(c), the
// product rounded before the sum (as the CPU backend).
func (b *Backend) Affine(x *tensor.Tensor, a, c float64) *tensor.Tensor {
	f32("Affine", x)
	y := b.alloc(x.Shape()...)
	b.launch1D(ewFile, "bk_affine", y.Len(), ptr(y), ptr(x), float32(a), float32(c), int64(y.Len()))
	return y
}

// ceil32 is the least float32 >= v: for a float32 x, x >= v ⟺ x >= ceil32(v)
// and x < v ⟺ x < ceil32(v) (NaN stays NaN).
func ceil32(v float64) float32 {
	f := float32(v)
	if float64(f) < v {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// floor32 is the greatest float32 <= v: for a float32 x, x <= v ⟺
// x <= floor32(v).
func floor32(v float64) float32 {
	f := float32(v)
	if float64(f) > v {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

// Clamp implements backend.Backend. The comparisons are the CPU
// backend's float64 ones, made on float32 bounds that decide alike.
func (b *Backend) Clamp(x *tensor.Tensor, lo, hi float64) *tensor.Tensor {
	f32("Clamp", x)
	y := b.alloc(x.Shape()...)
	b.launch1D(ewFile, "bk_clamp", y.Len(), ptr(y), ptr(x), ceil32(lo), floor32(hi), float32(lo), float32(hi), int64(y.Len()))
	return y
}

// ClampBackward implements backend.Backend: gy passes where lo <= x <= hi
// (PyTorch: the bounds pass the gradient).
func (b *Backend) ClampBackward(x, gy *tensor.Tensor, lo, hi float64) *tensor.Tensor {
	f32("ClampBackward", x, gy)
	if x.Len() != gy.Len() {
		panic(fmt.Sprintf("cuda backend: ClampBackward shapes %s", shapeString(x, gy)))
	}
	gx := b.alloc(x.Shape()...)
	b.launch1D(ewFile, "bk_clamp_backward", gx.Len(), ptr(gx), ptr(x), ptr(gy), ceil32(lo), floor32(hi), int64(gx.Len()))
	return gx
}

// Binary implements backend.Backend.
func (b *Backend) Binary(op backend.BinaryOp, x, y *tensor.Tensor) *tensor.Tensor {
	if op > backend.Min {
		panic(fmt.Sprintf("cuda backend: Binary: unknown op %d", int(op)))
	}
	return b.binary("Binary "+op.String(), int32(op), x, y)
}

// Compare implements backend.Backend: 1 where x op y holds, else 0.
func (b *Backend) Compare(op backend.CompareOp, x, y *tensor.Tensor) *tensor.Tensor {
	if op > backend.EQ {
		panic(fmt.Sprintf("cuda backend: Compare: unknown op %d", int(op)))
	}
	return b.binary(fmt.Sprintf("Compare %d", int(op)), 6+int32(op), x, y)
}

// binary runs kernel op number kop (bk_bin of the kernels) over the
// broadcast of x and y: a linear kernel when both have the result's
// shape, one with a scalar operand, one with an operand broadcast along
// all but one (coalesced) axis (a bias per channel, a gate per sample and
// channel), else the general strided one.
func (b *Backend) binary(what string, kop int32, x, y *tensor.Tensor) *tensor.Tensor {
	f32(what, x, y)
	shape, err := backend.BroadcastShapes(x.Shape(), y.Shape())
	if err != nil {
		panic(fmt.Sprintf("cuda backend: %s: %v", what, err))
	}
	out := b.alloc(shape...)
	n := out.Len()
	if n == 0 {
		return out
	}
	nx, ny := x.Len(), y.Len()
	switch {
	case nx == n && ny == n:
		b.launch1D(ewFile, "bk_binary_same", n, kop, ptr(out), ptr(x), ptr(y), int64(n))
		return out
	case nx == n && ny == 1:
		b.launch1D(ewFile, "bk_binary_scalar", n, kop, int32(0), ptr(out), ptr(x), ptr(y), int64(n))
		return out
	case ny == n && nx == 1:
		b.launch1D(ewFile, "bk_binary_scalar", n, kop, int32(1), ptr(out), ptr(y), ptr(x), int64(n))
		return out
	}
	sh, st := coalesce(shape, backend.BroadcastStrides(x.Shape(), shape), backend.BroadcastStrides(y.Shape(), shape))
	if n <= smallN {
		if nx == n {
			if c, inner, ok := vectorAxis(sh, st[1]); ok {
				b.launch1D(ewFile, "bk_binary_chan", n, kop, int32(0), ptr(out), ptr(x), ptr(y), int32(c), int32(inner), int64(n))
				return out
			}
		}
		if ny == n {
			if c, inner, ok := vectorAxis(sh, st[0]); ok {
				b.launch1D(ewFile, "bk_binary_chan", n, kop, int32(1), ptr(out), ptr(y), ptr(x), int32(c), int32(inner), int64(n))
				return out
			}
		}
	}
	b.launch1D(ewFile, "bk_binary_bcast", n, kop, ptr(out), ptr(x), ptr(y), newDims(sh, st[0]), newDims(sh, st[1]), int64(n))
	return out
}

// Where implements backend.Backend: x where cond != 0, else y, all
// broadcast (NaN conditions select x, as on the CPU).
func (b *Backend) Where(cond, x, y *tensor.Tensor) *tensor.Tensor {
	f32("Where", cond, x, y)
	shape, err := backend.BroadcastShapes(cond.Shape(), x.Shape())
	if err == nil {
		shape, err = backend.BroadcastShapes(shape, y.Shape())
	}
	if err != nil {
		panic(fmt.Sprintf("cuda backend: Where: %v", err))
	}
	out := b.alloc(shape...)
	n := out.Len()
	if n == 0 {
		return out
	}
	if cond.Len() == n && x.Len() == n && y.Len() == n {
		b.launch1D(ewFile, "bk_where_same", n, ptr(out), ptr(cond), ptr(x), ptr(y), int64(n))
		return out
	}
	sh, st := coalesce(shape, backend.BroadcastStrides(cond.Shape(), shape), backend.BroadcastStrides(x.Shape(), shape), backend.BroadcastStrides(y.Shape(), shape))
	b.launch1D(ewFile, "bk_where_bcast", n, ptr(out), ptr(cond), ptr(x), ptr(y),
		newDims(sh, st[0]), newDims(sh, st[1]), newDims(sh, st[2]), int64(n))
	return out
}

// ChannelAffine implements backend.Backend.
func (b *Backend) ChannelAffine(x, scale, shift *tensor.Tensor) *tensor.Tensor {
	y := b.alloc(x.Shape()...)
	b.channelAffine("ChannelAffine", -1, y, x, scale, shift)
	return y
}

// ChannelAffineUnary implements backend.Backend: one pass, rounded like
// Unary(op, ChannelAffine(x, scale, shift)).
func (b *Backend) ChannelAffineUnary(x, scale, shift *tensor.Tensor, op backend.UnaryOp) *tensor.Tensor {
	checkUnary("ChannelAffineUnary", op)
	y := b.alloc(x.Shape()...)
	b.channelAffine("ChannelAffineUnary", int32(op), y, x, scale, shift)
	return y
}

// ChannelAffineUnaryInPlace implements backend.Backend.
func (b *Backend) ChannelAffineUnaryInPlace(x, scale, shift *tensor.Tensor, op backend.UnaryOp) {
	checkUnary("ChannelAffineUnaryInPlace", op)
	b.channelAffine("ChannelAffineUnaryInPlace", int32(op), x, x, scale, shift)
}

// channelAffine writes op(x·scale[c] + shift[c]) (op < 0: no activation)
// into y, which may be x.
func (b *Backend) channelAffine(what string, op int32, y, x, scale, shift *tensor.Tensor) {
	f32(what, x, scale, shift)
	_, c, hw := nchw(what, x.Shape())
	if scale.Len() != c || shift.Len() != c {
		panic(fmt.Sprintf("cuda backend: %s of %v with %d scales and %d shifts", what, x.Shape(), scale.Len(), shift.Len()))
	}
	n := x.Len()
	b.launch1D(ewFile, "bk_channel_affine", n, op, ptr(y), ptr(x), ptr(scale), ptr(shift), int64(c), int64(hw), int64(n))
}

// GateScaleAdd implements backend.Backend: y + (x·gate[n,c])·s in one
// pass, rounded like Binary(Add, y, Affine(Binary(Mul, x, gate), s, 0)).
func (b *Backend) GateScaleAdd(y, x, gate *tensor.Tensor, s float64) *tensor.Tensor {
	f32("GateScaleAdd", y, x, gate)
	if !x.Shape().Equal(y.Shape()) {
		panic(fmt.Sprintf("cuda backend: GateScaleAdd of %v and %v", y.Shape(), x.Shape()))
	}
	nb, c, hw := nchw("GateScaleAdd", x.Shape())
	var gp cu.DevicePtr
	if gate != nil {
		if gate.Len() != nb*c {
			panic(fmt.Sprintf("cuda backend: GateScaleAdd gate of %d elements for %v", gate.Len(), x.Shape()))
		}
		gp = ptr(gate)
	}
	out := b.alloc(x.Shape()...)
	n := out.Len()
	b.launch1D(ewFile, "bk_gate_scale_add", n, ptr(out), ptr(y), ptr(x), gp, float32(s), int64(hw), int64(n))
	return out
}

// nchw splits a shape [N, C, ...] into N, C and the plane size.
func nchw(what string, s tensor.Shape) (n, c, hw int) {
	if len(s) < 2 {
		panic(fmt.Sprintf("cuda backend: %s needs [N, C, ...], got %v", what, s))
	}
	hw = 1
	for _, d := range s[2:] {
		hw *= d
	}
	return s[0], s[1], hw
}

// nonNil drops the nil tensors (for messages).
func nonNil(ts ...*tensor.Tensor) []*tensor.Tensor {
	var o []*tensor.Tensor
	for _, t := range ts {
		if t != nil {
			o = append(o, t)
		}
	}
	return o
}

// coalesce simplifies an iteration space shared by operands with the
// given strides (aligned to shape, which is row-major for the output): it
// drops size-1 axes and merges neighbouring axes that every operand (and
// the output) walks contiguously. The result has rank >= 1.
func coalesce(shape tensor.Shape, strides ...[]int) (tensor.Shape, [][]int) {
	var sh []int
	st := make([][]int, len(strides))
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if len(sh) > 0 {
			last := len(sh) - 1
			ok := true
			for k := range strides {
				if st[k][last] != strides[k][i]*d {
					ok = false
					break
				}
			}
			if ok {
				sh[last] *= d
				for k := range strides {
					st[k][last] = strides[k][i]
				}
				continue
			}
		}
		sh = append(sh, d)
		for k := range strides {
			st[k] = append(st[k], strides[k][i])
		}
	}
	if len(sh) == 0 {
		sh = []int{1}
		for k := range st {
			st[k] = []int{0}
		}
	}
	return sh, st
}

// vectorAxis reports whether an operand with coalesced strides st is a
// contiguous vector along one axis of shape sh, broadcast along the
// others: element i of the result reads element (i/inner)%c of it.
func vectorAxis(sh tensor.Shape, st []int) (c, inner int, ok bool) {
	axis := -1
	for i, s := range st {
		if s == 0 {
			continue
		}
		if s != 1 || axis >= 0 {
			return 0, 0, false
		}
		axis = i
	}
	if axis < 0 {
		return 0, 0, false
	}
	inner = 1
	for _, d := range sh[axis+1:] {
		inner *= d
	}
	return sh[axis], inner, true
}
