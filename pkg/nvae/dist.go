package nvae

import (
	"math"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Noise supplies the random draws of a pass, in the official order of
// consumption (one normal draw per latent group, then the decoder's).
type Noise interface {
	// Normal returns standard-normal values of the given shape.
	Normal(c *ag.Ctx, shape ...int) *tensor.Tensor
	// Uniform returns values uniform in [1e-5, 1-1e-5] (the official
	// uniform_(1e-5, 1-1e-5)).
	Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor
}

// PhiloxNoise draws from the project's counter-based stream; its state is a
// (seed, offset) pair that checkpoints save.
type PhiloxNoise struct{ Seed, Offset uint64 }

// Normal implements Noise.
func (p *PhiloxNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor {
	t := c.B.RandNormal(c.DType, p.Seed, p.Offset, shape...)
	p.Offset += uint64(tensor.Shape(shape).NumElements())
	return t
}

// Uniform implements Noise.
func (p *PhiloxNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	t := c.B.RandUniform(c.DType, p.Seed, p.Offset, shape...)
	p.Offset += uint64(tensor.Shape(shape).NumElements())
	return c.B.Affine(t, 1-2e-5, 1e-5)
}

// Normal is the official distributions.Normal: soft-clamped parameters,
// sigma = exp(5·tanh(log_sigma/5)) + 1e-2, times t.
type Normal struct{ Mu, Sigma *ag.Var }

// The functions below release their intermediates as soon as they are
// consumed when no gradient is recorded (ag.Ctx.Release does nothing
// otherwise): inference then recycles the buffers instead of allocating
// fresh ones for every latent group. A multiplication by a constant
// followed by an addition of one is one ag.Ctx.Affine, which rounds the
// product and then the sum exactly as the two ops did.

func softClamp5(c *ag.Ctx, x *ag.Var) *ag.Var {
	a := c.MulScalar(x, 0.2)
	t := c.Tanh(a)
	c.Release(a)
	y := c.MulScalar(t, 5)
	c.Release(t)
	return y
}

// NewNormal builds the distribution from raw parameters. Its Mu and Sigma
// are new tensors, so callers may release mu and logSigma afterwards.
func NewNormal(c *ag.Ctx, mu, logSigma *ag.Var, t float64) Normal {
	ls := softClamp5(c, logSigma)
	e := c.Exp(ls)
	c.Release(ls)
	sigma := c.AddScalar(e, 1e-2)
	c.Release(e)
	if t != 1 {
		st := c.MulScalar(sigma, t)
		c.Release(sigma)
		sigma = st
	}
	return Normal{Mu: softClamp5(c, mu), Sigma: sigma}
}

// Sample is eps·sigma + mu.
func (n Normal) Sample(c *ag.Ctx, eps *tensor.Tensor) *ag.Var {
	e := c.Const(eps)
	m := c.Mul(e, n.Sigma)
	c.Release(e)
	z := c.Add(m, n.Mu)
	c.Release(m)
	return z
}

// LogP is the element-wise log density.
func (n Normal) LogP(c *ag.Ctx, z *ag.Var) *ag.Var {
	diff := c.Sub(z, n.Mu)
	d := c.Div(diff, n.Sigma)
	c.Release(diff)
	sq := c.Square(d)
	c.Release(d)
	a := c.Affine(sq, -0.5, -0.5*math.Log(2*math.Pi))
	c.Release(sq)
	l := c.Log(n.Sigma)
	out := c.Sub(a, l)
	c.Release(a, l)
	return out
}

// KL is the element-wise KL(n ‖ p).
func (n Normal) KL(c *ag.Ctx, p Normal) *ag.Var {
	diff := c.Sub(n.Mu, p.Mu)
	t1 := c.Div(diff, p.Sigma)
	c.Release(diff)
	t2 := c.Div(n.Sigma, p.Sigma)
	s1, s2 := c.Square(t1), c.Square(t2)
	c.Release(t1)
	sum := c.Add(s1, s2)
	c.Release(s1, s2)
	a := c.Affine(sum, 0.5, -0.5)
	c.Release(sum)
	l := c.Log(t2)
	c.Release(t2)
	out := c.Sub(a, l)
	c.Release(a, l)
	return out
}

// Decoder is p(x|z) given the image_conditional output.
type Decoder interface {
	// LogProb is per pixel: [B, C, H, W] (Bernoulli, Normal) or [B, H, W]
	// summed over colours (mixture of logistics).
	LogProb(c *ag.Ctx, x *ag.Var) *ag.Var
	// Sample draws an image in [0,1] at temperature t.
	Sample(c *ag.Ctx, noise Noise, t float64) *ag.Var
	// Mean is the decoder mean in [0,1] (nil where the official has none).
	Mean(c *ag.Ctx) *ag.Var
}

// Bernoulli is the binary decoder.
type Bernoulli struct{ Logits *ag.Var }

// LogProb is x·l − softplus(l).
func (d Bernoulli) LogProb(c *ag.Ctx, x *ag.Var) *ag.Var {
	return c.Sub(c.Mul(x, d.Logits), c.Softplus(d.Logits))
}

// Sample draws binary pixels.
func (d Bernoulli) Sample(c *ag.Ctx, noise Noise, t float64) *ag.Var {
	u := noise.Uniform(c, d.Logits.Shape()...)
	return c.Compare(backend.LT, c.Const(u), c.Sigmoid(d.Logits))
}

// Mean is σ(l).
func (d Bernoulli) Mean(c *ag.Ctx) *ag.Var { return c.Sigmoid(d.Logits) }

// NormalDecoder is the M = 1 decoder: Normal on 2x−1.
type NormalDecoder struct{ dist Normal }

// NewNormalDecoder splits the parameters into mu and log sigma.
func NewNormalDecoder(c *ag.Ctx, p *ag.Var) NormalDecoder {
	h := c.Chunk(p, 2, 1)
	return NormalDecoder{NewNormal(c, h[0], h[1], 1)}
}

// LogProb implements Decoder.
func (d NormalDecoder) LogProb(c *ag.Ctx, x *ag.Var) *ag.Var {
	return d.dist.LogP(c, c.Affine(x, 2, -1))
}

// Sample ignores t, as the official code does, and clamps to [-1, 1].
func (d NormalDecoder) Sample(c *ag.Ctx, noise Noise, t float64) *ag.Var {
	eps := noise.Normal(c, d.dist.Mu.Shape()...)
	x := c.Clamp(d.dist.Sample(c, eps), -1, 1)
	return c.Affine(x, 0.5, 0.5)
}

// Mean is not defined for the Normal decoder (the official has none).
func (d NormalDecoder) Mean(c *ag.Ctx) *ag.Var { return nil }

// DiscMixLogistic is the discretised mixture of logistics over RGB.
type DiscMixLogistic struct {
	M      int
	MaxVal float64
	logits *ag.Var // [B, M, H, W]
	means  *ag.Var // [B, 3, M, H, W]
	logSc  *ag.Var // clamped at -7
	coeffs *ag.Var // tanh
}

// NewDiscMixLogistic slices the image_conditional output.
func NewDiscMixLogistic(c *ag.Ctx, p *ag.Var, m, bits int) *DiscMixLogistic {
	b, h, w := p.Dim(0), p.Dim(2), p.Dim(3)
	d := &DiscMixLogistic{M: m, MaxVal: math.Pow(2, float64(bits)) - 1}
	d.logits = c.Narrow(p, 1, 0, m)
	l := c.Reshape(c.Narrow(p, 1, m, 9*m), b, 3, 3*m, h, w)
	d.means = c.Narrow(l, 2, 0, m)
	d.logSc = c.ClampMin(c.Narrow(l, 2, m, m), -7)
	d.coeffs = c.Tanh(c.Narrow(l, 2, 2*m, m))
	return d
}

// colour returns channel i of a [B, 3, M, H, W] tensor as [B, M, H, W].
func colour(c *ag.Ctx, x *ag.Var, i int) *ag.Var {
	s := x.Shape()
	return c.Reshape(c.Narrow(x, 1, i, 1), s[0], s[2], s[3], s[4])
}

// LogProb is per pixel [B, H, W], summed over colours and mixed.
func (d *DiscMixLogistic) LogProb(c *ag.Ctx, x *ag.Var) *ag.Var {
	b, h, w := x.Dim(0), x.Dim(2), x.Dim(3)
	xs := c.Affine(x, 2, -1)                           // [B, 3, H, W]
	x5 := c.Reshape(xs, b, 3, 1, h, w)                 // broadcasts over M
	xr := c.Reshape(c.Narrow(xs, 1, 0, 1), b, 1, h, w) // [B,1,H,W]
	xg := c.Reshape(c.Narrow(xs, 1, 1, 1), b, 1, h, w)
	mean1 := colour(c, d.means, 0)
	mean2 := c.Add(colour(c, d.means, 1), c.Mul(colour(c, d.coeffs, 0), xr))
	mean3 := c.Add(c.Add(colour(c, d.means, 2), c.Mul(colour(c, d.coeffs, 1), xr)), c.Mul(colour(c, d.coeffs, 2), xg))
	m := d.M
	means := c.Concat(1, c.Reshape(mean1, b, 1, m, h, w), c.Reshape(mean2, b, 1, m, h, w), c.Reshape(mean3, b, 1, m, h, w))
	centered := c.Sub(x5, means)
	inv := c.Exp(c.Neg(d.logSc))
	plusIn := c.Mul(inv, c.AddScalar(centered, 1/d.MaxVal))
	minIn := c.Mul(inv, c.AddScalar(centered, -1/d.MaxVal))
	logCdfPlus := c.Sub(plusIn, c.Softplus(plusIn))
	logOneMinusCdfMin := c.Neg(c.Softplus(minIn))
	cdfDelta := c.Sub(c.Sigmoid(plusIn), c.Sigmoid(minIn))
	midIn := c.Mul(inv, centered)
	logPdfMid := c.Sub(c.Sub(midIn, d.logSc), c.MulScalar(c.Softplus(midIn), 2))
	safe := c.Where(c.Compare(backend.GT, cdfDelta, c.Scalar(1e-5)),
		c.Log(c.ClampMin(cdfDelta, 1e-10)),
		c.AddScalar(logPdfMid, -math.Log(d.MaxVal/2)))
	lp := c.Where(c.Compare(backend.LT, x5, c.Scalar(-0.999)), logCdfPlus,
		c.Where(c.Compare(backend.GT, x5, c.Scalar(0.99)), logOneMinusCdfMin, safe))
	lp = c.Add(c.Sum(lp, []int{1}, false), c.LogSoftmax(d.logits, 1)) // [B, M, H, W]
	return c.LogSumExp(lp, []int{1}, false)
}

// chain applies the colour dependencies with clamping and maps to [0, 1].
func (d *DiscMixLogistic) chain(c *ag.Ctx, x, coeffs *ag.Var) *ag.Var {
	ch := func(v *ag.Var, i int) *ag.Var { return c.Narrow(v, 1, i, 1) }
	x0 := c.Clamp(ch(x, 0), -1, 1)
	x1 := c.Clamp(c.Add(ch(x, 1), c.Mul(ch(coeffs, 0), x0)), -1, 1)
	x2 := c.Clamp(c.Add(c.Add(ch(x, 2), c.Mul(ch(coeffs, 1), x0)), c.Mul(ch(coeffs, 2), x1)), -1, 1)
	return c.Affine(c.Concat(1, x0, x1, x2), 0.5, 0.5)
}

// Selection returns the Gumbel-max component choice [B, H, W] for uniforms u.
func (d *DiscMixLogistic) Selection(c *ag.Ctx, u *tensor.Tensor, t float64) *ag.Var {
	uv := c.Const(u)
	gumbel := c.Neg(c.Log(c.Neg(c.Log(uv))))
	return c.Argmax(c.Add(c.MulScalar(d.logits, 1/t), gumbel), 1)
}

// Sample draws at temperature t: logits/t for the component, logistic noise
// scaled by exp(log_scale)/t.
func (d *DiscMixLogistic) Sample(c *ag.Ctx, noise Noise, t float64) *ag.Var {
	x, _ := d.SampleWithSel(c, noise, t)
	return x
}

// SampleWithSel is Sample that also returns the selected components.
func (d *DiscMixLogistic) SampleWithSel(c *ag.Ctx, noise Noise, t float64) (*ag.Var, *ag.Var) {
	b, h, w := d.logits.Dim(0), d.logits.Dim(2), d.logits.Dim(3)
	u0 := noise.Uniform(c, b, d.M, h, w)
	sel := d.Selection(c, u0, t)
	oh := c.Reshape(c.OneHot(sel, d.M, 1), b, 1, d.M, h, w)
	means := c.Sum(c.Mul(d.means, oh), []int{2}, false)
	logSc := c.Sum(c.Mul(d.logSc, oh), []int{2}, false)
	coeffs := c.Sum(c.Mul(d.coeffs, oh), []int{2}, false)
	u := c.Const(noise.Uniform(c, b, 3, h, w))
	logistic := c.Sub(c.Log(u), c.Log(c.Affine(u, -1, 1)))
	x := c.Add(means, c.Mul(c.MulScalar(c.Exp(logSc), 1/t), logistic))
	return d.chain(c, x, coeffs), sel
}

// Mean is the softmax-weighted mean with the clamped colour chain.
func (d *DiscMixLogistic) Mean(c *ag.Ctx) *ag.Var {
	b, h, w := d.logits.Dim(0), d.logits.Dim(2), d.logits.Dim(3)
	sel := c.Reshape(c.Softmax(d.logits, 1), b, 1, d.M, h, w)
	means := c.Sum(c.Mul(d.means, sel), []int{2}, false)
	coeffs := c.Sum(c.Mul(d.coeffs, sel), []int{2}, false)
	return d.chain(c, means, coeffs)
}
