package main

import (
	"bytes"
	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/internal/testenv"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

func tinyCheckpoint(t *testing.T, dataset string) string {
	args := "--dataset " + dataset + " --batch_size 4 --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 " +
		"--num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 2 " +
		"--num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --use_se --res_dist --num_mixture_dec 3"
	cfg, err := cli.ParseStruct(strings.Fields(args), nvae.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if dataset == "mnist" {
		cfg.Data = testenv.MNISTLayout(t)
	}
	m, err := nvae.NewModel(cfg, cpu.New(), tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "checkpoint.nvae")
	if err := ckpt.Save(path, m, nil, ckpt.State{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOK(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("nvae-sample %v: exit %d: %s", args, code, errb.String())
	}
	return out.String(), errb.String()
}

func TestSampleGridNPZAndReadjustCache(t *testing.T) {
	ck := tinyCheckpoint(t, "cifar10")
	dir := t.TempDir()
	_, e1 := runOK(t, "--checkpoint", ck, "--num_samples", "6", "--out", dir, "--readjust_bn", "--readjust_iters", "3", "--readjust_batch", "2", "--npz", "--individual", "--temp", "0.6")
	if strings.Contains(e1, "using cached") || !strings.Contains(e1, "re-adjusting BN") {
		t.Fatalf("first run should compute the statistics: %s", e1)
	}
	cache := nvae.BNCachePath(ck, 0.6)
	st1, err := os.Stat(cache)
	if err != nil {
		t.Fatalf("no BN cache: %v", err)
	}
	_, e2 := runOK(t, "--checkpoint", ck, "--num_samples", "6", "--out", dir, "--readjust_bn", "--readjust_iters", "3", "--readjust_batch", "2", "--temp", "0.6")
	if !strings.Contains(e2, "using cached") || strings.Contains(e2, "re-adjusting BN") {
		t.Fatalf("second run should reuse the cache: %s", e2)
	}
	st2, _ := os.Stat(cache)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Fatal("the cache was rewritten")
	}
	f, err := os.Open(filepath.Join(dir, "samples_t0.60.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("grid is not a PNG: %v", err)
	}
	for _, p := range []string{"samples.npz", "sample_00005.png"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
}

func TestInterpolateAndReconstruct(t *testing.T) {
	ck := tinyCheckpoint(t, "mnist")
	dir := t.TempDir()
	runOK(t, "--checkpoint", ck, "--interpolate", "3", "--frames", "4", "--out", dir)
	f, err := os.Open(filepath.Join(dir, "interpolation.gif"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(f)
	f.Close()
	if err != nil || len(g.Image) != 9 {
		t.Fatalf("interpolation.gif: %v, %d frames (want 9)", err, len(g.Image))
	}
	runOK(t, "--checkpoint", ck, "--reconstruct", "--num_samples", "4", "--out", dir)
	if _, err := os.Stat(filepath.Join(dir, "reconstruction.png")); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--checkpoint", filepath.Join(dir, "missing.nvae")}, &out, &errb); code == 0 || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("missing checkpoint: exit %d, %q", code, errb.String())
	}
}
