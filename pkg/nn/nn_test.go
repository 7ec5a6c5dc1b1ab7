package nn

import (
	"github.com/nvaego/nvae/pkg/backend"
	"math"
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

// The eval-mode scale and shift of a batch norm are cached without
// gradients and recomputed when the weight, bias or running statistics
// change, in place or by replacement; ForwardBN (convolution, batch norm
// and activation in one pass) gives bit for bit the separate layers.
func TestBatchNormEvalCacheAndForwardBN(t *testing.T) {
	b := cpu.New()
	s := NewStore(b, tensor.Float32, 1)
	cv := s.NewConv2D("c", 4, 6, 3, ConvOpts{Padding: 1, Bias: true, WeightNorm: true})
	bn := s.NewBatchNorm("bn", 6)
	s.Training = false
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	x := c.Const(b.Affine(b.RandUniform(tensor.Float32, 3, 0, 2, 4, 5, 5), 2, -1))
	sc1, _ := bn.evalAffine(c)
	if sc2, _ := bn.evalAffine(c); sc2 != sc1 {
		t.Fatal("unchanged batch norm: scale recomputed")
	}
	check := func(what string) {
		t.Helper()
		for _, act := range []backend.UnaryOp{backend.NoAct, backend.Swish} {
			got := cv.ForwardBN(c, x, bn, act).Value.F32()
			y := cv.Forward(c, x)
			var want []float32
			if act == backend.NoAct {
				want = bn.Forward(c, y).Value.F32()
			} else {
				want = bn.ForwardUnary(c, y, act).Value.F32()
			}
			// The reference: scale and shift from scratch.
			rm, rv := s.Buffer("bn.running_mean").F32(), s.Buffer("bn.running_var").F32()
			yv := y.Value.F32()
			for i := range got {
				ch := i / 25 % 6
				sc := bn.Gamma.Value.F32()[ch] / float32(math.Sqrt(float64(rv[ch]+1e-5)))
				ref := yv[i]*sc + (bn.Beta.Value.F32()[ch] - rm[ch]*sc)
				if act == backend.Swish {
					ref = ref / (1 + float32(math.Exp(-float64(ref))))
				}
				if got[i] != want[i] || !(math.Abs(float64(got[i]-ref)) <= 1e-5*(1+math.Abs(float64(ref)))) {
					t.Fatalf("%s, act %v: [%d] = %v, separate layers %v, reference %v", what, act, i, got[i], want[i], ref)
				}
			}
		}
	}
	check("initial statistics")
	s.Buffer("bn.running_var").F32()[2] = 4 // in place
	check("running_var changed in place")
	s.SetBuffer("bn.running_mean", b.Full(tensor.Float32, 0.5, 6)) // replaced
	check("running_mean replaced")
	bn.Gamma.Value.F32()[1] = -2
	bn.Beta.Value.F32()[4] = 3
	check("weight and bias changed in place")
	c.SetGrad(true)
	if sc, _ := bn.evalAffine(c); !sc.RequiresGrad() {
		t.Fatal("with gradients the cached scale was reused")
	}
}
