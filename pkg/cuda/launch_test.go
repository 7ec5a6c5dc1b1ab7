package cuda

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

const argsSrc = `
struct Pair { int a; float b; };
struct Trio { double d; int i; short s; };
extern "C" __global__ void args_all(float* out, int i32, long long i64, float f32, double f64, Pair p, Trio t, unsigned u32) {
	if (threadIdx.x == 0 && blockIdx.x == 0) {
		out[0] = (float)i32;
		out[1] = (float)(i64 / 1000000000LL);
		out[2] = f32;
		out[3] = (float)f64;
		out[4] = (float)p.a;
		out[5] = p.b;
		out[6] = (float)t.d;
		out[7] = (float)t.i;
		out[8] = (float)t.s;
		out[9] = (float)u32;
	}
}
template <typename T>
__global__ void scale_t(T* x, T a, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) x[i] *= a;
}
`

type pair struct {
	A int32
	B float32
}

type trio struct {
	D float64
	I int32
	S int16
}

func TestLaunchEveryArgumentType(t *testing.T) {
	c := ctx(t)
	m, out := compile(t, c, argsSrc, "args_all", "scale_t<float>")
	f, err := m.Function(out.Lowered["args_all"])
	if err != nil {
		t.Fatal(err)
	}
	buf := mustAlloc(t, c, 4*16)
	err = f.Launch(Dim3{X: 2}, Dim3{X: 64}, 0, nil, buf, int32(-7), int64(5_000_000_000), float32(2.5), float64(-1.25),
		pair{A: 11, B: 0.75}, trio{D: 3.5, I: -9, S: 300}, uint32(4000000000))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 10)
	if err := CopyFromDevice(got, buf); err != nil {
		t.Fatal(err)
	}
	want := []float32{-7, 5, 2.5, -1.25, 11, 0.75, 3.5, -9, 300, 4e9}
	if d := maxDiff(t, got, want); !(d <= 1e-6) {
		t.Fatalf("arguments arrived as %v, want %v", got, want)
	}
	// a template kernel through its name expression and lowered name
	g, err := m.Function(out.Lowered["scale_t<float>"])
	if err != nil {
		t.Fatalf("lowered %q: %v", out.Lowered["scale_t<float>"], err)
	}
	CopyToDevice(buf, []float32{1, 2, 3, 4})
	if err := g.Launch(Dim3{X: 1}, Dim3{X: 32}, 0, nil, buf, float32(3), int32(3)); err != nil {
		t.Fatal(err)
	}
	CopyFromDevice(got[:4], buf)
	if got[0] != 3 || got[2] != 9 || got[3] != 4 {
		t.Fatalf("scale_t<float>: %v", got[:4])
	}
	// a Go int is refused: its width does not say which C type is meant
	if err := g.Launch(Dim3{X: 1}, Dim3{X: 32}, 0, nil, buf, float32(3), 3); err == nil || !strings.Contains(err.Error(), "int32 or int64") {
		t.Fatalf("Go int argument: %v", err)
	}
	if _, err := m.Function("no_such_kernel"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing kernel: %v", err)
	}
}

func TestCompileErrorHasLog(t *testing.T) {
	c := ctx(t)
	nv, err := LoadNVRTC()
	if err != nil {
		t.Fatal(err)
	}
	src := "extern \"C\" __global__ void broken(float* x) {\n  x[threadIdx.x] = undefined_name;\n}\n"
	_, err = nv.Compile(src, "broken.cu", nil, []string{"-arch=" + c.Arch()}, nil)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("want a CompileError, got %v", err)
	}
	if !strings.Contains(ce.Log, "undefined_name") || !strings.Contains(ce.Log, "broken.cu") || !strings.Contains(err.Error(), "NVRTC_ERROR_COMPILATION") {
		t.Fatalf("log does not show the error:\n%v", err)
	}
	_, err = nv.Compile("extern \"C\" __global__ void k() {}", "k.cu", nil, []string{"--no-such-option"}, nil)
	if err == nil || !strings.Contains(err.Error(), "NVRTC_ERROR_INVALID_OPTION") {
		t.Fatalf("bad option: %v", err)
	}
}

const limitsSrc = `
extern "C" __global__ void dyn_sum(float* out, int n) {
	extern __shared__ float buf[];
	for (int i = threadIdx.x; i < n; i += blockDim.x) buf[i] = (float)i;
	__syncthreads();
	if (threadIdx.x == 0) {
		float s = 0;
		for (int i = 0; i < n; i++) s += buf[i];
		out[blockIdx.x + blockIdx.y * gridDim.x] = s;
	}
}
`

func TestLaunchLimits(t *testing.T) {
	c := ctx(t)
	m, _ := compile(t, c, limitsSrc)
	f, err := m.Function("dyn_sum")
	if err != nil {
		t.Fatal(err)
	}
	out := mustAlloc(t, c, 4*1024)
	launch := func(grid, block Dim3, smem int, n int32) error {
		err := f.Launch(grid, block, smem, nil, out, n)
		if err == nil {
			err = c.Synchronize()
		}
		return err
	}
	if err := launch(Dim3{X: 2, Y: 3}, Dim3{X: 1024}, 4*4096, 4096); err != nil {
		t.Fatalf("legal launch: %v", err)
	}
	got := make([]float32, 6)
	CopyFromDevice(got, out)
	for i, v := range got {
		if v != 4095*4096/2 {
			t.Fatalf("block %d sum %g", i, v)
		}
	}
	for _, bad := range []struct {
		name        string
		grid, block Dim3
		smem        int
	}{
		{"1025 threads", Dim3{X: 1}, Dim3{X: 1025}, 0},
		{"32x32x2 threads", Dim3{X: 1}, Dim3{X: 32, Y: 32, Z: 2}, 0},
		{"block z 65", Dim3{X: 1}, Dim3{X: 1, Y: 1, Z: 65}, 0},
		{"grid y 65536", Dim3{X: 1, Y: 65536}, Dim3{X: 32}, 0},
		{"grid x 2^31", Dim3{X: 1 << 31}, Dim3{X: 32}, 0},
		{"49 KiB shared without opt-in", Dim3{X: 1}, Dim3{X: 32}, 49 * 1024},
	} {
		err := launch(bad.grid, bad.block, bad.smem, 1)
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "cuLaunchKernel") {
			t.Errorf("%s: got %v, want cuLaunchKernel: CUDA_ERROR_INVALID_VALUE", bad.name, err)
		}
	}
	// opting in allows up to the device limit, and no further
	if err := f.SetMaxDynamicShared(c.Props.MaxSharedPerBlockOptin + 1); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("opt-in above the limit: %v", err)
	}
	if err := f.SetMaxDynamicShared(100 * 1024); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Attribute(FuncMaxDynamicSharedMem); v != 100*1024 {
		t.Fatalf("attribute reads %d", v)
	}
	if err := launch(Dim3{X: 1}, Dim3{X: 256}, 100*1024, 25600); err != nil {
		t.Fatalf("100 KiB after opt-in: %v", err)
	}
	CopyFromDevice(got[:1], out)
	var want float32
	for i := 0; i < 25600; i++ {
		want += float32(i)
	}
	if got[0] != want {
		t.Fatalf("opt-in sum %g", got[0])
	}
	if err := launch(Dim3{X: 1}, Dim3{X: 256}, 101*1024, 1); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("above the opted-in size: %v", err)
	}
	occ, err := f.MaxActiveBlocksPerSM(256, 0)
	if err != nil || occ < 1 || occ > 32 {
		t.Fatalf("occupancy %d %v", occ, err)
	}
	bs, per, err := f.SuggestBlockSize(c, 4)
	if err != nil || bs < 32 || bs%32 != 0 || bs > 1024 || per < 1 {
		t.Fatalf("suggested block %d (%d per SM): %v", bs, per, err)
	}
	occBig, _ := f.MaxActiveBlocksPerSM(256, 100*1024)
	if !(occBig < occ) {
		t.Fatalf("occupancy with 100 KiB shared %d not below %d", occBig, occ)
	}
}

func TestReduceKernelWithShuffles(t *testing.T) {
	c := ctx(t)
	m, err := c.Kernels("reduce.cu")
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Function("nvae_sum_f32")
	if err != nil {
		t.Fatal(err)
	}
	const n = 100003
	x := make([]float32, n)
	want := 0.0
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
		want += float64(x[i])
	}
	dx, part, tot := mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*64), mustAlloc(t, c, 4)
	CopyToDevice(dx, x)
	if err := f.Launch(Dim3{X: 64}, Dim3{X: 256}, 4*8, nil, part, dx, int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := f.Launch(Dim3{X: 1}, Dim3{X: 64}, 4*2, nil, tot, part, int64(64)); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 1)
	if err := CopyFromDevice(got, tot); err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(float64(got[0]) - want); !(d <= 1e-2) {
		t.Fatalf("sum %g, want %g", got[0], want)
	}
	// a correct kernel passes debug mode (no race reported, same result)
	SetDebug(true)
	defer SetDebug(false)
	if err := f.Launch(Dim3{X: 64}, Dim3{X: 256}, 4*8, nil, part, dx, int64(n)); err != nil {
		t.Fatalf("debug mode flags a correct kernel: %v", err)
	}
	if err := f.Launch(Dim3{X: 1}, Dim3{X: 64}, 4*2, nil, tot, part, int64(64)); err != nil {
		t.Fatalf("debug mode flags a correct kernel: %v", err)
	}
	got2 := make([]float32, 1)
	CopyFromDevice(got2, tot)
	if got2[0] != got[0] {
		t.Fatalf("debug mode changed the result: %g vs %g", got2[0], got[0])
	}
}

func TestKernelCache(t *testing.T) {
	c := ctx(t)
	nv, err := LoadNVRTC()
	if err != nil {
		t.Fatal(err)
	}
	src := KernelSources()["elementwise.cu"]
	before := CompileStats.Compiled
	if _, err := c.compileCached("elementwise.cu", src); err != nil {
		t.Fatal(err)
	}
	hits := CompileStats.DiskHits
	if _, err := c.compileCached("elementwise.cu", src); err != nil {
		t.Fatal(err)
	}
	if CompileStats.DiskHits != hits+1 || CompileStats.Compiled > before+1 {
		t.Fatalf("second compile did not hit the disk cache (compiled %d→%d, hits %d→%d)", before, CompileStats.Compiled, hits, CompileStats.DiskHits)
	}
	k1 := CacheKey(src, "compute_80", nv.Version(), nil)
	if k1 == CacheKey(src, "compute_90", nv.Version(), nil) || k1 == CacheKey(src+" ", "compute_80", nv.Version(), nil) ||
		k1 == CacheKey(src, "compute_80", "13.0", nil) {
		t.Fatal("cache key ignores the architecture, source or NVRTC version")
	}
	ents, _ := os.ReadDir(CacheDir())
	if len(ents) == 0 {
		t.Fatalf("nothing cached in %s", CacheDir())
	}
}
