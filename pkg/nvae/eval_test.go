package nvae

import (
	"math"
	"testing"

	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/tensor"
)

// constNoise makes every draw the same constant, so a batched pass and
// single passes see identical noise.
type constNoise struct{ v float64 }

func (n constNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor {
	return c.B.Full(c.DType, n.v, shape...)
}
func (n constNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	return c.B.Full(c.DType, 0.5, shape...)
}

// TestEvalIWBatchedMatchesSequential: sharing forward passes between
// importance samples changes nothing but the grouping.
func TestEvalIWBatchedMatchesSequential(t *testing.T) {
	m, c, b := tinyModel(t, "--dataset cifar10 --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 2 --num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --use_se --res_dist --num_nf 1 --num_mixture_dec 3")
	x := c.Const(b.Cast(b.RandUniform(tensor.Float64, 9, 0, 3, 3, 32, 32), tensor.Float64))
	seq := m.EvalIW(c, x, 5, constNoise{0.3})
	bat := m.EvalIWBatched(c, x, 5, 2, constNoise{0.3})
	if n := x.Value.Dim(0); len(seq.LogIW) != 5*n || len(seq.Nelbo) != 5*n || len(seq.LogPx) != n {
		t.Fatalf("sequential: %d log_iw, %d nelbo, %d log p(x); want %d, %d, %d", len(seq.LogIW), len(seq.Nelbo), len(seq.LogPx), 5*n, 5*n, n)
	}
	compare.Check(t, "log_iw batched vs sequential", bat.LogIW, seq.LogIW, 1e-9, compare.Elementwise(0))
	compare.Check(t, "nelbo batched vs sequential", bat.Nelbo, seq.Nelbo, 1e-9, compare.Elementwise(0))
	compare.Check(t, "log p(x) batched vs sequential", bat.LogPx, seq.LogPx, 1e-9, compare.Elementwise(0))
}

func TestLogSumExpStable(t *testing.T) {
	if v := LogSumExp([]float64{-1e4, -1e4}); !(math.Abs(v-(-1e4+math.Ln2)) <= 1e-9) {
		t.Fatalf("logsumexp underflowed: %v", v)
	}
	if v := LogSumExp([]float64{1000, 1000}); !(math.Abs(v-(1000+math.Ln2)) <= 1e-9) {
		t.Fatalf("logsumexp overflowed: %v", v)
	}
}
