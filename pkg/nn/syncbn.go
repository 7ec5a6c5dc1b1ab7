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
	axes := channelReduceAxes(x.Value.Rank())
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
	axes := channelReduceAxes(x.Rank())
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

// DeviceStatSync is a StatSync whose engine also reduces the backend's
// device tensors in place (the NCCL engine with the GPU backend). With it,
// synchronized batch norm keeps every statistic on the device: the
// per-rank moments are all-gathered and combined with backend kernels, the
// backward's sums all-reduced in device memory, the running statistics
// updated by kernels; nothing is copied to the host and nothing waits.
type DeviceStatSync interface {
	StatSync
	// OnDevice reports whether t is a tensor the tensor collectives take.
	OnDevice(t *tensor.Tensor) bool
	// AllGatherTensor concatenates every rank's send, in rank order, into
	// recv (recv.Len() = Size·send.Len()).
	AllGatherTensor(send, recv *tensor.Tensor) error
	// AllReduceSumTensor sums t over the ranks, in place.
	AllReduceSumTensor(t *tensor.Tensor) error
}

// deviceSync is s as a DeviceStatSync when it reduces x's kind of tensor.
func deviceSync(s StatSync, x *tensor.Tensor) DeviceStatSync {
	if d, ok := s.(DeviceStatSync); ok && d.OnDevice(x) {
		return d
	}
	return nil
}

// syncForwardDevice is syncForward on the device (DeviceStatSync), or nil
// when the store's StatSync does not reduce x's tensors (the host path).
// The running statistics move as in syncForward, computed by kernels.
func (m *BatchNorm) syncForwardDevice(c *ag.Ctx, x *ag.Var) *ag.Var {
	s := m.store
	ds := deviceSync(s.Sync, x.Value)
	if ds == nil {
		return nil
	}
	y, mean, variance, count := syncBatchNormTrainDevice(c, ds, x, m.Gamma, m.Beta, m.Eps)
	b := s.B
	m.updateRunning(mean, b.Binary(backend.Mul, variance, b.Binary(backend.Div, count, b.Affine(count, 1, -1)))) // var·N/(N−1)
	return y
}

// syncBatchNormTrainDevice is syncBatchNormTrain with every statistic a
// device tensor: mean and biased variance [C], and the global count [1].
func syncBatchNormTrainDevice(c *ag.Ctx, sync DeviceStatSync, x, gamma, beta *ag.Var, eps float64) (y *ag.Var, mean, variance, count *tensor.Tensor) {
	b := c.B
	dt := x.Value.DType()
	ch := x.Dim(1)
	axes := channelReduceAxes(x.Value.Rank())
	mean, m2, count := globalMomentsDevice(b, sync, x.Value)
	variance = b.Binary(backend.Div, m2, count)
	invstd := b.Binary(backend.Div, b.Full(dt, 1, ch), b.Unary(backend.Sqrt, b.Affine(variance, 1, eps)))
	k := invstd // gamma·invstd
	if gamma != nil {
		k = b.Binary(backend.Mul, gamma.Value, invstd)
	}
	shift := b.Affine(b.Binary(backend.Mul, mean, k), -1, 0)
	if beta != nil {
		shift = b.Binary(backend.Add, shift, beta.Value)
	}
	out := b.ChannelAffine(x.Value, k, shift)
	y = c.Custom(out, func(g *tensor.Tensor) []*tensor.Tensor {
		xg := b.ChannelAffine(x.Value, b.Full(dt, 1, ch), b.Affine(mean, -1, 0)) // x − mean
		sdy := b.Sum(g, axes, false)
		sdyx := b.Sum(b.Binary(backend.Mul, g, xg), axes, false)
		all := b.Concat(0, []*tensor.Tensor{sdy, sdyx})
		if err := sync.AllReduceSumTensor(all); err != nil {
			panic(fmt.Sprintf("nn: sync batch norm backward: %v", err))
		}
		sumDY := b.Slice(all, []int{0}, []int{ch})
		sumDYX := b.Slice(all, []int{ch}, []int{ch})
		// dx = k·(dy − ΣDY/N − (x−mean)·invstd²·ΣDYX/N) = k·dy + a·x + d
		kn := b.Binary(backend.Div, k, count)
		a := b.Affine(b.Binary(backend.Mul, b.Binary(backend.Mul, kn, b.Binary(backend.Mul, invstd, invstd)), sumDYX), -1, 0)
		d := b.Binary(backend.Sub, b.Affine(b.Binary(backend.Mul, kn, sumDY), -1, 0), b.Binary(backend.Mul, mean, a))
		grads := make([]*tensor.Tensor, 3)
		if x.RequiresGrad() {
			grads[0] = b.Binary(backend.Add, b.ChannelAffine(g, k, b.Zeros(dt, ch)), b.ChannelAffine(x.Value, a, d))
		}
		if gamma != nil && gamma.RequiresGrad() {
			grads[1] = b.Binary(backend.Mul, sdyx, invstd)
		}
		if beta != nil && beta.RequiresGrad() {
			grads[2] = sdy
		}
		return grads
	}, x, gamma, beta)
	return y, mean, variance, count
}

// globalMomentsDevice is globalMoments on the device: each rank's (count,
// mean, M2) is packed into one tensor, all-gathered, and combined in rank
// order by kernels (Chan et al.'s parallel variance). It returns the
// per-channel mean and M2 [C] and the total count [1].
func globalMomentsDevice(b backend.Backend, sync DeviceStatSync, x *tensor.Tensor) (mean, m2, count *tensor.Tensor) {
	dt := x.DType()
	ch := x.Dim(1)
	axes := channelReduceAxes(x.Rank())
	n := x.Len() / ch
	lmean := b.Affine(b.Sum(x, axes, false), 1/float64(n), 0)
	xc := b.ChannelAffine(x, b.Full(dt, 1, ch), b.Affine(lmean, -1, 0))
	lm2 := b.Sum(b.Binary(backend.Mul, xc, xc), axes, false)
	send := b.Concat(0, []*tensor.Tensor{b.Full(dt, float64(n), 1), lmean, lm2})
	size := sync.Size()
	recv := b.Zeros(dt, size, 1+2*ch)
	if err := sync.AllGatherTensor(send, recv); err != nil {
		panic(fmt.Sprintf("nn: synchronized statistics: %v", err))
	}
	counts := b.Slice(recv, []int{0, 0}, []int{size, 1}) // [W, 1]
	means := b.Slice(recv, []int{0, 1}, []int{size, ch})
	m2s := b.Slice(recv, []int{0, 1 + ch}, []int{size, ch})
	count = b.Sum(counts, []int{0}, false) // [1]
	mean = b.Binary(backend.Div, b.Sum(b.Binary(backend.Mul, counts, means), []int{0}, false), count)
	dev := b.Binary(backend.Sub, means, mean)
	m2 = b.Sum(b.Binary(backend.Add, m2s, b.Binary(backend.Mul, counts, b.Binary(backend.Mul, dev, dev))), []int{0}, false)
	return mean, m2, count
}

// channelReduceAxes is every axis of a rank-r NC… tensor but the channel
// axis 1: those a batch norm reduces over.
func channelReduceAxes(r int) []int {
	axes := []int{0}
	for i := 2; i < r; i++ {
		axes = append(axes, i)
	}
	return axes
}
