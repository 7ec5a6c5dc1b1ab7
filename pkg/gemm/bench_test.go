package gemm

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/pkg/par"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

var benchShapes = []benchShape{
	{"1024", false, false, 1024, 1024, 1024},
	{"Conv3x3Fwd", false, false, 64, 1024, 576},
	{"Conv3x3FwdBatched", false, false, 64, 16384, 576},
	{"Conv3x3BwdData", true, false, 576, 1024, 64},
	{"Conv3x3BwdFilter", false, true, 64, 576, 1024},
	{"Conv1x1Fwd", false, false, 384, 256, 64},
	{"Conv1x1FwdBatched", false, false, 384, 4096, 64},
	{"Small4", false, false, 4, 4, 4},
	{"Small8", false, false, 8, 8, 8},
	{"Small16", false, false, 16, 16, 16},
	{"Small16TT", true, true, 16, 16, 16},
	{"Small16NT", false, true, 16, 16, 16},
	{"Small24", false, false, 24, 24, 24},
	{"Small32", false, false, 32, 32, 32},
	{"Small64", false, false, 64, 64, 64},
	{"Small64TT", true, true, 64, 64, 64},
}

func benchOperands(s benchShape) (a, b, c []float32, lda, ldb int) {
	rng := rand.New(rand.NewSource(1))
	a = make([]float32, s.m*s.k)
	b = make([]float32, s.k*s.n)
	c = make([]float32, s.m*s.n)
	for i := range a {
		a[i] = rng.Float32()
	}
	for i := range b {
		b[i] = rng.Float32()
	}
	lda, ldb = s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return
}

func reportGFLOPS(b *testing.B, s benchShape, cpu0 float64) {
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu-s")
	}
}

func benchSgemm(b *testing.B, s benchShape) {
	a, bb, c, lda, ldb := benchOperands(s)
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	}
	reportGFLOPS(b, s, cpu0)
}

func benchGonum(b *testing.B, s benchShape) {
	a, bb, c, lda, ldb := benchOperands(s)
	ra, ca, rb, cb := s.m, s.k, s.k, s.n
	ta, tb := blas.NoTrans, blas.NoTrans
	if s.transA {
		ra, ca, ta = s.k, s.m, blas.Trans
	}
	if s.transB {
		rb, cb, tb = s.n, s.k, blas.Trans
	}
	A := blas32.General{Rows: ra, Cols: ca, Stride: lda, Data: a}
	B := blas32.General{Rows: rb, Cols: cb, Stride: ldb, Data: bb}
	C := blas32.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: c}
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		blas32.Gemm(ta, tb, 1, A, B, 0, C)
	}
	reportGFLOPS(b, s, cpu0)
}

// BenchmarkSgemm1024 is the headline 1024³ float32 product.
func BenchmarkSgemm1024(b *testing.B) { benchSgemm(b, benchShapes[0]) }

// BenchmarkSgemm covers the convolution-shaped and small products.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%s_%dx%dx%d", s.name, s.m, s.n, s.k), func(b *testing.B) { benchSgemm(b, s) })
	}
}

// BenchmarkSgemmSerial runs the same shapes on one core (par.Workers = 1).
func BenchmarkSgemmSerial(b *testing.B) {
	defer func(w int) { par.Workers = w }(par.Workers)
	par.Workers = 1
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%s_%dx%dx%d", s.name, s.m, s.n, s.k), func(b *testing.B) { benchSgemm(b, s) })
	}
}

// BenchmarkGonumSgemm is the gonum baseline on the same shapes.
func BenchmarkGonumSgemm(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%s_%dx%dx%d", s.name, s.m, s.n, s.k), func(b *testing.B) { benchGonum(b, s) })
	}
}
