package conv

import (
	"fmt"
	"unsafe"
)

// pickVL returns the vector length, in elements, of the direct kernels for
// rows of n outputs: 16 where the AVX-512 kernels run (wide) and the rows
// are long enough to fill 16-lane vectors, 8 otherwise. Outputs are produced
// in runs of vl consecutive elements of one row.
func pickVL(wide bool, n int) int {
	if wide && roundUp(n, 16)*4 <= roundUp(n, 8)*5 {
		return 16
	}
	return 8
}

// wideKernels reports whether T runs the AVX-512 kernels.
func wideKernels[T Float]() bool { return (unsafe.Sizeof(T(0)) == 4 && useAVX512) || forceWide }

// forceWide makes every type use 16-lane vectors (tests of the Go kernels).
var forceWide = false

// vecList lists output vectors of the direct kernels as (input offset,
// output offset) pairs, in elements. The input offset is where tap offset 0
// of the vector's first lane lies in the padded input buffer.
type vecList struct {
	vl     int   // vector length in elements, 8 or 16
	v      []int // pairs: v[2i] input offset, v[2i+1] output offset
	maxIn  int   // largest input offset
	maxOut int   // largest output offset
}

func (l *vecList) add(in, out int) {
	l.v = append(l.v, in, out)
	l.maxIn = max(l.maxIn, in)
	l.maxOut = max(l.maxOut, out)
}

func (l *vecList) n() int { return len(l.v) / 2 }

// padTo8 repeats the last vector until the count is a multiple of 8 (the
// forward kernel works on 8 vectors at a time; a repeated vector computes
// and stores the same values twice).
func (l *vecList) padTo8() {
	for l.n()%8 != 0 {
		l.v = append(l.v, l.v[len(l.v)-2], l.v[len(l.v)-1])
	}
}

// tapList lists kernel taps as offsets, in elements, into the padded input.
type tapList struct {
	off    []int
	maxOff int
}

func (t *tapList) add(off int) {
	t.off = append(t.off, off)
	t.maxOff = max(t.maxOff, off)
}

// checkBounds panics unless every vector read and write stays inside in and
// out; the assembly kernels rely on it.
func checkBounds(vecs *vecList, taps *tapList, inLen, outLen int) {
	if vecs.maxIn+taps.maxOff+vecs.vl > inLen || vecs.maxOut+vecs.vl > outLen {
		panic(fmt.Sprintf("conv: internal error: direct kernel out of bounds (in %d+%d+%d > %d or out %d+%d > %d)",
			vecs.maxIn, taps.maxOff, vecs.vl, inLen, vecs.maxOut, vecs.vl, outLen))
	}
}

// f32 reinterprets a slice of a 4-byte Float type as []float32.
func f32[T Float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// kernFwd computes, for each vector (vi, vo) of vecs,
//
//	out[vo+l] = init + Σ_t w[t]·in[vi+taps[t]+l],  l = 0..vl-1.
//
// len(vecs.v)/2 must be a multiple of 8 and len(taps.off) ≥ 1. Callers have
// checked bounds with checkBounds.
func kernFwd[T Float](in, out []T, vecs *vecList, taps *tapList, w []T, init T) {
	if unsafe.Sizeof(T(0)) == 4 {
		in32, out32, w32 := f32(in), f32(out), f32(w[:len(taps.off)])
		switch {
		case vecs.vl == 16 && useAVX512:
			fwdKernAVX512(&in32[0], &out32[0], &vecs.v[0], vecs.n(), &taps.off[0], &w32[0], len(taps.off), float32(init))
			return
		case vecs.vl == 8 && useAVX2:
			fwdKernAVX2(&in32[0], &out32[0], &vecs.v[0], vecs.n(), &taps.off[0], &w32[0], len(taps.off), float32(init))
			return
		}
	}
	kernFwdGo(in, out, vecs.vl, vecs.v, taps.off, w, init)
}

func kernFwdGo[T Float](in, out []T, vl int, vec, taps []int, w []T, init T) {
	w = w[:len(taps)]
	for i := 0; i+1 < len(vec); i += 2 {
		for sub := 0; sub < vl; sub += 8 {
			vi, vo := vec[i]+sub, vec[i+1]+sub
			a0, a1, a2, a3, a4, a5, a6, a7 := init, init, init, init, init, init, init, init
			for t, off := range taps {
				wt := w[t]
				s := in[vi+off : vi+off+8 : vi+off+8]
				a0 += wt * s[0]
				a1 += wt * s[1]
				a2 += wt * s[2]
				a3 += wt * s[3]
				a4 += wt * s[4]
				a5 += wt * s[5]
				a6 += wt * s[6]
				a7 += wt * s[7]
			}
			o := out[vo : vo+8 : vo+8]
			o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7] = a0, a1, a2, a3, a4, a5, a6, a7
		}
	}
}

// filtAcc accumulates the per-tap sums of the backward filter: in vector
// lanes (float32, reduced at the end) for the assembly kernels, in float64
// for the Go kernels.
type filtAcc struct {
	nt, vl int
	lanes  []float32 // ceil(nt/8) groups of 8 taps × vl lanes
	sums   []float64
	asm    bool
}

func newFiltAcc[T Float](nt, vl int) *filtAcc {
	a := &filtAcc{nt: nt, vl: vl, sums: make([]float64, nt)}
	a.asm = unsafe.Sizeof(T(0)) == 4 && ((vl == 16 && useAVX512) || (vl == 8 && useAVX2))
	if a.asm {
		a.lanes = make([]float32, (nt+7)/8*8*vl)
	}
	return a
}

func (a *filtAcc) reset() {
	clear(a.lanes)
	clear(a.sums)
}

// result returns the per-tap sums accumulated since reset.
func (a *filtAcc) result() []float64 {
	if a.asm {
		for t := range a.sums {
			l := a.lanes[t*a.vl : (t+1)*a.vl]
			var s float64
			for _, v := range l {
				s += float64(v)
			}
			a.sums[t] = s
		}
	}
	return a.sums
}

// kernFilt adds, for each tap t, Σ_vectors Σ_l g[vo+l]·in[vi+taps[t]+l]
// to the accumulator. Each vector must be listed once (no padding).
func kernFilt[T Float](in, g []T, vecs *vecList, taps *tapList, acc *filtAcc) {
	if !acc.asm {
		kernFiltGo(in, g, vecs.vl, vecs.v, taps.off, acc.sums)
		return
	}
	in32, g32 := f32(in), f32(g)
	var offs [8]int
	nt := len(taps.off)
	for t0 := 0; t0 < nt; t0 += 8 {
		for j := range offs {
			offs[j] = taps.off[min(t0+j, nt-1)]
		}
		lanes := acc.lanes[t0*acc.vl : (t0+8)*acc.vl]
		if acc.vl == 16 {
			filtKernAVX512(&in32[0], &g32[0], &vecs.v[0], vecs.n(), &offs, (*[128]float32)(lanes))
		} else {
			filtKernAVX2(&in32[0], &g32[0], &vecs.v[0], vecs.n(), &offs, (*[64]float32)(lanes))
		}
	}
}

func kernFiltGo[T Float](in, g []T, vl int, vec, taps []int, sums []float64) {
	sums = sums[:len(taps)]
	for t, off := range taps {
		var a0, a1, a2, a3 T
		for i := 0; i+1 < len(vec); i += 2 {
			for sub := 0; sub < vl; sub += 8 {
				vi, vo := vec[i]+off+sub, vec[i+1]+sub
				s := in[vi : vi+8 : vi+8]
				q := g[vo : vo+8 : vo+8]
				a0 += q[0]*s[0] + q[4]*s[4]
				a1 += q[1]*s[1] + q[5]*s[5]
				a2 += q[2]*s[2] + q[6]*s[6]
				a3 += q[3]*s[3] + q[7]*s[7]
			}
		}
		sums[t] += float64((a0 + a1) + (a2 + a3))
	}
}

// rowsPlan drives the rows kernels: groups of 8 consecutive output rows ×
// one vector, where output row i+1 reads the input rows of output row i
// shifted down by one (stride 1, dilation 1 vertically). Every input vector
// is then loaded once per column tap and used for all the kernel rows.
type rowsPlan struct {
	kh     int
	rowLen int // input row stride
	ld     int // output (or gy) row stride
	grp    vecList
	ctOff  tapList // column taps: offset of kernel row 0
	fwd    fwdRowsFn
	filt   filtRowsFn
}

// newRowsPlan returns a rows plan for kernel height kh and vector length
// vl, or nil where no rows kernel exists for T.
func newRowsPlan[T Float](kh, vl, rowLen, ld int) *rowsPlan {
	if unsafe.Sizeof(T(0)) != 4 || kh < rowsMinKH || kh > rowsMaxKH || disableRows {
		return nil
	}
	r := &rowsPlan{kh: kh, rowLen: rowLen, ld: ld, grp: vecList{vl: vl}}
	switch {
	case vl == 16 && useAVX512:
		r.fwd, r.filt = fwdRowsAVX512[kh], filtRowsAVX512[kh]
	case vl == 8 && useAVX2:
		r.fwd, r.filt = fwdRowsAVX2[kh], filtRowsAVX2[kh]
	}
	if r.fwd == nil || r.filt == nil {
		return nil
	}
	return r
}

// disableRows turns the rows kernels off (tests and comparisons).
var disableRows = false

// check panics unless every read and write of the rows kernels stays inside
// in and out.
func (r *rowsPlan) check(inLen, outLen int) {
	vl := r.grp.vl
	if r.grp.n() == 0 {
		return
	}
	if r.grp.maxIn+(rowsR+r.kh-2)*r.rowLen+r.ctOff.maxOff+vl > inLen || r.grp.maxOut+(rowsR-1)*r.ld+vl > outLen {
		panic("conv: internal error: rows kernel out of bounds")
	}
}

// rowsR is the number of output rows of a rows-kernel group.
const rowsR = 8

// forward runs the forward rows kernel with column-tap weights ctW
// (kh per column tap).
func rowsForward[T Float](r *rowsPlan, in, out, ctW []T, init T) {
	if r.grp.n() == 0 {
		return
	}
	in32, out32, w32 := f32(in), f32(out), f32(ctW[:len(r.ctOff.off)*r.kh])
	r.fwd(&in32[0], &out32[0], &r.grp.v[0], r.grp.n(), r.rowLen, r.ld, &r.ctOff.off[0], &w32[0], len(r.ctOff.off), float32(init))
}

// rowsFilter adds the backward-filter sums of the rows groups to lanes,
// laid out [column tap][kernel row][vl].
func rowsFilter[T Float](r *rowsPlan, in, gy []T, lanes []float32) {
	if r.grp.n() == 0 {
		return
	}
	in32, g32 := f32(in), f32(gy)
	_ = lanes[len(r.ctOff.off)*r.kh*r.grp.vl-1]
	r.filt(&in32[0], &g32[0], &r.grp.v[0], r.grp.n(), r.rowLen, r.ld, &r.ctOff.off[0], len(r.ctOff.off), &lanes[0])
}

// rowsDone is the common start of copyRows and addRows: it reports true
// when there is nothing to do, or when it has done the work with avx (the
// float32 AVX-512 kernel); false leaves the rows to the caller's loop. An
// out-of-range block panics here, before any element is written.
func rowsDone[T Float](dst, src []T, rows, n, dstStride, srcStride int, avx func(dst, src *float32, rows, n, dstStride, srcStride int)) bool {
	if rows <= 0 || n <= 0 {
		return true
	}
	_ = dst[(rows-1)*dstStride+n-1]
	_ = src[(rows-1)*srcStride+n-1]
	if unsafe.Sizeof(T(0)) == 4 && useAVX512 {
		d32, s32 := f32(dst), f32(src)
		avx(&d32[0], &s32[0], rows, n, dstStride, srcStride)
		return true
	}
	return false
}

// copyRows copies rows×n elements: row r of src (at r·srcStride) to row r of
// dst (at r·dstStride).
func copyRows[T Float](dst, src []T, rows, n, dstStride, srcStride int) {
	if rowsDone(dst, src, rows, n, dstStride, srcStride, copyRowsAVX512) {
		return
	}
	for r := 0; r < rows; r++ {
		copy(dst[r*dstStride:r*dstStride+n], src[r*srcStride:r*srcStride+n])
	}
}

// addRows adds rows×n elements: row r of src (at r·srcStride) to row r of
// dst (at r·dstStride).
func addRows[T Float](dst, src []T, rows, n, dstStride, srcStride int) {
	if rowsDone(dst, src, rows, n, dstStride, srcStride, addRowsAVX512) {
		return
	}
	for r := 0; r < rows; r++ {
		d := dst[r*dstStride : r*dstStride+n]
		for i, v := range src[r*srcStride : r*srcStride+n] {
			d[i] += v
		}
	}
}

// addBias adds bias[r] to the n leading elements of each of the rows rows of
// c (row stride ld).
func addBias[T Float](c, bias []T, rows, n, ld int) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = c[(rows-1)*ld+n-1]
	_ = bias[rows-1]
	if unsafe.Sizeof(T(0)) == 4 && useAVX512 {
		c32, b32 := f32(c), f32(bias)
		addBiasAVX512(&c32[0], &b32[0], rows, n, ld)
		return
	}
	for r := 0; r < rows; r++ {
		bv := bias[r]
		row := c[r*ld : r*ld+n]
		for j := range row {
			row[j] += bv
		}
	}
}
