package gemm

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/nvaego/nvae/pkg/par"
)

// kernelFn is a micro-kernel: it multiplies a packed mr×kc A micro-panel by
// a packed kc×nr B micro-panel and writes alpha*acc + beta*C into the C tile
// at c (row stride ldc elements), only in the columns whose bit is set in
// mask. The row count is fixed per kernel; C is never read when beta == 0.
type kernelFn[T Float] func(kc int, a, b, c unsafe.Pointer, ldc int, mask uint64, alpha, beta T)

// engine is one blocked GEMM implementation: tile shape, micro-kernels
// (kern[r-1] handles r rows) and cache block sizes.
type engine[T Float] struct {
	name       string
	mr, nr     int
	kern       []kernelFn[T]
	mc, kc, nc int
	// masked reports that the kernels honour the column mask; otherwise
	// they always write nr columns and edge tiles go through a buffer.
	masked bool
	// tr8, when set, transposes 8×8 blocks (see transpose8x8s); the
	// packing routines use it for the strided gathers.
	tr8 func(src unsafe.Pointer, lds int, dst unsafe.Pointer, ldd int, nblk int)
	// packBN, when set, packs whole nr-wide panels of a B that is not
	// transposed (see packB48s).
	packBN func(src unsafe.Pointer, ldb int, dst unsafe.Pointer, kb int, npanels int)
	pools  [64]sync.Pool
}

// alignElems returns how many elements to skip at the start of buf so the
// data begins on a 64-byte boundary.
func alignElems[T Float](buf []T) int {
	var z T
	sz := int(unsafe.Sizeof(z))
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	mis := int(addr & 63)
	if mis == 0 {
		return 0
	}
	return (64 - mis) / sz
}

// buffers returns pack buffers of na elements for A and nb for B, both
// 64-byte aligned, plus the pooled slice to hand back with release. The
// pools hold power-of-two sizes so calls of different shapes do not keep
// throwing each other's buffers away.
func (e *engine[T]) buffers(na, nb int) (pa, pb []T, back *[]T) {
	need := na + nb + 128
	class := bits.Len(uint(need - 1))
	p, _ := e.pools[class].Get().(*[]T)
	if p == nil {
		s := make([]T, 1<<class)
		p = &s
	}
	buf := *p
	off := alignElems(buf)
	pa = buf[off : off+na]
	off += na
	off += alignElems(buf[off:])
	pb = buf[off : off+nb]
	return pa, pb, p
}

// release returns a buffer from buffers to its pool.
func (e *engine[T]) release(p *[]T) {
	e.pools[bits.Len(uint(len(*p)-1))].Put(p)
}

func roundUp(x, r int) int { return (x + r - 1) / r * r }

// job is one GEMM call.
type job[T Float] struct {
	e              *engine[T]
	transA, transB bool
	m, n, k        int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
	// packFn, when set, supplies the packed panels of B in place of b
	// (GemmPackB).
	packFn PackB[T]
}

// parallelFlops is the work (2·m·n·k) below which a call stays on one core.
const parallelFlops = 1 << 21

// serial reports whether the call is too small to be worth splitting.
func (j *job[T]) serial() bool {
	return par.Workers <= 1 || 2*j.m*j.n*j.k < parallelFlops
}

// kBlock returns the K block size: K split into equal blocks of at most
// kc, rounded up to a multiple of 4 (the kernels' unroll).
func (j *job[T]) kBlock() int {
	nk := (j.k + j.e.kc - 1) / j.e.kc
	return roundUp((j.k+nk-1)/nk, 4)
}

// block computes the C sub-block rows [i0,i1) × columns [j0,j1) with the
// Goto loop nest: N blocks of nc, K blocks of kc (pack B), M blocks of mc
// (pack A), then the macro-kernel.
func (j *job[T]) block(i0, i1, j0, j1 int) {
	e := j.e
	// Equal K blocks (kBlock); the N block grows as K shrinks so the packed
	// B block keeps about kc×nc elements; N is split into equal blocks too.
	kc := j.kBlock()
	ncMax := max(e.nr, e.nc*e.kc/kc/e.nr*e.nr)
	nn := (j1 - j0 + ncMax - 1) / ncMax
	nc := roundUp((j1-j0+nn-1)/nn, e.nr)
	mc := min(e.mc, roundUp(i1-i0, e.mr))
	pa, pb, back := e.buffers(mc*kc, nc*kc)
	defer e.release(back)
	for jc := j0; jc < j1; jc += nc {
		nb := min(nc, j1-jc)
		for pc := 0; pc < j.k; pc += kc {
			kb := min(kc, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			j.packB(pb, pc, kb, jc, nb)
			for ic := i0; ic < i1; ic += mc {
				mb := min(mc, i1-ic)
				j.packA(pa, ic, mb, pc, kb)
				j.macro(pa, pb, ic, mb, jc, nb, kb, beta)
			}
		}
	}
}

// macro runs the micro-kernel over the mb×nb block of C at (ic, jc).
func (j *job[T]) macro(pa, pb []T, ic, mb, jc, nb, kb int, beta T) {
	e := j.e
	mr, nr := e.mr, e.nr
	ldc := j.ldc
	cbase := unsafe.Pointer(unsafe.SliceData(j.c))
	var z T
	sz := unsafe.Sizeof(z)
	full := uint64(1)<<uint(nr) - 1
	if nr >= 64 {
		full = ^uint64(0)
	}
	pA := unsafe.Pointer(unsafe.SliceData(pa))
	pB := unsafe.Pointer(unsafe.SliceData(pb))
	// The A micro-panel stays in L1 across a row of tiles while the B
	// micro-panels stream from the L2-resident packed block.
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		kern := e.kern[rows-1]
		ap := unsafe.Add(pA, uintptr(ir*kb)*sz)
		for jr := 0; jr < nb; jr += nr {
			cols := nb - jr
			bp := unsafe.Add(pB, uintptr(jr*kb)*sz)
			cp := unsafe.Add(cbase, uintptr((ic+ir)*ldc+jc+jr)*sz)
			if cols >= nr {
				kern(kb, ap, bp, cp, ldc, full, j.alpha, beta)
				continue
			}
			if e.masked {
				kern(kb, ap, bp, cp, ldc, uint64(1)<<uint(cols)-1, j.alpha, beta)
				continue
			}
			j.edgeTile(kern, kb, ap, bp, ic+ir, rows, jc+jr, cols, beta)
		}
	}
}

// edgeTile runs a kernel that always writes nr columns on a tile with only
// cols columns of C: into a buffer first, then merged into C.
func (j *job[T]) edgeTile(kern kernelFn[T], kb int, ap, bp unsafe.Pointer, i0, rows, j0, cols int, beta T) {
	nr := j.e.nr
	var tile [maxTile]T
	kern(kb, ap, bp, unsafe.Pointer(&tile[0]), nr, ^uint64(0), 1, 0)
	for i := 0; i < rows; i++ {
		crow := j.c[(i0+i)*j.ldc+j0 : (i0+i)*j.ldc+j0+cols]
		t := tile[i*nr : i*nr+cols]
		for x, v := range t {
			if beta == 0 {
				crow[x] = j.alpha * v
			} else {
				crow[x] = j.alpha*v + beta*crow[x]
			}
		}
	}
}

// maxTile bounds mr×nr of engines whose kernels ignore the column mask.
const maxTile = 256

// packA copies op(A)[ic:ic+mb, pc:pc+kb] into pa as micro-panels of mr rows:
// panel q holds element (q*mr+i, p) at q*mr*kb + p*mr + i; rows past mb are
// zero.
func (j *job[T]) packA(pa []T, ic, mb, pc, kb int) {
	mr := j.e.mr
	a, lda := j.a, j.lda
	for ir := 0; ir < mb; ir += mr {
		h := min(mr, mb-ir)
		dst := pa[ir*kb : ir*kb+mr*kb]
		if j.transA {
			// op(A)[i][p] = a[p*lda + i]: rows of the panel are contiguous.
			base := pc*lda + ic + ir
			if h == 8 && mr == 8 {
				for p := 0; p < kb; p++ {
					*(*[8]T)(dst[p*8:]) = [8]T(a[base+p*lda:])
				}
				continue
			}
			for p := 0; p < kb; p++ {
				d := dst[p*mr : p*mr+mr]
				src := a[base+p*lda : base+p*lda+h]
				copy(d, src)
				clear(d[h:])
			}
			continue
		}
		// op(A)[i][p] = a[i*lda + p]: gather one element per row.
		if h == 8 && mr == 8 {
			off := (ic+ir)*lda + pc
			done := 0
			if tr := j.e.tr8; tr != nil && kb >= 8 {
				done = kb &^ 7
				_ = a[off+7*lda+done-1] // the blocks lie inside a
				tr(unsafe.Pointer(&a[off]), lda, unsafe.Pointer(&dst[0]), 8, done/8)
			}
			if done < kb {
				packRows8(dst[done*8:], a, off+done, lda, kb-done)
			}
			continue
		}
		for i := 0; i < h; i++ {
			row := a[(ic+ir+i)*lda+pc : (ic+ir+i)*lda+pc+kb]
			for p, v := range row {
				dst[p*mr+i] = v
			}
		}
		for i := h; i < mr; i++ {
			for p := 0; p < kb; p++ {
				dst[p*mr+i] = 0
			}
		}
	}
}

// packRows8 interleaves 8 rows of length kb starting at off (stride ld) into
// dst as dst[p*8+i].
func packRows8[T Float](dst, src []T, off, ld, kb int) {
	r0 := src[off : off+kb]
	r1 := src[off+ld : off+ld+kb]
	r2 := src[off+2*ld : off+2*ld+kb]
	r3 := src[off+3*ld : off+3*ld+kb]
	r4 := src[off+4*ld : off+4*ld+kb]
	r5 := src[off+5*ld : off+5*ld+kb]
	r6 := src[off+6*ld : off+6*ld+kb]
	r7 := src[off+7*ld : off+7*ld+kb]
	dst = dst[:8*kb]
	for p := range r0 {
		d := dst[p*8 : p*8+8 : p*8+8]
		d[0] = r0[p]
		d[1] = r1[p]
		d[2] = r2[p]
		d[3] = r3[p]
		d[4] = r4[p]
		d[5] = r5[p]
		d[6] = r6[p]
		d[7] = r7[p]
	}
}

// packB copies op(B)[pc:pc+kb, jc:jc+nb] into pb as micro-panels of nr
// columns: panel q holds element (p, q*nr+j) at q*nr*kb + p*nr + j; columns
// past nb are zero.
func (j *job[T]) packB(pb []T, pc, kb, jc, nb int) {
	nr := j.e.nr
	if j.packFn != nil {
		j.packFn(pb[:roundUp(nb, nr)*kb], nr, pc, kb, jc, nb)
		return
	}
	b, ldb := j.b, j.ldb
	jr0 := 0
	if f := j.e.packBN; f != nil && !j.transB && nb >= nr {
		np := nb / nr
		off := pc*ldb + jc
		_ = b[off+(kb-1)*ldb+np*nr-1] // the block lies inside b
		_ = pb[np*nr*kb-1]
		f(unsafe.Pointer(&b[off]), ldb, unsafe.Pointer(&pb[0]), kb, np)
		jr0 = np * nr
	}
	for jr := jr0; jr < nb; jr += nr {
		w := min(nr, nb-jr)
		dst := pb[jr*kb : jr*kb+nr*kb]
		if !j.transB {
			base := pc*ldb + jc + jr
			for p := 0; p < kb; p++ {
				d := dst[p*nr : p*nr+nr]
				copy(d, b[base+p*ldb:base+p*ldb+w])
				clear(d[w:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb + p].
		jj := 0
		if tr := j.e.tr8; tr != nil && kb >= 8 {
			kfull := kb &^ 7
			for ; jj+8 <= w; jj += 8 {
				off := (jc+jr+jj)*ldb + pc
				_ = b[off+7*ldb+kfull-1] // the blocks lie inside b
				tr(unsafe.Pointer(&b[off]), ldb, unsafe.Pointer(&dst[jj]), nr, kfull/8)
				for i := 0; i < 8; i++ {
					row := b[off+i*ldb+kfull : off+i*ldb+kb]
					for p, v := range row {
						dst[(kfull+p)*nr+jj+i] = v
					}
				}
			}
		}
		for ; jj < w; jj++ {
			row := b[(jc+jr+jj)*ldb+pc : (jc+jr+jj)*ldb+pc+kb]
			for p, v := range row {
				dst[p*nr+jj] = v
			}
		}
		if w < nr {
			for p := 0; p < kb; p++ {
				clear(dst[p*nr+w : p*nr+nr])
			}
		}
	}
}

// scaleC sets C = beta*C over m×n (overwriting without reading when
// beta == 0); used when k == 0 or alpha == 0.
func scaleC[T Float](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for x := range row {
			row[x] *= beta
		}
	}
}
