package conv

import "unsafe"

// Depthwise "same" convolutions on planes of width 4 or less (the 4x4
// latent scale of NVAE, where the row kernels fill a vector only partly):
// each 16-lane vector covers 16/W whole output rows,
// so a plane is H·W/16 full vectors. The input plane is copied between
// pad zero rows (and a margin of one vector before and after); tap (kh,
// kw) of output vector v reads the 16 elements at 16v + offs[t], with the
// lanes whose column would fall outside the row masked to 0.

// dwSmallPlan is the layout of that path (nil where it does not apply).
type dwSmallPlan struct {
	nvec   int      // vectors per output plane
	bufLen int      // padded plane with margins
	in     int      // offset of input row 0 in the buffer
	offs   []int    // per tap (kh-major), relative to the vector's start
	masks  []uint16 // per tap: the lanes whose column stays inside the row
}

// dwSmallMaxW is the widest plane the path takes: measured on the 2-core
// AVX-512 machine (N=32, 5x5), 4x4 planes ran twice as fast as on the row
// kernels, 8x8 equally fast and 16x16 half as fast.
const dwSmallMaxW = 4

// dwSmallMargin is the zero margin before and after the padded rows.
const dwSmallMargin = 16

func newDwSmallPlan[T Float](p Params) *dwSmallPlan {
	k, pad := p.KH, p.PH
	if unsafe.Sizeof(T(0)) != 4 || !useAVX512 || disableDwSmall || p.K != p.C ||
		p.SH != 1 || p.SW != 1 || p.DH != 1 || p.DW != 1 || p.KW != k || k%2 == 0 || k > 7 ||
		pad != (k-1)/2 || p.PW != pad || p.W > dwSmallMaxW || 16%p.W != 0 || p.H*p.W%16 != 0 {
		return nil
	}
	q := &dwSmallPlan{nvec: p.H * p.W / 16, in: dwSmallMargin + pad*p.W}
	q.bufLen = dwSmallMargin + (p.H+2*pad)*p.W + dwSmallMargin
	for kh := 0; kh < k; kh++ {
		for kw := 0; kw < k; kw++ {
			q.offs = append(q.offs, dwSmallMargin+kh*p.W+kw-pad)
			var m uint16
			for l := 0; l < 16; l++ {
				if c := l%p.W + kw - pad; c >= 0 && c < p.W {
					m |= 1 << l
				}
			}
			q.masks = append(q.masks, m)
		}
	}
	return q
}

// disableDwSmall turns the small-plane path off (tests and comparisons).
var disableDwSmall = false

// plane computes output plane dst of input plane xp with filter w (k·k
// taps) and initial value init; buf is the plan's zeroed buffer (only its
// interior rows are written).
func (q *dwSmallPlan) plane(buf, xp, w, dst []float32, init float32) {
	copy(buf[q.in:q.in+len(xp)], xp)
	_ = dst[16*q.nvec-1]
	_ = w[len(q.offs)-1]
	dwSmallAVX512(&buf[0], &w[0], &dst[0], q.nvec, &q.offs[0], &q.masks[0], len(q.offs), init)
}
