package train

import (
	"bufio"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/tensor"
)

// BenchResult is what nvae-train --benchmark prints (as JSON).
type BenchResult struct {
	Config       string  `json:"config,omitempty"`
	Device       string  `json:"device"`
	Batch        int     `json:"batch"`
	Params       int     `json:"params"`
	Steps        int     `json:"steps"`
	StepMsMedian float64 `json:"step_ms_median"`
	StepMsMin    float64 `json:"step_ms_min"`
	StepMsMax    float64 `json:"step_ms_max"`
	ImagesPerSec float64 `json:"images_per_s"`
	SampleMs     float64 `json:"sample_ms"`
	EvalFwdMs    float64 `json:"eval_fwd_ms"`
	// SamplesPerSec is sampling throughput (images of the batch / sample_ms);
	// IWEvalPerSec is importance-weighted evaluation throughput with
	// IWK samples per image (images per second).
	SamplesPerSec float64 `json:"samples_per_s"`
	IWK           int     `json:"iw_k"`
	IWEvalPerSec  float64 `json:"iw_eval_images_per_s"`
	PeakGiB       float64 `json:"peak_gib"`
	// DevicePeakGiB is the most device memory held by tensors at once
	// (GPU backends; 0 on the CPU, where peak_gib is the process's).
	DevicePeakGiB float64 `json:"device_peak_gib,omitempty"`
}

// benchIWK is the importance samples per image of the IW-evaluation
// throughput (the per-epoch validation's default).
const benchIWK = 10

// Benchmark times steps training steps of cfg on synthetic data after
// warmup steps (median, min, max), then sample(batch, 0.7) and an
// evaluation forward pass with BN in eval mode (medians of 3 after one
// warm-up each).
func Benchmark(cfg nvae.Config, b backend.Backend, steps, warmup int) (*BenchResult, error) {
	m, err := nvae.NewModel(cfg, b, tensor.Float32, uint64(cfg.Seed))
	if err != nil {
		return nil, err
	}
	size, _ := nvae.InputSize(cfg.Dataset)
	ch := nvae.InputChannels(cfg.Dataset)
	c := ag.New(b, tensor.Float32)
	x := b.RandUniform(tensor.Float32, 7, 0, cfg.BatchSize, ch, size, size)
	if nvae.IsBinary(cfg.Dataset) {
		x = b.Compare(backend.GT, x, b.Full(tensor.Float32, 0.5))
	}
	xv := c.Const(nvae.PreProcess(c, x, cfg.NumXBits))
	noise := &nvae.PhiloxNoise{Seed: 11}
	opt := optim.NewAdamax(b, m.Store.Params(), cfg.LearningRate, cfg.WeightDecay)
	var times []float64
	stepper, _ := b.(backend.Stepper)
	for i := 0; i < warmup+steps; i++ {
		t0 := time.Now()
		if stepper != nil {
			stepper.BeginStep()
		}
		m.Store.ZeroGrad()
		r := m.TrainLoss(c, xv, noise, 0.5, cfg.WeightDecayNorm)
		c.Backward(r.Loss)
		opt.StepUpdate()
		b.ToHost(r.Loss.Value) // synchronise
		if stepper != nil {
			m.Store.ZeroGrad()
			backend.Keep(b, modelState(m, opt)...)
			stepper.EndStep()
		}
		if i >= warmup {
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	sort.Float64s(times)
	res := &BenchResult{Device: b.Name(), Batch: cfg.BatchSize, Params: m.Store.NumParams(), Steps: steps,
		StepMsMedian: median(times), StepMsMin: times[0], StepMsMax: times[len(times)-1]}
	res.ImagesPerSec = float64(cfg.BatchSize) / res.StepMsMedian * 1000
	m.Store.Training = false
	c.SetGrad(false)
	var st, et []float64
	for i := 0; i < 4; i++ { // the first of each is warm-up
		t0 := time.Now()
		logits := m.Sample(c, cfg.BatchSize, 0.7, noise)
		b.ToHost(logits.Value)
		st = append(st, float64(time.Since(t0).Microseconds())/1000)
		t0 = time.Now()
		out := m.Forward(c, xv, noise)
		b.ToHost(out.Logits.Value)
		et = append(et, float64(time.Since(t0).Microseconds())/1000)
	}
	st, et = st[1:], et[1:]
	sort.Float64s(st)
	sort.Float64s(et)
	res.SampleMs, res.EvalFwdMs = median(st), median(et)
	res.SamplesPerSec = float64(cfg.BatchSize) / res.SampleMs * 1000
	var iw []float64
	for i := 0; i < 3; i++ { // the first is warm-up
		t0 := time.Now()
		m.EvalIWBatched(c, xv, benchIWK, 1, noise)
		iw = append(iw, float64(time.Since(t0).Microseconds())/1000)
	}
	iw = iw[1:]
	sort.Float64s(iw)
	res.IWK = benchIWK
	res.IWEvalPerSec = float64(cfg.BatchSize) / median(iw) * 1000
	res.PeakGiB = peakRSSGiB()
	if mr, ok := b.(backend.MemReporter); ok {
		res.DevicePeakGiB = float64(mr.MemStats().Peak) / (1 << 30)
	}
	return res, nil
}

func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// peakRSSGiB reads the process's peak resident set (VmHWM) on Linux, else
// the Go runtime's total obtained memory.
func peakRSSGiB() float64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "VmHWM:") {
				fs := strings.Fields(sc.Text())
				if len(fs) >= 2 {
					kb, _ := strconv.ParseFloat(fs[1], 64)
					return kb / (1 << 20)
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.Sys) / (1 << 30)
}
