package cuda

// Stubs of the linear-algebra, convolution, batch-norm, optimizer and
// random group (to be replaced by matmul.go, conv.go, nn.go, random.go).

import (
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

func (b *Backend) MatMul(x, y *tensor.Tensor, transA, transB bool) *tensor.Tensor {
	todo("MatMul")
	return nil
}
func (b *Backend) Conv2D(x, w, bias *tensor.Tensor, p backend.ConvParams) *tensor.Tensor {
	todo("Conv2D")
	return nil
}
func (b *Backend) Conv2DBackwardData(gy, w *tensor.Tensor, xShape tensor.Shape, p backend.ConvParams) *tensor.Tensor {
	todo("Conv2DBackwardData")
	return nil
}
func (b *Backend) Conv2DBackwardFilter(x, gy *tensor.Tensor, wShape tensor.Shape, p backend.ConvParams) *tensor.Tensor {
	todo("Conv2DBackwardFilter")
	return nil
}
func (b *Backend) BatchNormTrain(x, gamma, beta *tensor.Tensor, eps float64) (y, mean, variance *tensor.Tensor) {
	todo("BatchNormTrain")
	return
}
func (b *Backend) BatchNormBackward(x, gy, gamma, mean, variance *tensor.Tensor, eps float64) (gx, ggamma, gbeta *tensor.Tensor) {
	todo("BatchNormBackward")
	return
}
func (b *Backend) AdamaxStep(p, g, m, u *tensor.Tensor, clr, beta1, beta2, eps, wd float64) {
	todo("AdamaxStep")
}
func (b *Backend) RandNormal(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor {
	todo("RandNormal")
	return nil
}
func (b *Backend) RandUniform(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor {
	todo("RandUniform")
	return nil
}
func (b *Backend) AllFinite(ts []*tensor.Tensor) bool { todo("AllFinite"); return false }
