package vmath

import "math"

// The Go loops use the reduction and polynomials of the assembly kernels,
// evaluated in float64 (so no deferred scaling is needed: float64 covers
// the whole float32 result range, including subnormals) and rounded to
// float32 once at the end.

// roundMagic rounds a float64 of magnitude below 2^51 to an integer when
// added and subtracted.
const roundMagic = 0x1.8p52

// expParts returns n and q with e^a = 2^n·(1+q), for a in [expLo, expHi]
// (or NaN, which gives NaN q).
func expParts(a float64) (n, q float64) {
	n = (a*math.Log2E + roundMagic) - roundMagic
	r := a - n*math.Ln2
	p := (((expP4*r+expP3)*r+expP2)*r+expP1)*r + expP0
	return n, r + r*r*p
}

// pow2 returns 2^n for an integer n in [−1022, 1023].
func pow2(n float64) float64 { return math.Float64frombits(uint64(int64(n)+1023) << 52) }

// exp64 returns e^a for a clamped to [expLo, expHi] (NaN passes).
func exp64(a float64) float64 {
	if a > expHi {
		a = expHi
	} else if a < expLo {
		a = expLo
	}
	if a != a {
		return a
	}
	n, q := expParts(a)
	return pow2(n) * (1 + q)
}

// expm164 returns e^a − 1 for a ≤ 0 (clamped below at expm1Lo; NaN passes).
func expm164(a float64) float64 {
	if a < expm1Lo {
		a = expm1Lo
	}
	if a != a {
		return a
	}
	n, q := expParts(a)
	if n == 0 {
		return q
	}
	return pow2(n)*(1+q) - 1
}

// log1p64 returns log(1+t) for t in [0, 1] as 2·atanh(t/(2+t)).
func log1p64(t float64) float64 {
	s := t / (2 + t)
	z := s * s
	return 2*s + 2*s*z*(((logR3*z+logR2)*z+logR1)*z+logR0)
}

// sigmoidParts returns e = e^−|x| (clamped) and s = 1/(1+e).
func sigmoidParts(x float64) (e, s float64) {
	e = exp64(-math.Abs(x))
	return e, 1 / (1 + e)
}

func affineGo(dst, x []float32, a, b float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = float32(v*a) + b // the conversion rounds: no fusion
	}
}

func scaleAddGo(dst, x, y []float32, a, s float32) {
	dst, y = dst[:len(x)], y[:len(x)]
	for i, v := range x {
		dst[i] = y[i] + float32(float32(v*a)*s) // each conversion rounds: no fusion
	}
}

func expGo(dst, x []float32) {
	for i, v := range x {
		dst[i] = float32(exp64(float64(v)))
	}
}

func sigmoidGo(dst, x []float32) {
	for i, v := range x {
		e, s := sigmoidParts(float64(v))
		if v < 0 {
			s *= e
		}
		dst[i] = float32(s)
	}
}

func swishGo(dst, x []float32) {
	for i, v := range x {
		x := float64(v)
		e, s := sigmoidParts(x)
		if x < 0 {
			s *= e * max(x, expLo)
		} else {
			s *= x
		}
		dst[i] = float32(s)
	}
}

func swishGradGo(dst, x, gy []float32) {
	for i, v := range x {
		x := float64(v)
		e, s := sigmoidParts(x)
		var g float64
		if x < 0 {
			g = e * s * (1 + max(x, expLo)*s)
		} else {
			g = s * (1 + min(x, -expLo)*e*s)
		}
		dst[i] = float32(float64(gy[i]) * g)
	}
}

func eluGo(dst, x []float32) {
	for i, v := range x {
		if !(v > 0) {
			v = float32(expm164(float64(v)))
		}
		dst[i] = v
	}
}

func eluGradGo(dst, x, gy []float32) {
	for i, v := range x {
		g := gy[i]
		if !(v > 0) {
			g = float32(float64(g) * exp64(float64(v)))
		}
		dst[i] = g
	}
}

func softplusGo(dst, x []float32) {
	for i, v := range x {
		x := float64(v)
		dst[i] = float32(max(x, 0) + log1p64(exp64(-math.Abs(x))))
	}
}

func tanhGo(dst, x []float32) {
	for i, v := range x {
		m := expm164(-2 * math.Abs(float64(v)))
		dst[i] = float32(math.Copysign(-m/(2+m), float64(v)))
	}
}

func logGo(dst, x []float32) {
	for i, v := range x {
		x := float64(v)
		switch {
		case x != x || x < 0:
			dst[i] = float32(math.NaN())
			continue
		case x == 0:
			dst[i] = float32(math.Inf(-1))
			continue
		case math.IsInf(x, 1):
			dst[i] = v
			continue
		}
		m, e := math.Frexp(x) // m in [1/2, 1)
		if m < 0.75 {
			m, e = 2*m, e-1
		}
		s := (m - 1) / (m + 1)
		z := s * s
		dst[i] = float32(float64(e)*math.Ln2 + 2*s + 2*s*z*(((logR3*z+logR2)*z+logR1)*z+logR0))
	}
}
