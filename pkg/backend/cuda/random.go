package cuda

import (
	"github.com/nvaego/nvae/pkg/tensor"
)

// RandNormal implements backend.Backend: element i is the float32 normal
// of pkg/rng's stream for seed at index offset+i (Philox4x32-10, Box–Muller
// in float64 on the pairs of each block), as the CPU backend draws it.
func (b *Backend) RandNormal(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor {
	f32dt("RandNormal", dt)
	return b.rand("bk_rand_normal", seed, offset, shape)
}

// RandUniform implements backend.Backend: element i is the float32 uniform
// of pkg/rng's stream for seed at index offset+i, bit for bit the CPU
// backend's.
func (b *Backend) RandUniform(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor {
	f32dt("RandUniform", dt)
	return b.rand("bk_rand_uniform", seed, offset, shape)
}

// rand runs a stream kernel: one thread per Philox block the draw touches.
func (b *Backend) rand(kernel string, seed, offset uint64, shape []int) *tensor.Tensor {
	y := b.alloc(shape...)
	n := uint64(y.Len())
	if n == 0 {
		return y
	}
	blocks := (offset+n+3)/4 - offset/4
	b.launch1D(nnFile, kernel, int(blocks), ptr(y), int64(seed), int64(offset), int64(n), int64(blocks))
	return y
}
