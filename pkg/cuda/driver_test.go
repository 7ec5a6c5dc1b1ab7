package cuda

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDeviceProps(t *testing.T) {
	c := ctx(t)
	p := c.Props
	t.Logf("%+v", p)
	if p.Name == "" || p.TotalMem == 0 || p.Major < 7 || p.MaxThreadsPerBlock != 1024 || p.WarpSize != 32 || p.SMs < 1 {
		t.Fatalf("implausible properties %+v", p)
	}
	if p.MaxSharedPerBlock != 48*1024 || p.MaxSharedPerBlockOptin < p.MaxSharedPerBlock {
		t.Fatalf("shared memory limits %d / %d", p.MaxSharedPerBlock, p.MaxSharedPerBlockOptin)
	}
	if p.Emulated != Emulated() {
		t.Fatal("Emulated flag wrong")
	}
}

func TestMemoryAndCopies(t *testing.T) {
	c := ctx(t)
	const n = 1000
	a, b := mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*n)
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i) * 0.5
	}
	if err := CopyToDevice(a, src); err != nil {
		t.Fatal(err)
	}
	if err := CopyDtoD(b, a, 4*n); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n)
	if err := CopyFromDevice(got, b); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, got, src); !(d == 0) {
		t.Fatalf("H2D→D2D→D2H changed data (diff %g)", d)
	}
	// memset: bytes and words
	if err := c.Memset32(a, 0x3f800000, n); err != nil { // 1.0f
		t.Fatal(err)
	}
	if err := c.Memset8(a, 0, 8); err != nil {
		t.Fatal(err)
	}
	CopyFromDevice(got, a)
	if got[0] != 0 || got[1] != 0 || got[2] != 1 || got[n-1] != 1 {
		t.Fatalf("memset: %v ... %v", got[:3], got[n-1])
	}
	// out of range copies are refused with a named error (the emulator
	// knows each allocation's size; a GPU's allocation granularity hides it)
	if Emulated() {
		err := CopyToDevice(a, make([]float32, n+1))
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "cuMemcpyHtoD: CUDA_ERROR_INVALID_VALUE") {
			t.Fatalf("oversized copy: %v", err)
		}
	}
	// async copies through pinned memory on a stream
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	h, err := c.AllocHost(4 * n)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Free()
	hf := h.Float32s()
	for i := range hf {
		hf[i] = float32(-i)
	}
	if err := s.CopyHtoDAsync(a, h, 0, 4*n); err != nil {
		t.Fatal(err)
	}
	if err := s.CopyDtoDAsync(b, a, 4*n); err != nil {
		t.Fatal(err)
	}
	if err := s.Memset32Async(a, 0, n); err != nil {
		t.Fatal(err)
	}
	if err := s.CopyDtoHAsync(h, 0, b, 4*n); err != nil {
		t.Fatal(err)
	}
	if err := s.Synchronize(); err != nil {
		t.Fatal(err)
	}
	for i := range hf {
		if hf[i] != float32(-i) {
			t.Fatalf("async round trip: [%d] = %g", i, hf[i])
		}
	}
	if _, err := h.at(4*n-3, 4); err == nil {
		t.Fatal("pinned range overflow accepted")
	}
}

func TestOutOfMemoryIsNamed(t *testing.T) {
	c := ctx(t)
	_, total, err := c.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Alloc(int(total) * 2)
	if !errors.Is(err, ErrOutOfMemory) || !strings.HasPrefix(err.Error(), "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY") {
		t.Fatalf("got %v", err)
	}
}

func TestStreamsAndEvents(t *testing.T) {
	c := ctx(t)
	m, err := c.Kernels("elementwise.cu")
	if err != nil {
		t.Fatal(err)
	}
	fill, _ := m.Function("nvae_fill_f32")
	axpy, _ := m.Function("nvae_axpy_f32")
	const n = 1 << 16
	x, y := mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*n)
	s1, _ := c.NewStream()
	s2, _ := c.NewStream()
	defer s1.Destroy()
	defer s2.Destroy()
	start, _ := c.NewEvent(true)
	mid, _ := c.NewEvent(true)
	end, _ := c.NewEvent(true)
	defer start.Destroy()
	defer mid.Destroy()
	defer end.Destroy()
	// s1: x = 2; event; s2 waits for it, then y = 1; y += 3*x (= 7)
	if err := start.Record(s1); err != nil {
		t.Fatal(err)
	}
	if err := fill.Launch(Dim3{X: 64}, Dim3{X: 256}, 0, s1, x, float32(2), int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := mid.Record(s1); err != nil {
		t.Fatal(err)
	}
	if err := s2.WaitEvent(mid); err != nil {
		t.Fatal(err)
	}
	fill.Launch(Dim3{X: 64}, Dim3{X: 256}, 0, s2, y, float32(1), int64(n))
	axpy.Launch(Dim3{X: 64}, Dim3{X: 256}, 0, s2, y, x, float32(3), int64(n))
	if err := end.Record(s2); err != nil {
		t.Fatal(err)
	}
	if err := end.Synchronize(); err != nil {
		t.Fatal(err)
	}
	done, err := end.Done()
	if err != nil || !done {
		t.Fatalf("event not done after sync: %v %v", done, err)
	}
	ms, err := Elapsed(start, end)
	if err != nil || !(ms >= 0) || ms > 60000 {
		t.Fatalf("elapsed %g ms, %v", ms, err)
	}
	ms1, _ := Elapsed(start, mid)
	if !(ms1 <= ms) {
		t.Fatalf("start→mid %g ms > start→end %g ms", ms1, ms)
	}
	got := make([]float32, n)
	if err := CopyFromDevice(got, y); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 7 {
			t.Fatalf("y[%d] = %g, want 7 (stream order broken)", i, v)
		}
	}
	// an event without timing refuses Elapsed
	nt, _ := c.NewEvent(false)
	defer nt.Destroy()
	nt.Record(s1)
	nt.Synchronize()
	if _, err := Elapsed(start, nt); !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("Elapsed with a no-timing event: %v", err)
	}
	// Query on a busy stream: done eventually
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := s2.Done()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream never idle")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGraphCaptureAndReplay(t *testing.T) {
	c := ctx(t)
	m, err := c.Kernels("elementwise.cu")
	if err != nil {
		t.Fatal(err)
	}
	axpy, _ := m.Function("nvae_axpy_f32")
	const n = 4096
	x, y := mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*n)
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	CopyToDevice(x, ones)
	c.Memset32(y, 0, n)
	s, _ := c.NewStream()
	defer s.Destroy()
	if err := s.BeginCapture(CaptureGlobal); err != nil {
		t.Fatal(err)
	}
	// y += 2x; y += 3x: captured, not run
	axpy.Launch(Dim3{X: 16}, Dim3{X: 256}, 0, s, y, x, float32(2), int64(n))
	axpy.Launch(Dim3{X: 16}, Dim3{X: 256}, 0, s, y, x, float32(3), int64(n))
	g, err := s.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Destroy()
	got := make([]float32, n)
	CopyFromDevice(got, y)
	if got[0] != 0 {
		t.Fatalf("captured work ran during capture: y[0]=%g", got[0])
	}
	ex, err := g.Instantiate()
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Destroy()
	for r := 0; r < 3; r++ {
		if err := ex.Launch(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Synchronize(); err != nil {
		t.Fatal(err)
	}
	CopyFromDevice(got, y)
	for i, v := range got {
		if v != 15 {
			t.Fatalf("y[%d] = %g after 3 replays, want 15", i, v)
		}
	}
	// Synchronising a stream that is being captured is refused and
	// invalidates the capture, as on a GPU.
	if err := s.BeginCapture(CaptureGlobal); err != nil {
		t.Fatal(err)
	}
	if err := s.Synchronize(); !errors.Is(err, ErrCaptureUnsupp) {
		t.Fatalf("synchronize during capture: %v", err)
	}
	if _, err := s.EndCapture(); !errors.Is(err, ErrCaptureInvalid) {
		t.Fatalf("EndCapture after an illegal call: %v", err)
	}
}

// A capture that forks to a second stream through an event and joins back,
// the shape of a training step captured as one graph.
func TestGraphForkJoinCapture(t *testing.T) {
	c := ctx(t)
	m, err := c.Kernels("elementwise.cu")
	if err != nil {
		t.Fatal(err)
	}
	axpy, _ := m.Function("nvae_axpy_f32")
	const n = 2048
	x, y, z, w := mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*n), mustAlloc(t, c, 4*n)
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	CopyToDevice(x, ones)
	for _, p := range []DevicePtr{y, z, w} {
		c.Memset32(p, 0, n)
	}
	s1, _ := c.NewStream()
	s2, _ := c.NewStream()
	defer s1.Destroy()
	defer s2.Destroy()
	fork, _ := c.NewEvent(false)
	join, _ := c.NewEvent(false)
	defer fork.Destroy()
	defer join.Destroy()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ax := func(s *Stream, dst, src DevicePtr, a float32) {
		t.Helper()
		must(axpy.Launch(Dim3{X: 8}, Dim3{X: 256}, 0, s, dst, src, a, int64(n)))
	}
	must(s1.BeginCapture(CaptureGlobal))
	ax(s1, y, x, 1) // y = 1
	must(fork.Record(s1))
	must(s2.WaitEvent(fork)) // s2 joins the capture
	ax(s2, z, y, 2)          // z = 2y = 2, after y = 1
	ax(s1, w, x, 10)         // w = 10, in parallel with s2
	must(join.Record(s2))
	must(s1.WaitEvent(join)) // join back
	ax(s1, y, z, 1)          // y = 1 + z = 3, after z = 2
	g, err := s1.EndCapture()
	must(err)
	defer g.Destroy()
	ex, err := g.Instantiate()
	must(err)
	defer ex.Destroy()
	must(ex.Launch(s1))
	must(s1.Synchronize())
	for name, want := range map[DevicePtr]float32{y: 3, z: 2, w: 10} {
		got := download(t, name, n)
		if got[0] != want || got[n-1] != want {
			t.Fatalf("after replay: %g, want %g", got[0], want)
		}
	}
	// after the capture both streams run work normally again
	ax(s2, z, x, 1)
	must(s2.Synchronize())
	if v := download(t, z, 1)[0]; v != 3 {
		t.Fatalf("s2 after capture: z = %g, want 3", v)
	}
}
