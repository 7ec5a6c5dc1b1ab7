//go:build ignore

// gen_kernels writes kernels_amd64.s and kernels_amd64.go: the float32 and
// float64 AVX-512 GEMM micro-kernels and a float32 AVX2/FMA one, in Go
// assembly, with their Go declarations. Run it with `go generate` in
// pkg/gemm.
//
// Every kernel computes, for a packed A micro-panel (stride mr elements per
// k step) and a packed B micro-panel (stride nr elements per k step),
//
//	acc[i][j] = Σ_p a[p*mr+i] * b[p*nr+j]        (i < rows, j < nr)
//	C[i][j]   = alpha*acc[i][j] + beta*C[i][j]    (only where mask bit j is set)
//
// and never reads C when beta is zero. One kernel is emitted per row count
// 1..mr so edge tiles in M cost no wasted work. The AVX-512 kernels honour
// the column mask with opmask registers; the AVX2 kernels ignore it and
// always write nr columns (the driver routes edge tiles through a buffer).
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"strings"
)

type isa struct {
	name   string // symbol suffix
	vbytes int    // vector width in bytes
	reg    string // "Z" or "Y"
	nregs  int    // vector registers available
	masked bool   // opmask registers for the column mask
}

type elem struct {
	name  string // "s" or "d"
	size  int    // bytes
	suf   string // "PS" or "PD"
	bcast string // broadcast instruction
}

var (
	f32 = elem{"s", 4, "PS", "VBROADCASTSS"}
	f64 = elem{"d", 8, "PD", "VBROADCASTSD"}
)

type gen struct {
	buf bytes.Buffer
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, format, args...)
	g.buf.WriteByte('\n')
}

// kernel emits one micro-kernel with the given number of rows.
//
// Go declaration:
//
//	func name(kc int, a, b, c unsafe.Pointer, ldc int, mask uint64, alpha, beta T)
func (g *gen) kernel(is isa, e elem, mr, nv, rows int) {
	lanes := is.vbytes / e.size
	nr := nv * lanes
	name := fmt.Sprintf("%sgemmKern%dx%d%s_%d", e.name, mr, nr, is.name, rows)
	nacc := rows * nv
	if nacc+nv+1 > is.nregs {
		panic("too many registers for " + name)
	}
	acc := func(i, v int) string { return fmt.Sprintf("%s%d", is.reg, i*nv+v) }
	breg := func(v int) string { return fmt.Sprintf("%s%d", is.reg, nacc+v) }
	ntmp := is.nregs - nacc - nv
	if ntmp > 4 {
		ntmp = 4
	}
	tmp := func(i int) string { return fmt.Sprintf("%s%d", is.reg, nacc+nv+i%ntmp) }
	frame := 56
	if e.size == 8 {
		frame = 64
	}
	g.p("// func %s(kc int, a, b, c unsafe.Pointer, ldc int, mask uint64, alpha, beta float%d)", name, e.size*8)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-%d", name, frame)
	g.p("\tMOVQ kc+0(FP), CX")
	g.p("\tMOVQ a+8(FP), AX")
	g.p("\tMOVQ b+16(FP), BX")
	g.p("\tMOVQ c+24(FP), DI")
	g.p("\tMOVQ ldc+32(FP), DX")
	if e.size == 4 {
		g.p("\tSHLQ $2, DX")
	} else {
		g.p("\tSHLQ $3, DX")
	}
	// Prefetch the C tile: it is written at the end.
	g.p("\tMOVQ DI, R8")
	for i := 0; i < rows; i++ {
		for off := 0; off < nr*e.size; off += 64 {
			g.p("\tPREFETCHT0 %d(R8)", off)
		}
		if i+1 < rows {
			g.p("\tADDQ DX, R8")
		}
	}
	for i := 0; i < rows; i++ {
		for v := 0; v < nv; v++ {
			if is.masked {
				g.p("\tVPXORD %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
			} else {
				g.p("\tVXORPS %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
			}
		}
	}
	astep := mr * e.size
	bstep := nr * e.size
	step := func(u int) {
		for v := 0; v < nv; v++ {
			g.p("\tVMOVUP%s %d(BX), %s", e.suf[1:], u*bstep+v*is.vbytes, breg(v))
		}
		for i := 0; i < rows; i++ {
			t := tmp(i)
			g.p("\t%s %d(AX), %s", e.bcast, u*astep+i*e.size, t)
			for v := 0; v < nv; v++ {
				g.p("\tVFMADD231%s %s, %s, %s", e.suf, breg(v), t, acc(i, v))
			}
		}
	}
	const unroll = 4
	g.p("\tCMPQ CX, $%d", unroll)
	g.p("\tJL %s_tail", name)
	g.p("%s_loop4:", name)
	for u := 0; u < unroll; u++ {
		step(u)
	}
	g.p("\tADDQ $%d, AX", unroll*astep)
	g.p("\tADDQ $%d, BX", unroll*bstep)
	g.p("\tSUBQ $%d, CX", unroll)
	g.p("\tCMPQ CX, $%d", unroll)
	g.p("\tJGE %s_loop4", name)
	g.p("%s_tail:", name)
	g.p("\tTESTQ CX, CX")
	g.p("\tJZ %s_store", name)
	g.p("%s_loop1:", name)
	step(0)
	g.p("\tADDQ $%d, AX", astep)
	g.p("\tADDQ $%d, BX", bstep)
	g.p("\tDECQ CX")
	g.p("\tJNZ %s_loop1", name)

	g.p("%s_store:", name)
	// alpha into tmp(0), beta into tmp(1) (broadcast from the frame).
	alphaOff, betaOff := 48, 52
	if e.size == 8 {
		alphaOff, betaOff = 48, 56
	}
	alpha := tmp(0)
	beta := breg(0)
	g.p("\t%s alpha+%d(FP), %s", e.bcast, alphaOff, alpha)
	for i := 0; i < rows; i++ {
		for v := 0; v < nv; v++ {
			g.p("\tVMUL%s %s, %s, %s", e.suf, alpha, acc(i, v), acc(i, v))
		}
	}
	if !is.masked {
		g.unmaskedStore(is, e, name, rows, nv, acc, tmp, beta, ntmp, betaOff)
		g.p("")
		return
	}
	// Column masks.
	masks := make([]string, nv)
	{
		g.p("\tMOVQ mask+40(FP), R9")
		for v := 0; v < nv; v++ {
			masks[v] = fmt.Sprintf("K%d", v+1)
			if lanes == 16 {
				g.p("\tKMOVW R9, %s", masks[v])
			} else {
				g.p("\tKMOVB R9, %s", masks[v])
			}
			if v+1 < nv {
				g.p("\tSHRQ $%d, R9", lanes)
			}
		}
	}
	// beta == 0 (either sign) → plain stores, never read C. R10 is zero
	// exactly when beta is.
	if e.size == 4 {
		g.p("\tMOVL beta+%d(FP), R10", betaOff)
		g.p("\tANDL $0x7fffffff, R10")
	} else {
		g.p("\tMOVQ beta+%d(FP), R10", betaOff)
		g.p("\tSHLQ $1, R10")
	}
	// Dispatch on the number of vectors that hold any column of C, so no
	// fully masked load or store is issued: those are slow on AMD when
	// they touch memory past the matrix.
	ktest := "KORTESTW"
	if lanes == 8 {
		ktest = "KORTESTB"
	}
	for v := nv - 1; v >= 1; v-- {
		g.p("\t%s %s, %s", ktest, masks[v], masks[v])
		g.p("\tJNZ %s_n%d", name, v+1)
	}
	g.p("\tJMP %s_n1", name)
	for nvec := nv; nvec >= 1; nvec-- {
		lbl := fmt.Sprintf("%s_n%d", name, nvec)
		g.p("%s:", lbl)
		g.p("\tTESTQ R10, R10")
		g.p("\tJZ %s_beta0", lbl)
		g.p("\t%s beta+%d(FP), %s", e.bcast, betaOff, beta)
		for i := 0; i < rows; i++ {
			for v := 0; v < nvec; v++ {
				t := tmp(1 + (i*nv+v)%(ntmp-1))
				g.p("\tVMOVUP%s.Z %d(DI), %s, %s", e.suf[1:], v*is.vbytes, masks[v], t)
				g.p("\tVFMADD231%s %s, %s, %s", e.suf, t, beta, acc(i, v))
				g.p("\tVMOVUP%s %s, %s, %d(DI)", e.suf[1:], acc(i, v), masks[v], v*is.vbytes)
			}
			if i+1 < rows {
				g.p("\tADDQ DX, DI")
			}
		}
		g.p("\tVZEROUPPER")
		g.p("\tRET")
		g.p("%s_beta0:", lbl)
		for i := 0; i < rows; i++ {
			for v := 0; v < nvec; v++ {
				g.p("\tVMOVUP%s %s, %s, %d(DI)", e.suf[1:], acc(i, v), masks[v], v*is.vbytes)
			}
			if i+1 < rows {
				g.p("\tADDQ DX, DI")
			}
		}
		g.p("\tVZEROUPPER")
		g.p("\tRET")
	}
	g.p("")
}

// unmaskedStore emits the AVX2 epilogue: full-width stores of all rows.
func (g *gen) unmaskedStore(is isa, e elem, name string, rows, nv int, acc func(i, v int) string, tmp func(int) string, beta string, ntmp, betaOff int) {
	if e.size == 4 {
		g.p("\tMOVL beta+%d(FP), R10", betaOff)
		g.p("\tANDL $0x7fffffff, R10")
	} else {
		g.p("\tMOVQ beta+%d(FP), R10", betaOff)
		g.p("\tSHLQ $1, R10")
	}
	g.p("\tJZ %s_beta0", name)
	g.p("\t%s beta+%d(FP), %s", e.bcast, betaOff, beta)
	for i := 0; i < rows; i++ {
		for v := 0; v < nv; v++ {
			t := tmp(1 + (i*nv+v)%(ntmp-1))
			g.p("\tVMOVUP%s %d(DI), %s", e.suf[1:], v*is.vbytes, t)
			g.p("\tVFMADD231%s %s, %s, %s", e.suf, t, beta, acc(i, v))
			g.p("\tVMOVUP%s %s, %d(DI)", e.suf[1:], acc(i, v), v*is.vbytes)
		}
		if i+1 < rows {
			g.p("\tADDQ DX, DI")
		}
	}
	g.p("\tVZEROUPPER")
	g.p("\tRET")
	g.p("%s_beta0:", name)
	for i := 0; i < rows; i++ {
		for v := 0; v < nv; v++ {
			g.p("\tVMOVUP%s %s, %d(DI)", e.suf[1:], acc(i, v), v*is.vbytes)
		}
		if i+1 < rows {
			g.p("\tADDQ DX, DI")
		}
	}
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// kernelSet is one family of kernels: an ISA, an element type and a tile.
type kernelSet struct {
	is     isa
	e      elem
	mr, nv int
}

func (k kernelSet) nr() int { return k.nv * k.is.vbytes / k.e.size }

// prefix is the Go identifier stem, e.g. "sAVX512".
func (k kernelSet) prefix() string { return k.e.name + k.is.name }

func main() {
	avx512 := isa{"AVX512", 64, "Z", 32, true}
	avx2 := isa{"AVX2", 32, "Y", 16, false}
	sets := []kernelSet{
		{avx512, f32, 8, 3}, // 8×48
		{avx512, f64, 8, 3}, // 8×24
		{avx2, f32, 6, 2},   // 6×16
	}
	var g gen
	g.p("// Code generated by gen_kernels.go; DO NOT EDIT.")
	g.p("")
	g.p("//go:build amd64 && !purego")
	g.p("")
	g.p("#include \"textflag.h\"")
	g.p("")
	for _, k := range sets {
		for rows := 1; rows <= k.mr; rows++ {
			g.kernel(k.is, k.e, k.mr, k.nv, rows)
		}
	}
	write("kernels_amd64.s", g.buf.Bytes())

	var d gen
	d.p("// Code generated by gen_kernels.go; DO NOT EDIT.")
	d.p("")
	d.p("//go:build amd64 && !purego")
	d.p("")
	d.p("package gemm")
	d.p("")
	d.p("import \"unsafe\"")
	d.p("")
	d.p("// Tile shapes (mr rows × nr columns) of the generated kernels.")
	d.p("const (")
	for _, k := range sets {
		d.p("\t%sMR, %sNR = %d, %d", k.prefix(), k.prefix(), k.mr, k.nr())
	}
	d.p(")")
	d.p("")
	for _, k := range sets {
		bits := k.e.size * 8
		for rows := 1; rows <= k.mr; rows++ {
			d.p("//go:noescape")
			d.p("func %sgemmKern%dx%d%s_%d(kc int, a, b, c unsafe.Pointer, ldc int, mask uint64, alpha, beta float%d)", k.e.name, k.mr, k.nr(), k.is.name, rows, bits)
			d.p("")
		}
		d.p("// %sKernels holds the %s float%d kernels indexed by row count - 1.", k.prefix(), k.is.name, bits)
		d.p("var %sKernels = [...]func(kc int, a, b, c unsafe.Pointer, ldc int, mask uint64, alpha, beta float%d){", k.prefix(), bits)
		for rows := 1; rows <= k.mr; rows++ {
			d.p("\t%sgemmKern%dx%d%s_%d,", k.e.name, k.mr, k.nr(), k.is.name, rows)
		}
		d.p("}")
		d.p("")
	}
	write("kernels_amd64.go", d.buf.Bytes())
}

func write(name string, data []byte) {
	if strings.HasSuffix(name, ".go") {
		var err error
		if data, err = format.Source(data); err != nil {
			fmt.Fprintln(os.Stderr, "gen_kernels:", err)
			os.Exit(1)
		}
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen_kernels:", err)
		os.Exit(1)
	}
}
