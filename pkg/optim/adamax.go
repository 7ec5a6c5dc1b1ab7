// Package optim holds the optimizer of the official NVAE training loop.
package optim

import (
	"math"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Adamax is thirdparty.adamax.Adamax of the official code (the --fast_adamax
// variant computes the same update): with g' = g + wd·p,
// m = β1·m + (1−β1)·g', u = max(β2·u, |g'| + eps), p ← p − lr/(1−β1^t)·m/u.
type Adamax struct {
	B                     backend.Backend
	Params                []*ag.Var
	LR, Beta1, Beta2, Eps float64
	WeightDecay           float64
	Step                  int
	M, U                  []*tensor.Tensor
}

// NewAdamax uses the official settings (betas 0.9, 0.999; eps 1e-3).
func NewAdamax(b backend.Backend, params []*ag.Var, lr, weightDecay float64) *Adamax {
	return &Adamax{B: b, Params: params, LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-3, WeightDecay: weightDecay,
		M: make([]*tensor.Tensor, len(params)), U: make([]*tensor.Tensor, len(params))}
}

// StepUpdate applies one update, in place, to every parameter with a
// gradient (one fused backend kernel per parameter).
func (o *Adamax) StepUpdate() {
	o.Step++
	b := o.B
	clr := o.LR / (1 - math.Pow(o.Beta1, float64(o.Step)))
	for i, p := range o.Params {
		if p.Grad == nil {
			continue
		}
		if o.M[i] == nil {
			o.M[i] = b.Zeros(p.Grad.DType(), p.Grad.Shape()...)
			o.U[i] = b.Zeros(p.Grad.DType(), p.Grad.Shape()...)
		}
		b.AdamaxStep(p.Value, p.Grad, o.M[i], o.U[i], clr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay)
	}
}
