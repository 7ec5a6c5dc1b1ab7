package cuda

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// The emulated cuDNN convolutions and cuBLAS SGEMM are exact references:
// every output element is the float32 rounding of alpha times a double
// sum, taken in a fixed order, blended with beta. These checks redo the
// documented reference loops here (the order the emulator has always
// used: for the forward pass input channel, filter row, filter column;
// for backward data output channel, output row, output column; for
// backward filter image, output row, output column; for GEMM the inner
// index) and require bit-identical results, so that the emulator's loop
// order and its split over threads never change a result.

// refConv is the reference: y, dx or dw (out 2, 0, 1) from the other two.
func refConv(p ConvShape, oh, ow int, x, w, y []float32, out int, alpha, beta float32, o []float32) []float32 {
	Cg, Kg := p.C/p.Groups, p.K/p.Groups
	var nOut int
	switch out {
	case 0:
		nOut = len(x)
	case 1:
		nOut = len(w)
	default:
		nOut = len(y)
	}
	acc := make([]float64, nOut)
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			g := k / Kg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					yi := ((n*p.K+k)*oh+i)*ow + j
					for c := 0; c < Cg; c++ {
						for r := 0; r < p.KH; r++ {
							ih := i*p.SH - p.PH + r*p.DH
							if ih < 0 || ih >= p.H {
								continue
							}
							for t := 0; t < p.KW; t++ {
								iw := j*p.SW - p.PW + t*p.DW
								if iw < 0 || iw >= p.W {
									continue
								}
								xi := ((n*p.C+g*Cg+c)*p.H+ih)*p.W + iw
								wi := ((k*Cg+c)*p.KH+r)*p.KW + t
								switch out {
								case 0:
									acc[xi] += float64(y[yi]) * float64(w[wi])
								case 1:
									acc[wi] += float64(x[xi]) * float64(y[yi])
								default:
									acc[yi] += float64(x[xi]) * float64(w[wi])
								}
							}
						}
					}
				}
			}
		}
	}
	res := make([]float32, nOut)
	for i := range res {
		a := float64(alpha) * acc[i]
		if beta == 0 {
			res[i] = float32(a)
		} else {
			res[i] = float32(a + float64(float64(beta)*float64(o[i])))
		}
	}
	return res
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s: element %d is %v (%#x), the reference gives %v (%#x)", what, i, got[i],
				math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			return
		}
	}
}

func TestEmuConvBitExact(t *testing.T) {
	emuOnly(t)
	c := ctx(t)
	d, s := handleOnStream(t, c, c.NewDNN)
	r := rand.New(rand.NewSource(7))
	shapes := []ConvShape{
		{N: 2, C: 3, H: 9, W: 7, K: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
		{N: 1, C: 4, H: 10, W: 11, K: 6, KH: 3, KW: 2, SH: 2, SW: 3, PH: 0, PW: 1, DH: 1, DW: 1, Groups: 2},
		{N: 2, C: 6, H: 8, W: 8, K: 6, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 6},
		{N: 1, C: 2, H: 12, W: 9, K: 3, KH: 3, KW: 3, SH: 2, SW: 1, PH: 2, PW: 0, DH: 2, DW: 2, Groups: 1},
		{N: 3, C: 8, H: 4, W: 4, K: 16, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1},
		{N: 2, C: 5, H: 7, W: 6, K: 3, KH: 3, KW: 4, SH: 3, SW: 2, PH: 4, PW: 3, DH: 2, DW: 1, Groups: 1},
		{N: 3, C: 24, H: 15, W: 13, K: 20, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 4},
		{N: 2, C: 32, H: 16, W: 16, K: 48, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
	}
	for i, p := range shapes {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cv, err := d.NewConv(p, false, 64<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer cv.Destroy()
			nx, nw, ny := p.N*p.C*p.H*p.W, p.K*(p.C/p.Groups)*p.KH*p.KW, p.N*p.K*cv.OH*cv.OW
			x, w, y := randSlice(r, nx), randSlice(r, nw), randSlice(r, ny)
			y0, x0, w0 := randSlice(r, ny), randSlice(r, nx), randSlice(r, nw)
			dx, dw, dy := upload(t, c, x), upload(t, c, w), upload(t, c, y)
			oy, ox, ow := upload(t, c, y0), upload(t, c, x0), upload(t, c, w0)
			oy0, ox0, ow0 := mustAlloc(t, c, 4*ny), mustAlloc(t, c, 4*nx), mustAlloc(t, c, 4*nw)
			ws := cv.Workspace()
			var wsp DevicePtr
			if ws > 0 {
				wsp = mustAlloc(t, c, ws)
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(cv.Forward(1.5, dx, dw, 0.25, oy, wsp, ws))
			must(cv.Forward(1, dx, dw, 0, oy0, wsp, ws))
			must(cv.BackwardData(0.75, dw, dy, -0.5, ox, wsp, ws))
			must(cv.BackwardData(1, dw, dy, 0, ox0, wsp, ws))
			must(cv.BackwardFilter(2, dx, dy, 1, ow, wsp, ws))
			must(cv.BackwardFilter(1, dx, dy, 0, ow0, wsp, ws))
			must(s.Synchronize())
			sameBits(t, "forward", download(t, oy, ny), refConv(p, cv.OH, cv.OW, x, w, y, 2, 1.5, 0.25, y0))
			sameBits(t, "forward beta=0", download(t, oy0, ny), refConv(p, cv.OH, cv.OW, x, w, y, 2, 1, 0, nil))
			sameBits(t, "backward data", download(t, ox, nx), refConv(p, cv.OH, cv.OW, x, w, y, 0, 0.75, -0.5, x0))
			sameBits(t, "backward data beta=0", download(t, ox0, nx), refConv(p, cv.OH, cv.OW, x, w, y, 0, 1, 0, nil))
			sameBits(t, "backward filter", download(t, ow, nw), refConv(p, cv.OH, cv.OW, x, w, y, 1, 2, 1, w0))
			sameBits(t, "backward filter beta=0", download(t, ow0, nw), refConv(p, cv.OH, cv.OW, x, w, y, 1, 1, 0, nil))
		})
	}
}

func tf32(x float32) float32 {
	u := math.Float32bits(x)
	if u&0x7f800000 == 0x7f800000 {
		return x
	}
	u += 0xfff + (u>>13)&1
	return math.Float32frombits(u & 0xffffe000)
}

// refGemm is the column-major reference of one GEMM.
func refGemm(useTF32, ta, tb bool, m, n, k int, alpha float32, A []float32, lda int, B []float32, ldb int, beta float32, Cm []float32, ldc int) {
	for j := 0; j < n; j++ {
		for i := 0; i < m; i++ {
			acc := 0.0
			for p := 0; p < k; p++ {
				var a, b float32
				if ta {
					a = A[p+i*lda]
				} else {
					a = A[i+p*lda]
				}
				if tb {
					b = B[j+p*ldb]
				} else {
					b = B[p+j*ldb]
				}
				if useTF32 {
					a, b = tf32(a), tf32(b)
				}
				acc += float64(a) * float64(b)
			}
			v := float64(alpha) * acc
			if beta == 0 {
				Cm[i+j*ldc] = float32(v)
			} else {
				Cm[i+j*ldc] = float32(v + float64(float64(beta)*float64(Cm[i+j*ldc])))
			}
		}
	}
}

func TestEmuSgemmBitExact(t *testing.T) {
	emuOnly(t)
	c := ctx(t)
	b, s := handleOnStream(t, c, c.NewBlas)
	r := rand.New(rand.NewSource(11))
	type shape struct{ m, n, k, batch int }
	for _, sh := range []shape{{1, 1, 1, 1}, {5, 7, 3, 2}, {33, 17, 65, 3}, {130, 70, 90, 1}, {64, 3, 0, 1}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, useTF32 := range []bool{false, true} {
				for _, beta := range []float32{0, 0.5} {
					name := fmt.Sprintf("%dx%dx%d*%d/ta=%v,tb=%v,tf32=%v,beta=%v", sh.m, sh.n, sh.k, sh.batch, tr[0], tr[1], useTF32, beta)
					t.Run(name, func(t *testing.T) {
						ta, tb := tr[0], tr[1]
						rowsA, colsA := sh.m, sh.k
						if ta {
							rowsA, colsA = sh.k, sh.m
						}
						rowsB, colsB := sh.k, sh.n
						if tb {
							rowsB, colsB = sh.n, sh.k
						}
						lda, ldb, ldc := max(rowsA, 1)+2, max(rowsB, 1)+1, sh.m+3
						sA, sB, sC := lda*max(colsA, 1)+5, ldb*max(colsB, 1)+1, ldc*sh.n+2
						A, B, C0 := randSlice(r, sA*sh.batch), randSlice(r, sB*sh.batch), randSlice(r, sC*sh.batch)
						if err := b.SetTF32(useTF32); err != nil {
							t.Fatal(err)
						}
						dA, dB, dC := upload(t, c, A), upload(t, c, B), upload(t, c, C0)
						if err := b.SgemmStridedBatched(ta, tb, sh.m, sh.n, sh.k, 1.25, dA, lda, sA, dB, ldb, sB, beta, dC, ldc, sC, sh.batch); err != nil {
							t.Fatal(err)
						}
						if err := s.Synchronize(); err != nil {
							t.Fatal(err)
						}
						want := append([]float32(nil), C0...)
						for q := 0; q < sh.batch; q++ {
							refGemm(useTF32, ta, tb, sh.m, sh.n, sh.k, 1.25, A[q*sA:], lda, B[q*sB:], ldb, beta, want[q*sC:], ldc)
						}
						sameBits(t, "sgemm", download(t, dC, len(want)), want)
					})
				}
			}
		}
	}
}

// Benchmarks of the emulated libraries at the sizes of a small model's
// layers: a 3×3 convolution N=8, C=K=64, 28×28 in each direction and a
// 512³ SGEMM.

func BenchmarkEmuConv3x3(b *testing.B) {
	if !Emulated() {
		b.Skip("emulated-device benchmark")
	}
	c := ctx(b)
	d, err := c.NewDNN()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Destroy()
	p := ConvShape{N: 8, C: 64, H: 28, W: 28, K: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1}
	cv, err := d.NewConv(p, false, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer cv.Destroy()
	r := rand.New(rand.NewSource(1))
	nx, nw, ny := p.N*p.C*p.H*p.W, p.K*p.C*p.KH*p.KW, p.N*p.K*cv.OH*cv.OW
	alloc := func(n int) DevicePtr {
		ptr, err := c.Alloc(4 * n)
		if err != nil {
			b.Fatal(err)
		}
		if err := CopyToDevice(ptr, randSlice(r, n)); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Free(ptr) })
		return ptr
	}
	x, w, y := alloc(nx), alloc(nw), alloc(ny)
	for _, dir := range []string{"Forward", "BackwardData", "BackwardFilter"} {
		b.Run(dir, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var err error
				switch dir {
				case "Forward":
					err = cv.Forward(1, x, w, 0, y, 0, 0)
				case "BackwardData":
					err = cv.BackwardData(1, w, y, 0, x, 0, 0)
				default:
					err = cv.BackwardFilter(1, x, y, 0, w, 0, 0)
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Synchronize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEmuSgemm(b *testing.B) {
	if !Emulated() {
		b.Skip("emulated-device benchmark")
	}
	c := ctx(b)
	bl, err := c.NewBlas()
	if err != nil {
		b.Fatal(err)
	}
	defer bl.Destroy()
	const n = 512
	r := rand.New(rand.NewSource(1))
	var ps [3]DevicePtr
	for i := range ps {
		if ps[i], err = c.Alloc(4 * n * n); err != nil {
			b.Fatal(err)
		}
		defer c.Free(ps[i])
		if err := CopyToDevice(ps[i], randSlice(r, n*n)); err != nil {
			b.Fatal(err)
		}
	}
	for _, tr := range [][2]bool{{false, false}, {true, false}} {
		b.Run(fmt.Sprintf("ta=%v,tb=%v", tr[0], tr[1]), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := bl.Sgemm(tr[0], tr[1], n, n, n, 1, ps[0], n, ps[1], n, 0, ps[2], n); err != nil {
					b.Fatal(err)
				}
				if err := c.Synchronize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
