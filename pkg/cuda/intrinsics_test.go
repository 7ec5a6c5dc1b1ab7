package cuda

import (
	"math/bits"
	"testing"
)

const intrinsicsSrc = `
// out has 16 ints per thread; one block of 64 threads (two warps).
extern "C" __global__ void warp_ops(int* out, float* fsum, int* imax, unsigned long long* usum) {
	int t = threadIdx.x, lane = t & 31;
	int* o = out + 16 * t;
	o[0] = __shfl_sync(0xffffffffu, t * 10, 3);          // lane 3 of my warp
	o[1] = __shfl_up_sync(0xffffffffu, t, 1);             // lane-1 (lane 0 keeps its own)
	o[2] = __shfl_down_sync(0xffffffffu, t, 4);           // lane+4 (top lanes keep their own)
	o[3] = __shfl_xor_sync(0xffffffffu, t, 1);            // neighbour pair swap
	o[4] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
	o[5] = __any_sync(0xffffffffu, t == 40);
	o[6] = __all_sync(0xffffffffu, t < 40);
	o[7] = __syncthreads_count(t % 4 == 0);
	o[8] = __syncthreads_or(t == 63);
	o[9] = __syncthreads_and(t < 63);
	float v = (float)t;
	for (int k = 16; k > 0; k >>= 1) v += __shfl_xor_sync(0xffffffffu, v, k);
	o[10] = (int)v;                                        // warp sum, on every lane
	o[11] = __shfl_sync(0xffffffffu, t, lane + 8, 16);     // within 16-lane segments
	atomicAdd(fsum, 0.5f);
	atomicMax(imax, t * 3);
	atomicAdd(usum, (unsigned long long)t);
	o[12] = __popc((unsigned)t);
	o[13] = lane;
	o[14] = blockDim.x;
	o[15] = (int)(rsqrtf(4.0f) * 100.0f + 0.5f);
}
`

func TestWarpOpsVotesAtomics(t *testing.T) {
	c := ctx(t)
	m, _ := compile(t, c, intrinsicsSrc)
	f, err := m.Function("warp_ops")
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	out, fs, im, us := mustAlloc(t, c, 4*16*n), mustAlloc(t, c, 4), mustAlloc(t, c, 4), mustAlloc(t, c, 8)
	c.Memset32(fs, 0, 1)
	c.Memset32(im, 0, 1)
	c.Memset32(us, 0, 2)
	if err := f.Launch(Dim3{X: 1}, Dim3{X: n}, 0, nil, out, fs, im, us); err != nil {
		t.Fatal(err)
	}
	if err := c.Synchronize(); err != nil {
		t.Fatal(err)
	}
	got := make([]int32, 16*n)
	CopyFromDevice(got, out)
	var ballot uint32
	for l := 0; l < 32; l++ {
		if l%3 == 0 {
			ballot |= 1 << l
		}
	}
	for tt := 0; tt < n; tt++ {
		o := got[16*tt:]
		lane, w := tt%32, tt/32*32
		up, down := tt-1, tt+4
		if lane == 0 {
			up = tt
		}
		if lane+4 >= 32 {
			down = tt
		}
		wsum := 0
		for l := 0; l < 32; l++ {
			wsum += w + l
		}
		want := []int32{int32((w + 3) * 10), int32(up), int32(down), int32(tt ^ 1), int32(ballot), b2i(w == 32), b2i(w == 0),
			16, 1, 0, int32(wsum), int32(tt/16*16 + (lane+8)%16), int32(bits.OnesCount(uint(tt))), int32(lane), n, 50}
		for k, v := range want {
			if o[k] != v {
				t.Fatalf("thread %d result %d = %d, want %d", tt, k, o[k], v)
			}
		}
	}
	var fsum []float32 = make([]float32, 1)
	var imax []int32 = make([]int32, 1)
	var usum []uint64 = make([]uint64, 1)
	CopyFromDevice(fsum, fs)
	CopyFromDevice(imax, im)
	CopyFromDevice(usum, us)
	if fsum[0] != 32 || imax[0] != 189 || usum[0] != 2016 {
		t.Fatalf("atomics: %g %d %d", fsum[0], imax[0], usum[0])
	}
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

const halfSrc = `
extern "C" __global__ void half_round_trip(float* out, const float* in, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		__half h = __float2half(in[i]);
		__nv_bfloat16 b = __float2bfloat16(in[i]);
		out[2 * i] = __half2float(h);
		out[2 * i + 1] = __bfloat162float(b);
	}
}
`

// __half and __nv_bfloat16 conversions round to nearest even. (Emulator
// only: with CUDA 11.8's NVRTC these types need the toolkit's cuda_fp16.h.)
func TestHalfConversions(t *testing.T) {
	emuOnly(t)
	c := ctx(t)
	m, _ := compile(t, c, halfSrc)
	f, _ := m.Function("half_round_trip")
	in := []float32{1, -2.5, 65504, 1e-8, 0.1, 3.14159, 70000, 6.1035156e-05, 5.96e-08}
	want := []float32{1, 1, -2.5, -2.5, 65504, 65536, 0, 1e-8, 0.0999755859375, 0.10009765625, 3.140625, 3.140625,
		float32(posInf()), 70144, 6.1035156e-05, 6.1035156e-05, 5.9604645e-08, 5.9604645e-08}
	din, dout := upload(t, c, in), mustAlloc(t, c, 8*len(in))
	if err := f.Launch(Dim3{X: 1}, Dim3{X: 32}, 0, nil, dout, din, int32(len(in))); err != nil {
		t.Fatal(err)
	}
	got := download(t, dout, 2*len(in))
	for i := range want {
		if got[i] != want[i] && !(i == 7 && got[i] > 9.9e-9 && got[i] < 1.01e-8) {
			t.Errorf("[%d] (%g as %s) = %g, want %g", i/2, in[i/2], []string{"half", "bf16"}[i%2], got[i], want[i])
		}
	}
}

func posInf() float64 { return 1 / zero() }
func zero() float64   { return 0 }
