// Package conv holds the CPU 2-D convolution kernels: forward, backward data,
// backward filter and backward bias, with exactly the semantics of PyTorch's
// F.conv2d (cross-correlation, zero padding, stride, dilation, groups).
//
// All tensors are dense row-major NCHW:
//
//	x  [N, C, H, W]           input
//	w  [K, C/Groups, KH, KW]  weight
//	y  [N, K, OH, OW]         output
//
// Dense and grouped convolutions go through im2col and pkg/gemm (1x1 stride-1
// unpadded convolutions multiply the image directly). Convolutions with one
// input channel per group (depthwise, with any channel multiplier K/C) use a
// direct kernel over zero-padded planes, vectorised with AVX2/FMA on amd64
// for float32.
package conv

import (
	"fmt"
)

// Float is the set of element types the kernels are generic over.
type Float interface{ ~float32 | ~float64 }

// Params describes one 2-D convolution.
type Params struct {
	N, C, H, W int // input batch, channels, height, width
	K, KH, KW  int // output channels, kernel height and width
	SH, SW     int // stride
	PH, PW     int // zero padding (symmetric)
	DH, DW     int // dilation
	Groups     int // C and K divisible by Groups; depthwise = Groups == C
}

// OutH is the output height (H + 2PH - DH(KH-1) - 1)/SH + 1.
func (p Params) OutH() int { return outSize(p.H, p.KH, p.SH, p.PH, p.DH) }

// OutW is the output width (W + 2PW - DW(KW-1) - 1)/SW + 1.
func (p Params) OutW() int { return outSize(p.W, p.KW, p.SW, p.PW, p.DW) }

func outSize(in, k, s, pad, d int) int {
	if s <= 0 {
		return 0
	}
	span := in + 2*pad - d*(k-1) - 1
	if span < 0 {
		return 0
	}
	return span/s + 1
}

// Validate reports whether p describes a computable convolution.
func (p Params) Validate() error {
	switch {
	case p.N < 1 || p.C < 1 || p.H < 1 || p.W < 1:
		return fmt.Errorf("conv: input shape N=%d C=%d H=%d W=%d must be positive", p.N, p.C, p.H, p.W)
	case p.K < 1 || p.KH < 1 || p.KW < 1:
		return fmt.Errorf("conv: K=%d KH=%d KW=%d must be positive", p.K, p.KH, p.KW)
	case p.SH < 1 || p.SW < 1:
		return fmt.Errorf("conv: stride %dx%d must be positive", p.SH, p.SW)
	case p.PH < 0 || p.PW < 0:
		return fmt.Errorf("conv: padding %dx%d must not be negative", p.PH, p.PW)
	case p.DH < 1 || p.DW < 1:
		return fmt.Errorf("conv: dilation %dx%d must be positive", p.DH, p.DW)
	case p.Groups < 1:
		return fmt.Errorf("conv: groups %d must be positive", p.Groups)
	case p.C%p.Groups != 0 || p.K%p.Groups != 0:
		return fmt.Errorf("conv: C=%d and K=%d must be divisible by groups %d", p.C, p.K, p.Groups)
	case p.OutH() < 1 || p.OutW() < 1:
		return fmt.Errorf("conv: empty output: input %dx%d, padding %dx%d, dilated kernel %dx%d",
			p.H, p.W, p.PH, p.PW, p.DH*(p.KH-1)+1, p.DW*(p.KW-1)+1)
	}
	return nil
}

// FLOPs is the number of floating-point operations of one pass
// (2·N·K·OH·OW·(C/Groups)·KH·KW); each backward pass costs the same.
func (p Params) FLOPs() float64 {
	return 2 * float64(p.N) * float64(p.K) * float64(p.OutH()) * float64(p.OutW()) *
		float64(p.C/p.Groups) * float64(p.KH) * float64(p.KW)
}

func (p Params) xLen() int { return p.N * p.C * p.H * p.W }
func (p Params) wLen() int { return p.K * (p.C / p.Groups) * p.KH * p.KW }
func (p Params) yLen() int { return p.N * p.K * p.OutH() * p.OutW() }

// check panics on invalid parameters or slices shorter than the shapes need.
func (p Params) check(op string, lens ...[2]int) {
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("%s: %v", op, err))
	}
	for _, l := range lens {
		if l[0] < l[1] {
			panic(fmt.Sprintf("conv.%s: slice of length %d, need %d for %+v", op, l[0], l[1], p))
		}
	}
}

// directPath reports whether the convolution has one input channel per group
// (depthwise, possibly with a channel multiplier) and so runs the direct kernel.
func (p Params) directPath() bool { return p.C == p.Groups }

// Forward computes y = conv2d(x, w) + bias. y is overwritten; bias may be nil,
// otherwise it has length K. Slices may be longer than the shapes need; only
// the leading elements are used.
func Forward[T Float](p Params, x, w, bias, y []T) {
	p.check("Forward", [2]int{len(x), p.xLen()}, [2]int{len(w), p.wLen()}, [2]int{len(y), p.yLen()})
	if bias != nil && len(bias) < p.K {
		panic(fmt.Sprintf("conv.Forward: bias of length %d, need %d", len(bias), p.K))
	}
	if p.directPath() {
		dwForward(p, x, w, bias, y)
		return
	}
	gemmForward(p, x, w, bias, y)
}

// BackwardData computes gx = dL/dx from gy = dL/dy. gx is overwritten.
func BackwardData[T Float](p Params, gy, w, gx []T) {
	p.check("BackwardData", [2]int{len(gy), p.yLen()}, [2]int{len(w), p.wLen()}, [2]int{len(gx), p.xLen()})
	if p.directPath() {
		dwBackwardData(p, gy, w, gx)
		return
	}
	gemmBackwardData(p, gy, w, gx)
}

// BackwardFilter computes gw = dL/dw from the input x and gy = dL/dy. gw is
// overwritten.
func BackwardFilter[T Float](p Params, x, gy, gw []T) {
	p.check("BackwardFilter", [2]int{len(x), p.xLen()}, [2]int{len(gy), p.yLen()}, [2]int{len(gw), p.wLen()})
	if p.directPath() {
		dwBackwardFilter(p, x, gy, gw)
		return
	}
	gemmBackwardFilter(p, x, gy, gw)
}

// BackwardBias computes gb = dL/dbias, the sum of gy over N, OH and OW. gb
// (length K) is overwritten.
func BackwardBias[T Float](p Params, gy, gb []T) {
	p.check("BackwardBias", [2]int{len(gy), p.yLen()}, [2]int{len(gb), p.K})
	plane := p.OutH() * p.OutW()
	// Sum in float64 (four lanes) for accuracy.
	for k := 0; k < p.K; k++ {
		var s0, s1, s2, s3 float64
		for n := 0; n < p.N; n++ {
			src := gy[(n*p.K+k)*plane : (n*p.K+k+1)*plane]
			i := 0
			for ; i+4 <= len(src); i += 4 {
				q := src[i : i+4 : i+4]
				s0 += float64(q[0])
				s1 += float64(q[1])
				s2 += float64(q[2])
				s3 += float64(q[3])
			}
			for ; i < len(src); i++ {
				s0 += float64(src[i])
			}
		}
		gb[k] = T(s0 + s1 + s2 + s3)
	}
}
