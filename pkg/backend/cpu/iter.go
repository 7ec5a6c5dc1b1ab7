package cpu

import "github.com/nvaego/nvae/pkg/par"

func parFor(n int, fn func(lo, hi int)) { par.For(n, grain, fn) }

// layout is an iteration space shared by up to three operands: after
// coalescing, shape[i] with per-operand element strides st[k][i].
type layout struct {
	shape []int
	st    [3][]int
	nops  int
}

// newLayout builds a coalesced layout; strides are given aligned to shape.
func newLayout(shape []int, strides ...[]int) layout {
	l := layout{nops: len(strides)}
	// drop size-1 dims
	var sh []int
	var st [3][]int
	for i, d := range shape {
		if d == 1 {
			continue
		}
		sh = append(sh, d)
		for k := range strides {
			st[k] = append(st[k], strides[k][i])
		}
	}
	// merge dim i into i+1 when every operand is contiguous across them
	if len(sh) > 0 {
		ms := []int{sh[0]}
		var mst [3][]int
		for k := 0; k < l.nops; k++ {
			mst[k] = []int{st[k][0]}
		}
		for i := 1; i < len(sh); i++ {
			ok := true
			last := len(ms) - 1
			for k := 0; k < l.nops; k++ {
				if mst[k][last] != st[k][i]*sh[i] {
					ok = false
					break
				}
			}
			if ok {
				ms[last] *= sh[i]
				for k := 0; k < l.nops; k++ {
					mst[k][last] = st[k][i]
				}
			} else {
				ms = append(ms, sh[i])
				for k := 0; k < l.nops; k++ {
					mst[k] = append(mst[k], st[k][i])
				}
			}
		}
		sh, st = ms, mst
	}
	if len(sh) == 0 {
		sh = []int{1}
		for k := 0; k < l.nops; k++ {
			st[k] = []int{0}
		}
	}
	l.shape, l.st = sh, st
	return l
}

// rows calls fn for every innermost row: the operands' base offsets, the row
// length and the operands' inner strides. Rows are spread over cores.
func (l layout) rows(fn func(off [3]int, n int, inner [3]int)) {
	r := len(l.shape) - 1
	n := l.shape[r]
	var inner [3]int
	for k := 0; k < l.nops; k++ {
		inner[k] = l.st[k][r]
	}
	nrows := 1
	for _, d := range l.shape[:r] {
		nrows *= d
	}
	g := grain / n
	if g < 1 {
		g = 1
	}
	par.For(nrows, g, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			var off [3]int
			rem := row
			for d := r - 1; d >= 0; d-- {
				idx := rem % l.shape[d]
				rem /= l.shape[d]
				for k := 0; k < l.nops; k++ {
					off[k] += idx * l.st[k][d]
				}
			}
			fn(off, n, inner)
		}
	})
}

// copyStrided copies shape-many elements from src (base sb, strides ss) to
// dst (base db, strides ds).
func copyStrided[T Float](shape []int, dst []T, db int, ds []int, src []T, sb int, ss []int) {
	l := newLayout(shape, ds, ss)
	l.rows(func(off [3]int, n int, in [3]int) {
		d, s := db+off[0], sb+off[1]
		if in[0] == 1 && in[1] == 1 {
			copy(dst[d:d+n], src[s:s+n])
			return
		}
		for i := 0; i < n; i++ {
			dst[d] = src[s]
			d += in[0]
			s += in[1]
		}
	})
}
