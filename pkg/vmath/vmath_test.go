package vmath

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// Float64 references.

func refSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// refOneMinusSigmoid is 1 − σ(x) = σ(−x) without cancellation.
func refOneMinusSigmoid(x float64) float64 { return refSigmoid(-x) }

func refSwish(x float64) float64 {
	if math.IsInf(x, -1) {
		return 0 // the limit (documented)
	}
	return x * refSigmoid(x)
}

func refSwishGrad(x, gy float64) float64 {
	switch {
	case math.IsInf(x, 1):
		return gy
	case math.IsInf(x, -1):
		return 0 * gy
	}
	return gy * refSigmoid(x) * (1 + x*refOneMinusSigmoid(x))
}

func refELU(x float64) float64 {
	if x > 0 {
		return x
	}
	return math.Expm1(x)
}

func refELUGrad(x, gy float64) float64 {
	if x > 0 {
		return gy
	}
	return gy * math.Exp(x)
}

func refSoftplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

// ulp32 is the spacing of float32 values at |v| (the subnormal spacing
// below the normal range; 2^104 at and above MaxFloat32).
func ulp32(v float64) float64 {
	v = math.Abs(v)
	if v < 0x1p-126 {
		return 0x1p-149
	}
	_, e := math.Frexp(v) // v = f·2^e, f in [0.5, 1)
	if e > 128 {
		e = 128
	}
	return math.Ldexp(1, e-24)
}

// ulpErr returns |got − ref| in float32 ulps at ref, +Inf for a NaN or
// infinity mismatch; a float32 infinity counts as ±2^128 against a finite
// reference (so a result that overflows right at the edge is measured).
func ulpErr(got float32, ref float64) float64 {
	g := float64(got)
	switch {
	case math.IsNaN(ref) || math.IsNaN(g):
		if math.IsNaN(ref) && math.IsNaN(g) {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(ref, 0):
		if g == ref {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(g, 0):
		if g == float64(float32(ref)) {
			return 0 // ref rounds to the same infinity
		}
		g = math.Copysign(0x1p128, g)
	}
	return math.Abs(g-ref) / ulp32(ref)
}

// inputs returns a dense grid over [−100, 100] (every 613th float32 of each
// sign, subnormals included), the special values and the edges, and random
// values.
func inputs() []float32 {
	var xs []float32
	for b := uint32(0); b <= math.Float32bits(100); b += 613 {
		v := math.Float32frombits(b)
		xs = append(xs, v, -v)
	}
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	special := []float32{0, 1e-45, 1e-40, 0x1p-126, 1e-30, 1e-10, 1e-7, 6e-5, 1e-3, 0.1, 0.25, 0.3465735, 0.34657362, 0.5, 0.55, 0.6931472, 1, 1.2784645, 2, 5, 8.66, 9, 9.01, 17.3, 18, 20, 40, 87.33654, 87.3366, 88, 88.72283, 88.722835, 88.7, 89, 100, 103.97, 103.97208, 104, 149, 200, 201, 1000, 1e10, math.MaxFloat32, inf}
	for _, v := range special {
		for _, w := range []float32{v, math.Nextafter32(v, 0), math.Nextafter32(v, inf)} {
			xs = append(xs, w, -w)
		}
	}
	xs = append(xs, nan, float32(math.Copysign(math.NaN(), -1)))
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		xs = append(xs, float32(rng.Float64()*40-20), float32(rng.NormFloat64()*3), float32(rng.Float64()*200-100))
	}
	return xs
}

// grads returns upstream gradients for xs: random in [−2, 2] with some 0, 1
// and −1.
func grads(n int) []float32 {
	rng := rand.New(rand.NewSource(2))
	gy := make([]float32, n)
	for i := range gy {
		switch i % 17 {
		case 0:
			gy[i] = 1
		case 5:
			gy[i] = -1
		case 11:
			gy[i] = 0
		default:
			gy[i] = float32(rng.Float64()*4 - 2)
		}
	}
	return gy
}

// paths runs f with the assembly kernels (where the CPU has them) and with
// the Go loops.
func paths(t *testing.T, f func(t *testing.T)) {
	saved := useAsm
	defer func() { useAsm = saved }()
	for _, asm := range []bool{true, false} {
		name := "go"
		if asm {
			name = "asm"
			if !hasAVX512 {
				t.Run(name, func(t *testing.T) { t.Skip("no AVX-512 on this CPU or build") })
				continue
			}
		}
		useAsm = asm
		t.Run(name, f)
	}
}

type unary struct {
	name string
	f    func(dst, x []float32)
	ref  func(x float64) float64
	// maxULP is the tolerance in ulps of the reference; absTol (relative to
	// max(1, |ref|)) is an alternative absolute tolerance where non-zero.
	maxULP, absTol float64
}

var unaries = []unary{
	{"Exp", Exp, math.Exp, 4, 0},
	{"Sigmoid", Sigmoid, refSigmoid, 4, 0},
	{"Swish", Swish, refSwish, 4, 0},
	{"ELU", ELU, refELU, 4, 1e-7},
	{"Softplus", Softplus, refSoftplus, 4, 1e-7},
	{"Tanh", Tanh, math.Tanh, 4, 0},
	{"Log", Log, math.Log, 4, 0},
}

type binary struct {
	name string
	f    func(dst, x, gy []float32)
	ref  func(x, gy float64) float64
	// cond is the magnitude of the terms whose sum is the result (the
	// cancellation scale): the error may also be a few float32 epsilons
	// of it.
	cond func(x, gy float64) float64
}

var binaries = []binary{
	{"SwishGrad", SwishGrad, refSwishGrad, func(x, gy float64) float64 {
		if math.IsInf(x, 0) {
			return 0
		}
		return math.Abs(gy) * refSigmoid(x) * (1 + math.Abs(x)*refOneMinusSigmoid(x))
	}},
	{"ELUGrad", ELUGrad, refELUGrad, func(x, gy float64) float64 { return 0 }},
}

func TestUnaryAccuracy(t *testing.T) {
	xs := inputs()
	dst := make([]float32, len(xs))
	for _, u := range unaries {
		t.Run(u.name, func(t *testing.T) {
			paths(t, func(t *testing.T) {
				u.f(dst, xs)
				worst, worstX, bad := 0.0, float32(0), 0
				for i, x := range xs {
					ref := u.ref(float64(x))
					e := ulpErr(dst[i], ref)
					if e > u.maxULP && u.absTol > 0 && !math.IsInf(e, 0) &&
						math.Abs(float64(dst[i])-ref) <= u.absTol*math.Max(1, math.Abs(ref)) {
						continue
					}
					if e > worst {
						worst, worstX = e, x
					}
					if e > u.maxULP {
						if bad++; bad <= 10 {
							t.Errorf("%s(%v) = %v (%#x), want %v (%.3g ulp)", u.name, x, dst[i], math.Float32bits(dst[i]), ref, e)
						}
					}
				}
				t.Logf("%d inputs, max error %.3g ulp at x = %v", len(xs), worst, worstX)
			})
		})
	}
}

func TestBinaryAccuracy(t *testing.T) {
	xs := inputs()
	gy := grads(len(xs))
	dst := make([]float32, len(xs))
	for _, b := range binaries {
		t.Run(b.name, func(t *testing.T) {
			paths(t, func(t *testing.T) {
				b.f(dst, xs, gy)
				worst, worstX, bad := 0.0, float32(0), 0
				for i, x := range xs {
					ref := b.ref(float64(x), float64(gy[i]))
					e := ulpErr(dst[i], ref)
					slack := 0x1p-22 * b.cond(float64(x), float64(gy[i])) / ulp32(ref)
					if e > worst && slack < 1 {
						worst, worstX = e, x
					}
					if e > 4+slack {
						if bad++; bad <= 10 {
							t.Errorf("%s(%v, %v) = %v, want %v (%.3g ulp)", b.name, x, gy[i], dst[i], ref, e)
						}
					}
				}
				t.Logf("%d inputs, max error %.3g ulp (outside cancellation) at x = %v", len(xs), worst, worstX)
			})
		})
	}
}

// TestSpecial checks the documented special values exactly.
func TestSpecial(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	xs := []float32{inf, -inf, nan, 0, 200, -200}
	gy := []float32{2, 2, 2, 2, 2, 2}
	isNaN := func(v float32) bool { return v != v }
	want := map[string][]float32{
		"Exp":       {inf, 0, nan, 1, inf, 0},
		"Sigmoid":   {1, 0, nan, 0.5, 1, 0},
		"Swish":     {inf, 0, nan, 0, 200, 0},
		"ELU":       {inf, -1, nan, 0, 200, -1},
		"Softplus":  {inf, 0, nan, float32(math.Ln2), 200, 0},
		"Tanh":      {1, -1, nan, 0, 1, -1},
		"Log":       {inf, nan, nan, float32(math.Inf(-1)), float32(math.Log(200)), nan},
		"SwishGrad": {2, 0, nan, 1, 2, 0},
		"ELUGrad":   {2, 0, nan, 2, 2, 0},
	}
	paths(t, func(t *testing.T) {
		dst := make([]float32, len(xs))
		check := func(name string) {
			for i, w := range want[name] {
				if got := dst[i]; got != w && !(isNaN(got) && isNaN(w)) {
					t.Errorf("%s(%v) = %v, want %v", name, xs[i], got, w)
				}
			}
		}
		for _, u := range unaries {
			u.f(dst, xs)
			check(u.name)
		}
		for _, b := range binaries {
			b.f(dst, xs, gy)
			check(b.name)
		}
		// Exp at the overflow edge: the largest finite result and the
		// first infinite one.
		e := []float32{88.72283, 88.7228394}
		Exp(e, e)
		if math.IsInf(float64(e[0]), 0) || !math.IsInf(float64(e[1]), 1) {
			t.Errorf("Exp(88.72283), Exp(88.7228394) = %v, %v; want finite, +Inf", e[0], e[1])
		}
		// Odd symmetry and signed zeros.
		z := []float32{float32(math.Copysign(0, -1)), 1e-30, -1e-30}
		Tanh(z, z)
		if math.Float32bits(z[0]) != 0x80000000 || z[1] != 1e-30 || z[2] != -1e-30 {
			t.Errorf("Tanh(-0, 1e-30, -1e-30) = %v, %v, %v", z[0], z[1], z[2])
		}
	})
}

// sameF32 reports whether a and b are equal or both NaN.
func sameF32(a, b float32) bool { return a == b || (a != a && b != b) }

// TestLengths checks every length 0..67 at an aligned and an unaligned
// start: the results match element-wise evaluation, nothing past the end
// is written, and dst may alias the inputs.
func TestLengths(t *testing.T) {
	const maxN = 67
	rng := rand.New(rand.NewSource(3))
	src := make([]float32, maxN+1)
	gsrc := make([]float32, maxN+1)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 4)
		gsrc[i] = float32(rng.NormFloat64())
	}
	const sentinel = float32(-12345.5)
	paths(t, func(t *testing.T) {
		// want[i] for each function from one call per element.
		one := make([]float32, 1)
		for _, u := range unaries {
			want := make([]float32, len(src))
			for i := range src {
				u.f(one, src[i:i+1])
				want[i] = one[0]
			}
			for off := 0; off < 2; off++ {
				for n := 0; n+off <= maxN+1; n++ {
					buf := make([]float32, n+off+16)
					for i := range buf {
						buf[i] = sentinel
					}
					x := src[off : off+n]
					u.f(buf[off:off+n], x)
					al := append([]float32(nil), x...)
					u.f(al, al)
					for i := range buf {
						inside := i >= off && i < off+n
						switch {
						case inside && !sameF32(buf[i], want[i]):
							t.Fatalf("%s n=%d off=%d: dst[%d] = %v, want %v", u.name, n, off, i-off, buf[i], want[i])
						case inside && !sameF32(al[i-off], want[i]):
							t.Fatalf("%s n=%d off=%d aliased: dst[%d] = %v, want %v", u.name, n, off, i-off, al[i-off], want[i])
						case !inside && buf[i] != sentinel:
							t.Fatalf("%s n=%d off=%d: wrote %v at %d outside dst", u.name, n, off, buf[i], i-off)
						}
					}
				}
			}
		}
		for _, b := range binaries {
			want := make([]float32, len(src))
			for i := range src {
				b.f(one, src[i:i+1], gsrc[i:i+1])
				want[i] = one[0]
			}
			for off := 0; off < 2; off++ {
				for n := 0; n+off <= maxN+1; n++ {
					buf := make([]float32, n+off+16)
					for i := range buf {
						buf[i] = sentinel
					}
					x, g := src[off:off+n], gsrc[off:off+n]
					b.f(buf[off:off+n], x, g)
					ax := append([]float32(nil), x...)
					b.f(ax, ax, g)
					ag := append([]float32(nil), g...)
					b.f(ag, x, ag)
					for i := range buf {
						inside := i >= off && i < off+n
						switch {
						case inside && buf[i] != want[i]:
							t.Fatalf("%s n=%d off=%d: dst[%d] = %v, want %v", b.name, n, off, i-off, buf[i], want[i])
						case inside && (ax[i-off] != want[i] || ag[i-off] != want[i]):
							t.Fatalf("%s n=%d off=%d aliased: dst[%d] = %v / %v, want %v", b.name, n, off, i-off, ax[i-off], ag[i-off], want[i])
						case !inside && buf[i] != sentinel:
							t.Fatalf("%s n=%d off=%d: wrote %v at %d outside dst", b.name, n, off, buf[i], i-off)
						}
					}
				}
			}
		}
	})
}

// TestPathsAgree checks that the assembly and Go paths agree within 2 ulp
// of each other on random inputs.
func TestPathsAgree(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU or build")
	}
	saved := useAsm
	defer func() { useAsm = saved }()
	rng := rand.New(rand.NewSource(4))
	xs := make([]float32, 50000)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 10)
	}
	gy := grads(len(xs))
	a, g := make([]float32, len(xs)), make([]float32, len(xs))
	cmp := func(name string) {
		for i := range xs {
			if e := ulpErr(a[i], float64(g[i])); !(e <= 2) && !(math.Abs(float64(a[i]-g[i])) <= 1e-7) {
				t.Errorf("%s(%v): asm %v, go %v", name, xs[i], a[i], g[i])
				return
			}
		}
	}
	for _, u := range unaries {
		useAsm = true
		u.f(a, xs)
		useAsm = false
		u.f(g, xs)
		cmp(u.name)
	}
	for _, b := range binaries {
		useAsm = true
		b.f(a, xs, gy)
		useAsm = false
		b.f(g, xs, gy)
		cmp(b.name)
	}
}

func TestLengthMismatchPanics(t *testing.T) {
	calls := map[string]func(){
		"Exp":       func() { Exp(make([]float32, 2), make([]float32, 3)) },
		"SwishGrad": func() { SwishGrad(make([]float32, 3), make([]float32, 3), make([]float32, 2)) },
		"ELUGrad":   func() { ELUGrad(make([]float32, 2), make([]float32, 3), make([]float32, 3)) },
	}
	for name, f := range calls {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s with mismatched lengths did not panic", name)
				} else if s := fmt.Sprint(r); len(s) == 0 {
					t.Errorf("%s: empty panic message", name)
				}
			}()
			f()
		}()
	}
}

func TestNoAllocs(t *testing.T) {
	x := make([]float32, 100)
	gy := make([]float32, 100)
	dst := make([]float32, 100)
	if n := testing.AllocsPerRun(10, func() {
		Swish(dst, x)
		SwishGrad(dst, x, gy)
		Tanh(dst, x)
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func TestConstants(t *testing.T) {
	if d := float64(ln2Hi) + float64(ln2Lo) - math.Ln2; !(math.Abs(d) <= 1e-15) {
		t.Errorf("ln2Hi + ln2Lo − ln 2 = %g", d)
	}
}
