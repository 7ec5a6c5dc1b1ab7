package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/internal/testenv"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/safetensors"
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
	if _, err := Run(o); err == nil || !strings.Contains(err.Error(), "consecutive non-finite") ||
		!strings.Contains(err.Error(), "the checkpoint "+res.CheckpointPath+" this run resumed from is unchanged") {
		t.Fatalf("want a stop after 3 bad steps saying which checkpoint is left, got %v", err)
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

// tensors returns every tensor of a checkpoint file by name, as float32.
func tensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for name, tt := range f.Tensors {
		v, err := tt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		out[name] = v
	}
	return out
}

// TestSkippedStepChangesNothing (issue 14.1): steps whose loss is made
// non-finite leave no trace. Two good steps followed by three skipped ones
// give the same parameters, optimizer moments, BN running statistics,
// spectral vectors and noise position as the two good steps alone.
func TestSkippedStepChangesNothing(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	good, err := Run(opts(tinyConfig(t, dataDir, root, "good"), 2))
	if err != nil {
		t.Fatal(err)
	}
	o := opts(tinyConfig(t, dataDir, root, "skip"), 5)
	o.Corrupt = func(step int) bool { return step >= 2 }
	skip, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	if skip.BadSteps != 3 {
		t.Fatalf("bad steps %d, want 3", skip.BadSteps)
	}
	a, b := tensors(t, good.CheckpointPath), tensors(t, skip.CheckpointPath)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d tensors", len(a), len(b))
	}
	for name, va := range a {
		vb, ok := b[name]
		if !ok || len(vb) != len(va) {
			t.Fatalf("tensor %s missing or resized after skipped steps", name)
		}
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
				t.Fatalf("skipped steps changed %s[%d]: %v -> %v", name, i, va[i], vb[i])
			}
		}
	}
	ca, _ := ckpt.Load(good.CheckpointPath, cpu.New(), tensor.Float32)
	cb, _ := ckpt.Load(skip.CheckpointPath, cpu.New(), tensor.Float32)
	if ca.State.NoiseOffset != cb.State.NoiseOffset || ca.State.SROffset != cb.State.SROffset || ca.State.AdamaxStep != cb.State.AdamaxStep {
		t.Fatalf("skipped steps moved the streams: noise %d vs %d, sr %d vs %d, adamax step %d vs %d",
			ca.State.NoiseOffset, cb.State.NoiseOffset, ca.State.SROffset, cb.State.SROffset, ca.State.AdamaxStep, cb.State.AdamaxStep)
	}
}

// TestNoCheckpointFromNonFiniteState (issue 14.1): save refuses a state
// holding a NaN (here in a BN running statistic) and leaves the previous
// checkpoint as it was; the message names the tensor.
func TestNoCheckpointFromNonFiniteState(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	res, err := Run(opts(tinyConfig(t, dataDir, root, "nf"), 1))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(res.CheckpointPath)
	ck, err := ckpt.Load(res.CheckpointPath, cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	name := ck.Model.Store.BufferNames()[0]
	h := ck.Model.Store.Buffer(name).Float32s()
	h[0] = float32(math.NaN())
	ck.Model.Store.SetBuffer(name, tensor.FromFloat32(ck.Model.Store.Buffer(name).Shape(), h))
	b := cpu.New()
	r := &runner{c: ag.New(b, tensor.Float32), m: ck.Model, adam: optim.NewAdamax(b, ck.Model.Store.Params(), 1e-3, 0),
		noise: &nvae.PhiloxNoise{}, path: res.CheckpointPath}
	err = r.save()
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("save of a NaN state: got %v", err)
	}
	after, _ := os.ReadFile(res.CheckpointPath)
	if string(after) != string(before) {
		t.Fatal("a non-finite state overwrote the checkpoint")
	}
}

// TestConcurrentRunRefused (issue 14.2): while one run trains in the
// experiment folder, a second run with the same --root/--save fails at
// once, naming the holder's PID, and leaves the first run's files alone.
func TestConcurrentRunRefused(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	cfg := tinyConfig(t, dataDir, root, "busy")
	inside, release := make(chan bool), make(chan bool)
	first := make(chan error, 1)
	o := opts(cfg, 2)
	once := false
	o.Stop = func() bool {
		if !once { // hold the first run inside its first step
			once = true
			inside <- true
			<-release
		}
		return false
	}
	go func() { _, err := Run(o); first <- err }()
	<-inside
	logBefore, _ := os.ReadFile(filepath.Join(cfg.ExpDir(), "log.txt"))
	t0 := time.Now()
	_, err := Run(opts(cfg, 1))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("PID %d", os.Getpid())) {
		close(release)
		<-first
		t.Fatalf("second run: got %v, want a refusal naming PID %d", err, os.Getpid())
	}
	if el := time.Since(t0); el > 5*time.Second {
		t.Errorf("refusal took %s", el)
	}
	logAfter, _ := os.ReadFile(filepath.Join(cfg.ExpDir(), "log.txt"))
	if string(logAfter) != string(logBefore) {
		t.Error("the refused run wrote to the first run's log.txt")
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first run: %v", err)
	}
	// the lock is free again
	cfg.ContTraining = true
	if _, err := Run(opts(cfg, 3)); err != nil {
		t.Fatalf("after the first run ended: %v", err)
	}
}

// failingEvents passes events through until failAfter calls, then fails
// every write like a full disk.
type failingEvents struct {
	eventLog
	calls, failAfter int
}

func (f *failingEvents) fail() error {
	f.calls++
	if f.calls > f.failAfter {
		return syscall.ENOSPC
	}
	return nil
}

func (f *failingEvents) Scalar(tag string, v float64, step int64) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.eventLog.Scalar(tag, v, step)
}

func (f *failingEvents) Flush() error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.eventLog.Flush()
}

// TestWriteErrorsEndTheRun (issue 14.3): ENOSPC on log.txt (a link to
// /dev/full) or on the event file ends the run with an error naming the
// file, after writing the checkpoint.
func TestWriteErrorsEndTheRun(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	cfg := tinyConfig(t, dataDir, root, "full")
	if err := os.MkdirAll(cfg.ExpDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(cfg.ExpDir(), "log.txt")); err != nil {
		t.Fatal(err)
	}
	_, err := Run(opts(cfg, 3))
	if err == nil || !strings.Contains(err.Error(), "log.txt") || !strings.Contains(err.Error(), "no space") || !strings.Contains(err.Error(), "checkpoint written") {
		t.Fatalf("log.txt on a full device: got %v", err)
	}
	if _, err := ckpt.Load(filepath.Join(cfg.ExpDir(), CheckpointName), cpu.New(), tensor.Float32); err != nil {
		t.Fatalf("no checkpoint after the log write error: %v", err)
	}

	old := newEventLog
	defer func() { newEventLog = old }()
	newEventLog = func(dir string) (eventLog, error) {
		w, err := old(dir)
		return &failingEvents{eventLog: w, failAfter: 0}, err
	}
	res, err := Run(opts(tinyConfig(t, dataDir, root, "events"), 3))
	if err == nil || !strings.Contains(err.Error(), "no space") || res != nil {
		t.Fatalf("event file on a full device: got %v, %v", res, err)
	}
	ck, lerr := ckpt.Load(filepath.Join(root, "eval-events", CheckpointName), cpu.New(), tensor.Float32)
	if lerr != nil || ck.State.GlobalStep != 3 {
		t.Fatalf("checkpoint after the event write error: %v", lerr)
	}
}

// TestUnlimitedBadSteps (issue 14.14): MaxBadSteps -1 (--max_bad_steps -1)
// means no limit, not the default 50.
func TestUnlimitedBadSteps(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	o := opts(tinyConfig(t, dataDir, t.TempDir(), "inf"), 53)
	o.MaxBadSteps = -1
	o.Corrupt = func(step int) bool { return step >= 1 }
	res, err := Run(o)
	if err != nil {
		t.Fatalf("-1 must not stop the run: %v", err)
	}
	if res.BadSteps != 52 {
		t.Fatalf("bad steps %d, want 52", res.BadSteps)
	}
}

// TestStaleTemporariesRemoved (issue 14.10): a checkpoint-sized temporary
// left by a killed run (older than a minute) is removed on start; a fresh
// one, possibly a live writer's, stays.
func TestStaleTemporariesRemoved(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	cfg := tinyConfig(t, dataDir, t.TempDir(), "tmp")
	os.MkdirAll(cfg.ExpDir(), 0o755)
	old := time.Now().Add(-time.Hour)
	stale := []string{filepath.Join(cfg.ExpDir(), ".checkpoint.nvae.tmp-2961541"), filepath.Join(cfg.ExpDir(), ".samples_t0.7.png.tmp-77")}
	for _, p := range stale {
		os.WriteFile(p, make([]byte, 1000), 0o644)
		os.Chtimes(p, old, old)
	}
	fresh := filepath.Join(cfg.ExpDir(), ".checkpoint.nvae.tmp-5")
	os.WriteFile(fresh, nil, 0o644)
	if _, err := Run(opts(cfg, 1)); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("stale %s left in place", p)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary removed: %v", err)
	}
}

// TestValidationNaNFails (issue 14.9): a validation giving NaN (here a
// negative BN running variance, finite itself) ends the run with an error
// instead of reporting "validation NLL NaN" and succeeding.
func TestValidationNaNFails(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	res, err := Run(opts(tinyConfig(t, dataDir, root, "vnan"), 1))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := ckpt.Load(res.CheckpointPath, cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range ck.Model.Store.BufferNames() {
		if strings.HasSuffix(name, ".running_var") {
			v := ck.Model.Store.Buffer(name)
			h := make([]float32, v.Len())
			for i := range h {
				h[i] = -100
			}
			ck.Model.Store.SetBuffer(name, tensor.FromFloat32(v.Shape(), h))
		}
	}
	adam := optim.NewAdamax(ck.Model.Store.B, ck.Model.Store.Params(), 1e-2, 0)
	ck.RestoreOptimizer(adam)
	if err := ckpt.Save(res.CheckpointPath, ck.Model, adam, ck.State); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, dataDir, root, "vnan")
	cfg.ContTraining = true
	_, err = Run(opts(cfg, 2))
	if err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("NaN validation: got %v", err)
	}
}

// TestResumeTakesCommandLine (issue 14.6): on --cont_training the command
// line's --epochs, --batch_size and --learning_rate are used as the
// official train.py uses them; the position within the epoch is converted
// to the new batch size and recorded with it.
func TestResumeTakesCommandLine(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	if _, err := Run(opts(tinyConfig(t, dataDir, root, "flags"), 2)); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, dataDir, root, "flags")
	cfg.ContTraining = true
	cfg.Epochs, cfg.BatchSize, cfg.LearningRate = 3, 8, 5e-3
	var log strings.Builder
	o := opts(cfg, 3)
	o.Log = &log
	if _, err := Run(o); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(log.String(), "\n")
	var args string
	for _, l := range lines {
		if strings.Contains(l, "args = ") {
			args = l
		}
	}
	for _, want := range []string{`"epochs":3`, `"batch_size":8`, `"learning_rate":0.005`} {
		if !strings.Contains(args, want) {
			t.Errorf("resumed run's args lack %s: %s", want, args)
		}
	}
	if !strings.Contains(log.String(), "resuming epoch 0 at batch 1 instead of 2") {
		t.Errorf("no position conversion line in %q", log.String())
	}
	ck, err := ckpt.Load(filepath.Join(root, "eval-flags", CheckpointName), cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	// 2 batches of 4 = 1 batch of 8, then one more step
	if ck.State.GlobalStep != 3 || ck.State.StepInEpoch != 2 || ck.State.StepBatchSize != 8 {
		t.Fatalf("state after resume: global %d, step in epoch %d, step batch size %d; want 3, 2, 8",
			ck.State.GlobalStep, ck.State.StepInEpoch, ck.State.StepBatchSize)
	}
	// the cosine phase continues the stored schedule (epochs 2, lr 1e-2),
	// the warm-up ramp uses the command line's rate
	r := &runner{cfg: resumeConfig(ck.Config, cfg), m: &nvae.Model{Cfg: ck.Config}}
	r.cfg.WarmupEpochs, r.m.Cfg.WarmupEpochs = 1, 1
	s := r.schedule(10)
	if got, want := s.LR(0, 5), 5e-3*5/10; math.Abs(got-want) > 1e-15 {
		t.Errorf("warm-up LR %v, want %v", got, want)
	}
	stored := nvae.NewLRSchedule(r.m.Cfg, 10)
	if got, want := s.LR(1, 12), stored.LR(1, 12); got != want {
		t.Errorf("cosine LR %v, want the stored schedule's %v", got, want)
	}
}

// TestContTrainingWithoutCheckpoint (issue 14.13): --cont_training with no
// checkpoint yet (a requeued Slurm job) starts from scratch and says so.
func TestContTrainingWithoutCheckpoint(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	cfg := tinyConfig(t, dataDir, t.TempDir(), "requeue")
	cfg.ContTraining = true
	var log strings.Builder
	o := opts(cfg, 1)
	o.Log = &log
	res, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	if res.GlobalStep != 1 || strings.Count(log.String(), "starting from scratch") != 1 {
		t.Fatalf("global step %d; log %q", res.GlobalStep, log.String())
	}
}

// inValidate reports whether the caller runs inside (*runner).validate.
func inValidate() bool {
	buf := make([]byte, 1<<16)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "(*runner).validate(")
}

// TestStopDuringValidation (issue 14.7): a stop request inside the
// per-epoch validation or the final evaluation is honoured there (not
// after it): the checkpoint is written, the run ends with ErrStopped, and
// the resumed run redoes that validation and ends with the same result as
// an uninterrupted one.
func TestStopDuringValidation(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	ref, err := Run(opts(tinyConfig(t, dataDir, root, "ref"), 2))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, what string
		final      bool
	}{{"epoch", "during validation", false}, {"final", "during the final validation", true}} {
		log := &testenv.LockedBuffer{}
		o := opts(tinyConfig(t, dataDir, root, c.name), 2)
		o.Log = log
		o.Stop = func() bool {
			return inValidate() && (!c.final || strings.Contains(log.String(), "valid bpd log p"))
		}
		if _, err := Run(o); !errors.Is(err, ErrStopped) {
			t.Fatalf("%s: got %v, want ErrStopped", c.name, err)
		}
		if !strings.Contains(log.String(), "stop requested "+c.what) {
			t.Fatalf("%s: log lacks %q: %s", c.name, "stop requested "+c.what, log.String())
		}
		cfg := tinyConfig(t, dataDir, root, c.name)
		cfg.ContTraining = true
		log2 := &testenv.LockedBuffer{}
		o = opts(cfg, 2)
		o.Log = log2
		res, err := Run(o)
		if err != nil {
			t.Fatalf("%s: resume: %v", c.name, err)
		}
		if res.GlobalStep != 2 || !(res.ValidNegLogP == ref.ValidNegLogP) || !(res.ValidNelbo == ref.ValidNelbo) {
			t.Fatalf("%s: resumed result %+v, uninterrupted %+v", c.name, res, ref)
		}
		if !c.final && !strings.Contains(log2.String(), "valid neg log p") {
			t.Fatalf("%s: the resumed run did not redo the validation: %s", c.name, log2.String())
		}
	}
}
