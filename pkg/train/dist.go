package train

// Data-parallel training (issue 17), as the official train.py does it with
// torch.distributed: every rank holds the whole model, reads its own shard
// of each epoch (the loader's Rank/World: positions r, r+W, ... of the
// epoch's permutation, like DistributedSampler), batch norm is
// synchronized (nn.Store.Sync), gradients are averaged after backward
// (bucketed all-reduce), rank 0 broadcasts the initial weights and alone
// writes checkpoints, log.txt, TensorBoard and samples. A stop request on
// any rank is agreed on by all at the next step boundary.
//
// The latent noise of a step is drawn for the whole global batch (the
// Philox stream advances by the global batch) and each rank takes the rows
// of its own samples, so W ranks with batch B consume exactly the draws of
// one rank with batch W·B: the two runs agree up to the order of floating
// point sums. The KL balancing coefficients (during KL warm-up) are, as in
// the official code, computed from each rank's own batch.
//
// With a GPU backend and the NCCL engine (a dist.DeviceComm that reduces
// the model's tensors in place) nothing of this goes through the host:
// rank 0's initial state is broadcast into every rank's device tensors,
// batch-norm statistics are reduced on the device (nn.DeviceStatSync), and
// each gradient bucket is packed into one flat device tensor (Concat),
// all-reduced (mean) in place and unpacked (Slice), all queued on the
// backend's stream. Elsewhere (the CPU backend over MPI) the collectives
// take host buffers, as before.
//
// With Options.Comm nil or of size 1 none of this runs (except with a
// one-rank NCCL engine, chosen explicitly): the one-process path is the one
// of before, bit for bit.

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/dist"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// bucketBytes is the gradient all-reduce bucket (PyTorch DDP's 25 MiB).
const bucketBytes = 25 << 20

func (r *runner) world() int {
	if r.opt.Comm == nil {
		return 1
	}
	return r.opt.Comm.Size()
}

func (r *runner) rank() int {
	if r.opt.Comm == nil {
		return 0
	}
	return r.opt.Comm.Rank()
}

// isRoot: rank 0 writes the run's files.
func (r *runner) isRoot() bool { return r.rank() == 0 }

// distributed: several ranks, or one rank over an engine of device
// collectives chosen explicitly (--dist_engine nccl: a one-GPU run through
// the NCCL path, as gpu-check does; it computes what one process does).
func (r *runner) distributed() bool {
	if r.world() > 1 {
		return true
	}
	_, dev := r.opt.Comm.(dist.DeviceComm)
	return dev
}

// must panics on a communicator error: a failed collective leaves the
// ranks out of step, and the launcher (mpirun, srun) ends the job when a
// rank dies.
func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("train: collective failed: %v", err))
	}
}

// commSync adapts a dist.Comm to nn.StatSync.
type commSync struct{ c dist.Comm }

func (s commSync) Size() int                            { return s.c.Size() }
func (s commSync) AllGather(send, recv []float64) error { return s.c.AllGather(send, recv) }
func (s commSync) AllReduceSum(buf []float64) error     { return s.c.AllReduce(buf, dist.Sum) }

// deviceSync adapts a dist.DeviceComm to nn.DeviceStatSync.
type deviceSync struct {
	commSync
	d dist.DeviceComm
}

func (s deviceSync) OnDevice(t *tensor.Tensor) bool { return s.d.OnDevice(t) }
func (s deviceSync) AllGatherTensor(send, recv *tensor.Tensor) error {
	return s.d.AllGatherTensor(send, recv)
}
func (s deviceSync) AllReduceSumTensor(t *tensor.Tensor) error {
	return s.d.AllReduceTensor(t, dist.Sum)
}

// devComm is the communicator's device collectives when they reduce the
// model's tensors in place (the NCCL engine with the GPU backend), else
// nil: the host path.
func (r *runner) devComm() dist.DeviceComm {
	if !r.distributed() {
		return nil
	}
	d, ok := r.opt.Comm.(dist.DeviceComm)
	if !ok {
		return nil
	}
	ps := r.m.Store.Params()
	if len(ps) == 0 || !d.OnDevice(ps[0].Value) {
		return nil
	}
	return d
}

// setupDist synchronizes batch norm and makes every rank start from rank
// 0's weights, buffers and optimizer state.
func (r *runner) setupDist() {
	if !r.distributed() {
		return
	}
	c := r.opt.Comm
	if d := r.devComm(); d != nil {
		r.setupDistDevice(d)
		return
	}
	r.m.Store.Sync = commSync{c}
	b := r.opt.Backend
	bcast := func(t *tensor.Tensor) *tensor.Tensor {
		h := b.ToHost(t)
		v := h.Float64s()
		must(c.Broadcast(v, 0))
		out := tensor.FromFloat64(h.Shape(), v)
		if t.DType() == tensor.Float32 {
			out = tensor.FromFloat32(h.Shape(), out.Float32s())
		}
		return b.FromHost(out)
	}
	for _, p := range r.m.Store.Params() {
		p.Value = bcast(p.Value)
	}
	for _, n := range r.m.Store.BufferNames() {
		r.m.Store.SetBuffer(n, bcast(r.m.Store.Buffer(n)))
	}
	for i := range r.adam.M {
		if r.adam.M[i] != nil {
			r.adam.M[i], r.adam.U[i] = bcast(r.adam.M[i]), bcast(r.adam.U[i])
		}
	}
	r.printf("data-parallel: rank %d of %d (local rank %d), engine %s\n", c.Rank(), c.Size(), c.LocalRank(), c.Engine())
}

// setupDistDevice is setupDist on the device: rank 0's parameters,
// buffers and Adamax moments are broadcast into every rank's tensors, in
// place.
func (r *runner) setupDistDevice(d dist.DeviceComm) {
	r.m.Store.Sync = deviceSync{commSync{d}, d}
	for _, p := range r.m.Store.Params() {
		must(d.BroadcastTensor(p.Value, 0))
	}
	for _, n := range r.m.Store.BufferNames() {
		must(d.BroadcastTensor(r.m.Store.Buffer(n), 0))
	}
	for i := range r.adam.M {
		if r.adam.M[i] != nil {
			must(d.BroadcastTensor(r.adam.M[i], 0))
			must(d.BroadcastTensor(r.adam.U[i], 0))
		}
	}
	r.printf("data-parallel: rank %d of %d (local rank %d), engine %s, collectives on the device\n", d.Rank(), d.Size(), d.LocalRank(), d.Engine())
}

// trainNoise is the noise of a training step (see the file comment).
func (r *runner) trainNoise() nvae.Noise {
	if !r.distributed() {
		return r.noise
	}
	return &shardNoise{p: r.noise, rank: r.rank(), world: r.world()}
}

// shardNoise draws a tensor for the global batch (leading dimension × world)
// and returns the rows of this rank's samples: global row k·world + rank,
// the position of local sample k in the loader's interleaved shard.
type shardNoise struct {
	p           *nvae.PhiloxNoise
	rank, world int
}

func (s *shardNoise) rows(c *ag.Ctx, t *tensor.Tensor, shape []int) *tensor.Tensor {
	n := shape[0]
	per := t.Len() / (n * s.world)
	v := t.Reshape(n, s.world, per)
	return c.B.Slice(v, []int{0, s.rank, 0}, []int{n, 1, per}).Reshape(shape...)
}

func (s *shardNoise) global(shape []int) []int {
	return append([]int{shape[0] * s.world}, shape[1:]...)
}

// Normal implements nvae.Noise.
func (s *shardNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor {
	return s.rows(c, s.p.Normal(c, s.global(shape)...), shape)
}

// Uniform implements nvae.Noise.
func (s *shardNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	return s.rows(c, s.p.Uniform(c, s.global(shape)...), shape)
}

// distLoss agrees on a step's loss: the mean over ranks, or NaN on every
// rank when any rank's loss is not finite (all ranks then skip the step
// together, before the backward's collectives).
func (r *runner) distLoss(loss float64) float64 {
	if !r.distributed() {
		return loss
	}
	buf := []float64{loss, 0}
	if !finite(loss) {
		buf[0], buf[1] = 0, 1
	}
	must(r.opt.Comm.AllReduce(buf, dist.Sum))
	if buf[1] > 0 {
		return math.NaN()
	}
	return buf[0] / float64(r.world())
}

// distGrads averages the gradients over the ranks in buckets of at most
// bucketBytes, in parameter order (the same on every rank). On the CPU the
// all-reduce follows the backward; overlapping it with the backward is for
// the GPU engine.
func (r *runner) distGrads() {
	if !r.distributed() {
		return
	}
	var ps []*ag.Var
	for _, p := range r.m.Store.Params() {
		if p.Grad != nil {
			ps = append(ps, p)
		}
	}
	elem := 4
	if r.opt.DType == tensor.Float64 {
		elem = 8
	}
	d := r.devComm()
	for lo := 0; lo < len(ps); {
		hi, n := lo, 0
		for hi < len(ps) && (hi == lo || (n+ps[hi].Grad.Len())*elem <= bucketBytes) {
			n += ps[hi].Grad.Len()
			hi++
		}
		if d != nil {
			r.meanBucketDevice(d, ps[lo:hi])
		} else if r.opt.DType == tensor.Float64 {
			meanBucket(r, ps[lo:hi], n, (*tensor.Tensor).Float64s, tensor.FromFloat64)
		} else {
			meanBucket(r, ps[lo:hi], n, (*tensor.Tensor).Float32s, tensor.FromFloat32)
		}
		lo = hi
	}
}

// meanBucket replaces the gradients of ps (n values in all) by their mean
// over the ranks, in one all-reduce of a host buffer of element type T.
func meanBucket[T float32 | float64](r *runner, ps []*ag.Var, n int, host func(*tensor.Tensor) []T, dev func([]int, []T) *tensor.Tensor) {
	b := r.opt.Backend
	buf := make([]T, 0, n)
	for _, p := range ps {
		buf = append(buf, host(b.ToHost(p.Grad))...)
	}
	must(r.opt.Comm.AllReduce(buf, dist.Mean))
	for _, p := range ps {
		k := p.Grad.Len()
		p.Grad = b.FromHost(dev(p.Grad.Shape(), buf[:k:k]))
		buf = buf[k:]
	}
}

// meanBucketDevice replaces the gradients of ps by their mean over the
// ranks: packed into one flat device tensor, all-reduced in place (NCCL's
// average) and unpacked, without a host copy or a wait. The gradients
// themselves are never written (autodiff may share one tensor between
// several gradients).
func (r *runner) meanBucketDevice(d dist.DeviceComm, ps []*ag.Var) {
	b := r.opt.Backend
	flat := make([]*tensor.Tensor, len(ps))
	for i, p := range ps {
		flat[i] = p.Grad.Reshape(p.Grad.Len())
	}
	var buf *tensor.Tensor
	if len(flat) == 1 {
		buf = b.Copy(flat[0])
	} else {
		buf = b.Concat(0, flat)
	}
	must(d.AllReduceTensor(buf, dist.Mean))
	off := 0
	for _, p := range ps {
		k := p.Grad.Len()
		if len(ps) == 1 {
			p.Grad = buf.Reshape(p.Grad.Shape()...)
		} else {
			p.Grad = b.Slice(buf, []int{off}, []int{k}).Reshape(p.Grad.Shape()...)
		}
		off += k
	}
	if rel, ok := b.(backend.Releaser); ok && len(ps) > 1 {
		rel.Release(buf) // the slices are copies (a tensor has no offset)
	}
}

// pollStop asks the Stop callback and the time limit, and with several
// ranks makes all agree: any rank's request stops every rank at this step.
func (r *runner) pollStop(timeUp bool) (stop, out bool) {
	stop = r.opt.Stop != nil && r.opt.Stop()
	if !r.distributed() {
		return stop, timeUp
	}
	buf := []float64{0, 0}
	if stop {
		buf[0] = 1
	}
	if timeUp {
		buf[1] = 1
	}
	must(r.opt.Comm.AllReduce(buf, dist.Max))
	return buf[0] > 0, buf[1] > 0
}

// distSums adds the validation sums of all ranks.
func (r *runner) distSums(v ...*float64) {
	if !r.distributed() {
		return
	}
	buf := make([]float64, len(v))
	for i, p := range v {
		buf[i] = *p
	}
	must(r.opt.Comm.AllReduce(buf, dist.Sum))
	for i, p := range v {
		*p = buf[i]
	}
}

// barrier waits for every rank (after rank 0 wrote a checkpoint).
func (r *runner) barrier() {
	if r.distributed() {
		must(r.opt.Comm.Barrier())
	}
}
