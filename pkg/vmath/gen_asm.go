//go:build ignore

// gen_asm writes vmath_amd64.s: the AVX-512 (16-lane) kernels of the
// element-wise functions. Run with
//
//	go run gen_asm.go
//
// in pkg/vmath. Every kernel walks its slices 16 elements at a time with
// masked loads and stores (the last, partial block uses a shorter mask), so
// there is no scalar tail. The constants come from the Go table consts
// (see vmath.go), broadcast into Z16–Z31 once per call.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Constant registers (indices into consts in vmath.go in brackets).
const constLoads = `	VBROADCASTSS 0(R8), Z30  // log2e [0]
	VBROADCASTSS 4(R8), Z29  // ln2hi [1]
	VBROADCASTSS 8(R8), Z28  // ln2lo [2]
	VBROADCASTSS 12(R8), Z23 // P0 [3]
	VBROADCASTSS 16(R8), Z24 // P1
	VBROADCASTSS 20(R8), Z25 // P2
	VBROADCASTSS 24(R8), Z26 // P3
	VBROADCASTSS 28(R8), Z27 // P4 [7]
	VBROADCASTSS 32(R8), Z31 // 1 [8]
	VBROADCASTSS 36(R8), Z18 // 2 [9]
	VBROADCASTSS 40(R8), Z22 // expHi [10]
	VBROADCASTSS 44(R8), Z21 // expLo [11]
	VBROADCASTSS 48(R8), Z17 // expm1Lo [12]
	VBROADCASTSS 52(R8), Z12 // R0 [13]
	VBROADCASTSS 56(R8), Z13 // R1
	VBROADCASTSS 60(R8), Z14 // R2
	VBROADCASTSS 64(R8), Z15 // R3 [16]
	VBROADCASTSS 68(R8), Z20 // sign bit [17]
	VBROADCASTSS 72(R8), Z16 // abs mask [18]
	VPXORD Z19, Z19, Z19     // 0
`

// expq computes, for the clamped argument in register a, n = round(a·log2e)
// into Zn and q = e^r − 1 (r = a − n·ln2, Cody–Waite with FMA) into Zq,
// with Zr and Zt as scratch.
func expq(a, n, r, q, t string) string {
	return strings.NewReplacer("{a}", a, "{n}", n, "{r}", r, "{q}", q, "{t}", t).Replace(`	VMULPS Z30, {a}, {n}
	VRNDSCALEPS $8, {n}, {n}     // n = round(a·log2e)
	VMOVAPS {a}, {r}
	VFNMADD231PS Z29, {n}, {r}   // r = a − n·ln2hi
	VFNMADD231PS Z28, {n}, {r}   // r −= n·ln2lo
	VMOVAPS Z27, {t}
	VFMADD213PS Z26, {r}, {t}
	VFMADD213PS Z25, {r}, {t}
	VFMADD213PS Z24, {r}, {t}
	VFMADD213PS Z23, {r}, {t}    // t = P(r)
	VMULPS {r}, {r}, {q}
	VFMADD213PS {r}, {t}, {q}      // q = r + r²·P(r) = e^r − 1
`)
}

// expm1 leaves expm1(a) = 2^n·(q + 1 − 2^−n) in Z8 for a clamped to
// [−40, 0] in Z2.
var expm1 = expq("Z2", "Z3", "Z4", "Z5", "Z6") + `	VSUBPS Z3, Z19, Z7       // −n
	VSCALEFPS Z7, Z31, Z7    // 2^−n
	VSUBPS Z7, Z31, Z7       // 1 − 2^−n (exact for n ≥ −24, error ≤ 1 beyond)
	VADDPS Z7, Z5, Z5
	VSCALEFPS Z3, Z5, Z8     // expm1
`

// sigmoidCore: x in Z0 → a = max(−|x|, −200) in Z2, n in Z3, p = e^r in
// Z5, e = e^a in Z7, s = 1/(1+e) in Z8, K2 = x < 0.
var sigmoidCore = `	VPORD Z20, Z0, Z2        // −|x|
	VMAXPS Z2, Z21, Z2       // a = max(−|x|, −200), NaN kept
` + expq("Z2", "Z3", "Z4", "Z5", "Z6") + `	VADDPS Z31, Z5, Z5       // p = e^r
	VSCALEFPS Z3, Z5, Z7     // e = e^a
	VADDPS Z31, Z7, Z8
	VDIVPS Z8, Z31, Z8       // s = 1/(1+e) (measured no slower than VRCP14PS + a Newton step)
	VCMPPS $1, Z19, Z0, K2   // x < 0
`

type kernel struct {
	name string
	doc  string
	two  bool   // second input gy
	body string // x in Z0 (gy in Z1) → result in out
	out  string
}

var kernels = []kernel{
	{name: "exp", doc: "e^x", out: "Z7", body: `	VMINPS Z0, Z22, Z2       // NaN kept (x is the second source)
	VMAXPS Z2, Z21, Z2       // a = clamp(x, −200, 89)
` + expq("Z2", "Z3", "Z4", "Z5", "Z6") + `	VADDPS Z31, Z5, Z5
	VSCALEFPS Z3, Z5, Z7     // 2^n·e^r
`},
	{name: "sigmoid", doc: "x ≥ 0 ? s : e·s with e = e^−|x|, s = 1/(1+e); e·s is scaled by 2^n last", out: "Z8", body: sigmoidCore + `	VMULPS Z8, Z5, Z9
	VSCALEFPS Z3, Z9, Z9     // e·s
	VMOVAPS Z9, K2, Z8
`},
	{name: "swish", doc: "x ≥ 0 ? x·s : a·e·s (a = max(x, −200))", out: "Z10", body: sigmoidCore + `	VMULPS Z8, Z0, Z10       // x·s
	VMULPS Z8, Z5, Z9
	VMULPS Z2, Z9, Z9
	VSCALEFPS Z3, Z9, Z9     // a·e·s
	VMOVAPS Z9, K2, Z10
`},
	{name: "swishGrad", two: true, doc: "gy·(x ≥ 0 ? s − s²·a·e : e·s·(1 + a·s)), a = max(−|x|, −200), using 1 − σ = e·s for x ≥ 0 and s for x < 0", out: "Z11", body: sigmoidCore + `	VMULPS Z8, Z8, Z9        // s²
	VMULPS Z7, Z2, Z10       // a·e
	VMOVAPS Z8, Z11
	VFNMADD231PS Z10, Z9, Z11 // s − s²·a·e = s·(1 + |x|·e·s)
	VMOVAPS Z2, Z10
	VFMADD213PS Z31, Z8, Z10 // 1 + a·s
	VMULPS Z8, Z5, Z9        // p·s
	VMULPS Z9, Z10, Z10
	VSCALEFPS Z3, Z10, Z10   // e·s·(1 + a·s)
	VMOVAPS Z10, K2, Z11
	VMULPS Z1, Z11, Z11
`},
	{name: "elu", doc: "x > 0 ? x : expm1(max(x, −40))", out: "Z8", body: `	VMINPS Z0, Z19, Z2       // min(x, 0), NaN kept
	VMAXPS Z2, Z17, Z2       // a = max(·, −40)
` + expm1 + `	VCMPPS $0x1e, Z19, Z0, K2 // x > 0
	VMOVAPS Z0, K2, Z8
`},
	{name: "eluGrad", two: true, doc: "x > 0 ? gy : gy·e^max(x, −200)", out: "Z7", body: `	VMINPS Z0, Z19, Z2
	VMAXPS Z2, Z21, Z2
` + expq("Z2", "Z3", "Z4", "Z5", "Z6") + `	VADDPS Z31, Z5, Z5
	VSCALEFPS Z3, Z5, Z7
	VMULPS Z1, Z7, Z7
	VCMPPS $0x1e, Z19, Z0, K2 // x > 0
	VMOVAPS Z1, K2, Z7
`},
	{name: "softplus", doc: "max(x, 0) + log1p(t), t = e^−|x|, log1p(t) = 2·atanh(s) = 2s + 2s·s²·R(s²), s = t/(2+t)", out: "Z9", body: `	VPORD Z20, Z0, Z2
	VMAXPS Z2, Z21, Z2
` + expq("Z2", "Z3", "Z4", "Z5", "Z6") + `	VADDPS Z31, Z5, Z5
	VSCALEFPS Z3, Z5, Z7     // t
	VADDPS Z18, Z7, Z8
	VDIVPS Z8, Z7, Z8        // s = t/(2+t)
	VMULPS Z8, Z8, Z9        // z = s²
	VMOVAPS Z15, Z10
	VFMADD213PS Z14, Z9, Z10
	VFMADD213PS Z13, Z9, Z10
	VFMADD213PS Z12, Z9, Z10 // R(z)
	VADDPS Z8, Z8, Z8        // 2s
	VMULPS Z9, Z8, Z11       // 2s·z
	VFMADD231PS Z10, Z11, Z8 // log1p(t)
	VMAXPS Z0, Z19, Z9       // max(x, 0), NaN kept
	VADDPS Z8, Z9, Z9
`},
	{name: "log", doc: "e·ln2 + 2·atanh(s), s = (m−1)/(m+1), |x| = m·2^e with m in [3/4, 3/2) (VGETMANTPS, VGETEXPPS; subnormals included), 2·atanh(s) = 2s + 2s·s²·R(s²); NaN for x < 0", out: "Z4", body: `	VGETMANTPS $7, Z0, Z2    // m of |x| in [3/4, 3/2) (1 for ±Inf, 0 for ±0)
	VGETEXPPS Z0, Z3         // floor(log2 |x|) (−Inf for ±0, +Inf for ±Inf)
	VCMPPS $1, Z31, Z2, K2   // m < 1: the mantissa was halved
	VADDPS Z31, Z3, K2, Z3   // e
	VSUBPS Z31, Z2, Z4       // m − 1 (exact)
	VADDPS Z31, Z2, Z5
	VDIVPS Z5, Z4, Z4        // s
	VMULPS Z4, Z4, Z5        // z = s²
	VMOVAPS Z15, Z6
	VFMADD213PS Z14, Z5, Z6
	VFMADD213PS Z13, Z5, Z6
	VFMADD213PS Z12, Z5, Z6  // R(z)
	VADDPS Z4, Z4, Z4        // 2s
	VMULPS Z5, Z4, Z7        // 2s·z
	VFMADD231PS Z6, Z7, Z4   // log m
	VFMADD231PS Z28, Z3, Z4  // + e·ln2lo
	VFMADD231PS Z29, Z3, Z4  // + e·ln2hi
	VCMPPS $0, Z19, Z0, K2   // x = ±0
	VCMPPS $0, Z0, Z3, K3    // e = x: only for x = +Inf
	KORW K2, K3, K2
	VMOVAPS Z3, K2, Z4       // −Inf, +Inf
	VCMPPS $1, Z19, Z0, K2   // x < 0 (not −0)
	VPTERNLOGD $0xff, Z8, Z8, Z8
	VMOVAPS Z8, K2, Z4       // NaN
`},
	{name: "tanh", doc: "sign(x)·(−m/(2+m)), m = expm1(max(−2|x|, −40))", out: "Z10", body: `	VPORD Z20, Z0, Z2
	VADDPS Z2, Z2, Z2        // −2|x|
	VMAXPS Z2, Z17, Z2
` + expm1 + `	VADDPS Z18, Z8, Z9
	VDIVPS Z9, Z8, Z10       // m/(2+m) ≤ 0
	VPANDD Z16, Z10, Z10
	VPANDD Z20, Z0, Z11
	VPORD Z11, Z10, Z10
`},
}

func main() {
	var b bytes.Buffer
	b.WriteString("// Code generated by gen_asm.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	for _, k := range kernels {
		fn := k.name + "AVX512"
		args, frame, nOff, cOff := "dst, x *float32, n int, c *[nconst]float32", 32, 16, 24
		if k.two {
			args, frame, nOff, cOff = "dst, x, gy *float32, n int, c *[nconst]float32", 40, 24, 32
		}
		fmt.Fprintf(&b, "\n// func %s(%s)\n//\n// %s.\nTEXT ·%s(SB), NOSPLIT, $0-%d\n", fn, args, k.doc, fn, frame)
		fmt.Fprintf(&b, "\tMOVQ dst+0(FP), DI\n\tMOVQ x+8(FP), SI\n")
		if k.two {
			fmt.Fprintf(&b, "\tMOVQ gy+16(FP), DX\n")
		}
		fmt.Fprintf(&b, "\tMOVQ n+%d(FP), BX\n\tMOVQ c+%d(FP), R8\n", nOff, cOff)
		fmt.Fprintf(&b, "\tTESTQ BX, BX\n\tJLE %s_done\n", k.name)
		b.WriteString(constLoads)
		fmt.Fprintf(&b, "\tMOVL $0xffff, AX\n\tKMOVW AX, K1\n\tCMPQ BX, $16\n\tJB %s_tail\n\n", k.name)
		fmt.Fprintf(&b, "%s_loop:\n\tVMOVUPS.Z (SI), K1, Z0\n", k.name)
		if k.two {
			b.WriteString("\tVMOVUPS.Z (DX), K1, Z1\n")
		}
		b.WriteString(k.body)
		fmt.Fprintf(&b, "\tVMOVUPS %s, K1, (DI)\n\tADDQ $64, SI\n\tADDQ $64, DI\n", k.out)
		if k.two {
			b.WriteString("\tADDQ $64, DX\n")
		}
		fmt.Fprintf(&b, "\tSUBQ $16, BX\n\tCMPQ BX, $16\n\tJAE %s_loop\n\n", k.name)
		fmt.Fprintf(&b, "%s_tail:\n\tTESTQ BX, BX\n\tJZ %s_done\n", k.name, k.name)
		fmt.Fprintf(&b, "\tMOVQ BX, CX\n\tMOVL $1, AX\n\tSHLL CX, AX\n\tDECL AX\n\tKMOVW AX, K1\n\tMOVQ $16, BX\n\tJMP %s_loop\n\n", k.name)
		fmt.Fprintf(&b, "%s_done:\n\tVZEROUPPER\n\tRET\n", k.name)
	}
	// Write to a temporary name, sync, then rename over the old file.
	f, err := os.CreateTemp(".", "vmath_amd64.s.tmp*")
	if err == nil {
		_, err = f.Write(b.Bytes())
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), "vmath_amd64.s")
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_asm: writing vmath_amd64.s:", err)
		os.Exit(1)
	}
}
