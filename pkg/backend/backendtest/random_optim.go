package backendtest

// Conformance checks of the Philox random streams and the Adamax update.

import (
	"math"
	"testing"

	"github.com/nvaego/nvae/pkg/rng"
	"github.com/nvaego/nvae/pkg/tensor"
)

func (s *suite) random(t *testing.T) {
	seed, off := uint64(1234), uint64(7)
	n := 1000
	g := rng.New(seed)
	g.SetState(rng.State{Seed: seed, Offset: off})
	u := arr{tensor.Shape{n}, make([]float64, n)}
	z := arr{tensor.Shape{n}, make([]float64, n)}
	for i := 0; i < n; i++ {
		if s.dt == tensor.Float32 {
			u.v[i] = float64(rng.UniformAt(seed, off+uint64(i)))
			z.v[i] = float64(rng.NormalAt(seed, off+uint64(i)))
		} else {
			u.v[i] = rng.Uniform64At(seed, off+uint64(i))
			z.v[i] = rng.Normal64At(seed, off+uint64(i))
		}
	}
	s.check("RandUniform", s.b.RandUniform(s.dt, seed, off, n), u)
	s.check("RandNormal", s.b.RandNormal(s.dt, seed, off, n), z)
}

func (s *suite) adamax(t *testing.T) {
	p, g := s.rand(-1, 1, 5, 7), s.rand(-1, 1, 5, 7)
	m, u := s.rand(-0.1, 0.1, 5, 7), s.rand(0, 0.02, 5, 7)
	clr, b1, b2, eps, wd := 0.01, 0.9, 0.999, 1e-3, 3e-4
	wp, wm, wu := arr{p.shape, make([]float64, 35)}, arr{p.shape, make([]float64, 35)}, arr{p.shape, make([]float64, 35)}
	for i := range p.v {
		gi := g.v[i] + wd*p.v[i]
		wm.v[i] = b1*m.v[i] + (1-b1)*gi
		wu.v[i] = math.Max(b2*u.v[i], math.Abs(gi)+eps)
		wp.v[i] = p.v[i] - clr*wm.v[i]/wu.v[i]
	}
	dp, dm, du := s.dev(p), s.dev(m), s.dev(u)
	s.b.AdamaxStep(dp, s.dev(g), dm, du, clr, b1, b2, eps, wd)
	s.check("AdamaxStep p", dp, wp)
	s.check("AdamaxStep m", dm, wm)
	s.check("AdamaxStep u", du, wu)
}
