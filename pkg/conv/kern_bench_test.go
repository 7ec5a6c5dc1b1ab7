package conv

import "testing"

// benchKern times the forward direct kernels alone on one plane held in
// cache (single core): the ceiling the depthwise path can approach.
func benchKern(b *testing.B, p Params) {
	q := newDwXPlan[float32](p)
	buf := make([]float32, q.bufLen+64)
	for i := range buf {
		buf[i] = float32(i%7) * 0.1
	}
	out := make([]float32, q.oh*q.ld+64)
	w := make([]float32, q.kk)
	for i := range w {
		w[i] = 0.01 * float32(i)
	}
	b.ResetTimer()
	ctW := make([]float32, q.kk)
	for i := 0; i < b.N; i++ {
		if q.rp != nil {
			rowsForward(q.rp, buf, out, ctW, 0)
		}
		if q.vecs.n() > 0 {
			kernFwd(buf, out, &q.vecs, &q.taps, w, 0)
		}
	}
	fl := 2 * float64(q.oh*q.ow*q.kk)
	b.ReportMetric(fl*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkKernFwd16 is one 16x16 plane, 5x5 kernel, padding 2.
func BenchmarkKernFwd16(b *testing.B) {
	benchKern(b, Params{N: 1, C: 1, H: 16, W: 16, K: 1, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 1})
}

// BenchmarkKernFwd64 is one 64x64 plane, 5x5 kernel, padding 2.
func BenchmarkKernFwd64(b *testing.B) {
	benchKern(b, Params{N: 1, C: 1, H: 64, W: 64, K: 1, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 1})
}
