package backendtest

// Conformance checks of matmul and convolution, forward and both backward passes.

import (
	"fmt"
	"math"
	"testing"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

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

type convCase struct {
	n, c, h, w, k, kh, kw int
	p                     backend.ConvParams
}

// convRef computes y, and the gradients for upstream gy, naively.
func convRef(cc convCase, x, wt, bias, gy arr) (y, gx, gw arr) {
	p := cc.p
	oh, ow := p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
	cg := cc.c / p.Groups
	kg := cc.k / p.Groups
	y = arr{tensor.Shape{cc.n, cc.k, oh, ow}, make([]float64, cc.n*cc.k*oh*ow)}
	gx = arr{x.shape, make([]float64, len(x.v))}
	gw = arr{wt.shape, make([]float64, len(wt.v))}
	for n := 0; n < cc.n; n++ {
		for o := 0; o < cc.k; o++ {
			g := o / kg
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					yi := ((n*cc.k+o)*oh+oy)*ow + ox
					sum := 0.0
					if bias.v != nil {
						sum = bias.v[o]
					}
					for ci := 0; ci < cg; ci++ {
						c := g*cg + ci
						for ky := 0; ky < cc.kh; ky++ {
							iy := oy*p.StrideH - p.PadH + ky*p.DilationH
							if iy < 0 || iy >= cc.h {
								continue
							}
							for kx := 0; kx < cc.kw; kx++ {
								ix := ox*p.StrideW - p.PadW + kx*p.DilationW
								if ix < 0 || ix >= cc.w {
									continue
								}
								xi := ((n*cc.c+c)*cc.h+iy)*cc.w + ix
								wi := ((o*cg+ci)*cc.kh+ky)*cc.kw + kx
								sum += x.v[xi] * wt.v[wi]
								gx.v[xi] += gy.v[yi] * wt.v[wi]
								gw.v[wi] += gy.v[yi] * x.v[xi]
							}
						}
					}
					y.v[yi] = sum
				}
			}
		}
	}
	return
}

func (s *suite) conv(t *testing.T) {
	cases := []convCase{
		{2, 3, 7, 6, 4, 3, 3, backend.Conv(1, 1, 1, 1)},
		{2, 4, 8, 8, 6, 3, 3, backend.Conv(2, 1, 1, 2)},
		{2, 4, 8, 8, 8, 1, 1, backend.Conv(2, 0, 1, 1)},
		{1, 3, 9, 9, 2, 3, 3, backend.Conv(1, 2, 2, 1)},
		{2, 8, 9, 9, 8, 5, 5, backend.Conv(1, 2, 1, 8)},
		{2, 6, 9, 9, 6, 5, 5, backend.Conv(2, 2, 1, 6)},
		{2, 16, 6, 6, 32, 1, 1, backend.Conv(1, 0, 1, 1)},
	}
	for _, cc := range cases {
		x := s.rand(-1, 1, cc.n, cc.c, cc.h, cc.w)
		w := s.rand(-1, 1, cc.k, cc.c/cc.p.Groups, cc.kh, cc.kw)
		bias := s.rand(-1, 1, cc.k)
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
		gy := s.rand(-1, 1, cc.n, cc.k, oh, ow)
		y, gx, gw := convRef(cc, x, w, bias, gy)
		name := fmt.Sprintf("conv %dx%d %d→%d %+v", cc.kh, cc.kw, cc.c, cc.k, cc.p)
		s.check(name, s.b.Conv2D(s.dev(x), s.dev(w), s.dev(bias), cc.p), y)
		s.check(name+" backward data", s.b.Conv2DBackwardData(s.dev(gy), s.dev(w), x.shape, cc.p), gx)
		s.check(name+" backward filter", s.b.Conv2DBackwardFilter(s.dev(x), s.dev(gy), w.shape, cc.p), gw)
	}
}

// convAffine checks backend.ConvAffiner: Conv2DAffine against the float64
// reference convolution, affine map and activation, and bit for bit
// against ChannelAffineUnary (ChannelAffine for NoAct) of Conv2D, which it
// must round like, on the GEMM, batched 1x1 and depthwise paths, with and
// without bias.
func (s *suite) convAffine(t *testing.T) {
	ca, ok := s.b.(backend.ConvAffiner)
	if !ok {
		t.Fatalf("%s does not implement backend.ConvAffiner", s.b.Name())
	}
	cases := []convCase{
		{2, 3, 7, 6, 4, 3, 3, backend.Conv(1, 1, 1, 1)},
		{2, 4, 8, 8, 6, 3, 3, backend.Conv(2, 1, 1, 2)},
		{2, 8, 9, 9, 8, 5, 5, backend.Conv(1, 2, 1, 8)},
		{8, 16, 4, 4, 24, 1, 1, backend.Conv(1, 0, 1, 1)},
		{2, 16, 16, 16, 16, 3, 3, backend.Conv(1, 1, 1, 1)},
	}
	acts := []backend.UnaryOp{backend.NoAct, backend.Swish, backend.ELU, backend.ReLU, backend.Sigmoid}
	for i, cc := range cases {
		x := s.rand(-1, 1, cc.n, cc.c, cc.h, cc.w)
		w := s.rand(-1, 1, cc.k, cc.c/cc.p.Groups, cc.kh, cc.kw)
		bias := s.rand(-1, 1, cc.k)
		sc, sh := s.rand(-2, 2, cc.k), s.rand(-1, 1, cc.k)
		oh, ow := cc.p.OutSize(cc.h, cc.w, cc.kh, cc.kw)
		y, _, _ := convRef(cc, x, w, bias, s.rand(-1, 1, cc.n, cc.k, oh, ow))
		aff := arr{y.shape, make([]float64, len(y.v))}
		for j, v := range y.v {
			ch := j / (oh * ow) % cc.k
			aff.v[j] = v*sc.v[ch] + sh.v[ch]
		}
		var bt *tensor.Tensor
		if i%2 == 0 {
			bt = s.dev(bias)
		} else {
			for j := range aff.v { // no bias: take it back out of the reference
				aff.v[j] -= bias.v[j/(oh*ow)%cc.k] * sc.v[j/(oh*ow)%cc.k]
			}
		}
		xt, wt, st, ht := s.dev(x), s.dev(w), s.dev(sc), s.dev(sh)
		for _, act := range acts {
			name := fmt.Sprintf("Conv2DAffine %dx%d %d→%d %+v bias=%v act=%v", cc.kh, cc.kw, cc.c, cc.k, cc.p, bt != nil, act)
			got := ca.Conv2DAffine(xt, wt, bt, st, ht, cc.p, act)
			var two *tensor.Tensor
			want := aff
			if act == backend.NoAct {
				two = s.b.ChannelAffine(s.b.Conv2D(xt, wt, bt, cc.p), st, ht)
			} else {
				two = s.b.ChannelAffineUnary(s.b.Conv2D(xt, wt, bt, cc.p), st, ht, act)
				want = mapArr(aff, unaryRef[act].f)
			}
			s.check(name, got, want)
			g, wv := s.b.ToHost(got).Float64s(), s.b.ToHost(two).Float64s()
			for j := range wv {
				if g[j] != wv[j] && !(math.IsNaN(g[j]) && math.IsNaN(wv[j])) {
					t.Errorf("%s [%d] = %v, the separate ops give %v: not bit-identical", name, j, g[j], wv[j])
					break
				}
			}
		}
	}
}
