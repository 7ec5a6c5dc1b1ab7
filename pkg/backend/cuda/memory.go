package cuda

import (
	"fmt"

	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

const memFile = "bk_memory.cu"

// Zeros implements backend.Backend.
func (b *Backend) Zeros(dt tensor.DType, shape ...int) *tensor.Tensor {
	f32dt("Zeros", dt)
	return b.zeros(shape...)
}

// Full implements backend.Backend.
func (b *Backend) Full(dt tensor.DType, v float64, shape ...int) *tensor.Tensor {
	f32dt("Full", dt)
	t := b.alloc(shape...)
	b.launch1D(memFile, "bk_fill", t.Len(), ptr(t), float32(v), int64(t.Len()))
	return t
}

func f32dt(op string, dt tensor.DType) {
	if dt != tensor.Float32 {
		panic(fmt.Sprintf("cuda backend: %s: %v requested; the CUDA backend computes in float32 (use --dtype float32, or --device cpu for float64)", op, dt))
	}
}

// FromHost implements backend.Backend: a host tensor is copied to the
// device (a device tensor is returned as is).
func (b *Backend) FromHost(t *tensor.Tensor) *tensor.Tensor {
	if _, ok := t.Storage().(*Buf); ok {
		buf(t)
		return t
	}
	d := tensor.New(t.Shape().Clone(), b.mem.newBuf(t.Len(), t.DType()))
	var err error
	switch h := t.Storage().(type) {
	case tensor.HostF32:
		if len(h) > 0 {
			err = cu.CopyToDevice(buf(d).Ptr(), []float32(h))
		}
	case tensor.HostF64:
		if len(h) > 0 {
			err = cu.CopyToDevice(buf(d).Ptr(), []float64(h))
		}
	default:
		panic(fmt.Sprintf("cuda backend: FromHost: storage %T", h))
	}
	if err != nil {
		panic(fmt.Sprintf("cuda backend: copy to device: %v", err))
	}
	return d
}

// ToHost implements backend.Backend: it waits for the work that produces t
// and returns a host copy.
func (b *Backend) ToHost(t *tensor.Tensor) *tensor.Tensor {
	if t.OnHost() {
		return t
	}
	s := buf(t)
	var err error
	var h *tensor.Tensor
	if s.dt == tensor.Float64 {
		v := make([]float64, t.Len())
		if len(v) > 0 {
			err = cu.CopyFromDevice(v, s.Ptr())
		}
		h = tensor.FromFloat64(t.Shape().Clone(), v)
	} else {
		v := make([]float32, t.Len())
		if len(v) > 0 {
			err = cu.CopyFromDevice(v, s.Ptr())
		}
		h = tensor.FromFloat32(t.Shape().Clone(), v)
	}
	if err != nil {
		panic(fmt.Sprintf("cuda backend: copy to host: %v", err))
	}
	return h
}

// Copy implements backend.Backend.
func (b *Backend) Copy(t *tensor.Tensor) *tensor.Tensor {
	s := buf(t)
	d := tensor.New(t.Shape().Clone(), b.mem.newBuf(t.Len(), s.dt))
	if n := t.Len(); n > 0 {
		if err := cu.CopyDtoD(buf(d).Ptr(), s.Ptr(), s.dt.Size()*n); err != nil {
			panic(fmt.Sprintf("cuda backend: device copy: %v", err))
		}
	}
	return d
}

// Cast implements backend.Backend. Float64 device buffers exist so that
// data can pass through the device unrounded; kernels take float32.
func (b *Backend) Cast(t *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	s := buf(t)
	if s.dt == dt {
		return b.Copy(t)
	}
	d := tensor.New(t.Shape().Clone(), b.mem.newBuf(t.Len(), dt))
	name := "bk_cast_f32_f64"
	if dt == tensor.Float32 {
		name = "bk_cast_f64_f32"
	}
	b.launch1D(memFile, name, t.Len(), buf(d).Ptr(), s.Ptr(), int64(t.Len()))
	return d
}

// AddInto implements backend.Backend.
func (b *Backend) AddInto(dst, src *tensor.Tensor) {
	if !dst.Shape().Equal(src.Shape()) {
		panic(fmt.Sprintf("cuda backend: AddInto shapes %s", shapeString(dst, src)))
	}
	b.launch1D(memFile, "bk_add_into", dst.Len(), ptr(dst), ptr(src), int64(dst.Len()))
}

// gather materialises the strided view d (of shape shape) of the float32
// elements at src into a new tensor.
func (b *Backend) gather(src cu.DevicePtr, d dims, shape tensor.Shape) *tensor.Tensor {
	y := b.alloc(shape...)
	b.launch1D(memFile, "bk_gather", y.Len(), ptr(y), src, d, int64(y.Len()))
	return y
}

// scatter writes x (of d's shape) through the strided view d of the
// float32 elements at dst.
func (b *Backend) scatter(dst cu.DevicePtr, x *tensor.Tensor, d dims) {
	if n := x.Len(); n > 0 {
		b.launch1D(memFile, "bk_scatter", n, dst, ptr(x), d, int64(n))
	}
}
