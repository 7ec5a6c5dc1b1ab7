package cuda

// Stubs of the element-wise group (to be replaced by elementwise.go).

import (
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

func todo(op string) { panic("cuda backend: " + op + " not implemented yet") }

func (b *Backend) Unary(op backend.UnaryOp, x *tensor.Tensor) *tensor.Tensor {
	todo("Unary")
	return nil
}
func (b *Backend) UnaryBackward(op backend.UnaryOp, x, y, gy *tensor.Tensor) *tensor.Tensor {
	todo("UnaryBackward")
	return nil
}
func (b *Backend) Affine(x *tensor.Tensor, a, c float64) *tensor.Tensor  { todo("Affine"); return nil }
func (b *Backend) Clamp(x *tensor.Tensor, lo, hi float64) *tensor.Tensor { todo("Clamp"); return nil }
func (b *Backend) ClampBackward(x, gy *tensor.Tensor, lo, hi float64) *tensor.Tensor {
	todo("ClampBackward")
	return nil
}
func (b *Backend) Binary(op backend.BinaryOp, x, y *tensor.Tensor) *tensor.Tensor {
	todo("Binary")
	return nil
}
func (b *Backend) Compare(op backend.CompareOp, x, y *tensor.Tensor) *tensor.Tensor {
	todo("Compare")
	return nil
}
func (b *Backend) Where(cond, x, y *tensor.Tensor) *tensor.Tensor { todo("Where"); return nil }
func (b *Backend) ChannelAffine(x, scale, shift *tensor.Tensor) *tensor.Tensor {
	todo("ChannelAffine")
	return nil
}
func (b *Backend) ChannelAffineUnary(x, scale, shift *tensor.Tensor, op backend.UnaryOp) *tensor.Tensor {
	todo("ChannelAffineUnary")
	return nil
}
func (b *Backend) ChannelAffineUnaryInPlace(x, scale, shift *tensor.Tensor, op backend.UnaryOp) {
	todo("ChannelAffineUnaryInPlace")
}
func (b *Backend) GateScaleAdd(y, x, gate *tensor.Tensor, s float64) *tensor.Tensor {
	todo("GateScaleAdd")
	return nil
}
