package nvae

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// SpectralState is the persistent power-iteration state of the spectral
// regulariser: one (u, v) pair per weight-matrix shape, in order of first
// appearance among the model's convs.
type SpectralState struct {
	Keys [][2]int
	U, V map[[2]int]*tensor.Tensor // [n, rows], [n, cols]
	// Init supplies the start vectors (un-normalised N(0,1)) the first time
	// a shape is seen; nil uses the Philox stream below.
	Init  func(group int, rows, cols, n int) (u, v *tensor.Tensor)
	Seed  uint64
	Off   uint64
	Iters int // per call after the first (official 4; the first call runs 10×)
}

// NewSpectralState returns an empty state with the official 4 iterations.
func NewSpectralState() *SpectralState {
	return &SpectralState{U: map[[2]int]*tensor.Tensor{}, V: map[[2]int]*tensor.Tensor{}, Iters: 4}
}

// SpectralGroup describes one stacked group (for tests and reporting).
type SpectralGroup struct {
	Rows, Cols int
	Members    []string
	Sigma      *ag.Var // [n]
}

// normalizeRows divides each row by max(‖row‖, 1e-3) (F.normalize eps 1e-3).
func normalizeRows(c *ag.Ctx, x *ag.Var) *ag.Var {
	n := c.ClampMin(c.Sqrt(c.Sum(c.Square(x), []int{-1}, true)), 1e-3)
	return c.Div(x, n)
}

// SpectralLoss is Σ over convs of σ_max(W) by power iteration on the
// effective weights of the last forward; gradients flow through W only.
func (m *Model) SpectralLoss(c *ag.Ctx) (*ag.Var, []SpectralGroup) {
	st := m.SR
	var order [][2]int
	mats := map[[2]int][]*ag.Var{}
	names := map[[2]int][]string{}
	for _, conv := range m.Store.Convs {
		if conv.Weight == nil {
			panic(fmt.Sprintf("nvae: conv %s has not run a forward pass", conv.Name))
		}
		w := conv.Weight
		k := [2]int{w.Dim(0), w.Value.Len() / w.Dim(0)}
		if _, ok := mats[k]; !ok {
			order = append(order, k)
		}
		mats[k] = append(mats[k], c.Reshape(w, 1, k[0], k[1]))
		names[k] = append(names[k], conv.Name)
	}
	var loss *ag.Var
	var groups []SpectralGroup
	for gi, k := range order {
		W := c.Concat(0, mats[k]...) // [n, rows, cols]
		n := W.Dim(0)
		iters := st.Iters
		if _, ok := st.U[k]; !ok {
			var u, v *tensor.Tensor
			if st.Init != nil {
				u, v = st.Init(gi, k[0], k[1], n)
			} else {
				u = c.B.RandNormal(c.DType, st.Seed, st.Off, n, k[0])
				st.Off += uint64(n * k[0])
				v = c.B.RandNormal(c.DType, st.Seed, st.Off, n, k[1])
				st.Off += uint64(n * k[1])
			}
			c.NoGrad(func() {
				st.U[k] = normalizeRows(c, c.Const(u)).Value
				st.V[k] = normalizeRows(c, c.Const(v)).Value
			})
			st.Keys = append(st.Keys, k)
			iters = 10 * st.Iters
		}
		c.NoGrad(func() {
			Wd := c.Detach(W)
			u, v := c.Const(st.U[k]), c.Const(st.V[k])
			for j := 0; j < iters; j++ {
				// v = normalize(uᵀW), u = normalize(Wv)
				v = normalizeRows(c, c.Reshape(c.MatMul(c.Reshape(u, n, 1, k[0]), Wd, false, false), n, k[1]))
				u = normalizeRows(c, c.Reshape(c.MatMul(Wd, c.Reshape(v, n, k[1], 1), false, false), n, k[0]))
			}
			st.U[k], st.V[k] = u.Value, v.Value
		})
		u := c.Const(st.U[k].Reshape(n, 1, k[0]))
		v := c.Const(st.V[k].Reshape(n, k[1], 1))
		sigma := c.Reshape(c.MatMul(u, c.MatMul(W, v, false, false), false, false), n)
		groups = append(groups, SpectralGroup{Rows: k[0], Cols: k[1], Members: names[k], Sigma: sigma})
		sum := c.SumAll(sigma)
		if loss == nil {
			loss = sum
		} else {
			loss = c.Add(loss, sum)
		}
	}
	return loss, groups
}

// BNLoss is Σ over BN layers of max|γ|.
func (m *Model) BNLoss(c *ag.Ctx) *ag.Var {
	var loss *ag.Var
	for _, bn := range m.Store.BNs {
		l := c.MaxReduce(c.Abs(bn.Gamma), nil, false)
		if loss == nil {
			loss = l
		} else {
			loss = c.Add(loss, l)
		}
	}
	if loss == nil {
		return c.Scalar(0)
	}
	return loss
}

// KLBalance is the official kl_balancer with kl_balance=True: while
// klCoeff < 1 the groups are reweighted by detached coefficients. It returns
// klCoeff·kl per example, the coefficients [1, G] (nil when they are all
// one) and the per-group batch means [G], left on the device (the
// official code reads them back only for its logs).
func KLBalance(c *ag.Ctx, klAll []*ag.Var, klCoeff float64, alpha []float64) (kl, coeffs, vals *ag.Var) {
	g := len(klAll)
	b := klAll[0].Dim(0)
	cols := make([]*ag.Var, g)
	for i, k := range klAll {
		cols[i] = c.Reshape(k, b, 1)
	}
	all := c.Concat(1, cols...) // [B, G]
	vals = c.Mean(c.Detach(all), []int{0}, false)
	if klCoeff < 1 {
		w := c.AddScalar(c.Mean(c.Abs(c.Detach(all)), []int{0}, true), 0.01) // [1, G]
		total := c.SumAll(w)
		at := tensor.Host(c.DType, 1, g)
		for i, a := range alpha {
			at.Set(i, a)
		}
		w = c.Mul(c.Div(w, c.Const(c.B.FromHost(at))), total)
		w = c.Div(w, c.Mean(w, []int{1}, true))
		coeffs = c.Detach(w)
		kl = c.Sum(c.Mul(all, coeffs), []int{1}, false)
		return c.MulScalar(kl, klCoeff), coeffs, vals
	}
	return c.MulScalar(c.Sum(all, []int{1}, false), klCoeff), nil, vals
}

// TrainResult holds the pieces of one training objective evaluation.
type TrainResult struct {
	Out        *Output
	Recon      *ag.Var // [B]
	BalancedKL *ag.Var // [B]
	Nelbo      *ag.Var // [B]
	NelboMean  *ag.Var
	NormLoss   *ag.Var
	BNLoss     *ag.Var
	Loss       *ag.Var
	KLCoeffsV  *ag.Var // [1, G]; nil: all one
	KLValsV    *ag.Var // [G]
	SR         []SpectralGroup
}

// KLCoeffs are the KL balancing coefficients per group, read back from
// the device (for logs and tests; the step itself does not need them).
func (r *TrainResult) KLCoeffs(b backend.Backend) []float64 {
	if r.KLCoeffsV == nil {
		ones := make([]float64, len(r.Out.KLAll))
		for i := range ones {
			ones[i] = 1
		}
		return ones
	}
	return b.ToHost(r.KLCoeffsV.Value).Float64s()
}

// KLVals are the per-group batch means of the KL terms, read back.
func (r *TrainResult) KLVals(b backend.Backend) []float64 {
	return b.ToHost(r.KLValsV.Value).Float64s()
}

// TrainLoss evaluates the official training objective on x (already
// pre-processed to num_x_bits) at the given KL and regulariser coefficients.
func (m *Model) TrainLoss(c *ag.Ctx, x *ag.Var, noise Noise, klCoeff, wdnCoeff float64) *TrainResult {
	r := &TrainResult{}
	r.Out = m.Forward(c, x, noise)
	dec := m.DecoderOutput(c, r.Out.Logits)
	r.Recon = m.ReconLoss(c, dec, x)
	r.BalancedKL, r.KLCoeffsV, r.KLValsV = KLBalance(c, r.Out.KLAll, klCoeff, m.Cfg.KLBalancerCoeff())
	r.Nelbo = c.Add(r.Recon, r.BalancedKL)
	r.NelboMean = c.Mean(r.Nelbo, nil, false)
	r.NormLoss, r.SR = m.SpectralLoss(c)
	r.BNLoss = m.BNLoss(c)
	r.Loss = c.Add(r.NelboMean, c.MulScalar(c.Add(r.NormLoss, r.BNLoss), wdnCoeff))
	return r
}

// PreProcess maps x in [0,1] to num_x_bits levels: floor(x·255/2^(8-b))/(2^b-1),
// and returns the result on c's backend. Pass the host batch: the mapping
// is computed on the host before the one copy to the device (a device
// tensor is read back first).
func PreProcess(c *ag.Ctx, x *tensor.Tensor, bits int) *tensor.Tensor {
	if bits == 8 {
		return c.B.FromHost(x)
	}
	h := c.B.ToHost(x)
	out := tensor.Host(h.DType(), h.Shape()...)
	div := math.Pow(2, float64(8-bits))
	den := math.Pow(2, float64(bits)) - 1
	for i := 0; i < h.Len(); i++ {
		// the official computes in float32: x*255 then floor division
		v := h.At(i)
		if h.DType() == tensor.Float32 {
			v = float64(float32(v) * 255)
		} else {
			v *= 255
		}
		out.Set(i, math.Floor(v/div)/den)
	}
	return c.B.FromHost(out)
}
