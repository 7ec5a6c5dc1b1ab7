//go:build ignore

// gen_kernels writes kern_amd64.s and kern_decl_amd64.go: the AVX2 (8-lane)
// and AVX-512 (16-lane) direct convolution kernels. Run with
//
//	go run gen_kernels.go
//
// in pkg/conv.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
)

// Rows kernels exist for kernel heights minKH..maxKH (AVX2: up to 7, all
// 16 vector registers are then in use; AVX-512 has 32).
const minKH, maxKH = 2, 13

// rowsR is the number of output rows a rows kernel computes at a time.
const rowsR = 8

var gp8 = []string{"AX", "BX", "CX", "DX", "R8", "R9", "R10", "R11"}

type isa struct {
	name  string // AVX2, AVX512
	v     string // Y, Z
	vb    int    // vector bytes
	in    int    // register number of the input vector in the rows kernels
	maxKH int    // largest kernel height of the rows kernels
}

var isas = []isa{{"AVX2", "Y", 32, 15, 7}, {"AVX512", "Z", 64, 31, maxKH}}

type gen struct{ b bytes.Buffer }

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format+"\n", args...) }

// fwd: the generic forward kernel, 8 arbitrary output vectors at a time.
func (g *gen) fwd(s isa) {
	name := "fwdKern" + s.name
	V := s.v
	g.p("")
	g.p("// func %s(in, out *float32, vec *int, nvec int, taps *int, w *float32, ntaps int, init float32)", name)
	g.p("//")
	g.p("// Eight output vectors at a time: AX..R11 point at their inputs, %s0..%s7", V, V)
	g.p("// accumulate, %s8 holds the broadcast tap weight. Locals: 0(SP) end of", V)
	g.p("// taps, 8(SP) groups left.")
	g.p("TEXT ·%s(SB), NOSPLIT, $16-60", name)
	g.p("\tMOVQ taps+32(FP), SI")
	g.p("\tMOVQ ntaps+48(FP), AX")
	g.p("\tLEAQ (SI)(AX*8), AX")
	g.p("\tMOVQ AX, 0(SP)")
	g.p("\tMOVQ nvec+24(FP), AX")
	g.p("\tSHRQ $3, AX")
	g.p("\tJZ   %s_done", name)
	g.p("\tMOVQ AX, 8(SP)")
	g.p("\tMOVQ vec+16(FP), R12")
	g.p("\tVBROADCASTSS init+56(FP), %s9", V)
	g.p("")
	g.p("%s_group:", name)
	g.p("\tMOVQ in+0(FP), SI")
	for i, r := range gp8 {
		g.p("\tMOVQ %d(R12), %s", 16*i, r)
		g.p("\tLEAQ (SI)(%s*4), %s", r, r)
	}
	for i := 0; i < 8; i++ {
		g.p("\tVMOVAPS %s9, %s%d", V, V, i)
	}
	g.p("\tMOVQ taps+32(FP), SI")
	g.p("\tMOVQ w+40(FP), DI")
	g.p("")
	g.p("%s_tap:", name)
	g.p("\tVBROADCASTSS (DI), %s8", V)
	g.p("\tMOVQ (SI), R13")
	for i, r := range gp8 {
		g.p("\tVFMADD231PS (%s)(R13*4), %s8, %s%d", r, V, V, i)
	}
	g.p("\tADDQ $8, SI")
	g.p("\tADDQ $4, DI")
	g.p("\tCMPQ SI, 0(SP)")
	g.p("\tJNE  %s_tap", name)
	g.p("")
	g.p("\tMOVQ out+8(FP), SI")
	for i := 0; i < 8; i++ {
		g.p("\tMOVQ %d(R12), R13", 16*i+8)
		g.p("\tVMOVUPS %s%d, (SI)(R13*4)", V, i)
	}
	g.p("\tADDQ $128, R12")
	g.p("\tDECQ 8(SP)")
	g.p("\tJNZ  %s_group", name)
	g.p("\tVZEROUPPER")
	g.p("")
	g.p("%s_done:", name)
	g.p("\tRET")
}

// filt: the generic backward-filter kernel, 8 taps at a time over a vector list.
func (g *gen) filt(s isa) {
	name := "filtKern" + s.name
	V := s.v
	g.p("")
	g.p("// func %s(in, gy *float32, vec *int, nvec int, taps *[8]int, acc *[%d]float32)", name, 8*s.vb/4)
	g.p("//")
	g.p("// AX..R11 point at the inputs shifted by the 8 taps, %s0..%s7 accumulate,", V, V)
	g.p("// %s8 holds the vector of gy. Local: 0(SP) end of vec. acc is added to.", V)
	g.p("TEXT ·%s(SB), NOSPLIT, $8-48", name)
	g.p("\tMOVQ in+0(FP), SI")
	g.p("\tMOVQ taps+32(FP), DI")
	for i, r := range gp8 {
		g.p("\tMOVQ %d(DI), %s", 8*i, r)
		g.p("\tLEAQ (SI)(%s*4), %s", r, r)
	}
	g.p("\tMOVQ vec+16(FP), SI")
	g.p("\tMOVQ nvec+24(FP), R12")
	g.p("\tSHLQ $4, R12")
	g.p("\tADDQ SI, R12")
	g.p("\tMOVQ R12, 0(SP)")
	g.p("\tMOVQ gy+8(FP), DI")
	g.p("\tMOVQ acc+40(FP), R13")
	for i := 0; i < 8; i++ {
		g.p("\tVMOVUPS %d(R13), %s%d", s.vb*i, V, i)
	}
	g.p("\tCMPQ SI, R12")
	g.p("\tJEQ  %s_store", name)
	g.p("")
	g.p("%s_loop:", name)
	g.p("\tMOVQ (SI), R12")
	g.p("\tMOVQ 8(SI), R13")
	g.p("\tVMOVUPS (DI)(R13*4), %s8", V)
	for i, r := range gp8 {
		g.p("\tVFMADD231PS (%s)(R12*4), %s8, %s%d", r, V, V, i)
	}
	g.p("\tADDQ $16, SI")
	g.p("\tCMPQ SI, 0(SP)")
	g.p("\tJNE  %s_loop", name)
	g.p("")
	g.p("%s_store:", name)
	g.p("\tMOVQ acc+40(FP), SI")
	for i := 0; i < 8; i++ {
		g.p("\tVMOVUPS %s%d, %d(SI)", V, i, s.vb*i)
	}
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// fwdRows: 8 consecutive output rows × one vector per group; every input
// row vector loaded once feeds all output rows it contributes to.
//
// Registers: V0..V7 accumulators, V8..V8+kh-1 the weight column of the
// current column tap, V15 (AVX2) or V31 (AVX-512) the input row vector. SI input base, DI output
// base, R12 group cursor, R13 column-tap offset cursor, R11 weight cursor,
// R10 row stride in bytes, R9 output row stride in bytes, AX row pointer,
// DX scratch. Locals: 0(SP) end of column taps, 8(SP) groups left.
func (g *gen) fwdRows(s isa, kh int) {
	name := fmt.Sprintf("fwdRows%d%s", kh, s.name)
	V := s.v
	g.p("")
	g.p("// func %s(in, out *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, ctW *float32, nct int, init float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $16-76", name)
	g.p("\tMOVQ ngrp+24(FP), AX")
	g.p("\tTESTQ AX, AX")
	g.p("\tJZ   %s_done", name)
	g.p("\tMOVQ AX, 8(SP)")
	g.p("\tMOVQ ctOff+48(FP), AX")
	g.p("\tMOVQ nct+64(FP), DX")
	g.p("\tLEAQ (AX)(DX*8), AX")
	g.p("\tMOVQ AX, 0(SP)")
	g.p("\tMOVQ rowLen+32(FP), R10")
	g.p("\tSHLQ $2, R10")
	g.p("\tMOVQ ld+40(FP), R9")
	g.p("\tSHLQ $2, R9")
	g.p("\tMOVQ grp+16(FP), R12")
	g.p("")
	g.p("%s_group:", name)
	g.p("\tMOVQ in+0(FP), SI")
	g.p("\tMOVQ 0(R12), DX")
	g.p("\tLEAQ (SI)(DX*4), SI")
	g.p("\tVBROADCASTSS init+72(FP), %s0", V)
	for i := 1; i < rowsR; i++ {
		g.p("\tVMOVAPS %s0, %s%d", V, V, i)
	}
	g.p("\tMOVQ ctOff+48(FP), R13")
	g.p("\tMOVQ ctW+56(FP), R11")
	g.p("")
	g.p("%s_ct:", name)
	g.p("\tMOVQ (R13), DX")
	g.p("\tLEAQ (SI)(DX*4), AX")
	for k := 0; k < kh; k++ {
		g.p("\tVBROADCASTSS %d(R11), %s%d", 4*k, V, 8+k)
	}
	for i := 0; i < rowsR+kh-1; i++ {
		g.p("\tVMOVUPS (AX), %s%d", V, s.in)
		for k := 0; k < kh; k++ {
			if oh := i - k; oh >= 0 && oh < rowsR {
				g.p("\tVFMADD231PS %s%d, %s%d, %s%d", V, s.in, V, 8+k, V, oh)
			}
		}
		if i < rowsR+kh-2 {
			g.p("\tADDQ R10, AX")
		}
	}
	g.p("\tADDQ $8, R13")
	g.p("\tADDQ $%d, R11", 4*kh)
	g.p("\tCMPQ R13, 0(SP)")
	g.p("\tJNE  %s_ct", name)
	g.p("")
	g.p("\tMOVQ out+8(FP), DI")
	g.p("\tMOVQ 8(R12), DX")
	g.p("\tLEAQ (DI)(DX*4), AX")
	for i := 0; i < rowsR; i++ {
		g.p("\tVMOVUPS %s%d, (AX)", V, i)
		if i < rowsR-1 {
			g.p("\tADDQ R9, AX")
		}
	}
	g.p("\tADDQ $16, R12")
	g.p("\tDECQ 8(SP)")
	g.p("\tJNZ  %s_group", name)
	g.p("\tVZEROUPPER")
	g.p("")
	g.p("%s_done:", name)
	g.p("\tRET")
}

// filtRows: backward filter over groups of 8 output rows × one vector. The
// gy rows stay in V0..V7; for each column tap the kh sums accumulate in
// V8..V8+kh-1 and are added to acc[(ct·kh + k)·lanes + l]; the input
// vector is V15 (AVX2) or V31 (AVX-512).
//
// Registers: SI input base, DI acc cursor, R12 group cursor, R13 column-tap
// cursor, R10 row stride in bytes, R9 gy row stride in bytes, AX row
// pointer, DX scratch. Locals: 0(SP) end of column taps, 8(SP) groups left.
func (g *gen) filtRows(s isa, kh int) {
	name := fmt.Sprintf("filtRows%d%s", kh, s.name)
	V := s.v
	g.p("")
	g.p("// func %s(in, gy *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, nct int, acc *float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $16-72", name)
	g.p("\tMOVQ ngrp+24(FP), AX")
	g.p("\tTESTQ AX, AX")
	g.p("\tJZ   %s_done", name)
	g.p("\tMOVQ AX, 8(SP)")
	g.p("\tMOVQ ctOff+48(FP), AX")
	g.p("\tMOVQ nct+56(FP), DX")
	g.p("\tLEAQ (AX)(DX*8), AX")
	g.p("\tMOVQ AX, 0(SP)")
	g.p("\tMOVQ rowLen+32(FP), R10")
	g.p("\tSHLQ $2, R10")
	g.p("\tMOVQ ld+40(FP), R9")
	g.p("\tSHLQ $2, R9")
	g.p("\tMOVQ grp+16(FP), R12")
	g.p("")
	g.p("%s_group:", name)
	g.p("\tMOVQ gy+8(FP), AX")
	g.p("\tMOVQ 8(R12), DX")
	g.p("\tLEAQ (AX)(DX*4), AX")
	for i := 0; i < rowsR; i++ {
		g.p("\tVMOVUPS (AX), %s%d", V, i)
		if i < rowsR-1 {
			g.p("\tADDQ R9, AX")
		}
	}
	g.p("\tMOVQ in+0(FP), SI")
	g.p("\tMOVQ 0(R12), DX")
	g.p("\tLEAQ (SI)(DX*4), SI")
	g.p("\tMOVQ ctOff+48(FP), R13")
	g.p("\tMOVQ acc+64(FP), DI")
	g.p("")
	g.p("%s_ct:", name)
	g.p("\tMOVQ (R13), DX")
	g.p("\tLEAQ (SI)(DX*4), AX")
	for k := 0; k < kh; k++ {
		g.p("\tVXORPS %s%d, %s%d, %s%d", V, 8+k, V, 8+k, V, 8+k)
	}
	for i := 0; i < rowsR+kh-1; i++ {
		g.p("\tVMOVUPS (AX), %s%d", V, s.in)
		for k := 0; k < kh; k++ {
			if oh := i - k; oh >= 0 && oh < rowsR {
				g.p("\tVFMADD231PS %s%d, %s%d, %s%d", V, s.in, V, oh, V, 8+k)
			}
		}
		if i < rowsR+kh-2 {
			g.p("\tADDQ R10, AX")
		}
	}
	for k := 0; k < kh; k++ {
		g.p("\tVADDPS %d(DI), %s%d, %s%d", s.vb*k, V, 8+k, V, 8+k)
		g.p("\tVMOVUPS %s%d, %d(DI)", V, 8+k, s.vb*k)
	}
	g.p("\tADDQ $8, R13")
	g.p("\tADDQ $%d, DI", s.vb*kh)
	g.p("\tCMPQ R13, 0(SP)")
	g.p("\tJNE  %s_ct", name)
	g.p("")
	g.p("\tADDQ $16, R12")
	g.p("\tDECQ 8(SP)")
	g.p("\tJNZ  %s_group", name)
	g.p("\tVZEROUPPER")
	g.p("")
	g.p("%s_done:", name)
	g.p("\tRET")
}

// rowsOp: AVX-512 strided row copy (add=false) or accumulation (add=true),
// full 16-lane chunks then one masked chunk for the remainder.
func (g *gen) rowsOp(name string, add bool) {
	g.p("")
	g.p("// func %s(dst, src *float32, rows, n, dstStride, srcStride int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ src+8(FP), SI")
	g.p("\tMOVQ rows+16(FP), R10")
	g.p("\tMOVQ n+24(FP), DX")
	g.p("\tMOVQ dstStride+32(FP), R8")
	g.p("\tSHLQ $2, R8")
	g.p("\tMOVQ srcStride+40(FP), R9")
	g.p("\tSHLQ $2, R9")
	g.p("\tMOVQ DX, CX")
	g.p("\tANDQ $15, CX")
	g.p("\tMOVL $1, BX")
	g.p("\tSHLL CX, BX")
	g.p("\tDECL BX")
	g.p("\tKMOVW BX, K1")
	g.p("\tSHRQ $4, DX")
	g.p("\tTESTQ R10, R10")
	g.p("\tJZ   %s_done", name)
	g.p("")
	g.p("%s_row:", name)
	g.p("\tMOVQ DX, R11")
	g.p("\tXORQ AX, AX")
	g.p("\tTESTQ R11, R11")
	g.p("\tJZ   %s_tail", name)
	g.p("")
	g.p("%s_chunk:", name)
	g.p("\tVMOVUPS (SI)(AX*1), Z0")
	if add {
		g.p("\tVADDPS (DI)(AX*1), Z0, Z0")
	}
	g.p("\tVMOVUPS Z0, (DI)(AX*1)")
	g.p("\tADDQ $64, AX")
	g.p("\tDECQ R11")
	g.p("\tJNZ  %s_chunk", name)
	g.p("")
	g.p("%s_tail:", name)
	g.p("\tVMOVUPS (SI)(AX*1), K1, Z0")
	if add {
		g.p("\tVMOVUPS (DI)(AX*1), K1, Z1")
		g.p("\tVADDPS Z1, Z0, Z0")
	}
	g.p("\tVMOVUPS Z0, K1, (DI)(AX*1)")
	g.p("\tADDQ R9, SI")
	g.p("\tADDQ R8, DI")
	g.p("\tDECQ R10")
	g.p("\tJNZ  %s_row", name)
	g.p("\tVZEROUPPER")
	g.p("")
	g.p("%s_done:", name)
	g.p("\tRET")
}

// addBias: c[r·ld + j] += bias[r] for r < rows, j < n (AVX-512, masked tail).
func (g *gen) addBias() {
	g.p("")
	g.p("// func addBiasAVX512(c, bias *float32, rows, n, ld int)")
	g.p("TEXT ·addBiasAVX512(SB), NOSPLIT, $0-40")
	g.p("\tMOVQ c+0(FP), DI")
	g.p("\tMOVQ bias+8(FP), SI")
	g.p("\tMOVQ rows+16(FP), R10")
	g.p("\tMOVQ n+24(FP), DX")
	g.p("\tMOVQ ld+32(FP), R8")
	g.p("\tSHLQ $2, R8")
	g.p("\tMOVQ DX, CX")
	g.p("\tANDQ $15, CX")
	g.p("\tMOVL $1, BX")
	g.p("\tSHLL CX, BX")
	g.p("\tDECL BX")
	g.p("\tKMOVW BX, K1")
	g.p("\tSHRQ $4, DX")
	g.p("\tTESTQ R10, R10")
	g.p("\tJZ   addBias_done")
	g.p("")
	g.p("addBias_row:")
	g.p("\tVBROADCASTSS (SI), Z1")
	g.p("\tMOVQ DX, R11")
	g.p("\tXORQ AX, AX")
	g.p("\tTESTQ R11, R11")
	g.p("\tJZ   addBias_tail")
	g.p("")
	g.p("addBias_chunk:")
	g.p("\tVADDPS (DI)(AX*1), Z1, Z0")
	g.p("\tVMOVUPS Z0, (DI)(AX*1)")
	g.p("\tADDQ $64, AX")
	g.p("\tDECQ R11")
	g.p("\tJNZ  addBias_chunk")
	g.p("")
	g.p("addBias_tail:")
	g.p("\tVMOVUPS (DI)(AX*1), K1, Z0")
	g.p("\tVADDPS Z1, Z0, Z0")
	g.p("\tVMOVUPS Z0, K1, (DI)(AX*1)")
	g.p("\tADDQ $4, SI")
	g.p("\tADDQ R8, DI")
	g.p("\tDECQ R10")
	g.p("\tJNZ  addBias_row")
	g.p("\tVZEROUPPER")
	g.p("")
	g.p("addBias_done:")
	g.p("\tRET")
}

// deint2: AVX-512 split of rows into even and odd elements (8 pairs per
// chunk): VPMOVQD keeps the low float of each pair, after a 32-bit shift
// the high one.
func (g *gen) deint2() {
	g.p("")
	g.p("// func deint2AVX512(even, odd, src *float32, rows, chunks, dstStride, srcStride int)")
	g.p("TEXT ·deint2AVX512(SB), NOSPLIT, $0-56")
	g.p("\tMOVQ even+0(FP), DI")
	g.p("\tMOVQ odd+8(FP), BX")
	g.p("\tMOVQ src+16(FP), SI")
	g.p("\tMOVQ rows+24(FP), R10")
	g.p("\tMOVQ chunks+32(FP), DX")
	g.p("\tMOVQ dstStride+40(FP), R8")
	g.p("\tSHLQ $2, R8")
	g.p("\tMOVQ srcStride+48(FP), R9")
	g.p("\tSHLQ $2, R9")
	g.p("\tTESTQ R10, R10")
	g.p("\tJZ   deint2_done")
	g.p("\tTESTQ DX, DX")
	g.p("\tJZ   deint2_done")
	g.p("")
	g.p("deint2_row:")
	g.p("\tMOVQ DX, R11")
	g.p("\tXORQ AX, AX")
	g.p("\tXORQ CX, CX")
	g.p("")
	g.p("deint2_chunk:")
	g.p("\tVMOVUPS (SI)(AX*1), Z0")
	g.p("\tVPMOVQD Z0, (DI)(CX*1)")
	g.p("\tVPSRLQ $32, Z0, Z1")
	g.p("\tVPMOVQD Z1, (BX)(CX*1)")
	g.p("\tADDQ $64, AX")
	g.p("\tADDQ $32, CX")
	g.p("\tDECQ R11")
	g.p("\tJNZ  deint2_chunk")
	g.p("\tADDQ R9, SI")
	g.p("\tADDQ R8, DI")
	g.p("\tADDQ R8, BX")
	g.p("\tDECQ R10")
	g.p("\tJNZ  deint2_row")
	g.p("\tVZEROUPPER")
	g.p("")
	g.p("deint2_done:")
	g.p("\tRET")
}

// int2: the inverse of deint2, interleaving 8 even and 8 odd elements per
// chunk (zero-extend both to 64-bit lanes, shift the odd ones up, OR).
func (g *gen) int2() {
	g.p("")
	g.p("// func int2AVX512(dst, even, odd *float32, rows, chunks, dstStride, srcStride int)")
	g.p("TEXT ·int2AVX512(SB), NOSPLIT, $0-56")
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ even+8(FP), SI")
	g.p("\tMOVQ odd+16(FP), BX")
	g.p("\tMOVQ rows+24(FP), R10")
	g.p("\tMOVQ chunks+32(FP), DX")
	g.p("\tMOVQ dstStride+40(FP), R8")
	g.p("\tSHLQ $2, R8")
	g.p("\tMOVQ srcStride+48(FP), R9")
	g.p("\tSHLQ $2, R9")
	g.p("\tTESTQ R10, R10")
	g.p("\tJZ   int2_done")
	g.p("\tTESTQ DX, DX")
	g.p("\tJZ   int2_done")
	g.p("")
	g.p("int2_row:")
	g.p("\tMOVQ DX, R11")
	g.p("\tXORQ AX, AX")
	g.p("\tXORQ CX, CX")
	g.p("")
	g.p("int2_chunk:")
	g.p("\tVPMOVZXDQ (SI)(CX*1), Z0")
	g.p("\tVPMOVZXDQ (BX)(CX*1), Z1")
	g.p("\tVPSLLQ $32, Z1, Z1")
	g.p("\tVPORQ Z1, Z0, Z0")
	g.p("\tVMOVUPS Z0, (DI)(AX*1)")
	g.p("\tADDQ $64, AX")
	g.p("\tADDQ $32, CX")
	g.p("\tDECQ R11")
	g.p("\tJNZ  int2_chunk")
	g.p("\tADDQ R8, DI")
	g.p("\tADDQ R9, SI")
	g.p("\tADDQ R9, BX")
	g.p("\tDECQ R10")
	g.p("\tJNZ  int2_row")
	g.p("\tVZEROUPPER")
	g.p("")
	g.p("int2_done:")
	g.p("\tRET")
}

func main() {
	var g gen
	g.p("// Code generated by gen_kernels.go; DO NOT EDIT.")
	g.p("")
	g.p("//go:build amd64 && !purego")
	g.p("")
	g.p("#include \"textflag.h\"")
	for _, s := range isas {
		g.fwd(s)
		g.filt(s)
		for kh := minKH; kh <= s.maxKH; kh++ {
			g.fwdRows(s, kh)
			g.filtRows(s, kh)
		}
	}
	g.rowsOp("copyRowsAVX512", false)
	g.rowsOp("addRowsAVX512", true)
	g.addBias()
	g.deint2()
	g.int2()
	write("kern_amd64.s", g.b.Bytes())

	var d gen
	d.p("// Code generated by gen_kernels.go; DO NOT EDIT.")
	d.p("")
	d.p("//go:build amd64 && !purego")
	d.p("")
	d.p("package conv")
	d.p("")
	d.p("const rowsMinKH, rowsMaxKH = %d, %d", minKH, maxKH)
	d.p("")
	d.p("//go:noescape")
	d.p("func copyRowsAVX512(dst, src *float32, rows, n, dstStride, srcStride int)")
	d.p("")
	d.p("//go:noescape")
	d.p("func addRowsAVX512(dst, src *float32, rows, n, dstStride, srcStride int)")
	d.p("")
	d.p("//go:noescape")
	d.p("func deint2AVX512(even, odd, src *float32, rows, chunks, dstStride, srcStride int)")
	d.p("")
	d.p("//go:noescape")
	d.p("func addBiasAVX512(c, bias *float32, rows, n, ld int)")
	d.p("")
	d.p("//go:noescape")
	d.p("func int2AVX512(dst, even, odd *float32, rows, chunks, dstStride, srcStride int)")
	for _, s := range isas {
		d.p("")
		for kh := minKH; kh <= s.maxKH; kh++ {
			d.p("//go:noescape")
			d.p("func fwdRows%d%s(in, out *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, ctW *float32, nct int, init float32)", kh, s.name)
			d.p("")
			d.p("//go:noescape")
			d.p("func filtRows%d%s(in, gy *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, nct int, acc *float32)", kh, s.name)
			d.p("")
		}
		d.p("// fwdRows%s[kh] is the %s forward rows kernel for kernel height kh (nil if none).", s.name, s.name)
		d.p("var fwdRows%s = [rowsMaxKH + 1]fwdRowsFn{", s.name)
		for kh := minKH; kh <= s.maxKH; kh++ {
			d.p("%d: fwdRows%d%s,", kh, kh, s.name)
		}
		d.p("}")
		d.p("")
		d.p("// filtRows%s[kh] is the %s backward-filter rows kernel for kernel height kh (nil if none).", s.name, s.name)
		d.p("var filtRows%s = [rowsMaxKH + 1]filtRowsFn{", s.name)
		for kh := minKH; kh <= s.maxKH; kh++ {
			d.p("%d: filtRows%d%s,", kh, kh, s.name)
		}
		d.p("}")
	}
	src, err := format.Source(d.b.Bytes())
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_kernels: format kern_decl_amd64.go:", err)
		os.Exit(1)
	}
	write("kern_decl_amd64.go", src)
}

func write(name string, data []byte) {
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err == nil {
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen_kernels: write %s: %v\n", name, err)
		os.Exit(1)
	}
}
