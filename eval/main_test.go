package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/internal/oracle"
	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

type oneBatch struct{ b *data.Batch }

func (o *oneBatch) Next() (*data.Batch, error) {
	if o.b == nil {
		return nil, io.EOF
	}
	b := o.b
	o.b = nil
	return b, nil
}
func (o *oneBatch) Recycle(*data.Batch) {}

// TestOracleEvalOfficialCheckpoint: nvae-eval's evaluation on the official
// mnist_tiny checkpoint, fed the oracle's batch and noise, reproduces the
// oracle's per-image log p(x) and the reported NLL and NELBO.
func TestOracleEvalOfficialCheckpoint(t *testing.T) {
	dir := oracle.Dir(t)
	cs := oracle.Load(t, filepath.Join(dir, "mnist_tiny.safetensors"))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		b := cpu.New()
		m, _, err := ckpt.LoadOfficial(filepath.Join(dir, "mnist_tiny_checkpoint.pt"), b, dt)
		if err != nil {
			t.Fatal(err)
		}
		// the oracle evaluates with the running statistics after the training forward
		for _, name := range m.Store.BufferNames() {
			m.Store.SetBuffer(name, cs.Tensor(t, "buffer_after/"+name, dt))
		}
		x := cs.Tensor(t, "input/x", tensor.Float32)
		batch := &data.Batch{X: x.F32(), N: x.Dim(0), C: x.Dim(1), H: x.Dim(2), W: x.Dim(3), Indices: []int{0, 1, 2}}
		g := cs.NumGroups(t)
		noise := cs.Noise(t, b, 2*g, 0) // phases: train, step2, then eval
		k := 3
		res, rows, err := evaluate(m, "cpu", &oneBatch{batch}, batch.N, k, 1, noise, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		tol := 3e-5
		if dt == tensor.Float64 {
			tol = 1e-9
		}
		logPx := cs.Values(t, "out/eval/log_px")
		got := make([]float64, len(rows))
		for i, r := range rows {
			got[i] = -r.NLLNats
		}
		compare.Check(t, fmt.Sprintf("%v: per-image log p(x)", dt), got, logPx, tol, compare.Elementwise(0))
		compare.Check(t, fmt.Sprintf("%v: NLL", dt), []float64{res.NLLNats}, cs.Values(t, "out/eval/neg_log_p"), tol, compare.Elementwise(0))
		compare.Check(t, fmt.Sprintf("%v: NELBO", dt), []float64{res.NelboNats}, cs.Values(t, "out/eval/nelbo_mean"), tol, compare.Elementwise(0))
	}
}

func TestEvalBadInput(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--checkpoint", "/nonexistent/checkpoint.nvae"}, &out, &errb); code == 0 || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("missing checkpoint: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"--num_iw_samples", "0", "--checkpoint", "x"}, &out, &errb); code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}
}

// tinyMNISTCheckpoint writes an untrained tiny MNIST model (its --data the
// offline MNIST) to dir/checkpoint.nvae, with one NaN weight if nan.
func tinyMNISTCheckpoint(t *testing.T, dir string, nan bool) string {
	t.Helper()
	cfg, err := cli.ParseStruct(strings.Fields("--dataset mnist --batch_size 4 --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 "+
		"--num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 2 "+
		"--num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --use_se --res_dist"), nvae.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data = testenv.MNISTLayout(t)
	m, err := nvae.NewModel(cfg, cpu.New(), tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	if nan {
		p := m.Store.Params()[2]
		h := p.Value.Float32s()
		h[0] = float32(math.NaN())
		p.Value = tensor.FromFloat32(p.Value.Shape(), h)
	}
	path := filepath.Join(dir, "checkpoint.nvae")
	if err := ckpt.Save(path, m, nil, ckpt.State{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEvalNaNCheckpoint (issue 14.9): non-finite weights end non-zero with
// one line saying so.
func TestEvalNaNCheckpoint(t *testing.T) {
	ck := tinyMNISTCheckpoint(t, t.TempDir(), true)
	var out, errb bytes.Buffer
	code := run([]string{"--checkpoint", ck, "--num_iw_samples", "2", "--max_images", "4"}, &out, &errb)
	if code != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "non-finite") {
		t.Fatalf("NaN checkpoint: exit %d, %q", code, errb.String())
	}
}

// TestEvalOutputChecks (issue 14.11): an unwritable output folder fails
// before any image is evaluated; a results.json that cannot be written
// still leaves the NLL printed.
func TestEvalOutputChecks(t *testing.T) {
	// results.json is a folder: the write fails after the work
	ck := tinyMNISTCheckpoint(t, t.TempDir(), false)
	outDir := t.TempDir()
	os.MkdirAll(filepath.Join(outDir, "results.json", "x"), 0o755)
	var out, errb bytes.Buffer
	code := run([]string{"--checkpoint", ck, "--num_iw_samples", "2", "--max_images", "4", "--out", outDir}, &out, &errb)
	if code != 1 || !strings.HasPrefix(out.String(), "NLL ") {
		t.Fatalf("failed results.json: exit %d, stdout %q, stderr %q; want the NLL printed", code, out.String(), errb.String())
	}

	// the checkpoint's folder is read-only and there is no --out
	roDir := t.TempDir()
	ck = tinyMNISTCheckpoint(t, roDir, false)
	testenv.MakeReadOnly(t, roDir)
	out.Reset()
	errb.Reset()
	code = run([]string{"--checkpoint", ck, "--num_iw_samples", "2", "--max_images", "4"}, &out, &errb)
	if code != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), roDir) || !strings.Contains(errb.String(), "not writable") {
		t.Fatalf("read-only output folder: exit %d, stderr %q; want one line before any work", code, errb.String())
	}
}
