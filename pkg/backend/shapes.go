package backend

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/tensor"
)

// This file holds the shape checks and derivations that every backend makes
// the same way; the backends prefix the errors with their own name.

// MatMulDims is the geometry of a MatMul of row-major operands a and b:
// Batch products of an M×K by a K×N matrix, giving Out ([M N], or
// [Batch M N] for rank-3 operands). LdA and LdB are the row lengths of the
// stored (untransposed) operands, StrideA and StrideB their elements per
// batch entry.
type MatMulDims struct {
	Batch, M, N, K   int
	LdA, LdB         int
	StrideA, StrideB int
	Out              tensor.Shape
}

// MatMulShape checks a MatMul of shapes a and b (rank 2, or rank 3 with
// equal leading batch sizes; transA and transB transpose the last two
// axes) and returns its geometry.
func MatMulShape(a, b tensor.Shape, transA, transB bool) (MatMulDims, error) {
	if len(a) != len(b) || (len(a) != 2 && len(a) != 3) {
		return MatMulDims{}, fmt.Errorf("MatMul of %v and %v (rank 2 or 3, equal ranks)", a, b)
	}
	batch := 1
	if len(a) == 3 {
		if a[0] != b[0] {
			return MatMulDims{}, fmt.Errorf("MatMul batch %v vs %v", a, b)
		}
		batch = a[0]
	}
	ar, ac := a[len(a)-2], a[len(a)-1]
	br, bc := b[len(b)-2], b[len(b)-1]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	k2, n := br, bc
	if transB {
		k2, n = bc, br
	}
	if k != k2 {
		return MatMulDims{}, fmt.Errorf("MatMul inner sizes differ: %v (T=%v) x %v (T=%v)", a, transA, b, transB)
	}
	out := tensor.Shape{m, n}
	if len(a) == 3 {
		out = tensor.Shape{batch, m, n}
	}
	return MatMulDims{Batch: batch, M: m, N: n, K: k, LdA: ac, LdB: bc,
		StrideA: ar * ac, StrideB: br * bc, Out: out}, nil
}

// SumToAxes returns the axes of from that SumTo(x, to) sums over (x of
// shape from): the leading axes from lacks in to, and those where to has
// size 1 and from does not. The result of summing them, without keeping
// them, has the elements of to. It fails unless from broadcasts from to.
func SumToAxes(from, to tensor.Shape) ([]int, error) {
	lead := len(from) - len(to)
	if lead < 0 {
		return nil, fmt.Errorf("SumTo %v from %v", to, from)
	}
	var axes []int
	for i := range from {
		if i < lead {
			axes = append(axes, i)
			continue
		}
		if to[i-lead] == 1 && from[i] != 1 {
			axes = append(axes, i)
		} else if to[i-lead] != from[i] {
			return nil, fmt.Errorf("SumTo %v from %v", to, from)
		}
	}
	return axes, nil
}

// SumToBySum is SumTo(x, shape) for a backend b that has the rest: x
// itself when it already has shape, else the Sum of x over SumToAxes
// reshaped to shape.
func SumToBySum(b Backend, x *tensor.Tensor, shape tensor.Shape) (*tensor.Tensor, error) {
	xs := x.Shape()
	if xs.Equal(shape) {
		return x, nil
	}
	axes, err := SumToAxes(xs, shape)
	if err != nil {
		return nil, err
	}
	return b.Sum(x, axes, false).Reshape(shape...), nil
}

// ConvDims is the geometry of a 2-D convolution: input batch, channels,
// height and width; output channels and kernel height and width; stride,
// padding, dilation and groups. Its fields are those, in the order, of
// conv.Params and cuda.ConvShape, so it converts to either.
type ConvDims struct {
	N, C, H, W int
	K, KH, KW  int
	SH, SW     int
	PH, PW     int
	DH, DW     int
	Groups     int
}

// Conv2DDims reads the geometry of a convolution of NCHW input xs with OIHW
// weight ws under p, where Groups and dilations of 0 mean 1. It checks only
// the ranks: the backends validate the rest, each as its kernels need.
func Conv2DDims(xs, ws tensor.Shape, p ConvParams) (ConvDims, error) {
	if len(xs) != 4 || len(ws) != 4 {
		return ConvDims{}, fmt.Errorf("needs NCHW input and OIHW weight, got %v and %v", xs, ws)
	}
	g := p.Groups
	if g == 0 {
		g = 1
	}
	d := ConvDims{N: xs[0], C: xs[1], H: xs[2], W: xs[3], K: ws[0], KH: ws[2], KW: ws[3],
		SH: p.StrideH, SW: p.StrideW, PH: p.PadH, PW: p.PadW, DH: p.DilationH, DW: p.DilationW, Groups: g}
	if d.DH == 0 {
		d.DH = 1
	}
	if d.DW == 0 {
		d.DW = 1
	}
	return d, nil
}

// CheckBox fails unless the box of the given starts and sizes (one of each
// per axis, none negative) lies inside shape s: the argument check of Slice
// and SliceBackward.
func CheckBox(s tensor.Shape, starts, sizes []int) error {
	if len(starts) != len(s) || len(sizes) != len(s) {
		return fmt.Errorf("slice box rank for shape %v", s)
	}
	for i := range s {
		if starts[i] < 0 || sizes[i] < 0 || starts[i]+sizes[i] > s[i] {
			return fmt.Errorf("slice start %v size %v out of shape %v", starts, sizes, s)
		}
	}
	return nil
}

// BoxOffset is the element offset of starts in a buffer of strides st.
func BoxOffset(st, starts []int) int {
	o := 0
	for i := range st {
		o += st[i] * starts[i]
	}
	return o
}

// BroadcastStrides are the row-major strides of shape src viewed as the
// broadcast shape out (0 on the axes where src has size 1 or is missing).
func BroadcastStrides(src, out tensor.Shape) []int {
	st := make([]int, len(out))
	ss := src.Strides()
	off := len(out) - len(src)
	for i := range src {
		if src[i] != 1 {
			st[off+i] = ss[i]
		}
	}
	return st
}
