package nn

import (
	"math"
	"sync"
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// group is an in-process stand-in for a communicator of n goroutines (the
// test's own exchange; production collectives come from pkg/dist engines).
type group struct {
	n          int
	mu         sync.Mutex
	cond       *sync.Cond
	count, gen int
	slots      [][]float64
	snapshot   [][]float64
}

func newGroup(n int) *group {
	g := &group{n: n, slots: make([][]float64, n)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *group) exchange(rank int, send []float64) [][]float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.slots[rank] = append([]float64(nil), send...)
	g.count++
	if g.count == g.n {
		g.snapshot = g.slots
		g.slots = make([][]float64, g.n)
		g.count = 0
		g.gen++
		g.cond.Broadcast()
	} else {
		for gen == g.gen {
			g.cond.Wait()
		}
	}
	return g.snapshot
}

type fakeSync struct {
	rank int
	g    *group
}

func (f fakeSync) Size() int { return f.g.n }
func (f fakeSync) AllGather(send, recv []float64) error {
	all := f.g.exchange(f.rank, send)
	for r, s := range all {
		copy(recv[r*len(send):], s)
	}
	return nil
}
func (f fakeSync) AllReduceSum(buf []float64) error {
	all := f.g.exchange(f.rank, buf)
	for i := range buf {
		buf[i] = 0
		for _, s := range all {
			buf[i] += s[i]
		}
	}
	return nil
}

// syncBNOut is one rank's results after two training steps of a batch
// norm: output, dx, dgamma, dbeta and the three buffers.
type syncBNOut struct {
	y, dx, dg, db, rm, rv, nb []float64
}

// syncBNSamples is the batch size of runSyncBN's fixed batch.
const syncBNSamples = 6

// runSyncBN runs two training steps of a batch norm (float64, CPU backend)
// over samples [lo, hi) of a fixed 6×3×2×3 batch, synchronized by sync
// (nil: one process), and returns this rank's results.
func runSyncBN(sync StatSync, lo, hi int) syncBNOut {
	const n, ch, h, w = syncBNSamples, 3, 2, 3
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
	s := NewStore(b, tensor.Float64, 0)
	s.Sync = sync
	bn := s.NewBatchNorm("bn", ch)
	bn.Gamma.Value = b.FromHost(tensor.FromFloat64([]int{ch}, gamma))
	bn.Beta.Value = b.FromHost(tensor.FromFloat64([]int{ch}, beta))
	c := ag.New(b, tensor.Float64)
	x := c.Param(b.FromHost(tensor.FromFloat64([]int{hi - lo, ch, h, w}, xAll[lo*per:hi*per])), "x")
	var y *ag.Var
	for range 2 { // two steps: the running statistics move twice
		s.ZeroGrad()
		x.ZeroGrad()
		y = bn.Forward(c, x)
		wt := c.Const(b.FromHost(tensor.FromFloat64([]int{hi - lo, ch, h, w}, wAll[lo*per:hi*per])))
		c.Backward(c.Sum(c.Mul(y, wt), nil, false))
	}
	f := func(t *tensor.Tensor) []float64 { return b.ToHost(t).Float64s() }
	return syncBNOut{f(y.Value), f(x.Grad), f(bn.Gamma.Grad), f(bn.Beta.Grad), f(s.Buffer("bn.running_mean")), f(s.Buffer("bn.running_var")),
		f(s.Buffer("bn.num_batches_tracked"))}
}

// checkSyncBN compares two ranks' results with the one-process ref
// (float64, 1e-12): outputs and dx concatenated, dgamma and dbeta summed,
// every rank's buffers equal to the reference's.
func checkSyncBN(t *testing.T, parts [2]syncBNOut, ref syncBNOut) {
	t.Helper()
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
}

// TestSyncBatchNorm: two ranks with half a batch each, through synchronized
// batch norm, give the one-process batch norm of the whole batch: outputs,
// dx, the summed dgamma/dbeta and the running statistics (float64, 1e-12).
func TestSyncBatchNorm(t *testing.T) {
	const n = syncBNSamples
	ref := runSyncBN(nil, 0, n)
	g := newGroup(2)
	var parts [2]syncBNOut
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[r] = runSyncBN(fakeSync{r, g}, r*n/2, (r+1)*n/2)
		}()
	}
	wg.Wait()
	checkSyncBN(t, parts, ref)
}
