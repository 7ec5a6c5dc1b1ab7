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
	os := tensor.Shape{cp.N, cp.K, cp.OutH(), cp.OutW()}
	out := allocFullDT(dt, os)
	if dt == tensor.Float32 {
		var b []float32
		if bias != nil {
			b = bias.F32()
		}
		conv.Forward(cp, x.F32(), w.F32(), b, out.F32())
	} else {
		var b []float64
		if bias != nil {
			b = bias.F64()
		}
		conv.Forward(cp, x.F64(), w.F64(), b, out.F64())
	}
	return out
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
