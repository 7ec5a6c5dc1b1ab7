package nvae

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nvaego/nvae/pkg/ag"
)

// ParseTemps reads a per-group temperature specification for a model with
// groups latent groups (Efficient-VDVAE style):
//
//	"0.6"           one temperature for every group
//	"0.8,0.7,0.6"   one per group, first (top, z0) to last; exactly groups values
//	"0.9:0.5"       linear from the first group to the last
//
// Every temperature must be positive.
func ParseTemps(spec string, groups int) ([]float64, error) {
	if groups < 1 {
		return nil, fmt.Errorf("temperature: the model has no latent groups")
	}
	num := func(s string) (float64, error) {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(v > 0) || v > 1e6 {
			return 0, fmt.Errorf("temperature %q: want a positive number", s)
		}
		return v, nil
	}
	out := make([]float64, groups)
	switch {
	case strings.Contains(spec, ":"):
		ab := strings.Split(spec, ":")
		if len(ab) != 2 {
			return nil, fmt.Errorf("temperature schedule %q: want FIRST:LAST", spec)
		}
		a, err := num(ab[0])
		if err != nil {
			return nil, err
		}
		b, err := num(ab[1])
		if err != nil {
			return nil, err
		}
		for i := range out {
			f := 0.0
			if groups > 1 {
				f = float64(i) / float64(groups-1)
			}
			out[i] = a + (b-a)*f
		}
	case strings.Contains(spec, ","):
		parts := strings.Split(spec, ",")
		if len(parts) != groups {
			return nil, fmt.Errorf("temperature list %q has %d values; the model has %d latent groups", spec, len(parts), groups)
		}
		for i, p := range parts {
			v, err := num(p)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
	default:
		v, err := num(spec)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i] = v
		}
	}
	return out, nil
}

// SampleTemps is Sample with one temperature per latent group: temps[0]
// scales z0, temps[k] the prior of group k (Sample is the case of equal
// temperatures).
func (m *Model) SampleTemps(c *ag.Ctx, n int, temps []float64, noise Noise) *ag.Var {
	if len(temps) != m.NumGroupsTotal() {
		panic(fmt.Sprintf("nvae: %d temperatures for %d latent groups", len(temps), m.NumGroupsTotal()))
	}
	eps := noise.Normal(c, append([]int{n}, m.z0Size...)...)
	z0 := c.Const(c.B.Affine(eps, 1.01*temps[0], 0))
	return m.runDecoder(c, n, z0, func(idx int, s *ag.Var) *ag.Var {
		pp := m.decSample(c, idx, s)
		p := NewNormal(c, pp[0], pp[1], temps[idx])
		c.Release(pp...)
		z := p.Sample(c, noise.Normal(c, p.Mu.Shape()...))
		c.Release(p.Mu, p.Sigma)
		return z
	})
}

// ReadjustBNTemps is ReadjustBN sampling with per-group temperatures
// (ReadjustBN is the case of equal temperatures).
func (m *Model) ReadjustBNTemps(c *ag.Ctx, temps []float64, iters, batchSize int, noise Noise, progress func(done int)) {
	old := c.SetGrad(false)
	defer c.SetGrad(old)
	m.Store.Training = true
	for i := 0; i < iters; i++ {
		m.SampleTemps(c, batchSize, temps, noise)
		if progress != nil {
			progress(i + 1)
		}
	}
	m.Store.Training = false
}

// TempLabel names per-group temperatures in file names: the value (format
// f) when all groups share it, else the specification spec with ':' and
// ',' replaced.
func TempLabel(spec string, temps []float64, f string) string {
	for _, t := range temps {
		if t != temps[0] {
			return strings.NewReplacer(":", "-", ",", "_", " ", "").Replace(spec)
		}
	}
	return fmt.Sprintf(f, temps[0])
}
