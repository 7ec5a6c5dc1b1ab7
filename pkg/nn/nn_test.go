package nn

import (
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// The effective weight is cached without gradients and recomputed when the
// weight or log_weight_norm changes, in place or by replacement; with
// gradients it is always recomputed (the tape needs its own).
func TestEffectiveWeightCache(t *testing.T) {
	b := cpu.New()
	s := NewStore(b, tensor.Float32, 1)
	cv := s.NewConv2D("c", 4, 8, 3, ConvOpts{Padding: 1, WeightNorm: true})
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	w1 := cv.EffectiveWeight(c)
	if w2 := cv.EffectiveWeight(c); w2 != w1 {
		t.Fatal("unchanged weights: effective weight recomputed")
	}
	same := func(a, b *ag.Var) bool {
		x, y := a.Value.F32(), b.Value.F32()
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	fresh := func() *ag.Var { return cv.effectiveWeight(c) }
	cv.W.Value.F32()[5] += 0.25 // in place, as the optimizer does
	w3 := cv.EffectiveWeight(c)
	if w3 == w1 || !same(w3, fresh()) {
		t.Fatal("in-place weight update not seen")
	}
	cv.LogWN.Value = b.Full(tensor.Float32, 0.5, 8, 1, 1, 1) // replaced
	w4 := cv.EffectiveWeight(c)
	if w4 == w3 || !same(w4, fresh()) {
		t.Fatal("replaced log_weight_norm not seen")
	}
	c.SetGrad(true)
	if w5 := cv.EffectiveWeight(c); w5 == w4 || !w5.RequiresGrad() {
		t.Fatal("with gradients the cached weight was reused")
	}
}
