// Package backendtest is the conformance suite of the backend interface:
// every op, forward and backward, on random inputs against plain float64
// reference code written here. It runs against the CPU backend always and
// against the CUDA backend on a GPU machine (the same suite, gonum's
// testlapack pattern).
package backendtest

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Tol is the relative tolerance (scale-relative: max|got−ref| / max|ref|)
// per dtype.
func Tol(dt tensor.DType) float64 {
	if dt == tensor.Float64 {
		return 1e-12
	}
	return 1e-5
}

type suite struct {
	t  *testing.T
	b  backend.Backend
	dt tensor.DType
	r  *rand.Rand
}

// Run checks every op of b in dtype dt.
func Run(t *testing.T, b backend.Backend, dt tensor.DType) {
	s := &suite{t: t, b: b, dt: dt, r: rand.New(rand.NewSource(42))}
	t.Run("memory", s.memory)
	t.Run("unary", s.unary)
	t.Run("affine-clamp", s.affineClamp)
	t.Run("binary", s.binary)
	t.Run("compare-where", s.compareWhere)
	t.Run("reduce", s.reduce)
	t.Run("layout", s.layout)
	t.Run("matmul", s.matmul)
	t.Run("conv", s.conv)
	t.Run("batchnorm", s.batchnorm)
	t.Run("upsample", s.upsample)
	t.Run("argmax-onehot", s.argmaxOneHot)
	t.Run("pool-resize", s.poolResize)
	t.Run("random", s.random)
	t.Run("adamax", s.adamax)
	t.Run("release", s.release)
	t.Run("gate-scale-add", s.gateScaleAdd)
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
	g := s.b.ToHost(got).Float64s()
	scale, worst, wi := 0.0, 0.0, 0
	for i := range want.v {
		scale = math.Max(scale, math.Abs(want.v[i]))
		d := math.Abs(g[i] - want.v[i])
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > worst {
			worst, wi = d, i
		}
	}
	if scale == 0 {
		scale = 1
	}
	if worst/scale > Tol(s.dt) {
		s.t.Errorf("%s: scale-relative error %.3g; worst element %d: got %.10g want %.10g (abs %.3g, rel %.3g)",
			what, worst/scale, wi, g[wi], want.v[wi], worst, worst/math.Max(math.Abs(want.v[wi]), 1e-300))
	}
}

func mapArr(a arr, f func(float64) float64) arr {
	o := arr{a.shape, make([]float64, len(a.v))}
	for i, v := range a.v {
		o.v[i] = f(v)
	}
	return o
}

func (s *suite) memory(t *testing.T) {
	a := s.rand(-1, 1, 3, 4)
	x := s.dev(a)
	s.check("FromHost/ToHost", x, a)
	s.check("Copy", s.b.Copy(x), a)
	s.check("Zeros", s.b.Zeros(s.dt, 3, 4), arr{tensor.Shape{3, 4}, make([]float64, 12)})
	s.check("Full", s.b.Full(s.dt, 2.5, 2, 2), arr{tensor.Shape{2, 2}, []float64{2.5, 2.5, 2.5, 2.5}})
	y := s.b.Copy(x)
	s.b.AddInto(y, x)
	s.check("AddInto", y, mapArr(a, func(v float64) float64 { return 2 * v }))
	other := tensor.Float64
	if s.dt == tensor.Float64 {
		other = tensor.Float32
	}
	c := s.b.Cast(s.b.Cast(x, other), s.dt)
	want := a
	if other == tensor.Float32 {
		want = mapArr(a, func(v float64) float64 { return float64(float32(v)) })
	}
	s.check("Cast", c, want)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

var unaryRef = map[backend.UnaryOp]struct {
	f, d   func(x float64) float64
	lo, hi float64
}{
	backend.Exp:      {math.Exp, math.Exp, -5, 5},
	backend.Log:      {math.Log, func(x float64) float64 { return 1 / x }, 0.1, 5},
	backend.Tanh:     {math.Tanh, func(x float64) float64 { t := math.Tanh(x); return 1 - t*t }, -4, 4},
	backend.Sigmoid:  {sigmoid, func(x float64) float64 { return sigmoid(x) * (1 - sigmoid(x)) }, -8, 8},
	backend.Softplus: {func(x float64) float64 { return math.Log1p(math.Exp(x)) }, sigmoid, -8, 8},
	backend.ELU: {func(x float64) float64 {
		if x > 0 {
			return x
		}
		return math.Expm1(x)
	}, func(x float64) float64 {
		if x > 0 {
			return 1
		}
		return math.Exp(x)
	}, -4, 4},
	backend.Swish: {func(x float64) float64 { return x * sigmoid(x) }, func(x float64) float64 { s := sigmoid(x); return s * (1 + x*(1-s)) }, -8, 8},
	backend.ReLU: {func(x float64) float64 { return math.Max(x, 0) }, func(x float64) float64 {
		if x > 0 {
			return 1
		}
		return 0
	}, -3, 3},
	backend.Abs: {math.Abs, func(x float64) float64 {
		if x > 0 {
			return 1
		}
		if x < 0 {
			return -1
		}
		return 0
	}, -3, 3},
	backend.Sqrt:       {math.Sqrt, func(x float64) float64 { return 0.5 / math.Sqrt(x) }, 0.1, 5},
	backend.Square:     {func(x float64) float64 { return x * x }, func(x float64) float64 { return 2 * x }, -3, 3},
	backend.Neg:        {func(x float64) float64 { return -x }, func(float64) float64 { return -1 }, -3, 3},
	backend.LogSigmoid: {func(x float64) float64 { return math.Log(sigmoid(x)) }, func(x float64) float64 { return sigmoid(-x) }, -8, 8},
}

func (s *suite) unary(t *testing.T) {
	for _, op := range backend.UnaryOps() {
		ref, ok := unaryRef[op]
		if !ok {
			t.Errorf("no reference for %v", op)
			continue
		}
		a := s.rand(ref.lo, ref.hi, 2, 3, 5, 7)
		gy := s.rand(-1, 1, 2, 3, 5, 7)
		x := s.dev(a)
		y := s.b.Unary(op, x)
		s.check(op.String(), y, mapArr(a, ref.f))
		want := arr{a.shape, make([]float64, len(a.v))}
		for i := range a.v {
			want.v[i] = gy.v[i] * ref.d(a.v[i])
		}
		s.check(op.String()+" backward", s.b.UnaryBackward(op, x, y, s.dev(gy)), want)
		s.check(op.String()+" backward (no y)", s.b.UnaryBackward(op, x, nil, s.dev(gy)), want)
	}
}

func (s *suite) affineClamp(t *testing.T) {
	a := s.rand(-2, 2, 4, 9)
	x := s.dev(a)
	s.check("Affine", s.b.Affine(x, -1.5, 0.25), mapArr(a, func(v float64) float64 { return -1.5*v + 0.25 }))
	s.check("Clamp", s.b.Clamp(x, -0.5, 0.75), mapArr(a, func(v float64) float64 { return math.Min(math.Max(v, -0.5), 0.75) }))
	s.check("ClampMin", s.b.Clamp(x, -0.5, math.Inf(1)), mapArr(a, func(v float64) float64 { return math.Max(v, -0.5) }))
	gy := s.rand(-1, 1, 4, 9)
	want := arr{a.shape, make([]float64, len(a.v))}
	for i, v := range a.v {
		if v >= -0.5 && v <= 0.75 {
			want.v[i] = gy.v[i]
		}
	}
	s.check("ClampBackward", s.b.ClampBackward(x, s.dev(gy), -0.5, 0.75), want)
	// the bounds pass the gradient (PyTorch)
	edge := arr{tensor.Shape{3}, []float64{-0.5, 0.75, 1}}
	s.check("ClampBackward at bounds", s.b.ClampBackward(s.dev(edge), s.dev(arr{tensor.Shape{3}, []float64{1, 1, 1}}), -0.5, 0.75), arr{tensor.Shape{3}, []float64{1, 1, 0}})
}

// bcast evaluates f over the broadcast of a and b, naively.
func bcast(a, b arr, f func(x, y float64) float64) arr {
	out, err := backend.BroadcastShapes(a.shape, b.shape)
	if err != nil {
		panic(err)
	}
	o := arr{out, make([]float64, out.NumElements())}
	idx := make([]int, len(out))
	at := func(x arr) float64 {
		off, st := 0, x.shape.Strides()
		for i := range x.shape {
			j := len(out) - len(x.shape) + i
			if x.shape[i] != 1 {
				off += idx[j] * st[i]
			}
		}
		return x.v[off]
	}
	for k := range o.v {
		rem := k
		for d := len(out) - 1; d >= 0; d-- {
			idx[d] = rem % out[d]
			rem /= out[d]
		}
		o.v[k] = f(at(a), at(b))
	}
	return o
}

var shapePairs = [][2][]int{
	{{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{2, 3, 4, 5}, {3, 1, 1}},
	{{2, 3, 4, 5}, {2, 1, 1, 1}}, {{2, 3, 4, 5}, {}}, {{1, 3, 1, 1}, {2, 3, 4, 5}}, {{4, 1}, {1, 5}}, {{2, 3, 1, 5}, {2, 1, 4, 1}},
}

func (s *suite) binary(t *testing.T) {
	ops := map[backend.BinaryOp]func(x, y float64) float64{
		backend.Add: func(x, y float64) float64 { return x + y }, backend.Sub: func(x, y float64) float64 { return x - y },
		backend.Mul: func(x, y float64) float64 { return x * y }, backend.Div: func(x, y float64) float64 { return x / y },
		backend.Max: math.Max, backend.Min: math.Min,
	}
	for op, f := range ops {
		for _, p := range shapePairs {
			a, b := s.rand(-2, 2, p[0]...), s.rand(0.5, 2, p[1]...)
			s.check(fmt.Sprintf("%v %v %v", op, p[0], p[1]), s.b.Binary(op, s.dev(a), s.dev(b)), bcast(a, b, f))
		}
	}
	for _, p := range shapePairs {
		x := s.rand(-1, 1, p[0]...)
		big, _ := backend.BroadcastShapes(p[0], p[1])
		s.check(fmt.Sprintf("BroadcastTo %v→%v", p[0], big), s.b.BroadcastTo(s.dev(x), big), bcast(x, arr{big, make([]float64, big.NumElements())}, func(x, _ float64) float64 { return x }))
		// SumTo is the adjoint of broadcasting
		g := s.rand(-1, 1, big...)
		want := arr{tensor.Shape(p[0]).Clone(), make([]float64, x.shape.NumElements())}
		lead := len(big) - len(p[0])
		for k := range g.v {
			rem, off := k, 0
			st := want.shape.Strides()
			for d := len(big) - 1; d >= 0; d-- {
				i := rem % big[d]
				rem /= big[d]
				if j := d - lead; j >= 0 && want.shape[j] != 1 {
					off += i * st[j]
				}
			}
			want.v[off] += g.v[k]
		}
		s.check(fmt.Sprintf("SumTo %v→%v", big, p[0]), s.b.SumTo(s.dev(g), p[0]), want)
	}
}

func (s *suite) compareWhere(t *testing.T) {
	a, b := s.rand(-1, 1, 2, 3, 4), s.rand(-1, 1, 1, 3, 1)
	b.v[0] = a.v[0] // a tie
	cmps := map[backend.CompareOp]func(x, y float64) bool{
		backend.GT: func(x, y float64) bool { return x > y }, backend.GE: func(x, y float64) bool { return x >= y },
		backend.LT: func(x, y float64) bool { return x < y }, backend.LE: func(x, y float64) bool { return x <= y },
		backend.EQ: func(x, y float64) bool { return x == y },
	}
	for op, f := range cmps {
		s.check(fmt.Sprintf("Compare %d", op), s.b.Compare(op, s.dev(a), s.dev(b)), bcast(a, b, func(x, y float64) float64 {
			if f(x, y) {
				return 1
			}
			return 0
		}))
	}
	cond := mapArr(s.rand(-1, 1, 2, 1, 4), func(v float64) float64 {
		if v > 0 {
			return 1
		}
		return 0
	})
	x, y := s.rand(-1, 1, 2, 3, 4), s.rand(-1, 1, 3, 1)
	xy := bcast(x, y, func(p, q float64) float64 { return p })
	yx := bcast(x, y, func(p, q float64) float64 { return q })
	cb := bcast(cond, xy, func(c, _ float64) float64 { return c })
	want := arr{xy.shape, make([]float64, len(xy.v))}
	for i := range want.v {
		if cb.v[i] != 0 {
			want.v[i] = xy.v[i]
		} else {
			want.v[i] = yx.v[i]
		}
	}
	s.check("Where", s.b.Where(s.dev(cond), s.dev(x), s.dev(y)), want)
}

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

func (s *suite) matmul(t *testing.T) {
	for _, batch := range []int{0, 3} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				m, k, n := 5, 7, 6
				as, bs := []int{m, k}, []int{k, n}
				if ta {
					as = []int{k, m}
				}
				if tb {
					bs = []int{n, k}
				}
				nb := 1
				if batch > 0 {
					nb = batch
					as, bs = append([]int{batch}, as...), append([]int{batch}, bs...)
				}
				a, b := s.rand(-1, 1, as...), s.rand(-1, 1, bs...)
				os := tensor.Shape{m, n}
				if batch > 0 {
					os = tensor.Shape{batch, m, n}
				}
				want := arr{os, make([]float64, nb*m*n)}
				for q := 0; q < nb; q++ {
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							sum := 0.0
							for l := 0; l < k; l++ {
								av := a.v[q*m*k+i*k+l]
								if ta {
									av = a.v[q*m*k+l*m+i]
								}
								bv := b.v[q*k*n+l*n+j]
								if tb {
									bv = b.v[q*k*n+j*k+l]
								}
								sum += av * bv
							}
							want.v[q*m*n+i*n+j] = sum
						}
					}
				}
				s.check(fmt.Sprintf("MatMul batch=%d ta=%v tb=%v", batch, ta, tb), s.b.MatMul(s.dev(a), s.dev(b), ta, tb), want)
			}
		}
	}
}
