package cpu

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/par"
	"github.com/nvaego/nvae/pkg/tensor"
)

func poolShape(x *tensor.Tensor, k, s, p int) (n, c, h, w, oh, ow int) {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("cpu: pooling needs NCHW, got %v", x.Shape()))
	}
	sh := x.Shape()
	n, c, h, w = sh[0], sh[1], sh[2], sh[3]
	oh, ow = (h+2*p-k)/s+1, (w+2*p-k)/s+1
	if oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("cpu: pooling window %d stride %d padding %d does not fit %v", k, s, p, sh))
	}
	return
}

// window is the clipped input range [lo, hi) of each output position.
type window struct{ lo, hi int }

func windows(n, out, k, s, p int) []window {
	w := make([]window, out)
	for o := range w {
		w[o] = window{max(o*s-p, 0), min(o*s-p+k, n)}
	}
	return w
}

func poolT[T Float](x *tensor.Tensor, k, s, p int, isMax, countPad bool) *tensor.Tensor {
	n, c, h, w, oh, ow := poolShape(x, k, s, p)
	out := alloc[T](tensor.Shape{n, c, oh, ow})
	xs, ys := host[T](x), host[T](out)
	rows, cols := windows(h, oh, k, s, p), windows(w, ow, k, s, p)
	par.For(n*c, 1, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xs[pl*h*w : (pl+1)*h*w]
			dst := ys[pl*oh*ow : (pl+1)*oh*ow]
			for oy, rw := range rows {
				drow := dst[oy*ow : (oy+1)*ow]
				for ox, cw := range cols {
					if isMax {
						best := T(math.Inf(-1))
						for y := rw.lo; y < rw.hi; y++ {
							for _, v := range src[y*w+cw.lo : y*w+cw.hi] {
								if v > best || v != v {
									best = v
								}
							}
						}
						drow[ox] = best
						continue
					}
					var sum T
					for y := rw.lo; y < rw.hi; y++ {
						for _, v := range src[y*w+cw.lo : y*w+cw.hi] {
							sum += v
						}
					}
					div := k * k
					if !countPad {
						div = (rw.hi - rw.lo) * (cw.hi - cw.lo)
					}
					drow[ox] = sum / T(div)
				}
			}
		}
	})
	return out
}

// MaxPool2D implements backend.Backend (padding counts as -Inf).
func (*Backend) MaxPool2D(x *tensor.Tensor, k, s, p int) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return poolT[float32](x, k, s, p, true, false)
	}
	return poolT[float64](x, k, s, p, true, false)
}

// AvgPool2D implements backend.Backend.
func (*Backend) AvgPool2D(x *tensor.Tensor, k, s, p int, countIncludePad bool) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return poolT[float32](x, k, s, p, false, countIncludePad)
	}
	return poolT[float64](x, k, s, p, false, countIncludePad)
}

// srcIndex maps output coordinate o to a source coordinate the way
// PyTorch's upsample_bilinear2d does.
func srcIndex(o, in, out int, align bool) (int, int, float64) {
	var src float64
	if align {
		if out > 1 {
			src = float64(o) * float64(in-1) / float64(out-1)
		}
	} else {
		src = (float64(o)+0.5)*float64(in)/float64(out) - 0.5
		if src < 0 {
			src = 0
		}
	}
	i0 := int(src)
	if i0 > in-1 {
		i0 = in - 1
	}
	i1 := i0 + 1
	if i1 > in-1 {
		i1 = in - 1
	}
	return i0, i1, src - float64(i0)
}

func resizeT[T Float](x *tensor.Tensor, oh, ow int, align bool) *tensor.Tensor {
	sh := x.Shape()
	n, c, h, w := sh[0], sh[1], sh[2], sh[3]
	out := alloc[T](tensor.Shape{n, c, oh, ow})
	xs, ys := host[T](x), host[T](out)
	par.For(n*c, 1, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xs[pl*h*w : (pl+1)*h*w]
			dst := ys[pl*oh*ow : (pl+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				y0, y1, fy := srcIndex(oy, h, oh, align)
				for ox := 0; ox < ow; ox++ {
					x0, x1, fx := srcIndex(ox, w, ow, align)
					v := (1-fy)*((1-fx)*float64(src[y0*w+x0])+fx*float64(src[y0*w+x1])) +
						fy*((1-fx)*float64(src[y1*w+x0])+fx*float64(src[y1*w+x1]))
					dst[oy*ow+ox] = T(v)
				}
			}
		}
	})
	return out
}

// ResizeBilinear implements backend.Backend.
func (*Backend) ResizeBilinear(x *tensor.Tensor, h, w int, alignCorners bool) *tensor.Tensor {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("cpu: resize needs NCHW, got %v", x.Shape()))
	}
	if checkHost(x) == tensor.Float32 {
		return resizeT[float32](x, h, w, alignCorners)
	}
	return resizeT[float64](x, h, w, alignCorners)
}
