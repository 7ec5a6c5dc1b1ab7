package conv

import (
	"unsafe"

	"github.com/nvaego/nvae/pkg/par"
)

// The direct path handles convolutions with one input channel per group
// (Groups == C, K = m·C): output channel k reads input channel k/m only.
//
// Forward and backward filter copy each input plane into a zero-padded
// buffer whose columns are split into SW phases (column c of the padded
// plane goes to phase c%SW, index c/SW), so that for any stride and dilation
// every tap reads vl consecutive elements for vl consecutive outputs of a
// row. Backward data splits gx into SH×SW phases instead; each phase is a
// stride-1 correlation of the zero-padded gy with a subset of the taps.

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// dwXPlan lays out the padded, phase-split input buffer shared by forward and
// backward filter.
type dwXPlan struct {
	p        Params
	oh, ow   int
	m        int // channel multiplier K/C
	kk       int // KH*KW
	phaseW   int // elements per column phase of a buffer row
	rowLen   int // SW*phaseW
	rows     int // buffer rows
	bufLen   int
	direct   bool     // OW is a multiple of vl: kernels address y/gy in place
	ld       int      // row length of the output plane the kernels address
	fillRows int      // input rows copied into the buffer
	runs     []colRun // how an input row is spread over the column phases
	taps     tapList
	vecs     vecList   // padded to a multiple of 8 (forward); rows not in rp
	vecsOnce vecList   // the same, every vector once (backward filter)
	rp       *rowsPlan // rows kernels for the leading multiple of 8 rows, or nil
}

// colRun copies input columns src, src+SW, ... (n of them) of a row to
// buffer row elements dst, dst+1, ...
type colRun struct{ dst, src, n int }

func newDwXPlan[T Float](p Params) *dwXPlan {
	q := &dwXPlan{p: p, oh: p.OutH(), ow: p.OutW(), m: p.K / p.C, kk: p.KH * p.KW}
	vl := pickVL(wideKernels[T](), q.ow)
	q.vecs.vl = vl
	owp := roundUp(q.ow, vl)
	q.phaseW = owp + (p.KW-1)*p.DW/p.SW
	q.rowLen = p.SW * q.phaseW
	q.rows = (q.oh-1)*p.SH + (p.KH-1)*p.DH + 1
	q.bufLen = q.rows * q.rowLen
	q.direct = q.ow%vl == 0
	q.ld = owp
	q.fillRows = max(0, min(p.H, q.rows-p.PH))
	// Phase ph holds the padded columns c ≡ ph (mod SW): input columns iw0,
	// iw0+SW, ... where iw0 is the first one.
	for ph := 0; ph < p.SW; ph++ {
		iw0 := ((ph-p.PW)%p.SW + p.SW) % p.SW
		j0 := (iw0 + p.PW) / p.SW
		if iw0 >= p.W || j0 >= q.phaseW {
			continue
		}
		n := min(q.phaseW-j0, (p.W-iw0+p.SW-1)/p.SW)
		q.runs = append(q.runs, colRun{dst: ph*q.phaseW + j0, src: iw0, n: n})
	}
	if q.direct {
		q.ld = q.ow
	}
	for kh := 0; kh < p.KH; kh++ {
		for kw := 0; kw < p.KW; kw++ {
			c := kw * p.DW
			q.taps.add(kh*p.DH*q.rowLen + (c%p.SW)*q.phaseW + c/p.SW)
		}
	}
	firstVecRow := 0
	if p.SH == 1 && p.DH == 1 && q.oh >= rowsR {
		if q.rp = newRowsPlan[T](p.KH, vl, q.rowLen, q.ld); q.rp != nil {
			firstVecRow = q.oh / rowsR * rowsR
			for oh := 0; oh < firstVecRow; oh += rowsR {
				for b := 0; b < owp; b += vl {
					q.rp.grp.add(oh*q.rowLen+b, oh*q.ld+b)
				}
			}
			for kw := 0; kw < p.KW; kw++ {
				c := kw * p.DW
				q.rp.ctOff.add((c%p.SW)*q.phaseW + c/p.SW)
			}
		}
	}
	for oh := firstVecRow; oh < q.oh; oh++ {
		for b := 0; b < owp; b += vl {
			q.vecs.add(oh*p.SH*q.rowLen+b, oh*q.ld+b)
		}
	}
	q.vecsOnce = vecList{vl: vl, v: append([]int(nil), q.vecs.v...), maxIn: q.vecs.maxIn, maxOut: q.vecs.maxOut}
	q.vecs.padTo8()
	return q
}

// fillPlane copies the input plane xp (H×W) into the interior of the padded
// buffer buf; the border is never written and must have been cleared once.
func fillPlane[T Float](q *dwXPlan, buf, xp []T) {
	p := q.p
	if p.SW == 1 {
		if len(q.runs) > 0 {
			rn := q.runs[0]
			copyRows(buf[p.PH*q.rowLen+rn.dst:], xp, q.fillRows, rn.n, q.rowLen, p.W)
		}
		return
	}
	done := 0 // leading elements of each run already copied
	if p.SW == 2 && len(q.runs) == 2 && unsafe.Sizeof(T(0)) == 4 && useAVX512 && q.fillRows > 0 {
		// Runs taking input columns 0, 2, 4, ... and 1, 3, 5, ...
		ev, od := q.runs[0], q.runs[1]
		if ev.src != 0 {
			ev, od = od, ev
		}
		if chunks := min(ev.n, od.n, p.W/2) / 8; chunks > 0 {
			b32, x32 := f32(buf), f32(xp)
			base := p.PH * q.rowLen
			last := base + (q.fillRows-1)*q.rowLen
			_ = b32[last+max(ev.dst, od.dst)+8*chunks-1]
			_ = x32[(q.fillRows-1)*p.W+16*chunks-1]
			deint2AVX512(&b32[base+ev.dst], &b32[base+od.dst], &x32[0], q.fillRows, chunks, q.rowLen, p.W)
			done = 8 * chunks
		}
	}
	rest := false
	for _, rn := range q.runs {
		rest = rest || rn.n > done
	}
	if !rest {
		return
	}
	for ih := 0; ih < q.fillRows; ih++ {
		r := ih + p.PH
		row := buf[r*q.rowLen : (r+1)*q.rowLen]
		src := xp[ih*p.W : (ih+1)*p.W]
		for _, rn := range q.runs {
			if rn.n <= done {
				continue
			}
			dst := row[rn.dst+done : rn.dst+rn.n]
			s := src[rn.src+done*p.SW:]
			if p.SW == 2 {
				s = s[:2*len(dst)-1]
				for t := range dst {
					dst[t] = s[2*t]
				}
				continue
			}
			for t := range dst {
				dst[t] = s[t*p.SW]
			}
		}
	}
}

// planeGrain returns a par.For grain so that tiny problems run inline.
func planeGrain(flopsPerUnit int) int {
	const minWork = 1 << 16
	if flopsPerUnit >= minWork {
		return 1
	}
	return (minWork + flopsPerUnit - 1) / max(flopsPerUnit, 1)
}

func dwForward[T Float](p Params, x, w, bias, y []T, epi Epilogue[T]) {
	q := newDwXPlan[T](p)
	outPlane := q.oh * q.ow
	planes := p.N * p.C
	// epiRun hands the output planes of input planes run..pl to epi when
	// pl ends a run (the chunk's last plane, an image's last channel, or
	// about epiBlock elements) and returns the start of the next run.
	epiRun := func(run, pl, hi int) int {
		if epi == nil || !(pl+1 == hi || (pl+1)%p.C == 0 || (pl+1-run)*q.m*outPlane >= epiBlock) {
			return run
		}
		epi(y[run*q.m*outPlane:(pl+1)*q.m*outPlane], run%p.C*q.m, (pl+1-run)*q.m, outPlane, outPlane)
		return pl + 1
	}
	if sp := newDwSmallPlan[T](p); sp != nil {
		x32, w32, y32 := f32(x), f32(w), f32(y)
		par.For(planes, planeGrain(2*q.kk*outPlane), func(lo, hi int) {
			bufp := getZeroBuf[float32](sp.bufLen)
			defer putBuf(bufp)
			buf := *bufp
			run := lo
			for pl := lo; pl < hi; pl++ {
				c := pl % p.C
				var init float32
				if bias != nil {
					init = float32(bias[c])
				}
				sp.plane(buf, x32[pl*p.H*p.W:(pl+1)*p.H*p.W], w32[c*q.kk:(c+1)*q.kk], y32[pl*outPlane:(pl+1)*outPlane], init)
				run = epiRun(run, pl, hi)
			}
		})
		return
	}
	// The rows kernels take each filter with its column taps carried top to
	// bottom: transposed once here for all images.
	var ctAll []T
	if q.rp != nil {
		cb := getBuf[T](p.K * q.kk)
		defer putBuf(cb)
		ctAll = *cb
		for k := 0; k < p.K; k++ {
			wk, ct := w[k*q.kk:(k+1)*q.kk], ctAll[k*q.kk:(k+1)*q.kk]
			for kh := 0; kh < p.KH; kh++ {
				for kw := 0; kw < p.KW; kw++ {
					ct[kw*p.KH+kh] = wk[kh*p.KW+kw]
				}
			}
		}
	}
	par.For(planes, planeGrain(2*q.m*q.kk*outPlane), func(lo, hi int) {
		bufp := getZeroBuf[T](q.bufLen)
		defer putBuf(bufp)
		buf := *bufp
		var out []T
		if !q.direct {
			ob := getBuf[T](q.oh * q.ld)
			defer putBuf(ob)
			out = *ob
		}
		run := lo // first input plane of the epilogue's next run
		for pl := lo; pl < hi; pl++ {
			n, c := pl/p.C, pl%p.C
			fillPlane(q, buf, x[pl*p.H*p.W:(pl+1)*p.H*p.W])
			for j := 0; j < q.m; j++ {
				k := c*q.m + j
				var init T
				if bias != nil {
					init = bias[k]
				}
				dst := y[(n*p.K+k)*outPlane : (n*p.K+k+1)*outPlane]
				o := dst
				if !q.direct {
					o = out
				}
				wk := w[k*q.kk : (k+1)*q.kk]
				if q.rp != nil {
					q.rp.check(len(buf), len(o))
					rowsForward(q.rp, buf, o, ctAll[k*q.kk:(k+1)*q.kk], init)
				}
				if q.vecs.n() > 0 {
					checkBounds(&q.vecs, &q.taps, len(buf), len(o))
					kernFwd(buf, o, &q.vecs, &q.taps, wk, init)
				}
				if !q.direct {
					copyRows(dst, out, q.oh, q.ow, q.ow, q.ld)
				}
			}
			run = epiRun(run, pl, hi)
		}
	})
}

// epiBlock is about the number of output elements the depthwise forward
// hands to its epilogue at once (while they are in the first-level cache).
const epiBlock = 4096

func dwBackwardFilter[T Float](p Params, x, gy, gw []T) {
	q := newDwXPlan[T](p)
	outPlane := q.oh * q.ow
	// One unit per output channel k; it reduces over the images in order.
	par.For(p.K, planeGrain(2*p.N*q.kk*outPlane), func(lo, hi int) {
		bufp := getZeroBuf[T](q.bufLen)
		defer putBuf(bufp)
		buf := *bufp
		var gbuf []T
		if !q.direct {
			gb := getZeroBuf[T](q.oh * q.ld)
			defer putBuf(gb)
			gbuf = *gb
		}
		acc := newFiltAcc[T](q.kk, q.vecs.vl)
		var rowsLanes []float32
		if q.rp != nil {
			rowsLanes = make([]float32, q.kk*q.vecs.vl)
		}
		for k := lo; k < hi; k++ {
			c := k / q.m
			acc.reset()
			clear(rowsLanes)
			for n := 0; n < p.N; n++ {
				pl := n*p.C + c
				fillPlane(q, buf, x[pl*p.H*p.W:(pl+1)*p.H*p.W])
				g := gy[(n*p.K+k)*outPlane : (n*p.K+k+1)*outPlane]
				if !q.direct {
					copyRows(gbuf, g, q.oh, q.ow, q.ld, q.ow)
					g = gbuf
				}
				if q.rp != nil {
					q.rp.check(len(buf), len(g))
					rowsFilter(q.rp, buf, g, rowsLanes)
				}
				if q.vecsOnce.n() > 0 {
					checkBounds(&q.vecsOnce, &q.taps, len(buf), len(g))
					kernFilt(buf, g, &q.vecsOnce, &q.taps, acc)
				}
			}
			sums := acc.result()
			if q.rp != nil {
				// rowsLanes is [kw][kh][lane].
				vl := q.vecs.vl
				for kw := 0; kw < p.KW; kw++ {
					for kh := 0; kh < p.KH; kh++ {
						var s float64
						for _, v := range rowsLanes[(kw*p.KH+kh)*vl : (kw*p.KH+kh+1)*vl] {
							s += float64(v)
						}
						sums[kh*p.KW+kw] += s
					}
				}
			}
			for t, s := range sums {
				gw[k*q.kk+t] = T(s)
			}
		}
	})
}

// dwPhase is one output phase (rows a+SH·i, columns b+SW·j of gx) of the
// direct backward data.
type dwPhase struct {
	a, b    int
	rows    int // phase rows ceil((H-a)/SH)
	cols    int // phase columns ceil((W-b)/SW)
	ld      int // row length of the phase output the kernel writes
	taps    tapList
	widx    []int // weight index (within the channel's m·KH·KW weights) of each tap
	vecs    vecList
	inPlace bool      // the kernel writes gx directly (stride 1, W a multiple of vl)
	outOff  int       // offset of the phase output in the scratch buffer otherwise
	rp      *rowsPlan // rows kernels for the leading multiple of 8 rows, or nil
	ctW     []int     // weight index of each rows-kernel weight (column tap, kernel row)
}

// dwGyPlan lays out the zero-padded gy buffer (m planes, one per multiplier)
// and the phases of the direct backward data.
type dwGyPlan struct {
	p         Params
	oh, ow    int
	m, kk     int
	top, left int // zero rows above / columns left of gy in the buffer
	rows, w   int // buffer plane rows and row length
	planeLen  int
	phases    []dwPhase
	outLen    int // scratch output length for phases not written in place
}

func newDwGyPlan[T Float](p Params) *dwGyPlan {
	q := &dwGyPlan{p: p, oh: p.OutH(), ow: p.OutW(), m: p.K / p.C, kk: p.KH * p.KW}
	vl := pickVL(wideKernels[T](), (p.W+p.SW-1)/p.SW)
	// gx[a+SH·i, b+SW·j] = Σ w[kh,kw]·gy[i+ro(a,kh), j+co(b,kw)] over the taps with
	// (a+PH-kh·DH) divisible by SH (ro its quotient) and likewise for columns.
	type off struct{ k, o int }
	rowTaps := make([][]off, p.SH)
	colTaps := make([][]off, p.SW)
	minR, minC := 0, 0
	for a := 0; a < p.SH; a++ {
		for kh := 0; kh < p.KH; kh++ {
			if d := a + p.PH - kh*p.DH; d%p.SH == 0 {
				rowTaps[a] = append(rowTaps[a], off{kh, d / p.SH})
				minR = min(minR, d/p.SH)
			}
		}
	}
	for b := 0; b < p.SW; b++ {
		for kw := 0; kw < p.KW; kw++ {
			if d := b + p.PW - kw*p.DW; d%p.SW == 0 {
				colTaps[b] = append(colTaps[b], off{kw, d / p.SW})
				minC = min(minC, d/p.SW)
			}
		}
	}
	q.top, q.left = -minR, -minC
	q.rows, q.w = 1, 1
	for a := 0; a < min(p.SH, p.H); a++ {
		rows := (p.H - a + p.SH - 1) / p.SH
		for _, rt := range rowTaps[a] {
			q.rows = max(q.rows, rows+rt.o+q.top)
		}
	}
	for b := 0; b < min(p.SW, p.W); b++ {
		cols := roundUp((p.W-b+p.SW-1)/p.SW, vl)
		for _, ct := range colTaps[b] {
			q.w = max(q.w, cols+ct.o+q.left)
		}
	}
	q.planeLen = q.rows * q.w
	inPlace := p.SH == 1 && p.SW == 1 && p.W%vl == 0
	for a := 0; a < min(p.SH, p.H); a++ {
		for b := 0; b < min(p.SW, p.W); b++ {
			ph := dwPhase{vecs: vecList{vl: vl}, a: a, b: b, rows: (p.H - a + p.SH - 1) / p.SH, cols: (p.W - b + p.SW - 1) / p.SW, inPlace: inPlace}
			// All phases share one row length so that column phases can be
			// interleaved row by row.
			ph.ld = roundUp((p.W+p.SW-1)/p.SW, vl)
			ph.outOff = q.outLen
			if inPlace {
				ph.ld = p.W
			}
			for j := 0; j < q.m; j++ {
				for _, rt := range rowTaps[a] {
					for _, ct := range colTaps[b] {
						ph.taps.add(j*q.planeLen + (rt.o+q.top)*q.w + ct.o + q.left)
						ph.widx = append(ph.widx, j*q.kk+rt.k*p.KW+ct.k)
					}
				}
			}
			firstVecRow := 0
			if p.SH == 1 && p.SW == 1 && p.DH == 1 && ph.rows >= rowsR {
				// Stride 1: gx[i, j] = Σ w[KH-1-r, kw]·gy[i+base+r-top, j+PW-kw·DW]
				// with r = 0..KH-1 walking the buffer rows downwards.
				if ph.rp = newRowsPlan[T](p.KH, vl, q.w, ph.ld); ph.rp != nil {
					firstVecRow = ph.rows / rowsR * rowsR
					for i := 0; i < firstVecRow; i += rowsR {
						for c := 0; c < ph.cols; c += vl {
							ph.rp.grp.add(i*q.w+c, i*ph.ld+c)
						}
					}
					base := p.PH - (p.KH - 1) + q.top
					for j := 0; j < q.m; j++ {
						for kw := 0; kw < p.KW; kw++ {
							ph.rp.ctOff.add(j*q.planeLen + base*q.w + p.PW - kw*p.DW + q.left)
							for r := 0; r < p.KH; r++ {
								ph.ctW = append(ph.ctW, j*q.kk+(p.KH-1-r)*p.KW+kw)
							}
						}
					}
				}
			}
			for i := firstVecRow; i < ph.rows; i++ {
				for c := 0; c < ph.cols; c += vl {
					ph.vecs.add(i*q.w+c, i*ph.ld+c)
				}
			}
			ph.vecs.padTo8()
			if !inPlace {
				q.outLen += ph.rows * ph.ld
			}
			q.phases = append(q.phases, ph)
		}
	}
	return q
}

func dwBackwardData[T Float](p Params, gy, w, gx []T) {
	q := newDwGyPlan[T](p)
	outPlane := q.oh * q.ow
	inPlane := p.H * p.W
	maxW := 1
	for i := range q.phases {
		maxW = max(maxW, len(q.phases[i].taps.off), len(q.phases[i].ctW))
	}
	par.For(p.N*p.C, planeGrain(2*q.m*q.kk*outPlane), func(lo, hi int) {
		bufp := getZeroBuf[T](q.m * q.planeLen)
		defer putBuf(bufp)
		buf := *bufp
		var out []T
		if q.outLen > 0 {
			ob := getBuf[T](q.outLen)
			defer putBuf(ob)
			out = *ob
		}
		wb := getBuf[T](maxW)
		defer putBuf(wb)
		wt := *wb
		for pl := lo; pl < hi; pl++ {
			n, c := pl/p.C, pl%p.C
			// Copy the m gy planes of channel c into the interior of buf.
			for j := 0; j < q.m; j++ {
				g := gy[(n*p.K+c*q.m+j)*outPlane : (n*p.K+c*q.m+j+1)*outPlane]
				if q.left < q.w {
					dst := buf[j*q.planeLen+q.top*q.w+q.left : (j+1)*q.planeLen]
					copyRows(dst, g, min(q.oh, q.rows-q.top), min(q.ow, q.w-q.left), q.w, q.ow)
				}
			}
			gxp := gx[pl*inPlane : (pl+1)*inPlane]
			wc := w[c*q.m*q.kk : (c+1)*q.m*q.kk]
			for i := range q.phases {
				ph := &q.phases[i]
				o := gxp
				if !ph.inPlace {
					o = out[ph.outOff : ph.outOff+ph.rows*ph.ld]
				}
				nt := len(ph.taps.off)
				if nt == 0 {
					// No tap reaches this phase: its gradient is zero.
					clear(o)
					continue
				}
				if ph.rp != nil {
					for t, wi := range ph.ctW {
						wt[t] = wc[wi]
					}
					ph.rp.check(len(buf), len(o))
					rowsForward(ph.rp, buf, o, wt[:len(ph.ctW)], 0)
				}
				if ph.vecs.n() > 0 {
					for t, wi := range ph.widx {
						wt[t] = wc[wi]
					}
					checkBounds(&ph.vecs, &ph.taps, len(buf), len(o))
					kernFwd(buf, o, &ph.vecs, &ph.taps, wt[:nt], 0)
				}
			}
			if q.outLen > 0 {
				scatterPhases(q, gxp, out)
			}
		}
	})
}

// scatterPhases writes the phase outputs held in out into the gx plane gxp:
// phase (a, b) holds gx[a+SH·i, b+SW·j] at out[outOff + i·ld + j].
func scatterPhases[T Float](q *dwGyPlan, gxp, out []T) {
	p := q.p
	if p.SW == 1 {
		for i := range q.phases {
			ph := &q.phases[i]
			copyRows(gxp[ph.a*p.W:], out[ph.outOff:], ph.rows, ph.cols, p.SH*p.W, ph.ld)
		}
		return
	}
	done := make([]int, len(q.phases)) // leading columns of each phase already written
	if p.SW == 2 && unsafe.Sizeof(T(0)) == 4 && useAVX512 {
		for i := 0; i+1 < len(q.phases); i++ {
			ev, od := &q.phases[i], &q.phases[i+1]
			if ev.b != 0 || od.b != 1 || ev.a != od.a {
				continue
			}
			chunks := min(ev.cols, od.cols) / 8
			if chunks == 0 {
				continue
			}
			g32, o32 := f32(gxp), f32(out)
			_ = g32[ev.a*p.W+(ev.rows-1)*p.SH*p.W+16*chunks-1]
			_ = o32[ev.outOff+(ev.rows-1)*ev.ld+8*chunks-1]
			_ = o32[od.outOff+(od.rows-1)*od.ld+8*chunks-1]
			int2AVX512(&g32[ev.a*p.W], &o32[ev.outOff], &o32[od.outOff], ev.rows, chunks, p.SH*p.W, ev.ld)
			done[i], done[i+1] = 8*chunks, 8*chunks
		}
	}
	for i := range q.phases {
		ph := &q.phases[i]
		if done[i] >= ph.cols {
			continue
		}
		for r := 0; r < ph.rows; r++ {
			src := out[ph.outOff+r*ph.ld+done[i] : ph.outOff+r*ph.ld+ph.cols]
			row := gxp[(ph.a+r*p.SH)*p.W+ph.b+done[i]*p.SW:]
			for cc, v := range src {
				row[cc*p.SW] = v
			}
		}
	}
}
