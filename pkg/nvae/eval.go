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
	return m.EvalIWBatched(c, x, k, 1, noise)
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

// EvalIWBatched is EvalIW with s importance samples per forward pass: the
// batch is repeated s times along the batch axis (BN must be in eval mode,
// so the copies are independent), which amortises launches and GEMM set-up.
// When s does not divide k the last pass takes the remainder.
func (m *Model) EvalIWBatched(c *ag.Ctx, x *ag.Var, k, s int, noise Noise) *IWResult {
	s = max(s, 1)
	if s > 1 && m.Store.Training {
		panic("nvae: EvalIWBatched needs BN in eval mode")
	}
	b := x.Dim(0)
	r := &IWResult{B: b, K: k}
	for _, p := range []*[]float64{&r.LogIW, &r.Nelbo, &r.LogQ, &r.LogP, &r.Recon} {
		*p = make([]float64, b*k)
	}
	for j0 := 0; j0 < k; j0 += s {
		n := min(s, k-j0)
		xr := x
		if n > 1 {
			reps := make([]*ag.Var, n)
			for i := range reps {
				reps[i] = x
			}
			xr = c.Concat(0, reps...)
		}
		out := m.Forward(c, xr, noise)
		dec := m.DecoderOutput(c, out.Logits)
		recon := c.B.ToHost(m.ReconLoss(c, dec, xr).Value).Float64s()
		lq := c.B.ToHost(out.LogQ.Value).Float64s()
		lp := c.B.ToHost(out.LogP.Value).Float64s()
		kl := make([]float64, n*b)
		for _, g := range out.KLAll {
			for i, v := range c.B.ToHost(g.Value).Float64s() {
				kl[i] += v
			}
		}
		for rep := 0; rep < n; rep++ {
			j := j0 + rep
			for i := 0; i < b; i++ {
				q := rep*b + i
				r.Recon[i*k+j], r.LogQ[i*k+j], r.LogP[i*k+j] = recon[q], lq[q], lp[q]
				r.Nelbo[i*k+j] = recon[q] + kl[q]
				r.LogIW[i*k+j] = -recon[q] - lq[q] + lp[q]
			}
		}
	}
	r.LogPx = make([]float64, b)
	for i := 0; i < b; i++ {
		r.LogPx[i] = LogSumExp(r.LogIW[i*k:(i+1)*k]) - math.Log(float64(k))
	}
	return r
}
