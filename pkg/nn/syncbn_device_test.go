package nn

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// fakeDeviceSync runs the device path of synchronized batch norm on the CPU
// backend: its tensor collectives reduce the CPU tensors' memory in place
// (what the NCCL engine does to device memory), through the test's group.
type fakeDeviceSync struct {
	fakeSync
	calls *atomic.Int32 // tensor collectives made
}

func (fakeDeviceSync) OnDevice(*tensor.Tensor) bool { return true }

func (f fakeDeviceSync) AllGatherTensor(send, recv *tensor.Tensor) error {
	f.calls.Add(1)
	r := make([]float64, recv.Len())
	if err := f.AllGather(send.Float64s(), r); err != nil {
		return err
	}
	copy(recv.F64(), r)
	return nil
}

func (f fakeDeviceSync) AllReduceSumTensor(t *tensor.Tensor) error {
	f.calls.Add(1)
	v := t.Float64s()
	if err := f.AllReduceSum(v); err != nil {
		return err
	}
	copy(t.F64(), v)
	return nil
}

// TestSyncBatchNormDevice: the device path (statistics as tensors,
// collectives on tensors) with two ranks holding unequal parts of a batch
// (2 and 4 samples) gives the one-process batch norm of the whole batch:
// outputs, dx, the summed dgamma/dbeta and the running statistics after two
// steps (float64, 1e-12); the host path is not taken.
func TestSyncBatchNormDevice(t *testing.T) {
	const n, ch, h, w = 6, 3, 2, 3
	b := cpu.New()
	vals := func(seed uint64, k int, scale, off float64) []float64 {
		s := NewStore(b, tensor.Float64, seed)
		v := s.Uniform(k, scale)
		for i := range v {
			v[i] += off
		}
		return v
	}
	xAll := vals(1, n*ch*h*w, 2, 3)
	wAll := vals(2, n*ch*h*w, 1, 0)
	gamma, beta := vals(3, ch, 0.5, 1), vals(4, ch, 0.5, 0)
	per := ch * h * w
	type out struct {
		y, dx, dg, db, rm, rv, nb []float64
	}
	run := func(sync StatSync, lo, hi int) out {
		s := NewStore(b, tensor.Float64, 0)
		s.Sync = sync
		bn := s.NewBatchNorm("bn", ch)
		bn.Gamma.Value = b.FromHost(tensor.FromFloat64([]int{ch}, gamma))
		bn.Beta.Value = b.FromHost(tensor.FromFloat64([]int{ch}, beta))
		c := ag.New(b, tensor.Float64)
		x := c.Param(b.FromHost(tensor.FromFloat64([]int{hi - lo, ch, h, w}, xAll[lo*per:hi*per])), "x")
		var y *ag.Var
		for range 2 {
			s.ZeroGrad()
			x.ZeroGrad()
			y = bn.Forward(c, x)
			wt := c.Const(b.FromHost(tensor.FromFloat64([]int{hi - lo, ch, h, w}, wAll[lo*per:hi*per])))
			c.Backward(c.Sum(c.Mul(y, wt), nil, false))
		}
		f := func(t *tensor.Tensor) []float64 { return b.ToHost(t).Float64s() }
		return out{f(y.Value), f(x.Grad), f(bn.Gamma.Grad), f(bn.Beta.Grad), f(s.Buffer("bn.running_mean")), f(s.Buffer("bn.running_var")),
			f(s.Buffer("bn.num_batches_tracked"))}
	}
	ref := run(nil, 0, n)
	g := newGroup(2)
	var parts [2]out
	var wg sync.WaitGroup
	cut := []int{0, 2, n}
	var calls atomic.Int32
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[r] = run(fakeDeviceSync{fakeSync{r, g}, &calls}, cut[r], cut[r+1])
		}()
	}
	wg.Wait()
	near := func(what string, got, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12*(1+math.Abs(want[i])) {
				t.Fatalf("%s[%d] = %.17g, want %.17g", what, i, got[i], want[i])
			}
		}
	}
	near("y", append(parts[0].y, parts[1].y...), ref.y)
	near("dx", append(parts[0].dx, parts[1].dx...), ref.dx)
	sum := func(a, b []float64) []float64 {
		o := make([]float64, len(a))
		for i := range a {
			o[i] = a[i] + b[i]
		}
		return o
	}
	near("dgamma", sum(parts[0].dg, parts[1].dg), ref.dg)
	near("dbeta", sum(parts[0].db, parts[1].db), ref.db)
	for r := range 2 {
		near("running_mean", parts[r].rm, ref.rm)
		near("running_var", parts[r].rv, ref.rv)
		near("num_batches_tracked", parts[r].nb, ref.nb)
	}
	if calls.Load() != 2*2*2 { // 2 ranks × 2 steps × (forward all-gather, backward all-reduce)
		t.Fatalf("%d tensor collectives, want 8", calls.Load())
	}
	if deviceSync(fakeSync{0, g}, nil) != nil {
		t.Fatal("a host-only StatSync took the device path")
	}
}
