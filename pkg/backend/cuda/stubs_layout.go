package cuda

// Stubs of the reduction and layout group (to be replaced by layout.go
// and reduce.go).

import (
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

func (b *Backend) Sum(x *tensor.Tensor, axes []int, keepDims bool) *tensor.Tensor {
	todo("Sum")
	return nil
}
func (b *Backend) MaxReduce(x *tensor.Tensor, axes []int, keepDims bool) *tensor.Tensor {
	todo("MaxReduce")
	return nil
}
func (b *Backend) SumTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	todo("SumTo")
	return nil
}
func (b *Backend) BroadcastTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	todo("BroadcastTo")
	return nil
}
func (b *Backend) Permute(x *tensor.Tensor, perm []int) *tensor.Tensor { todo("Permute"); return nil }
func (b *Backend) Slice(x *tensor.Tensor, starts, sizes []int) *tensor.Tensor {
	todo("Slice")
	return nil
}
func (b *Backend) SliceBackward(gy *tensor.Tensor, shape tensor.Shape, starts []int) *tensor.Tensor {
	todo("SliceBackward")
	return nil
}
func (b *Backend) Concat(axis int, xs []*tensor.Tensor) *tensor.Tensor { todo("Concat"); return nil }
func (b *Backend) Upsample2x(x *tensor.Tensor, mode backend.UpsampleMode) *tensor.Tensor {
	todo("Upsample2x")
	return nil
}
func (b *Backend) Upsample2xBackward(gy *tensor.Tensor, mode backend.UpsampleMode) *tensor.Tensor {
	todo("Upsample2xBackward")
	return nil
}
func (b *Backend) Argmax(x *tensor.Tensor, axis int) *tensor.Tensor { todo("Argmax"); return nil }
func (b *Backend) OneHot(idx *tensor.Tensor, n, axis int, dt tensor.DType) *tensor.Tensor {
	todo("OneHot")
	return nil
}
func (b *Backend) MaxPool2D(x *tensor.Tensor, k, s, p int) *tensor.Tensor {
	todo("MaxPool2D")
	return nil
}
func (b *Backend) AvgPool2D(x *tensor.Tensor, k, s, p int, countIncludePad bool) *tensor.Tensor {
	todo("AvgPool2D")
	return nil
}
func (b *Backend) ResizeBilinear(x *tensor.Tensor, h, w int, alignCorners bool) *tensor.Tensor {
	todo("ResizeBilinear")
	return nil
}
