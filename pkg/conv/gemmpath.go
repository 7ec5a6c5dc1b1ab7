package conv

import (
	"unsafe"

	"github.com/nvaego/nvae/pkg/gemm"
	"github.com/nvaego/nvae/pkg/par"
)

// minGemmCols is the least number of GEMM columns (output pixels) a unit of
// work should have; images with smaller outputs are batched side by side.
const minGemmCols = 256

// gemmPlan is the shape bookkeeping of the im2col + GEMM path. The work is
// split into units (a batch of nb consecutive images, a group); each unit is
// one GEMM.
type gemmPlan struct {
	p         Params
	oh, ow    int
	P         int  // oh*ow, output pixels per image
	hw        int  // H*W, input pixels per image
	cg, kg    int  // input and output channels per group
	kc        int  // cg*KH*KW, the GEMM inner dimension
	pointwise bool // 1x1, stride 1, no padding: the image is its own im2col
	nb        int  // images per unit
	nbatch    int  // number of image batches
	units     int  // nbatch*Groups
	colBytes  int  // size of a unit's im2col buffer (0 for direct 1x1)

	// For packSame's masked AVX-512 copies (setMasks): per tap, the bits of
	// the pixels reading inside the image (maxMaskWords words each) and the
	// input offset.
	masks []uint64
	offs  []int
}

func newGemmPlan(p Params, elemSize int) *gemmPlan {
	q := &gemmPlan{p: p, oh: p.OutH(), ow: p.OutW(), hw: p.H * p.W}
	q.P = q.oh * q.ow
	q.cg, q.kg = p.C/p.Groups, p.K/p.Groups
	q.kc = q.cg * p.KH * p.KW
	q.pointwise = p.KH == 1 && p.KW == 1 && p.SH == 1 && p.SW == 1 && p.PH == 0 && p.PW == 0
	q.nb = 1
	if q.P < minGemmCols {
		q.nb = min(p.N, (minGemmCols+q.P-1)/q.P)
		// Keep enough units for all workers when there are images to spare.
		for q.nb > 1 && ((p.N+q.nb-1)/q.nb)*p.Groups < par.Workers {
			q.nb--
		}
	}
	q.nbatch = (p.N + q.nb - 1) / q.nb
	q.units = q.nbatch * p.Groups
	if !q.pointwise || q.nb > 1 {
		q.colBytes = q.kc * q.nb * q.P * elemSize
	}
	return q
}

// unit returns the first image, image count and group of unit u.
func (q *gemmPlan) unit(u int) (n0, cnt, g int) {
	b, g := u/q.p.Groups, u%q.p.Groups
	n0 = b * q.nb
	return n0, min(q.nb, q.p.N-n0), g
}

// parallel reports whether units run on separate workers (each GEMM then
// sees one core's worth of work); otherwise units run in order and the GEMM
// parallelises internally.
func (q *gemmPlan) parallel() bool {
	return outerParallel && par.Workers > 1 && q.units >= par.Workers && q.colBytes <= maxOuterColBytes
}

// outerParallel enables running units on separate workers.
var outerParallel = true

// maxOuterColBytes bounds the im2col buffer of a unit for units to run on
// separate workers (one buffer per worker); larger units run one at a time
// with im2col/col2im and the GEMM split over the cores, keeping one buffer
// in cache. On the 2-core development machine 3x3 64→64 at 32x32 (2.4 MB
// of columns per image) measured about 10% faster on separate workers.
const maxOuterColBytes = 8 << 20

// forUnits runs fn over chunks of units, in parallel when q.parallel().
func (q *gemmPlan) forUnits(fn func(lo, hi int)) {
	if q.parallel() {
		par.For(q.units, 1, fn)
		return
	}
	fn(0, q.units)
}

// validRange returns the output indices o in [0, out) for which the input
// index o*s - pad + off lies in [0, in), as [lo, hi).
func validRange(out, s, pad, off, in int) (lo, hi int) {
	b := off - pad
	if b < 0 {
		lo = (-b + s - 1) / s
	}
	if in-1-b < 0 {
		return 0, 0
	}
	hi = min((in-1-b)/s+1, out)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// im2col writes the columns of images n0..n0+cnt-1, group g, into col,
// a [kc, cnt*P] row-major matrix: col[(c*KH+kh)*KW+kw, i*P + oh*OW + ow] =
// x[n0+i, g*cg+c, oh*SH-PH+kh*DH, ow*SW-PW+kw*DW] (zero outside the image).
func im2col[T Float](q *gemmPlan, x []T, n0, cnt, g int, col []T) {
	q.forPlanes(cnt, func(lo, hi int) { im2colRange(q, x, n0, cnt, g, col, lo, hi) })
}

// forPlanes runs fn over the cnt·cg (image, channel) planes of a unit: in
// parallel when units themselves run in order, inline otherwise.
func (q *gemmPlan) forPlanes(cnt int, fn func(lo, hi int)) {
	n := cnt * q.cg
	if q.parallel() || n*q.P*q.p.KH*q.p.KW < 1<<15 {
		fn(0, n)
		return
	}
	par.For(n, 1, fn)
}

// forTaps visits the kernel taps (kh, kw) of the flattened (image, channel)
// planes [lo, hi) of images n0..n0+cnt-1, group g: fn gets xc, the plane of
// x (image n0+i, channel g·cg+c), colRow, the segment of the [kc, cnt*P]
// matrix col for image i and that tap, and the output rows [hlo, hhi) and
// columns [wlo, whi) whose input lies inside the image.
func forTaps[T Float](q *gemmPlan, x, col []T, n0, cnt, g, lo, hi int, fn func(xc, colRow []T, kh, kw, hlo, hhi, wlo, whi int)) {
	p := q.p
	ld := cnt * q.P
	for ic := lo; ic < hi; ic++ {
		i, c := ic/q.cg, ic%q.cg
		xc := x[((n0+i)*p.C+g*q.cg+c)*q.hw : ((n0+i)*p.C+g*q.cg+c+1)*q.hw]
		for kh := 0; kh < p.KH; kh++ {
			hlo, hhi := validRange(q.oh, p.SH, p.PH, kh*p.DH, p.H)
			for kw := 0; kw < p.KW; kw++ {
				wlo, whi := validRange(q.ow, p.SW, p.PW, kw*p.DW, p.W)
				row := (c*p.KH+kh)*p.KW + kw
				fn(xc, col[row*ld+i*q.P:row*ld+(i+1)*q.P], kh, kw, hlo, hhi, wlo, whi)
			}
		}
	}
}

// samePlane reports whether every tap of the convolution reads its input
// plane at a constant offset from the output pixel: stride and dilation 1
// and an output as large as the input (padding (K-1)/2 on each side, as in
// 3x3 padding-1 and 1x1 unpadded convolutions). A tap's im2col row is then
// one shifted copy of the plane with the out-of-image border zeroed.
func (q *gemmPlan) samePlane() bool {
	p := q.p
	return p.SH == 1 && p.SW == 1 && p.DH == 1 && p.DW == 1 && q.oh == p.H && q.ow == p.W
}

// shiftedCols reports whether im2col takes the shifted-copy paths
// (im2colSame, packSame): samePlane convolutions of images small enough to
// be batched several per unit (under minGemmCols output pixels, where the
// per-row path pays per row of a few elements). On larger planes the
// per-row AVX-512 copies with the GEMM's own packing measured as fast or
// faster (3x3 32→32 at 16x16: 55 against 48 and 39 GFLOP/cpu-s for
// shifted and fused), so they keep the general path, except for float32
// with AVX-512, where packSame's masked copies (fusedMaskedPlanes) make the
// fused path the fastest (3x3 32→32 at 16x16: 86–92 against 64 GFLOP/cpu-s
// general; 3x3 16→100 at 32x32: 142–147 against 128).
func (q *gemmPlan) shiftedCols() bool { return q.samePlane() && q.nb > 1 }

// im2colSame is im2colRange for samePlane convolutions: per plane and tap
// (sameTap), the output pixels [a, b) are one contiguous copy (pixel j
// reads input element j + off), after which the columns outside [wlo, whi)
// of those rows are zeroed; everything else is cleared. It writes exactly
// the matrix the general path writes.
func im2colSame[T Float](q *gemmPlan, x []T, n0, cnt, g int, col []T, lo, hi int) {
	p := q.p
	W, P := p.W, q.P
	ld := cnt * P
	for ic := lo; ic < hi; ic++ {
		i, c := ic/q.cg, ic%q.cg
		xc := x[((n0+i)*p.C+g*q.cg+c)*P : ((n0+i)*p.C+g*q.cg+c+1)*P]
		for kh := 0; kh < p.KH; kh++ {
			for kw := 0; kw < p.KW; kw++ {
				tp := q.sameTap(kh, kw)
				row := (c*p.KH+kh)*p.KW + kw
				dst := col[row*ld+i*P : row*ld+(i+1)*P]
				if tp.a >= tp.b {
					clear(dst)
					continue
				}
				clear(dst[:tp.a])
				clear(dst[tp.b:])
				copy(dst[tp.a:tp.b], xc[tp.a+tp.off:tp.b+tp.off])
				if !tp.edge {
					continue
				}
				for rs := tp.a / W * W; rs < tp.b; rs += W {
					r := dst[rs : rs+W]
					clear(r[:tp.wlo])
					clear(r[tp.whi:])
				}
			}
		}
	}
}

// im2colRange is im2col for the flattened (image, channel) planes [lo, hi).
func im2colRange[T Float](q *gemmPlan, x []T, n0, cnt, g int, col []T, lo, hi int) {
	p := q.p
	if q.shiftedCols() && !forceGeneralIm2col {
		im2colSame(q, x, n0, cnt, g, col, lo, hi)
		return
	}
	forTaps(q, x, col, n0, cnt, g, lo, hi, func(xc, dst []T, kh, kw, hlo, hhi, wlo, whi int) {
		clear(dst[:hlo*q.ow])
		clear(dst[hhi*q.ow:])
		if wlo >= whi || hlo >= hhi {
			clear(dst[hlo*q.ow : hhi*q.ow])
			return
		}
		iw0 := wlo*p.SW - p.PW + kw*p.DW
		ih0 := hlo*p.SH - p.PH + kh*p.DH
		if wlo > 0 || whi < q.ow {
			clear(dst[hlo*q.ow : hhi*q.ow])
		}
		if p.SW == 1 {
			copyRows(dst[hlo*q.ow+wlo:], xc[ih0*p.W+iw0:], hhi-hlo, whi-wlo, q.ow, p.SH*p.W)
			return
		}
		for oh := hlo; oh < hhi; oh++ {
			ih := oh*p.SH - p.PH + kh*p.DH
			d := dst[oh*q.ow+wlo : oh*q.ow+whi]
			s := xc[ih*p.W+iw0:]
			for j := range d {
				d[j] = s[j*p.SW]
			}
		}
	})
}

// forceGeneralIm2col makes im2col take the general path for every shape
// (tests compare the two).
var forceGeneralIm2col = false

// col2im adds the columns col (as written by im2col) back into the images
// n0..n0+cnt-1, group g, of gx.
func col2im[T Float](q *gemmPlan, col []T, n0, cnt, g int, gx []T) {
	q.forPlanes(cnt, func(lo, hi int) { col2imRange(q, col, n0, cnt, g, gx, lo, hi) })
}

// col2imRange is col2im for the flattened (image, channel) planes [lo, hi).
func col2imRange[T Float](q *gemmPlan, col []T, n0, cnt, g int, gx []T, lo, hi int) {
	p := q.p
	forTaps(q, gx, col, n0, cnt, g, lo, hi, func(xc, src []T, kh, kw, hlo, hhi, wlo, whi int) {
		if wlo >= whi || hlo >= hhi {
			return
		}
		iw0 := wlo*p.SW - p.PW + kw*p.DW
		ih0 := hlo*p.SH - p.PH + kh*p.DH
		if p.SW == 1 {
			addRows(xc[ih0*p.W+iw0:], src[hlo*q.ow+wlo:], hhi-hlo, whi-wlo, p.SH*p.W, q.ow)
			return
		}
		for oh := hlo; oh < hhi; oh++ {
			ih := oh*p.SH - p.PH + kh*p.DH
			d := xc[ih*p.W+iw0:]
			for j, v := range src[oh*q.ow+wlo : oh*q.ow+whi] {
				d[j*p.SW] += v
			}
		}
	})
}

// gatherRows copies the group-g output planes of images n0..n0+cnt-1 of y
// ([N, K, P]) into dst, a [kg, cnt*P] matrix.
func gatherRows[T Float](q *gemmPlan, y []T, n0, cnt, g int, dst []T) {
	ld := cnt * q.P
	for i := 0; i < cnt; i++ {
		for k := 0; k < q.kg; k++ {
			o := ((n0+i)*q.p.K + g*q.kg + k) * q.P
			copy(dst[k*ld+i*q.P:k*ld+(i+1)*q.P], y[o:o+q.P])
		}
	}
}

// scatterRows is the inverse of gatherRows.
func scatterRows[T Float](q *gemmPlan, src []T, n0, cnt, g int, y []T) {
	ld := cnt * q.P
	for i := 0; i < cnt; i++ {
		for k := 0; k < q.kg; k++ {
			o := ((n0+i)*q.p.K + g*q.kg + k) * q.P
			copy(y[o:o+q.P], src[k*ld+i*q.P:k*ld+(i+1)*q.P])
		}
	}
}

// gemmScratch is one worker's scratch buffers from the pools: col, the
// im2col buffer (kc rows, unless the unit is a single pointwise image), and
// k, when units batch nb images, the kg-row buffer of the GEMM output or
// input gradient.
type gemmScratch[T Float] struct{ col, k *[]T }

func newGemmScratch[T Float](q *gemmPlan, col bool) gemmScratch[T] {
	var b gemmScratch[T]
	if col && (!q.pointwise || q.nb > 1) {
		b.col = getBuf[T](q.kc * q.nb * q.P)
	}
	if q.nb > 1 {
		b.k = getBuf[T](q.kg * q.nb * q.P)
	}
	return b
}

// release returns the buffers to their pools.
func (b gemmScratch[T]) release() {
	if b.col != nil {
		putBuf(b.col)
	}
	if b.k != nil {
		putBuf(b.k)
	}
}

// fusedIm2col lets the forward pass of shiftedCols convolutions generate
// their columns straight into the GEMM's packed panels (packSame) instead
// of an im2col buffer; tests turn it off to compare.
var fusedIm2col = true

// sameTap is one kernel tap of a samePlane convolution: the output pixels
// [a, b) (row-major in the plane) include every pixel whose input lies in
// the image, pixel t reading input t+off; within them the columns outside
// [wlo, whi) read outside the image (edge reports that there are such).
type sameTap struct {
	a, b, off, wlo, whi int
	edge                bool
}

func (q *gemmPlan) sameTap(kh, kw int) sameTap {
	p := q.p
	hlo, hhi := validRange(q.oh, 1, p.PH, kh, p.H)
	wlo, whi := validRange(q.ow, 1, p.PW, kw, p.W)
	t := sameTap{a: hlo*p.W + wlo, b: (hhi-1)*p.W + whi, off: (kh-p.PH)*p.W + kw - p.PW,
		wlo: wlo, whi: whi, edge: wlo > 0 || whi < p.W}
	if hlo >= hhi || wlo >= whi {
		t.a, t.b = 0, 0
	}
	return t
}

// packSameMasked lets packSame fill float32 panel rows by masked AVX-512
// copies; tests turn it off to compare.
var packSameMasked = true

// fusedMaskedPlanes extends the fused path to single-image units when
// packSame's masked copies apply.
var fusedMaskedPlanes = true

// maxMaskTaps and maxMaskWords bound the kernels (taps) and planes (64·(w-1)
// pixels; the last word pads the kernel's look-ahead) of packSame's masks.
const maxMaskTaps, maxMaskWords = 9, 17

// setMasks prepares packSame's masked copies (float32 with AVX-512 only).
func (q *gemmPlan) setMasks() {
	p := q.p
	ntap := p.KH * p.KW
	if !packSameMasked || !useAVX512 || ntap > maxMaskTaps || q.P > 64*(maxMaskWords-1) {
		return
	}
	q.masks, q.offs = make([]uint64, ntap*maxMaskWords), make([]int, ntap)
	for t := range ntap {
		tp := q.sameTap(t/p.KW, t%p.KW)
		tapMask(q.masks[t*maxMaskWords:(t+1)*maxMaskWords], tp, p.W)
		q.offs[t] = tp.off
	}
}

// tapMask sets in m (cleared) the bits of the plane pixels [a, b) of tap tp
// whose column lies in [wlo, whi): those reading inside the image.
func tapMask(m []uint64, tp sameTap, W int) {
	clear(m)
	for rs := tp.a / W * W; rs < tp.b; rs += W {
		for u := max(rs+tp.wlo, tp.a); u < min(rs+tp.whi, tp.b); u++ {
			m[u>>6] |= 1 << (u & 63)
		}
	}
}

// maxSameTaps bounds the kernels whose taps packSame tabulates on the stack.
const maxSameTaps = 49

// packSame is a gemm.PackB for the im2col matrix of images n0.., group g of
// a samePlane convolution: row r = (c·KH+kh)·KW+kw, column i·P + pixel.
// Each panel row is filled by image segments: one shifted copy of the
// input plane, zeros outside the image, exactly as im2colSame.
func packSame[T Float](q *gemmPlan, x []T, n0, g int, dst []T, nr, pc, kb, jc, nb int) {
	p := q.p
	W, P, ntap := p.W, q.P, p.KH*p.KW
	var tabArr [maxSameTaps]sameTap
	tab := tabArr[:0]
	if ntap <= maxSameTaps {
		for t := 0; t < ntap; t++ {
			tab = append(tab, q.sameTap(t/p.KW, t%p.KW))
		}
	}
	// A panel's columns fall into segments of one image each (at most nr,
	// for one-pixel images): (image, first pixel, end pixel).
	var segArr [64][3]int
	for q0 := 0; q0 < nb; q0 += nr {
		w := min(nr, nb-q0)
		panel := dst[q0*kb : q0*kb+nr*kb]
		segs := segArr[:0]
		for j, end := jc+q0, jc+q0+w; j < end; {
			i, s := j/P, j%P
			e := min(P, s+end-j)
			segs = append(segs, [3]int{i, s, e})
			j += e - s
		}
		c, t := pc/ntap, pc%ntap
		if q.masks != nil {
			p32, x32 := f32(panel), f32(x)
			if w < nr {
				for pp := 0; pp < kb; pp++ {
					clear(p32[pp*nr+w : pp*nr+nr])
				}
			}
			col := 0
			for _, sg := range segs {
				i, s, e := sg[0], sg[1], sg[2]
				xo := ((n0+i)*p.C+g*q.cg+c)*P + s
				_ = x32[xo-s+((t+kb-1)/ntap+1)*P-1]
				_ = p32[(kb-1)*nr+col+e-s-1]
				maskPanelAVX512(&p32[col], nr, &x32[xo], e-s, kb, t, ntap, P, &q.offs[0], &q.masks[0], s)
				col += e - s
			}
			continue
		}
		for pp := 0; pp < kb; pp++ {
			var tp sameTap
			if len(tab) > 0 {
				tp = tab[t]
			} else {
				tp = q.sameTap(t/p.KW, t%p.KW)
			}
			row := panel[pp*nr : pp*nr+nr]
			clear(row[w:])
			col := row
			for _, sg := range segs {
				i, s, e := sg[0], sg[1], sg[2]
				seg := col[:e-s]
				col = col[e-s:]
				lo, hi := max(s, tp.a), min(e, tp.b)
				if lo >= hi {
					clear(seg)
					continue
				}
				clear(seg[:lo-s])
				clear(seg[hi-s:])
				xo := ((n0+i)*p.C + g*q.cg + c) * P
				copy(seg[lo-s:hi-s], x[xo+lo+tp.off:xo+hi+tp.off])
				if !tp.edge {
					continue
				}
				for rs := lo / W * W; rs < hi; rs += W {
					for u := max(rs, lo); u < min(rs+tp.wlo, hi); u++ {
						seg[u-s] = 0
					}
					for u := max(rs+tp.whi, lo); u < min(rs+W, hi); u++ {
						seg[u-s] = 0
					}
				}
			}
			if t++; t == ntap {
				t = 0
				c++
			}
		}
	}
}

func gemmForward[T Float](p Params, x, w, bias, y []T, epi Epilogue[T]) {
	q := newGemmPlan(p, int(unsafe.Sizeof(T(0))))
	fused := fusedIm2col && q.shiftedCols()
	if fusedIm2col && q.samePlane() && (fused || fusedMaskedPlanes && !q.pointwise) && unsafe.Sizeof(T(0)) == 4 {
		// With masked copies the fused path also beats the per-row
		// im2col on planes too large to batch.
		q.setMasks()
		fused = fused || q.masks != nil
	}
	q.forUnits(func(lo, hi int) {
		bufs := newGemmScratch[T](q, !fused)
		defer bufs.release()
		colBuf, outBuf := bufs.col, bufs.k
		for u := lo; u < hi; u++ {
			n0, cnt, g := q.unit(u)
			cols := cnt * q.P
			var c []T
			if cnt == 1 {
				c = y[(n0*p.K+g*q.kg)*q.P : (n0*p.K+(g+1)*q.kg)*q.P]
			} else {
				c = (*outBuf)[:q.kg*cols]
			}
			var b []T
			ldb := cols
			switch {
			case q.pointwise && cnt == 1:
				b = x[(n0*p.C+g*q.cg)*q.P:]
			case fused:
				pack := func(dst []T, nr, pc, kb, jc, nb int) { packSame(q, x, n0, g, dst, nr, pc, kb, jc, nb) }
				gemm.GemmPackB(q.kg, cols, q.kc, 1, w[g*q.kg*q.kc:], q.kc, pack, 0, c, cols)
			default:
				b = (*colBuf)[:q.kc*cols]
				im2col(q, x, n0, cnt, g, b)
			}
			if b != nil {
				gemm.Gemm(false, false, q.kg, cols, q.kc, 1, w[g*q.kg*q.kc:], q.kc, b, ldb, 0, c, cols)
			}
			if bias != nil {
				// Right after the GEMM, while c is still in cache.
				addBias(c, bias[g*q.kg:], q.kg, cols, cols)
			}
			if epi != nil {
				runEpilogue(q, epi, c, g*q.kg, cols)
			}
			if cnt > 1 {
				scatterRows(q, c, n0, cnt, g, y)
			}
		}
	})
}

// epilogue runs epi over a unit's [kg, cols] output c (channels k0...):
// inline when units run on separate workers, split over the cores by
// channel rows otherwise.
func runEpilogue[T Float](q *gemmPlan, epi Epilogue[T], c []T, k0, cols int) {
	if q.parallel() {
		epi(c, k0, q.kg, cols, cols)
		return
	}
	par.For(q.kg, planeGrain(8*cols), func(lo, hi int) {
		epi(c[lo*cols:], k0+lo, hi-lo, cols, cols)
	})
}

func gemmBackwardData[T Float](p Params, gy, w, gx []T) {
	q := newGemmPlan(p, int(unsafe.Sizeof(T(0))))
	q.forUnits(func(lo, hi int) {
		bufs := newGemmScratch[T](q, true)
		defer bufs.release()
		colBuf, gyBuf := bufs.col, bufs.k
		for u := lo; u < hi; u++ {
			n0, cnt, g := q.unit(u)
			cols := cnt * q.P
			wg := w[g*q.kg*q.kc:]
			var a []T
			if cnt == 1 {
				a = gy[(n0*p.K+g*q.kg)*q.P:]
			} else {
				a = (*gyBuf)[:q.kg*cols]
				gatherRows(q, gy, n0, cnt, g, a)
			}
			if q.pointwise && cnt == 1 {
				gemm.Gemm(true, false, q.cg, q.P, q.kg, 1, wg, q.kc, a, cols, 0, gx[(n0*p.C+g*q.cg)*q.hw:], q.P)
				continue
			}
			col := (*colBuf)[:q.kc*cols]
			gemm.Gemm(true, false, q.kc, cols, q.kg, 1, wg, q.kc, a, cols, 0, col, cols)
			for i := 0; i < cnt; i++ {
				o := ((n0+i)*p.C + g*q.cg) * q.hw
				clear(gx[o : o+q.cg*q.hw])
			}
			col2im(q, col, n0, cnt, g, gx)
		}
	})
}

func gemmBackwardFilter[T Float](p Params, x, gy, gw []T) {
	q := newGemmPlan(p, int(unsafe.Sizeof(T(0))))
	wl := p.wLen()
	clear(gw[:wl])
	// Chunk the units ourselves so that partial sums are reduced in a fixed
	// order: results do not depend on goroutine scheduling.
	nch := 1
	if q.parallel() {
		nch = min(par.Workers, q.units)
	}
	parts := make([]*[]T, nch)
	work := func(ch int) {
		acc := gw[:wl]
		if ch > 0 {
			parts[ch] = getZeroBuf[T](wl)
			acc = *parts[ch]
		}
		bufs := newGemmScratch[T](q, true)
		defer bufs.release()
		colBuf, gyBuf := bufs.col, bufs.k
		for u := ch * q.units / nch; u < (ch+1)*q.units/nch; u++ {
			n0, cnt, g := q.unit(u)
			cols := cnt * q.P
			var a []T
			if cnt == 1 {
				a = gy[(n0*p.K+g*q.kg)*q.P:]
			} else {
				a = (*gyBuf)[:q.kg*cols]
				gatherRows(q, gy, n0, cnt, g, a)
			}
			var b []T
			if q.pointwise && cnt == 1 {
				b = x[(n0*p.C+g*q.cg)*q.P:]
			} else {
				b = (*colBuf)[:q.kc*cols]
				im2col(q, x, n0, cnt, g, b)
			}
			gemm.Gemm(false, true, q.kg, q.kc, cols, 1, a, cols, b, cols, 1, acc[g*q.kg*q.kc:], q.kc)
		}
	}
	if nch == 1 {
		work(0)
		return
	}
	par.For(nch, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			work(ch)
		}
	})
	for ch := 1; ch < nch; ch++ {
		part := (*parts[ch])[:wl]
		dst := gw[:wl]
		for i, v := range part {
			dst[i] += v
		}
		putBuf(parts[ch])
	}
}
