package nvae

import (
	"reflect"
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestEncodeDecodeLatents: Encode computes Forward's output with the same
// noise (flows included), its latents decode back to the same output, and
// with zero noise the latents are the posterior means.
func TestEncodeDecodeLatents(t *testing.T) {
	m, c, b := tinyModel(t, "--dataset cifar10 --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 1 --num_postprocess_blocks 1 --num_postprocess_cells 1 --use_se --res_dist --num_nf 1 --num_mixture_dec 3")
	x := c.Const(b.Cast(b.RandUniform(tensor.Float64, 3, 0, 2, 3, 32, 32), tensor.Float64))
	host := func(v *ag.Var) []float64 { return b.ToHost(v.Value).Float64s() }

	fw := m.Forward(c, x, &PhiloxNoise{Seed: 8})
	e := m.Encode(c, x, &PhiloxNoise{Seed: 8})
	if !reflect.DeepEqual(host(fw.Logits), host(e.Logits)) {
		t.Fatal("Encode's output differs from Forward's")
	}
	if len(e.Z) != m.NumGroupsTotal() || len(e.Mu) != len(e.Z) {
		t.Fatalf("%d latents for %d groups", len(e.Z), m.NumGroupsTotal())
	}
	back, err := m.DecodeLatents(c, e.Z)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(host(back), host(e.Logits)) {
		t.Fatal("decoding the sampled latents does not give the encoding's output")
	}
	// zero noise: Q = Mu; with a flow Z differs from Mu
	zero := m.Encode(c, x, zeroNoise{})
	for k := range zero.Q {
		if !reflect.DeepEqual(host(zero.Q[k]), host(zero.Mu[k])) {
			t.Fatalf("group %d: latent is not the posterior mean with zero noise", k)
		}
	}
	if reflect.DeepEqual(host(zero.Z[1]), host(zero.Mu[1])) {
		t.Error("the flow left the latent unchanged")
	}
	if _, err := m.DecodeLatents(c, e.Z[:2]); err == nil {
		t.Error("too few latents accepted")
	}
	bad := append([]*ag.Var{}, e.Z...)
	bad[1] = e.Z[0]
	if _, err := m.DecodeLatents(c, bad); err == nil && !e.Z[0].Shape().Equal(e.Z[1].Shape()) {
		t.Error("a latent of the wrong shape accepted")
	}
}

type zeroNoise struct{}

func (zeroNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor { return c.B.Zeros(c.DType, shape...) }
func (zeroNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	return c.B.Full(c.DType, 0.5, shape...)
}
