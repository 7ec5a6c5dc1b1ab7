package cuda

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
)

// The suite runs on the emulated device unless NVAE_CUDA_DEVICE=cuda (the
// gpu-check folder's run.sh sets it on a GPU machine).
func TestMain(m *testing.M) {
	if os.Getenv("NVAE_CUDA_DEVICE") != DeviceReal {
		if err := Select(DeviceEmulated); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(testenv.RunWithCUDACache(m))
}

func ctx(t testing.TB) *Context {
	t.Helper()
	c, err := Init()
	if err != nil {
		t.Fatalf("cuda.Init on %s: %v", current(), err)
	}
	return c
}

func emuOnly(t *testing.T) {
	t.Helper()
	if !Emulated() {
		t.Skip("emulated-device check (a real GPU does not detect this)")
	}
}

// maxDiff is the largest |a-b|/(1+|b|); NaN anywhere gives +Inf.
func maxDiff(t *testing.T, a, b []float32) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("length %d vs %d", len(a), len(b))
	}
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i])-float64(b[i])) / (1 + math.Abs(float64(b[i])))
		if !(x <= d) {
			d = x
			if math.IsNaN(x) {
				return math.Inf(1)
			}
		}
	}
	return d
}

func mustAlloc(t *testing.T, c *Context, n int) DevicePtr {
	t.Helper()
	p, err := c.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Free(p) })
	return p
}

func compile(t *testing.T, c *Context, src string, exprs ...string) (*Module, *Compiled) {
	t.Helper()
	nv, err := LoadNVRTC()
	if err != nil {
		t.Fatal(err)
	}
	out, err := nv.Compile(src, t.Name()+".cu", nil, append([]string{"-arch=" + c.Arch()}, KernelOptions...), exprs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.LoadModule(t.Name(), out.PTX)
	if err != nil {
		t.Fatal(err)
	}
	return m, out
}
