package train

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/tensor"
)

// measureStep returns the peak heap during two training steps of a new
// model at batch size bs, sampled every 0.2 ms with the GC at 1%, and the
// heap before the model existed.
func measureStep(t *testing.T, cfg nvae.Config, bs int) (peak, base int64) {
	be := cpu.New()
	old := debug.SetGCPercent(1)
	defer debug.SetGCPercent(old)
	runtime.GC()
	base = heapObjects()
	m, _ := nvae.NewModel(cfg, be, tensor.Float32, 1)
	c := ag.New(be, tensor.Float32)
	size, _ := nvae.InputSize(cfg.Dataset)
	x := be.RandUniform(tensor.Float32, 7, 0, bs, nvae.InputChannels(cfg.Dataset), size, size)
	x = be.Compare(backend.GT, x, be.Full(tensor.Float32, 0.5))
	xv := c.Const(nvae.PreProcess(c, x, cfg.NumXBits))
	opt := optim.NewAdamax(be, m.Store.Params(), 1e-3, 0)
	var pk atomic.Int64
	done := make(chan bool)
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if v := heapObjects(); v > pk.Load() {
				pk.Store(v)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for i := 0; i < 2; i++ {
		m.Store.ZeroGrad()
		r := m.TrainLoss(c, xv, &nvae.PhiloxNoise{Seed: 3}, 0.5, 0.1)
		c.Backward(r.Loss)
		opt.StepUpdate()
	}
	close(done)
	runtime.KeepAlive(m)
	return pk.Load(), base
}

// heapObjects is the heap's bytes in objects, live or not yet collected.
func heapObjects() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestMemoryEstimate (issue 14.5): the estimate made before training is
// within 25% of the measured peak heap of training steps (GC at 1% so the
// heap is the live data), and a batch that cannot fit is refused with one
// line before any step.
func TestMemoryEstimate(t *testing.T) {
	cfg := tinyConfig(t, "", t.TempDir(), "mem")
	be := cpu.New()
	m, err := nvae.NewModel(cfg, be, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range []int{24, 64} {
		est := EstimateMemory(m, be, tensor.Float32, bs)
		peak, base := measureStep(t, cfg, bs)
		got := peak - base
		t.Logf("batch %d: estimate %d bytes, measured peak %d", bs, est.Total, got)
		if d := math.Abs(float64(est.Total-got)) / float64(got); !(d <= 0.25) {
			t.Errorf("batch %d: estimate %d bytes, measured peak %d (%.0f%% off)", bs, est.Total, got, 100*d)
		}
	}

	old := availableMemory
	defer func() { availableMemory = old }()
	availableMemory = func() int64 { return 256 << 20 }
	dataDir := testenv.MNISTLayout(t)
	cfg = tinyConfig(t, dataDir, t.TempDir(), "big")
	cfg.BatchSize = 600
	o := opts(cfg, 1)
	t0 := time.Now()
	_, err = Run(o)
	if err == nil || !strings.Contains(err.Error(), "GiB, 0.2 GiB available; lower --batch_size") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("batch 600 with 256 MiB: got %v", err)
	}
	t.Log(err)
	if el := time.Since(t0); el > 20*time.Second {
		t.Fatalf("refusal took %s: it must come before training", el)
	}
	if _, err := os.Stat(filepath.Join(cfg.ExpDir(), CheckpointName)); err == nil {
		t.Fatal("a refused run wrote a checkpoint")
	}
}
