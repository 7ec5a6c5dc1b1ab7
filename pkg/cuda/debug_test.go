package cuda

import (
	"errors"
	"strings"
	"testing"
)

const debugSrc = `
extern "C" __global__ void shift_missing_barrier(float* out, const float* in) {
	__shared__ float s[256];
	int i = blockIdx.x * 256 + threadIdx.x;
	s[threadIdx.x] = in[i];
	// __syncthreads() is missing: thread t reads what thread t+1 wrote
	out[i] = s[(threadIdx.x + 1) % 256];
}
extern "C" __global__ void shift_with_barrier(float* out, const float* in) {
	__shared__ float s[256];
	int i = blockIdx.x * 256 + threadIdx.x;
	s[threadIdx.x] = in[i];
	__syncthreads();
	out[i] = s[(threadIdx.x + 1) % 256];
}
extern "C" __global__ void write_one_past(float* out, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i <= n) out[i] = 1.0f; // <= : one element too many
}
extern "C" __global__ void write_in_bounds(float* out, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) out[i] = 1.0f;
}
`

func withDebug(t *testing.T) {
	SetDebug(true)
	t.Cleanup(func() { SetDebug(false) })
}

func TestDebugCatchesMissingBarrier(t *testing.T) {
	emuOnly(t)
	c := ctx(t)
	m, _ := compile(t, c, debugSrc)
	withDebug(t)
	const n = 4 * 256
	in, out := mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*n)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i)
	}
	CopyToDevice(in, x)
	good, _ := m.Function("shift_with_barrier")
	if err := good.Launch(Dim3{X: 4}, Dim3{X: 256}, 0, nil, out, in); err != nil {
		t.Fatalf("correct kernel flagged: %v", err)
	}
	got := make([]float32, n)
	CopyFromDevice(got, out)
	for i := range got {
		if want := x[i/256*256+(i%256+1)%256]; got[i] != want {
			t.Fatalf("out[%d] = %g, want %g", i, got[i], want)
		}
	}
	bad, _ := m.Function("shift_missing_barrier")
	err := bad.Launch(Dim3{X: 4}, Dim3{X: 256}, 0, nil, out, in)
	if !errors.Is(err, ErrLaunchFailed) || !strings.Contains(err.Error(), "shift_missing_barrier") || !strings.Contains(err.Error(), "__syncthreads") {
		t.Fatalf("missing barrier not reported: %v", err)
	}
	t.Log(err)
}

func TestDebugCatchesOutOfBoundsWrite(t *testing.T) {
	emuOnly(t)
	c := ctx(t)
	m, _ := compile(t, c, debugSrc)
	withDebug(t)
	const n = 1000
	out := mustAlloc(t, c, 4*n)
	ok, _ := m.Function("write_in_bounds")
	if err := ok.Launch(Dim3{X: 4}, Dim3{X: 256}, 0, nil, out, int32(n)); err != nil {
		t.Fatalf("in-bounds kernel flagged: %v", err)
	}
	bad, _ := m.Function("write_one_past")
	err := bad.Launch(Dim3{X: 4}, Dim3{X: 256}, 0, nil, out, int32(n))
	if !errors.Is(err, ErrIllegalAddress) || !strings.Contains(err.Error(), "write_one_past") || !strings.Contains(err.Error(), "out-of-bounds write at byte 4000") {
		t.Fatalf("out-of-bounds write not reported: %v", err)
	}
	t.Log(err)
	// the device stays usable afterwards
	if err := ok.Launch(Dim3{X: 4}, Dim3{X: 256}, 0, nil, out, int32(n)); err != nil {
		t.Fatalf("after the report: %v", err)
	}
}

func TestDeadlockIsReported(t *testing.T) {
	emuOnly(t)
	c := ctx(t)
	m, _ := compile(t, c, `
extern "C" __global__ void divergent_barrier(float* out) {
	float v = (float)threadIdx.x;
	// lane 0 waits at the block barrier, lanes 1..31 at a full-warp shuffle
	// that needs lane 0: neither can complete
	if (threadIdx.x == 0) __syncthreads();
	else v = __shfl_sync(0xffffffffu, v, 0);
	out[threadIdx.x] = v;
}`)
	f, _ := m.Function("divergent_barrier")
	out := mustAlloc(t, c, 4*64)
	err := f.Launch(Dim3{X: 1}, Dim3{X: 64}, 0, nil, out)
	if err == nil {
		err = c.Synchronize()
	}
	if !errors.Is(err, ErrLaunchFailed) || !strings.Contains(err.Error(), "deadlock") {
		t.Fatalf("divergent barrier: %v", err)
	}
}
