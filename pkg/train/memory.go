package train

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// graphBytes runs one training forward pass of m at batch size b on random
// images and returns the bytes its autodiff graph holds (ag.GraphBytes).
// The model's state is restored afterwards (BN statistics, data-dependent
// init, spectral vectors).
func graphBytes(m *nvae.Model, be backend.Backend, dt tensor.DType, b int) int64 {
	noise := &nvae.PhiloxNoise{Seed: 0x6d656d}
	snap := takeSnapshot(m, noise)
	defer snap.restore(m, noise)
	c := ag.New(be, dt)
	oldTraining := m.Store.Training
	m.Store.Training = true
	defer func() { m.Store.Training = oldTraining }()
	size, err := nvae.InputSize(m.Cfg.Dataset)
	if err != nil {
		return 0
	}
	x := be.RandUniform(dt, 0x696d67, 0, b, nvae.InputChannels(m.Cfg.Dataset), size, size)
	if nvae.IsBinary(m.Cfg.Dataset) {
		x = be.Compare(backend.GT, x, be.Full(dt, 0.5))
	}
	tr := m.TrainLoss(c, c.Const(nvae.PreProcess(c, x, m.Cfg.NumXBits)), noise, 1, 1)
	return ag.GraphBytes(tr.Loss)
}

// activationFactor scales the graph's bytes to the measured peak of a
// training step: backward closures' saved tensors and the gradients in
// flight during Backward add 13-24% on the test configuration
// (TestMemoryEstimate checks the whole estimate within 25%).
const activationFactor = 1.2

// MemEstimate is the memory a training step needs, by part (bytes).
type MemEstimate struct {
	BatchSize int `json:"batch_size"`
	// Model: parameters, their gradients and the two Adamax moments.
	Model int64 `json:"model_bytes"`
	// Activations: the autodiff graph of one step and what backward adds.
	Activations int64   `json:"activation_bytes"`
	Total       int64   `json:"total_bytes"`
	TotalGiB    float64 `json:"total_gib"`
}

// EstimateMemory estimates the memory of a training step of m at the given
// batch size: the graph of two small probe forward passes (2 and 4 images)
// gives its per-image and fixed parts, scaled to the batch size. The
// model's state is left as it was.
func EstimateMemory(m *nvae.Model, be backend.Backend, dt tensor.DType, batch int) MemEstimate {
	g2 := graphBytes(m, be, dt, 2)
	g4 := graphBytes(m, be, dt, 4)
	perImage := max(g4-g2, 0) / 2
	fixed := max(g2-2*perImage, 0)
	act := int64(activationFactor * float64(fixed+perImage*int64(batch)))
	model := int64(m.Store.NumParams()) * int64(dt.Size()) * 4
	e := MemEstimate{BatchSize: batch, Model: model, Activations: act, Total: model + act}
	e.TotalGiB = float64(e.Total) / (1 << 30)
	return e
}

// availableMemory is the memory a CPU run may still use: MemAvailable, or
// less under a cgroup (v2) limit; 0 when unknown. Tests replace it.
var availableMemory = func() int64 {
	avail := int64(0)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemAvailable:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					avail = kb << 10
				}
			}
		}
	}
	lim, err1 := os.ReadFile("/sys/fs/cgroup/memory.max")
	cur, err2 := os.ReadFile("/sys/fs/cgroup/memory.current")
	if err1 == nil && err2 == nil {
		l, e1 := strconv.ParseInt(strings.TrimSpace(string(lim)), 10, 64)
		c, e2 := strconv.ParseInt(strings.TrimSpace(string(cur)), 10, 64)
		if e1 == nil && e2 == nil && (avail == 0 || l-c < avail) {
			avail = max(l-c, 0)
		}
	}
	return avail
}

// checkMemory refuses a batch that cannot fit before training starts (on
// the CPU; a GPU backend would compare with its device memory).
func (r *runner) checkMemory() error {
	if r.opt.Backend.Name() != "cpu" {
		return nil
	}
	avail := availableMemory()
	if avail <= 0 {
		return nil
	}
	e := EstimateMemory(r.m, r.opt.Backend, r.opt.DType, r.cfg.BatchSize)
	gib := func(b int64) float64 { return float64(b) / (1 << 30) }
	if e.Total > avail {
		return fmt.Errorf("batch size %d needs ~%.1f GiB, %.1f GiB available; lower --batch_size", r.cfg.BatchSize, gib(e.Total), gib(avail))
	}
	r.printf("memory: ~%.2f GiB needed for batch size %d, %.1f GiB available\n", gib(e.Total), r.cfg.BatchSize, gib(avail))
	return nil
}

// DryRunMemory builds the model of cfg on b and estimates the memory of
// one training step at cfg's batch size (nvae-train --dry_run
// --memory_estimate).
func DryRunMemory(cfg nvae.Config, b backend.Backend) (MemEstimate, error) {
	m, err := nvae.NewModel(cfg, b, tensor.Float32, uint64(cfg.Seed))
	if err != nil {
		return MemEstimate{}, err
	}
	return EstimateMemory(m, b, tensor.Float32, cfg.BatchSize), nil
}
