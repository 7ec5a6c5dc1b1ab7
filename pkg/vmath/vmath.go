// Package vmath computes element-wise float32 functions (exp, log, sigmoid,
// Swish, ELU, softplus, tanh and the gradients the networks need) over
// slices, with AVX-512 kernels on amd64 and a portable Go loop elsewhere.
//
// Every function writes f(x[i]) (or f(x[i], gy[i])) to dst[i]; all slices
// must have the same length (the functions panic otherwise) and dst may be
// the same slice as an input. Each call is single-threaded and allocates
// nothing; callers split large slices across goroutines themselves.
//
// # Method
//
// e^a = 2^n·e^r with n = round(a·log2 e) and r = a − n·ln2 reduced in two
// parts (Cody–Waite, with FMA), |r| ≤ ln2/2, and e^r − 1 = r + r²·P(r) with
// P a degree-4 near-minimax polynomial (relative error of e^r below 5e-9).
// The AVX-512 kernels scale by 2^n with VSCALEFPS, which also produces
// correct overflow to +Inf and gradual underflow. Where a result is e^a
// times something (sigmoid and Swish of negative x, the Swish gradient) the
// product is formed with e^r and only then scaled by 2^n, so results in the
// subnormal range keep their precision. expm1 (ELU, tanh) is
// 2^n·(q + 1 − 2^−n) with q = e^r − 1, which keeps full relative accuracy
// near 0; log1p (softplus) is 2·atanh(t/(2+t)) by a degree-3 polynomial in
// s² (relative error below 5e-9).
//
// The Go fallback (other CPUs, the purego build tag) follows the same
// reduction and polynomials, evaluated in float64.
//
// Accuracy, measured against float64 math over [−100, 100] and the special
// values (see the tests): at most a few float32 ulp for every function.
// Special values: NaN in gives NaN; Exp(+Inf) = +Inf, Exp(−Inf) = 0;
// Sigmoid(±Inf) = 1, 0; Tanh(±Inf) = ±1; Swish(+Inf) = +Inf and
// Swish(−Inf) = −0 (the limit; x·σ(x) in plain IEEE arithmetic would give
// NaN), SwishGrad at ±Inf is gy·1 and gy·0; ELU(−Inf) = −1; Softplus(+Inf) =
// +Inf, Softplus(−Inf) = 0.
package vmath

import (
	"fmt"
	"math"
)

// Polynomial coefficients (float32 values, fitted by an iterated weighted
// least-squares fit towards minimax on [−0.35, 0.35] and s ∈ [0, 1/3]).
const (
	// e^r − 1 ≈ r + r²·(expP0 + expP1·r + … + expP4·r⁴)
	expP0 = 0.49999994
	expP1 = 0.166665152
	expP2 = 0.041668456
	expP3 = 0.00836941134
	expP4 = 0.00138131587
	// atanh(s) ≈ s + s·z·(logR0 + logR1·z + logR2·z² + logR3·z³), z = s²
	logR0 = 0.333332062
	logR1 = 0.200108528
	logR2 = 0.139995053
	logR3 = 0.140125722
)

// Argument limits. e^x overflows float32 above ≈88.72 and underflows to 0
// below ≈−103.97; the clamps keep the reduction exact and the results
// unchanged. expm1 is −1 in float32 below ≈−17.33.
const (
	expHi   = 89
	expLo   = -200
	expm1Lo = -40
)

// nconst is the length of the constant table the assembly kernels read.
const nconst = 19

// consts is the constant table of the assembly kernels (the order is fixed
// by gen_asm.go).
var consts = [nconst]float32{
	math.Log2E,
	ln2Hi,
	ln2Lo,
	expP0, expP1, expP2, expP3, expP4,
	1, 2,
	expHi, expLo, expm1Lo,
	logR0, logR1, logR2, logR3,
	math.Float32frombits(0x80000000), // sign bit
	math.Float32frombits(0x7fffffff), // magnitude mask
}

// ln2Hi + ln2Lo = ln 2 to about 2^−50: ln2Hi is ln 2 rounded to float32.
var (
	ln2Hi = float32(math.Ln2)
	ln2Lo = float32(math.Ln2 - float64(float32(math.Ln2)))
)

func check1(name string, dst, x []float32) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("vmath: %s: len(dst) = %d, len(x) = %d", name, len(dst), len(x)))
	}
}

func check2(name string, dst, x, gy []float32) {
	if len(dst) != len(x) || len(gy) != len(x) {
		panic(fmt.Sprintf("vmath: %s: len(dst) = %d, len(x) = %d, len(gy) = %d", name, len(dst), len(x), len(gy)))
	}
}

// Affine sets dst[i] = x[i]·a + b with the product rounded to float32
// before the sum (no fused multiply-add), as the Go expression
// x[i]*a + b evaluates on amd64 at the default GOAMD64 level.
func Affine(dst, x []float32, a, b float32) {
	check1("Affine", dst, x)
	if len(x) == 0 {
		return
	}
	if useAsm {
		affineAVX512(&dst[0], &x[0], len(x), a, b)
		return
	}
	affineGo(dst, x, a, b)
}

// ScaleAdd sets dst[i] = y[i] + (x[i]·a)·s with each product and the sum
// rounded to float32 (no fused multiply-add): a residual sum with a
// per-row gate a and a scale s.
func ScaleAdd(dst, x, y []float32, a, s float32) {
	check2("ScaleAdd", dst, x, y)
	if len(x) == 0 {
		return
	}
	if useAsm {
		scaleAddAVX512(&dst[0], &x[0], &y[0], len(x), a, s)
		return
	}
	scaleAddGo(dst, x, y, a, s)
}

// elementwise runs an elementwise function dst = f(x): the assembly kernel when
// useAsm, else the Go loop.
func elementwise(name string, dst, x []float32, asm func(dst, x *float32, n int, c *[nconst]float32), loop func(dst, x []float32)) {
	check1(name, dst, x)
	if len(x) == 0 {
		return
	}
	if useAsm {
		asm(&dst[0], &x[0], len(x), &consts)
		return
	}
	loop(dst, x)
}

// elementwise2 is elementwise for gradients dst = f(x, gy).
func elementwise2(name string, dst, x, gy []float32, asm func(dst, x, gy *float32, n int, c *[nconst]float32), loop func(dst, x, gy []float32)) {
	check2(name, dst, x, gy)
	if len(x) == 0 {
		return
	}
	if useAsm {
		asm(&dst[0], &x[0], &gy[0], len(x), &consts)
		return
	}
	loop(dst, x, gy)
}

// Exp sets dst[i] = e^x[i]. Below about −103.97 the result is 0, between
// that and −87.34 it is subnormal; above about 88.72 it is +Inf.
func Exp(dst, x []float32) { elementwise("Exp", dst, x, expAVX512, expGo) }

// Sigmoid sets dst[i] = 1/(1+e^−x[i]), computed as e^x/(1+e^x) for
// negative x so that it stays accurate (down to subnormals) for large |x|.
func Sigmoid(dst, x []float32) { elementwise("Sigmoid", dst, x, sigmoidAVX512, sigmoidGo) }

// Swish sets dst[i] = x[i]·σ(x[i]) (SiLU).
func Swish(dst, x []float32) { elementwise("Swish", dst, x, swishAVX512, swishGo) }

// SwishGrad sets dst[i] = gy[i]·σ(x)·(1 + x·(1−σ(x))) with x = x[i], the
// derivative of Swish times the upstream gradient gy.
func SwishGrad(dst, x, gy []float32) {
	elementwise2("SwishGrad", dst, x, gy, swishGradAVX512, swishGradGo)
}

// ELU sets dst[i] = x > 0 ? x : e^x − 1 with x = x[i]; e^x − 1 is computed
// as expm1, with full relative accuracy for small |x|.
func ELU(dst, x []float32) { elementwise("ELU", dst, x, eluAVX512, eluGo) }

// ELUGrad sets dst[i] = x > 0 ? gy : gy·e^x with x = x[i], gy = gy[i].
func ELUGrad(dst, x, gy []float32) { elementwise2("ELUGrad", dst, x, gy, eluGradAVX512, eluGradGo) }

// Softplus sets dst[i] = log(1+e^x) = max(x,0) + log1p(e^−|x|) with
// x = x[i].
func Softplus(dst, x []float32) { elementwise("Softplus", dst, x, softplusAVX512, softplusGo) }

// Log sets dst[i] = ln x[i]: ln|x| = e·ln 2 + 2·atanh((m−1)/(m+1)) with
// |x| = m·2^e, m in [3/4, 3/2) (subnormal x included), and the atanh
// polynomial of Softplus. Log(±0) = −Inf, Log(+Inf) = +Inf, NaN for x < 0
// and for NaN.
func Log(dst, x []float32) { elementwise("Log", dst, x, logAVX512, logGo) }

// Tanh sets dst[i] = tanh(x[i]), computed as −m/(2+m) with
// m = expm1(−2|x|) and the sign of x, accurate for small |x| too.
func Tanh(dst, x []float32) { elementwise("Tanh", dst, x, tanhAVX512, tanhGo) }
