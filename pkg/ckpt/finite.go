package ckpt

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// HasNonFinite reports whether t holds a NaN or an Inf.
func HasNonFinite(t *tensor.Tensor) bool {
	if t.DType() == tensor.Float64 {
		for _, v := range t.F64() {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return true
			}
		}
		return false
	}
	for _, v := range t.F32() {
		if v != v || math.IsInf(float64(v), 0) {
			return true
		}
	}
	return false
}

// NonFinite names the first parameter, buffer (BN running statistics) or
// spectral vector of m holding a NaN or Inf; "" when all are finite.
func NonFinite(m *nvae.Model) string {
	b := m.Store.B
	bad := func(t *tensor.Tensor) bool { return t != nil && HasNonFinite(b.ToHost(t)) }
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
	return ""
}

func errNonFinite(path, what string) error {
	return fmt.Errorf("checkpoint %s holds non-finite values (%s): the run that wrote it had diverged; use an earlier checkpoint", path, what)
}
