package vmath

import (
	"math"
	"math/rand"
	"testing"
)

const benchN = 1 << 16

func benchInputs() (x, gy, dst []float32) {
	rng := rand.New(rand.NewSource(5))
	x, gy, dst = make([]float32, benchN), make([]float32, benchN), make([]float32, benchN)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
		gy[i] = float32(rng.NormFloat64())
	}
	return
}

// report sets the throughput (bytes read and written per call, as GB/s)
// and adds an ns/elem metric.
func report(b *testing.B, streams int) {
	b.SetBytes(int64(4 * streams * benchN))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchN, "ns/elem")
}

// bench1 benchmarks a unary function with the assembly kernels (where
// available) and with the Go loops.
func bench1(b *testing.B, f func(dst, x []float32)) {
	x, _, dst := benchInputs()
	benchBoth(b, 2, func() { f(dst, x) })
}

// bench2 is bench1 for gradient functions (three streams).
func bench2(b *testing.B, f func(dst, x, gy []float32)) {
	x, gy, dst := benchInputs()
	benchBoth(b, 3, func() { f(dst, x, gy) })
}

// benchBoth runs call as sub-benchmarks "asm" (with AVX-512) and "go".
func benchBoth(b *testing.B, streams int, call func()) {
	saved := useAsm
	defer func() { useAsm = saved }()
	for _, asm := range []bool{true, false} {
		name := "go"
		if asm {
			if !hasAVX512 {
				continue
			}
			name = "asm"
		}
		b.Run(name, func(b *testing.B) {
			useAsm = asm
			for b.Loop() {
				call()
			}
			report(b, streams)
		})
	}
}

func BenchmarkExp(b *testing.B)       { bench1(b, Exp) }
func BenchmarkSigmoid(b *testing.B)   { bench1(b, Sigmoid) }
func BenchmarkSwish(b *testing.B)     { bench1(b, Swish) }
func BenchmarkSwishGrad(b *testing.B) { bench2(b, SwishGrad) }
func BenchmarkELU(b *testing.B)       { bench1(b, ELU) }
func BenchmarkELUGrad(b *testing.B)   { bench2(b, ELUGrad) }
func BenchmarkSoftplus(b *testing.B)  { bench1(b, Softplus) }
func BenchmarkTanh(b *testing.B)      { bench1(b, Tanh) }

// Naive baselines: per-element float64 math as the CPU backend computes
// it.

func naiveSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func BenchmarkNaiveExp(b *testing.B) {
	x, _, dst := benchInputs()
	for b.Loop() {
		for i, v := range x {
			dst[i] = float32(math.Exp(float64(v)))
		}
	}
	report(b, 2)
}

func BenchmarkNaiveSigmoid(b *testing.B) {
	x, _, dst := benchInputs()
	for b.Loop() {
		for i, v := range x {
			dst[i] = float32(naiveSigmoid(float64(v)))
		}
	}
	report(b, 2)
}

func BenchmarkNaiveSwish(b *testing.B) {
	x, _, dst := benchInputs()
	for b.Loop() {
		for i, v := range x {
			dst[i] = float32(float64(v) * naiveSigmoid(float64(v)))
		}
	}
	report(b, 2)
}

func BenchmarkNaiveSwishGrad(b *testing.B) {
	x, gy, dst := benchInputs()
	for b.Loop() {
		for i, v := range x {
			x := float64(v)
			s := naiveSigmoid(x)
			dst[i] = float32(float64(gy[i]) * s * (1 + x*(1-s)))
		}
	}
	report(b, 3)
}

func BenchmarkNaiveELU(b *testing.B) {
	x, _, dst := benchInputs()
	for b.Loop() {
		for i, v := range x {
			if v <= 0 {
				v = float32(math.Expm1(float64(v)))
			}
			dst[i] = v
		}
	}
	report(b, 2)
}

func BenchmarkNaiveTanh(b *testing.B) {
	x, _, dst := benchInputs()
	for b.Loop() {
		for i, v := range x {
			dst[i] = float32(math.Tanh(float64(v)))
		}
	}
	report(b, 2)
}

func BenchmarkNaiveSoftplus(b *testing.B) {
	x, _, dst := benchInputs()
	for b.Loop() {
		for i, v := range x {
			x := float64(v)
			dst[i] = float32(math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))))
		}
	}
	report(b, 2)
}
