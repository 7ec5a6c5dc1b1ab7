package cuda

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/pkg/conv"
)

// cuDNN forward, backward-data and backward-filter against pkg/conv, over
// strides, padding, dilation and groups (depthwise included), with
// alpha/beta blending and every algorithm cuDNN offers for the shape.
func TestCudnnConvMatchesCPU(t *testing.T) {
	c := ctx(t)
	d, s := handleOnStream(t, c, c.NewDNN)
	r := rand.New(rand.NewSource(3))
	shapes := []conv.Params{
		{N: 2, C: 3, H: 9, W: 7, K: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1, Groups: 1},
		{N: 1, C: 4, H: 10, W: 11, K: 6, KH: 3, KW: 2, SH: 2, SW: 3, PH: 0, PW: 1, DH: 1, DW: 1, Groups: 2},
		{N: 2, C: 6, H: 8, W: 8, K: 6, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1, Groups: 6}, // depthwise
		{N: 1, C: 2, H: 12, W: 9, K: 3, KH: 3, KW: 3, SH: 2, SW: 1, PH: 2, PW: 0, DH: 2, DW: 2, Groups: 1},
		{N: 3, C: 8, H: 4, W: 4, K: 16, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Groups: 1},
	}
	for i, p := range shapes {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cv, err := d.NewConv(ConvShape{N: p.N, C: p.C, H: p.H, W: p.W, K: p.K, KH: p.KH, KW: p.KW, SH: p.SH, SW: p.SW,
				PH: p.PH, PW: p.PW, DH: p.DH, DW: p.DW, Groups: p.Groups}, false, 64<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer cv.Destroy()
			if cv.OH != p.OutH() || cv.OW != p.OutW() {
				t.Fatalf("output %dx%d, pkg/conv says %dx%d", cv.OH, cv.OW, p.OutH(), p.OutW())
			}
			nx, nw, ny := p.N*p.C*p.H*p.W, p.K*(p.C/p.Groups)*p.KH*p.KW, p.N*p.K*p.OutH()*p.OutW()
			x, w, gy := randSlice(r, nx), randSlice(r, nw), randSlice(r, ny)
			y0 := randSlice(r, ny)
			wantY := make([]float32, ny)
			conv.Forward(p, x, w, nil, wantY)
			wantGX := make([]float32, nx)
			conv.BackwardData(p, gy, w, wantGX)
			wantGW := make([]float32, nw)
			conv.BackwardFilter(p, x, gy, wantGW)

			dx, dw, dgy := upload(t, c, x), upload(t, c, w), upload(t, c, gy)
			dy, dgx, dgw := upload(t, c, y0), mustAlloc(t, c, 4*nx), mustAlloc(t, c, 4*nw)
			wsBytes := cv.Workspace()
			var ws DevicePtr
			if wsBytes > 0 {
				ws = mustAlloc(t, c, wsBytes)
			}
			// y = 2*conv + 0.5*y0
			if err := cv.Forward(2, dx, dw, 0.5, dy, ws, wsBytes); err != nil {
				t.Fatal(err)
			}
			if err := cv.BackwardData(1, dw, dgy, 0, dgx, ws, wsBytes); err != nil {
				t.Fatal(err)
			}
			if err := cv.BackwardFilter(1, dx, dgy, 0, dgw, ws, wsBytes); err != nil {
				t.Fatal(err)
			}
			if err := s.Synchronize(); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, ny)
			for j := range want {
				want[j] = 2*wantY[j] + 0.5*y0[j]
			}
			if dd := maxDiff(t, download(t, dy, ny), want); !(dd <= 1e-4) {
				t.Errorf("forward: diff %g", dd)
			}
			if dd := maxDiff(t, download(t, dgx, nx), wantGX); !(dd <= 1e-4) {
				t.Errorf("backward data: diff %g", dd)
			}
			if dd := maxDiff(t, download(t, dgw, nw), wantGW); !(dd <= 1e-4) {
				t.Errorf("backward filter: diff %g", dd)
			}
			// every forward algorithm cuDNN offers, each with its own workspace
			for algo := 0; algo < 8; algo++ {
				n, err := cv.WorkspaceSize(algo)
				if err != nil {
					continue // not offered for this shape
				}
				var wsa DevicePtr
				if n > 0 {
					wsa = mustAlloc(t, c, n)
				}
				if err := cv.ForwardAlgo(algo, 1, dx, dw, 0, dy, wsa, n); err != nil {
					// a real cuDNN may size a workspace for an algorithm it then
					// declines for this shape; the emulator offers only what it runs
					if !Emulated() && (errors.Is(err, &Error{Lib: "cudnn", Status: 3000}) || errors.Is(err, &Error{Lib: "cudnn", Status: 2000})) {
						t.Logf("algo %d declined: %v", algo, err)
						continue
					}
					t.Fatalf("algo %d: %v", algo, err)
				}
				s.Synchronize()
				tol := 1e-4
				if !Emulated() && algo >= 4 {
					tol = 2e-3 // FFT and Winograd transforms round more
				}
				if dd := maxDiff(t, download(t, dy, ny), wantY); !(dd <= tol) {
					t.Errorf("forward algo %d: diff %g", algo, dd)
				}
				if n > 0 && Emulated() {
					err := cv.ForwardAlgo(algo, 1, dx, dw, 0, dy, wsa, n-1)
					if !errors.Is(err, &Error{Lib: "cudnn", Status: 2000}) {
						t.Errorf("algo %d with a workspace one byte short: %v", algo, err)
					}
				}
			}
		})
	}
}

func TestCudnnBadShapeIsNamed(t *testing.T) {
	c := ctx(t)
	d, err := c.NewDNN()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Destroy()
	// kernel larger than the padded input
	_, err = d.NewConv(ConvShape{N: 1, C: 1, H: 2, W: 2, K: 1, KH: 5, KW: 5, SH: 1, SW: 1, Groups: 1}, false, 0)
	var e *Error
	if !errors.As(err, &e) || e.Lib != "cudnn" || e.Call == "" {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
}
