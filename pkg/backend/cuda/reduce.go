package cuda

import (
	"math"

	"github.com/nvaego/nvae/pkg/backend"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

const reduceFile = "bk_reduce.cu"

// Sum implements backend.Backend: float32 data, accumulated in float64 on
// the device (see kernels/bk_reduce.cu).
func (b *Backend) Sum(x *tensor.Tensor, axes []int, keepDims bool) *tensor.Tensor {
	return b.reduce("Sum", "sum", x, axes, keepDims)
}

// MaxReduce implements backend.Backend (a NaN in the range gives NaN, like
// the CPU backend).
func (b *Backend) MaxReduce(x *tensor.Tensor, axes []int, keepDims bool) *tensor.Tensor {
	return b.reduce("MaxReduce", "max", x, axes, keepDims)
}

// SumTo implements backend.Backend. Like the CPU backend it returns x
// itself when x already has shape.
func (b *Backend) SumTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	y, err := backend.SumToBySum(b, x, shape)
	if err != nil {
		panic("cuda backend: " + err.Error())
	}
	return y
}

// axisGroup is a run of adjacent axes of x that are all reduced or all
// kept, merged into one axis (size-1 axes dropped).
type axisGroup struct {
	size, stride int
	reduced      bool
}

// mergeAxes groups the axes of shape (row-major) by reduced.
func mergeAxes(shape tensor.Shape, reduced []bool) []axisGroup {
	st := shape.Strides()
	var gs []axisGroup
	for i, n := range shape {
		if n == 1 {
			continue
		}
		if k := len(gs) - 1; k >= 0 && gs[k].reduced == reduced[i] && gs[k].stride == n*st[i] {
			gs[k].size *= n
			gs[k].stride = st[i]
			continue
		}
		gs = append(gs, axisGroup{n, st[i], reduced[i]})
	}
	return gs
}

// groupDims is the strided view of the groups with the given flag.
func groupDims(gs []axisGroup, reduced bool) (dims, int) {
	var sh tensor.Shape
	var st []int
	n := 1
	for _, g := range gs {
		if g.reduced == reduced {
			sh = append(sh, g.size)
			st = append(st, g.stride)
			n *= g.size
		}
	}
	return newDims(sh, st), n
}

// reduce runs the sum or max kernels ("sum", "max") over axes of x.
func (b *Backend) reduce(op, kind string, x *tensor.Tensor, axes []int, keep bool) *tensor.Tensor {
	f32(op, x)
	shape := x.Shape()
	axes = backend.NormAxes(axes, len(shape))
	out := b.alloc(backend.ReducedShape(shape, axes, keep)...)
	nout := out.Len()
	if nout == 0 {
		return out
	}
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[a] = true
	}
	gs := mergeAxes(shape, red)
	kd, _ := groupDims(gs, false)
	rd, r := groupDims(gs, true)
	if x.Len() == 0 { // empty reduced range
		v := float32(0)
		if kind == "max" {
			v = float32(math.Inf(-1))
		}
		b.launch1D(memFile, "bk_fill", nout, ptr(out), v, int64(nout))
		return out
	}
	small := int32(0)
	if x.Len() < 1<<31 {
		small = 1
	}
	y, xp := ptr(out), ptr(x)
	sms := max(1, b.ctx.Props.SMs)
	if len(gs) > 0 && !gs[len(gs)-1].reduced {
		b.reduceCols(kind, y, xp, kd, rd, nout, gs[len(gs)-1].size, r, small, sms)
		return out
	}
	switch {
	case r <= 32:
		b.launch1D(reduceFile, "bk_"+kind+"_rows_thread", nout, y, xp, kd, rd, int64(nout), int64(r), small)
	case r <= 1024:
		warps := threads / 32
		blocks := min((nout+warps-1)/warps, 32*sms)
		b.launch(reduceFile, "bk_"+kind+"_rows_warp", cu.Dim3{X: blocks, Y: 1, Z: 1}, cu.Dim3{X: threads, Y: 1, Z: 1}, 0,
			y, xp, kd, rd, int64(nout), int64(r), small)
	default:
		// Enough blocks to fill the device, each with at least 8 elements a
		// thread.
		splits := 1
		if nout < 4*sms {
			splits = min((4*sms+nout-1)/nout, (r+8*threads-1)/(8*threads))
		}
		chunk := (r + splits - 1) / splits
		blocks := min(nout*splits, 1<<20)
		b.splitReduce(kind, y, nout, splits, func(pp cu.DevicePtr) {
			b.launch(reduceFile, "bk_"+kind+"_rows_block", cu.Dim3{X: blocks, Y: 1, Z: 1}, cu.Dim3{X: threads, Y: 1, Z: 1}, 0,
				y, pp, xp, kd, rd, int64(nout), int64(r), int64(chunk), int32(splits), small)
		})
	}
	return out
}

// splitReduce runs launch, which reduces into y directly when splits is
// 1, else into float64 partials (splits per output) at the address it is
// given; the partials are then combined in order into y and freed.
func (b *Backend) splitReduce(kind string, y cu.DevicePtr, nout, splits int, launch func(partials cu.DevicePtr)) {
	if splits <= 1 {
		launch(0)
		return
	}
	part := tensor.New(tensor.Shape{nout * splits}, b.mem.newBuf(nout*splits, tensor.Float64))
	pp := buf(part).Ptr()
	launch(pp)
	b.launch1D(reduceFile, "bk_"+kind+"_finish", nout, y, pp, int64(nout), int32(splits))
	b.Release(part) // stream order: later kernels run after the finish
}

// reduceCols reduces when the innermost axis (inner elements, stride 1) is
// kept: blocks of bx×by threads, bx consecutive outputs along x (coalesced
// loads), by threads sharing the reduced range along y, and the range split
// over several blocks when there are too few outputs to fill the device.
func (b *Backend) reduceCols(kind string, y, xp cu.DevicePtr, kd, rd dims, nout, inner, r int, small int32, sms int) {
	bx := 32
	for bx < inner && bx < threads {
		bx *= 2
	}
	by := threads / bx
	nb := (inner + bx - 1) / bx * (nout / inner)
	splits := 1
	if nb < 4*sms {
		splits = max(1, min((4*sms+nb-1)/nb, r/(8*by)))
	}
	chunk := (r + splits - 1) / splits
	blocks := min(nb*splits, 1<<20)
	b.splitReduce(kind, y, nout, splits, func(pp cu.DevicePtr) {
		b.launch(reduceFile, "bk_"+kind+"_cols", cu.Dim3{X: blocks, Y: 1, Z: 1}, cu.Dim3{X: bx, Y: by, Z: 1}, 0,
			y, pp, xp, kd, rd, int64(nout), int64(inner), int64(r), int64(chunk), int32(splits), small)
	})
}
