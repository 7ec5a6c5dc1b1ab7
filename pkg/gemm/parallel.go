package gemm

import (
	"runtime"
	"sync/atomic"

	"github.com/nvaego/nvae/pkg/par"
)

// chunksPerWorker is how many pieces per core a parallel call is cut into;
// the cores take pieces from a shared counter, so a core slowed down by
// other work on the machine does not hold the whole call back.
const chunksPerWorker = 4

// sharedMax bounds, in elements, an operand packed whole and shared by all
// chunks of a call; larger calls fall back to independent blocks. (A
// variable so tests can reach the fallbacks with small shapes.)
var sharedMax = 1 << 23

// runSerial runs a call on the calling goroutine. When several N blocks
// would each repack the same op(A), A is packed once instead.
func (j *job[T]) runSerial() {
	e := j.e
	kc := j.kBlock()
	mUp := roundUp(j.m, e.mr)
	ncMax := max(e.nr, e.nc*e.kc/kc/e.nr*e.nr)
	if j.n <= ncMax || j.m <= e.mr || mUp*j.k > sharedMax {
		j.block(0, j.m, 0, j.n)
		return
	}
	pa, _, backA := e.buffers(mUp*j.k, 0)
	defer e.release(backA)
	j.packAllA(pa, kc, mUp, 0, j.m)
	nn := (j.n + ncMax - 1) / ncMax
	nc := roundUp((j.n+nn-1)/nn, e.nr)
	_, pb, back := e.buffers(0, kc*nc)
	defer e.release(back)
	for jc := 0; jc < j.n; jc += nc {
		j.nChunk(pa, pb, kc, mUp, jc, min(nc, j.n-jc))
	}
}

// runParallel runs a call over par.Workers cores. The operand shared by
// all pieces (op(A) when N is split, op(B) when M is split) is packed once,
// by all cores together; then the cores take chunks of the other dimension
// from a shared counter, each packing its own panels of the other operand.
// It takes the job by value so that only this path moves it to the heap.
func runParallel[T Float](j job[T]) {
	e := j.e
	tm := (j.m + e.mr - 1) / e.mr
	tn := (j.n + e.nr - 1) / e.nr
	splitN := tn >= 2*par.Workers || tn >= tm
	switch {
	case splitN && tm*e.mr*j.k <= sharedMax:
		j.splitN()
	case !splitN && tn*e.nr*j.k <= sharedMax:
		j.splitM()
	case splitN:
		// Too large to share a packed A: independent column blocks.
		par.For(tn, 1, func(lo, hi int) {
			j.block(0, j.m, lo*e.nr, min(hi*e.nr, j.n))
		})
	default:
		par.For(tm, 1, func(lo, hi int) {
			j.block(lo*e.mr, min(hi*e.mr, j.m), 0, j.n)
		})
	}
}

// packAllA packs rows [i0, i1) (i0 a multiple of mr) of the whole op(A)
// into pa: the K block at pc starts at pc*mUp and holds that block's row
// panels as packA lays them out.
func (j *job[T]) packAllA(pa []T, kc, mUp, i0, i1 int) {
	for pc := 0; pc < j.k; pc += kc {
		kb := min(kc, j.k-pc)
		j.packA(pa[pc*mUp+i0*kb:], i0, i1-i0, pc, kb)
	}
}

// nChunk computes columns [jc, jc+nb) of C from the whole packed A.
func (j *job[T]) nChunk(pa, pb []T, kc, mUp, jc, nb int) {
	for pc := 0; pc < j.k; pc += kc {
		kb := min(kc, j.k-pc)
		beta := j.beta
		if pc > 0 {
			beta = 1
		}
		j.packB(pb, pc, kb, jc, nb)
		j.macro(pa[pc*mUp:], pb, 0, j.m, jc, nb, kb, beta)
	}
}

// chunking cuts t tiles into chunks for the shared counter: about
// chunksPerWorker per core, none wider than maxTiles, sizes differing by at
// most one tile with the larger ones first, so the cores finish together.
type chunking struct{ t, n int }

func newChunking(t, maxTiles int) chunking {
	n := max(chunksPerWorker*par.Workers, (t+maxTiles-1)/maxTiles)
	return chunking{t: t, n: max(1, min(n, t))}
}

// tiles returns chunk c's tile range [lo, hi).
func (c chunking) tiles(i int) (lo, hi int) {
	q, r := c.t/c.n, c.t%c.n
	lo = i*q + min(i, r)
	hi = lo + q
	if i < r {
		hi++
	}
	return lo, hi
}

// sharedPack packs the shared operand in items taken from a counter by
// whichever cores are awake, then waits until every item is done. Called by
// every worker at the start of its run, it overlaps the packing with the
// other cores' wake-up instead of adding a fork-join of its own.
type sharedPack struct {
	next, done atomic.Int64
	items      int
}

func (s *sharedPack) run(pack func(item int)) {
	for {
		it := int(s.next.Add(1) - 1)
		if it >= s.items {
			break
		}
		pack(it)
		s.done.Add(1)
	}
	for s.done.Load() < int64(s.items) {
		runtime.Gosched()
	}
}

// splitN packs op(A) whole, one row panel per item, then hands out column
// chunks.
func (j *job[T]) splitN() {
	e := j.e
	kc := j.kBlock()
	mUp := roundUp(j.m, e.mr)
	pa, _, backA := e.buffers(mUp*j.k, 0)
	defer e.release(backA)
	shared := sharedPack{items: mUp / e.mr}
	tn := (j.n + e.nr - 1) / e.nr
	chunks := newChunking(tn, max(1, e.nc*e.kc/kc/e.nr))
	var next atomic.Int64
	par.For(par.Workers, 1, func(_, _ int) {
		shared.run(func(it int) {
			j.packAllA(pa, kc, mUp, it*e.mr, min((it+1)*e.mr, j.m))
		})
		lo, hi := chunks.tiles(0)
		_, pb, back := e.buffers(0, kc*(hi-lo)*e.nr)
		defer e.release(back)
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks.n {
				return
			}
			lo, hi := chunks.tiles(c)
			jc := lo * e.nr
			j.nChunk(pa, pb, kc, mUp, jc, min(hi*e.nr, j.n)-jc)
		}
	})
}

// splitM packs op(B) whole, one column panel per item, then hands out row
// chunks.
func (j *job[T]) splitM() {
	e := j.e
	kc := j.kBlock()
	nUp := roundUp(j.n, e.nr)
	_, pb, backB := e.buffers(0, nUp*j.k)
	defer e.release(backB)
	shared := sharedPack{items: nUp / e.nr}
	tm := (j.m + e.mr - 1) / e.mr
	chunks := newChunking(tm, max(1, e.mc/e.mr))
	var next atomic.Int64
	par.For(par.Workers, 1, func(_, _ int) {
		shared.run(func(it int) {
			jc, nb := it*e.nr, min((it+1)*e.nr, j.n)-it*e.nr
			for pc := 0; pc < j.k; pc += kc {
				kb := min(kc, j.k-pc)
				j.packB(pb[pc*nUp+jc*kb:], pc, kb, jc, nb)
			}
		})
		lo, hi := chunks.tiles(0)
		pa, _, back := e.buffers((hi-lo)*e.mr*kc, 0)
		defer e.release(back)
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks.n {
				return
			}
			lo, hi := chunks.tiles(c)
			ic := lo * e.mr
			mb := min(hi*e.mr, j.m) - ic
			for pc := 0; pc < j.k; pc += kc {
				kb := min(kc, j.k-pc)
				beta := j.beta
				if pc > 0 {
					beta = 1
				}
				j.packA(pa, ic, mb, pc, kb)
				j.macro(pa, pb[pc*nUp:], ic, mb, 0, j.n, kb, beta)
			}
		}
	})
}
