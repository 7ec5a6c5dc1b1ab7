package nvae

import (
	"context"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// The two CPU configurations of scripts/bench.sh (nvae-train --benchmark).
const benchSmall = "--num_channels_enc 16 --num_channels_dec 16 --num_latent_scales 2 --num_groups_per_scale 4 --ada_groups --num_latent_per_group 20 --weight_decay_norm 1e-2 --use_se --res_dist --fast_adamax"

var benchConfigs = map[string]string{
	"mnist_small": "--dataset mnist --batch_size 32 " + benchSmall + " --num_preprocess_blocks 2 --num_preprocess_cells 2 --num_postprocess_blocks 2 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --num_nf 0",
	"cifar_small": "--dataset cifar10 --batch_size 8 " + benchSmall + " --num_preprocess_blocks 1 --num_preprocess_cells 2 --num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2 --num_nf 1",
}

// benchModel builds a model of the named configuration, runs one training
// forward/backward (data-dependent init, BN statistics) and switches to eval
// mode, as nvae-train --benchmark does before timing inference.
func benchModel(b *testing.B, name string) (*Model, *ag.Ctx, *ag.Var) {
	cfg, err := ParseArgs(strings.Fields(benchConfigs[name]))
	if err != nil {
		b.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	be := cpu.New()
	m, err := NewModel(cfg, be, tensor.Float32, uint64(cfg.Seed))
	if err != nil {
		b.Fatal(err)
	}
	size, _ := InputSize(cfg.Dataset)
	c := ag.New(be, tensor.Float32)
	x := be.RandUniform(tensor.Float32, 7, 0, cfg.BatchSize, InputChannels(cfg.Dataset), size, size)
	if IsBinary(cfg.Dataset) {
		x = be.Compare(backend.GT, x, be.Full(tensor.Float32, 0.5))
	}
	xv := c.Const(PreProcess(c, x, cfg.NumXBits))
	r := m.TrainLoss(c, xv, &PhiloxNoise{Seed: 11}, 0.5, cfg.WeightDecayNorm)
	c.Backward(r.Loss)
	m.Store.Training = false
	c.SetGrad(false)
	return m, c, xv
}

func benchInference(b *testing.B, name string, sample bool) {
	m, c, xv := benchModel(b, name)
	noise := &PhiloxNoise{Seed: 11}
	infer := func() {
		if sample {
			c.B.ToHost(m.Sample(c, xv.Dim(0), 0.7, noise).Value)
		} else {
			c.B.ToHost(m.Forward(c, xv, noise).Logits.Value)
		}
	}
	run := func() {
		pprof.Do(context.Background(), pprof.Labels("phase", "inference"), func(context.Context) { infer() })
	}
	run() // warm-up
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	for i := 0; i < b.N; i++ {
		run()
	}
	// CPU time is steadier than wall time on a machine shared with other
	// work (on 2 idle cores it is up to twice the wall time).
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func BenchmarkSampleMNISTSmall(b *testing.B)  { benchInference(b, "mnist_small", true) }
func BenchmarkEvalFwdMNISTSmall(b *testing.B) { benchInference(b, "mnist_small", false) }
func BenchmarkSampleCIFARSmall(b *testing.B)  { benchInference(b, "cifar_small", true) }
func BenchmarkEvalFwdCIFARSmall(b *testing.B) { benchInference(b, "cifar_small", false) }

// benchTrainStep times the training loss and its backward pass (the
// optimizer update is not included).
func benchTrainStep(b *testing.B, name string) {
	m, c, xv := benchModel(b, name)
	m.Store.Training = true
	c.SetGrad(true)
	noise := &PhiloxNoise{Seed: 11}
	step := func() {
		m.Store.ZeroGrad()
		r := m.TrainLoss(c, xv, noise, 0.5, m.Cfg.WeightDecayNorm)
		c.Backward(r.Loss)
	}
	step() // warm-up
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func BenchmarkTrainStepMNISTSmall(b *testing.B) { benchTrainStep(b, "mnist_small") }
func BenchmarkTrainStepCIFARSmall(b *testing.B) { benchTrainStep(b, "cifar_small") }
