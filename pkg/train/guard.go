package train

import (
	"fmt"
	"maps"
	"slices"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// stepSnapshot holds everything a training step may change before the
// optimizer update: the BN running statistics, the spectral regulariser's
// u/v vectors and stream position, the latent-noise position, and the
// parameters a first step's data-dependent init writes. The step functions
// of this project replace tensors rather than writing into them, so keeping
// the old tensor handles is a full copy of that state. A skipped
// (non-finite) step restores it: the step changes nothing.
type stepSnapshot struct {
	bufs     map[string]*tensor.Tensor
	params   []*tensor.Tensor
	initDone []bool
	srKeys   [][2]int
	srU, srV map[[2]int]*tensor.Tensor
	srOff    uint64
	noiseOff uint64
}

func takeSnapshot(m *nvae.Model, noise *nvae.PhiloxNoise) *stepSnapshot {
	s := &stepSnapshot{bufs: map[string]*tensor.Tensor{}}
	for _, name := range m.Store.BufferNames() {
		s.bufs[name] = m.Store.Buffer(name)
	}
	for _, p := range m.Store.Params() {
		s.params = append(s.params, p.Value)
	}
	for _, c := range m.Store.Convs {
		s.initDone = append(s.initDone, c.InitDone)
	}
	s.srKeys = slices.Clone(m.SR.Keys)
	s.srU, s.srV = maps.Clone(m.SR.U), maps.Clone(m.SR.V)
	s.srOff = m.SR.Off
	s.noiseOff = noise.Offset
	return s
}

func (s *stepSnapshot) restore(m *nvae.Model, noise *nvae.PhiloxNoise) {
	for name, t := range s.bufs {
		m.Store.SetBuffer(name, t)
	}
	for i, p := range m.Store.Params() {
		p.Value = s.params[i]
	}
	for i, c := range m.Store.Convs {
		c.InitDone = s.initDone[i]
	}
	m.SR.Keys = s.srKeys
	m.SR.U, m.SR.V = s.srU, s.srV
	m.SR.Off = s.srOff
	noise.Offset = s.noiseOff
}

// nonFinite names the first parameter, buffer, spectral vector or
// optimizer moment holding a NaN or Inf ("" when all are finite).
func nonFinite(b backend.Backend, m *nvae.Model, moments ...[]*tensor.Tensor) string {
	if what := ckpt.NonFinite(m); what != "" {
		return what
	}
	for _, ms := range moments {
		for i, t := range ms {
			if t != nil && ckpt.HasNonFinite(b.ToHost(t)) {
				return fmt.Sprintf("optimizer moment of %s", m.Store.Params()[i].Name)
			}
		}
	}
	return ""
}
