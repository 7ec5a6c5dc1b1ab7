package cpu

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/vmath"
)

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1+exp(x)) computed without overflow.
func softplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

func unaryF(op backend.UnaryOp, x float64) float64 {
	switch op {
	case backend.Exp:
		return math.Exp(x)
	case backend.Log:
		return math.Log(x)
	case backend.Tanh:
		return math.Tanh(x)
	case backend.Sigmoid:
		return sigmoid(x)
	case backend.Softplus:
		return softplus(x)
	case backend.ELU:
		if x > 0 {
			return x
		}
		return math.Expm1(x)
	case backend.Swish:
		return x * sigmoid(x)
	case backend.ReLU:
		if x > 0 {
			return x
		}
		return 0
	case backend.Abs:
		return math.Abs(x)
	case backend.Sqrt:
		return math.Sqrt(x)
	case backend.Square:
		return x * x
	case backend.Neg:
		return -x
	case backend.LogSigmoid:
		return -softplus(-x)
	}
	panic(fmt.Sprintf("cpu: unknown unary op %v", op))
}

// unaryD is dy/dx given x and y = f(x).
func unaryD(op backend.UnaryOp, x, y float64) float64 {
	switch op {
	case backend.Exp:
		return y
	case backend.Log:
		return 1 / x
	case backend.Tanh:
		return 1 - y*y
	case backend.Sigmoid:
		return y * (1 - y)
	case backend.Softplus:
		return sigmoid(x)
	case backend.ELU:
		if x > 0 {
			return 1
		}
		return y + 1
	case backend.Swish:
		s := sigmoid(x)
		return s * (1 + x*(1-s))
	case backend.ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case backend.Abs:
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	case backend.Sqrt:
		return 0.5 / y
	case backend.Square:
		return 2 * x
	case backend.Neg:
		return -1
	case backend.LogSigmoid:
		return sigmoid(-x)
	}
	panic(fmt.Sprintf("cpu: unknown unary op %v", op))
}

// vmathUnary runs the SIMD float32 kernels of package vmath; it reports
// whether op has one.
func vmathUnary[T Float](op backend.UnaryOp, ys []T, xs []float32) bool {
	d := any(ys).([]float32)
	switch op {
	case backend.Swish:
		vmath.Swish(d, xs)
	case backend.Sigmoid:
		vmath.Sigmoid(d, xs)
	case backend.Exp:
		vmath.Exp(d, xs)
	case backend.ELU:
		vmath.ELU(d, xs)
	case backend.Softplus:
		vmath.Softplus(d, xs)
	case backend.Tanh:
		vmath.Tanh(d, xs)
	case backend.Log:
		vmath.Log(d, xs)
	default:
		return false
	}
	return true
}

func unaryT[T Float](op backend.UnaryOp, x *tensor.Tensor) *tensor.Tensor {
	out := allocFull[T](x.Shape())
	xs, ys := host[T](x), host[T](out)
	parFor(len(xs), func(lo, hi int) { unaryLoop(op, xs[lo:hi], ys[lo:hi]) })
	return out
}

// unaryLoop applies op with the switch outside the loop; the hot
// activations get loops of their own.
func unaryLoop[T Float](op backend.UnaryOp, xs, ys []T) {
	ys = ys[:len(xs)]
	if x32, ok := any(xs).([]float32); ok && vmathUnary(op, ys, x32) {
		return
	}
	switch op {
	case backend.Swish:
		for i, v := range xs {
			x := float64(v)
			ys[i] = T(x * sigmoid(x))
		}
	case backend.Sigmoid:
		for i, v := range xs {
			ys[i] = T(sigmoid(float64(v)))
		}
	case backend.ELU:
		for i, v := range xs {
			if v > 0 {
				ys[i] = v
			} else {
				ys[i] = T(math.Expm1(float64(v)))
			}
		}
	case backend.Exp:
		for i, v := range xs {
			ys[i] = T(math.Exp(float64(v)))
		}
	case backend.Square:
		for i, v := range xs {
			ys[i] = v * v
		}
	case backend.Neg:
		for i, v := range xs {
			ys[i] = -v
		}
	case backend.ReLU:
		for i, v := range xs {
			if v > 0 {
				ys[i] = v
			} else {
				ys[i] = 0
			}
		}
	default:
		for i, v := range xs {
			ys[i] = T(unaryF(op, float64(v)))
		}
	}
}

// Unary implements backend.Backend.
func (*Backend) Unary(op backend.UnaryOp, x *tensor.Tensor) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return unaryT[float32](op, x)
	}
	return unaryT[float64](op, x)
}

func unaryBackT[T Float](op backend.UnaryOp, x, y, gy *tensor.Tensor) *tensor.Tensor {
	out := alloc[T](x.Shape())
	xs, gs, gx := host[T](x), host[T](gy), host[T](out)
	var ys []T
	if y != nil {
		ys = host[T](y)
	}
	parFor(len(xs), func(lo, hi int) {
		var yr []T
		if ys != nil {
			yr = ys[lo:hi]
		}
		unaryBackLoop(op, xs[lo:hi], yr, gs[lo:hi], gx[lo:hi])
	})
	return out
}

func unaryBackLoop[T Float](op backend.UnaryOp, xs, ys, gs, gx []T) {
	gs, gx = gs[:len(xs)], gx[:len(xs)]
	if x32, ok := any(xs).([]float32); ok {
		d, g := any(gx).([]float32), any(gs).([]float32)
		switch op {
		case backend.Swish:
			vmath.SwishGrad(d, x32, g)
			return
		case backend.ELU:
			vmath.ELUGrad(d, x32, g)
			return
		}
	}
	switch {
	case op == backend.Swish:
		for i, v := range xs {
			x := float64(v)
			s := sigmoid(x)
			gx[i] = T(float64(gs[i]) * s * (1 + x*(1-s)))
		}
		return
	case op == backend.Exp && ys != nil:
		ys = ys[:len(xs)]
		for i := range xs {
			gx[i] = gs[i] * ys[i]
		}
		return
	case op == backend.Sigmoid && ys != nil:
		ys = ys[:len(xs)]
		for i := range xs {
			gx[i] = gs[i] * ys[i] * (1 - ys[i])
		}
		return
	case op == backend.ELU:
		for i, v := range xs {
			if v > 0 {
				gx[i] = gs[i]
			} else {
				gx[i] = T(float64(gs[i]) * math.Exp(float64(v)))
			}
		}
		return
	case op == backend.Square:
		for i, v := range xs {
			gx[i] = 2 * v * gs[i]
		}
		return
	}
	for i, v := range xs {
		xv := float64(v)
		var yv float64
		if ys != nil {
			yv = float64(ys[i])
		} else {
			yv = unaryF(op, xv)
		}
		gx[i] = T(float64(gs[i]) * unaryD(op, xv, yv))
	}
}

// UnaryBackward implements backend.Backend; y may be nil.
func (*Backend) UnaryBackward(op backend.UnaryOp, x, y, gy *tensor.Tensor) *tensor.Tensor {
	if checkHost(x, y, gy) == tensor.Float32 {
		return unaryBackT[float32](op, x, y, gy)
	}
	return unaryBackT[float64](op, x, y, gy)
}

func affineT[T Float](x *tensor.Tensor, a, b float64) *tensor.Tensor {
	out := allocFull[T](x.Shape())
	xs, ys := host[T](x), host[T](out)
	ta, tb := T(a), T(b)
	parFor(len(xs), func(lo, hi int) { affineRow(ys[lo:hi], xs[lo:hi], ta, tb) })
	return out
}

// Affine implements backend.Backend.
func (*Backend) Affine(x *tensor.Tensor, a, b float64) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return affineT[float32](x, a, b)
	}
	return affineT[float64](x, a, b)
}

func clampT[T Float](x *tensor.Tensor, lo, hi float64) *tensor.Tensor {
	out := allocFull[T](x.Shape())
	xs, ys := host[T](x), host[T](out)
	parFor(len(xs), func(a, b int) {
		for i := a; i < b; i++ {
			v := float64(xs[i])
			if v < lo {
				v = lo
			}
			if v > hi {
				v = hi
			}
			ys[i] = T(v)
		}
	})
	return out
}

// Clamp implements backend.Backend.
func (*Backend) Clamp(x *tensor.Tensor, lo, hi float64) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return clampT[float32](x, lo, hi)
	}
	return clampT[float64](x, lo, hi)
}

func clampBackT[T Float](x, gy *tensor.Tensor, lo, hi float64) *tensor.Tensor {
	out := alloc[T](x.Shape())
	xs, gs, gx := host[T](x), host[T](gy), host[T](out)
	parFor(len(xs), func(a, b int) {
		for i := a; i < b; i++ {
			v := float64(xs[i])
			if v >= lo && v <= hi {
				gx[i] = gs[i]
			}
		}
	})
	return out
}

// ClampBackward implements backend.Backend.
func (*Backend) ClampBackward(x, gy *tensor.Tensor, lo, hi float64) *tensor.Tensor {
	if checkHost(x, gy) == tensor.Float32 {
		return clampBackT[float32](x, gy, lo, hi)
	}
	return clampBackT[float64](x, gy, lo, hi)
}

func broadcast2(a, b *tensor.Tensor) (tensor.Shape, []int, []int) {
	out, err := backend.BroadcastShapes(a.Shape(), b.Shape())
	if err != nil {
		panic("cpu: " + err.Error())
	}
	return out, backend.BroadcastStrides(a.Shape(), out), backend.BroadcastStrides(b.Shape(), out)
}

func binaryRow[T Float](op backend.BinaryOp, d []T, a []T, ai, sa int, b []T, bi, sb int) {
	n := len(d)
	switch op {
	case backend.Add:
		if sa == 1 && sb == 1 {
			a, b := a[ai:ai+n], b[bi:bi+n]
			for i := range d {
				d[i] = a[i] + b[i]
			}
			return
		}
		for i := range d {
			d[i] = a[ai] + b[bi]
			ai += sa
			bi += sb
		}
	case backend.Sub:
		for i := range d {
			d[i] = a[ai] - b[bi]
			ai += sa
			bi += sb
		}
	case backend.Mul:
		if sa == 1 && sb == 1 {
			a, b := a[ai:ai+n], b[bi:bi+n]
			for i := range d {
				d[i] = a[i] * b[i]
			}
			return
		}
		for i := range d {
			d[i] = a[ai] * b[bi]
			ai += sa
			bi += sb
		}
	case backend.Div:
		for i := range d {
			d[i] = a[ai] / b[bi]
			ai += sa
			bi += sb
		}
	case backend.Max:
		for i := range d {
			x, y := a[ai], b[bi]
			if y > x || y != y {
				x = y
			}
			d[i] = x
			ai += sa
			bi += sb
		}
	case backend.Min:
		for i := range d {
			x, y := a[ai], b[bi]
			if y < x || y != y {
				x = y
			}
			d[i] = x
			ai += sa
			bi += sb
		}
	default:
		panic(fmt.Sprintf("cpu: unknown binary op %v", op))
	}
}

func binaryT[T Float](op backend.BinaryOp, a, b *tensor.Tensor) *tensor.Tensor {
	shape, sa, sb := broadcast2(a, b)
	out := allocFull[T](shape)
	d, as, bs := host[T](out), host[T](a), host[T](b)
	l := newLayout(shape, shape.Strides(), sa, sb)
	l.rows(func(off [3]int, n int, in [3]int) {
		binaryRow(op, d[off[0]:off[0]+n], as, off[1], in[1], bs, off[2], in[2])
	})
	return out
}

// Binary implements backend.Backend.
func (*Backend) Binary(op backend.BinaryOp, a, b *tensor.Tensor) *tensor.Tensor {
	if checkHost(a, b) == tensor.Float32 {
		return binaryT[float32](op, a, b)
	}
	return binaryT[float64](op, a, b)
}

func cmp[T Float](op backend.CompareOp, x, y T) bool {
	switch op {
	case backend.GT:
		return x > y
	case backend.GE:
		return x >= y
	case backend.LT:
		return x < y
	case backend.LE:
		return x <= y
	case backend.EQ:
		return x == y
	}
	panic("cpu: unknown comparison")
}

func compareT[T Float](op backend.CompareOp, a, b *tensor.Tensor) *tensor.Tensor {
	shape, sa, sb := broadcast2(a, b)
	out := alloc[T](shape)
	d, as, bs := host[T](out), host[T](a), host[T](b)
	l := newLayout(shape, shape.Strides(), sa, sb)
	l.rows(func(off [3]int, n int, in [3]int) {
		ai, bi := off[1], off[2]
		for i := 0; i < n; i++ {
			if cmp(op, as[ai], bs[bi]) {
				d[off[0]+i] = 1
			}
			ai += in[1]
			bi += in[2]
		}
	})
	return out
}

// Compare implements backend.Backend.
func (*Backend) Compare(op backend.CompareOp, a, b *tensor.Tensor) *tensor.Tensor {
	if checkHost(a, b) == tensor.Float32 {
		return compareT[float32](op, a, b)
	}
	return compareT[float64](op, a, b)
}

func whereT[T Float](c, a, b *tensor.Tensor) *tensor.Tensor {
	s1, err := backend.BroadcastShapes(c.Shape(), a.Shape())
	if err == nil {
		s1, err = backend.BroadcastShapes(s1, b.Shape())
	}
	if err != nil {
		panic("cpu: where: " + err.Error())
	}
	// Broadcast the condition first, then iterate a and b with it.
	cb := alloc[T](s1)
	cd, cs := host[T](cb), host[T](c)
	copyStrided(s1, cd, 0, s1.Strides(), cs, 0, backend.BroadcastStrides(c.Shape(), s1))
	out := alloc[T](s1)
	d, as, bs := host[T](out), host[T](a), host[T](b)
	l := newLayout(s1, s1.Strides(), backend.BroadcastStrides(a.Shape(), s1), backend.BroadcastStrides(b.Shape(), s1))
	l.rows(func(off [3]int, n int, in [3]int) {
		ai, bi := off[1], off[2]
		for i := 0; i < n; i++ {
			o := off[0] + i
			if cd[o] != 0 {
				d[o] = as[ai]
			} else {
				d[o] = bs[bi]
			}
			ai += in[1]
			bi += in[2]
		}
	})
	return out
}

// Where implements backend.Backend.
func (*Backend) Where(cond, a, b *tensor.Tensor) *tensor.Tensor {
	if checkHost(cond, a, b) == tensor.Float32 {
		return whereT[float32](cond, a, b)
	}
	return whereT[float64](cond, a, b)
}
