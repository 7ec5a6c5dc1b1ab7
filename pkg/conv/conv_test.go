package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/nvaego/nvae/pkg/par"
)

// The reference convolution: plain nested loops in float64, straight from
// the definition of F.conv2d and its gradients.

func refIndex(p Params, oh, ow, kh, kw int) (ih, iw int, ok bool) {
	ih = oh*p.SH - p.PH + kh*p.DH
	iw = ow*p.SW - p.PW + kw*p.DW
	return ih, iw, ih >= 0 && ih < p.H && iw >= 0 && iw < p.W
}

// refAll computes y = conv(x, w) + bias, gx, gw and gb for the given gy.
func refAll(p Params, x, w, bias, gy []float64) (y, gx, gw, gb []float64) {
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	y = make([]float64, p.N*p.K*oh*ow)
	gx = make([]float64, p.N*p.C*p.H*p.W)
	gw = make([]float64, p.K*cg*p.KH*p.KW)
	gb = make([]float64, p.K)
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			g := k / kg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					yi := ((n*p.K+k)*oh+i)*ow + j
					s := 0.0
					if bias != nil {
						s = bias[k]
					}
					gb[k] += gy[yi]
					for c := 0; c < cg; c++ {
						ci := g*cg + c
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih, iw, ok := refIndex(p, i, j, kh, kw)
								if !ok {
									continue
								}
								xi := ((n*p.C+ci)*p.H+ih)*p.W + iw
								wi := ((k*cg+c)*p.KH+kh)*p.KW + kw
								s += x[xi] * w[wi]
								gx[xi] += gy[yi] * w[wi]
								gw[wi] += gy[yi] * x[xi]
							}
						}
					}
					y[yi] = s
				}
			}
		}
	}
	return y, gx, gw, gb
}

func randSlice(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.Float64()*2 - 1
	}
	return s
}

func absSlice(s []float64) []float64 {
	a := make([]float64, len(s))
	for i, v := range s {
		a[i] = math.Abs(v)
	}
	return a
}

func convert[T Float](s []float64) []T {
	o := make([]T, len(s))
	for i, v := range s {
		o[i] = T(v)
	}
	return o
}

func widen[T Float](s []T) []float64 {
	o := make([]float64, len(s))
	for i, v := range s {
		o[i] = float64(v)
	}
	return o
}

// garbage returns a slice of length n+extra filled with NaN: outputs must be
// overwritten, and the extra tail must be left alone.
func garbage[T Float](n, extra int) []T {
	s := make([]T, n+extra)
	for i := range s {
		s[i] = T(math.NaN())
	}
	return s
}

// compare checks got against want elementwise with tolerance tol·mag[i]
// (mag is the same computation on absolute values, bounding rounding).
func compare[T Float](t *testing.T, what string, got []T, want, mag []float64, tol float64) {
	t.Helper()
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(g) || !(math.Abs(g-w) <= tol*(mag[i]+1e-3)) {
			t.Fatalf("%s[%d] = %v, want %v (bound %g)", what, i, g, w, tol*(mag[i]+1e-3))
		}
	}
	for i := len(want); i < len(got); i++ {
		if !math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d beyond the output was written", what, i)
		}
	}
}

func checkCase[T Float](t *testing.T, p Params, seed uint64, tol float64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	x := randSlice(r, p.xLen())
	w := randSlice(r, p.wLen())
	bias := randSlice(r, p.K)
	gy := randSlice(r, p.yLen())
	// Round the inputs to T first so the reference sees the same numbers.
	xt, wt, bt, gyt := convert[T](x), convert[T](w), convert[T](bias), convert[T](gy)
	x, w, bias, gy = widen(xt), widen(wt), widen(bt), widen(gyt)
	y, gx, gw, gb := refAll(p, x, w, bias, gy)
	my, mgx, mgw, mgb := refAll(p, absSlice(x), absSlice(w), absSlice(bias), absSlice(gy))

	const extra = 3
	yt := garbage[T](p.yLen(), extra)
	Forward(p, xt, wt, bt, yt)
	compare(t, "y", yt, y, my, tol)

	// Without bias.
	y0, _, _, _ := refAll(p, x, w, nil, gy)
	yt = garbage[T](p.yLen(), extra)
	Forward(p, xt, wt, nil, yt)
	compare(t, "y(nobias)", yt, y0, my, tol)

	gxt := garbage[T](p.xLen(), extra)
	BackwardData(p, gyt, wt, gxt)
	compare(t, "gx", gxt, gx, mgx, tol)

	gwt := garbage[T](p.wLen(), extra)
	BackwardFilter(p, xt, gyt, gwt)
	compare(t, "gw", gwt, gw, mgw, tol)

	gbt := garbage[T](p.K, extra)
	BackwardBias(p, gyt, gbt)
	compare(t, "gb", gbt, gb, mgb, tol)
}

type shape struct{ h, w int }

// cases enumerates strides 1/2, padding 0/1/2, dilation 1/2, groups
// 1/2/C/C with K=2C, kernels 1/3/5, batch 1/3 over odd and vector-multiple
// sizes; impossible combinations (empty output) are skipped.
func cases() []Params {
	var ps []Params
	const C = 4
	for _, sh := range []shape{{7, 9}, {6, 16}} {
		for _, n := range []int{1, 3} {
			for _, ks := range []int{1, 3, 5} {
				for _, s := range []int{1, 2} {
					for _, pad := range []int{0, 1, 2} {
						for _, d := range []int{1, 2} {
							for gi, grp := range []struct{ g, k int }{{1, 6}, {2, 4}, {C, C}, {C, 2 * C}} {
								p := Params{N: n, C: C, H: sh.h, W: sh.w, K: grp.k, KH: ks, KW: ks,
									SH: s, SW: s, PH: pad, PW: pad, DH: d, DW: d, Groups: grp.g}
								// Vary one axis independently now and then.
								if (ks+s+pad+d+gi)%5 == 0 && ks > 1 {
									p.KW = ks - 2
									p.SW = 3 - s
									p.PW = (pad + 1) % 3
								}
								if p.Validate() != nil {
									continue
								}
								ps = append(ps, p)
							}
						}
					}
				}
			}
		}
	}
	return ps
}

func TestAgainstReference(t *testing.T) {
	ps := cases()
	if len(ps) < 300 {
		t.Fatalf("only %d cases", len(ps))
	}
	for i, p := range ps {
		checkCase[float64](t, p, uint64(i), 1e-12)
		checkCase[float32](t, p, uint64(i), 1e-5)
		if t.Failed() {
			t.Fatalf("case %+v", p)
		}
	}
}

// TestPortableKernels runs the direct path through the pure-Go kernels
// (8 and 16 lanes) and, for float32, the AVX2 (8-lane) kernels too.
func TestPortableKernels(t *testing.T) {
	saved2, saved512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512, forceWide = saved2, saved512, false }()
	for _, mode := range []struct{ avx2, avx512, wide bool }{{false, false, false}, {false, false, true}, {saved2, false, false}} {
		useAVX2, useAVX512, forceWide = mode.avx2, mode.avx512, mode.wide
		for i, p := range cases() {
			if p.Groups == p.C && i%2 == 0 {
				checkCase[float32](t, p, uint64(i), 1e-5)
				checkCase[float64](t, p, uint64(i), 1e-12)
			}
		}
	}
}

// largerShapes exercise the im2col batching (several images per GEMM), the
// direct 1x1 GEMM, groups and the depthwise path.
var largerShapes = []Params{
	{N: 3, C: 8, H: 16, W: 16, K: 12, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1},
	{N: 3, C: 8, H: 16, W: 17, K: 12, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 2},
	{N: 5, C: 6, H: 5, W: 6, K: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	{N: 5, C: 6, H: 4, W: 4, K: 8, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 2},
	{N: 2, C: 16, H: 16, W: 16, K: 16, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 16},
	{N: 2, C: 16, H: 16, W: 16, K: 32, KH: 5, KW: 5, SH: 2, SW: 2, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 16},
	{N: 2, C: 3, H: 19, W: 24, K: 6, KH: 3, KW: 3, SH: 2, SW: 1, PH: 0, PW: 1, DH: 2, DW: 1, Groups: 3},
	{N: 3, C: 16, H: 20, W: 21, K: 8, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	// Depthwise "same" on planes of width 4 or less (dwSmallPlan); 8x8 on
	// the row kernels.
	{N: 3, C: 24, H: 4, W: 4, K: 24, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 24},
	{N: 2, C: 20, H: 8, W: 4, K: 20, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 20},
	{N: 2, C: 8, H: 12, W: 4, K: 8, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 8},
	{N: 2, C: 6, H: 4, W: 4, K: 6, KH: 7, KW: 7, SH: 1, SW: 1, PH: 3, PW: 3, DH: 1, DW: 1, Groups: 6},
	{N: 2, C: 5, H: 16, W: 2, K: 5, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 5},
	{N: 3, C: 24, H: 8, W: 8, K: 24, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 24},
}

// TestDwSmallPath checks that the small-plane depthwise shapes of
// largerShapes take that path (where AVX-512 is there) and agree with the
// row kernels' path.
func TestDwSmallPath(t *testing.T) {
	if !useAVX512 {
		t.Skip("the small-plane depthwise kernel needs AVX-512")
	}
	defer func() { disableDwSmall = false }()
	n := 0
	for i, p := range largerShapes {
		disableDwSmall = false
		if newDwSmallPlan[float32](p) == nil {
			continue
		}
		n++
		r := rand.New(rand.NewPCG(uint64(i), 33))
		x, w, bias := convert[float32](randSlice(r, p.xLen())), convert[float32](randSlice(r, p.wLen())), convert[float32](randSlice(r, p.K))
		small, rows := make([]float32, p.yLen()), make([]float32, p.yLen())
		Forward(p, x, w, bias, small)
		disableDwSmall = true
		Forward(p, x, w, bias, rows)
		for j := range small {
			if d := math.Abs(float64(small[j] - rows[j])); !(d <= 1e-5*(1+math.Abs(float64(rows[j])))) {
				t.Fatalf("%+v: element %d = %v on the small-plane path, %v on the row kernels", p, j, small[j], rows[j])
			}
		}
	}
	if n != 5 {
		t.Fatalf("%d shapes took the small-plane path, want the 5 added for it", n)
	}
}

// schedules are the worker counts and unit schedules the larger shapes run
// under (serial, parallel units, GEMMs split over the cores).
var schedules = []struct {
	workers int
	outer   bool
}{{1, true}, {2, true}, {5, true}, {2, false}, {3, false}}

// TestLargerShapes covers the im2col batching (several images per GEMM),
// the direct 1x1 GEMM, and both the serial and parallel schedules.
func TestLargerShapes(t *testing.T) {
	saved := par.Workers
	defer func() { par.Workers, outerParallel = saved, true }()
	for _, mode := range schedules {
		workers := mode.workers
		par.Workers, outerParallel = workers, mode.outer
		for i, p := range largerShapes {
			checkCase[float64](t, p, uint64(100+i), 1e-12)
			checkCase[float32](t, p, uint64(100+i), 1e-5)
			if t.Failed() {
				t.Fatalf("workers %d outer %v case %+v", workers, mode.outer, p)
			}
		}
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// TestAdjoint checks <Forward(x), gy> = <x, BackwardData(gy)> = <w, BackwardFilter(x, gy)>
// in float64 (all three are the same trilinear sum over x, w and gy).
func TestAdjoint(t *testing.T) {
	for i, p := range cases() {
		if i%3 != 0 {
			continue
		}
		r := rand.New(rand.NewPCG(uint64(i), 11))
		x, w, gy := randSlice(r, p.xLen()), randSlice(r, p.wLen()), randSlice(r, p.yLen())
		y := make([]float64, p.yLen())
		gx := make([]float64, p.xLen())
		gw := make([]float64, p.wLen())
		Forward(p, x, w, nil, y)
		BackwardData(p, gy, w, gx)
		BackwardFilter(p, x, gy, gw)
		a, b, c := dot(y, gy), dot(x, gx), dot(w, gw)
		scale := 1 + math.Abs(a)
		if !(math.Abs(a-b) <= 1e-10*scale) || !(math.Abs(a-c) <= 1e-10*scale) {
			t.Fatalf("%+v: <y,gy>=%v <x,gx>=%v <w,gw>=%v", p, a, b, c)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Params{N: 1, C: 4, H: 5, W: 5, K: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 2}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if good.OutH() != 5 || good.OutW() != 5 {
		t.Fatalf("out %dx%d", good.OutH(), good.OutW())
	}
	q := Params{N: 1, C: 1, H: 16, W: 15, K: 1, KH: 5, KW: 3, SH: 2, SW: 3, PH: 2, PW: 0, DH: 1, DW: 2, Groups: 1}
	if q.OutH() != 8 || q.OutW() != 4 { // (16+4-4-1)/2+1, (15-4-1)/3+1
		t.Fatalf("out %dx%d", q.OutH(), q.OutW())
	}
	bad := []func(p *Params){
		func(p *Params) { p.N = 0 },
		func(p *Params) { p.K = 0 },
		func(p *Params) { p.SH = 0 },
		func(p *Params) { p.PW = -1 },
		func(p *Params) { p.DW = 0 },
		func(p *Params) { p.Groups = 0 },
		func(p *Params) { p.Groups = 3 },
		func(p *Params) { p.K = 6; p.Groups = 4 },
		func(p *Params) { p.PH = 0; p.KH = 7 },
		func(p *Params) { p.PW = 0; p.DW = 3 },
	}
	for i, f := range bad {
		p := good
		f(&p)
		if p.Validate() == nil {
			t.Errorf("case %d: %+v validated", i, p)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("short y did not panic")
		}
	}()
	Forward(good, make([]float32, 100), make([]float32, 72), nil, make([]float32, 99))
}

func TestFLOPs(t *testing.T) {
	p := Params{N: 16, C: 64, H: 32, W: 32, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1}
	if got, want := p.FLOPs(), 2.0*16*64*32*32*64*9; got != want {
		t.Fatal(fmt.Sprint(got, want))
	}
}

// TestEdgeShapes covers padding wider than the kernel, 1-pixel inputs,
// kernels larger than the input, stride larger than the kernel, a channel
// multiplier of 3 and unequal per-axis parameters, on both paths.
func TestEdgeShapes(t *testing.T) {
	shapes := []Params{
		{N: 1, C: 2, H: 1, W: 1, K: 2, KH: 1, KW: 1, SH: 1, SW: 1, PH: 3, PW: 2, DH: 1, DW: 1, Groups: 2},
		{N: 2, C: 2, H: 1, W: 1, K: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
		{N: 2, C: 3, H: 4, W: 5, K: 9, KH: 5, KW: 7, SH: 1, SW: 2, PH: 2, PW: 3, DH: 1, DW: 1, Groups: 3},
		{N: 2, C: 3, H: 11, W: 13, K: 3, KH: 1, KW: 1, SH: 3, SW: 4, PH: 1, PW: 2, DH: 1, DW: 1, Groups: 3},
		{N: 2, C: 3, H: 11, W: 13, K: 6, KH: 2, KW: 3, SH: 3, SW: 2, PH: 0, PW: 4, DH: 3, DW: 2, Groups: 1},
		{N: 1, C: 2, H: 9, W: 40, K: 6, KH: 3, KW: 5, SH: 2, SW: 1, PH: 5, PW: 1, DH: 2, DW: 3, Groups: 2},
		{N: 1, C: 1, H: 6, W: 33, K: 5, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	}
	for i, p := range shapes {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		checkCase[float64](t, p, uint64(200+i), 1e-12)
		checkCase[float32](t, p, uint64(200+i), 1e-5)
		if t.Failed() {
			t.Fatalf("case %+v", p)
		}
	}
}

// TestRowsKernels covers the depthwise rows kernels (stride 1 and dilation 1
// vertically, at least 8 output rows) for every kernel height they exist
// for, with and without horizontal stride and dilation, channel multipliers,
// tail rows, and both vector widths.
func TestRowsKernels(t *testing.T) {
	saved2, saved512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = saved2, saved512 }()
	modes := []struct{ avx2, avx512 bool }{{saved2, saved512}, {saved2, false}}
	for _, mode := range modes {
		useAVX2, useAVX512 = mode.avx2, mode.avx512
		i := 0
		for kh := 1; kh <= 14; kh++ {
			for _, v := range []struct{ h, w, kw, sw, dw, m int }{
				{19, 13, 3, 1, 1, 1}, {16, 16, 5, 1, 1, 2}, {12, 37, 2, 2, 1, 1}, {9, 24, 3, 1, 2, 1}, {8, 8, 1, 1, 1, 3},
			} {
				if kh > 8 && v.m > 1 {
					continue
				}
				p := Params{N: 2, C: 3, H: v.h, W: v.w, K: 3 * v.m, KH: kh, KW: v.kw, SH: 1, SW: v.sw,
					PH: kh / 2, PW: v.kw / 2, DH: 1, DW: v.dw, Groups: 3}
				if p.Validate() != nil || p.OutH() < rowsR {
					continue
				}
				i++
				checkCase[float32](t, p, uint64(300+i), 1e-5)
				if t.Failed() {
					t.Fatalf("avx2 %v avx512 %v case %+v", mode.avx2, mode.avx512, p)
				}
			}
		}
		if i < 30 {
			t.Fatalf("only %d cases", i)
		}
	}
}

// TestCopyRows checks the strided row copy for every tail length.
func TestCopyRows(t *testing.T) {
	for n := 1; n <= 40; n++ {
		const rows, ds, ss = 3, 45, 41
		src := make([]float32, (rows-1)*ss+n)
		for i := range src {
			src[i] = float32(i + 1)
		}
		dst := make([]float32, (rows-1)*ds+n+20)
		copyRows(dst, src, rows, n, ds, ss)
		for r := 0; r < rows; r++ {
			for i := 0; i < ds && r*ds+i < len(dst); i++ {
				want := float32(0)
				if i < n {
					want = src[r*ss+i]
				}
				if dst[r*ds+i] != want {
					t.Fatalf("n=%d row %d col %d: %v, want %v", n, r, i, dst[r*ds+i], want)
				}
			}
		}
	}
}

// TestIm2colSame checks that the shifted-copy im2col of stride-1 "same"
// convolutions writes exactly (bit for bit, every element) the matrix of the
// general path, for batched units, groups and planes narrower than the
// kernel.
func TestIm2colSame(t *testing.T) {
	defer func() { forceGeneralIm2col = false }()
	shapes := []Params{
		{N: 5, C: 6, H: 8, W: 8, K: 4, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1},
		{N: 3, C: 8, H: 4, W: 4, K: 8, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 2},
		{N: 2, C: 4, H: 7, W: 5, K: 4, KH: 5, KW: 5, PH: 2, PW: 2, Groups: 1},
		{N: 2, C: 3, H: 1, W: 1, K: 2, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1},
		{N: 2, C: 3, H: 2, W: 1, K: 2, KH: 5, KW: 5, PH: 2, PW: 2, Groups: 1},
		{N: 3, C: 4, H: 6, W: 9, K: 4, KH: 3, KW: 1, PH: 1, PW: 0, Groups: 1},
		{N: 3, C: 4, H: 6, W: 9, K: 4, KH: 1, KW: 3, PH: 0, PW: 1, Groups: 1},
		{N: 9, C: 4, H: 4, W: 4, K: 6, KH: 1, KW: 1, Groups: 1},
	}
	for _, p := range shapes {
		p.SH, p.SW, p.DH, p.DW = 1, 1, 1, 1
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		q := newGemmPlan(p, 4)
		if !q.samePlane() {
			t.Fatalf("%+v: not a same-plane convolution", p)
		}
		x := make([]float32, p.xLen())
		for i := range x {
			x[i] = float32(i%97) - 40.5
		}
		forceGeneralIm2col = true
		for u := 0; u < q.units; u++ {
			n0, cnt, g := q.unit(u)
			n := q.kc * cnt * q.P
			var got, want []float32
			for _, general := range []bool{false, true} {
				col := make([]float32, n)
				for i := range col {
					col[i] = float32(math.NaN())
				}
				if general {
					im2colRange(q, x, n0, cnt, g, col, 0, cnt*q.cg)
					want = col
				} else {
					im2colSame(q, x, n0, cnt, g, col, 0, cnt*q.cg)
					got = col
				}
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v unit %d: col[%d] = %v, general path %v", p, u, i, got[i], want[i])
				}
			}
		}
	}
}

// TestFusedIm2colBitExact checks that the forward pass with the columns
// packed straight into the GEMM panels (packSame) gives bit for bit the
// output of the im2col-buffer path, on batched and single-image units,
// groups, both schedules and float32/float64.
func TestFusedIm2colBitExact(t *testing.T) {
	saved := par.Workers
	defer func() { par.Workers, outerParallel, fusedIm2col = saved, true, true }()
	shapes := []Params{
		{N: 5, C: 6, H: 15, W: 15, K: 7, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1}, // multi-word masks
		{N: 32, C: 64, H: 8, W: 8, K: 64, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1},
		{N: 32, C: 128, H: 4, W: 4, K: 40, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1},
		{N: 5, C: 20, H: 16, W: 16, K: 24, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1},
		{N: 3, C: 8, H: 16, W: 17, K: 12, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 2},
		{N: 7, C: 6, H: 5, W: 6, K: 4, KH: 5, KW: 5, PH: 2, PW: 2, Groups: 1},
		{N: 4, C: 3, H: 2, W: 1, K: 5, KH: 5, KW: 5, PH: 2, PW: 2, Groups: 1},
		{N: 6, C: 4, H: 6, W: 9, K: 4, KH: 3, KW: 1, PH: 1, PW: 0, Groups: 1},
		{N: 32, C: 64, H: 4, W: 4, K: 96, KH: 1, KW: 1, Groups: 1},
		{N: 9, C: 12, H: 3, W: 5, K: 6, KH: 1, KW: 1, Groups: 3},
		{N: 2, C: 2, H: 2, W: 2, K: 1, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1},  // gemm's direct loops
		{N: 64, C: 2, H: 1, W: 1, K: 1, KH: 3, KW: 3, PH: 1, PW: 1, Groups: 1}, // 64 one-pixel images per panel
	}
	run := func(p Params, x, w, bias any, fused bool) any {
		fusedIm2col = fused
		switch x := x.(type) {
		case []float32:
			y := garbage[float32](p.yLen(), 0)
			Forward(p, x, w.([]float32), bias.([]float32), y)
			return y
		default:
			y := garbage[float64](p.yLen(), 0)
			Forward(p, x.([]float64), w.([]float64), bias.([]float64), y)
			return y
		}
	}
	for _, mode := range []struct {
		workers int
		outer   bool
	}{{1, true}, {2, true}, {2, false}, {3, false}} {
		par.Workers, outerParallel = mode.workers, mode.outer
		for i, p := range shapes {
			p.SH, p.SW, p.DH, p.DW = 1, 1, 1, 1
			r := rand.New(rand.NewPCG(uint64(i), 9))
			x, w, bias := randSlice(r, p.xLen()), randSlice(r, p.wLen()), randSlice(r, p.K)
			for _, f64 := range []bool{false, true} {
				var xs, ws, bs any = convert[float32](x), convert[float32](w), convert[float32](bias)
				if f64 {
					xs, ws, bs = x, w, bias
				}
				want := fmt.Sprint(run(p, xs, ws, bs, false))
				for _, masked := range []bool{true, false} {
					packSameMasked = masked
					got := fmt.Sprint(run(p, xs, ws, bs, true))
					packSameMasked = true
					if got != want {
						t.Fatalf("workers %d outer %v float64 %v masked %v %+v: fused forward differs from the im2col path", mode.workers, mode.outer, f64, masked, p)
					}
				}
			}
		}
	}
}

// TestForwardEpilogue checks that ForwardEpilogue visits every output
// element exactly once, after the bias, with the right channel: the
// epilogue y ← y·(k+2) + k + n_visits·1000 applied block by block must equal
// Forward followed by the same map over the whole output, bit for bit, on
// the GEMM paths (batched, single-image, direct 1x1, groups), the
// depthwise path, and every schedule.
func TestForwardEpilogue(t *testing.T) {
	saved := par.Workers
	defer func() { par.Workers, outerParallel = saved, true }()
	shapes := append(append([]Params(nil), largerShapes...), []Params{
		{N: 32, C: 64, H: 8, W: 8, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
		{N: 32, C: 64, H: 4, W: 4, K: 96, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1},
		{N: 4, C: 24, H: 8, W: 8, K: 24, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 24},
		{N: 1, C: 16, H: 32, W: 32, K: 16, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	}...)
	for _, mode := range schedules {
		par.Workers, outerParallel = mode.workers, mode.outer
		for i, p := range shapes {
			r := rand.New(rand.NewPCG(uint64(i), 21))
			x, w, bias := convert[float32](randSlice(r, p.xLen())), convert[float32](randSlice(r, p.wLen())), convert[float32](randSlice(r, p.K))
			oplane := p.OutH() * p.OutW()
			want := garbage[float32](p.yLen(), 0)
			Forward(p, x, w, bias, want)
			for j := range want {
				k := float32(j / oplane % p.K)
				want[j] = want[j]*(k+2) + k + 1000
			}
			got := garbage[float32](p.yLen(), 0)
			var mu sync.Mutex
			ForwardEpilogue(p, x, w, bias, got, func(y []float32, k0, rows, n, ld int) {
				if rows <= 0 || n <= 0 || ld < n {
					mu.Lock()
					t.Errorf("%+v: epilogue block rows %d n %d ld %d", p, rows, n, ld)
					mu.Unlock()
					return
				}
				for r := 0; r < rows; r++ {
					k := float32(k0 + r)
					row := y[r*ld : r*ld+n]
					for j := range row {
						row[j] = row[j]*(k+2) + k + 1000
					}
				}
			})
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("workers %d outer %v %+v: element %d = %g, want %g (forward then the map)", mode.workers, mode.outer, p, j, got[j], want[j])
				}
			}
		}
	}
}
