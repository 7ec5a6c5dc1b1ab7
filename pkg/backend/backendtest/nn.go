package backendtest

// Conformance checks of batch norm, upsampling, argmax/one-hot, pooling and resizing.

import (
	"fmt"
	"math"
	"testing"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

func (s *suite) batchnorm(t *testing.T) {
	n, c, h, w := 3, 4, 5, 6
	x := s.rand(-2, 3, n, c, h, w)
	g, b := s.rand(0.5, 1.5, c), s.rand(-1, 1, c)
	gy := s.rand(-1, 1, n, c, h, w)
	eps := 1e-5
	m := float64(n * h * w)
	y := arr{x.shape, make([]float64, len(x.v))}
	gx := arr{x.shape, make([]float64, len(x.v))}
	mean, vr := arr{tensor.Shape{c}, make([]float64, c)}, arr{tensor.Shape{c}, make([]float64, c)}
	gg, gb := arr{tensor.Shape{c}, make([]float64, c)}, arr{tensor.Shape{c}, make([]float64, c)}
	at := func(i, ch, j int) int { return (i*c+ch)*h*w + j }
	for ch := 0; ch < c; ch++ {
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				mean.v[ch] += x.v[at(i, ch, j)] / m
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				d := x.v[at(i, ch, j)] - mean.v[ch]
				vr.v[ch] += d * d / m
			}
		}
		inv := 1 / math.Sqrt(vr.v[ch]+eps)
		var sg, sgx float64
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				k := at(i, ch, j)
				xh := (x.v[k] - mean.v[ch]) * inv
				y.v[k] = xh*g.v[ch] + b.v[ch]
				sg += gy.v[k]
				sgx += gy.v[k] * xh
			}
		}
		gg.v[ch], gb.v[ch] = sgx, sg
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				k := at(i, ch, j)
				xh := (x.v[k] - mean.v[ch]) * inv
				gx.v[k] = g.v[ch] * inv / m * (m*gy.v[k] - sg - xh*sgx)
			}
		}
	}
	sc, sh := s.rand(0.5, 2, c), s.rand(-1, 1, c)
	ca := arr{x.shape, make([]float64, len(x.v))}
	for i := range ca.v {
		ch := i / (h * w) % c
		ca.v[i] = x.v[i]*sc.v[ch] + sh.v[ch]
	}
	s.check("ChannelAffine", s.b.ChannelAffine(s.dev(x), s.dev(sc), s.dev(sh)), ca)
	s.channelAffineUnary(x, sc, sh, ca)
	// A larger case: several activation spans per worker, planes not a
	// multiple of them.
	{
		xl, scl, shl := s.rand(-3, 3, 3, 5, 37, 41), s.rand(0.5, 2, 5), s.rand(-1, 1, 5)
		cal := arr{xl.shape, make([]float64, len(xl.v))}
		for i := range cal.v {
			ch := i / (37 * 41) % 5
			cal.v[i] = xl.v[i]*scl.v[ch] + shl.v[ch]
		}
		s.channelAffineUnary(xl, scl, shl, cal)
	}
	dy, dm, dv := s.b.BatchNormTrain(s.dev(x), s.dev(g), s.dev(b), eps)
	s.check("BatchNormTrain y", dy, y)
	s.check("BatchNormTrain mean", dm, mean)
	s.check("BatchNormTrain var", dv, vr)
	dgx, dgg, dgb := s.b.BatchNormBackward(s.dev(x), s.dev(gy), s.dev(g), dm, dv, eps)
	s.check("BatchNormBackward x", dgx, gx)
	s.check("BatchNormBackward gamma", dgg, gg)
	s.check("BatchNormBackward beta", dgb, gb)
}

func (s *suite) upsample(t *testing.T) {
	n, c, h, w := 2, 3, 4, 5
	x := s.rand(-1, 1, n, c, h, w)
	gy := s.rand(-1, 1, n, c, 2*h, 2*w)
	for _, mode := range []backend.UpsampleMode{backend.Nearest, backend.BilinearAlign} {
		y := arr{tensor.Shape{n, c, 2 * h, 2 * w}, make([]float64, n*c*4*h*w)}
		gx := arr{x.shape, make([]float64, len(x.v))}
		for pl := 0; pl < n*c; pl++ {
			for oy := 0; oy < 2*h; oy++ {
				for ox := 0; ox < 2*w; ox++ {
					k := pl*4*h*w + oy*2*w + ox
					if mode == backend.Nearest {
						src := pl*h*w + (oy/2)*w + ox/2
						y.v[k] = x.v[src]
						gx.v[src] += gy.v[k]
						continue
					}
					fy := float64(oy) * float64(h-1) / float64(2*h-1)
					fx := float64(ox) * float64(w-1) / float64(2*w-1)
					y0, x0 := int(fy), int(fx)
					y1, x1 := min(y0+1, h-1), min(x0+1, w-1)
					ay, ax := fy-float64(y0), fx-float64(x0)
					taps := []struct {
						i  int
						wt float64
					}{{y0*w + x0, (1 - ay) * (1 - ax)}, {y0*w + x1, (1 - ay) * ax}, {y1*w + x0, ay * (1 - ax)}, {y1*w + x1, ay * ax}}
					for _, tp := range taps {
						y.v[k] += tp.wt * x.v[pl*h*w+tp.i]
						gx.v[pl*h*w+tp.i] += tp.wt * gy.v[k]
					}
				}
			}
		}
		s.check(fmt.Sprintf("Upsample2x %d", mode), s.b.Upsample2x(s.dev(x), mode), y)
		s.check(fmt.Sprintf("Upsample2xBackward %d", mode), s.b.Upsample2xBackward(s.dev(gy), mode), gx)
	}
}

func (s *suite) argmaxOneHot(t *testing.T) {
	x := s.rand(-1, 1, 2, 5, 3)
	want := arr{tensor.Shape{2, 3}, make([]float64, 6)}
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			best := math.Inf(-1)
			for k := 0; k < 5; k++ {
				if v := x.v[(i*5+k)*3+j]; v > best {
					best, want.v[i*3+j] = v, float64(k)
				}
			}
		}
	}
	idx := s.b.Argmax(s.dev(x), 1)
	s.check("Argmax", idx, want)
	oh := arr{tensor.Shape{2, 5, 3}, make([]float64, 30)}
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			oh.v[(i*5+int(want.v[i*3+j]))*3+j] = 1
		}
	}
	s.check("OneHot", s.b.OneHot(idx, 5, 1, s.dt), oh)
}

func (s *suite) poolResize(t *testing.T) {
	n, c, h, w := 2, 3, 9, 8
	x := s.rand(-1, 1, n, c, h, w)
	pool := func(k, st, p int, isMax, countPad bool) arr {
		oh, ow := (h+2*p-k)/st+1, (w+2*p-k)/st+1
		o := arr{tensor.Shape{n, c, oh, ow}, make([]float64, n*c*oh*ow)}
		for pl := 0; pl < n*c; pl++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					best, sum, cnt := math.Inf(-1), 0.0, 0
					for y := oy*st - p; y < oy*st-p+k; y++ {
						for xx := ox*st - p; xx < ox*st-p+k; xx++ {
							if y < 0 || y >= h || xx < 0 || xx >= w {
								continue
							}
							v := x.v[pl*h*w+y*w+xx]
							best = math.Max(best, v)
							sum += v
							cnt++
						}
					}
					r := best
					if !isMax {
						if countPad {
							r = sum / float64(k*k)
						} else {
							r = sum / float64(cnt)
						}
					}
					o.v[(pl*oh+oy)*ow+ox] = r
				}
			}
		}
		return o
	}
	s.check("MaxPool2D 3/2/0", s.b.MaxPool2D(s.dev(x), 3, 2, 0), pool(3, 2, 0, true, false))
	s.check("MaxPool2D 3/1/1", s.b.MaxPool2D(s.dev(x), 3, 1, 1), pool(3, 1, 1, true, false))
	s.check("AvgPool2D 3/1/1 exclude pad", s.b.AvgPool2D(s.dev(x), 3, 1, 1, false), pool(3, 1, 1, false, false))
	s.check("AvgPool2D 3/1/1 include pad", s.b.AvgPool2D(s.dev(x), 3, 1, 1, true), pool(3, 1, 1, false, true))
	resize := func(oh, ow int, align bool) arr {
		src := func(o, in, out int) (int, int, float64) {
			var f float64
			if align {
				if out > 1 {
					f = float64(o) * float64(in-1) / float64(out-1)
				}
			} else {
				f = math.Max((float64(o)+0.5)*float64(in)/float64(out)-0.5, 0)
			}
			i0 := min(int(f), in-1)
			return i0, min(i0+1, in-1), f - float64(i0)
		}
		o := arr{tensor.Shape{n, c, oh, ow}, make([]float64, n*c*oh*ow)}
		for pl := 0; pl < n*c; pl++ {
			for oy := 0; oy < oh; oy++ {
				y0, y1, ay := src(oy, h, oh)
				for ox := 0; ox < ow; ox++ {
					x0, x1, ax := src(ox, w, ow)
					at := func(y, xx int) float64 { return x.v[pl*h*w+y*w+xx] }
					o.v[(pl*oh+oy)*ow+ox] = (1-ay)*((1-ax)*at(y0, x0)+ax*at(y0, x1)) + ay*((1-ax)*at(y1, x0)+ax*at(y1, x1))
				}
			}
		}
		return o
	}
	for _, sz := range [][2]int{{13, 11}, {5, 4}, {9, 8}} {
		for _, align := range []bool{false, true} {
			s.check(fmt.Sprintf("ResizeBilinear %v align=%v", sz, align), s.b.ResizeBilinear(s.dev(x), sz[0], sz[1], align), resize(sz[0], sz[1], align))
		}
	}
}

// channelAffineUnary checks ChannelAffineUnary against the reference
// activation of ca = x·sc + sh, and bit for bit against Unary after
// ChannelAffine (the fused kernel must round alike).
func (s *suite) channelAffineUnary(x, sc, sh, ca arr) {
	for _, op := range []backend.UnaryOp{backend.Swish, backend.ELU, backend.ReLU, backend.Sigmoid, backend.Tanh} {
		got := s.b.ChannelAffineUnary(s.dev(x), s.dev(sc), s.dev(sh), op)
		s.check(fmt.Sprintf("ChannelAffineUnary %v", op), got, mapArr(ca, unaryRef[op].f))
		two := s.b.Unary(op, s.b.ChannelAffine(s.dev(x), s.dev(sc), s.dev(sh)))
		in := s.dev(x)
		s.b.ChannelAffineUnaryInPlace(in, s.dev(sc), s.dev(sh), op)
		g, w, ip := s.b.ToHost(got).Float64s(), s.b.ToHost(two).Float64s(), s.b.ToHost(in).Float64s()
		for i := range w {
			if g[i] != w[i] && !(math.IsNaN(g[i]) && math.IsNaN(w[i])) {
				s.t.Errorf("ChannelAffineUnary %v [%d] = %v, Unary(ChannelAffine) %v: not bit-identical", op, i, g[i], w[i])
				break
			}
			if ip[i] != w[i] && !(math.IsNaN(ip[i]) && math.IsNaN(w[i])) {
				s.t.Errorf("ChannelAffineUnaryInPlace %v [%d] = %v, Unary(ChannelAffine) %v: not bit-identical", op, i, ip[i], w[i])
				break
			}
		}
	}
}

// gateScaleAdd checks GateScaleAdd against y + (x·gate)·s, and bit for bit
// against Add(y, Affine(Mul(x, gate), s, 0)) (the fused kernel must round
// like the ops it replaces), with and without a gate, across plane sizes.
func (s *suite) gateScaleAdd(t *testing.T) {
	for _, sh := range [][]int{{2, 3, 4, 5}, {3, 7, 37, 41}} {
		n, c := sh[0], sh[1]
		hw := sh[2] * sh[3]
		x, y, g := s.rand(-2, 2, sh...), s.rand(-2, 2, sh...), s.rand(0, 1, n, c)
		for _, gated := range []bool{false, true} {
			want := arr{x.shape, make([]float64, len(x.v))}
			for i := range want.v {
				v := x.v[i]
				if gated {
					v *= g.v[i/hw]
				}
				want.v[i] = y.v[i] + 0.1*v
			}
			var gt *tensor.Tensor
			prod := s.dev(x)
			if gated {
				gt = s.dev(g)
				prod = s.b.Binary(backend.Mul, prod, s.b.FromHost(s.dev(g)).Reshape(n, c, 1, 1))
			}
			got := s.b.GateScaleAdd(s.dev(y), s.dev(x), gt, 0.1)
			s.check(fmt.Sprintf("GateScaleAdd %v gate=%v", sh, gated), got, want)
			two := s.b.Binary(backend.Add, s.dev(y), s.b.Affine(prod, 0.1, 0))
			gv, wv := s.b.ToHost(got).Float64s(), s.b.ToHost(two).Float64s()
			for i := range wv {
				if gv[i] != wv[i] {
					t.Errorf("GateScaleAdd %v gate=%v [%d] = %v, composed ops %v: not bit-identical", sh, gated, i, gv[i], wv[i])
					break
				}
			}
		}
	}
}
