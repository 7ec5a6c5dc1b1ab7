// Package backend defines the kernel interface every compute device
// implements. Kernels take and return tensors; they never mutate their inputs
// except where a method says so. Autodiff (package ag) is built on top of it.
package backend

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/tensor"
)

// UnaryOp names an element-wise function.
type UnaryOp uint8

// Element-wise functions. Their derivatives follow PyTorch.
const (
	Exp UnaryOp = iota
	Log
	Tanh
	Sigmoid
	Softplus // log(1+exp(x)), stable
	ELU      // alpha = 1
	Swish    // x·sigmoid(x)
	ReLU
	Abs
	Sqrt
	Square
	Neg
	LogSigmoid // -softplus(-x)
	numUnary
)

var unaryNames = [...]string{"exp", "log", "tanh", "sigmoid", "softplus", "elu", "swish", "relu", "abs", "sqrt", "square", "neg", "logsigmoid"}

func (o UnaryOp) String() string {
	if int(o) < len(unaryNames) {
		return unaryNames[o]
	}
	return fmt.Sprintf("unary(%d)", int(o))
}

// UnaryOps lists every element-wise function (for tests).
func UnaryOps() []UnaryOp {
	ops := make([]UnaryOp, numUnary)
	for i := range ops {
		ops[i] = UnaryOp(i)
	}
	return ops
}

// BinaryOp names a broadcasting element-wise binary function.
type BinaryOp uint8

// Binary functions.
const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Max
	Min
)

func (o BinaryOp) String() string {
	return [...]string{"add", "sub", "mul", "div", "max", "min"}[o]
}

// CompareOp names a comparison producing 1 where true, 0 where false.
type CompareOp uint8

// Comparisons.
const (
	GT CompareOp = iota
	GE
	LT
	LE
	EQ
)

// UpsampleMode selects the 2x upsampling kind.
type UpsampleMode uint8

// Upsampling modes (scale factor 2).
const (
	Nearest       UpsampleMode = iota
	BilinearAlign              // bilinear, align_corners=True
)

// ConvParams describes a 2-D convolution over NCHW input with OIHW weights.
type ConvParams struct {
	StrideH, StrideW     int
	PadH, PadW           int
	DilationH, DilationW int
	Groups               int
}

// Conv returns square-kernel parameters (stride s, padding p, dilation d, groups g).
func Conv(s, p, d, g int) ConvParams {
	return ConvParams{StrideH: s, StrideW: s, PadH: p, PadW: p, DilationH: d, DilationW: d, Groups: g}
}

// OutSize is the spatial output size for input (h, w) and kernel (kh, kw).
func (p ConvParams) OutSize(h, w, kh, kw int) (int, int) {
	oh := (h+2*p.PadH-p.DilationH*(kh-1)-1)/p.StrideH + 1
	ow := (w+2*p.PadW-p.DilationW*(kw-1)-1)/p.StrideW + 1
	return oh, ow
}

// Backend is the set of kernels the engine runs on. A tensor produced by one
// backend is only valid as input to the same backend.
type Backend interface {
	Name() string

	// Memory.
	Zeros(dt tensor.DType, shape ...int) *tensor.Tensor
	Full(dt tensor.DType, v float64, shape ...int) *tensor.Tensor
	// FromHost copies a host tensor to the backend (may return it as is on CPU).
	FromHost(t *tensor.Tensor) *tensor.Tensor
	// ToHost returns a host copy (or the tensor itself on CPU).
	ToHost(t *tensor.Tensor) *tensor.Tensor
	Copy(t *tensor.Tensor) *tensor.Tensor
	Cast(t *tensor.Tensor, dt tensor.DType) *tensor.Tensor
	// AddInto accumulates src into dst in place (same shape): dst += src.
	AddInto(dst, src *tensor.Tensor)

	// Element-wise.
	Unary(op UnaryOp, x *tensor.Tensor) *tensor.Tensor
	// UnaryBackward returns gy·f'(x); y = f(x) is passed for ops that use it.
	UnaryBackward(op UnaryOp, x, y, gy *tensor.Tensor) *tensor.Tensor
	// Affine returns a·x + b.
	Affine(x *tensor.Tensor, a, b float64) *tensor.Tensor
	// Clamp limits x to [lo, hi]; use ±Inf for one-sided clamps.
	Clamp(x *tensor.Tensor, lo, hi float64) *tensor.Tensor
	// ClampBackward passes gy where lo <= x <= hi (PyTorch: the bounds pass the gradient).
	ClampBackward(x, gy *tensor.Tensor, lo, hi float64) *tensor.Tensor
	// Binary applies op with NumPy broadcasting.
	Binary(op BinaryOp, a, b *tensor.Tensor) *tensor.Tensor
	Compare(op CompareOp, a, b *tensor.Tensor) *tensor.Tensor
	// Where selects a where cond != 0, else b (all broadcast).
	Where(cond, a, b *tensor.Tensor) *tensor.Tensor

	// Reductions and layout. Sum and MaxReduce reduce over axes: nil means
	// every axis, an empty non-nil slice none.
	Sum(x *tensor.Tensor, axes []int, keepDims bool) *tensor.Tensor
	MaxReduce(x *tensor.Tensor, axes []int, keepDims bool) *tensor.Tensor
	// SumTo reduces a broadcast result back to shape (the adjoint of broadcasting).
	SumTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor
	BroadcastTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor
	Permute(x *tensor.Tensor, perm []int) *tensor.Tensor
	// Slice copies the box starting at starts with the given sizes.
	Slice(x *tensor.Tensor, starts, sizes []int) *tensor.Tensor
	// SliceBackward embeds gy in zeros of shape at starts (the adjoint of Slice).
	SliceBackward(gy *tensor.Tensor, shape tensor.Shape, starts []int) *tensor.Tensor
	Concat(axis int, xs []*tensor.Tensor) *tensor.Tensor

	// Linear algebra: a [.., m, k] (or [k, m] with transA) times b; rank 2 or
	// batched rank 3 with equal batch.
	MatMul(a, b *tensor.Tensor, transA, transB bool) *tensor.Tensor

	// Convolution (x NCHW, w [K, C/groups, KH, KW], bias [K] or nil).
	Conv2D(x, w, bias *tensor.Tensor, p ConvParams) *tensor.Tensor
	Conv2DBackwardData(gy, w *tensor.Tensor, xShape tensor.Shape, p ConvParams) *tensor.Tensor
	Conv2DBackwardFilter(x, gy *tensor.Tensor, wShape tensor.Shape, p ConvParams) *tensor.Tensor

	// ChannelAffine is x·scale[c] + shift[c] over axis 1 of x [N, C, ...]
	// (batch norm in eval mode, in one pass).
	ChannelAffine(x, scale, shift *tensor.Tensor) *tensor.Tensor
	// ChannelAffineUnary is op(x·scale[c] + shift[c]) in one pass, with
	// the same rounding as Unary(op, ChannelAffine(x, scale, shift)) (eval-
	// mode batch norm fused with its activation).
	ChannelAffineUnary(x, scale, shift *tensor.Tensor, op UnaryOp) *tensor.Tensor
	// ChannelAffineUnaryInPlace is ChannelAffineUnary written over x (for
	// inference, when x is an intermediate nothing else reads).
	ChannelAffineUnaryInPlace(x, scale, shift *tensor.Tensor, op UnaryOp)
	// GateScaleAdd is y + (x·gate[n,c])·s for x, y [N, C, ...] and gate
	// [N, C] (nil: no gate), in one pass, rounding like Binary(Add, y,
	// Affine(Binary(Mul, x, gate as [N,C,1,..]), s, 0)) (a residual cell's
	// squeeze-and-excitation gate, scaling and skip sum).
	GateScaleAdd(y, x, gate *tensor.Tensor, s float64) *tensor.Tensor

	// BatchNormTrain normalises over (N, H, W) with batch statistics and
	// returns y, the batch mean and the biased batch variance (per channel).
	BatchNormTrain(x, gamma, beta *tensor.Tensor, eps float64) (y, mean, variance *tensor.Tensor)
	// BatchNormBackward returns dL/dx, dL/dgamma, dL/dbeta for BatchNormTrain.
	BatchNormBackward(x, gy, gamma, mean, variance *tensor.Tensor, eps float64) (gx, ggamma, gbeta *tensor.Tensor)

	// Upsample2x doubles H and W; Upsample2xBackward is its adjoint.
	Upsample2x(x *tensor.Tensor, mode UpsampleMode) *tensor.Tensor
	Upsample2xBackward(gy *tensor.Tensor, mode UpsampleMode) *tensor.Tensor

	// Argmax along axis (the axis is removed); indices as floats.
	Argmax(x *tensor.Tensor, axis int) *tensor.Tensor
	// OneHot maps indices [...] to [..., n] along a new axis inserted at axis.
	OneHot(idx *tensor.Tensor, n, axis int, dt tensor.DType) *tensor.Tensor

	// AdamaxStep updates p, m and u in place (the official Adamax):
	// g' = g + wd·p; m = β1·m + (1−β1)·g'; u = max(β2·u, |g'| + eps);
	// p −= clr·m/u, with clr the bias-corrected learning rate.
	AdamaxStep(p, g, m, u *tensor.Tensor, clr, beta1, beta2, eps, wd float64)

	// Inference-only image ops (no gradient; used by the FID Inception
	// network). Pool2D takes k×k windows with stride s and zero padding p;
	// average pooling divides by the window's in-image size when
	// countIncludePad is false (PyTorch's count_include_pad=False).
	MaxPool2D(x *tensor.Tensor, k, s, p int) *tensor.Tensor
	AvgPool2D(x *tensor.Tensor, k, s, p int, countIncludePad bool) *tensor.Tensor
	// ResizeBilinear resizes NCHW input to (h, w) like F.interpolate(mode=
	// "bilinear") with the given align_corners.
	ResizeBilinear(x *tensor.Tensor, h, w int, alignCorners bool) *tensor.Tensor

	// Random tensors from the Philox stream (seed, offset): element i is a
	// pure function of (seed, offset+i), the same on every backend.
	RandNormal(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor
	RandUniform(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor
}

// Releaser is implemented by backends that recycle the memory of tensors
// their caller no longer needs (inference frees each intermediate as soon as
// it is consumed, as PyTorch's caching allocator does when the last
// reference goes). Release(t) promises that neither t nor any tensor sharing
// its storage (a reshaped view) is used again; the backend may hand the
// memory out as the result of a later kernel. Releasing a tensor twice is
// harmless.
type Releaser interface {
	Release(t *tensor.Tensor)
}

// Stepper is implemented by backends whose memory the garbage collector
// cannot see (the GPU): every buffer allocated between BeginStep and
// EndStep is freed at EndStep, except those passed to Keep. State that
// outlives a step (parameters, optimizer moments, BN running statistics,
// spectral vectors) is either allocated outside steps and updated in
// place, or kept when it is replaced.
type Stepper interface {
	BeginStep()
	EndStep()
	Keep(t *tensor.Tensor)
}

// Keep marks t as outliving the current step on backends that free a
// step's buffers (Stepper); elsewhere it does nothing.
func Keep(b Backend, ts ...*tensor.Tensor) {
	if s, ok := b.(Stepper); ok {
		for _, t := range ts {
			s.Keep(t)
		}
	}
}

// MemStats is a backend's device memory in bytes: handed out to tensors
// now, the most handed out at once since the start (or the last reset),
// and obtained from the driver (in use plus cached).
type MemStats struct {
	InUse, Peak, Reserved int64
}

// MemReporter is implemented by backends that account their memory.
type MemReporter interface {
	MemStats() MemStats
}

// NoAct is the activation argument of ConvAffiner.Conv2DAffine that
// applies none.
const NoAct UnaryOp = 255

// ConvAffiner is implemented by backends that run a convolution, the per-
// channel affine map after it (eval-mode batch norm) and an activation as
// one pass over the output (ag.Ctx.Conv2DAffine composes the ops
// elsewhere).
type ConvAffiner interface {
	// Conv2DAffine is ChannelAffineUnary(Conv2D(x, w, bias, p), scale,
	// shift, act), or ChannelAffine(...) when act is NoAct, rounding alike.
	Conv2DAffine(x, w, bias, scale, shift *tensor.Tensor, p ConvParams, act UnaryOp) *tensor.Tensor
}

// Finiter is implemented by backends that check many tensors for NaN or
// Inf with one device reduction and one read-back.
type Finiter interface {
	AllFinite(ts []*tensor.Tensor) bool
}

// AllFinite reports whether every element of every tensor is finite: one
// read-back on a Finiter, else one sum per tensor.
func AllFinite(b Backend, ts []*tensor.Tensor) bool {
	if f, ok := b.(Finiter); ok {
		return f.AllFinite(ts)
	}
	for _, t := range ts {
		if t == nil {
			continue
		}
		v := b.ToHost(b.Sum(t, nil, false)).At(0)
		if v-v != 0 { // NaN or ±Inf
			return false
		}
	}
	return true
}

// BroadcastShapes returns the NumPy broadcast of two shapes.
func BroadcastShapes(a, b tensor.Shape) (tensor.Shape, error) {
	n := len(a)
	if len(b) > n {
		n = len(b)
	}
	out := make(tensor.Shape, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("cannot broadcast shapes %v and %v", a, b)
		}
	}
	return out, nil
}

// NormAxes resolves negative axes against rank and sorts them. nil means
// every axis (as in package ag); an empty non-nil slice means none.
func NormAxes(axes []int, rank int) []int {
	if axes == nil {
		out := make([]int, rank)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, 0, len(axes))
	seen := make([]bool, rank)
	for _, a := range axes {
		if a < 0 {
			a += rank
		}
		if a < 0 || a >= rank {
			panic(fmt.Sprintf("backend: axis %d out of range for rank %d", a, rank))
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ReducedShape returns the shape after reducing axes (sorted, resolved).
func ReducedShape(s tensor.Shape, axes []int, keep bool) tensor.Shape {
	out := tensor.Shape{}
	j := 0
	for i, d := range s {
		if j < len(axes) && axes[j] == i {
			j++
			if keep {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return out
}
