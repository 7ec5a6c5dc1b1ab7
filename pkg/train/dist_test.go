package train

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/dist"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// distConfig is tinyConfig with the KL coefficient at 1 from the first step:
// during KL warm-up the official kl_balancer weighs the groups with each
// rank's own batch means, which no batch split reproduces.
func distConfig(t *testing.T, dataDir, root, save string, batch int) nvae.Config {
	cfg := tinyConfig(t, dataDir, root, save)
	cfg.KLConstCoeff = 1 // KLCoeff = max(…, kl_const_coeff) = 1 at every step
	cfg.BatchSize = batch
	return cfg
}

func distOpts(cfg nvae.Config, dt tensor.DType, steps int) Options {
	o := opts(cfg, steps)
	o.DType = dt
	return o
}

const distChildEnv = "NVAE_TRAIN_DIST_CHILD"

// distChild is one rank of TestDataParallel, started by mpirun (or of
// TestDataParallelNCCL, started by dist.SpawnLocal): it trains with the
// spec in distChildEnv (data|root|save|batch|dtype|steps|arch|bad|path):
// with bad = "1", rank 1 alone sees a NaN loss at global step 1; path
// "device" gives the MPI engine the tensor collectives of a DeviceComm
// (hostDevComm) so that the device path of pkg/train/dist.go runs on the
// CPU, and path "nccl" trains on the emulated GPU over the NCCL engine.
func distChild() error {
	f := strings.Split(os.Getenv(distChildEnv), "|")
	for len(f) < 9 {
		f = append(f, "")
	}
	batch, _ := strconv.Atoi(f[3])
	steps, _ := strconv.Atoi(f[5])
	dt := tensor.Float32
	if f[4] == "float64" {
		dt = tensor.Float64
	}
	var b backend.Backend
	if f[8] == "nccl" { // the GPU first: the NCCL engine joins its context
		var err error
		if b, err = emuBackend(); err != nil {
			return err
		}
	}
	l, err := dist.FromEnv()
	if err != nil {
		return err
	}
	comm, err := dist.Open("auto", l)
	if err != nil {
		return err
	}
	t := &testing.T{}
	cfg := distConfig(t, f[0], f[1], f[2], batch)
	if f[6] != "" {
		cfg.ArchInstance = f[6]
	}
	o := distOpts(cfg, dt, steps)
	o.Comm = comm
	switch f[8] {
	case "device":
		o.Comm = hostDevComm{comm}
		o.Log = os.Stderr
	case "nccl":
		o.Backend = b
		o.Log = os.Stderr
	}
	if f[7] == "1" && comm.Rank() == 1 {
		o.Corrupt = func(step int) bool { return step == 1 }
	}
	if _, err := Run(o); err != nil {
		return err
	}
	return comm.Close()
}

// hostDevComm gives a host engine DeviceComm's tensor collectives on CPU
// tensors (in place, through the engine's host collectives): the device
// path of data-parallel training, as the NCCL engine drives it, on CPU.
type hostDevComm struct{ dist.Comm }

func (hostDevComm) OnDevice(t *tensor.Tensor) bool { return t.OnHost() }

func hostBuf(t *tensor.Tensor) any {
	if t.DType() == tensor.Float64 {
		return t.F64()
	}
	return t.F32()
}

func (h hostDevComm) AllReduceTensor(t *tensor.Tensor, op dist.Op) error {
	return h.AllReduce(hostBuf(t), op)
}

func (h hostDevComm) BroadcastTensor(t *tensor.Tensor, root int) error {
	return h.Broadcast(hostBuf(t), root)
}

func (h hostDevComm) AllGatherTensor(send, recv *tensor.Tensor) error {
	return h.AllGather(hostBuf(send), hostBuf(recv))
}

// compareCheckpoints checks parameters, buffers (BN statistics), Adamax
// moments and the loop state of two checkpoints: |a−b| ≤ tol·max(1, |b|).
func compareCheckpoints(t *testing.T, got, want string, tol float64) {
	t.Helper()
	load := func(p string) *ckpt.Checkpoint {
		ck, err := ckpt.Load(p, cpu.New(), tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		return ck
	}
	a, b := load(got), load(want)
	worst, where := 0.0, ""
	cmp := func(name string, x, y *tensor.Tensor) {
		if x == nil || y == nil {
			if (x == nil) != (y == nil) {
				t.Fatalf("%s present in one checkpoint only", name)
			}
			return
		}
		xv, yv := x.Float64s(), y.Float64s()
		if len(xv) != len(yv) {
			t.Fatalf("%s: %d vs %d values", name, len(xv), len(yv))
		}
		for i := range xv {
			d := math.Abs(xv[i]-yv[i]) / math.Max(1, math.Abs(yv[i]))
			if !(d <= tol) {
				t.Fatalf("%s[%d] = %.17g, want %.17g (difference %.3g > %g)", name, i, xv[i], yv[i], d, tol)
			}
			if d > worst {
				worst, where = d, fmt.Sprintf("%s[%d]", name, i)
			}
		}
	}
	pa, pb := a.Model.Store.Params(), b.Model.Store.Params()
	if len(pa) != len(pb) {
		t.Fatalf("%d vs %d parameters", len(pa), len(pb))
	}
	for i := range pa {
		cmp(pa[i].Name, pa[i].Value, pb[i].Value)
		cmp("adamax m "+pa[i].Name, a.M[pa[i].Name], b.M[pb[i].Name])
		cmp("adamax u "+pa[i].Name, a.U[pa[i].Name], b.U[pb[i].Name])
	}
	for _, n := range b.Model.Store.BufferNames() {
		cmp(n, a.Model.Store.Buffer(n), b.Model.Store.Buffer(n))
	}
	sa, sb := a.State, b.State
	if sa.GlobalStep != sb.GlobalStep || sa.Epoch != sb.Epoch || sa.StepInEpoch != sb.StepInEpoch || sa.AdamaxStep != sb.AdamaxStep ||
		sa.NoiseOffset != sb.NoiseOffset || sa.NelboCount != sb.NelboCount || sa.BadSteps != sb.BadSteps {
		t.Fatalf("loop state differs:\n%+v\n%+v", sa, sb)
	}
	if d := math.Abs(sa.NelboSum-sb.NelboSum) / math.Max(1, math.Abs(sb.NelboSum)); !(d <= tol) {
		t.Fatalf("nelbo sum %.17g vs %.17g", sa.NelboSum, sb.NelboSum)
	}
	t.Logf("largest relative difference %.3g at %s", worst, where)
}

// TestDataParallel: N steps on 2 ranks (mpirun, Open MPI engine) with batch
// B each give the parameters, BN statistics, Adamax state and loop state of
// 1 rank with batch 2B: within 1e-9 in float64 and 1e-4 in float32 (and
// with res_elu cells, whose data-dependent init sees every rank's batch).
// In float32 rank 1 alone sees a NaN loss at step 1: both ranks skip that
// step, like the 1-rank run skipping it. Only rank 0 writes log.txt and the
// checkpoint, once. In float64 the device path of the NCCL engine
// (in-place tensor collectives, statistics and gradient buckets as
// tensors) runs too, over MPI on CPU tensors (hostDevComm), to 1e-9.
func TestDataParallel(t *testing.T) {
	if os.Getenv(distChildEnv) != "" {
		if err := distChild(); err != nil {
			fmt.Fprintln(os.Stderr, "rank failed:", err)
			os.Exit(1)
		}
		return
	}
	if testing.Short() {
		t.Skip("mpirun training in -short mode")
	}
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	const steps, batch = 3, 2
	for _, tc := range []struct {
		dt   tensor.DType
		tol  float64
		arch string
		bad  bool
	}{{tensor.Float64, 1e-9, "", false}, {tensor.Float32, 1e-4, "", true}, {tensor.Float64, 1e-9, "res_elu", false}} {
		name := tc.dt.String()
		if tc.arch != "" {
			name += "-" + tc.arch
		}
		t.Run(name, func(t *testing.T) {
			cfg := distConfig(t, dataDir, root, "ref-"+name, 2*batch)
			if tc.arch != "" {
				cfg.ArchInstance = tc.arch
			}
			o := distOpts(cfg, tc.dt, steps)
			bad := ""
			if tc.bad {
				o.Corrupt = func(step int) bool { return step == 1 }
				bad = "1"
			}
			ref, err := Run(o)
			if err != nil {
				t.Fatal(err)
			}
			save := "dp-" + name
			spec := strings.Join([]string{dataDir, root, save, strconv.Itoa(batch), tc.dt.String(), strconv.Itoa(steps), tc.arch, bad}, "|")
			cmd := testenv.MPIRun(t, 2, []string{distChildEnv + "=" + spec}, os.Args[0], "-test.run", "^TestDataParallel$", "-test.count=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mpirun: %v\n%s", err, out)
			}
			dir := filepath.Join(root, "eval-"+save)
			compareCheckpoints(t, filepath.Join(dir, CheckpointName), ref.CheckpointPath, tc.tol)
			if tc.dt == tensor.Float64 && tc.arch == "" {
				// the device path (NCCL's, in-place tensor collectives) on CPU
				spec := strings.Join([]string{dataDir, root, save + "-device", strconv.Itoa(batch), tc.dt.String(), strconv.Itoa(steps), "", "", "device"}, "|")
				cmd := testenv.MPIRun(t, 2, []string{distChildEnv + "=" + spec}, os.Args[0], "-test.run", "^TestDataParallel$", "-test.count=1")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("mpirun (device path): %v\n%s", err, out)
				}
				if n := strings.Count(string(out), "collectives on the device"); n != 2 {
					t.Fatalf("%d ranks took the device path, want 2:\n%s", n, out)
				}
				compareCheckpoints(t, filepath.Join(root, "eval-"+save+"-device", CheckpointName), ref.CheckpointPath, tc.tol)
			}
			if tc.bad && ref.BadSteps != 1 {
				t.Fatalf("reference run: %d bad steps, want 1", ref.BadSteps)
			}
			log, err := os.ReadFile(filepath.Join(dir, "log.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(log), "args = "); n != 1 {
				t.Errorf("log.txt has %d runs' headers, want 1 (rank 0 alone writes it)", n)
			}
			if n := strings.Count(string(log), "saving the model."); n != 1 {
				t.Errorf("log.txt records %d checkpoint writes, want 1", n)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp") {
					t.Errorf("leftover %s", e.Name())
				}
			}
		})
	}
}
