package cuda

import (
	"errors"
	"math/rand"
	"testing"

	"github.com/nvaego/nvae/pkg/gemm"
)

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func upload(t *testing.T, c *Context, x []float32) DevicePtr {
	t.Helper()
	p := mustAlloc(t, c, 4*len(x))
	if err := CopyToDevice(p, x); err != nil {
		t.Fatal(err)
	}
	return p
}

func download(t *testing.T, p DevicePtr, n int) []float32 {
	t.Helper()
	x := make([]float32, n)
	if err := CopyFromDevice(x, p); err != nil {
		t.Fatal(err)
	}
	return x
}

// handleOnStream creates a library handle with create and sets it on a new
// stream of c; the stream, then the handle, are destroyed when the test ends.
func handleOnStream[H interface {
	Destroy() error
	SetStream(*Stream) error
}](t *testing.T, c *Context, create func() (H, error)) (H, *Stream) {
	t.Helper()
	h, err := create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Destroy() })
	s, _ := c.NewStream()
	t.Cleanup(func() { s.Destroy() })
	if err := h.SetStream(s); err != nil {
		t.Fatal(err)
	}
	return h, s
}

// cuBLAS (column-major, via the operand swap) against pkg/gemm (row-major)
// for every transpose combination, with beta ≠ 0, TF32 off and on.
func TestCublasSgemmMatchesCPU(t *testing.T) {
	c := ctx(t)
	b, s := handleOnStream(t, c, c.NewBlas)
	r := rand.New(rand.NewSource(1))
	const m, n, k = 37, 29, 300
	for _, tf32 := range []bool{false, true} {
		if err := b.SetTF32(tf32); err != nil {
			t.Fatal(err)
		}
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				A, B, C0 := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				want := append([]float32(nil), C0...)
				gemm.Sgemm(ta, tb, m, n, k, 1.5, A, lda, B, ldb, 0.5, want, n)
				dA, dB, dC := upload(t, c, A), upload(t, c, B), upload(t, c, C0)
				if err := b.SgemmRowMajor(ta, tb, m, n, k, 1.5, dA, lda, dB, ldb, 0.5, dC, n); err != nil {
					t.Fatal(err)
				}
				if err := s.Synchronize(); err != nil {
					t.Fatal(err)
				}
				got := download(t, dC, m*n)
				d := maxDiff(t, got, want)
				tol := 1e-5 * k
				if tf32 {
					tol = 2e-3 * 20 // 10-bit mantissa inputs, sum of 300 products of N(0,1)
				}
				if !(d <= tol) {
					t.Fatalf("tf32=%v ta=%v tb=%v: max rel diff %g > %g", tf32, ta, tb, d, tol)
				}
				if tf32 && Emulated() && d < 1e-6 {
					t.Fatalf("TF32 mode gave full-precision results (diff %g)", d)
				}
			}
		}
	}
}

func TestCublasStridedBatched(t *testing.T) {
	c := ctx(t)
	b, err := c.NewBlas()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	r := rand.New(rand.NewSource(2))
	const m, n, k, batch = 8, 12, 20, 5
	A, B := randSlice(r, batch*m*k), randSlice(r, batch*k*n)
	want := make([]float32, batch*m*n)
	for i := 0; i < batch; i++ {
		gemm.Sgemm(false, false, m, n, k, 1, A[i*m*k:], k, B[i*k*n:], n, 0, want[i*m*n:], n)
	}
	dA, dB, dC := upload(t, c, A), upload(t, c, B), mustAlloc(t, c, 4*batch*m*n)
	// row-major batched product through the swap: Cᵀ = Bᵀ·Aᵀ per batch
	if err := b.SgemmStridedBatched(false, false, n, m, k, 1, dB, n, k*n, dA, k, m*k, 0, dC, n, m*n, batch); err != nil {
		t.Fatal(err)
	}
	got := download(t, dC, batch*m*n)
	if d := maxDiff(t, got, want); !(d <= 1e-5) {
		t.Fatalf("strided batched: diff %g", d)
	}
	// documented argument checks
	err = b.Sgemm(false, false, 4, 4, 4, 1, dA, 3, dB, 4, 0, dC, 4) // lda < m
	if err == nil || !errors.Is(err, &Error{Lib: "cublas", Status: 7}) {
		t.Fatalf("lda < m: %v", err)
	}
}
