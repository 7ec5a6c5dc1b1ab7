package nn

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// StatSync reduces batch-norm statistics across the ranks of a
// data-parallel run (SyncBatchNorm). With Store.Sync nil, batch norm uses
// the local batch only (the one-process path, unchanged).
type StatSync interface {
	// Size is the number of ranks.
	Size() int
	// AllGather concatenates every rank's send, in rank order, into recv.
	AllGather(send, recv []float64) error
	// AllReduceSum sums buf over the ranks, in place.
	AllReduceSum(buf []float64) error
}

// syncBatchNormTrain is torch.nn.SyncBatchNorm's training forward: every
// rank's (count, mean, M2) is gathered and combined in rank order (the same
// result on every rank), the batch is normalised with the global mean and
// biased variance, and the backward all-reduces Σdy and Σdy·(x−mean) so
// that dx is the gradient of the sum of all ranks' losses. dgamma and dbeta
// stay local sums (the gradient all-reduce averages them with the rest).
// It returns y, the global mean and biased variance, and the global count.
func syncBatchNormTrain(c *ag.Ctx, sync StatSync, x, gamma, beta *ag.Var, eps float64) (y *ag.Var, mean, variance []float64, count float64) {
	b := c.B
	dt := x.Value.DType()
	ch := x.Dim(1)
	axes := []int{0}
	for i := 2; i < x.Value.Rank(); i++ {
		axes = append(axes, i)
	}
	host := func(t *tensor.Tensor) []float64 { return b.ToHost(t).Float64s() }
	dev := func(v []float64) *tensor.Tensor {
		t := tensor.FromFloat64([]int{ch}, v)
		if dt == tensor.Float32 {
			t = tensor.FromFloat32([]int{ch}, t.Float32s())
		}
		return b.FromHost(t)
	}
	ones := b.Full(dt, 1, ch)
	mean, m2, count := globalMoments(b, sync, x.Value)
	variance = make([]float64, ch)
	invstd := make([]float64, ch)
	k := make([]float64, ch) // gamma·invstd
	shift := make([]float64, ch)
	var gh, bh []float64
	if gamma != nil {
		gh = host(gamma.Value)
	}
	if beta != nil {
		bh = host(beta.Value)
	}
	for i := 0; i < ch; i++ {
		variance[i] = m2[i] / count
		invstd[i] = 1 / math.Sqrt(variance[i]+eps)
		k[i] = invstd[i]
		if gh != nil {
			k[i] *= gh[i]
		}
		shift[i] = -mean[i] * k[i]
		if bh != nil {
			shift[i] += bh[i]
		}
	}
	out := b.ChannelAffine(x.Value, dev(k), dev(shift))
	y = c.Custom(out, func(g *tensor.Tensor) []*tensor.Tensor {
		negMean := make([]float64, ch)
		for i := range negMean {
			negMean[i] = -mean[i]
		}
		xg := b.ChannelAffine(x.Value, ones, dev(negMean)) // x − mean
		sdy := host(b.Sum(g, axes, false))
		sdyx := host(b.Sum(b.Binary(backend.Mul, g, xg), axes, false))
		all := make([]float64, 2*ch)
		copy(all, sdy)
		copy(all[ch:], sdyx)
		if err := sync.AllReduceSum(all); err != nil {
			panic(fmt.Sprintf("nn: sync batch norm backward: %v", err))
		}
		// dx = k·(dy − ΣDY/N − (x−mean)·invstd²·ΣDYX/N)
		a := make([]float64, ch)
		d := make([]float64, ch)
		for i := 0; i < ch; i++ {
			a[i] = -k[i] * invstd[i] * invstd[i] * all[ch+i] / count
			d[i] = -k[i]*all[i]/count - mean[i]*a[i]
		}
		grads := make([]*tensor.Tensor, 3)
		if x.RequiresGrad() {
			grads[0] = b.Binary(backend.Add, b.ChannelAffine(g, dev(k), b.Full(dt, 0, ch)), b.ChannelAffine(x.Value, dev(a), dev(d)))
		}
		if gamma != nil && gamma.RequiresGrad() {
			gg := make([]float64, ch)
			for i := range gg {
				gg[i] = sdyx[i] * invstd[i]
			}
			grads[1] = dev(gg)
		}
		if beta != nil && beta.RequiresGrad() {
			grads[2] = dev(sdy)
		}
		return grads
	}, x, gamma, beta)
	return y, mean, variance, count
}

// globalMoments returns the per-channel (axis 1) mean and sum of squared
// deviations M2 of x over every rank's x, and the total count: each rank's
// (count, mean, M2), centred on its own mean (no E[x²]−E[x]² cancellation),
// is gathered and combined in rank order (Chan et al.'s parallel variance),
// so every rank gets the same result.
func globalMoments(b backend.Backend, sync StatSync, x *tensor.Tensor) (mean, m2 []float64, count float64) {
	ch := x.Dim(1)
	axes := []int{0}
	for i := 2; i < x.Rank(); i++ {
		axes = append(axes, i)
	}
	n := float64(x.Len() / ch)
	lmean := b.ToHost(b.Sum(x, axes, false)).Float64s()
	neg := make([]float64, ch)
	for i := range lmean {
		lmean[i] /= n
		neg[i] = -lmean[i]
	}
	negT := tensor.FromFloat64([]int{ch}, neg)
	if x.DType() == tensor.Float32 {
		negT = tensor.FromFloat32([]int{ch}, negT.Float32s())
	}
	xc := b.ChannelAffine(x, b.Full(x.DType(), 1, ch), b.FromHost(negT))
	lm2 := b.ToHost(b.Sum(b.Binary(backend.Mul, xc, xc), axes, false)).Float64s()
	send := make([]float64, 1+2*ch)
	send[0] = n
	copy(send[1:], lmean)
	copy(send[1+ch:], lm2)
	recv := make([]float64, len(send)*sync.Size())
	if err := sync.AllGather(send, recv); err != nil {
		panic(fmt.Sprintf("nn: synchronized statistics: %v", err))
	}
	mean = make([]float64, ch)
	for r := 0; r < sync.Size(); r++ {
		s := recv[r*len(send):]
		count += s[0]
		for i := 0; i < ch; i++ {
			mean[i] += s[0] * s[1+i]
		}
	}
	for i := range mean {
		mean[i] /= count
	}
	m2 = make([]float64, ch)
	for r := 0; r < sync.Size(); r++ {
		s := recv[r*len(send):]
		for i := 0; i < ch; i++ {
			d := s[1+i] - mean[i]
			m2[i] += s[1+ch+i] + s[0]*d*d
		}
	}
	return mean, m2, count
}
