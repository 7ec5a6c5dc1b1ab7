package conv

import (
	"math/rand/v2"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
)

// Benchmarks report GFLOP/s (wall clock) and GFLOP/cpu-s (per second of
// process CPU time) with 2·N·K·OH·OW·(C/G)·KH·KW FLOPs per pass (three
// passes for forward + backward data + backward filter).

func benchConv(b *testing.B, p Params, backward bool) {
	if err := p.Validate(); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.Float64()*2 - 1)
		}
		return s
	}
	x, w, bias, gy := fill(p.xLen()), fill(p.wLen()), fill(p.K), fill(p.yLen())
	y, gx, gw := make([]float32, p.yLen()), make([]float32, p.xLen()), make([]float32, p.wLen())
	passes := 1.0
	if backward {
		passes = 3
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	for i := 0; i < b.N; i++ {
		Forward(p, x, w, bias, y)
		if backward {
			BackwardData(p, gy, w, gx)
			BackwardFilter(p, x, gy, gw)
		}
	}
	flops := passes * p.FLOPs() * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// Per CPU-second of the whole process: robust against other load on the
	// machine (wall-clock GFLOP/s drops when cores are shared).
	if cpu := testenv.ProcessCPU() - cpu0; cpu > 0 {
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

var (
	conv3x3     = Params{N: 16, C: 64, H: 32, W: 32, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1}
	depthwise5  = Params{N: 16, C: 384, H: 16, W: 16, K: 384, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 384}
	depthwise5s = Params{N: 16, C: 384, H: 16, W: 16, K: 384, KH: 5, KW: 5, SH: 2, SW: 2, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 384}
	conv1x1     = Params{N: 16, C: 64, H: 16, W: 16, K: 384, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1}
)

func BenchmarkConv3x3_64_fwd(b *testing.B)             { benchConv(b, conv3x3, false) }
func BenchmarkConv3x3_64_fwdbwd(b *testing.B)          { benchConv(b, conv3x3, true) }
func BenchmarkDepthwise5x5_384_fwd(b *testing.B)       { benchConv(b, depthwise5, false) }
func BenchmarkDepthwise5x5_384_fwdbwd(b *testing.B)    { benchConv(b, depthwise5, true) }
func BenchmarkDepthwise5x5_384_s2_fwd(b *testing.B)    { benchConv(b, depthwise5s, false) }
func BenchmarkDepthwise5x5_384_s2_fwdbwd(b *testing.B) { benchConv(b, depthwise5s, true) }
func BenchmarkConv1x1_64_384_fwd(b *testing.B)         { benchConv(b, conv1x1, false) }
func BenchmarkConv1x1_64_384_fwdbwd(b *testing.B)      { benchConv(b, conv1x1, true) }

// Shapes of the small NVAE configurations (scripts/bench.sh): mnist_small
// (batch 32) 3x3 cells at 8x8 and 4x4 and a batched 1x1 at 4x4, cifar_small
// (batch 8) 3x3 at 16x16 and 32x32. Sub-benchmarks compare the
// forward column paths: fused into the GEMM panels (default), the shifted
// copy im2col buffer, and the general per-row im2col.
var nvaeSmall = map[string]Params{
	"3x3_64_8x8":    {N: 32, C: 64, H: 8, W: 8, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	"3x3_128_4x4":   {N: 32, C: 128, H: 4, W: 4, K: 128, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	"1x1_768_128_4": {N: 32, C: 768, H: 4, W: 4, K: 128, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1},
	// cifar_small, batch 8.
	"3x3_32_16x16":  {N: 8, C: 32, H: 16, W: 16, K: 32, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	"3x3_16_100_32": {N: 8, C: 16, H: 32, W: 32, K: 100, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
}

func BenchmarkNVAESmallFwd(b *testing.B) {
	defer func() { fusedIm2col, forceGeneralIm2col = true, false }()
	for _, name := range []string{"3x3_64_8x8", "3x3_128_4x4", "1x1_768_128_4", "3x3_32_16x16", "3x3_16_100_32"} {
		for _, mode := range []string{"fused", "shifted", "general"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				fusedIm2col, forceGeneralIm2col = mode == "fused", mode == "general"
				benchConv(b, nvaeSmall[name], false)
			})
		}
	}
}
