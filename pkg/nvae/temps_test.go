package nvae

import (
	"reflect"
	"testing"
)

func TestParseTemps(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		groups int
		want   []float64
	}{
		{"0.6", 3, []float64{0.6, 0.6, 0.6}},
		{"0.8,0.7,0.6", 3, []float64{0.8, 0.7, 0.6}},
		{"0.9:0.5", 5, []float64{0.9, 0.8, 0.7, 0.6, 0.5}},
		{"0.9:0.5", 1, []float64{0.9}},
		{" 1 , 2 ", 2, []float64{1, 2}},
	} {
		got, err := ParseTemps(tc.spec, tc.groups)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		for i := range got {
			if d := got[i] - tc.want[i]; d > 1e-12 || d < -1e-12 {
				t.Errorf("%q over %d groups = %v, want %v", tc.spec, tc.groups, got, tc.want)
				break
			}
		}
	}
	for _, bad := range []string{"0", "-1", "x", "0.8,0.7", "1:2:3", ":0.5", "0.5,", "NaN"} {
		if _, err := ParseTemps(bad, 3); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSampleTemps: equal temperatures give exactly Sample's output, and
// the temperature of every group (z0 included) reaches the output.
func TestSampleTemps(t *testing.T) {
	m, c, b := tinyModel(t, "--dataset cifar10 --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 1 --num_postprocess_blocks 1 --num_postprocess_cells 1 --use_se --res_dist --num_mixture_dec 3")
	run := func(temps []float64) []float64 {
		if temps == nil {
			return b.ToHost(m.Sample(c, 2, 0.7, &PhiloxNoise{Seed: 9}).Value).Float64s()
		}
		return b.ToHost(m.SampleTemps(c, 2, temps, &PhiloxNoise{Seed: 9}).Value).Float64s()
	}
	g := m.NumGroupsTotal()
	if g < 3 {
		t.Fatalf("%d groups", g)
	}
	uniform := make([]float64, g)
	for i := range uniform {
		uniform[i] = 0.7
	}
	ref := run(nil)
	if !reflect.DeepEqual(run(uniform), ref) {
		t.Fatal("SampleTemps with equal temperatures differs from Sample")
	}
	for k := 0; k < g; k++ {
		temps := append([]float64{}, uniform...)
		temps[k] = 0.3
		if reflect.DeepEqual(run(temps), ref) {
			t.Errorf("the temperature of group %d does not reach the output", k)
		}
	}
}
