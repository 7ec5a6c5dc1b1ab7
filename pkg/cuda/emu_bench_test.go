package cuda

import (
	"testing"
)

// Launch-bound micro-benchmarks of the emulated device: many small
// launches, the shape a model run issues by the hundred thousand.

const launchBenchSrc = `
extern "C" __global__ void bench_axpy(float* y, const float* x, float a, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) y[i] += a * x[i];
}
extern "C" __global__ void bench_blocksum(float* out, const float* x, int n) {
	__shared__ float s[256];
	int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
	s[t] = i < n ? x[i] : 0.0f;
	__syncthreads();
	for (int k = blockDim.x / 2; k > 0; k >>= 1) {
		if (t < k) s[t] += s[t + k];
		__syncthreads();
	}
	if (t == 0) out[blockIdx.x] = s[0];
}
`

func benchLaunches(b *testing.B, kernel string) { benchLaunchesCopy(b, kernel, false) }

func benchLaunchesCopy(b *testing.B, kernel string, roundTrip bool) {
	if !Emulated() {
		b.Skip("emulated-device benchmark")
	}
	c := ctx(b)
	nv, err := LoadNVRTC()
	if err != nil {
		b.Fatal(err)
	}
	out, err := nv.Compile(launchBenchSrc, "bench.cu", nil, append([]string{"-arch=" + c.Arch()}, KernelOptions...), nil)
	if err != nil {
		b.Fatal(err)
	}
	m, err := c.LoadModule("bench", out.PTX)
	if err != nil {
		b.Fatal(err)
	}
	f, err := m.Function(kernel)
	if err != nil {
		b.Fatal(err)
	}
	const blocks, threads, n = 4, 256, 4 * 256
	x, err := c.Alloc(4 * n)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Free(x)
	y, err := c.Alloc(4 * n)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Free(y)
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	if err := CopyToDevice(x, ones); err != nil {
		b.Fatal(err)
	}
	if err := c.Memset32(y, 0, n); err != nil {
		b.Fatal(err)
	}
	const launches = 1000
	one := make([]float32, 1)
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for k := 0; k < launches; k++ {
			var err error
			if kernel == "bench_axpy" {
				err = f.Launch(Dim3{X: blocks}, Dim3{X: threads}, 0, nil, y, x, float32(1), int32(n))
			} else {
				err = f.Launch(Dim3{X: blocks}, Dim3{X: threads}, 0, nil, y, x, int32(n))
			}
			if err != nil {
				b.Fatal(err)
			}
			if roundTrip {
				if err := CopyFromDevice(one, y); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := c.Synchronize(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*launches)/1000, "µs/launch")
	got := make([]float32, n)
	if err := CopyFromDevice(got, y); err != nil {
		b.Fatal(err)
	}
	want := float32(b.N * launches)
	if kernel == "bench_blocksum" {
		want = 256
	}
	for i, v := range got {
		if kernel == "bench_blocksum" && i >= blocks {
			break
		}
		if v != want {
			b.Fatalf("y[%d] = %g, want %g", i, v, want)
		}
	}
}

// BenchmarkEmuLaunchSmall: 1000 launches of a 4-block, 256-thread
// elementwise kernel (no barriers), then one synchronisation.
func BenchmarkEmuLaunchSmall(b *testing.B) { benchLaunches(b, "bench_axpy") }

// BenchmarkEmuLaunchSmallSync: the same shape with a shared-memory tree
// reduction (9 __syncthreads per block).
func BenchmarkEmuLaunchSmallSync(b *testing.B) { benchLaunches(b, "bench_blocksum") }

// BenchmarkEmuLaunchRoundTrip: each of the 1000 small launches followed by
// a synchronous 4-byte copy back, the host waiting every time.
func BenchmarkEmuLaunchRoundTrip(b *testing.B) { benchLaunchesCopy(b, "bench_axpy", true) }
