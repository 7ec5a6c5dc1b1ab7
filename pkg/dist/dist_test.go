package dist

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nvaego/nvae/internal/testenv"
)

func TestSingle(t *testing.T) {
	c, err := Open("auto", Launch{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := []float64{1, 2}
	if err := c.AllReduce(b, Mean); err != nil || b[0] != 1 || b[1] != 2 {
		t.Fatalf("single all-reduce: %v %v", b, err)
	}
	r := make([]float32, 2)
	if err := c.AllGather([]float32{3, 4}, r); err != nil || r[1] != 4 {
		t.Fatalf("single all-gather: %v %v", r, err)
	}
	if !Has("nccl") {
		t.Fatal("the NCCL engine is not registered")
	}
}

func TestFromEnv(t *testing.T) {
	for _, k := range []string{EnvRank, EnvSize, EnvLocalRank, EnvMaster, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"} {
		t.Setenv(k, "")
	}
	t.Setenv("SLURM_PROCID", "5")
	t.Setenv("SLURM_NTASKS", "8")
	t.Setenv("SLURM_LOCALID", "1")
	l, err := FromEnv()
	if err != nil || l != (Launch{Launcher: "srun", Rank: 5, Size: 8, LocalRank: 1}) {
		t.Fatalf("srun: %+v %v", l, err)
	}
	t.Setenv("OMPI_COMM_WORLD_RANK", "1")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	t.Setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
	if l, err = FromEnv(); err != nil || l != (Launch{Launcher: "mpirun", Rank: 1, Size: 2, LocalRank: 1}) {
		t.Fatalf("mpirun: %+v %v", l, err)
	}
	t.Setenv("OMPI_COMM_WORLD_RANK", "2")
	if _, err = FromEnv(); err == nil {
		t.Fatal("rank 2 of 2 accepted")
	}
}

// TestMPIEngine runs mpiChild on 2 ranks under mpirun.
func TestMPIEngine(t *testing.T) {
	if os.Getenv("NVAE_DIST_CHILD") == "1" {
		if err := mpiChild(); err != nil {
			fmt.Fprintln(os.Stderr, "CHILD FAIL:", err)
			os.Exit(1)
		}
		return
	}
	cmd := testenv.MPIRun(t, 2, []string{"NVAE_DIST_CHILD=1"}, os.Args[0], "-test.run", "^TestMPIEngine$", "-test.count=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	if strings.Count(string(out), "CHILD OK") != 2 {
		t.Fatalf("want two ranks reporting OK:\n%s", out)
	}
}

func mpiChild() error {
	l, err := FromEnv()
	if err != nil {
		return err
	}
	c, err := Open("auto", l)
	if err != nil {
		return err
	}
	defer c.Close()
	if c.Size() != 2 || c.Rank() != l.Rank {
		return fmt.Errorf("rank %d size %d, launch %+v", c.Rank(), c.Size(), l)
	}
	r := float64(c.Rank())
	d := []float64{r + 1, 10 * r}
	if err := c.AllReduce(d, Sum); err != nil || d[0] != 3 || d[1] != 10 {
		return fmt.Errorf("sum float64: %v %v", d, err)
	}
	f := []float32{float32(r + 1)}
	if err := c.AllReduce(f, Mean); err != nil || f[0] != 1.5 {
		return fmt.Errorf("mean float32: %v %v", f, err)
	}
	mx := []float64{r}
	if err := c.AllReduce(mx, Max); err != nil || mx[0] != 1 {
		return fmt.Errorf("max: %v %v", mx, err)
	}
	b := []float64{r + 7, r + 8}
	if err := c.Broadcast(b, 1); err != nil || b[0] != 8 || b[1] != 9 {
		return fmt.Errorf("broadcast: %v %v", b, err)
	}
	g := make([]float64, 4)
	if err := c.AllGather([]float64{r, r + 0.5}, g); err != nil || g[0] != 0 || g[1] != 0.5 || g[2] != 1 || g[3] != 1.5 {
		return fmt.Errorf("all-gather: %v %v", g, err)
	}
	if err := c.Barrier(); err != nil {
		return err
	}
	fmt.Printf("CHILD OK rank %d %s\n", c.Rank(), c.Engine())
	return nil
}

// TestSpawnRendezvous: SpawnLocal starts 3 workers of this test binary,
// which meet at a TCP rendezvous and all receive rank 0's id; a worker
// that fails makes SpawnLocal stop the others and report it.
func TestSpawnRendezvous(t *testing.T) {
	if r := os.Getenv(EnvRank); r != "" {
		l, err := FromEnv()
		if err != nil || l.Launcher != "nvae" || l.Size != 3 {
			fmt.Fprintf(os.Stderr, "worker: %+v %v\n", l, err)
			os.Exit(1)
		}
		if os.Getenv("NVAE_TEST_FAIL_RANK") == r {
			os.Exit(3)
		}
		var id []byte
		if l.Rank == 0 {
			id = []byte("nccl-unique-id")
		}
		got, err := Rendezvous(l.Master, l.Rank, l.Size, id, 20*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "rank %d local %d got %s\n", l.Rank, l.LocalRank, got)
		os.Exit(0)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	master := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	if err := SpawnLocal(3, 1, 0, master, []string{"-test.run", "^TestSpawnRendezvous$"}, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for r := range 3 {
		if !strings.Contains(out.String(), fmt.Sprintf("rank %d local %d got nccl-unique-id", r, r)) {
			t.Fatalf("rank %d did not get the id:\n%s", r, out.String())
		}
	}
	t.Setenv("NVAE_TEST_FAIL_RANK", "1")
	out.Reset()
	start := time.Now()
	err = SpawnLocal(3, 1, 0, master, []string{"-test.run", "^TestSpawnRendezvous$"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "worker 1 (rank 1): exit status 3") {
		t.Fatalf("failing worker: %v\n%s", err, out.String())
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("the other workers were not stopped (%s)", time.Since(start))
	}
}

// TestMPIABI: a library without Open MPI's handles is refused in one line.
func TestMPIABI(t *testing.T) {
	t.Setenv(MPILibEnv, "libm.so.6")
	_, err := OpenMPI(Launch{Size: 2})
	if err == nil || !strings.Contains(err.Error(), "only Open MPI's ABI") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
	t.Setenv(MPILibEnv, "/nonexistent/libmpi.so.40")
	if _, err = OpenMPI(Launch{Size: 2}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("got %v", err)
	}
}
