package gemm

import (
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

// chunkTiles returns how many tiles (of a dimension with t tiles) one chunk
// holds: about chunksPerWorker chunks per core, at most maxTiles.
func chunkTiles(t, maxTiles int) int {
	ct := (t + chunksPerWorker*par.Workers - 1) / (chunksPerWorker * par.Workers)
	return max(1, min(ct, maxTiles))
}

// splitN packs op(A) whole, then hands out column chunks.
func (j *job[T]) splitN() {
	e := j.e
	kc := j.kBlock()
	mUp := roundUp(j.m, e.mr)
	pa, _, backA := e.buffers(mUp*j.k, 0)
	defer e.release(backA)
	par.For(mUp/e.mr, 1, func(lo, hi int) {
		j.packAllA(pa, kc, mUp, lo*e.mr, min(hi*e.mr, j.m))
	})
	tn := (j.n + e.nr - 1) / e.nr
	maxTiles := max(1, e.nc*e.kc/kc/e.nr)
	cw := chunkTiles(tn, maxTiles) * e.nr
	nchunks := (j.n + cw - 1) / cw
	var next atomic.Int64
	par.For(par.Workers, 1, func(_, _ int) {
		_, pb, back := e.buffers(0, kc*cw)
		defer e.release(back)
		for {
			c := int(next.Add(1) - 1)
			if c >= nchunks {
				return
			}
			jc := c * cw
			j.nChunk(pa, pb, kc, mUp, jc, min(cw, j.n-jc))
		}
	})
}

// splitM packs op(B) whole, then hands out row chunks.
func (j *job[T]) splitM() {
	e := j.e
	kc := j.kBlock()
	nUp := roundUp(j.n, e.nr)
	tn := nUp / e.nr
	_, pb, backB := e.buffers(0, nUp*j.k)
	defer e.release(backB)
	par.For(tn, 1, func(lo, hi int) {
		jc, nb := lo*e.nr, min(hi*e.nr, j.n)-lo*e.nr
		for pc := 0; pc < j.k; pc += kc {
			kb := min(kc, j.k-pc)
			j.packB(pb[pc*nUp+jc*kb:], pc, kb, jc, nb)
		}
	})
	tm := (j.m + e.mr - 1) / e.mr
	ch := chunkTiles(tm, max(1, e.mc/e.mr)) * e.mr
	nchunks := (j.m + ch - 1) / ch
	var next atomic.Int64
	par.For(par.Workers, 1, func(_, _ int) {
		pa, _, back := e.buffers(ch*kc, 0)
		defer e.release(back)
		for {
			c := int(next.Add(1) - 1)
			if c >= nchunks {
				return
			}
			ic := c * ch
			mb := min(ch, j.m-ic)
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
