package cuda

import (
	"fmt"
	"math"

	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// ---- batch norm

// bnDims checks x [N, C, ...] and returns C, the spatial size hw and the
// element count m = N·hw of a channel.
func bnDims(op string, x *tensor.Tensor) (c, hw, m int) {
	s := x.Shape()
	if len(s) < 2 {
		panic(fmt.Sprintf("cuda backend: %s needs [N, C, ...], got %v", op, s))
	}
	hw = 1
	for _, d := range s[2:] {
		hw *= d
	}
	m = s[0] * hw
	if m >= 1<<31 {
		panic(fmt.Sprintf("cuda backend: %s: %d elements per channel (at most 2^31−1)", op, m))
	}
	return s[1], hw, m
}

// bnGrid splits each channel's m elements over blocks: enough blocks in all
// to fill the device (about 8 per SM, at most 256 per channel: every block
// adds its channel's partials), at least 4 elements per thread of a
// block, and no empty block. Block (s, c) owns [s·chunk, (s+1)·chunk).
func (b *Backend) bnGrid(m, c int) (splits, chunk int) {
	target := 8 * max(1, b.ctx.Props.SMs)
	splits = max(1, min((target+c-1)/c, (m+4*threads-1)/(4*threads), 256))
	chunk = (m + splits - 1) / splits
	return (m + chunk - 1) / chunk, chunk
}

// doubles allocates scratch for n float64 values (released by the caller
// once the kernels that use it are queued: all work is on one stream).
func (b *Backend) doubles(n int) *tensor.Tensor { return b.alloc(2 * n) }

// optPtr is t's device address, or 0 for a nil tensor.
func optPtr(t *tensor.Tensor) cu.DevicePtr {
	if t == nil {
		return 0
	}
	return ptr(t)
}

// checkChannels panics unless every non-nil t holds c elements.
func checkChannels(op string, c int, ts ...*tensor.Tensor) {
	for _, t := range ts {
		if t != nil && t.Len() != c {
			panic(fmt.Sprintf("cuda backend: %s: per-channel tensor %v for %d channels", op, t.Shape(), c))
		}
	}
}

// BatchNormTrain implements backend.Backend: per channel, the mean and the
// biased variance over (N, H, W) in float64 (two passes: the sum, then
// the squared deviations from the mean, each a block reduction per chunk
// of the channel whose partials are added in a fixed order), then y =
// x·scale + shift with the CPU backend's float64 scale and shift rounded
// to float32. gamma and beta may be nil.
func (b *Backend) BatchNormTrain(x, gamma, beta *tensor.Tensor, eps float64) (y, mean, variance *tensor.Tensor) {
	f32("BatchNormTrain", x, gamma, beta)
	c, hw, m := bnDims("BatchNormTrain", x)
	checkChannels("BatchNormTrain", c, gamma, beta)
	y = b.alloc(x.Shape()...)
	if m == 0 || c == 0 {
		nan := b.Full(tensor.Float32, math.NaN(), c)
		return y, nan, b.Copy(nan)
	}
	mean, variance = b.alloc(c), b.alloc(c)
	splits, chunk := b.bnGrid(m, c)
	sum, sq := b.doubles(c*splits), b.doubles(c*splits)
	grid, block := cu.Dim3{X: splits, Y: c, Z: 1}, cu.Dim3{X: threads, Y: 1, Z: 1}
	um, uhw, uc, uchunk := int32(m), int32(hw), int32(c), int32(chunk)
	b.launch(nnFile, "bk_bn_sum", grid, block, 0, ptr(x), ptr(sum), um, uhw, uc, uchunk)
	b.launch(nnFile, "bk_bn_sqdev", grid, block, 0, ptr(x), ptr(sum), ptr(sq), um, uhw, uc, uchunk)
	b.launch(nnFile, "bk_bn_apply", grid, block, 0, ptr(x), ptr(y), ptr(sum), ptr(sq), optPtr(gamma), optPtr(beta),
		ptr(mean), ptr(variance), eps, um, uhw, uc, uchunk)
	b.Release(sum)
	b.Release(sq)
	return y, mean, variance
}

// BatchNormBackward implements backend.Backend: per channel Σgy and
// Σgy·(x−mean) in float64 (block reductions per chunk, partials added in
// a fixed order), then gx with the CPU backend's coefficients and rounding
// order. gamma may be nil.
func (b *Backend) BatchNormBackward(x, gy, gamma, mean, variance *tensor.Tensor, eps float64) (gx, ggamma, gbeta *tensor.Tensor) {
	f32("BatchNormBackward", x, gy, gamma, mean, variance)
	c, hw, m := bnDims("BatchNormBackward", x)
	if !gy.Shape().Equal(x.Shape()) {
		panic(fmt.Sprintf("cuda backend: BatchNormBackward x %v and gy %v", x.Shape(), gy.Shape()))
	}
	checkChannels("BatchNormBackward", c, gamma, mean, variance)
	gx = b.alloc(x.Shape()...)
	if m == 0 || c == 0 {
		return gx, b.zeros(c), b.zeros(c)
	}
	ggamma, gbeta = b.alloc(c), b.alloc(c)
	splits, chunk := b.bnGrid(m, c)
	part := b.doubles(2 * c * splits)
	grid, block := cu.Dim3{X: splits, Y: c, Z: 1}, cu.Dim3{X: threads, Y: 1, Z: 1}
	um, uhw, uc, uchunk := int32(m), int32(hw), int32(c), int32(chunk)
	b.launch(nnFile, "bk_bn_back_sum", grid, block, 0, ptr(x), ptr(gy), ptr(mean), ptr(part), um, uhw, uc, uchunk)
	b.launch(nnFile, "bk_bn_back_apply", grid, block, 0, ptr(x), ptr(gy), ptr(gx), ptr(part), optPtr(gamma),
		ptr(mean), ptr(variance), ptr(ggamma), ptr(gbeta), eps, um, uhw, uc, uchunk)
	b.Release(part)
	return gx, ggamma, gbeta
}

// ---- optimizer

// AdamaxStep implements backend.Backend: one element-wise kernel in
// float32 with the CPU backend's operation order and rounding.
func (b *Backend) AdamaxStep(p, g, m, u *tensor.Tensor, clr, beta1, beta2, eps, wd float64) {
	f32("AdamaxStep", p, g, m, u)
	n := p.Len()
	if g.Len() != n || m.Len() != n || u.Len() != n {
		panic(fmt.Sprintf("cuda backend: AdamaxStep of %s", shapeString(p, g, m, u)))
	}
	b.launch1D(nnFile, "bk_adamax", n, ptr(p), ptr(g), ptr(m), ptr(u), int64(n),
		float32(clr), float32(beta1), float32(1-beta1), float32(beta2), float32(eps), float32(wd))
}

// ---- all finite

// AllFinite implements backend.Finiter: one kernel checks every element of
// every tensor (a table of addresses and lengths, uploaded with the zeroed
// result flag in one copy) and one read of that flag answers. nil and
// empty tensors are skipped.
func (b *Backend) AllFinite(ts []*tensor.Tensor) bool {
	var table []uint64
	maxN := 0
	for _, t := range ts {
		if t == nil || t.Len() == 0 {
			continue
		}
		table = append(table, uint64(ptr(t)), uint64(t.Len()))
		maxN = max(maxN, t.Len())
	}
	count := len(table) / 2
	if count == 0 {
		return true
	}
	table = append(table, 0, 0) // the flag (an int32) and padding
	tab := b.alloc(2 * len(table))
	defer b.Release(tab)
	if err := cu.CopyToDevice(ptr(tab), table); err != nil {
		panic(fmt.Sprintf("cuda backend: AllFinite: copy to device: %v", err))
	}
	flag := ptr(tab) + cu.DevicePtr(16*count)
	gx := max(1, min((maxN+16*threads-1)/(16*threads), 64))
	gy := min(count, 65535)
	b.launch(nnFile, "bk_nonfinite", cu.Dim3{X: gx, Y: gy, Z: 1}, cu.Dim3{X: threads, Y: 1, Z: 1}, 0,
		ptr(tab), int32(count), flag)
	got := make([]int32, 1)
	if err := cu.CopyFromDevice(got, flag); err != nil {
		panic(fmt.Sprintf("cuda backend: AllFinite: copy to host: %v", err))
	}
	return got[0] == 0
}
