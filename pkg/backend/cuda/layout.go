package cuda

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

const layoutFile = "bk_layout.cu"

// BroadcastTo implements backend.Backend.
func (b *Backend) BroadcastTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	f32("BroadcastTo", x)
	s, err := backend.BroadcastShapes(x.Shape(), shape)
	if err != nil || !s.Equal(shape) {
		panic(fmt.Sprintf("cuda backend: cannot broadcast %v to %v", x.Shape(), shape))
	}
	return b.gather(ptr(x), broadcastDims(x.Shape(), shape), shape.Clone())
}

// Permute implements backend.Backend.
func (b *Backend) Permute(x *tensor.Tensor, perm []int) *tensor.Tensor {
	f32("Permute", x)
	s := x.Shape()
	if len(perm) != len(s) {
		panic(fmt.Sprintf("cuda backend: permutation %v for shape %v", perm, s))
	}
	seen := make([]bool, len(s))
	os := make(tensor.Shape, len(s))
	st := s.Strides()
	ss := make([]int, len(s))
	for i, p := range perm {
		if p < 0 || p >= len(s) || seen[p] {
			panic(fmt.Sprintf("cuda backend: permutation %v for shape %v", perm, s))
		}
		seen[p] = true
		os[i] = s[p]
		ss[i] = st[p]
	}
	return b.gather(ptr(x), newDims(os, ss), os)
}

// checkBox panics unless the box (starts, sizes) lies inside shape s.
func checkBox(s tensor.Shape, starts, sizes []int) {
	if err := backend.CheckBox(s, starts, sizes); err != nil {
		panic("cuda backend: " + err.Error())
	}
}

// at is the device address of element off of float32 tensor t.
func at(t *tensor.Tensor, off int) cu.DevicePtr { return ptr(t) + cu.DevicePtr(4*off) }

// Slice implements backend.Backend.
func (b *Backend) Slice(x *tensor.Tensor, starts, sizes []int) *tensor.Tensor {
	f32("Slice", x)
	checkBox(x.Shape(), starts, sizes)
	os := tensor.Shape(sizes).Clone()
	st := x.Shape().Strides()
	return b.gather(at(x, backend.BoxOffset(st, starts)), newDims(os, st), os)
}

// SliceBackward implements backend.Backend: zeros with gy written into
// the box.
func (b *Backend) SliceBackward(gy *tensor.Tensor, shape tensor.Shape, starts []int) *tensor.Tensor {
	f32("SliceBackward", gy)
	sizes := gy.Shape()
	checkBox(shape, starts, sizes)
	out := b.zeros(shape...)
	st := shape.Strides()
	b.scatter(at(out, backend.BoxOffset(st, starts)), gy, newDims(sizes, st))
	return out
}

// Concat implements backend.Backend: one strided copy per input.
func (b *Backend) Concat(axis int, xs []*tensor.Tensor) *tensor.Tensor {
	if len(xs) == 0 {
		panic("cuda backend: Concat of no tensors")
	}
	f32("Concat", xs...)
	base := xs[0].Shape()
	if axis < 0 {
		axis += len(base)
	}
	if axis < 0 || axis >= len(base) {
		panic(fmt.Sprintf("cuda backend: concat axis %d for rank %d", axis, len(base)))
	}
	os := base.Clone()
	os[axis] = 0
	for _, x := range xs {
		s := x.Shape()
		if len(s) != len(base) {
			panic(fmt.Sprintf("cuda backend: concat rank mismatch %v and %v", base, s))
		}
		for i := range s {
			if i != axis && s[i] != base[i] {
				panic(fmt.Sprintf("cuda backend: concat shapes %v and %v on axis %d", base, s, axis))
			}
		}
		os[axis] += s[axis]
	}
	out := b.alloc(os...)
	st := os.Strides()
	off := 0
	for _, x := range xs {
		s := x.Shape()
		b.scatter(at(out, off*st[axis]), x, newDims(s, st))
		off += s[axis]
	}
	return out
}

// Upsample2x implements backend.Backend.
func (b *Backend) Upsample2x(x *tensor.Tensor, mode backend.UpsampleMode) *tensor.Tensor {
	f32("Upsample2x", x)
	if x.Rank() != 4 {
		panic(fmt.Sprintf("cuda backend: upsample needs NCHW, got %v", x.Shape()))
	}
	s := x.Shape()
	y := b.alloc(s[0], s[1], 2*s[2], 2*s[3])
	name := "bk_upsample_nearest"
	if mode == backend.BilinearAlign {
		name = "bk_upsample_bilinear"
	} else if mode != backend.Nearest {
		panic(fmt.Sprintf("cuda backend: upsample mode %d", mode))
	}
	b.launch1D(layoutFile, name, y.Len(), ptr(y), ptr(x), int32(s[2]), int32(s[3]), int64(y.Len()))
	return y
}

// Upsample2xBackward implements backend.Backend. Each input-gradient
// element gathers its terms (no atomics, no zeroed memory), summed in the
// CPU backend's order.
func (b *Backend) Upsample2xBackward(gy *tensor.Tensor, mode backend.UpsampleMode) *tensor.Tensor {
	f32("Upsample2xBackward", gy)
	if gy.Rank() != 4 || gy.Dim(2)%2 != 0 || gy.Dim(3)%2 != 0 {
		panic(fmt.Sprintf("cuda backend: upsample backward needs NCHW with even H, W, got %v", gy.Shape()))
	}
	s := gy.Shape()
	h, w := s[2]/2, s[3]/2
	gx := b.alloc(s[0], s[1], h, w)
	name := "bk_upsample_nearest_back"
	if mode == backend.BilinearAlign {
		name = "bk_upsample_bilinear_back"
	} else if mode != backend.Nearest {
		panic(fmt.Sprintf("cuda backend: upsample mode %d", mode))
	}
	b.launch1D(layoutFile, name, gx.Len(), ptr(gx), ptr(gy), int32(h), int32(w), int64(gx.Len()))
	return gx
}

// Argmax implements backend.Backend (the first maximum wins, like PyTorch).
func (b *Backend) Argmax(x *tensor.Tensor, axis int) *tensor.Tensor {
	f32("Argmax", x)
	s := x.Shape()
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis >= len(s) {
		panic(fmt.Sprintf("cuda backend: argmax axis %d for shape %v", axis, s))
	}
	inner := 1
	for i := axis + 1; i < len(s); i++ {
		inner *= s[i]
	}
	if s[axis] == 0 {
		panic(fmt.Sprintf("cuda backend: argmax over an empty axis of %v", s))
	}
	os := append(s[:axis:axis], s[axis+1:]...)
	y := b.alloc(os...)
	b.launch1D(layoutFile, "bk_argmax", y.Len(), ptr(y), ptr(x), int64(s[axis]), int64(inner), int64(y.Len()))
	return y
}

// OneHot implements backend.Backend. Indices are truncated toward zero
// like the CPU backend's; one outside [0, n) gives zeros where the CPU
// backend panics (checking would cost a device-to-host round trip).
func (b *Backend) OneHot(idx *tensor.Tensor, n, axis int, dt tensor.DType) *tensor.Tensor {
	f32dt("OneHot", dt)
	f32("OneHot", idx)
	s := idx.Shape()
	if axis < 0 {
		axis += len(s) + 1
	}
	if axis < 0 || axis > len(s) {
		panic(fmt.Sprintf("cuda backend: one-hot axis %d for shape %v", axis, s))
	}
	inner := 1
	for i := axis; i < len(s); i++ {
		inner *= s[i]
	}
	os := append(append(s[:axis:axis], n), s[axis:]...)
	y := b.alloc(os...)
	b.launch1D(layoutFile, "bk_one_hot", y.Len(), ptr(y), ptr(idx), int64(n), int64(inner), int64(y.Len()))
	return y
}

// poolShape checks an NCHW input and returns its sizes and the output's.
func poolShape(x *tensor.Tensor, k, s, p int) (n, c, h, w, oh, ow int) {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("cuda backend: pooling needs NCHW, got %v", x.Shape()))
	}
	sh := x.Shape()
	n, c, h, w = sh[0], sh[1], sh[2], sh[3]
	if k <= 0 || s <= 0 || p < 0 {
		panic(fmt.Sprintf("cuda backend: pooling window %d stride %d padding %d", k, s, p))
	}
	oh, ow = (h+2*p-k)/s+1, (w+2*p-k)/s+1
	if oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("cuda backend: pooling window %d stride %d padding %d does not fit %v", k, s, p, sh))
	}
	return
}

// pool runs bk_pool2d (mode 0 max, 1 average over k·k, 2 average over the
// in-image part of the window).
func (b *Backend) pool(op string, x *tensor.Tensor, k, s, p int, mode int32) *tensor.Tensor {
	f32(op, x)
	n, c, h, w, oh, ow := poolShape(x, k, s, p)
	y := b.alloc(n, c, oh, ow)
	b.launch1D(layoutFile, "bk_pool2d", y.Len(), ptr(y), ptr(x), int32(h), int32(w), int32(oh), int32(ow),
		int32(k), int32(s), int32(p), mode, int64(y.Len()))
	return y
}

// MaxPool2D implements backend.Backend (padding counts as −Inf).
func (b *Backend) MaxPool2D(x *tensor.Tensor, k, s, p int) *tensor.Tensor {
	return b.pool("MaxPool2D", x, k, s, p, 0)
}

// AvgPool2D implements backend.Backend.
func (b *Backend) AvgPool2D(x *tensor.Tensor, k, s, p int, countIncludePad bool) *tensor.Tensor {
	mode := int32(2)
	if countIncludePad {
		mode = 1
	}
	return b.pool("AvgPool2D", x, k, s, p, mode)
}

// ResizeBilinear implements backend.Backend.
func (b *Backend) ResizeBilinear(x *tensor.Tensor, h, w int, alignCorners bool) *tensor.Tensor {
	f32("ResizeBilinear", x)
	if x.Rank() != 4 {
		panic(fmt.Sprintf("cuda backend: resize needs NCHW, got %v", x.Shape()))
	}
	if h <= 0 || w <= 0 {
		panic(fmt.Sprintf("cuda backend: resize %v to %d×%d", x.Shape(), h, w))
	}
	s := x.Shape()
	y := b.alloc(s[0], s[1], h, w)
	align := int32(0)
	if alignCorners {
		align = 1
	}
	b.launch1D(layoutFile, "bk_resize_bilinear", y.Len(), ptr(y), ptr(x), int32(s[2]), int32(s[3]), int32(h), int32(w), align, int64(y.Len()))
	return y
}
