package backendtest

// Conformance checks of reductions and layout ops (permute, slice, concat, ...).

import (
	"fmt"
	"math"
	"testing"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

func reduceRef(a arr, axes []int, keep, isMax bool) arr {
	axes = backend.NormAxes(axes, len(a.shape))
	red := map[int]bool{}
	for _, ax := range axes {
		red[ax] = true
	}
	kept := backend.ReducedShape(a.shape, axes, true)
	o := arr{backend.ReducedShape(a.shape, axes, keep), make([]float64, kept.NumElements())}
	if isMax {
		for i := range o.v {
			o.v[i] = math.Inf(-1)
		}
	}
	st := kept.Strides()
	for k, v := range a.v {
		rem, off := k, 0
		for d := len(a.shape) - 1; d >= 0; d-- {
			i := rem % a.shape[d]
			rem /= a.shape[d]
			if !red[d] {
				off += i * st[d]
			}
		}
		if isMax {
			o.v[off] = math.Max(o.v[off], v)
		} else {
			o.v[off] += v
		}
	}
	return o
}

func (s *suite) reduce(t *testing.T) {
	a := s.rand(-1, 1, 2, 3, 4, 5)
	for _, axes := range [][]int{{0}, {1}, {3}, {0, 2, 3}, {2, 3}, {1, 2, 3}, {0, 1, 2, 3}, {-1}} {
		for _, keep := range []bool{false, true} {
			s.check(fmt.Sprintf("Sum %v %v", axes, keep), s.b.Sum(s.dev(a), axes, keep), reduceRef(a, axes, keep, false))
			s.check(fmt.Sprintf("MaxReduce %v %v", axes, keep), s.b.MaxReduce(s.dev(a), axes, keep), reduceRef(a, axes, keep, true))
		}
	}
	// nil axes: every axis, a scalar (independent of reduceRef's reading)
	total, top := 0.0, math.Inf(-1)
	for _, v := range a.v {
		total += v
		top = math.Max(top, v)
	}
	s.check("Sum nil axes", s.b.Sum(s.dev(a), nil, false), arr{tensor.Shape{}, []float64{total}})
	s.check("MaxReduce nil axes", s.b.MaxReduce(s.dev(a), nil, false), arr{tensor.Shape{}, []float64{top}})
	s.check("Sum no axes", s.b.Sum(s.dev(a), []int{}, false), a)
}

func permuteRef(a arr, perm []int) arr {
	os := make(tensor.Shape, len(perm))
	for i, p := range perm {
		os[i] = a.shape[p]
	}
	o := arr{os, make([]float64, len(a.v))}
	st := a.shape.Strides()
	for k := range o.v {
		rem, off := k, 0
		for d := len(os) - 1; d >= 0; d-- {
			i := rem % os[d]
			rem /= os[d]
			off += i * st[perm[d]]
		}
		o.v[k] = a.v[off]
	}
	return o
}

func sliceRef(a arr, starts, sizes []int) arr {
	o := arr{tensor.Shape(sizes).Clone(), make([]float64, tensor.Shape(sizes).NumElements())}
	st := a.shape.Strides()
	for k := range o.v {
		rem, off := k, 0
		for d := len(sizes) - 1; d >= 0; d-- {
			i := rem % sizes[d]
			rem /= sizes[d]
			off += (i + starts[d]) * st[d]
		}
		o.v[k] = a.v[off]
	}
	return o
}

func (s *suite) layout(t *testing.T) {
	a := s.rand(-1, 1, 2, 3, 4, 5)
	for _, p := range [][]int{{0, 2, 3, 1}, {3, 2, 1, 0}, {1, 0, 2, 3}, {0, 1, 3, 2}} {
		s.check(fmt.Sprintf("Permute %v", p), s.b.Permute(s.dev(a), p), permuteRef(a, p))
	}
	boxes := [][2][]int{{{0, 0, 1, 1}, {2, 3, 3, 4}}, {{0, 0, 0, 1}, {2, 3, 4, 4}}, {{1, 1, 0, 0}, {1, 2, 4, 5}}, {{0, 0, 2, 0}, {2, 3, 1, 5}}}
	for _, bx := range boxes {
		s.check(fmt.Sprintf("Slice %v", bx), s.b.Slice(s.dev(a), bx[0], bx[1]), sliceRef(a, bx[0], bx[1]))
		g := s.rand(-1, 1, bx[1]...)
		want := arr{a.shape, make([]float64, len(a.v))}
		st := a.shape.Strides()
		for k, v := range g.v {
			rem, off := k, 0
			for d := len(bx[1]) - 1; d >= 0; d-- {
				i := rem % bx[1][d]
				rem /= bx[1][d]
				off += (i + bx[0][d]) * st[d]
			}
			want.v[off] = v
		}
		s.check(fmt.Sprintf("SliceBackward %v", bx), s.b.SliceBackward(s.dev(g), a.shape, bx[0]), want)
	}
	for axis := 0; axis < 4; axis++ {
		sz := []int{2, 3, 4, 5}
		sz2 := append([]int(nil), sz...)
		sz2[axis] = 2
		b := s.rand(-1, 1, sz2...)
		out := tensor.Shape(sz).Clone()
		out[axis] += 2
		want := arr{out, make([]float64, out.NumElements())}
		for k := range want.v {
			rem := k
			idx := make([]int, 4)
			for d := 3; d >= 0; d-- {
				idx[d] = rem % out[d]
				rem /= out[d]
			}
			src, i := a, idx
			if idx[axis] >= sz[axis] {
				src = b
				i = append([]int(nil), idx...)
				i[axis] -= sz[axis]
			}
			off, st := 0, src.shape.Strides()
			for d := range i {
				off += i[d] * st[d]
			}
			want.v[k] = src.v[off]
		}
		s.check(fmt.Sprintf("Concat axis %d", axis), s.b.Concat(axis, []*tensor.Tensor{s.dev(a), s.dev(b)}), want)
	}
}
