package train

import (
	"fmt"
	"maps"
	"slices"

	"github.com/nvaego/nvae/pkg/backend"
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

// nonFinite names the first parameter, buffer, optimizer moment or
// spectral vector holding a NaN or Inf ("" when all are finite).
func nonFinite(b backend.Backend, m *nvae.Model, moments ...[]*tensor.Tensor) string {
	bad := func(t *tensor.Tensor) bool {
		if t == nil {
			return false
		}
		h := b.ToHost(t)
		if h.DType() == tensor.Float64 {
			for _, v := range h.F64() {
				if !finite(v) {
					return true
				}
			}
			return false
		}
		for _, v := range h.F32() {
			if !finite(float64(v)) {
				return true
			}
		}
		return false
	}
	for _, p := range m.Store.Params() {
		if bad(p.Value) {
			return "parameter " + p.Name
		}
	}
	for _, name := range m.Store.BufferNames() {
		if bad(m.Store.Buffer(name)) {
			return "buffer " + name
		}
	}
	for i, k := range m.SR.Keys {
		if bad(m.SR.U[k]) || bad(m.SR.V[k]) {
			return fmt.Sprintf("spectral vectors sr/%d", i)
		}
	}
	for _, ms := range moments {
		for i, t := range ms {
			if bad(t) {
				return fmt.Sprintf("optimizer moment of %s", m.Store.Params()[i].Name)
			}
		}
	}
	return ""
}
