package cuda

import (
	"testing"
	"time"
)

const treeSrc = `
extern "C" __global__ void tree_sum(float* out, const float* x) {
	__shared__ float s[256];
	int t = threadIdx.x;
	s[t] = x[blockIdx.x * 256 + t];
	__syncthreads();
	for (int k = 128; k > 0; k >>= 1) {
		if (t < k) s[t] += s[t + k];
		__syncthreads();
	}
	if (t == 0) out[blockIdx.x] = s[0];
}
`

// The docs/design.md measurement: a 256-thread shared-memory tree reduction
// over 4096 blocks, every CUDA thread a fiber stopping at 9 barriers.
func TestEmulatorBarrierSpeed(t *testing.T) {
	emuOnly(t)
	c := ctx(t)
	m, _ := compile(t, c, treeSrc)
	f, _ := m.Function("tree_sum")
	const blocks = 4096
	x := make([]float32, blocks*256)
	for i := range x {
		x[i] = 1
	}
	dx, out := upload(t, c, x), mustAlloc(t, c, 4*blocks)
	start := time.Now()
	if err := f.Launch(Dim3{X: blocks}, Dim3{X: 256}, 0, nil, out, dx); err != nil {
		t.Fatal(err)
	}
	if err := c.Synchronize(); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	got := download(t, out, blocks)
	for i, v := range got {
		if v != 256 {
			t.Fatalf("block %d: %g", i, v)
		}
	}
	t.Logf("%d blocks x 256 threads x 9 barriers: %v (%.0f ns per thread and phase)", blocks, el, float64(el.Nanoseconds())/(blocks*256*10))
	if el > 20*time.Second {
		t.Fatalf("emulated launch took %v", el)
	}
}
