package cpu

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/gemm"
	"github.com/nvaego/nvae/pkg/par"
	"github.com/nvaego/nvae/pkg/rng"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/vmath"
)

func matmulT[T Float](a, b *tensor.Tensor, ta, tb bool) *tensor.Tensor {
	d, err := backend.MatMulShape(a.Shape(), b.Shape(), ta, tb)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	batch, m, n, k, os := d.Batch, d.M, d.N, d.K, d.Out
	sa, sb := d.StrideA, d.StrideB
	out := alloc[T](os)
	ad, bd, cd := host[T](a), host[T](b), host[T](out)
	for i := 0; i < batch; i++ {
		gemm.Gemm(ta, tb, m, n, k, 1, ad[i*sa:(i+1)*sa], d.LdA, bd[i*sb:(i+1)*sb], d.LdB, 0, cd[i*m*n:(i+1)*m*n], n)
	}
	return out
}

// MatMul implements backend.Backend.
func (*Backend) MatMul(a, b *tensor.Tensor, transA, transB bool) *tensor.Tensor {
	if checkHost(a, b) == tensor.Float32 {
		return matmulT[float32](a, b, transA, transB)
	}
	return matmulT[float64](a, b, transA, transB)
}

func nchw(s tensor.Shape) (n, c, hw int) {
	if len(s) < 2 {
		panic(fmt.Sprintf("cpu: batch norm needs [N, C, ...], got %v", s))
	}
	hw = 1
	for _, d := range s[2:] {
		hw *= d
	}
	return s[0], s[1], hw
}

func bnTrainT[T Float](x, gamma, beta *tensor.Tensor, eps float64) (*tensor.Tensor, *tensor.Tensor, *tensor.Tensor) {
	n, c, hw := nchw(x.Shape())
	y := allocFull[T](x.Shape())
	mean, vr := alloc[T](tensor.Shape{c}), alloc[T](tensor.Shape{c})
	xs, ys, ms, vs := host[T](x), host[T](y), host[T](mean), host[T](vr)
	var gs, bs []T
	if gamma != nil {
		gs = host[T](gamma)
	}
	if beta != nil {
		bs = host[T](beta)
	}
	cnt := float64(n * hw)
	par.For(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				s += sum4(xs[(i*c+ch)*hw : (i*c+ch+1)*hw])
			}
			mu := s / cnt
			var ss float64
			for i := 0; i < n; i++ {
				ss += sqdev4(xs[(i*c+ch)*hw:(i*c+ch+1)*hw], mu)
			}
			v := ss / cnt
			ms[ch], vs[ch] = T(mu), T(v)
			inv := 1 / math.Sqrt(v+eps)
			g, b := 1.0, 0.0
			if gs != nil {
				g = float64(gs[ch])
			}
			if bs != nil {
				b = float64(bs[ch])
			}
			scale := g * inv
			shift := b - mu*scale
			ts, tb := T(scale), T(shift)
			for i := 0; i < n; i++ {
				row := xs[(i*c+ch)*hw : (i*c+ch+1)*hw]
				out := ys[(i*c+ch)*hw : (i*c+ch+1)*hw]
				out = out[:len(row)]
				for j, v := range row {
					out[j] = v*ts + tb
				}
			}
		}
	})
	return y, mean, vr
}

// BatchNormTrain implements backend.Backend; gamma and beta may be nil.
func (*Backend) BatchNormTrain(x, gamma, beta *tensor.Tensor, eps float64) (y, mean, variance *tensor.Tensor) {
	if checkHost(x, gamma, beta) == tensor.Float32 {
		return bnTrainT[float32](x, gamma, beta, eps)
	}
	return bnTrainT[float64](x, gamma, beta, eps)
}

func bnBackT[T Float](x, gy, gamma, mean, vr *tensor.Tensor, eps float64) (*tensor.Tensor, *tensor.Tensor, *tensor.Tensor) {
	n, c, hw := nchw(x.Shape())
	gx := alloc[T](x.Shape())
	gg, gb := alloc[T](tensor.Shape{c}), alloc[T](tensor.Shape{c})
	xs, gys, gxs := host[T](x), host[T](gy), host[T](gx)
	ms, vs, ggs, gbs := host[T](mean), host[T](vr), host[T](gg), host[T](gb)
	var gs []T
	if gamma != nil {
		gs = host[T](gamma)
	}
	cnt := float64(n * hw)
	par.For(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu := float64(ms[ch])
			inv := 1 / math.Sqrt(float64(vs[ch])+eps)
			var sg, sgc float64
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				a, b := dot2sum4(gys[o:o+hw], xs[o:o+hw], mu)
				sg += a
				sgc += b
			}
			sgx := sgc * inv
			ggs[ch], gbs[ch] = T(sgx), T(sg)
			g := 1.0
			if gs != nil {
				g = float64(gs[ch])
			}
			// gx = k·(cnt·gy − sg − xhat·sgx) = A·gy + B·(x−mu) + C
			// (centred first, so a large mean cannot cancel in float32)
			k := g * inv / cnt
			ta, tb, tc, tmu := T(k*cnt), T(-k*sgx*inv), T(-k*sg), T(mu)
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				gyr, xr, gxr := gys[o:o+hw], xs[o:o+hw], gxs[o:o+hw]
				xr, gxr = xr[:len(gyr)], gxr[:len(gyr)]
				for j := range gyr {
					gxr[j] = ta*gyr[j] + tb*(xr[j]-tmu) + tc
				}
			}
		}
	})
	return gx, gg, gb
}

// BatchNormBackward implements backend.Backend.
func (*Backend) BatchNormBackward(x, gy, gamma, mean, variance *tensor.Tensor, eps float64) (gx, ggamma, gbeta *tensor.Tensor) {
	if checkHost(x, gy, gamma, mean, variance) == tensor.Float32 {
		return bnBackT[float32](x, gy, gamma, mean, variance, eps)
	}
	return bnBackT[float64](x, gy, gamma, mean, variance, eps)
}

// bilinearTaps gives, for output index o of a 2x align_corners=True
// upsampling from size n, the two source indices and the weight of the second.
func bilinearTaps(o, n int) (int, int, float64) {
	if n == 1 {
		return 0, 0, 0
	}
	src := float64(o) * float64(n-1) / float64(2*n-1)
	i0 := int(src)
	if i0 > n-1 {
		i0 = n - 1
	}
	i1 := i0 + 1
	if i1 > n-1 {
		i1 = n - 1
	}
	return i0, i1, src - float64(i0)
}

func upsampleT[T Float](x *tensor.Tensor, mode backend.UpsampleMode, backward bool) *tensor.Tensor {
	s := x.Shape()
	planes := s[0] * s[1]
	h, w := s[2], s[3]
	var os tensor.Shape
	if backward {
		os = tensor.Shape{s[0], s[1], h / 2, w / 2}
	} else {
		os = tensor.Shape{s[0], s[1], 2 * h, 2 * w}
	}
	var out *tensor.Tensor
	if backward {
		out = alloc[T](os) // accumulated into
	} else {
		out = allocFull[T](os)
	}
	xs, ys := host[T](x), host[T](out)
	sh, sw := h, w // small (source) size
	if !backward {
		sh, sw = h, w
	} else {
		sh, sw = h/2, w/2
	}
	bh, bw := 2*sh, 2*sw
	if !backward {
		upsampleFwd(mode, xs, ys, planes, sh, sw)
		return out
	}
	par.For(planes, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			small := p * sh * sw
			big := p * bh * bw
			for oy := 0; oy < bh; oy++ {
				for ox := 0; ox < bw; ox++ {
					bi := big + oy*bw + ox
					if mode == backend.Nearest {
						si := small + (oy/2)*sw + ox/2
						if backward {
							ys[si] += xs[bi]
						} else {
							ys[bi] = xs[si]
						}
						continue
					}
					y0, y1, fy := bilinearTaps(oy, sh)
					x0, x1, fx := bilinearTaps(ox, sw)
					w00, w01 := (1-fy)*(1-fx), (1-fy)*fx
					w10, w11 := fy*(1-fx), fy*fx
					i00, i01 := small+y0*sw+x0, small+y0*sw+x1
					i10, i11 := small+y1*sw+x0, small+y1*sw+x1
					if backward {
						g := float64(xs[bi])
						ys[i00] += T(w00 * g)
						ys[i01] += T(w01 * g)
						ys[i10] += T(w10 * g)
						ys[i11] += T(w11 * g)
					} else {
						ys[bi] = T(w00*float64(xs[i00]) + w01*float64(xs[i01]) + w10*float64(xs[i10]) + w11*float64(xs[i11]))
					}
				}
			}
		}
	})
	return out
}

// upsampleFwd is the forward 2x upsampling of planes sh×sw planes: nearest
// copies each source pixel twice per row; bilinear takes its taps from
// tables built once per call and evaluates each output exactly as the
// per-pixel formula of upsampleT does (same float64 expression).
func upsampleFwd[T Float](mode backend.UpsampleMode, xs, ys []T, planes, sh, sw int) {
	bh, bw := 2*sh, 2*sw
	if mode == backend.Nearest {
		par.For(planes, 1+grain/(bh*bw), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				src := xs[p*sh*sw : (p+1)*sh*sw]
				dst := ys[p*bh*bw : (p+1)*bh*bw]
				for y := 0; y < sh; y++ {
					row := src[y*sw : (y+1)*sw]
					o0 := dst[2*y*bw : (2*y+1)*bw]
					o0 = o0[:2*len(row)]
					for x, v := range row {
						o0[2*x] = v
						o0[2*x+1] = v
					}
					copy(dst[(2*y+1)*bw:(2*y+2)*bw], o0)
				}
			}
		})
		return
	}
	type tap struct {
		i0, i1 int
		f      float64
	}
	tx, ty := make([]tap, bw), make([]tap, bh)
	for o := range tx {
		i0, i1, f := bilinearTaps(o, sw)
		tx[o] = tap{i0, i1, f}
	}
	for o := range ty {
		i0, i1, f := bilinearTaps(o, sh)
		ty[o] = tap{i0, i1, f}
	}
	par.For(planes, 1+grain/(bh*bw), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := xs[p*sh*sw : (p+1)*sh*sw]
			dst := ys[p*bh*bw : (p+1)*bh*bw]
			for oy, t := range ty {
				r0, r1 := src[t.i0*sw:(t.i0+1)*sw], src[t.i1*sw:(t.i1+1)*sw]
				fy := t.f
				out := dst[oy*bw : (oy+1)*bw]
				for ox, u := range tx {
					fx := u.f
					w00, w01 := (1-fy)*(1-fx), (1-fy)*fx
					w10, w11 := fy*(1-fx), fy*fx
					out[ox] = T(w00*float64(r0[u.i0]) + w01*float64(r0[u.i1]) + w10*float64(r1[u.i0]) + w11*float64(r1[u.i1]))
				}
			}
		}
	})
}

// Upsample2x implements backend.Backend.
func (*Backend) Upsample2x(x *tensor.Tensor, mode backend.UpsampleMode) *tensor.Tensor {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("cpu: upsample needs NCHW, got %v", x.Shape()))
	}
	if checkHost(x) == tensor.Float32 {
		return upsampleT[float32](x, mode, false)
	}
	return upsampleT[float64](x, mode, false)
}

// Upsample2xBackward implements backend.Backend.
func (*Backend) Upsample2xBackward(gy *tensor.Tensor, mode backend.UpsampleMode) *tensor.Tensor {
	if gy.Rank() != 4 || gy.Dim(2)%2 != 0 || gy.Dim(3)%2 != 0 {
		panic(fmt.Sprintf("cpu: upsample backward needs NCHW with even H, W, got %v", gy.Shape()))
	}
	if checkHost(gy) == tensor.Float32 {
		return upsampleT[float32](gy, mode, true)
	}
	return upsampleT[float64](gy, mode, true)
}

// RandNormal implements backend.Backend.
func (*Backend) RandNormal(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor {
	g := rng.New(seed)
	g.SetState(rng.State{Seed: seed, Offset: offset})
	t := allocFullDT(dt, shape)
	if dt == tensor.Float32 {
		g.Normal32(t.F32())
	} else {
		g.Normal64(t.F64())
	}
	return t
}

// RandUniform implements backend.Backend.
func (*Backend) RandUniform(dt tensor.DType, seed, offset uint64, shape ...int) *tensor.Tensor {
	g := rng.New(seed)
	g.SetState(rng.State{Seed: seed, Offset: offset})
	t := allocFullDT(dt, shape)
	if dt == tensor.Float32 {
		g.Uniform32(t.F32())
	} else {
		g.Uniform64(t.F64())
	}
	return t
}

func adamaxT[T Float](p, g, m, u []T, clr, b1, b2, eps, wd float64) {
	tc, tb1, tb2, te, tw := T(clr), T(b1), T(1-b1), T(b2), T(wd)
	teps := T(eps)
	parFor(len(p), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := g[i] + tw*p[i]
			m[i] = tb1*m[i] + tb2*gi
			a := gi
			if a < 0 {
				a = -a
			}
			a += teps
			if v := te * u[i]; v > a {
				a = v
			}
			u[i] = a
			p[i] -= tc * (m[i] / u[i])
		}
	})
}

// AdamaxStep implements backend.Backend.
func (*Backend) AdamaxStep(p, g, m, u *tensor.Tensor, clr, beta1, beta2, eps, wd float64) {
	if checkHost(p, g, m, u) == tensor.Float32 {
		adamaxT(p.F32(), g.F32(), m.F32(), u.F32(), clr, beta1, beta2, eps, wd)
		return
	}
	adamaxT(p.F64(), g.F64(), m.F64(), u.F64(), clr, beta1, beta2, eps, wd)
}

func channelAffineT[T Float](x, scale, shift *tensor.Tensor) *tensor.Tensor {
	n, c, hw := nchw(x.Shape())
	if scale.Len() != c || shift.Len() != c {
		panic(fmt.Sprintf("cpu: channel affine of %v with %d scales and %d shifts", x.Shape(), scale.Len(), shift.Len()))
	}
	out := allocFull[T](x.Shape())
	xs, ys, sc, sh := host[T](x), host[T](out), host[T](scale), host[T](shift)
	par.For(n*c, 1+grain/max(hw, 1), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			affineRow(ys[p*hw:(p+1)*hw], xs[p*hw:(p+1)*hw], sc[p%c], sh[p%c])
		}
	})
	return out
}

// affineRow sets dst = src·a + b, the product rounded before the sum (the
// float32 case runs vmath.Affine).
func affineRow[T Float](dst, src []T, a, b T) {
	if d, ok := any(dst).([]float32); ok {
		vmath.Affine(d[:len(src)], any(src).([]float32), float32(a), float32(b))
		return
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = T(v*a) + b
	}
}

// unaryBlock is the span the fused kernels run the activation over while it
// is still in the first-level cache.
const unaryBlock = 4096

func channelAffineUnaryT[T Float](x, scale, shift *tensor.Tensor, op backend.UnaryOp, inPlace bool) *tensor.Tensor {
	n, c, hw := nchw(x.Shape())
	if scale.Len() != c || shift.Len() != c {
		panic(fmt.Sprintf("cpu: channel affine of %v with %d scales and %d shifts", x.Shape(), scale.Len(), shift.Len()))
	}
	out := x
	if !inPlace {
		out = allocFull[T](x.Shape())
	}
	xs, ys, sc, sh := host[T](x), host[T](out), host[T](scale), host[T](shift)
	par.For(n*c, 1+grain/max(hw, 1), func(lo, hi int) {
		start := lo * hw
		for p := lo; p < hi; p++ {
			affineRow(ys[p*hw:(p+1)*hw], xs[p*hw:(p+1)*hw], sc[p%c], sh[p%c])
			if end := (p + 1) * hw; end-start >= unaryBlock || p == hi-1 {
				span := ys[start:end]
				unaryLoop(op, span, span)
				start = end
			}
		}
	})
	return out
}

func gateScaleAddT[T Float](y, x, gate *tensor.Tensor, s float64) *tensor.Tensor {
	if !x.Shape().Equal(y.Shape()) {
		panic(fmt.Sprintf("cpu: GateScaleAdd of %v and %v", y.Shape(), x.Shape()))
	}
	n, c, hw := nchw(x.Shape())
	var gs []T
	if gate != nil {
		if gate.Len() != n*c {
			panic(fmt.Sprintf("cpu: GateScaleAdd gate of %d elements for %v", gate.Len(), x.Shape()))
		}
		gs = host[T](gate)
	}
	out := allocFull[T](x.Shape())
	xs, ys, os := host[T](x), host[T](y), host[T](out)
	ts, zero := T(s), T(0)
	par.For(n*c, 1+grain/max(hw, 1), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xr, yr, or := xs[p*hw:(p+1)*hw], ys[p*hw:(p+1)*hw], os[p*hw:(p+1)*hw]
			yr, or = yr[:len(xr)], or[:len(xr)]
			if o32, ok := any(or).([]float32); ok {
				g := float32(1) // x·1 is exact: the ungated sum rounds alike
				if gs != nil {
					g = float32(gs[p])
				}
				vmath.ScaleAdd(o32, any(xr).([]float32), any(yr).([]float32), g, float32(ts))
				continue
			}
			if gs == nil {
				for i, v := range xr {
					or[i] = yr[i] + (T(ts*v) + zero)
				}
				continue
			}
			g := gs[p]
			for i, v := range xr {
				or[i] = yr[i] + (T(ts*T(v*g)) + zero)
			}
		}
	})
	return out
}

// GateScaleAdd implements backend.Backend.
func (*Backend) GateScaleAdd(y, x, gate *tensor.Tensor, s float64) *tensor.Tensor {
	if checkHost(y, x, gate) == tensor.Float32 {
		return gateScaleAddT[float32](y, x, gate, s)
	}
	return gateScaleAddT[float64](y, x, gate, s)
}

// ChannelAffineUnary implements backend.Backend.
func (*Backend) ChannelAffineUnary(x, scale, shift *tensor.Tensor, op backend.UnaryOp) *tensor.Tensor {
	if checkHost(x, scale, shift) == tensor.Float32 {
		return channelAffineUnaryT[float32](x, scale, shift, op, false)
	}
	return channelAffineUnaryT[float64](x, scale, shift, op, false)
}

// ChannelAffineUnaryInPlace implements backend.Backend.
func (*Backend) ChannelAffineUnaryInPlace(x, scale, shift *tensor.Tensor, op backend.UnaryOp) {
	if checkHost(x, scale, shift) == tensor.Float32 {
		channelAffineUnaryT[float32](x, scale, shift, op, true)
		return
	}
	channelAffineUnaryT[float64](x, scale, shift, op, true)
}

// ChannelAffine implements backend.Backend.
func (*Backend) ChannelAffine(x, scale, shift *tensor.Tensor) *tensor.Tensor {
	if checkHost(x, scale, shift) == tensor.Float32 {
		return channelAffineT[float32](x, scale, shift)
	}
	return channelAffineT[float64](x, scale, shift)
}
