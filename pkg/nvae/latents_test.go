package nvae

import (
	"errors"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestLatentsRoundTrip: EncodeLatents' decoded means are Reconstruct's
// output, InterpolateLatents starts and ends at encoded images, and a
// latents file of one image cannot be interpolated.
func TestLatentsRoundTrip(t *testing.T) {
	cfg, err := ParseArgs(strings.Fields("--dataset cifar10 --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 1 --num_postprocess_blocks 1 --num_postprocess_cells 1 --use_se --res_dist --num_nf 1 --num_mixture_dec 3"))
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	m, err := NewModel(cfg, b, tensor.Float32, 4)
	if err != nil {
		t.Fatal(err)
	}
	m.Store.Training = false
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	const n, per = 3, 3 * 32 * 32
	x := b.ToHost(b.RandUniform(tensor.Float32, 5, 0, n, 3, 32, 32))
	arrs, trip, err := m.EncodeLatents(c, x.Float32s(), n, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(trip) != 3*n*per || len(arrs) != 1+4*m.NumGroupsTotal() {
		t.Fatalf("%d round-trip values, %d arrays", len(trip), len(arrs))
	}
	orig, rec := m.Reconstruct(c, x)
	for i := range rec {
		if orig[i] != trip[i] || rec[i] != trip[n*per+i] {
			t.Fatalf("value %d: inputs %v/%v, decoded means %v/%v", i, trip[i], orig[i], trip[n*per+i], rec[i])
		}
	}
	walk, k, err := m.InterpolateLatents(arrs, "mean", 5, 2)
	if err != nil || k != n {
		t.Fatalf("k %d: %v", k, err)
	}
	for g := 0; g < m.NumGroupsTotal(); g++ {
		key := LatentKey("mean", g)
		w, _ := walk[key].Float32()
		v, _ := arrs[key].Float32()
		if walk[key].Shape[0] != 5 {
			t.Fatalf("%s: %d frames, want 5", key, walk[key].Shape[0])
		}
		q := len(v) / n
		for e := 0; e < q; e++ {
			if w[e] != v[e] || w[4*q+e] != v[2*q+e] {
				t.Fatalf("%s: the walk does not start and end at the encoded images", key)
			}
		}
	}
	one := map[string]npz.Array{}
	for key, a := range arrs {
		v, _ := a.Float32()
		one[key] = npz.FromFloat32(append([]int{1}, a.Shape[1:]...), v[:len(v)/n])
	}
	if _, _, err := m.InterpolateLatents(one, "mean", 2, 2); !errors.Is(err, ErrFewLatents) {
		t.Fatalf("one image: %v", err)
	}
}
