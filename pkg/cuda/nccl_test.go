package cuda

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestNCCLAcrossProcesses starts 3 ranks as child processes of this test
// binary; each runs TestNCCLRank, which checks all-reduce (sum, avg, max),
// broadcast, all-gather and a grouped pair of all-reduces against the same
// results computed on the CPU.
func TestNCCLAcrossProcesses(t *testing.T) {
	if os.Getenv("NVAE_NCCL_RANK") != "" {
		t.Skip("child")
	}
	ctx(t)
	const n = 3
	if !Emulated() {
		t.Skip("several ranks need several GPUs; the real-device run checks one rank (TestNCCLSingleRank)")
	}
	id, err := NewUniqueID()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			cmd := exec.Command(exe, "-test.run=^TestNCCLRank$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "NVAE_NCCL_RANK="+strconv.Itoa(r), "NVAE_NCCL_SIZE="+strconv.Itoa(n), "NVAE_NCCL_ID="+id.String())
			out, err := cmd.CombinedOutput()
			outs[r], errs[r] = string(out), err
		}(r)
	}
	wg.Wait()
	for r := 0; r < n; r++ {
		if errs[r] != nil || !strings.Contains(outs[r], "--- PASS: TestNCCLRank") {
			t.Errorf("rank %d: %v\n%s", r, errs[r], outs[r])
		}
	}
}

func TestNCCLRank(t *testing.T) {
	rs := os.Getenv("NVAE_NCCL_RANK")
	if rs == "" {
		t.Skip("run by TestNCCLAcrossProcesses")
	}
	rank, _ := strconv.Atoi(rs)
	size, _ := strconv.Atoi(os.Getenv("NVAE_NCCL_SIZE"))
	id, err := ParseUniqueID(os.Getenv("NVAE_NCCL_ID"))
	if err != nil {
		t.Fatal(err)
	}
	checkCollectives(t, id, size, rank)
}

// TestNCCLSingleRank runs the same checks with one rank (works on one GPU).
func TestNCCLSingleRank(t *testing.T) {
	if os.Getenv("NVAE_NCCL_RANK") != "" {
		t.Skip("child")
	}
	ctx(t)
	id, err := NewUniqueID()
	if err != nil {
		t.Fatal(err)
	}
	checkCollectives(t, id, 1, 0)
}

// rankData is what rank r contributes: element i is sin(i+1)*(r+1) + r.
func rankData(r, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i+1)))*float32(r+1) + float32(r)
	}
	return x
}

func checkCollectives(t *testing.T, id UniqueID, size, rank int) {
	c := ctx(t)
	comm, err := c.NewComm(id, size, rank)
	if err != nil {
		t.Fatal(err)
	}
	defer comm.Destroy()
	if comm.Rank != rank || comm.Size != size {
		t.Fatalf("comm says rank %d of %d", comm.Rank, comm.Size)
	}
	s, _ := c.NewStream()
	defer s.Destroy()
	const n = 1<<20 + 3 // more than one staging chunk
	mine := rankData(rank, n)
	send, recv := upload(t, c, mine), mustAlloc(t, c, 4*n)
	// CPU references, summed in rank order like a ring would not be: allow rounding
	sum, mx := make([]float32, n), make([]float32, n)
	for r := 0; r < size; r++ {
		d := rankData(r, n)
		for i := range sum {
			sum[i] += d[i]
			if r == 0 || d[i] > mx[i] {
				mx[i] = d[i]
			}
		}
	}
	avg := make([]float32, n)
	for i := range avg {
		avg[i] = sum[i] / float32(size)
	}
	for _, tc := range []struct {
		op   int
		want []float32
	}{{NCCLSum, sum}, {NCCLAvg, avg}, {NCCLMax, mx}} {
		if err := comm.AllReduce(send, recv, n, NCCLFloat32, tc.op, s); err != nil {
			t.Fatal(err)
		}
		if err := s.Synchronize(); err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(t, download(t, recv, n), tc.want); !(d <= 1e-5) {
			t.Fatalf("all-reduce op %d: diff %g", tc.op, d)
		}
	}
	// broadcast from the last rank
	root := size - 1
	if err := comm.Broadcast(send, recv, n, NCCLFloat32, root, s); err != nil {
		t.Fatal(err)
	}
	s.Synchronize()
	if d := maxDiff(t, download(t, recv, n), rankData(root, n)); !(d == 0) {
		t.Fatalf("broadcast: diff %g", d)
	}
	// all-gather of a small part
	const m = 1000
	all := mustAlloc(t, c, 4*m*size)
	if err := comm.AllGather(send, all, m, NCCLFloat32, s); err != nil {
		t.Fatal(err)
	}
	s.Synchronize()
	got := download(t, all, m*size)
	for r := 0; r < size; r++ {
		if d := maxDiff(t, got[r*m:(r+1)*m], rankData(r, n)[:m]); !(d == 0) {
			t.Fatalf("all-gather part %d: diff %g", r, d)
		}
	}
	// two all-reduces in one group (int32 and float64)
	i32 := upload32(t, c, []int32{int32(rank), 10})
	f64 := mustAlloc(t, c, 8*2)
	CopyToDevice(f64, []float64{float64(rank) + 0.5, -1})
	if err := GroupStart(); err != nil {
		t.Fatal(err)
	}
	if err := comm.AllReduce(i32, i32, 2, NCCLInt32, NCCLSum, s); err != nil {
		t.Fatal(err)
	}
	if err := comm.AllReduce(f64, f64, 2, NCCLFloat64, NCCLSum, s); err != nil {
		t.Fatal(err)
	}
	if err := GroupEnd(); err != nil {
		t.Fatal(err)
	}
	s.Synchronize()
	gi := make([]int32, 2)
	gf := make([]float64, 2)
	CopyFromDevice(gi, i32)
	CopyFromDevice(gf, f64)
	wantI := int32(size * (size - 1) / 2)
	if gi[0] != wantI || gi[1] != int32(10*size) || gf[0] != float64(wantI)+0.5*float64(size) || gf[1] != -float64(size) {
		t.Fatalf("grouped all-reduce: %v %v", gi, gf)
	}
	t.Log(fmt.Sprintf("rank %d of %d: collectives match", rank, size))
}

func upload32(t *testing.T, c *Context, x []int32) DevicePtr {
	p := mustAlloc(t, c, 4*len(x))
	if err := CopyToDevice(p, x); err != nil {
		t.Fatal(err)
	}
	return p
}
