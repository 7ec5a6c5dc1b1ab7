package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/internal/oracle"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data"
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
