package nvae

import (
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/nn"
)

// Output is what the official AutoEncoder.forward returns.
type Output struct {
	Logits     *ag.Var
	LogQ, LogP *ag.Var   // [B]: sums over groups and elements
	KLAll      []*ag.Var // per group (decoder order) [B]
	KLDiag     []*ag.Var // per group [L]
}

// PriorFtr0 returns the learned top decoder input.
func (m *Model) PriorFtr0() *ag.Var { return m.priorFtr0 }

func (m *Model) preprocessInput(c *ag.Ctx, x *ag.Var) *ag.Var { return c.Affine(x, 2, -1) }

// Forward runs the encoder and decoder on x in [0,1] (already reduced to
// num_x_bits), drawing one normal tensor per group from noise.
func (m *Model) Forward(c *ag.Ctx, x *ag.Var, noise Noise) *Output {
	// Without gradients, each intermediate is released once consumed;
	// the states the encoder combiners read are kept until then.
	in := m.preprocessInput(c, x)
	s := m.stem.Forward(c, in)
	release(c, in, s)
	for _, cell := range m.pre {
		s = advance(c, s, cell.Forward(c, s), nil)
	}
	var combEnc []*encCombiner
	var combS []*ag.Var
	kept := map[*ag.Var]int{}
	for _, l := range m.encTower {
		switch v := l.(type) {
		case *encCombiner:
			combEnc = append(combEnc, v)
			combS = append(combS, s)
			kept[s]++
		case *Cell:
			s = advance(c, s, v.Forward(c, s), kept)
		}
	}
	for i, j := 0, len(combEnc)-1; i < j; i, j = i+1, j-1 {
		combEnc[i], combEnc[j] = combEnc[j], combEnc[i]
		combS[i], combS[j] = combS[j], combS[i]
	}
	ftr := c.ELU(m.enc0.Forward(c, c.ELU(s)))
	p0 := c.Chunk(m.encSampler[0].Forward(c, ftr), 2, 1)
	q := NewNormal(c, p0[0], p0[1], 1)
	c.Release(p0...)
	z := q.Sample(c, noise.Normal(c, q.Mu.Shape()...))
	logQ := q.LogP(c, z)
	nfOff := 0
	for n := 0; n < m.Cfg.NumNF; n++ {
		z = m.nf[n].Forward(c, z)
	}
	nfOff += m.Cfg.NumNF
	allQ, allLogQ := []Normal{q}, []*ag.Var{logQ}
	zero := c.Const(c.B.Zeros(c.DType, z.Shape()...))
	p := NewNormal(c, zero, zero, 1)
	allP, allLogP := []Normal{p}, []*ag.Var{p.LogP(c, z)}

	logits := m.runDecoder(c, x.Dim(0), z, func(idx int, s *ag.Var) *ag.Var {
		pp := m.decSample(c, idx, s)
		muP, lsP := pp[0], pp[1]
		f := combEnc[idx-1].Forward(c, combS[idx-1], s)
		if kept[combS[idx-1]]--; kept[combS[idx-1]] == 0 {
			release(c, combS[idx-1], f)
		}
		qo := m.encSampler[idx].Forward(c, f)
		release(c, f, qo)
		pq := c.Chunk(qo, 2, 1)
		release(c, qo, pq...)
		var q Normal
		if m.Cfg.ResDist {
			mu, ls := c.Add(muP, pq[0]), c.Add(lsP, pq[1])
			q = NewNormal(c, mu, ls, 1)
			c.Release(mu, ls)
		} else {
			q = NewNormal(c, pq[0], pq[1], 1)
		}
		c.Release(pq...)
		z := q.Sample(c, noise.Normal(c, q.Mu.Shape()...))
		lq := q.LogP(c, z)
		for n := 0; n < m.Cfg.NumNF; n++ {
			z = m.nf[nfOff+n].Forward(c, z)
		}
		nfOff += m.Cfg.NumNF
		allQ, allLogQ = append(allQ, q), append(allLogQ, lq)
		p := NewNormal(c, muP, lsP, 1)
		c.Release(muP, lsP)
		allP, allLogP = append(allP, p), append(allLogP, p.LogP(c, z))
		return z
	})
	out := &Output{Logits: logits}
	for i := range allQ {
		var kl *ag.Var
		if m.Cfg.NumNF > 0 {
			kl = c.Sub(allLogQ[i], allLogP[i])
		} else {
			kl = allQ[i].KL(c, allP[i])
		}
		ks := c.Sum(kl, []int{2, 3}, false)
		out.KLDiag = append(out.KLDiag, c.Mean(ks, []int{0}, false))
		out.KLAll = append(out.KLAll, c.Sum(kl, []int{1, 2, 3}, false))
		lq := c.Sum(allLogQ[i], []int{1, 2, 3}, false)
		lp := c.Sum(allLogP[i], []int{1, 2, 3}, false)
		if i == 0 {
			out.LogQ, out.LogP = lq, lp
		} else {
			out.LogQ, out.LogP = c.Add(out.LogQ, lq), c.Add(out.LogP, lp)
		}
		// Without gradients the group's tensors die here.
		c.Release(ks, kl, allLogQ[i], allLogP[i], allQ[i].Mu, allQ[i].Sigma, allP[i].Mu, allP[i].Sigma)
	}
	return out
}

// Sample generates n images' decoder parameters at temperature t.
func (m *Model) Sample(c *ag.Ctx, n int, t float64, noise Noise) *ag.Var {
	return m.SampleTemps(c, n, m.uniformTemps(t), noise)
}

// uniformTemps is temperature t for every latent group.
func (m *Model) uniformTemps(t float64) []float64 {
	temps := make([]float64, m.NumGroupsTotal())
	for i := range temps {
		temps[i] = t
	}
	return temps
}

// decSample is the prior's parameters (mu, log sigma) from decoder features
// s: dec_sampler[idx-1](ELU(s)), split in two along channels.
func (m *Model) decSample(c *ag.Ctx, idx int, s *ag.Var) []*ag.Var {
	e := c.ELU(s)
	o := m.decSampler[idx-1].Forward(c, e)
	release(c, e, o)
	pp := c.Chunk(o, 2, 1)
	release(c, o, pp...)
	return pp
}

// runDecoder walks dec_tower from prior_ftr0 broadcast over a batch of n:
// the first combiner takes z0, the k-th (k > 0) the z that latent(k, s)
// draws from the current features s; then post_process and
// image_conditional give the decoder's output.
func (m *Model) runDecoder(c *ag.Ctx, n int, z0 *ag.Var, latent func(k int, s *ag.Var) *ag.Var) *ag.Var {
	pf := m.priorFtr0
	s := c.BroadcastTo(c.Reshape(pf, append([]int{1}, pf.Shape()...)...), append([]int{n}, pf.Shape()...)...)
	z := z0
	idx := 0
	// Without gradients, each intermediate is released once consumed (the
	// broadcast prior and z0 are left alone).
	first := s
	next := func(y *ag.Var) {
		if s != first {
			release(c, s, y)
		}
		s = y
	}
	for _, l := range m.decTower {
		switch v := l.(type) {
		case *decCombiner:
			if idx > 0 {
				z = latent(idx, s)
			}
			next(v.Forward(c, s, z))
			if idx > 0 && !m.vanilla {
				release(c, z, s)
			}
			idx++
		case *Cell:
			next(v.Forward(c, s))
		}
	}
	if m.vanilla {
		s = m.stemDecoder.Forward(c, z)
	}
	for _, cell := range m.post {
		next(cell.Forward(c, s))
	}
	e := c.ELU(s)
	next(e)
	out := m.imageCond.Forward(c, e)
	next(out)
	return out
}

// advance returns next, releasing the state s it was computed from unless
// kept holds it.
func advance(c *ag.Ctx, s, next *ag.Var, kept map[*ag.Var]int) *ag.Var {
	if kept[s] == 0 {
		release(c, s, next)
	}
	return next
}

// DecoderOutput wraps logits in the dataset's likelihood.
func (m *Model) DecoderOutput(c *ag.Ctx, logits *ag.Var) Decoder {
	switch {
	case IsBinary(m.Cfg.Dataset):
		return Bernoulli{logits}
	case m.Cfg.NumMixtureDec == 1:
		return NewNormalDecoder(c, logits)
	default:
		return NewDiscMixLogistic(c, logits, m.Cfg.NumMixtureDec, m.Cfg.NumXBits)
	}
}

// ReconLoss is −Σ log p(x|z) per example (MNIST: on the 28x28 crop).
func (m *Model) ReconLoss(c *ag.Ctx, dec Decoder, x *ag.Var) *ag.Var {
	lp := dec.LogProb(c, x)
	if CropsOutput(m.Cfg.Dataset) {
		starts := make([]int, lp.Value.Rank())
		sizes := lp.Shape().Clone()
		starts[len(starts)-2], starts[len(starts)-1] = 2, 2
		sizes[len(sizes)-2], sizes[len(sizes)-1] = 28, 28
		lp = c.Slice(lp, starts, sizes)
	}
	axes := make([]int, lp.Value.Rank()-1)
	for i := range axes {
		axes[i] = i + 1
	}
	return c.Neg(c.Sum(lp, axes, false))
}

// Convs are the conv layers in named_modules() order.
func (m *Model) Convs() []*nn.Conv2D { return m.Store.Convs }

// NumGroupsTotal is the number of latent groups.
func (m *Model) NumGroupsTotal() int { return len(m.encSampler) }
