package cpu

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/conv"
	"github.com/nvaego/nvae/pkg/tensor"
)

func convParams(xs, ws tensor.Shape, p backend.ConvParams) conv.Params {
	d, err := backend.Conv2DDims(xs, ws, p)
	if err != nil {
		panic("cpu: conv2d " + err.Error())
	}
	cp, g := conv.Params(d), d.Groups
	if err = cp.Validate(); err != nil {
		panic("cpu: " + err.Error())
	}
	if ws[1]*g != xs[1] {
		panic(fmt.Sprintf("cpu: conv2d weight %v does not match input %v with %d groups", ws, xs, g))
	}
	return cp
}

// Conv2D implements backend.Backend.
func (*Backend) Conv2D(x, w, bias *tensor.Tensor, p backend.ConvParams) *tensor.Tensor {
	dt := checkHost(x, w, bias)
	cp := convParams(x.Shape(), w.Shape(), p)
	out := allocFullDT(dt, tensor.Shape{cp.N, cp.K, cp.OutH(), cp.OutW()})
	if dt == tensor.Float32 {
		conv.Forward(cp, x.F32(), w.F32(), optHost[float32](bias), out.F32())
	} else {
		conv.Forward(cp, x.F64(), w.F64(), optHost[float64](bias), out.F64())
	}
	return out
}

// optHost is host(t), nil for a nil tensor.
func optHost[T Float](t *tensor.Tensor) []T {
	if t == nil {
		return nil
	}
	return host[T](t)
}

// Conv2DAffine implements backend.ConvAffiner: each block of the output,
// right after the convolution wrote it, goes through the rows of
// ChannelAffine (affineRow) and the activation (unaryLoop), so the result
// rounds as the separate ops do.
func (*Backend) Conv2DAffine(x, w, bias, scale, shift *tensor.Tensor, p backend.ConvParams, act backend.UnaryOp) *tensor.Tensor {
	dt := checkHost(x, w, bias, scale, shift)
	cp := convParams(x.Shape(), w.Shape(), p)
	if scale.Len() != cp.K || shift.Len() != cp.K {
		panic(fmt.Sprintf("cpu: conv2d affine of %d channels with %d scales and %d shifts", cp.K, scale.Len(), shift.Len()))
	}
	out := allocFullDT(dt, tensor.Shape{cp.N, cp.K, cp.OutH(), cp.OutW()})
	if dt == tensor.Float32 {
		conv.ForwardEpilogue(cp, x.F32(), w.F32(), optHost[float32](bias), out.F32(), affineEpilogue[float32](scale, shift, act))
	} else {
		conv.ForwardEpilogue(cp, x.F64(), w.F64(), optHost[float64](bias), out.F64(), affineEpilogue[float64](scale, shift, act))
	}
	return out
}

// affineEpilogue is the per-channel affine map and activation (none for
// backend.NoAct) as a convolution epilogue.
func affineEpilogue[T Float](scale, shift *tensor.Tensor, act backend.UnaryOp) conv.Epilogue[T] {
	sc, sh := host[T](scale), host[T](shift)
	return func(y []T, k0, rows, n, ld int) {
		start := 0 // contiguous rows: the activation runs over spans of them
		for r := 0; r < rows; r++ {
			row := y[r*ld : r*ld+n]
			affineRow(row, row, sc[k0+r], sh[k0+r])
			switch {
			case act == backend.NoAct:
			case ld != n:
				unaryLoop(act, row, row)
			case (r+1-start)*n >= unaryBlock || r == rows-1:
				span := y[start*n : (r+1)*n]
				unaryLoop(act, span, span)
				start = r + 1
			}
		}
	}
}

// Conv2DBackwardData implements backend.Backend.
func (*Backend) Conv2DBackwardData(gy, w *tensor.Tensor, xShape tensor.Shape, p backend.ConvParams) *tensor.Tensor {
	dt := checkHost(gy, w)
	cp := convParams(xShape, w.Shape(), p)
	out := allocFullDT(dt, xShape)
	if dt == tensor.Float32 {
		conv.BackwardData(cp, gy.F32(), w.F32(), out.F32())
	} else {
		conv.BackwardData(cp, gy.F64(), w.F64(), out.F64())
	}
	return out
}

// Conv2DBackwardFilter implements backend.Backend.
func (*Backend) Conv2DBackwardFilter(x, gy *tensor.Tensor, wShape tensor.Shape, p backend.ConvParams) *tensor.Tensor {
	dt := checkHost(x, gy)
	cp := convParams(x.Shape(), wShape, p)
	out := allocFullDT(dt, wShape)
	if dt == tensor.Float32 {
		conv.BackwardFilter(cp, x.F32(), gy.F32(), out.F32())
	} else {
		conv.BackwardFilter(cp, x.F64(), gy.F64(), out.F64())
	}
	return out
}
