// Package backendtest is the conformance suite of the backend interface:
// every op, forward and backward, on random inputs against plain float64
// reference code written here. It runs against the CPU backend always and
// against the CUDA backend on a GPU machine (the same suite, gonum's
// testlapack pattern).
package backendtest

import (
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// opTol is each op group's scale-relative tolerance (max|got−ref| /
// max|ref|) per dtype: ops that only move or round values are held to a
// few ulps, transcendental ones to their approximation error, and ops that
// accumulate (reductions, matmul, conv, batchnorm) to the error of a long
// sum. A backend that needs more than this is wrong, not noisy.
var opTol = map[string]struct{ f32, f64 float64 }{
	"memory":         {f32: 0, f64: 0},
	"unary":          {f32: 2e-6, f64: 1e-13},
	"affine-clamp":   {f32: 3e-7, f64: 1e-15},
	"binary":         {f32: 3e-7, f64: 1e-15},
	"compare-where":  {f32: 0, f64: 0},
	"reduce":         {f32: 2e-6, f64: 1e-14},
	"layout":         {f32: 0, f64: 0},
	"matmul":         {f32: 2e-6, f64: 1e-14},
	"conv":           {f32: 5e-6, f64: 1e-14},
	"conv-affine":    {f32: 8e-6, f64: 1e-13},
	"batchnorm":      {f32: 1e-5, f64: 1e-12},
	"upsample":       {f32: 2e-7, f64: 1e-15},
	"argmax-onehot":  {f32: 0, f64: 0},
	"pool-resize":    {f32: 1e-6, f64: 1e-14},
	"random":         {f32: 1e-6, f64: 1e-13},
	"adamax":         {f32: 1e-6, f64: 1e-14},
	"release":        {f32: 3e-7, f64: 1e-15},
	"gate-scale-add": {f32: 3e-7, f64: 1e-15},
}

// Tol is op group op's tolerance in dtype dt.
func Tol(op string, dt tensor.DType) float64 {
	tl, ok := opTol[op]
	if !ok {
		panic("backendtest: no tolerance for op group " + op)
	}
	if dt == tensor.Float64 {
		return tl.f64
	}
	return tl.f32
}

// suite is one op group's run: its own *testing.T, so that a failure is
// reported by that subtest, and its own tolerance.
type suite struct {
	t   *testing.T
	b   backend.Backend
	dt  tensor.DType
	r   *rand.Rand
	tol float64
}

// Run checks every op of b in dtype dt, one subtest per op group.
func Run(t *testing.T, b backend.Backend, dt tensor.DType) {
	r := rand.New(rand.NewSource(42))
	groups := []struct {
		name string
		f    func(*suite, *testing.T)
	}{
		{"memory", (*suite).memory},
		{"unary", (*suite).unary},
		{"affine-clamp", (*suite).affineClamp},
		{"binary", (*suite).binary},
		{"compare-where", (*suite).compareWhere},
		{"reduce", (*suite).reduce},
		{"layout", (*suite).layout},
		{"matmul", (*suite).matmul},
		{"conv", (*suite).conv},
		{"conv-affine", (*suite).convAffine},
		{"batchnorm", (*suite).batchnorm},
		{"upsample", (*suite).upsample},
		{"argmax-onehot", (*suite).argmaxOneHot},
		{"pool-resize", (*suite).poolResize},
		{"random", (*suite).random},
		{"adamax", (*suite).adamax},
		{"release", (*suite).release},
		{"gate-scale-add", (*suite).gateScaleAdd},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			g.f(&suite{t: t, b: b, dt: dt, r: r, tol: Tol(g.name, dt)}, t)
		})
	}
}

// release checks a backend.Releaser: results computed into recycled memory
// are right (whether the kernel overwrites its output or accumulates into
// zeros), releasing twice hands the memory out once, inputs are untouched.
func (s *suite) release(t *testing.T) {
	r, ok := s.b.(backend.Releaser)
	if !ok {
		t.Skip("the backend does not recycle memory")
	}
	shape := []int{4, 64, 8, 8} // large enough to be recycled
	a := s.rand(-1, 1, shape...)
	x := s.dev(a)
	for i := 0; i < 3; i++ {
		y := s.b.Unary(backend.Exp, x)
		r.Release(y)
		r.Release(y)
		z1 := s.b.Affine(x, 2, 1)
		z2 := s.b.Affine(x, -1, 0)
		s.check("Affine into recycled memory", z1, mapArr(a, func(v float64) float64 { return 2*v + 1 }))
		s.check("second Affine after a double Release", z2, mapArr(a, func(v float64) float64 { return -v }))
		r.Release(z1)
		r.Release(z2)
		// A kernel that accumulates into zeros: the nearest-upsampling adjoint.
		g := s.b.Upsample2xBackward(s.b.Upsample2x(s.b.Full(s.dt, 1, 4, 64, 4, 4), backend.Nearest), backend.Nearest)
		want := arr{tensor.Shape{4, 64, 4, 4}, make([]float64, 4*64*16)}
		for j := range want.v {
			want.v[j] = 4
		}
		s.check("Upsample2xBackward into recycled memory", g, want)
		r.Release(g)
	}
	s.check("input after Release of results", x, a)
}

// arr is a host float64 array with a shape: the reference side.
type arr struct {
	shape tensor.Shape
	v     []float64
}

func (s *suite) rand(lo, hi float64, shape ...int) arr {
	a := arr{tensor.Shape(shape).Clone(), make([]float64, tensor.Shape(shape).NumElements())}
	for i := range a.v {
		a.v[i] = lo + (hi-lo)*s.r.Float64()
		if s.dt == tensor.Float32 {
			a.v[i] = float64(float32(a.v[i]))
		}
	}
	return a
}

func (s *suite) dev(a arr) *tensor.Tensor {
	t := tensor.FromFloat64(a.shape, append([]float64(nil), a.v...))
	if s.dt == tensor.Float32 {
		t = tensor.FromFloat32(a.shape, t.Float32s())
	}
	return s.b.FromHost(t)
}

func (s *suite) check(what string, got *tensor.Tensor, want arr) {
	s.t.Helper()
	if !got.Shape().Equal(want.shape) {
		s.t.Errorf("%s: shape %v, want %v", what, got.Shape(), want.shape)
		return
	}
	compare.Check(s.t, what, s.b.ToHost(got).Float64s(), want.v, s.tol, compare.ScaleRelative)
}

func mapArr(a arr, f func(float64) float64) arr {
	o := arr{a.shape, make([]float64, len(a.v))}
	for i, v := range a.v {
		o.v[i] = f(v)
	}
	return o
}
