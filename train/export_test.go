package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestExportCommand runs nvae-train export on a small checkpoint.nvae and
// loads the result with the official-checkpoint importer.
func TestExportCommand(t *testing.T) {
	cfg, err := cli.ParseStruct(strings.Fields("--dataset mnist --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 1 --num_groups_per_scale 1 --num_latent_per_group 2 --num_preprocess_blocks 1 --num_preprocess_cells 1 --num_postprocess_blocks 1 --num_postprocess_cells 1 --epochs 10"), nvae.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	m, err := nvae.NewModel(cfg, b, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "checkpoint.nvae"), filepath.Join(dir, "checkpoint.pt")
	if err := ckpt.Save(in, m, nil, ckpt.State{Epoch: 2, GlobalStep: 40}); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if code := run([]string{"export", "--checkpoint", in, "--out", out}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	m2, info, err := ckpt.LoadOfficial(out, b, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if info.Epoch != 2 || info.GlobalStep != 40 || m2.Store.NumParams() != m.Store.NumParams() {
		t.Errorf("info %+v, %d params (want %d)", info, m2.Store.NumParams(), m.Store.NumParams())
	}
	if code := run([]string{"export", "--checkpoint", in}, &so, &se); code != 2 {
		t.Errorf("export without --out: exit %d", code)
	}
}
