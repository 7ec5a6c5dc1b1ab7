package ckpt

import (
	"path/filepath"
	"testing"

	"github.com/nvaego/nvae/internal/oracle"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestOracleOfficialCheckpoint loads the official mnist_tiny checkpoint.pt
// and runs the mnist_tiny case on the model it describes.
func TestOracleOfficialCheckpoint(t *testing.T) {
	dir := oracle.Dir(t)
	b := cpu.New()
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		m, info, err := LoadOfficial(filepath.Join(dir, "mnist_tiny_checkpoint.pt"), b, dt)
		if err != nil {
			t.Fatal(err)
		}
		if info.Epoch != 10 || info.GlobalStep != 1000 || info.Config.Dataset != "mnist" {
			t.Fatalf("checkpoint info %+v", info)
		}
		cs := oracle.Load(t, filepath.Join(dir, "mnist_tiny.safetensors"))
		if m.Cfg != cs.Config(t) {
			t.Fatalf("config from checkpoint args differs from the case's train_args:\n%+v\n%+v", m.Cfg, cs.Config(t))
		}
		tol := oracle.F32
		if dt == tensor.Float64 {
			tol = oracle.F64
		}
		cs.Run(t, m, b, dt, tol)
	}
}
