package nvae

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/ag"
)

// Encoding is what Encode records for each latent group (decoder order,
// group 0 = z0): the posterior q(z_k | x, z_<k) and the latent the decoder
// received.
type Encoding struct {
	// Mu, Sigma are the posterior's parameters, [B, C_k, H_k, W_k].
	Mu, Sigma []*ag.Var
	// Eps·Sigma + Mu, before the normalizing flows.
	Q []*ag.Var
	// Z is the latent fed to the decoder (after the flows; equal to Q
	// without them). DecodeLatents(Z) reproduces Logits.
	Z      []*ag.Var
	Logits *ag.Var
}

// Encode runs the encoder and the decoder on x in [0,1] (reduced to
// num_x_bits) as Forward does, with the same noise draws, and records each
// group's posterior and latents. With zero noise every latent is its
// posterior mean (given the earlier groups' means).
func (m *Model) Encode(c *ag.Ctx, x *ag.Var, noise Noise) *Encoding {
	defer c.KeepValues(c.KeepValues(true)) // the encoding holds intermediates
	s := m.stem.Forward(c, m.preprocessInput(c, x))
	for _, cell := range m.pre {
		s = cell.Forward(c, s)
	}
	var combEnc []*encCombiner
	var combS []*ag.Var
	for _, l := range m.encTower {
		switch v := l.(type) {
		case *encCombiner:
			combEnc = append(combEnc, v)
			combS = append(combS, s)
		case *Cell:
			s = v.Forward(c, s)
		}
	}
	for i, j := 0, len(combEnc)-1; i < j; i, j = i+1, j-1 {
		combEnc[i], combEnc[j] = combEnc[j], combEnc[i]
		combS[i], combS[j] = combS[j], combS[i]
	}
	e := &Encoding{}
	nfOff := 0
	record := func(q Normal) *ag.Var {
		zq := q.Sample(c, noise.Normal(c, q.Mu.Shape()...))
		z := zq
		for n := 0; n < m.Cfg.NumNF; n++ {
			z = m.nf[nfOff+n].Forward(c, z)
		}
		nfOff += m.Cfg.NumNF
		e.Mu, e.Sigma, e.Q, e.Z = append(e.Mu, q.Mu), append(e.Sigma, q.Sigma), append(e.Q, zq), append(e.Z, z)
		return z
	}
	ftr := c.ELU(m.enc0.Forward(c, c.ELU(s)))
	p0 := c.Chunk(m.encSampler[0].Forward(c, ftr), 2, 1)
	z0 := record(NewNormal(c, p0[0], p0[1], 1))
	e.Logits = m.runDecoder(c, x.Dim(0), z0, func(idx int, s *ag.Var) *ag.Var {
		pp := c.Chunk(m.decSampler[idx-1].Forward(c, c.ELU(s)), 2, 1)
		f := combEnc[idx-1].Forward(c, combS[idx-1], s)
		pq := c.Chunk(m.encSampler[idx].Forward(c, f), 2, 1)
		if m.Cfg.ResDist {
			return record(NewNormal(c, c.Add(pp[0], pq[0]), c.Add(pp[1], pq[1]), 1))
		}
		return record(NewNormal(c, pq[0], pq[1], 1))
	})
	return e
}

// DecodeLatents runs the decoder with the given latent of every group (as
// Encoding.Z: decoder order, after the flows) and returns its output
// parameters. Shapes must be those Encode gives; the batch size is taken
// from z[0].
func (m *Model) DecodeLatents(c *ag.Ctx, z []*ag.Var) (*ag.Var, error) {
	defer c.KeepValues(c.KeepValues(true)) // z belongs to the caller
	if len(z) != m.NumGroupsTotal() {
		return nil, fmt.Errorf("%d latents for %d groups", len(z), m.NumGroupsTotal())
	}
	n := z[0].Dim(0)
	if want := append([]int{n}, m.z0Size...); !z[0].Shape().Equal(want) {
		return nil, fmt.Errorf("latent 0 has shape %v, the decoder needs %v", z[0].Shape(), want)
	}
	var err error
	logits := m.runDecoder(c, n, z[0], func(idx int, s *ag.Var) *ag.Var {
		want := s.Shape().Clone()
		want[1] = m.Cfg.NumLatentPerGroup
		if !z[idx].Shape().Equal(want) && err == nil {
			err = fmt.Errorf("latent %d has shape %v, the decoder needs %v", idx, z[idx].Shape(), want)
			return c.Const(c.B.Zeros(c.DType, want...))
		}
		return z[idx]
	})
	return logits, err
}
