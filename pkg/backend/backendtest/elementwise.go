package backendtest

// Conformance checks of memory, element-wise unary/binary ops, affine/clamp, compare/where.

import (
	"fmt"
	"math"
	"testing"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

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
