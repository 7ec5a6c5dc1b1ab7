package train

import (
	"math"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/tensor"
)

func loadCk(t *testing.T, path string) *ckpt.Checkpoint {
	t.Helper()
	ck, err := ckpt.Load(path, cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// TestEMA: --ema_decay keeps ema = decay·ema + (1−decay)·w after every
// update (started from the weights after the first one), saved in the
// checkpoint, continued on resume, chosen by SelectWeights / LoadAnyWeights;
// off by default (no ema tensors).
func TestEMA(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	o := opts(tinyConfig(t, dataDir, root, "ema"), 1)
	o.EMADecay = 0.5
	res, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	ck1 := loadCk(t, res.CheckpointPath)
	if ck1.EMA == nil || ck1.State.EMADecay != 0.5 {
		t.Fatalf("checkpoint has no EMA (decay %v)", ck1.State.EMADecay)
	}
	for _, p := range ck1.Model.Store.Params() {
		if !equalF32(ck1.EMA[p.Name].Float32s(), p.Value.Float32s()) {
			t.Fatalf("after one update the EMA of %s is not the weight", p.Name)
		}
	}
	cfg := tinyConfig(t, dataDir, root, "ema")
	cfg.ContTraining = true
	o = opts(cfg, 2)
	o.EMADecay = 0.5
	if res, err = Run(o); err != nil {
		t.Fatal(err)
	}
	ck2 := loadCk(t, res.CheckpointPath)
	moved := false
	for _, p := range ck2.Model.Store.Params() {
		w1, w2, e := ck1.Model.Store.Param(p.Name).Value.Float32s(), p.Value.Float32s(), ck2.EMA[p.Name].Float32s()
		for i := range e {
			want := float32(0.5)*w1[i] + float32(0.5)*w2[i]
			if math.Abs(float64(e[i]-want)) > 1e-6*(1+math.Abs(float64(want))) {
				t.Fatalf("EMA of %s[%d] = %v, want %v", p.Name, i, e[i], want)
			}
			if w1[i] != w2[i] {
				moved = true
			}
		}
	}
	if !moved {
		t.Fatal("the second update changed nothing")
	}
	// choosing the weights
	b := cpu.New()
	for _, tc := range []struct{ choice, used string }{{"auto", "ema"}, {"ema", "ema"}, {"raw", "raw"}} {
		m, used, err := ckpt.LoadAnyWeights(res.CheckpointPath, b, tensor.Float32, tc.choice)
		if err != nil || used != tc.used {
			t.Fatalf("%s: used %q, %v", tc.choice, used, err)
		}
		name := m.Store.Params()[1].Name
		want := ck2.Model.Store.Param(name).Value
		if tc.used == "ema" {
			want = ck2.EMA[name]
		}
		if !equalF32(m.Store.Param(name).Value.Float32s(), want.Float32s()) {
			t.Errorf("%s: %s holds the wrong weights", tc.choice, name)
		}
	}
	// off by default
	plain, err := Run(opts(tinyConfig(t, dataDir, root, "plain"), 1))
	if err != nil {
		t.Fatal(err)
	}
	if ck := loadCk(t, plain.CheckpointPath); ck.EMA != nil || ck.State.EMADecay != 0 {
		t.Error("a run without --ema_decay saved an EMA")
	}
	if _, _, err := ckpt.LoadAnyWeights(plain.CheckpointPath, b, tensor.Float32, "ema"); err == nil {
		t.Error("--weights ema accepted for a checkpoint without EMA")
	}
	if _, used, err := ckpt.LoadAnyWeights(plain.CheckpointPath, b, tensor.Float32, "auto"); err != nil || used != "raw" {
		t.Errorf("auto without EMA: %q, %v", used, err)
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
