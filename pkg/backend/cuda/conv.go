package cuda

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

const nnFile = "bk_nn.cu"

// maxConvWorkspace bounds the cuDNN workspace an algorithm may ask for:
// cuDNN lists algorithms fastest first and the first that fits is used.
// The workspace is one buffer shared by every convolution (all work is on
// one stream), grown to the largest chosen algorithm's need.
const maxConvWorkspace = 256 << 20

// convShape validates a convolution of input xs and weight ws (the checks
// of the CPU backend) and returns its cuDNN shape.
func convShape(op string, xs, ws tensor.Shape, p backend.ConvParams) cu.ConvShape {
	d, err := backend.Conv2DDims(xs, ws, p)
	if err != nil {
		panic("cuda backend: " + op + " " + err.Error())
	}
	s, g := cu.ConvShape(d), d.Groups
	if g < 1 || ws[1]*g != xs[1] || s.K%g != 0 {
		panic(fmt.Sprintf("cuda backend: %s weight %v does not match input %v with %d groups", op, ws, xs, g))
	}
	if s.SH < 1 || s.SW < 1 || s.PH < 0 || s.PW < 0 || s.DH < 1 || s.DW < 1 {
		panic(fmt.Sprintf("cuda backend: %s: bad parameters %+v", op, p))
	}
	if oh, ow := convOut(s); oh < 1 || ow < 1 {
		panic(fmt.Sprintf("cuda backend: %s: kernel %v larger than padded input %v (%+v)", op, ws, xs, p))
	}
	return s
}

// convOut is the output height and width of s.
func convOut(s cu.ConvShape) (int, int) {
	oh := (s.H+2*s.PH-s.DH*(s.KH-1)-1)/s.SH + 1
	ow := (s.W+2*s.PW-s.DW*(s.KW-1)-1)/s.SW + 1
	return oh, ow
}

// emptyConv reports whether the convolution has no work: cuDNN rejects
// tensors with a zero dimension, and the results are then empty or zero.
func emptyConv(s cu.ConvShape) bool {
	return s.N == 0 || s.C == 0 || s.K == 0 || s.H == 0 || s.W == 0 || s.KH == 0 || s.KW == 0
}

// plan returns the cached cuDNN plan of s for the current math mode.
func (b *Backend) plan(s cu.ConvShape) *cu.Conv {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := convKey{s: s, tf32: b.tf32}
	if cv, ok := b.convs[key]; ok {
		return cv
	}
	cv, err := b.dnn.NewConv(s, b.tf32, maxConvWorkspace)
	if err != nil {
		panic(fmt.Sprintf("cuda backend: cuDNN convolution %+v: %v", s, err))
	}
	b.convs[key] = cv
	return cv
}

// Conv2D implements backend.Backend: cuDNN's forward convolution, then the
// bias (if any) added per output channel.
func (b *Backend) Conv2D(x, w, bias *tensor.Tensor, p backend.ConvParams) *tensor.Tensor {
	f32("Conv2D", x, w, bias)
	s := convShape("Conv2D", x.Shape(), w.Shape(), p)
	if bias != nil && bias.Len() != s.K {
		panic(fmt.Sprintf("cuda backend: Conv2D bias %v for %d output channels", bias.Shape(), s.K))
	}
	oh, ow := convOut(s)
	if emptyConv(s) {
		y := b.zeros(s.N, s.K, oh, ow)
		if bias != nil {
			b.addBias(y, bias)
		}
		return y
	}
	cv := b.plan(s)
	y := b.alloc(s.N, s.K, cv.OH, cv.OW)
	ws := b.workspace(cv.FwdWs)
	if err := cv.Forward(1, ptr(x), ptr(w), 0, ptr(y), ws, cv.FwdWs); err != nil {
		panic(fmt.Sprintf("cuda backend: Conv2D %s: %v", shapeString(x, w), err))
	}
	if bias != nil {
		b.addBias(y, bias)
	}
	return y
}

// addBias adds bias[c] to every element of channel c of y [N, C, H, W].
func (b *Backend) addBias(y, bias *tensor.Tensor) {
	planes, c := y.Dim(0)*y.Dim(1), y.Dim(1)
	hw := y.Dim(2) * y.Dim(3)
	if planes == 0 || hw == 0 {
		return
	}
	bx := min(threads, (hw+31)/32*32)
	gx := min((hw+bx-1)/bx, 64)
	gy := min(planes, 65535)
	b.launch(nnFile, "bk_bias_add", cu.Dim3{X: gx, Y: gy, Z: 1}, cu.Dim3{X: bx, Y: 1, Z: 1}, 0,
		ptr(y), ptr(bias), int64(planes), int32(c), int64(hw))
}

// Conv2DBackwardData implements backend.Backend (cuDNN's backward data).
func (b *Backend) Conv2DBackwardData(gy, w *tensor.Tensor, xShape tensor.Shape, p backend.ConvParams) *tensor.Tensor {
	f32("Conv2DBackwardData", gy, w)
	s := convShape("Conv2DBackwardData", xShape, w.Shape(), p)
	checkGy("Conv2DBackwardData", gy, s)
	if emptyConv(s) {
		return b.zeros(xShape...)
	}
	cv := b.plan(s)
	gx := b.alloc(xShape...)
	ws := b.workspace(cv.BwdDataWs)
	if err := cv.BackwardData(1, ptr(w), ptr(gy), 0, ptr(gx), ws, cv.BwdDataWs); err != nil {
		panic(fmt.Sprintf("cuda backend: Conv2DBackwardData %s: %v", shapeString(gy, w), err))
	}
	return gx
}

// Conv2DBackwardFilter implements backend.Backend (cuDNN's backward filter).
func (b *Backend) Conv2DBackwardFilter(x, gy *tensor.Tensor, wShape tensor.Shape, p backend.ConvParams) *tensor.Tensor {
	f32("Conv2DBackwardFilter", x, gy)
	s := convShape("Conv2DBackwardFilter", x.Shape(), wShape, p)
	checkGy("Conv2DBackwardFilter", gy, s)
	if emptyConv(s) {
		return b.zeros(wShape...)
	}
	cv := b.plan(s)
	gw := b.alloc(wShape...)
	ws := b.workspace(cv.BwdFilterWs)
	if err := cv.BackwardFilter(1, ptr(x), ptr(gy), 0, ptr(gw), ws, cv.BwdFilterWs); err != nil {
		panic(fmt.Sprintf("cuda backend: Conv2DBackwardFilter %s: %v", shapeString(x, gy), err))
	}
	return gw
}

// checkGy panics unless gy has the output shape of s.
func checkGy(op string, gy *tensor.Tensor, s cu.ConvShape) {
	oh, ow := convOut(s)
	if want := (tensor.Shape{s.N, s.K, oh, ow}); !gy.Shape().Equal(want) {
		panic(fmt.Sprintf("cuda backend: %s: gradient %v, want %v", op, gy.Shape(), want))
	}
}

// Conv2DAffine implements backend.ConvAffiner: Conv2D, then the per-
// channel affine map and activation over its output in place (the kernel
// of ChannelAffine and ChannelAffineUnary, so the result rounds alike).
func (b *Backend) Conv2DAffine(x, w, bias, scale, shift *tensor.Tensor, p backend.ConvParams, act backend.UnaryOp) *tensor.Tensor {
	y := b.Conv2D(x, w, bias, p)
	op := int32(-1)
	if act != backend.NoAct {
		checkUnary("Conv2DAffine", act)
		op = int32(act)
	}
	b.channelAffine("Conv2DAffine", op, y, y, scale, shift)
	return y
}
