package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/nvae"
)

// TestDryRunSeedCommands runs nvae-train --dry_run with the full command line
// of each seed configuration (--data, --root, --save and the distributed
// flags included) and checks the official counts of ANCHORS.md.
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

// --device_info on the emulated GPU lists the device and all five libraries.
func TestDeviceInfoEmulated(t *testing.T) {
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
