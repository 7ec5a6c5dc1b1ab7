package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// asMainEnv makes the test binary behave as nvae-train (for mpirun).
const asMainEnv = "NVAE_TRAIN_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// tinyArgs is a model of a few seconds per hundred steps, KL coefficient 1
// from the first step (see pkg/train's TestDataParallel).
func tinyArgs(data, root, save string, batch, steps int) []string {
	return append(strings.Fields("--dataset mnist --epochs 2 --warmup_epochs 0 --learning_rate 1e-2 --kl_const_coeff 1 "+
		"--num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 "+
		"--ada_groups --min_groups_per_scale 1 --use_se --res_dist --num_nf 0 --num_preprocess_blocks 1 --num_preprocess_cells 2 "+
		"--num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 "+
		"--weight_decay_norm 1e-2 --fast_adamax --seed 5 --device cpu --workers 1 --log_every 1 "+
		"--max_valid_batches 1 --num_iw_samples_valid 2 --num_iw_samples_final 2"),
		"--data", data, "--root", root, "--save", save, "--batch_size", strconv.Itoa(batch), "--max_steps", strconv.Itoa(steps))
}

// rankPID finds the process of the given rank among mpirun's children by
// its environment (tag marks this test's ranks).
func rankPID(t *testing.T, tag string, rank int) int {
	t.Helper()
	want := "OMPI_COMM_WORLD_RANK=" + strconv.Itoa(rank)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		vars := strings.Split(string(env), "\x00")
		has := func(v string) bool {
			for _, x := range vars {
				if x == v {
					return true
				}
			}
			return false
		}
		if has(asMainEnv+"="+tag) && has(want) {
			return pid
		}
	}
	t.Fatalf("no process of rank %d found", rank)
	return 0
}

// TestMPISignal: nvae-train on 2 ranks under mpirun; SIGTERM to rank 1
// alone makes both ranks stop at the same step, rank 0 write one
// checkpoint, and every rank exit 0. Resuming that checkpoint on 1 rank
// (batch 2B) then continues like a 1-rank run with batch 2B from the start.
func TestMPISignal(t *testing.T) {
	if testing.Short() {
		t.Skip("mpirun training in -short mode")
	}
	data := testenv.MNISTLayout(t)
	root := t.TempDir()
	const batch = 2
	tag := root
	cmd := testenv.MPIRun(t, 2, []string{asMainEnv + "=" + tag}, os.Args[0], tinyArgs(data, root, "sig", batch, 500)...)
	outPath := filepath.Join(root, "mpirun.out")
	outF, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	cmd.Stdout, cmd.Stderr = outF, outF
	output := func() string { b, _ := os.ReadFile(outPath); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	logPath := filepath.Join(root, "eval-sig", "log.txt")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("mpirun ended before the signal: %v\n%s", err, output())
		case <-time.After(200 * time.Millisecond):
		}
		// rank 0 reports every step (--log_every 1): signal after step 2
		if strings.Contains(output(), "step 2/") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("training did not start:\n%s", output())
		}
	}
	if err := syscall.Kill(rankPID(t, tag, 1), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mpirun after SIGTERM to rank 1: %v (want every rank to exit 0)\n%s", err, output())
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("ranks did not stop:\n%s", output())
	}
	log, _ := os.ReadFile(logPath)
	if n := strings.Count(string(log), "stop requested: checkpoint written"); n != 1 {
		t.Fatalf("log.txt records %d stop checkpoints, want 1:\n%s\n%s", n, log, output())
	}
	if strings.Contains(string(log), "saving the model.") {
		t.Fatalf("an epoch-end checkpoint was written besides the stop one:\n%s", log)
	}
	ckPath := filepath.Join(root, "eval-sig", "checkpoint.nvae")
	ck, err := ckpt.Load(ckPath, cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	k := ck.State.GlobalStep
	if k < 2 || k >= 500 || ck.State.WorldSize != 2 || ck.Config.BatchSize != batch {
		t.Fatalf("stop checkpoint: global step %d, world %d, batch %d", k, ck.State.WorldSize, ck.Config.BatchSize)
	}
	t.Logf("stopped at global step %d", k)

	// resume on 1 rank (no launcher: one process) to k+2 steps
	var o, e bytes.Buffer
	// --batch_size is per rank, from the command line (the official rule):
	// 2B on one rank keeps the global batch of the 2-rank run
	if code := run(append(tinyArgs(data, root, "sig", 2*batch, k+2), "--cont_training"), &o, &e); code != 0 {
		t.Fatalf("resume on 1 rank: exit %d\n%s", code, e.String())
	}
	// 1 rank, batch 2B, k+2 steps from scratch
	if code := run(tinyArgs(data, root, "one", 2*batch, k+2), &o, &e); code != 0 {
		t.Fatalf("1-rank run: exit %d\n%s", code, e.String())
	}
	a, err := ckpt.Load(ckPath, cpu.New(), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ckpt.Load(filepath.Join(root, "eval-one", "checkpoint.nvae"), cpu.New(), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if a.State.GlobalStep != k+2 || a.State.GlobalStep != b.State.GlobalStep || a.State.NoiseOffset != b.State.NoiseOffset || a.Config.BatchSize != 2*batch {
		t.Fatalf("resumed state %+v (batch %d), 1-rank state %+v", a.State, a.Config.BatchSize, b.State)
	}
	worst := 0.0
	check := func(name string, x, y *tensor.Tensor) {
		xv, yv := x.Float64s(), y.Float64s()
		for i := range xv {
			d := math.Abs(xv[i]-yv[i]) / math.Max(1, math.Abs(yv[i]))
			if !(d <= 1e-4) {
				t.Fatalf("%s[%d]: resumed %v, 1-rank %v", name, i, xv[i], yv[i])
			}
			worst = math.Max(worst, d)
		}
	}
	for i, p := range a.Model.Store.Params() {
		check(p.Name, p.Value, b.Model.Store.Params()[i].Value)
		check("adamax u "+p.Name, a.U[p.Name], b.U[p.Name])
	}
	for _, n := range b.Model.Store.BufferNames() {
		check(n, a.Model.Store.Buffer(n), b.Model.Store.Buffer(n))
	}
	t.Logf("resumed vs 1-rank: largest relative difference %s", fmt.Sprintf("%.3g", worst))
}

// TestOpenComm: the official multi-process flags without a launcher run one
// process and say why; the NCCL engine without a GPU (or, on a GPU machine,
// without mpirun to carry its id) is refused in one line.
func TestOpenComm(t *testing.T) {
	for _, k := range []string{"NVAE_DIST_RANK", "NVAE_DIST_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
		"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"} {
		t.Setenv(k, "")
	}
	cfg := nvae.DefaultConfig()
	cfg.NumProcessPerNode = 8
	var o, e bytes.Buffer
	c, code := openComm(cfg, "auto", nil, &o, &e)
	if c == nil || c.Size() != 1 || code != 0 || strings.Count(e.String(), "\n") != 1 || !strings.Contains(e.String(), "ONE process") {
		t.Fatalf("--num_process_per_node 8 without a launcher: %v %d %q", c, code, e.String())
	}
	t.Setenv("OMPI_COMM_WORLD_RANK", "1")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	e.Reset()
	if c, code = openComm(nvae.DefaultConfig(), "nccl", nil, &o, &e); c != nil || code != 2 || strings.Count(e.String(), "\n") != 1 || !strings.Contains(e.String(), "NCCL engine") {
		t.Fatalf("--dist_engine nccl: %v %d %q", c, code, e.String())
	}
}
