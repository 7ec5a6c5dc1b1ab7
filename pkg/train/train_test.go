package train

import (
	"errors"
	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/internal/testenv"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tb"
	"github.com/nvaego/nvae/pkg/tensor"
)

func tinyConfig(t *testing.T, dataDir, root, save string) nvae.Config {
	cfg, err := cli.ParseStruct(strings.Fields("--dataset mnist --batch_size 4 --epochs 2 --warmup_epochs 0 --learning_rate 1e-2 "+
		"--num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 "+
		"--ada_groups --min_groups_per_scale 1 --use_se --res_dist --num_nf 0 --num_preprocess_blocks 1 --num_preprocess_cells 2 "+
		"--num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 "+
		"--weight_decay_norm 1e-2 --fast_adamax --seed 5"), nvae.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Root, cfg.Save = dataDir, root, save
	return cfg
}

func opts(cfg nvae.Config, maxSteps int) Options {
	return Options{Cfg: cfg, Backend: cpu.New(), DType: tensor.Float32, MaxSteps: maxSteps, MaxValidBatches: 1,
		NumIWSamplesFinal: 2, NumIWSamplesValid: 2, Workers: 2, Log: io.Discard}
}

func params(t *testing.T, path string) map[string][]float32 {
	ck, err := ckpt.Load(path, cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, p := range ck.Model.Store.Params() {
		out[p.Name] = p.Value.Float32s()
	}
	return out
}

func sameParams(t *testing.T, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d parameters", len(a), len(b))
	}
	for k, va := range a {
		vb := b[k]
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
				t.Fatalf("parameter %s element %d differs: %v vs %v", k, i, va[i], vb[i])
			}
		}
	}
}

// TestTrainResumeBitExact: N steps in one run equal N/2 + resume + N/2, and
// a stop request mid-epoch leaves a checkpoint that resumes to the same.
func TestTrainResumeBitExact(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	const n = 6
	full, err := Run(opts(tinyConfig(t, dataDir, root, "full"), n))
	if err != nil {
		t.Fatal(err)
	}
	if full.GlobalStep != n || math.IsNaN(full.ValidNegLogP) || full.ValidNegLogP <= 0 {
		t.Fatalf("full run: %+v", full)
	}
	// N/2, then resume
	if _, err := Run(opts(tinyConfig(t, dataDir, root, "half"), n/2)); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, dataDir, root, "half")
	cfg.ContTraining = true
	if _, err := Run(opts(cfg, n)); err != nil {
		t.Fatal(err)
	}
	ref := params(t, full.CheckpointPath)
	sameParams(t, ref, params(t, filepath.Join(root, "eval-half", CheckpointName)))

	// a stop request before the third step
	calls := 0
	o := opts(tinyConfig(t, dataDir, root, "stop"), n)
	o.Stop = func() bool { calls++; return calls == 3 }
	if _, err := Run(o); !errors.Is(err, ErrStopped) {
		t.Fatalf("stop request: got %v, want ErrStopped", err)
	}
	ck, err := ckpt.Load(filepath.Join(root, "eval-stop", CheckpointName), cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatalf("checkpoint after stop: %v", err)
	}
	if ck.State.GlobalStep != 2 || ck.State.StepInEpoch != 2 {
		t.Fatalf("stopped checkpoint at global step %d, step in epoch %d; want 2, 2", ck.State.GlobalStep, ck.State.StepInEpoch)
	}
	cfg = tinyConfig(t, dataDir, root, "stop")
	cfg.ContTraining = true
	if _, err := Run(opts(cfg, n)); err != nil {
		t.Fatal(err)
	}
	sameParams(t, ref, params(t, filepath.Join(root, "eval-stop", CheckpointName)))

	// refusing to overwrite, and the event files
	if _, err := Run(opts(tinyConfig(t, dataDir, root, "full"), n)); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("existing checkpoint without --cont_training: got %v", err)
	}
	events, err := tb.ReadDir(full.Dir)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]bool{}
	for _, e := range events {
		for k := range e.Scalars {
			tags[k] = true
		}
		for k := range e.Images {
			tags[k] = true
		}
	}
	for _, want := range []string{"train/nelbo", "val/neg_log_p", "val/nelbo", "val/bpd_log_p", "val/bpd_elbo", "generated_0.7", "generated_1.0"} {
		if !tags[want] {
			t.Errorf("event files lack tag %s (have %v)", want, tags)
		}
	}
	log, _ := os.ReadFile(filepath.Join(full.Dir, "log.txt"))
	for _, want := range []string{"valid_nelbo", "valid neg log p", "valid bpd log p", "train_nelbo"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log.txt lacks %q", want)
		}
	}
}

// TestTrainBadSteps: an injected NaN is skipped and counted; too many in a
// row stop the run and keep the last good checkpoint.
func TestTrainBadSteps(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	o := opts(tinyConfig(t, dataDir, root, "nan"), 4)
	o.Corrupt = func(step int) bool { return step == 1 }
	res, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	if res.BadSteps != 1 {
		t.Fatalf("bad steps %d, want 1", res.BadSteps)
	}
	good, _ := os.ReadFile(res.CheckpointPath)
	cfg := tinyConfig(t, dataDir, root, "nan")
	cfg.ContTraining = true
	o = opts(cfg, 20)
	o.MaxBadSteps = 3
	o.Corrupt = func(int) bool { return true }
	if _, err := Run(o); err == nil || !strings.Contains(err.Error(), "consecutive non-finite") {
		t.Fatalf("want a stop after 3 bad steps, got %v", err)
	}
	now, _ := os.ReadFile(res.CheckpointPath)
	if string(now) != string(good) {
		t.Fatal("the last good checkpoint changed")
	}
}

// TestTruncatedCheckpoint: a truncated checkpoint is refused with a clear message.
func TestTruncatedCheckpoint(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	res, err := Run(opts(tinyConfig(t, dataDir, root, "tr"), 1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(res.CheckpointPath)
	if err := os.WriteFile(res.CheckpointPath, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, dataDir, root, "tr")
	cfg.ContTraining = true
	_, err = Run(opts(cfg, 2))
	if err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), res.CheckpointPath) {
		t.Fatalf("truncated checkpoint: got %v", err)
	}
}
