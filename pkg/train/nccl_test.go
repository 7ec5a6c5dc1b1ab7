package train

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/backend"
	cb "github.com/nvaego/nvae/pkg/backend/cuda"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/dist"
	"github.com/nvaego/nvae/pkg/tensor"
)

// emuBackend is the CUDA backend on the emulated GPU.
func emuBackend() (backend.Backend, error) { return cb.Open(cu.DeviceEmulated) }

// TestDataParallelNCCL is issue 17's equivalence on the emulated GPU: N
// steps on 2 ranks started the official way (dist.SpawnLocal, the workers
// of --num_process_per_node 2, which meet at a TCP rendezvous and train
// over the NCCL engine with every collective on the device) with batch B
// each give the parameters, BN statistics, Adamax state and loop state of
// 1 rank with batch 2B on the same emulated GPU, within float32 tolerance;
// rank 0 alone writes log.txt and the checkpoint, once.
func TestDataParallelNCCL(t *testing.T) {
	if os.Getenv(distChildEnv) != "" {
		if os.Getenv(dist.EnvRank) == "" {
			return // an mpirun child of TestDataParallel
		}
		if err := distChild(); err != nil {
			fmt.Fprintln(os.Stderr, "rank failed:", err)
			os.Exit(1)
		}
		return
	}
	if testing.Short() {
		t.Skip("emulated-GPU training in -short mode")
	}
	b, err := emuBackend()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	const steps, batch, tol = 3, 2, 1e-4
	cfg := distConfig(t, dataDir, root, "ref-nccl", 2*batch)
	o := distOpts(cfg, tensor.Float32, steps)
	o.Backend = b
	ref, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	master := ln.Addr().String()
	ln.Close()
	save := "dp-nccl"
	t.Setenv(distChildEnv, strings.Join([]string{dataDir, root, save, strconv.Itoa(batch), "float32", strconv.Itoa(steps), "", "", "nccl"}, "|"))
	var out bytes.Buffer
	if err := dist.SpawnLocal(2, 1, 0, master, []string{"-test.run", "^TestDataParallelNCCL$", "-test.count=1"}, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "collectives on the device"); n != 2 {
		t.Fatalf("%d ranks trained with device collectives, want 2:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "engine nccl") {
		t.Fatalf("not the NCCL engine:\n%s", out.String())
	}
	dir := filepath.Join(root, "eval-"+save)
	compareCheckpoints(t, filepath.Join(dir, CheckpointName), ref.CheckpointPath, tol)
	log, err := os.ReadFile(filepath.Join(dir, "log.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "saving the model."); n != 1 {
		t.Errorf("log.txt records %d checkpoint writes, want 1", n)
	}
}
