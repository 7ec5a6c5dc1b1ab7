package nvae

import (
	"math"

	"github.com/nvaego/nvae/pkg/ag"
)

// IWResult is the importance-weighted evaluation of a batch: per image and
// sample (row-major [B, K]) and the per-image estimate log p(x).
type IWResult struct {
	B, K                            int
	LogIW, Nelbo, LogQ, LogP, Recon []float64
	LogPx                           []float64 // [B]: logsumexp_k log_iw − log K
}

// EvalIW runs K forward passes of the batch (BN as the store is set, usually
// eval mode) and forms the official test() quantities: log w = −recon −
// log q + log p, NELBO = recon + Σ KL (no balancing). The log-sum-exp over
// samples is accumulated in float64.
func (m *Model) EvalIW(c *ag.Ctx, x *ag.Var, k int, noise Noise) *IWResult {
	b := x.Dim(0)
	r := &IWResult{B: b, K: k}
	for _, s := range []*[]float64{&r.LogIW, &r.Nelbo, &r.LogQ, &r.LogP, &r.Recon} {
		*s = make([]float64, b*k)
	}
	for j := 0; j < k; j++ {
		out := m.Forward(c, x, noise)
		dec := m.DecoderOutput(c, out.Logits)
		recon := c.B.ToHost(m.ReconLoss(c, dec, x).Value).Float64s()
		lq := c.B.ToHost(out.LogQ.Value).Float64s()
		lp := c.B.ToHost(out.LogP.Value).Float64s()
		kl := make([]float64, b)
		for _, g := range out.KLAll {
			for i, v := range c.B.ToHost(g.Value).Float64s() {
				kl[i] += v
			}
		}
		for i := 0; i < b; i++ {
			r.Recon[i*k+j], r.LogQ[i*k+j], r.LogP[i*k+j] = recon[i], lq[i], lp[i]
			r.Nelbo[i*k+j] = recon[i] + kl[i]
			r.LogIW[i*k+j] = -recon[i] - lq[i] + lp[i]
		}
	}
	r.LogPx = make([]float64, b)
	for i := 0; i < b; i++ {
		r.LogPx[i] = LogSumExp(r.LogIW[i*k:(i+1)*k]) - math.Log(float64(k))
	}
	return r
}

// LogSumExp is log Σ exp(v), computed stably in float64.
func LogSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
