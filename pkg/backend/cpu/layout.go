package cpu

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/par"
	"github.com/nvaego/nvae/pkg/tensor"
)

// reduceT moves the reduced axes innermost and reduces each row; sums are
// accumulated in float64.
func reduceT[T Float](x *tensor.Tensor, axes []int, keep bool, isMax bool) *tensor.Tensor {
	shape := x.Shape()
	axes = backend.NormAxes(axes, len(shape))
	outShape := backend.ReducedShape(shape, axes, keep)
	out := alloc[T](outShape)
	xs, ys := host[T](x), host[T](out)
	// permutation: kept axes, then reduced axes
	var perm []int
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[a] = true
	}
	rowLen := 1
	for i := range shape {
		if !red[i] {
			perm = append(perm, i)
		}
	}
	for _, a := range axes {
		perm = append(perm, a)
		rowLen *= shape[a]
	}
	src := xs
	if !isIdentity(perm) {
		src = host[T](permuteT[T](x, perm))
	}
	nrows := len(ys)
	if rowLen == 0 {
		return out
	}
	par.For(nrows, 1+grain/rowLen, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := src[r*rowLen : (r+1)*rowLen]
			if isMax {
				m := row[0]
				for _, v := range row[1:] {
					if v > m || v != v {
						m = v
					}
				}
				ys[r] = m
				continue
			}
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			ys[r] = T(s)
		}
	})
	return out
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if p != i {
			return false
		}
	}
	return true
}

// Sum implements backend.Backend.
func (*Backend) Sum(x *tensor.Tensor, axes []int, keep bool) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return reduceT[float32](x, axes, keep, false)
	}
	return reduceT[float64](x, axes, keep, false)
}

// MaxReduce implements backend.Backend.
func (*Backend) MaxReduce(x *tensor.Tensor, axes []int, keep bool) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return reduceT[float32](x, axes, keep, true)
	}
	return reduceT[float64](x, axes, keep, true)
}

// SumTo implements backend.Backend.
func (b *Backend) SumTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	y, err := backend.SumToBySum(b, x, shape)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	return y
}

// BroadcastTo implements backend.Backend.
func (*Backend) BroadcastTo(x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return broadcastT[float32](x, shape)
	}
	return broadcastT[float64](x, shape)
}

func broadcastT[T Float](x *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	s, err := backend.BroadcastShapes(x.Shape(), shape)
	if err != nil || !s.Equal(shape) {
		panic(fmt.Sprintf("cpu: cannot broadcast %v to %v", x.Shape(), shape))
	}
	out := allocFull[T](shape)
	copyStrided(shape, host[T](out), 0, shape.Strides(), host[T](x), 0, backend.BroadcastStrides(x.Shape(), shape))
	return out
}

func permuteT[T Float](x *tensor.Tensor, perm []int) *tensor.Tensor {
	s := x.Shape()
	if len(perm) != len(s) {
		panic(fmt.Sprintf("cpu: permutation %v for shape %v", perm, s))
	}
	os := make(tensor.Shape, len(s))
	st := s.Strides()
	ss := make([]int, len(s))
	for i, p := range perm {
		os[i] = s[p]
		ss[i] = st[p]
	}
	out := alloc[T](os)
	copyStrided(os, host[T](out), 0, os.Strides(), host[T](x), 0, ss)
	return out
}

// Permute implements backend.Backend.
func (*Backend) Permute(x *tensor.Tensor, perm []int) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return permuteT[float32](x, perm)
	}
	return permuteT[float64](x, perm)
}

// checkBox panics unless the box (starts, sizes) lies inside shape s.
func checkBox(s tensor.Shape, starts, sizes []int) {
	if err := backend.CheckBox(s, starts, sizes); err != nil {
		panic("cpu: " + err.Error())
	}
}

func sliceT[T Float](x *tensor.Tensor, starts, sizes []int) *tensor.Tensor {
	checkBox(x.Shape(), starts, sizes)
	os := tensor.Shape(sizes).Clone()
	out := allocFull[T](os)
	st := x.Shape().Strides()
	copyStrided(os, host[T](out), 0, os.Strides(), host[T](x), backend.BoxOffset(st, starts), st)
	return out
}

// Slice implements backend.Backend.
func (*Backend) Slice(x *tensor.Tensor, starts, sizes []int) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return sliceT[float32](x, starts, sizes)
	}
	return sliceT[float64](x, starts, sizes)
}

func sliceBackT[T Float](gy *tensor.Tensor, shape tensor.Shape, starts []int) *tensor.Tensor {
	sizes := gy.Shape()
	checkBox(shape, starts, sizes)
	out := alloc[T](shape)
	st := shape.Strides()
	copyStrided(sizes, host[T](out), backend.BoxOffset(st, starts), st, host[T](gy), 0, sizes.Strides())
	return out
}

// SliceBackward implements backend.Backend.
func (*Backend) SliceBackward(gy *tensor.Tensor, shape tensor.Shape, starts []int) *tensor.Tensor {
	if checkHost(gy) == tensor.Float32 {
		return sliceBackT[float32](gy, shape, starts)
	}
	return sliceBackT[float64](gy, shape, starts)
}

func concatT[T Float](axis int, xs []*tensor.Tensor) *tensor.Tensor {
	base := xs[0].Shape()
	if axis < 0 {
		axis += len(base)
	}
	os := base.Clone()
	os[axis] = 0
	for _, x := range xs {
		s := x.Shape()
		if len(s) != len(base) {
			panic("cpu: concat rank mismatch")
		}
		for i := range s {
			if i != axis && s[i] != base[i] {
				panic(fmt.Sprintf("cpu: concat shapes %v and %v on axis %d", base, s, axis))
			}
		}
		os[axis] += s[axis]
	}
	out := allocFull[T](os)
	d := host[T](out)
	st := os.Strides()
	at := 0
	for _, x := range xs {
		s := x.Shape()
		copyStrided(s, d, at*st[axis], st, host[T](x), 0, s.Strides())
		at += s[axis]
	}
	return out
}

// Concat implements backend.Backend.
func (*Backend) Concat(axis int, xs []*tensor.Tensor) *tensor.Tensor {
	if checkHost(xs...) == tensor.Float32 {
		return concatT[float32](axis, xs)
	}
	return concatT[float64](axis, xs)
}

func argmaxT[T Float](x *tensor.Tensor, axis int) *tensor.Tensor {
	s := x.Shape()
	if axis < 0 {
		axis += len(s)
	}
	outer, n, inner := 1, s[axis], 1
	for i := 0; i < axis; i++ {
		outer *= s[i]
	}
	for i := axis + 1; i < len(s); i++ {
		inner *= s[i]
	}
	os := append(s[:axis:axis], s[axis+1:]...)
	out := alloc[T](os)
	xs, ys := host[T](x), host[T](out)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			best, bi := T(math.Inf(-1)), 0
			for k := 0; k < n; k++ {
				v := xs[(o*n+k)*inner+j]
				if v > best || (k == 0) {
					best, bi = v, k
				}
			}
			ys[o*inner+j] = T(bi)
		}
	}
	return out
}

// Argmax implements backend.Backend (first maximum wins, like PyTorch).
func (*Backend) Argmax(x *tensor.Tensor, axis int) *tensor.Tensor {
	if checkHost(x) == tensor.Float32 {
		return argmaxT[float32](x, axis)
	}
	return argmaxT[float64](x, axis)
}

// OneHot implements backend.Backend.
func (b *Backend) OneHot(idx *tensor.Tensor, n, axis int, dt tensor.DType) *tensor.Tensor {
	s := idx.Shape()
	if axis < 0 {
		axis += len(s) + 1
	}
	outer, inner := 1, 1
	for i := 0; i < axis; i++ {
		outer *= s[i]
	}
	for i := axis; i < len(s); i++ {
		inner *= s[i]
	}
	os := append(append(s[:axis:axis], n), s[axis:]...)
	out := b.Zeros(dt, os...)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			k := int(idx.At(o*inner + j))
			if k < 0 || k >= n {
				panic(fmt.Sprintf("cpu: one-hot index %d out of [0,%d)", k, n))
			}
			out.Set((o*n+k)*inner+j, 1)
		}
	}
	return out
}
