package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/nvae"
)

// TestDryRunSeedCommands runs nvae-train --dry_run with the full command line
// of each seed configuration (--data, --root, --save and the distributed
// flags included) and checks the official counts of docs/anchors.md.
func TestDryRunSeedCommands(t *testing.T) {
	want := map[string]string{
		"mnist":       `{"params":33363134,"conv_layers":255,"bn_layers":214,"groups_per_scale":[10,5]}`,
		"cifar10":     `{"params":130852480,"conv_layers":610,"bn_layers":364,"groups_per_scale":[30]}`,
		"celeba_64":   `{"params":153281364,"conv_layers":730,"bn_layers":436,"groups_per_scale":[20,10,5]}`,
		"imagenet_32": `{"params":268509444,"conv_layers":570,"bn_layers":340,"groups_per_scale":[28]}`,
		"celeba_256":  `{"params":330798664,"conv_layers":986,"bn_layers":460,"groups_per_scale":[16,8,4,4,4]}`,
		"ffhq":        `{"params":330798664,"conv_layers":986,"bn_layers":460,"groups_per_scale":[16,8,4,4,4]}`,
	}
	vars := map[string]string{"DATA_DIR": "/data", "CHECKPOINT_DIR": "/ckpt", "EXPR_ID": "exp", "NODE_RANK": "0", "IP_ADDR": "10.0.0.1"}
	for ds, w := range want {
		argv := nvae.ExpandSeedCommand(nvae.SeedCommands[ds], func(k string) string { return vars[k] })
		var out, errb bytes.Buffer
		if code := run(append(argv, "--dry_run"), &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d: %s", ds, code, errb.String())
		}
		var got, exp map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%s: output %q is not JSON: %v", ds, out.String(), err)
		}
		json.Unmarshal([]byte(w), &exp)
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("%s: got %s, want %s", ds, strings.TrimSpace(out.String()), w)
		}
	}
}

func TestBadFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--num_channels_enc", "many"}, &out, &errb); code != 2 || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("bad flag: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	// the official default --data (/tmp/nasvae/data) holds no MNIST: one line naming the file
	if code := run([]string{"--dataset", "mnist", "--root", t.TempDir()}, &out, &errb); code != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "train-images-idx3-ubyte") {
		t.Fatalf("missing data: exit %d, %q", code, errb.String())
	}
}

// TestMaxBadStepsFlag (issue 14.14): --max_bad_steps 0 or below -1 is a
// usage error instead of silently becoming 50 (-1 means no limit; see
// pkg/train TestUnlimitedBadSteps).
func TestMaxBadStepsFlag(t *testing.T) {
	for _, v := range []string{"0", "-2"} {
		var out, errb bytes.Buffer
		code := run([]string{"--dataset", "mnist", "--root", t.TempDir(), "--max_bad_steps", v}, &out, &errb)
		if code != 2 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "--max_bad_steps") {
			t.Fatalf("--max_bad_steps %s: exit %d, %q", v, code, errb.String())
		}
	}
}

// TestDryRunMemoryEstimate (issue 14.5): --dry_run --memory_estimate adds
// the estimated memory of a training step at --batch_size, growing with it.
func TestDryRunMemoryEstimate(t *testing.T) {
	tiny := strings.Fields("--dataset mnist --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 " +
		"--num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 2 --num_postprocess_blocks 1 --num_postprocess_cells 2 " +
		"--num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --dry_run --memory_estimate")
	total := map[int]float64{}
	for _, bs := range []int{8, 32} {
		var out, errb bytes.Buffer
		if code := run(append(tiny, "--batch_size", fmt.Sprint(bs)), &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var got struct {
			Params int
			Memory struct {
				BatchSize  int     `json:"batch_size"`
				TotalBytes float64 `json:"total_bytes"`
			}
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Params == 0 || got.Memory.BatchSize != bs || !(got.Memory.TotalBytes > 0) {
			t.Fatalf("output %q: %v", out.String(), err)
		}
		total[bs] = got.Memory.TotalBytes
	}
	if !(total[32] > 3*total[8]) {
		t.Fatalf("estimate does not grow with the batch: %v", total)
	}
}

// TestSIGTERMDuringValidation (issue 14.7): SIGTERM while nvae-train
// validates (here a validation of minutes: 400 importance samples) writes
// the checkpoint and exits 0 within seconds instead of finishing it; the
// same command plus --cont_training then redoes the validation.
func TestSIGTERMDuringValidation(t *testing.T) {
	root := t.TempDir()
	args := strings.Fields("--dataset mnist --batch_size 4 --epochs 2 --warmup_epochs 0 --num_channels_enc 4 --num_channels_dec 4 " +
		"--num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 2 " +
		"--num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --save sig " +
		"--max_steps 2 --max_valid_batches 1 --num_iw_samples_final 2 --workers 1")
	args = append(args, "--data", testenv.MNISTLayout(t), "--root", root)
	errb := &testenv.LockedBuffer{}
	var out bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(append(args, "--num_iw_samples_valid", "400"), &out, errb) }()
	deadline := time.Now().Add(2 * time.Minute)
	// the last sample grid is written just before the validation starts
	grid := filepath.Join(root, "eval-sig", "samples_t1.0.png")
	for {
		if _, err := os.Stat(grid); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("training never reached validation: %s", errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(errb.String(), "stop requested during validation") {
			t.Fatalf("exit %d after SIGTERM; stderr %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("SIGTERM during validation did not end the run within 30 s (waited since %s)", t0.Format(time.TimeOnly))
	}
	out.Reset()
	errb2 := &testenv.LockedBuffer{}
	if code := run(append(args, "--num_iw_samples_valid", "2", "--cont_training"), &out, errb2); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errb2.String())
	}
	if !strings.Contains(errb2.String(), "valid neg log p") || !strings.Contains(out.String(), "trained 2 steps") {
		t.Fatalf("the resumed run did not redo the validation: %s %s", out.String(), errb2.String())
	}
}

// --device_info on the emulated GPU lists the device and all five libraries.
// It runs in a child process: one process uses one of the real and the
// emulated GPU, and other tests of this binary may have chosen the real one.
func TestDeviceInfoEmulated(t *testing.T) {
	if os.Getenv("NVAE_TEST_DEVICE_INFO_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestDeviceInfoEmulated$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "NVAE_TEST_DEVICE_INFO_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestDeviceInfoEmulated") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--device", "cuda-emu", "--device_info"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"emulated GPU 0:", "compute capability", "driver ", "nvrtc ", "cublas ", "cudnn ", "nccl "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "missing") {
		t.Errorf("a library is missing on the emulated device:\n%s", out.String())
	}
}
