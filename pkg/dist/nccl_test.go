package dist

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	cb "github.com/nvaego/nvae/pkg/backend/cuda"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestNCCLEngine: the official launch on the emulated GPU. SpawnLocal
// starts 2 workers of this test binary; they bootstrap the NCCL engine
// through the TCP rendezvous (rank 0's unique id) and check every
// collective on host buffers and on the CUDA backend's device tensors
// (ncclChild) against the values computed here.
func TestNCCLEngine(t *testing.T) {
	if os.Getenv(EnvRank) != "" {
		if os.Getenv("NVAE_TEST_NCCL") != "1" {
			return // a worker of another test
		}
		if err := ncclChild(); err != nil {
			fmt.Fprintf(os.Stderr, "NCCL FAIL rank %s: %v\n", os.Getenv(EnvRank), err)
			os.Exit(1)
		}
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	master := ln.Addr().String()
	ln.Close()
	t.Setenv("NVAE_CUDA_DEVICE", cu.DeviceEmulated)
	t.Setenv("NVAE_TEST_NCCL", "1")
	if _, set := os.LookupEnv("CUDA_VISIBLE_DEVICES"); !set {
		t.Setenv("NVAE_TEST_CVD", "unset") // the workers must then see their local rank's GPU
	}
	var out bytes.Buffer
	if err := SpawnLocal(2, 1, 0, master, []string{"-test.run", "^TestNCCLEngine$", "-test.count=1"}, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for r := range 2 {
		if !strings.Contains(out.String(), fmt.Sprintf("NCCL OK rank %d of 2", r)) {
			t.Fatalf("rank %d did not report:\n%s", r, out.String())
		}
	}
	t.Log(strings.TrimSpace(out.String()))
}

// TestNCCLOverMPI: under mpirun the NCCL id travels over MPI's broadcast;
// the same checks as TestNCCLEngine on the emulated GPU.
func TestNCCLOverMPI(t *testing.T) {
	if os.Getenv("NVAE_TEST_NCCL") == "mpi" {
		if err := ncclChild(); err != nil {
			fmt.Fprintf(os.Stderr, "NCCL FAIL rank %s: %v\n", os.Getenv("OMPI_COMM_WORLD_RANK"), err)
			os.Exit(1)
		}
		return
	}
	env := []string{"NVAE_TEST_NCCL=mpi", "NVAE_CUDA_DEVICE=" + cu.DeviceEmulated}
	if _, set := os.LookupEnv("CUDA_VISIBLE_DEVICES"); !set {
		env = append(env, "NVAE_TEST_CVD=unset")
	}
	cmd := testenv.MPIRun(t, 2, env, os.Args[0], "-test.run", "^TestNCCLOverMPI$", "-test.count=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	for r := range 2 {
		if !strings.Contains(string(out), fmt.Sprintf("NCCL OK rank %d of 2", r)) {
			t.Fatalf("rank %d did not report:\n%s", r, out)
		}
	}
}

// ncclVals is rank r's contribution: element i is sin(i+1)·(r+1) + r.
func ncclVals(r, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Sin(float64(i+1))*float64(r+1) + float64(r)
	}
	return x
}

func ncclChild() error {
	l, err := FromEnv()
	if err != nil {
		return err
	}
	launcher, boot := "nvae", "bootstrap tcp"
	if os.Getenv("NVAE_TEST_NCCL") == "mpi" {
		launcher, boot = "mpirun", "bootstrap mpi"
	}
	if l.Launcher != launcher || l.Size != 2 {
		return fmt.Errorf("launch %+v", l)
	}
	if got, want := os.Getenv("CUDA_VISIBLE_DEVICES"), fmt.Sprint(l.LocalRank); os.Getenv("NVAE_TEST_CVD") == "unset" && got != want {
		return fmt.Errorf("CUDA_VISIBLE_DEVICES=%q, want %q (the local rank)", got, want)
	}
	engine := "auto" // the official launch's workers use NCCL
	if launcher == "mpirun" {
		engine = "nccl"
	}
	c, err := Open(engine, l)
	if err != nil {
		return err
	}
	defer c.Close()
	if !strings.HasPrefix(c.Engine(), "nccl") || !strings.Contains(c.Engine(), boot) || c.Rank() != l.Rank || c.Size() != 2 || c.LocalRank() != l.LocalRank {
		return fmt.Errorf("engine %q rank %d size %d local %d", c.Engine(), c.Rank(), c.Size(), c.LocalRank())
	}
	r := c.Rank()
	// host buffers, staged through device memory
	d := []float64{float64(r) + 1, 10 * float64(r)}
	if err := c.AllReduce(d, Sum); err != nil || d[0] != 3 || d[1] != 10 {
		return fmt.Errorf("host sum float64: %v %v", d, err)
	}
	f := []float32{float32(r) + 1, 1.0 / 3}
	if err := c.AllReduce(f, Mean); err != nil || f[0] != 1.5 || f[1] != float32(2.0/3)/2 {
		return fmt.Errorf("host mean float32: %v %v", f, err)
	}
	mx := []float64{float64(r), -float64(r)}
	if err := c.AllReduce(mx, Max); err != nil || mx[0] != 1 || mx[1] != 0 {
		return fmt.Errorf("host max: %v %v", mx, err)
	}
	if err := c.AllReduce([]byte{1}, Sum); err == nil {
		return fmt.Errorf("all-reduce of bytes accepted")
	}
	bb := []byte(fmt.Sprintf("rank %d", r))
	if err := c.Broadcast(bb, 1); err != nil || string(bb) != "rank 1" {
		return fmt.Errorf("host broadcast bytes: %q %v", bb, err)
	}
	b64 := []float64{float64(r) + 7, float64(r) + 8}
	if err := c.Broadcast(b64, 0); err != nil || b64[0] != 7 || b64[1] != 8 {
		return fmt.Errorf("host broadcast float64: %v %v", b64, err)
	}
	g := make([]float64, 4)
	if err := c.AllGather([]float64{float64(r), float64(r) + 0.5}, g); err != nil || g[0] != 0 || g[1] != 0.5 || g[2] != 1 || g[3] != 1.5 {
		return fmt.Errorf("host all-gather float64: %v %v", g, err)
	}
	g32 := make([]float32, 6)
	if err := c.AllGather([]float32{float32(r), 2, 3}, g32); err != nil || g32[0] != 0 || g32[3] != 1 || g32[5] != 3 {
		return fmt.Errorf("host all-gather float32: %v %v", g32, err)
	}
	if err := c.AllGather([]float32{1}, make([]float32, 3)); err == nil {
		return fmt.Errorf("all-gather into a buffer of the wrong length accepted")
	}
	if err := c.Barrier(); err != nil {
		return err
	}
	// device tensors of the CUDA backend, in place, larger than the
	// emulator's 4 MiB slot
	dc, ok := c.(DeviceComm)
	if !ok {
		return fmt.Errorf("%T is not a DeviceComm", c)
	}
	be, err := cb.Open(cu.DeviceEmulated)
	if err != nil {
		return err
	}
	if dc.OnDevice(tensor.FromFloat32([]int{1}, []float32{1})) {
		return fmt.Errorf("a host tensor counted as on the device")
	}
	if err := dc.AllReduceTensor(tensor.FromFloat32([]int{1}, []float32{1}), Sum); err == nil {
		return fmt.Errorf("all-reduce of a host tensor accepted")
	}
	const n = 1<<20 + 5
	mine := ncclVals(r, n)
	want := make([]float64, n)
	for q := range 2 {
		for i, v := range ncclVals(q, n) {
			want[i] += float64(float32(v))
		}
	}
	dev32 := func(v []float64) *tensor.Tensor {
		return be.FromHost(tensor.FromFloat32([]int{len(v)}, tensor.FromFloat64([]int{len(v)}, v).Float32s()))
	}
	check := func(what string, t *tensor.Tensor, want []float64, tol float64) error {
		got := be.ToHost(t).Float64s()
		for i := range want {
			if d := math.Abs(got[i] - want[i]); !(d <= tol*math.Max(1, math.Abs(want[i]))) {
				return fmt.Errorf("%s[%d] = %g, want %g", what, i, got[i], want[i])
			}
		}
		return nil
	}
	x := dev32(mine)
	if !dc.OnDevice(x) {
		return fmt.Errorf("a device tensor not counted as on the device")
	}
	if err := dc.AllReduceTensor(x, Sum); err != nil {
		return err
	}
	if err := check("device sum", x, want, 1e-6); err != nil {
		return err
	}
	x = dev32(mine)
	if err := dc.AllReduceTensor(x, Mean); err != nil {
		return err
	}
	half := make([]float64, n)
	for i := range half {
		half[i] = want[i] / 2
	}
	if err := check("device mean", x, half, 1e-6); err != nil {
		return err
	}
	x64 := be.FromHost(tensor.FromFloat64([]int{3}, []float64{float64(r), 0.1, -float64(r)}))
	if err := dc.AllReduceTensor(x64, Max); err != nil {
		return err
	}
	if got := be.ToHost(x64).Float64s(); got[0] != 1 || got[1] != 0.1 || got[2] != 0 {
		return fmt.Errorf("device max float64: %v", got)
	}
	x = dev32(mine)
	if err := dc.BroadcastTensor(x, 1); err != nil {
		return err
	}
	root := ncclVals(1, n)
	for i := range root {
		root[i] = float64(float32(root[i]))
	}
	if err := check("device broadcast", x, root, 0); err != nil {
		return err
	}
	const m = 1000
	all := be.Zeros(tensor.Float32, 2*m)
	if err := dc.AllGatherTensor(dev32(mine[:m]), all); err != nil {
		return err
	}
	cat := append(append([]float64{}, ncclVals(0, m)...), ncclVals(1, m)...)
	for i := range cat {
		cat[i] = float64(float32(cat[i]))
	}
	if err := check("device all-gather", all, cat, 0); err != nil {
		return err
	}
	if err := dc.AllGatherTensor(dev32(mine[:m]), be.Zeros(tensor.Float32, m)); err == nil {
		return fmt.Errorf("device all-gather into a tensor of the wrong length accepted")
	}
	fmt.Fprintf(os.Stderr, "NCCL OK rank %d of %d: %s\n", r, c.Size(), c.Engine())
	return nil
}

// TestVisibleDevice: the local rank's GPU binding.
func TestVisibleDevice(t *testing.T) {
	for _, tc := range []struct {
		cur   string
		set   bool
		local int
		want  string
	}{{"", false, 3, "3"}, {"4,5,6,7", true, 1, "5"}, {"4, 5", true, 3, "5"}, {"2", true, 1, ""}, {"", true, 0, ""},
		{"GPU-aaaa,GPU-bbbb", true, 0, "GPU-aaaa"}} {
		if got := VisibleDevice(tc.cur, tc.set, tc.local); got != tc.want {
			t.Errorf("VisibleDevice(%q, %v, %d) = %q, want %q", tc.cur, tc.set, tc.local, got, tc.want)
		}
	}
}

// TestFlagValue: --device is found in nvae-train's arguments.
func TestFlagValue(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{{[]string{"--seed", "1", "--device", "cuda-emu"}, "cuda-emu"}, {[]string{"-device=cpu"}, "cpu"}, {[]string{"--device_info"}, ""},
		{[]string{"--save", "x", "--", "--device", "cpu"}, ""}, {nil, ""}} {
		if got := FlagValue(tc.args, "device"); got != tc.want {
			t.Errorf("FlagValue(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestNCCLOneRank: a one-rank NCCL communicator (what --dist_engine nccl
// gives one process, gpu-check's run) needs no bootstrap, and its
// collectives leave the data as it is.
func TestNCCLOneRank(t *testing.T) {
	if os.Getenv(EnvRank) != "" || os.Getenv("NVAE_TEST_NCCL") != "" {
		t.Skip("a worker")
	}
	be, err := cb.Open(cu.DeviceEmulated)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open("nccl", Launch{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Size() != 1 || !strings.Contains(c.Engine(), "bootstrap none") {
		t.Fatalf("size %d, engine %q", c.Size(), c.Engine())
	}
	h := []float64{1.5, -2}
	if err := c.AllReduce(h, Mean); err != nil || h[0] != 1.5 || h[1] != -2 {
		t.Fatalf("host mean: %v %v", h, err)
	}
	dc := c.(DeviceComm)
	x := be.FromHost(tensor.FromFloat32([]int{3}, []float32{1, 2, 3}))
	if err := dc.AllReduceTensor(x, Mean); err != nil {
		t.Fatal(err)
	}
	if err := dc.BroadcastTensor(x, 0); err != nil {
		t.Fatal(err)
	}
	if got := be.ToHost(x).Float32s(); got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("device: %v", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dc.AllReduceTensor(x, Sum); err == nil {
		t.Fatal("a closed communicator accepted an all-reduce")
	}
}
